#!/usr/bin/env bash
# bench/sustained.sh: a fresh 3-node cluster under a minute or more of SETs, slice by slice
# (issue 23): what a one-round benchmark does not see, such as throughput that changes as
# the nodes' log segments fill, roll and are checkpointed.
#
# A benchmark, not a test: it prints figures and never fails on them. It removes its
# processes and temp dir on exit.
#
# Three dynad (N=3 R=2 W=2, --sync SYNC) on BENCH_HOST; dyna-bench --protocol redis,
# workload W (SET only), CONNS connections through node 1 over KEYS keys of 100 bytes for
# DURATION s, reporting every SLICE s: SETs a second and p50/p99/p99.9/max of each slice.
# Then each node's log files (wal-*.log, wal-next.tmp: a segment whose file is larger than
# what it holds was written into a prepared file) and commits (INFO).
#
# Environment (all optional): BIN (default ../bin), SYNC=batch, DURATION=60, SLICE=3,
# CONNS=50, KEYS=100000, BENCH_HOST=127.0.48.1, REDIS_CLI, TMPDIR (put it on a real disk).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
DYNAD=$BIN/dynad
BENCH_HOST=${BENCH_HOST:-127.0.48.1}
SYNC=${SYNC:-batch} DURATION=${DURATION:-60} SLICE=${SLICE:-3} CONNS=${CONNS:-50} KEYS=${KEYS:-100000}
. "$here/lib.sh"
bench_init sustained.sh dyna-sustained
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set BIN=dir)"
need_redis_tools
echo "== $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg); dynad $("$DYNAD" --version 2>&1 | head -1)"
echo "== 3 nodes --sync $SYNC; dyna-bench W through node 1, $CONNS connections, $KEYS keys, $DURATION s"
start_cluster 3 --sync "$SYNC"
"$BIN/dyna-bench" --protocol redis --seeds "$N1" --workload W --connections "$CONNS" --keys "$KEYS" \
  --duration "$DURATION" --interval "$SLICE" 2>&1 | grep -E '^ *\[|^run:'
for i in 1 2 3; do
  echo "-- n$i: commits $(info_field "${CPORTS[$((i - 1))]}" commits); log files (bytes):"
  (cd "$work/n$i" && for f in wal-*; do [ -e "$f" ] && printf '   %s %s\n' "$f" "$(stat -c %s "$f")"; done)
done
