# bench/simlib.sh: what the simulator benchmark scripts share (sourced, not run).
#
#   sim_bench NAME DEFAULT_SEEDS   DYNA_SIM (default: bin/dyna-sim beside bench/, built by
#                                  `make`; exits 2 when it is not there), SEEDS (a list, or
#                                  A..B expanded to one; DEFAULT_SEEDS when unset) and
#                                  EXTRA (more dyna-sim options; empty when unset)
sim_bench() { # name default-seeds
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  DYNA_SIM=${DYNA_SIM:-$here/../bin/dyna-sim}
  SEEDS=${SEEDS:-$2}
  if [[ $SEEDS =~ ^([0-9]+)\.\.([0-9]+)$ ]]; then SEEDS=$(seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"); fi
  EXTRA=${EXTRA:-}
  [ -x "$DYNA_SIM" ] || { echo "$1: no simulator at $DYNA_SIM (run make)" >&2; exit 2; }
}
