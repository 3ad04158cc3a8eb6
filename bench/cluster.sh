#!/usr/bin/env bash
# bench/cluster.sh: a local 3-node Dyna cluster against one redis-server, same run.
#
# A benchmark, not a test: it prints figures and never fails on them. It stops by itself
# (every run is bounded) and removes its processes and temp dirs on exit.
#
#   cluster: 3 dynad on 127.0.0.1 (N=3, R=2, W=2, default sync policy: batch = group
#            commit, fsync before any ack), node 2 and 3 joined to node 1
#   redis:   one redis-server --appendonly yes --appendfsync everysec, no RDB
#   both pre-filled with the 100k keys key:000000000000..key:000000099999 (the names
#   redis-benchmark -r 100000 draws), 100-byte values.
#
#   1. YCSB A and B with dyna-bench, 50 connections, no pipelining: the cluster with
#      context-aware DYNA.GET/DYNA.PUT routed by the ring, redis with plain GET/SET
#      (--protocol redis); interleaved rounds; ops/s, p50/p99/p99.9 and the ratio.
#   2. The issue's aims, SET and GET alone, -c 50, -P 1 and -P 16:
#      a) redis-benchmark -t set,get against cluster node 1 (one node coordinates and
#         forwards nothing with N=3 of 3, but all load enters there) and against redis;
#      b) dyna-bench --protocol redis (plain SET = workload W, GET = workload C) routed by
#         key over the cluster (--routing ring), against redis; this one gives p99.9.
#   3. Routed (client-driven, --routing ring) against unrouted (everything through
#      node 1, --routing seed) on the cluster, workload A, dyna protocol.
#      b) the same on ROUTE_NODES nodes (N=3 still; the 3-node cluster is stopped
#         first): node 1 then holds only some of the keys and forwards the writes of
#         the others, the hop that client-driven routing saves. With N=3 on 3 nodes
#         there is no such hop.
#
# Environment (all optional):
#   BIN=dir           dynad and dyna-bench (default: $(dirname $0)/../bin, built by `make`)
#   REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI   (default: from PATH)
#   DURATION=10       seconds per dyna-bench run
#   ROUNDS=2          interleaved rounds (the median is shown)
#   N_PLAIN=200000    redis-benchmark requests per run without pipelining
#   N_PIPE=1000000    redis-benchmark requests per run with -P 16
#   ROUTE_NODES=5     cluster size for 3b (0: skip 3b)
#   TMPDIR            where the data dirs go (use a real disk: fsync matters)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
DYNAD=$BIN/dynad
BENCH=$BIN/dyna-bench
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
REDIS_CLI=${REDIS_CLI:-redis-cli}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
N_PLAIN=${N_PLAIN:-200000}
N_PIPE=${N_PIPE:-1000000}
ROUTE_NODES=${ROUTE_NODES:-5}
CLIENTS=50
KEYS=100000
VSIZE=100

. "$here/lib.sh"
bench_init cluster.sh dyna-cluster-bench
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set BIN=dir)"
[ -x "$BENCH" ] || die "no dyna-bench at $BENCH (run make, or set BIN=dir)"
need_redis_tools

# ---------------------------------------------------------------------------- start
start_cluster3
cports=("${CPORTS[@]}")

start_redis redis
REDIS="127.0.0.1:$rport"

echo "== machine"
echo "date:    $(date -u +%FT%TZ)"
echo "cpu:     $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "kernel:  $(uname -r)"
echo "disk:    $(df -PT "$work" | awk 'NR == 2 { print $1, $2 }') (temp dir $work)"
echo "redis:   $("$REDIS_SERVER" --version | awk '{ sub("v=", "", $3); print $3 }')"
echo "dynad:   $("$DYNAD" --version 2>&1 | head -1)"
echo "cluster: $SEEDS (N=3 R=2 W=2, sync batch); redis $REDIS (appendfsync everysec)"
echo

