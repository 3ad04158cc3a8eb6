#!/usr/bin/env bash
# bench/types.sh: the typed commands' cost beside SET's on a local 3-node cluster.
#
# A benchmark, not a test: it prints figures and never fails on them. Every run is
# bounded (requests per run, and a time limit on each redis-benchmark) and the script
# removes its processes and temp dirs on exit.
#
#   cluster: 3 dynad on 127.0.0.1 (N=3, R=2, W=2, default sync policy), as cluster.sh
#   load:    redis-benchmark against node 1, -c 50, -r 100000, -P 1 and -P 16, in one run
#            of this script (same cluster, same machine state):
#              SET    -t set                                 (key:__rand_int__)
#              INCR   -t incr                                (counter:__rand_int__)
#              SADD   SADD cart:__rand_int__ item:__rand_int__
#              HSET   HSET hash:__rand_int__ f:__rand_int__ v
#              ZADD   ZADD zset:__rand_int__ __rand_int__ m:__rand_int__
#              LPUSH  LPUSH list:__rand_int__ item
#            Keys are spread over the key space as SET's are (redis-benchmark's own
#            sadd/hset/lpush tests write one hot key, whose collection grows by every
#            request: that measures one ever-growing object, not a store of many carts;
#            HOT=1 adds those runs, with HOT_N requests, at the end).
#   prints:  per test and pipeline depth: requests/s, p99.9 in ms (from redis-benchmark's
#            latency-by-percentile lines) and the throughput ratio SET / test; the aim
#            is each ratio <= 1.5.
#
# Environment (all optional):
#   BIN=dir          dynad (default: $(dirname $0)/../bin, built by `make`)
#   REDIS_BENCHMARK, REDIS_CLI   (default: from PATH)
#   N_PLAIN=100000   requests per run without pipelining
#   N_PIPE=400000    requests per run with -P 16
#   LIMIT=120        seconds at most per redis-benchmark run
#   HOT=0, HOT_N=20000
#   TMPDIR           where the data dirs go
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
DYNAD=$BIN/dynad
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
REDIS_CLI=${REDIS_CLI:-redis-cli}
N_PLAIN=${N_PLAIN:-100000}
N_PIPE=${N_PIPE:-400000}
LIMIT=${LIMIT:-120}
HOT=${HOT:-0}
HOT_N=${HOT_N:-20000}
CLIENTS=50
KEYS=100000

. "$here/lib.sh"
bench_init types.sh dyna-types-bench
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set BIN=dir)"
for t in "$REDIS_BENCHMARK" "$REDIS_CLI" python3; do
  command -v "$t" >/dev/null || die "$t not found (apt-get install redis-tools python3)"
done

start_cluster3
host=${N1%:*} port=${N1##*:}

echo "== machine"
echo "date:    $(date -u +%FT%TZ)"
echo "cpu:     $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; the machine may be shared)"
echo "dynad:   $("$DYNAD" --version 2>&1 | head -1)"
echo "cluster: $SEEDS (N=3 R=2 W=2); redis-benchmark against node 1 $N1"
echo

# rb PIPELINE N ARGS... -> "rps p999_ms errors": one redis-benchmark run, parsed from
# its full report (throughput summary and latency-by-percentile distribution).
rb() {
  local p=$1 n=$2
  shift 2
  local out
  out=$(timeout "$LIMIT" "$REDIS_BENCHMARK" -h "$host" -p "$port" -c "$CLIENTS" -n "$n" \
    -P "$p" -r "$KEYS" "$@" 2>&1 </dev/null) || true
  printf '%s\n' "$out" | tr '\r' '\n' | awk '
    /requests per second/ && /throughput summary/ { rps = $3 }
    /^ *[0-9.]+% <= [0-9.]+ milliseconds/ {
      pct = $1; sub("%", "", pct)
      if (p999 == "" && pct + 0 >= 99.9) p999 = $3
    }
    /^ERR|^WRONGTYPE|Error|error/ { errs++ }
    END { printf "%s %s %d\n", (rps == "" ? 0 : rps), (p999 == "" ? "-" : p999), errs }'
}

tests=(SET INCR SADD HSET ZADD LPUSH)
args_of() {
  case $1 in
  SET) echo "-t set" ;;
  INCR) echo "-t incr" ;;
  SADD) echo "SADD cart:__rand_int__ item:__rand_int__" ;;
  HSET) echo "HSET hash:__rand_int__ f:__rand_int__ v" ;;
  ZADD) echo "ZADD zset:__rand_int__ __rand_int__ m:__rand_int__" ;;
  LPUSH) echo "LPUSH list:__rand_int__ item" ;;
  esac
}

declare -A RES
for p in 1 16; do
  n=$N_PLAIN; [ "$p" -gt 1 ] && n=$N_PIPE
  for t in "${tests[@]}"; do
    # shellcheck disable=SC2046  # the arguments are words on purpose
    RES["$t $p"]=$(rb "$p" "$n" $(args_of "$t"))
    printf '  %-6s -P %-2s %s\n' "$t" "$p" "${RES["$t $p"]}" >&2
  done
done

echo "== redis-benchmark -c $CLIENTS -r $KEYS, -n $N_PLAIN (-P 1) / $N_PIPE (-P 16), against node 1"
printf '| %-6s | %-3s | %12s | %10s | %12s | %6s |\n' test -P "requests/s" "p99.9 ms" "SET/test" errors
printf '|%s|\n' "--------|-----|--------------|------------|--------------|--------"
worst=0 failed=""
for p in 1 16; do
  set_rps=$(echo "${RES["SET $p"]}" | awk '{ print $1 }')
  for t in "${tests[@]}"; do
    read -r rps p999 errs <<<"${RES["$t $p"]}"
    r=$(awk -v a="$set_rps" -v b="$rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    if [ "$t" != SET ] && awk -v b="$rps" 'BEGIN { exit !(b <= 0) }'; then
      failed+=" $t(-P $p)"
    elif [ "$t" != SET ]; then
      worst=$(awk -v w="$worst" -v r="$r" 'BEGIN { print (r > w ? r : w) }')
    fi
    printf '| %-6s | %-3s | %12s | %10s | %11sx | %6s |\n' "$t" "$p" "$rps" "$p999" "$r" "$errs"
  done
done
met=$(awk -v w="$worst" 'BEGIN { print (w <= 1.5 ? "met" : "not met") }')
[ -n "$failed" ] && met="not measured for$failed (no answer: see errors), $met for the rest"
echo "aim (each typed command within 1.5x of SET's throughput): $met (worst SET/test ratio ${worst}x)"
echo

if [ "$HOT" = 1 ]; then
  echo "== redis-benchmark's own -t sadd,hset,lpush: one hot key each, -n $HOT_N, -P 1"
  for t in sadd hset lpush; do
    printf '  %-6s %s (rps p99.9 errors)\n' "${t^^}" "$(rb 1 "$HOT_N" -t "$t")"
  done
  echo
fi
echo "done"
