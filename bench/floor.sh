#!/usr/bin/env bash
# bench/floor.sh: Dyna side by side with the stores issue 23 measures it against, in one
# run, interleaved, and issue 23's aims 1-6 checked on the medians.
#
# Systems (SYSTEMS, each started by the script on BENCH_HOST, default all of them):
#   redis     one redis-server --appendonly yes --appendfsync everysec: the yardstick (1.00)
#   redis3    the same with two --replicaof replicas: the cheapest replication there is
#             (asynchronous, acknowledged before any replica has it, no fsync on the way)
#   dynomite  Netflix Dynomite, DC_QUORUM both ways, 3 nodes over 3 in-memory redis-servers,
#             when DYNOMITE names its binary (it is not in Debian); skipped with a notice
#   batch     3 dynad, N=3 R=2 W=2, --sync batch: an acknowledged SET is fdatasync'd on W nodes
#   none      the same with --sync none (replicated, not synced: Dynomite's promise)
#   always    one redis-server --appendfsync always: one process making batch's promise
#   one       one dynad alone (N=R=W=1), --sync batch: the same promise as always
# redis3 and always are floors, not competitors: redis3 is what replication costs here
# with no durability, always what durability costs with no replication.
#
# Tests (TESTS): set1 get1 set16 get16 = redis-benchmark -t set|get -c CLIENTS -d 100
# -r KEYS, -P 1 (N_PLAIN requests) or -P 16 (N_PIPE), through node 1 / the primary, after
# a pre-fill of KEYS keys. Each round runs every test on every system in turn. Measured
# per run: requests/s and p99.9 (redis-benchmark's throughput summary and latency
# distribution), and the servers' CPU per request: utime + stime of every process of the
# system (/proc/PID/stat, all threads), read before the run and after it (after redis3's
# replicas caught up, so their work is in). Printed: every run, the medians as the issue's
# table (ratios to redis), and aims 1-6 met or not on those medians.
#
# A benchmark, not a test: it prints figures and never fails on them; every run is
# bounded (LIMIT s) and it removes its processes and temp dir on exit.
#
# Environment (all optional): BIN (default ../bin), SYSTEMS, TESTS, ROUNDS=3,
# N_PLAIN=100000, N_PIPE=300000, KEYS=100000, CLIENTS=50, LIMIT=180, DYNOMITE=path,
# BENCH_HOST=127.0.48.1, REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI, TMPDIR (a real disk).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
DYNAD=$BIN/dynad
BENCH_HOST=${BENCH_HOST:-127.0.48.1}
SYSTEMS=${SYSTEMS:-redis redis3 dynomite batch none always one}
TESTS=${TESTS:-set1 get1 set16 get16}
ROUNDS=${ROUNDS:-3}
N_PLAIN=${N_PLAIN:-100000}
N_PIPE=${N_PIPE:-300000}
KEYS=${KEYS:-100000}
CLIENTS=${CLIENTS:-50}
LIMIT=${LIMIT:-180}
H=$BENCH_HOST
TICK=$(getconf CLK_TCK)

. "$here/lib.sh"
bench_init floor.sh dyna-floor
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set BIN=dir)"
need_redis_tools
. "$here/systems.sh"

# ---------- the systems ----------

declare -A SPORT SPID
started=()
for sys in $SYSTEMS; do
  case $sys in
  redis | always)
    PORT=$(free_port)
    redis_proc "$sys" "$PORT" --appendonly yes --appendfsync "$([ "$sys" = redis ] && echo everysec || echo always)"
    SPIDS=("$rpid")
    ;;
  redis3) start_redis3 ;;
  dynomite)
    dynomite_available || continue
    start_dynomite
    ;;
  batch | none) start_dyna "$sys" ;;
  one) start_dyna batch 1 one ;;
  *) die "unknown system $sys (want redis, redis3, dynomite, batch, none, always, one)" ;;
  esac
  SPORT[$sys]=$PORT SPID[$sys]="${SPIDS[*]}"
  started+=("$sys")
