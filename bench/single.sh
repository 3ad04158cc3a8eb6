#!/usr/bin/env bash
# bench/single.sh: one dynad node against one redis-server, driven by redis-benchmark.
#
# A benchmark, not a test: it prints figures and never fails on them. It stops by itself
# (every run has a bounded request count) and removes its processes and temp dirs on exit.
#
#   1. throughput: dynad (default sync policy, batch = group commit) and redis-server
#      (appendonly yes, appendfsync everysec, no RDB), both on 127.0.0.1, each pre-filled
#      with the 100k keys redis-benchmark's -r 100000 draws from, then driven with
#      redis-benchmark -t set|get -d 100 -r 100000 -c 50, with and without -P 16,
#      interleaved (per round: each test on dynad then on redis), ROUNDS rounds; the table
#      shows the median round's ops/s and p50 latency and the ratio dynad/redis.
#   2. sync policies, for context: SET on fresh dynad nodes with --sync none and always,
#      and on a redis-server with appendfsync always (its per-turn fsync, like dynad's batch).
#   3. space and memory: 1M distinct keys (key:0..key:999999) with 100-byte values loaded
#      (pipelined, bench/load.py) into a fresh dynad; peak RSS (VmHWM) while up, then after
#      a clean shutdown the data dir's size (less the log's spare segment, shown on its
#      own), data.mdb's size and LMDB's used pages
#      (mdb_stat), per key, against the raw key+value bytes. The same load into a fresh
#      redis-server is shown alongside.
#
# Environment (all optional):
#   DYNAD=path        dynad binary (default: $(dirname $0)/../bin/dynad, built by `make`)
#   REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI   the redis tools (default: from PATH)
#   ROUNDS=3          interleaved rounds for the throughput table
#   N_PLAIN=200000    requests per run without pipelining
#   N_PIPE=1000000    requests per run with -P 16
#   N_ALWAYS=20000    requests per run with --sync always (about 5k fsyncs/s)
#   SPACE_KEYS=1000000  keys for the space/memory part (0 skips it)
#   SKIP_SYNC=1       skip part 2
#   TMPDIR            where the temp dir goes (it holds the data dirs: use a real disk)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
DYNAD=${DYNAD:-$here/../bin/dynad}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
REDIS_CLI=${REDIS_CLI:-redis-cli}
ROUNDS=${ROUNDS:-3}
N_PLAIN=${N_PLAIN:-200000}
N_PIPE=${N_PIPE:-1000000}
N_ALWAYS=${N_ALWAYS:-20000}
SPACE_KEYS=${SPACE_KEYS:-1000000}
SKIP_SYNC=${SKIP_SYNC:-0}
CLIENTS=50
KEYSPACE=100000
VSIZE=100
PIPE=16

. "$here/lib.sh"
bench_init single.sh dyna-bench
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set DYNAD=path)"
need_redis_tools


# start_dynad NAME SYNC -> sets dpid, dport, ddir
start_dynad() {
  dport=$(free_port)
  ddir=$work/$1
  "$DYNAD" --name "$1" --data "$ddir" --listen "127.0.0.1:$dport" --sync "$2" \
    --log-level warn >"$work/$1.log" 2>&1 &
  dpid=$!
  pids+=("$dpid")
  wait_up "$dport" "$dpid"
}