# ---------------------------------------------------------------------------- helpers
# jq-free JSON reading: "ops_per_sec p50 p99 p999" of one op (or of the run when OP="")
summ() { # json op
  python3 -c '
import json, sys
j = json.loads(sys.argv[1]); run = j["run"]; op = sys.argv[2]
if op:
    o = run["by_op"].get(op, {"ops_per_sec": 0, "latency_us": {"p50": 0, "p99": 0, "p999": 0}})
    l = o["latency_us"]; print("%.0f %.3f %.3f %.3f %d" % (o["ops_per_sec"], l["p50"]/1e3, l["p99"]/1e3, l["p999"]/1e3, run["errors"]))
else:
    # whole run: throughput; latencies of the slowest op type
    ls = [o["latency_us"] for o in run["by_op"].values()]
    print("%.0f %.3f %.3f %.3f %d" % (run["ops_per_sec"], max(l["p50"] for l in ls)/1e3,
          max(l["p99"] for l in ls)/1e3, max(l["p999"] for l in ls)/1e3, run["errors"]))
' "$1" "$2"
}

median() { sort -g | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }'; }
col() { awk -v c="$1" '{ print $c }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

declare -A R # "<label>" -> lines "ops p50 p99 p999 errors"

# run_bench LABEL ARGS... : one dyna-bench run, prints a line, remembers its figures
run_bench() {
  local label=$1
  shift
  local out s
  out=$("$BENCH" --keys "$KEYS" --value-size "$VSIZE" --connections "$CLIENTS" \
    --duration "$DURATION" --json "$@") || die "dyna-bench failed: $*"
  s=$(summ "$out" "")
  R["$label"]+="$s"$'\n'
  printf '  %-34s %9s ops/s  p50 %7s  p99 %7s  p99.9 %7s ms  errors %s\n' "$label" $s
}

# The median of each column (ops/s, p50, p99, p99.9) of LABEL's runs, taken separately.
medians() {
  local c
  for c in 1 2 3 4; do printf '%s' "${R[$1]}" | col "$c" | median; done | tr '\n' ' '
}

show() { # label-a label-b : medians of each and the throughput ratio a/b
  local a b
  a=$(medians "$1")
  b=$(medians "$2")
  printf '%-34s %9s ops/s  p50 %7s  p99 %7s  p99.9 %7s ms\n' "$1" $a
  printf '%-34s %9s ops/s  p50 %7s  p99 %7s  p99.9 %7s ms\n' "$2" $b
  printf '%-34s %9sx\n' "ratio" "$(ratio "$(echo "$a" | col 1)" "$(echo "$b" | col 1)")"
}

# ---------------------------------------------------------------------------- load
echo "== load: $KEYS keys, $VSIZE-byte values"
"$BENCH" --seeds "$SEEDS" --keys "$KEYS" --value-size "$VSIZE" --connections "$CLIENTS" \
  --pipeline 16 --load-only | grep -E '^load:'
"$BENCH" --seeds "$REDIS" --protocol redis --keys "$KEYS" --value-size "$VSIZE" \
  --connections "$CLIENTS" --pipeline 16 --load-only | grep -E '^load:'
echo

# ---------------------------------------------------------------------------- 1. YCSB
echo "== 1. YCSB A and B, dyna-bench -c $CLIENTS, no pipelining, ${DURATION}s per run, $ROUNDS rounds interleaved"
for r in $(seq 1 "$ROUNDS"); do
  for wl in A B; do
    run_bench "cluster $wl (dyna, routed)" --seeds "$SEEDS" --workload "$wl"
    run_bench "redis $wl (GET/SET)" --seeds "$REDIS" --protocol redis --workload "$wl"
  done
done
echo "-- medians"
for wl in A B; do show "cluster $wl (dyna, routed)" "redis $wl (GET/SET)"; done
echo

# ---------------------------------------------------------------------------- 2. aims
echo "== 2a. redis-benchmark -t set,get -c $CLIENTS -d $VSIZE -r $KEYS (cluster: node 1), $ROUNDS rounds"
rb() { # addr test n pipeline -> "rps p50 p99"
  local host=${1%:*} port=${1##*:}
  "$REDIS_BENCHMARK" -h "$host" -p "$port" -t "$2" -n "$3" -P "$4" -c "$CLIENTS" -d "$VSIZE" \
    -r "$KEYS" --csv 2>/dev/null | tr -d '"' | awk -F, -v t="${2^^}" \
    '$1 == t { print $2, $5, $7; found = 1 } END { if (!found) print "0 0 0" }'
}
declare -A RB
for r in $(seq 1 "$ROUNDS"); do
  for tp in "set 1" "get 1" "set 16" "get 16"; do
    set -- $tp
    n=$N_PLAIN; [ "$2" -gt 1 ] && n=$N_PIPE
    d=$(rb "$N1" "$1" "$n" "$2")
    x=$(rb "$REDIS" "$1" "$n" "$2")
    RB["$1 $2 d"]+="$d"$'\n'
    RB["$1 $2 r"]+="$x"$'\n'
    printf '  round %d %-3s -P %-2s  cluster %9s ops/s p50 %6s p99 %6s ms   redis %9s ops/s p50 %6s p99 %6s ms\n' \
      "$r" "${1^^}" "$2" $d $x
  done
done
echo "-- medians"
printf '%-12s %12s %12s %7s %10s %10s\n' test cluster redis ratio "c p99 ms" "r p99 ms"
for tp in "set 1" "get 1" "set 16" "get 16"; do
  set -- $tp
  d=$(printf '%s' "${RB["$1 $2 d"]}" | col 1 | median)
  x=$(printf '%s' "${RB["$1 $2 r"]}" | col 1 | median)
  dl=$(printf '%s' "${RB["$1 $2 d"]}" | col 3 | median)
  xl=$(printf '%s' "${RB["$1 $2 r"]}" | col 3 | median)
  printf '%-12s %12.0f %12.0f %6sx %10s %10s\n' "${1^^} -P $2" "$d" "$x" "$(ratio "$d" "$x")" "$dl" "$xl"
done
echo

echo "== 2b. dyna-bench --protocol redis: SET (workload W) and GET (workload C), -c $CLIENTS, -P 1 and 16; cluster routed by key"
for r in $(seq 1 "$ROUNDS"); do
  for p in 1 16; do
    for wl in W C; do
      run_bench "cluster $wl -P $p (GET/SET, routed)" --seeds "$SEEDS" --protocol redis --routing ring --workload "$wl" --pipeline "$p"
      run_bench "redis $wl -P $p" --seeds "$REDIS" --protocol redis --workload "$wl" --pipeline "$p"
    done
  done
done
echo "-- medians"
for p in 1 16; do
  for wl in W C; do show "cluster $wl -P $p (GET/SET, routed)" "redis $wl -P $p"; done
done
echo

# ---------------------------------------------------------------------------- 3. routing
routing_rounds() { # label: workload A routed and through node 1 of $SEEDS, interleaved
  local r
  for r in $(seq 1 "$ROUNDS"); do
    run_bench "$1 A routed (ring)" --seeds "$SEEDS" --workload A
    run_bench "$1 A unrouted (seed n1)" --seeds "$SEEDS" --workload A --routing seed
  done
  echo "-- medians"
  show "$1 A routed (ring)" "$1 A unrouted (seed n1)"
  echo
}
echo "== 3. routed (client-driven) vs unrouted (all through node 1), workload A, dyna protocol"
routing_rounds cluster
node_counts() { # ports...
  local i=1 p
  for p in "$@"; do
    echo "node $i: $("$REDIS_CLI" -p "$p" info | tr -d '\r' | grep -E '^(commits|puts|gets|forwarded|noquorum):' | tr '\n' ' ')"
    i=$((i + 1))
  done
}
node_counts "${cports[@]}"
echo

if [ "$ROUTE_NODES" -gt 0 ]; then
  for p in "${DPIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  "$REDIS_CLI" -p "$rport" shutdown nosave >/dev/null 2>&1 || true
  echo "== 3b. the same on $ROUTE_NODES nodes (N=3 R=2 W=2): node 1 forwards the writes of the keys it does not hold"
  CLUSTER_DIRS=big start_cluster "$ROUTE_NODES"
  "$BENCH" --seeds "$SEEDS" --keys "$KEYS" --value-size "$VSIZE" --connections "$CLIENTS" \
    --pipeline 16 --load-only | grep -E '^load:'
  routing_rounds "$ROUTE_NODES nodes"
  node_counts "${CPORTS[@]}"
  echo
fi
echo "done"