done
[ ${#started[@]} -gt 0 ] || die "no system to run"

echo "== machine"
echo "date:    $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu:     $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "kernel:  $(uname -r)"
echo "redis:   $("$REDIS_SERVER" --version | awk '{ sub("v=", "", $3); print $3 }')"
echo "dynad:   $("$DYNAD" --version 2>&1 | head -1)"
echo "load:    redis-benchmark -h $H -c $CLIENTS -d 100 -r $KEYS, -n $N_PLAIN at -P 1, $N_PIPE at -P 16"
echo

synced() { # sys: until redis3's replicas have everything; a second for dynad's replicas
  case $1 in
  redis3)
    PORT=${SPORT[redis3]}
    redis3_synced 300 || echo "  (the redis replicas had not caught up)" >&2
    ;;
  batch | none | one) sleep 1 ;; # the third replica's and the log's work is in the run's CPU
  esac
}

for sys in "${started[@]}"; do # the keys the GETs read
  "$REDIS_BENCHMARK" -h "$H" -p "${SPORT[$sys]}" -t set -n "$KEYS" -r "$KEYS" -d 100 -c 10 -P 16 -q \
    >/dev/null 2>&1 </dev/null
  synced "$sys"
done

# ---------- measuring ----------

cpu_ticks() { # pids... -> utime + stime of all of them, in clock ticks
  local p t=0 f
  for p in "$@"; do
    f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + $(echo "$f" | awk '{ print $12 + $13 }')))
  done
  echo "$t"
}