stop_pid() { # pid: SIGTERM and wait (a clean shutdown)
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local p keep=()
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

# bench PORT TEST N PIPELINE: sets BR to "rps p50_ms"
# (redis-benchmark runs in the background and is waited for in this shell, not in a
# command substitution, so that a TERM/INT to this script runs the cleanup trap at once.)
bench() {
  local bpid
  "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$1" -t "$2" -n "$3" -P "$4" -c "$CLIENTS" \
    -d "$VSIZE" -r "$KEYSPACE" --csv >"$work/bench.csv" 2>/dev/null &
  bpid=$!
  echo "$bpid" >"$work/bench.pid"
  wait "$bpid" || die "redis-benchmark failed on port $1"
  BR=$(tr -d '"' <"$work/bench.csv" | awk -F, -v t="${2^^}" '$1 == t { print $2, $5; found=1 }
    END { if (!found) print "0 0" }')
}

median() { sort -g | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }'; }

hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------------------- machine
echo "== machine"
echo "date:    $(date -u +%FT%TZ)"
echo "cpu:     $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "memory:  $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel:  $(uname -r)"
echo "disk:    $(df -PT "$work" | awk 'NR == 2 { print $1, $2 }') (temp dir $work)"
echo "redis:   $("$REDIS_SERVER" --version | awk '{ sub("v=", "", $3); print $3 }')"
echo "dynad:   $("$DYNAD" --version 2>&1 | head -1) ($DYNAD)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---------------------------------------------------------------------------- 1. throughput
echo "== 1. throughput: -c $CLIENTS -d $VSIZE -r $KEYSPACE; -n $N_PLAIN plain, -n $N_PIPE with -P $PIPE; $ROUNDS rounds interleaved"
start_dynad n1 batch
start_redis redis1
DP=$dport DPID=$dpid RP=$rport
python3 "$here/load.py" --port "$DP" --count "$KEYSPACE" --format 'key:%012d' --value-size "$VSIZE" >/dev/null
python3 "$here/load.py" --port "$RP" --count "$KEYSPACE" --format 'key:%012d' --value-size "$VSIZE" >/dev/null

tests=("SET 1" "GET 1" "SET $PIPE" "GET $PIPE")
declare -A res # "<test> <P> <server>" -> lines of "rps p50"
for r in $(seq 1 "$ROUNDS"); do
  for tp in "${tests[@]}"; do
    set -- $tp
    t=$1 p=$2
    n=$N_PLAIN; [ "$p" -gt 1 ] && n=$N_PIPE
    c0=$(info_field "$DP" commits) w0=$(info_field "$DP" puts)
    bench "$DP" "$t" "$n" "$p"; d=$BR
    c1=$(info_field "$DP" commits) w1=$(info_field "$DP" puts)
    bench "$RP" "$t" "$n" "$p"; rr=$BR
    res["$t $p dynad"]+="$d"$'\n'
    res["$t $p redis"]+="$rr"$'\n'
    extra=""
    [ "$t" = SET ] && extra=$(awk -v c=$((c1 - c0)) -v w=$((w1 - w0)) \
      'BEGIN { if (c > 0) printf "  (dynad: %d commits, %.1f SETs per fsync)", c, w / c }')
    printf 'round %d  %-3s -P %-2s  dynad %10s ops/s p50 %6s ms   redis %10s ops/s p50 %6s ms%s\n' \
      "$r" "$t" "$p" ${d} ${rr} "$extra"
  done
done
echo "dynad peak RSS after part 1: $(hwm_kb "$DPID") kB"
stop_pid "$DPID"
stop_pid "$rpid"

echo
printf '%-14s %12s %12s %8s %12s %12s\n' test "dynad ops/s" "redis ops/s" ratio "dynad p50" "redis p50"
for tp in "${tests[@]}"; do
  set -- $tp
  t=$1 p=$2
  dr=$(printf '%s' "${res["$t $p dynad"]}" | awk '{ print $1 }' | median)
  rr=$(printf '%s' "${res["$t $p redis"]}" | awk '{ print $1 }' | median)
  dl=$(printf '%s' "${res["$t $p dynad"]}" | awk '{ print $2 }' | median)
  rl=$(printf '%s' "${res["$t $p redis"]}" | awk '{ print $2 }' | median)
  name="$t"; [ "$p" -gt 1 ] && name="$t -P $p"
  printf '%-14s %12.0f %12.0f %7.2fx %9.3f ms %9.3f ms\n' "$name" "$dr" "$rr" \
    "$(awk -v a="$dr" -v b="$rr" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$dl" "$rl"
done
echo "(median of $ROUNDS rounds per column; p50 as redis-benchmark reports it)"

# ---------------------------------------------------------------------------- 2. sync policies
if [ "$SKIP_SYNC" != 1 ]; then
  echo
  echo "== 2. dynad SET by sync policy (fresh node each; median of $ROUNDS; batch is in the table above)"
  for pol in none always; do
    start_dynad "n-$pol" "$pol"
    for p in 1 "$PIPE"; do
      n=$N_PLAIN; [ "$p" -gt 1 ] && n=$N_PIPE
      [ "$pol" = always ] && n=$N_ALWAYS
      runs=""
      for r in $(seq 1 "$ROUNDS"); do bench "$dport" set "$n" "$p"; runs+="$BR"$'\n'; done
      printf 'sync %-6s SET -P %-2s  -n %-8s %10.0f ops/s  p50 %6s ms   (runs: %s)\n' "$pol" "$p" "$n" \
        "$(printf '%s' "$runs" | awk '{ print $1 }' | median)" \
        "$(printf '%s' "$runs" | awk '{ print $2 }' | median)" \
        "$(printf '%s' "$runs" | awk '{ printf "%s%s", sep, $1; sep=" " }')"
    done
    stop_pid "$dpid"
  done
  # redis-server with appendfsync always fsyncs the AOF once per event-loop turn before
  # replying: the same durability promise as dynad's default (batch).
  start_redis redis-always always
  for p in 1 "$PIPE"; do
    n=$N_PLAIN; [ "$p" -gt 1 ] && n=$N_PIPE
    runs=""
    for r in $(seq 1 "$ROUNDS"); do bench "$rport" set "$n" "$p"; runs+="$BR"$'\n'; done
    printf 'redis appendfsync always SET -P %-2s -n %-8s %10.0f ops/s  p50 %6s ms   (runs: %s)\n' "$p" "$n" \
      "$(printf '%s' "$runs" | awk '{ print $1 }' | median)" \
      "$(printf '%s' "$runs" | awk '{ print $2 }' | median)" \
      "$(printf '%s' "$runs" | awk '{ printf "%s%s", sep, $1; sep=" " }')"
  done
  stop_pid "$rpid"
fi

# ---------------------------------------------------------------------------- 3. space and memory
# space_dynad NAME ORDER-DESCRIPTION [load.py options]: load SPACE_KEYS keys into a fresh
# dynad, report its memory, stop it cleanly, report the data dir's size per key.
space_dynad() {
  local name=$1 what=$2
  shift 2
  start_dynad "$name" batch
  load=$(python3 "$here/load.py" --port "$dport" --count "$SPACE_KEYS" --format 'key:%d' --value-size "$VSIZE" "$@")
  echo "-- dynad, keys sent in $what order"
  echo "load: $load"
  read -r _ nkeys _ kbytes _ _ vbytes _ <<<"$load"
  raw=$((kbytes + vbytes))
  echo "memory after load: VmHWM $(hwm_kb "$dpid") kB, VmRSS $(status_kb "$dpid" VmRSS) kB" \
    "(RssAnon $(status_kb "$dpid" RssAnon) kB, RssFile $(status_kb "$dpid" RssFile) kB);" \
    "$(info_field "$dport" commits) commits"
  stop_pid "$dpid"
  local fsize alloc dirbytes psize lastpg freepg used csize
  fsize=$(stat -c %s "$ddir/data.mdb")
  # The log's spare segment (wal-next.tmp: zeros or a recycled segment, kept for the
  # next start) is a fixed size, not per key: it is left out and shown on its own.
  local spare=0
  [ -f "$ddir/wal-next.tmp" ] && spare=$(stat -c %s "$ddir/wal-next.tmp")
  dirbytes=$(($(du -sb --exclude=wal-next.tmp "$ddir" | cut -f1)))
  alloc=$(($(du -sk --exclude=wal-next.tmp "$ddir" | cut -f1) * 1024))
  perkey() { awk -v b="$1" -v n="$nkeys" -v raw="$raw" 'BEGIN { printf "%8.1f B/key  %5.2fx raw", b / n, b / raw }'; }
  echo "raw key+value bytes:            $(printf '%10d' "$raw") $(awk -v b="$raw" -v n="$nkeys" 'BEGIN { printf "%8.1f B/key", b / n }')"
  echo "data.mdb file size:             $(printf '%10d' "$fsize") $(perkey "$fsize")"
  echo "data dir allocated (du -sk):    $(printf '%10d' "$alloc") $(perkey "$alloc")"
  echo "data dir apparent (du -sb):     $(printf '%10d' "$dirbytes") $(perkey "$dirbytes")"
  echo "log's spare segment, left out:  $(printf '%10d' "$spare") B (wal-next.tmp, a fixed size)"
  if command -v mdb_stat >/dev/null; then
    psize=$(mdb_stat -e "$ddir" | awk '/Page size:/ { print $3 }')
    lastpg=$(mdb_stat -e "$ddir" | awk '/Number of pages used:/ { print $5 }')
    freepg=$(mdb_stat -ef "$ddir" | awk '/Free pages:/ { print $3 }')
    used=$(((lastpg - freepg) * psize))
    echo "LMDB pages in use (used - free): $(printf '%9d' "$used") $(perkey "$used")"
    csize=0
    if command -v mdb_copy >/dev/null; then
      mkdir -p "$work/compact" && mdb_copy -c "$ddir" "$work/compact"
      csize=$(stat -c %s "$work/compact/data.mdb")
      rm -rf "$work/compact"
      echo "compacted copy (mdb_copy -c):   $(printf '%10d' "$csize") $(perkey "$csize")"
    fi
    echo "mdb_stat -s obj ($psize-byte pages; $lastpg pages used, $freepg free):"
    mdb_stat -s obj "$ddir" | sed 's/^/    /'
  else
    echo "(mdb_stat not installed: apt-get install lmdb-utils for used pages)"
  fi
}

if [ "$SPACE_KEYS" -gt 0 ]; then
  echo
  echo "== 3. space and memory: $SPACE_KEYS keys key:0..key:$((SPACE_KEYS - 1)), $VSIZE-byte values, pipelined (bench/load.py)"
  space_dynad n-space-asc ascending
  space_dynad n-space-rnd shuffled --shuffle 1

  start_redis redis-space
  load=$(python3 "$here/load.py" --port "$rport" --count "$SPACE_KEYS" --format 'key:%d' --value-size "$VSIZE")
  echo "-- redis-server, same load (ascending), for comparison"
  echo "load: $load"
  echo "memory after load: VmHWM $(hwm_kb "$rpid") kB, used_memory $(info_field "$rport" used_memory) B" \
    "($(awk -v b="$(info_field "$rport" used_memory)" -v n="$nkeys" 'BEGIN { printf "%.1f", b / n }') B/key)"
  stop_pid "$rpid"
  echo "AOF dir (du -sk): $(($(du -sk "$rdir" | cut -f1) * 1024)) B"
fi
echo
echo "done"
