#!/usr/bin/env bash
# bench/join.sh: foreground latency while a join's handoff runs (issue 23, aim 7).
#
# A benchmark, not a test: it prints figures and never fails on them. It removes its
# processes and temp dir on exit.
#
# For each mode (MODES: fixed = --background-fixed yes, the budget at its ceiling all the
# time; admission = the default, core/admission.h):
#   1. three dynad nodes (N=3 R=2 W=2) loaded with KEYS keys of VSIZE bytes through node 1
#      (bench/load.py);
#   2. SETTLE s later (anti-entropy compares the fresh data meanwhile), before:
#      redis-benchmark GET through node 2 (-c CLIENTS -n REQS -r KEYS);
#   3. a fourth node joins; the same GET run repeats through node 2 until no node has a
#      partition left to hand off and the four agree on the ring (at most WAIT s);
#   4. after: one more run.
# Printed per mode: p50/p99/max (ms) before, during (the median and the worst p99 of the
# runs while the handoff ran) and after; how long the handoff took; keys and bytes the
# old owners sent (INFO handoff_keys_sent, handoff_bytes: objects, keys and the checks of
# what targets hold, by every node) and bytes per key against what the keys take in the
# store (handoff_stored_bytes: store key and record), and what anti-entropy sent while the
# handoff ran (INFO aae_bytes, all nodes); the controller's rate cuts and the
# acknowledgements held back.
#
# Environment (all optional):
#   DYNAD=path  (default: $(dirname $0)/../bin/dynad, built by `make`)
#   REDIS_BENCHMARK, REDIS_CLI, REDIS_SERVER   (default: from PATH)
#   KEYS=200000 VSIZE=100 CLIENTS=10 REQS=20000 WAIT=300 SETTLE=15 MODES="fixed admission"
#   BUDGET=16777216 (--background-bytes-per-sec of every node)
#   TMPDIR      where the temp dir goes (it holds the data dirs: use a real disk)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
DYNAD=${DYNAD:-$here/../bin/dynad}
KEYS=${KEYS:-200000}
VSIZE=${VSIZE:-100}
CLIENTS=${CLIENTS:-10}
REQS=${REQS:-20000}
WAIT=${WAIT:-300}
SETTLE=${SETTLE:-15}
MODES=${MODES:-fixed admission}
BUDGET=${BUDGET:-16777216}

. "$here/lib.sh"
bench_init join.sh dyna-join
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set DYNAD=path)"
need_redis_tools

# gets PORT -> "p50 p99 max rps" (ms) of one redis-benchmark GET run
gets() {
  "$REDIS_BENCHMARK" -h "$BENCH_HOST" -p "$1" -t get -n "$REQS" -c "$CLIENTS" -r "$KEYS" --csv \
    >"$work/bench.csv" 2>/dev/null &
  echo $! >"$work/bench.pid"
  wait "$(cat "$work/bench.pid")" || true
  rm -f "$work/bench.pid"
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  awk -F, 'NR == 2 { gsub(/"/, ""); print $5, $7, $8, $2 }' "$work/bench.csv"
}

sum_info() { # field port...
  local f=$1 p t=0 v
  shift
  for p in "$@"; do
    v=$(info_field "$p" "$f")
    t=$((t + ${v:-0}))
  done
  echo "$t"
}

handoff_done() { # port...: no partition left to hand off, four members, one ring version
  local p v="" rv
  for p in "$@"; do
    [ "$(info_field "$p" handoff_partitions_pending)" = 0 ] || return 1
    [ "$(info_field "$p" members)" = 4 ] || return 1
    rv=$(info_field "$p" ring_version)
    [ -z "$v" ] && v=$rv
    [ "$rv" = "$v" ] || return 1
  done
}

echo "join.sh: dynad $DYNAD; $KEYS keys x $VSIZE B on 3 nodes (N=3), then a 4th joins;" \
  "redis-benchmark GET through node 2 -c $CLIENTS -n $REQS; budget $BUDGET B/s"
