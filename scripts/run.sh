#!/usr/bin/env bash
# run.sh: `make run`: a local 3-node cluster (N=3, R=2, W=2) on 127.0.0.1, client ports
# 7001-7003, cluster ports 17001-17003, data under ./var/n1..n3. Node 2 joins node 1, node 3
# nodes 1 and 2 (either seed lets it in; on later runs they are members already). FLUSHALL
# is allowed (--enable-flush-command). Each node's HTTP port (metrics, JSON admin API,
# docs/http.md) is 8001-8003. Ctrl-C stops every node.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Dyna: stopping the cluster..."
  kill "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  echo "Dyna: stopped."
}
trap cleanup INT TERM EXIT
for i in 1 2 3; do
  join=()
  [ "$i" = 2 ] && join=(--join 127.0.0.1:17001)
  [ "$i" = 3 ] && join=(--join 127.0.0.1:17001,127.0.0.1:17002)
  # --enable-flush-command: a local cluster to try clients on (their test suites start
  # with FLUSHALL); production nodes leave it off (docs/architecture.md, Listing keys).
  bin/dynad --name "n$i" --data "var/n$i" --listen "127.0.0.1:700$i" --cluster "127.0.0.1:1700$i" \
    --http "127.0.0.1:800$i" --enable-flush-command "${join[@]}" 2>>"var/n$i.log" &
  pids+=($!)
  sleep 0.2
done
sleep 1
echo "Dyna: 3-node cluster running (N=3, R=2, W=2); logs in var/n1.log .. var/n3.log"
echo "  redis-cli -p 7001 set greeting hello      redis-cli -p 7002 get greeting"
echo "  bin/dyna -p 7003 get greeting             bin/dyna -p 7001 status"
echo "  curl -s 127.0.0.1:8001/metrics            curl -s 127.0.0.1:8001/status   (docs/http.md)"
echo "Press Ctrl-C to stop every node."
bin/dyna -p 7001 status || true
wait
