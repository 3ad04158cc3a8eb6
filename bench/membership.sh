#!/usr/bin/env bash
# bench/membership.sh: how long a join, a leave, a crash and a hang take to be known by
# every node, at full size (docs/simulation.md, "Membership convergence"), one dyna-sim
# run per seed (--experiment membership, no workload).
#
# Each run boots NODES nodes (Q = RING) and waits for a settled ring; then, each on a
# settled cluster, a node joins, one leaves (DYNA.ADMIN LEAVE's path), one crashes and
# stays down (the transport sees its connections drop), one hangs (its connections stay
# up: only the failure detector can tell). Prints one row per seed and event: when the
# median, the 99th-percentile and the last running node knew it (simulated ms; "NOT ALL"
# when some node did not within WINDOW), and the frames and bytes each node sent per
# simulated second meanwhile; then the wall time of the run. At 1000 nodes a run takes
# 1-2 min of wall time on a loaded machine (8-9 min before gossip of digests): one at a time.
#
# A benchmark: it prints figures; it exits 1 only when a run failed or printed no figures.
#
# Environment (all optional):
#   DYNA_SIM=path  the simulator (default: $(dirname $0)/../bin/dyna-sim, built by `make`)
#   SEEDS=1..3 (or a list: "3 7 9")  NODES=1000 RING=4096 WINDOW=30000 (ms per event)
#   EXTRA="..."    more dyna-sim options
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/simlib.sh
. "$here/simlib.sh"
sim_bench membership.sh 1..3
NODES=${NODES:-1000}
RING=${RING:-4096}
WINDOW=${WINDOW:-30000}

echo "membership: $NODES nodes, Q=$RING, window $WINDOW ms per event ${EXTRA:+($EXTRA)}"
printf '%-4s  %-6s %-25s %8s %8s %8s  %7s %9s\n' seed event "known:" p50_ms p99_ms max_ms frames/s bytes/s
fail=0
for s in $SEEDS; do
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  out=$("$DYNA_SIM" --seed "$s" --experiment membership --nodes "$NODES" --ring-size "$RING" \
          --keys 0 --clients 0 --duration "$WINDOW" $EXTRA 2>&1)
  rc=$?
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  if [ $rc -ne 0 ] || ! grep -q 'membership:' <<<"$out"; then
    echo "membership.sh: seed $s: the run failed (exit $rc):" >&2
    tail -5 <<<"$out" >&2
    fail=1
    continue
  fi
  # Each event's lines, then its "traffic meanwhile" line: print rows with that traffic.
  awk -v seed="$s" '
    /^  (join|leave|crash|hang) / { ev = $1 }
    / known by / {
      what = $0; sub(/^  [a-z]* +/, "", what); sub(/ +known by.*/, "", what)
      if ($0 ~ /NOT ALL/) { p50 = "NOT"; p99 = "ALL"; mx = "-" }
      else { match($0, /p50 +[0-9]+/); p50 = substr($0, RSTART + 4, RLENGTH - 4) + 0
             match($0, /p99 +[0-9]+/); p99 = substr($0, RSTART + 4, RLENGTH - 4) + 0
             match($0, /max +[0-9]+/); mx = substr($0, RSTART + 4, RLENGTH - 4) + 0 }
      rows[++n] = sprintf("%-4s  %-6s %-25s %8s %8s %8s", seed, ev, what, p50, p99, mx)
    }
    /traffic meanwhile/ {
      match($0, /[0-9.]+ frames/); f = substr($0, RSTART, RLENGTH - 7)
      match($0, /, [0-9]+ bytes/); b = substr($0, RSTART + 2, RLENGTH - 8)
      for (i = 1; i <= n; i++) printf "%s  %7s %9s\n", rows[i], f, b
      n = 0
    }' <<<"$out"
  printf '%-4s  wall %.0f s\n' "$s" "$wall"
done
exit $fail
