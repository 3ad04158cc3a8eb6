#!/usr/bin/env bash
# bench/dc.sh: the long version of tests/integration/test_dc_wan.py (issue 22, item 3):
# two sites of three dynad nodes on loopback, 50 ms each way between them, a cart workload
# in both (SADD/SREM at LOCAL quorum); the link between the sites cut for DURATION
# seconds (a minute by default), then the whole west site SIGKILLed for KILL seconds, then
# restarted and healed; every east write must succeed throughout, every cart must read
# alike through all six nodes with 0 acknowledged adds lost and 0 removes undone, and each node's
# catch-up must stay within its background byte budget. Prints the test's notes (writes
# acknowledged, failures by phase, seconds to converge, background bytes per node) and
# exits with the test's status.
#
# Root only (nft, iptables NFQUEUE). Addresses 127.0.46.x/127.0.47.x, queues 40-49.
# Environment (all optional): DURATION=60 (s of cut)  KILL=20 (s west is dead)
#   WRITERS=2 (writers per site)  DYNA_BIN (default: ../bin)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DYNA_BIN=${DYNA_BIN:-$here/../bin}
export DC_CUT_S=${DURATION:-60} DC_KILL_S=${KILL:-20} DC_WRITERS=${WRITERS:-2}
echo "dc: 2 sites x 3 nodes, 50 ms between, cut ${DC_CUT_S} s, west dead ${DC_KILL_S} s, ${DC_WRITERS} writers per site"
exec /usr/bin/python3 "$here/../tests/integration/test_dc_wan.py"
