#!/usr/bin/env bash
# bench/campaign.sh: the Jepsen-style campaign (tests/campaign/campaign.py) for a chosen
# duration and seed: 5 dynad on their own loopback addresses (N=3, R=2, W=2), register,
# cart, counter, set, list, expiry, hash and sorted-set workloads from several client
# threads, a nemesis mixing SIGKILL, SIGSTOP, nft partitions, duplicated packets, a wiped
# disk, a full disk, fsyncs failing with EIO, clock steps, two faults at once and a join
# and a leave, then a checker after the heal. Network and disk faults need root.
# The output ends with the checker's line, e.g.
#   campaign seed=1 duration=600: 0 lost, 0 resurrected, 0 doubled, ... converged in 0.4 s
# and the exit status is the campaign's (0: nothing lost, resurrected or doubled).
# Results and their seeds: docs/reliability.md (a failure reruns with the same SEED).
#
# Environment (all optional):
#   DURATION=600   seconds of faults under load (DURATION=60 for a short run)
#   SEED=1         the random stream of the workloads and the nemesis
#   FAULTS=        a comma list to draw from only (kill,pause,majority,isolate,bridge,
#                  asym,dup,wipe,clock,eio,disk,double,join,leave); default all this
#                  machine can do
#   SCHEDULE=      expose: instead of the random faults, the bug checks' schedule
#                  (tests/campaign/expose.py; not with FAULTS)
#   BUGS=          dynad's test-only DYNA_TEST_BUGS (the run then must find a violation)
#   DYNA_BIN, DYNA_LIB   where dynad and libdyna_skew.so are (default: bin/ and lib/,
#                  built by `make`)
#   TMPDIR         where the data dirs go
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export DYNA_BIN=${DYNA_BIN:-$root/bin}
export DYNA_LIB=${DYNA_LIB:-$root/lib}
export DYNA_TMP=${DYNA_TMP:-${TMPDIR:-/tmp}}
[ -x "$DYNA_BIN/dynad" ] || { echo "campaign: no $DYNA_BIN/dynad (run make)" >&2; exit 2; }
args=(--duration "${DURATION:-600}" --seed "${SEED:-1}")
[ -n "${FAULTS:-}" ] && args+=(--faults "$FAULTS")
[ -n "${SCHEDULE:-}" ] && args+=(--schedule "$SCHEDULE")
[ -n "${BUGS:-}" ] && args+=(--bugs "$BUGS" --expect-violation)
exec /usr/bin/python3 "$root/tests/campaign/campaign.py" "${args[@]}"
