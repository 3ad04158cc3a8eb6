#!/usr/bin/env bash
# bench/cpu.sh: CPU time per request of a local 3-node cluster and of its client.
#
# Throughput on a shared 2-core machine says little; CPU time per operation does not
# depend on what else runs. This starts 3 dynad (N=3 R=2 W=2, --sync none by default so
# the disk stays out of it), loads KEYS keys, then runs each test under `perf stat`:
# the three servers (perf stat -p) and the client (perf stat -- client) separately, and
# prints task-clock and context switches per operation, then each server's CPU time per
# operation (from /proc: which node a change made cheaper). A benchmark, not a test.
#
#   set-rb   redis-benchmark -t set -c 50 -d 100 -r KEYS -n OPS through node 1
#   get-rb   redis-benchmark -t get, the same; its keys (key:000000012345) are not the ones
#            dyna-bench loads: run set-rb first for GETs that find their keys
#   get-db   dyna-bench --protocol redis --routing ring --workload C (GET routed by key)
#   set-db   dyna-bench --protocol redis --routing ring --workload W (SET routed by key)
#   dget-db  dyna-bench --workload C (DYNA.GET, dyna protocol, routed)
#
# Environment (optional): BIN (dynad, dyna-bench; default ../bin), OPS=200000,
# KEYS=100000, SYNC=none, ROUNDS=1, TESTS="get-rb get-db set-db dget-db", PIPELINE=1.
# Needs perf (run as root, or with perf_event_paranoid <= 0) and redis-benchmark.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
OPS=${OPS:-200000}
KEYS=${KEYS:-100000}
SYNC=${SYNC:-none}
ROUNDS=${ROUNDS:-1}
TESTS=${TESTS:-get-rb get-db set-db dget-db}
PIPELINE=${PIPELINE:-1}

DYNAD=$BIN/dynad
. "$here/lib.sh"
bench_init cpu.sh dyna-cpu
for t in perf redis-benchmark redis-cli python3; do command -v "$t" >/dev/null || die "$t not found"; done
[ -x "$BIN/dynad" ] && [ -x "$BIN/dyna-bench" ] || die "no dynad/dyna-bench in $BIN"

start_cluster3 --sync "$SYNC"
ports=("${CPORTS[@]}")
spids=$(IFS=,; echo "${DPIDS[*]}")
"$BIN/dyna-bench" --seeds "$SEEDS" --keys "$KEYS" --value-size 100 --pipeline 16 --load-only | grep -E '^load:'

# field VALUE of perf stat -x, output (first column), for event NAME
pval() { awk -F, -v e="$2" '$3 ~ e { print $1; exit }' "$1"; }

ticks() { for p in "${DPIDS[@]}"; do awk '{printf "%d ", $14 + $15}' "/proc/$p/stat"; done; }

run() { # name cmd...
  local name=$1
  shift
  local t0
  t0=$(ticks)
  perf stat -x, -e task-clock,context-switches -p "$spids" -o "$work/srv.txt" &
  local sp=$!
  sleep 0.2
  perf stat -x, -e task-clock,context-switches -o "$work/cli.txt" -- "$@" >"$work/out.txt" 2>&1
  kill -INT "$sp"
  wait "$sp" || true
  local st sc ct cc
  st=$(pval "$work/srv.txt" task-clock) sc=$(pval "$work/srv.txt" context-switches)
  ct=$(pval "$work/cli.txt" task-clock) cc=$(pval "$work/cli.txt" context-switches)
  local rate
  rate=$(grep -oE '[0-9.]+ requests per second|= [0-9]+ ops/s' "$work/out.txt" | grep -oE '[0-9.]+' | tail -1)
  awk -v n="$name" -v ops="$OPS" -v st="$st" -v sc="$sc" -v ct="$ct" -v cc="$cc" -v r="$rate" 'BEGIN {
    printf "%-8s %9.0f ops/s  servers %6.2f us/op %5.2f cs/op   client %6.2f us/op %5.2f cs/op   total %6.2f us/op\n",
      n, r, st * 1000 / ops, sc / ops, ct * 1000 / ops, cc / ops, (st + ct) * 1000 / ops }'
  echo "$t0 $(ticks)" | awk -v ops="$OPS" -v hz="$(getconf CLK_TCK)" '{ n = NF / 2; printf "         per server:"
    for (i = 1; i <= n; i++) printf "  n%d %.2f us/op", i, ($(i + n) - $i) * 1e6 / hz / ops; print "" }'
}

echo "cluster $SEEDS, sync $SYNC, $OPS ops per test, pipeline $PIPELINE"
for r in $(seq 1 "$ROUNDS"); do
  for t in $TESTS; do
    case $t in
    set-rb) run set-rb redis-benchmark -p "${ports[0]}" -t set -n "$OPS" -c 50 -d 100 -r "$KEYS" -P "$PIPELINE" -q ;;
    get-rb) run get-rb redis-benchmark -p "${ports[0]}" -t get -n "$OPS" -c 50 -d 100 -r "$KEYS" -P "$PIPELINE" -q ;;
    get-db) run get-db "$BIN/dyna-bench" --seeds "$SEEDS" --protocol redis --routing ring --workload C \
      --keys "$KEYS" --ops "$OPS" --pipeline "$PIPELINE" ;;
    set-db) run set-db "$BIN/dyna-bench" --seeds "$SEEDS" --protocol redis --routing ring --workload W \
      --keys "$KEYS" --ops "$OPS" --pipeline "$PIPELINE" ;;
    dget-db) run dget-db "$BIN/dyna-bench" --seeds "$SEEDS" --workload C --keys "$KEYS" --ops "$OPS" \
      --pipeline "$PIPELINE" ;;
    *) die "unknown test $t" ;;
    esac
  done
done