for mode in $MODES; do
  args=(--background-bytes-per-sec "$BUDGET")
  [ "$mode" = fixed ] && args+=(--background-fixed yes)
  CLUSTER_DIRS=$mode start_cluster3 "${args[@]}"
  python3 "$here/load.py" --host "$BENCH_HOST" --port "${CPORTS[0]}" --count "$KEYS" \
    --format 'key:%012d' --value-size "$VSIZE" --batch 500 | sed "s/^/$mode load: /"
  sleep "$SETTLE"
  before=$(gets "${CPORTS[1]}")
  aae0=$(sum_info aae_bytes "${CPORTS[@]}")
  echo "$mode before the join, per node (1-3): aae_bytes $(for p in "${CPORTS[@]}"; do printf '%s ' "$(info_field "$p" aae_bytes)"; done)"
  p4=$(free_port) c4=$(free_port)
  "$DYNAD" --name n4 --data "$work/${mode}4" --listen "$BENCH_HOST:$p4" --cluster "$BENCH_HOST:$c4" \
    --n 3 --r 2 --w 2 --log-level warn --join "$CLUSTER1" "${args[@]}" >"$work/${mode}4.log" 2>&1 &
  j=$!
  pids+=("$j")
  wait_up "$p4" "$j"
  ports=("${CPORTS[@]}" "$p4")
  t0=$(date +%s.%N)
  during=()
  while :; do
    during+=("$(gets "${CPORTS[1]}")")
    handoff_done "${ports[@]}" && break
    [ "$(echo "$(date +%s.%N) - $t0 > $WAIT" | bc)" = 1 ] && { echo "$mode: the handoff did not finish in $WAIT s"; break; }
  done
  t1=$(date +%s.%N)
  after=$(gets "${CPORTS[1]}")
  keys=$(sum_info handoff_keys_sent "${ports[@]}")
  bytes=$(sum_info handoff_bytes "${ports[@]}")
  stored=$(sum_info handoff_stored_bytes "${ports[@]}")
  aae=$(($(sum_info aae_bytes "${ports[@]}") - aae0))
  echo "$mode per node (1-4): aae_bytes $(for p in "${ports[@]}"; do printf '%s ' "$(info_field "$p" aae_bytes)"; done)," \
    "aae_keys_sent $(for p in "${ports[@]}"; do printf '%s ' "$(info_field "$p" aae_keys_sent)"; done)," \
    "handoff_bytes $(for p in "${ports[@]}"; do printf '%s ' "$(info_field "$p" handoff_bytes)"; done)," \
    "handoff_keys_held $(for p in "${ports[@]}"; do printf '%s ' "$(info_field "$p" handoff_keys_held)"; done)"
  cuts=$(sum_info background_rate_cuts "${ports[@]}")
  held=$(sum_info background_acks_held "${ports[@]}")
  p99s=$(printf '%s\n' "${during[@]}" | awk '{ print $2 }' | sort -g)
  n=$(echo "$p99s" | wc -l)
  med=$(echo "$p99s" | sed -n "$(((n + 1) / 2))p")
  worst=$(echo "$p99s" | tail -1)
  maxd=$(printf '%s\n' "${during[@]}" | awk '{ print $3 }' | sort -g | tail -1)
  read -r b50 b99 bmax _ <<<"$before"
  read -r a50 a99 amax _ <<<"$after"
  printf '%-9s GET p50/p99/max ms: before %s/%s/%s; during (%d runs) p99 median %s, worst %s, max %s; after %s/%s/%s\n' \
    "$mode" "$b50" "$b99" "$bmax" "$n" "$med" "$worst" "$maxd" "$a50" "$a99" "$amax"
  printf '%-9s handoff %.1f s; %s keys, %s bytes sent (%s B a key, for %s B stored: %s times; %s B of value and 16 of key), anti-entropy meanwhile %s bytes; %s rate cuts, %s acks held\n' \
    "$mode" "$(echo "$t1 - $t0" | bc)" "$keys" "$bytes" "$([ "$keys" -gt 0 ] && echo $((bytes / keys)) || echo -)" \
    "$([ "$keys" -gt 0 ] && echo $((stored / keys)) || echo -)" \
    "$([ "$stored" -gt 0 ] && echo "scale=2; $bytes / $stored" | bc || echo -)" "$VSIZE" "$aae" "$cuts" "$held"
  for p in "${DPIDS[@]}" "$j"; do kill "$p" 2>/dev/null || true; done
  for p in "${DPIDS[@]}" "$j"; do wait "$p" 2>/dev/null || true; done
done
