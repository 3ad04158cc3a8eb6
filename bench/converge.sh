#!/usr/bin/env bash
# bench/converge.sh: time for every replica of every key to agree after a partition heals,
# at full size (docs/simulation.md, "Scale experiments"), one dyna-sim run per seed.
#
# Each run: NODES nodes, Q = RING, the cart workload (KEYS keys, CLIENTS clients) for
# DURATION simulated ms with a random two-way split from 1/4 to 1/2 of it; after the heal
# clients only read, and the simulator checks every 50 ms whether all first-N replicas of
# all keys hold equal objects (--experiment converge). Prints one line per seed: keys
# diverged at the heal and simulated ms until convergence (or "no" and the keys still
# differing 60 s after the heal), anti-entropy's bytes sent after the heal per key it
# repaired (trees, bitmaps and objects), then how many seeds converged and the slowest time.
# Runs are CPU-heavy (about 10 s wall each at 100 nodes): one at a time.
#
# A benchmark: it prints figures; it exits 1 only when some seed did not converge within
# the 60 s the simulator waits, or when a run wrote after the heal (the probe's premise).
#
# Environment (all optional):
#   DYNA_SIM=path  the simulator (default: $(dirname $0)/../bin/dyna-sim, built by `make`)
#   SEEDS=1..20 (or a list: "3 7 9")  NODES=100 RING=1024 KEYS=1000 CLIENTS=200 DURATION=8000
#   EXTRA="..."    more dyna-sim options (e.g. --aae-ms 100000000: read repair only)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/simlib.sh
. "$here/simlib.sh"
sim_bench converge.sh 1..20
NODES=${NODES:-100}
RING=${RING:-1024}
KEYS=${KEYS:-1000}
CLIENTS=${CLIENTS:-200}
DURATION=${DURATION:-8000}

echo "converge: $NODES nodes, Q=$RING, $KEYS keys, $CLIENTS clients, $DURATION ms, split at 1/4..1/2 ${EXTRA:+($EXTRA)}"
echo "seed  diverged  converged_ms  aae_B_per_key  wall_s"
ok=0 n=0 worst=0 fail=0
for s in $SEEDS; do
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  line=$("$DYNA_SIM" --seed "$s" --experiment converge --nodes "$NODES" --ring-size "$RING" \
           --keys "$KEYS" --clients "$CLIENTS" --duration "$DURATION" $EXTRA 2>&1 | grep -E '^  (converge|anti-entropy after)')
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  n=$((n + 1))
  div=$(sed -n 's/.*converge: \([0-9]*\) of .*/\1/p' <<<"$line")
  per=$(sed -n 's/.* keys repaired, [0-9]* bytes (\([0-9]*\) per repaired key).*/\1/p' <<<"$line")
  ms=$(sed -n 's/.*all replicas equal \([0-9]*\) ms.*/\1/p' <<<"$line")
  writes=$(sed -n 's/.*[(:] \([0-9]*\) writes after the heal.*/\1/p' <<<"$line")
  if [ "${writes:-x}" != 0 ]; then
    echo "converge.sh: seed $s: the probe wrote after the heal or printed no result: $line" >&2
    fail=1
  fi
  if [ -n "$ms" ]; then
    ok=$((ok + 1))
    [ "$ms" -gt "$worst" ] && worst=$ms
    printf '%4s  %8s  %12s  %13s  %6.1f\n' "$s" "$div" "$ms" "${per:-?}" "$wall"
  else
    left=$(sed -n 's/.*; \([0-9]*\) still differ.*/\1/p' <<<"$line")
    printf '%4s  %8s  %12s  %13s  %6.1f\n' "$s" "$div" "no (${left:-?} left)" "${per:-?}" "$wall"
    fail=1
  fi
done
echo "converged: $ok of $n seeds; slowest $worst ms after the heal"
exit $fail
