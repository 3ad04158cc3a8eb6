#!/usr/bin/env bash
# bench/dc_latency.sh: p50/p99 of LOCAL reads and writes in a site 50 ms away from
# another, against a single-site 3-node cluster and the global quorum (R = W = 4 of 6)
# in the same run (issue 22, item 4); the other site's processes at nice 19 (they would run on
# other machines). See bench/dc_latency.py for what it runs.
# Root only (iptables NFQUEUE). Addresses 127.0.46.200+/127.0.47.200+, queues 40-49.
# Environment (all optional): DURATION=10 ROUNDS=3 CONNS=4 KEYS=2000 NICE_WEST=1 DYNA_BIN (../bin)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DYNA_BIN=${DYNA_BIN:-$here/../bin}
exec /usr/bin/python3 "$here/dc_latency.py"
