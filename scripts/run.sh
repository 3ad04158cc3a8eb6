#!/usr/bin/env bash
# run.sh: `make run`: a local 3-node cluster (N=3, R=2, W=2) on 127.0.0.1, client ports
# 7001-7003, cluster ports 17001-17003, data under ./var/n1..n3. Node 2 joins node 1, node 3
# nodes 1 and 2 (either seed lets it in; on later runs they are members already). FLUSHALL
# is allowed (--enable-flush-command). Each node's HTTP port (metrics, JSON admin API,
# docs/http.md) is 8001-8003. Ctrl-C stops every node.
#
# SECURE=1 (make run SECURE=1): the same cluster with TLS on both ports. scripts/tls-certs.sh
# makes a throw-away CA and certificates under var/tls (kept for later runs); the nodes
# serve TLS clients on 7101-7103 (a client certificate of that CA is required, as Redis
# requires by default), keep no plain client port, and their cluster ports run mutual TLS.
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
secure=${SECURE:-0}
[ "$secure" = 0 ] || scripts/tls-certs.sh var/tls n1 n2 n3 >/dev/null || exit 1
for i in 1 2 3; do
  tls=(--listen "127.0.0.1:700$i")
  [ "$secure" = 0 ] || tls=(--listen 127.0.0.1:0 --tls-port "710$i" --tls-cluster yes
                            --tls-cert-file "var/tls/n$i.crt" --tls-key-file "var/tls/n$i.key"
                            --tls-ca-cert-file var/tls/ca.crt)
  join=()
  [ "$i" = 2 ] && join=(--join 127.0.0.1:17001)
  [ "$i" = 3 ] && join=(--join 127.0.0.1:17001,127.0.0.1:17002)
  # --enable-flush-command: a local cluster to try clients on (their test suites start
  # with FLUSHALL); production nodes leave it off (docs/architecture.md, Listing keys).
  bin/dynad --name "n$i" --data "var/n$i" "${tls[@]}" --cluster "127.0.0.1:1700$i" \
    --http "127.0.0.1:800$i" --enable-flush-command "${join[@]}" 2>>"var/n$i.log" &
  pids+=($!)
  sleep 0.2
done
sleep 1
if [ "$secure" = 0 ]; then
  echo "Dyna: 3-node cluster running (N=3, R=2, W=2); logs in var/n1.log .. var/n3.log"
  echo "  redis-cli -p 7001 set greeting hello      redis-cli -p 7002 get greeting"
  echo "  bin/dyna -p 7003 get greeting             bin/dyna -p 7001 status"
  echo "  curl -s 127.0.0.1:8001/metrics            curl -s 127.0.0.1:8001/status   (docs/http.md)"
  echo "Press Ctrl-C to stop every node."
  bin/dyna -p 7001 status || true
else
  t="--tls --cacert var/tls/ca.crt --cert var/tls/client.crt --key var/tls/client.key"
  echo "Dyna: 3-node cluster running with TLS on both ports (N=3, R=2, W=2); logs in var/n1.log .. var/n3.log"
  echo "  redis-cli -p 7101 $t set greeting hello"
  echo "  bin/dyna -p 7103 $t get greeting"
  echo "Press Ctrl-C to stop every node."
  # shellcheck disable=SC2086
  bin/dyna -p 7101 $t status || true
fi
wait
