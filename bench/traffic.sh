#!/usr/bin/env bash
# bench/traffic.sh: what each node sends per simulated second at 10, 40, 100, 1000 (and,
# with SIZES, 3000) nodes (docs/simulation.md, "Background traffic per node"): one dyna-sim --experiment
# traffic run per size, seed 1, no faults, the cart workload. Prints per size the
# ping/pong, gossip, anti-entropy and background frames and bytes per node per simulated
# second, and node-seconds per CPU second of the window. The 1000-node run takes about a
# minute, the 3000-node one several (their window is 1 s; the boot is most of it).
# bench/traffic_plot.py draws the output (docs/figures/traffic.png).
#
# A benchmark: it prints figures and exits 1 only when a run fails.
#
# Environment (all optional):
#   DYNA_SIM=path  the simulator (default: $(dirname $0)/../bin/dyna-sim, built by `make`)
#   SIZES="10 40 100 1000" (3000 too: SIZES="10 40 100 1000 3000")  SEED=1
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
DYNA_SIM=${DYNA_SIM:-$here/../bin/dyna-sim}
SIZES=${SIZES:-10 40 100 1000}
SEED=${SEED:-1}
rc=0
printf '%6s %12s %12s %12s %14s %14s %10s\n' nodes ping/pong gossip aae background bg-bytes node-s/cpu-s
for s in $SIZES; do
  case $s in
    10) args="--ring-size 256 --keys 200 --clients 20 --duration 3000" ;;
    40) args="--ring-size 512 --keys 400 --clients 40 --duration 3000" ;;
    100) args="--ring-size 1024 --keys 1000 --clients 100 --duration 3000" ;;
    1000) args="--ring-size 8192 --keys 2000 --clients 200 --duration 1000" ;;
    3000) args="--ring-size 16384 --keys 6000 --clients 600 --duration 1000" ;;
    *) echo "traffic.sh: no settings for $s nodes" >&2; rc=1; continue ;;
  esac
  # shellcheck disable=SC2086
  out=$("$DYNA_SIM" --seed "$SEED" --experiment traffic --faults none --nodes "$s" $args) || { echo "$s nodes: run failed" >&2; rc=1; continue; }
  f() { awk -v k="$1" -v c="$2" '$1 == k { print $c; exit }' <<<"$out"; }
  cpu=$(sed -n 's/.* \([0-9]*\) per CPU second$/\1/p' <<<"$out")
  printf '%6s %12s %12s %12s %14s %14s %10s\n' "$s" "$(f ping/pong 2)" "$(f gossip/join 2)" "$(f anti-entropy 2)" \
    "$(f background 2)" "$(f background 4)" "$cpu"
done
exit $rc
