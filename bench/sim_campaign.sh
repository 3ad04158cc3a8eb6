#!/usr/bin/env bash
# bench/sim_campaign.sh: the simulator's fault campaign at full size (issue 21, aim 6;
# docs/simulation.md, "Past full membership"): one dyna-sim run per seed with every fault
# of the default mix (message loss, partitions, crashes and restarts, a join, a leave and
# a removal, clock steps) and every end-of-run check the 5-node campaigns run (durable
# acknowledgements, no acknowledged cart add lost, sibling bounds, read repair, one ring,
# convergence of every key's replicas, unique live names, reachability after the heal).
#
# Prints one line per seed: passed or the number of failed checks, the faults that ran,
# the writes acknowledged and checked durable, simulated seconds, wall and CPU seconds;
# then "N of M seeds passed every check". A failed seed prints the simulator's replay
# command. At 1000 nodes a seed takes about 8 minutes of CPU (52 simulated seconds with
# the final phase): one at a time.
#
# A benchmark: it prints figures; it exits 1 when a seed failed a check or printed no
# result.
#
# Environment (all optional):
#   DYNA_SIM=path  the simulator (default: $(dirname $0)/../bin/dyna-sim, built by `make`)
#   SEEDS=1..3 (or a list: "3 7 9")  NODES=1000 RING=8192 KEYS=2000 CLIENTS=200
#   DURATION=10000 (ms of workload and faults before the final phase)
#   EXTRA="..."    more dyna-sim options (e.g. --faults partition,crash)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/simlib.sh
. "$here/simlib.sh"
sim_bench sim_campaign.sh 1..3
NODES=${NODES:-1000}
RING=${RING:-8192}
KEYS=${KEYS:-2000}
CLIENTS=${CLIENTS:-200}
DURATION=${DURATION:-10000}

echo "sim campaign: $NODES nodes, Q=$RING, $KEYS keys, $CLIENTS clients, $DURATION ms of faults ${EXTRA:+($EXTRA)}"
printf '%-4s  %-8s  %-80s  %11s  %6s  %7s  %6s\n' seed result faults acked/durable sim_s wall_s cpu_s
ok=0 n=0 fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for s in $SEEDS; do
  n=$((n + 1))
  t0=$(date +%s.%N)
  c0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat) # this shell's children's CPU ticks so far
  # shellcheck disable=SC2086
  "$DYNA_SIM" --seed "$s" --nodes "$NODES" --ring-size "$RING" --keys "$KEYS" --clients "$CLIENTS" \
    --duration "$DURATION" $EXTRA >"$out" 2>&1
  rc=$?
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  c1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  cpu=$(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)
  faults=$(sed -n 's/^  faults: //p' "$out" | sed 's/ (0 mid-turn)//; s/, 0 [a-z ]*//g')
  acked=$(sed -n 's/.*workload: .* writes (\([0-9]*\) ok;.*/\1/p' "$out")
  durable=$(sed -n 's/.*; \([0-9]*\) acks checked durable.*/\1/p' "$out")
  simms=$(sed -n 's/^seed [0-9]*: .*, \([0-9]*\) ms simulated$/\1/p' "$out")
  failed=$(sed -n 's/^FAIL seed [0-9]*: \([0-9]*\) check(s) failed.*/\1/p' "$out")
  if [ "$rc" = 0 ] && [ -n "$simms" ] && [ -z "$failed" ]; then
    result=passed
    ok=$((ok + 1))
  else
    result="${failed:-?} FAIL"
    fail=1
  fi
  printf '%-4s  %-8s  %-80s  %11s  %6.1f  %7.1f  %6.1f\n' "$s" "$result" "${faults:-?}" \
    "${acked:-?}/${durable:-?}" "$(echo "${simms:-0} / 1000" | bc -l)" "$wall" "$cpu"
  [ "$result" = passed ] || grep -E '^  replay:|^FAIL' "$out" | head -3
done
echo "$ok of $n seeds passed every check"
exit $fail