# run SYS TEST -> "rps p999_ms cpu_us_per_request errors"
run() {
  local sys=$1 cmd=${2%%[0-9]*} p=${2#set} n out c0 c1
  p=${p#get}
  n=$N_PLAIN
  [ "$p" -gt 1 ] && n=$N_PIPE
  # shellcheck disable=SC2086  # the pids are words on purpose
  c0=$(cpu_ticks ${SPID[$sys]})
  out=$(timeout "$LIMIT" "$REDIS_BENCHMARK" -h "$H" -p "${SPORT[$sys]}" -t "$cmd" -c "$CLIENTS" \
    -n "$n" -P "$p" -d 100 -r "$KEYS" 2>&1 </dev/null) || true
  synced "$sys"
  # shellcheck disable=SC2086
  c1=$(cpu_ticks ${SPID[$sys]})
  printf '%s\n' "$out" | tr '\r' '\n' | awk -v c="$((c1 - c0))" -v tick="$TICK" -v n="$n" '
    /requests per second/ && /throughput summary/ { rps = $3 }
    /^ *[0-9.]+% <= [0-9.]+ milliseconds/ {
      pct = $1; sub("%", "", pct)
      if (p999 == "" && pct + 0 >= 99.9) p999 = $3
    }
    /^ERR|Error|error/ { errs++ }
    END { printf "%s %s %.2f %d\n", (rps == "" ? 0 : rps), (p999 == "" ? "-" : p999), c * 1e6 / tick / n, errs }'
}

declare -A R # "sys test" -> one line per round
printf '%-5s %-8s %-5s %12s %9s %14s %6s\n' round system test "requests/s" "p99.9 ms" "server us/req" errors
for r in $(seq 1 "$ROUNDS"); do
  for sys in "${started[@]}"; do
    for t in $TESTS; do
      f=$(run "$sys" "$t")
      R["$sys $t"]+="$f"$'\n'
      printf '%-5s %-8s %-5s %12s %9s %14s %6s\n' "$r" "$sys" "$t" $f
    done
  done
done
echo

# ---------- medians, the table, the aims ----------

median() { sort -g | awk '{ v[NR] = $0 } END { print (NR ? v[int((NR + 1) / 2)] : "") }'; }
col() { # sys test column(1 rps, 2 p99.9, 3 cpu) -> its median over the rounds ("" if not run)
  printf '%s' "${R["$1 $2"]-}" | awk -v c="$3" 'NF && $c != "-" { print $c }' | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 <= 0) print "-"; else printf "%.2f", a / b }'; }

echo "== medians of $ROUNDS rounds: requests/s as a ratio to redis (redis: requests/s), p99.9, server CPU per request"
printf '| system |'
for t in $TESTS; do printf ' %s |' "$t"; done
printf ' CPU us per SET -P 1 | p99.9 ms set1 / get1 |\n|---|'
for t in $TESTS; do printf -- '---:|'; done
printf -- '---:|---:|\n'
for sys in "${started[@]}"; do
  printf '| %s |' "$sys"
  for t in $TESTS; do
    v=$(col "$sys" "$t" 1)
    if [ "$sys" = redis ]; then printf ' %s |' "$v"; else printf ' %s |' "$(ratio "$v" "$(col redis "$t" 1)")"; fi
  done
  printf ' %s | %s / %s |\n' "$(col "$sys" set1 3)" "$(col "$sys" set1 2)" "$(col "$sys" get1 2)"
done
echo

verdict() { # awk expression over a, b, c, d; values... -> met | not met | not measured
  local e=$1 v
  shift
  for v in "$@"; do [ -n "$v" ] && [ "$v" != - ] || { echo "not measured"; return; }; done
  awk -v a="${1:-0}" -v b="${2:-0}" -v c="${3:-0}" -v d="${4:-0}" "BEGIN { exit !($e) }" && echo met || echo "not met"
}
rps() { col "$1" "$2" 1; }
echo "== issue 23's aims on these medians"
a=$(col batch set1 3) b=$(col redis3 set1 3)
echo "1. CPU per SET -P 1, batch <= 1.3x redis3: $(verdict 'a <= 1.3 * b' "$a" "$b") (${a:--} against ${b:--} us, $(ratio "$a" "$b")x)"
d=$(rps dynomite set1)
echo "2. SET -P 1 ahead of dynomite, batch and none: $(verdict 'a > c && b > c' "$(rps batch set1)" "$(rps none set1)" "$d")" \
  "(batch $(ratio "$(rps batch set1)" "$d")x, none $(ratio "$(rps none set1)" "$d")x dynomite's)"
echo "   SET -P 1 none >= 0.8x and batch >= 0.75x redis3: $(verdict 'a >= 0.8 * c && b >= 0.75 * c' "$(rps none set1)" "$(rps batch set1)" "$(rps redis3 set1)")" \
  "(none $(ratio "$(rps none set1)" "$(rps redis3 set1)")x, batch $(ratio "$(rps batch set1)" "$(rps redis3 set1)")x)"
echo "3. SET -P 16 batch >= 0.5x redis: $(verdict 'a >= 0.5 * b' "$(rps batch set16)" "$(rps redis set16)") ($(ratio "$(rps batch set16)" "$(rps redis set16)")x);" \
  "GET -P 16 >= 0.6x: $(verdict 'a >= 0.6 * b' "$(rps batch get16)" "$(rps redis get16)") ($(ratio "$(rps batch get16)" "$(rps redis get16)")x)"
worse=""
for t in $TESTS; do
  [ "$(verdict 'a >= b' "$(rps none "$t")" "$(rps batch "$t")")" = "not met" ] && worse+=" $t"
done
echo "   none never below batch: $([ -z "$worse" ] && echo "met (or not measured)" || echo "not met:$worse")"
tail=""
for s in batch none; do
  for t in set1 get1; do
    v=$(col "$s" "$t" 2)
    [ "$(verdict 'a < 5' "$v")" = "not met" ] && tail+=" $s/$t ${v} ms"
  done
done
echo "4. p99.9 under 5 ms at -P 1 (batch, none; SET, GET): $([ -z "$tail" ] && echo "met (or not measured)" || echo "not met:$tail")"
echo "5. one dynad (batch) >= 1.0x redis always, SET -P 1: $(verdict 'a >= b' "$(rps one set1)" "$(rps always set1)") ($(ratio "$(rps one set1)" "$(rps always set1)")x)"
echo "6. GET -P 1 batch >= 0.8x redis: $(verdict 'a >= 0.8 * b' "$(rps batch get1)" "$(rps redis get1)") ($(ratio "$(rps batch get1)" "$(rps redis get1)")x)"
echo "done"
