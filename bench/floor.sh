#!/usr/bin/env bash
# bench/floor.sh: what this machine allows any 3-process replicated store on SET.
#
# The issue-6 aim for SET without pipelining is 0.7x of one redis-server. This script
# puts the Dyna cluster next to the cheapest replication there is: Redis's own. In
# one run, interleaved, SET only, redis-benchmark -c 50 -d 100 -r 100000 -P 1:
#
#   redis    one redis-server --appendonly yes --appendfsync everysec (the aim's yardstick)
#   redis3   a redis-server of the same kind with two replicas (--replicaof) on the same
#            machine: every write is streamed to two other processes, asynchronously,
#            acknowledged before any replica has it and with no fsync on the reply path
#   always   one redis-server --appendfsync always: one process making the promise dynad's
#            batch policy makes (a write is fsync'd before its reply; one fsync per turn)
#   dyna     3 dynad, N=3 R=2 W=2, default sync policy (batch: an acknowledged SET is
#            fdatasync'd on W=2 nodes), redis-benchmark through node 1
#
# redis3 is a floor for the cost of replication here, and always for the cost of
# durability; neither is a competitor: redis3 promises nothing beyond one process's
# memory, and always keeps one copy. With perf available, each run is also measured
# as CPU-us per SET of all the servers (perf stat -p) and of redis-benchmark.
# A benchmark, not a test: it prints figures and never fails on them; every run is
# bounded and it removes its processes and temp dir on exit.
#
# Environment (all optional): BIN (default ../bin), ROUNDS=3, N_PLAIN=100000,
# REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI, TMPDIR (use a real disk: fsync matters).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
DYNAD=$BIN/dynad
ROUNDS=${ROUNDS:-3}
N_PLAIN=${N_PLAIN:-100000}
KEYS=100000

. "$here/lib.sh"
bench_init floor.sh dyna-floor
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set BIN=dir)"
need_redis_tools
PERF=0
command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1 && PERF=1

start_cluster3
dyna_port=${CPORTS[0]}
dyna_pids=$(IFS=,; echo "${DPIDS[*]}")

start_redis solo
solo_port=$rport solo_pids=$rpid
start_redis always always
always_port=$rport always_pids=$rpid
start_redis primary
prim_port=$rport r3_pids=$rpid
replica_ports=()
for i in 1 2; do
  start_redis "replica$i" everysec --replicaof 127.0.0.1 "$prim_port"
  r3_pids+=",$rpid"
  replica_ports+=("$rport")
done

# Until both replicas are in sync with the primary: link up, same replication offset.
replicas_synced() {
  local p off
  off=$(info_field "$prim_port" master_repl_offset)
  for p in "${replica_ports[@]}"; do
    [ "$(info_field "$p" master_link_status)" = up ] || return 1
    [ "$(info_field "$p" slave_repl_offset)" = "$off" ] || return 1
  done
}
wait_synced() {
  local i
  for i in $(seq 1 300); do
    replicas_synced && return 0
    sleep 0.1
  done
  die "the redis replicas did not catch up with the primary"
}
wait_synced

echo "== machine"
echo "date:    $(date -u +%FT%TZ)"
echo "cpu:     $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "kernel:  $(uname -r)"
echo "redis:   $("$REDIS_SERVER" --version | awk '{ sub("v=", "", $3); print $3 }')"
echo "dynad:   $("$DYNAD" --version 2>&1 | head -1)"
echo "perf:    $([ $PERF = 1 ] && echo 'CPU per SET measured' || echo 'not available: throughput only')"
echo

# Pre-fill every target with the keys redis-benchmark -r draws, pipelined.
for p in "$solo_port" "$always_port" "$prim_port" "$dyna_port"; do
  "$REDIS_BENCHMARK" -p "$p" -t set -n "$KEYS" -r "$KEYS" -d 100 -c 10 -P 16 -q >/dev/null 2>&1
done
wait_synced

# one PORT PIDS -> "ops/s p50_ms servers_us_per_op client_us_per_op"
one() {
  local port=$1 spids=$2 sp="" out st=0 ct=0
  if [ $PERF = 1 ]; then
    perf stat -x, -e task-clock -p "$spids" -o "$work/srv.txt" &
    sp=$!
    sleep 0.2
    perf stat -x, -e task-clock -o "$work/cli.txt" -- "$REDIS_BENCHMARK" -p "$port" -t set \
      -n "$N_PLAIN" -c 50 -d 100 -r "$KEYS" --csv >"$work/out.txt" 2>/dev/null
    kill -INT "$sp"
    wait "$sp" || true
    st=$(awk -F, '$3 ~ /task-clock/ { print $1; exit }' "$work/srv.txt")
    ct=$(awk -F, '$3 ~ /task-clock/ { print $1; exit }' "$work/cli.txt")
  else
    "$REDIS_BENCHMARK" -p "$port" -t set -n "$N_PLAIN" -c 50 -d 100 -r "$KEYS" --csv \
      >"$work/out.txt" 2>/dev/null
  fi
  tr -d '"' <"$work/out.txt" | awk -F, -v st="$st" -v ct="$ct" -v n="$N_PLAIN" \
    '$1 == "SET" { printf "%.0f %.3f %.2f %.2f\n", $2, $5, st * 1000 / n, ct * 1000 / n; f = 1 }
     END { if (!f) print "0 0 0 0" }'
}

median() { sort -g | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }'; }
declare -A F
echo "== SET -P 1, redis-benchmark -c 50 -d 100 -r $KEYS -n $N_PLAIN, $ROUNDS rounds"
printf '%-6s %-7s %10s %8s %14s %14s\n' round target "ops/s" "p50 ms" "servers us/op" "client us/op"
for r in $(seq 1 "$ROUNDS"); do
  for t in redis always redis3 dyna; do
    case $t in
    redis) f=$(one "$solo_port" "$solo_pids") ;;
    always) f=$(one "$always_port" "$always_pids") ;;
    redis3)
      f=$(one "$prim_port" "$r3_pids")
      wait_synced # the replicas kept up: every SET reached both
      ;;
    dyna) f=$(one "$dyna_port" "$dyna_pids") ;;
    esac
    F[$t]+="$f"$'\n'
    printf '%-6s %-7s %10s %8s %14s %14s\n' "$r" "$t" $f
  done
done

echo "-- medians (each column on its own), ratio = ops/s against redis"
base=$(printf '%s' "${F[redis]}" | awk '{ print $1 }' | median)
for t in redis always redis3 dyna; do
  m=()
  for c in 1 2 3 4; do m+=("$(printf '%s' "${F[$t]}" | awk -v c=$c '{ print $c }' | median)"); done
  printf '%-7s %10s ops/s  p50 %6s ms  servers %6s us/op  client %6s us/op  ratio %s\n' \
    "$t" "${m[0]}" "${m[1]}" "${m[2]}" "${m[3]}" "$(awk -v a="${m[0]}" -v b="$base" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
done
