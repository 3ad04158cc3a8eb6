#!/usr/bin/python3
"""ioredis (Node.js, from npm, pinned by tests/clients/node/package-lock.json and installed
by scripts/setup.sh) against a 3-node cluster (N=2, on 127.0.0.71-73): this file starts
the cluster and runs tests/clients/node/test_ioredis.js, ioredis's plain client through
every command family Dyna serves (tests/clients/node/families.js: strings, counters, sets,
hashes, sorted sets, lists, expiry, pipelining, transactions (multi()/exec(), EXECABORT,
CROSSSLOT, WATCH, DISCARD), DYNA.*, errors, connection, server commands, the key space
ending with FLUSHALL), writes through one node and reads through
another; then, on a second cluster (127.0.0.74-76), tests/clients/node/test_ioredis_cluster.js:
ioredis's Cluster client (CLUSTER SLOTS, every family, each key sent to a preference-list
node, hash tags and a multi() over them, SCAN through every master); then, on a third (127.0.0.77-79),
tests/clients/node/test_node_redis.js: node-redis speaking RESP3 (maps, sets, doubles and
verbatim text arrive as the client's RESP3 types; its typed commands give what they give
over RESP2), data, key-space and server families, transactions (the RESP3 types inside
EXEC, WatchError). The nodes run with --enable-flush-command; each cluster is new (its own
data dirs: clientlib.start_cluster3).
Each script's own checks are printed as they run; a test passes when its script exits 0
having run checks and failed none.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, repo_root  # noqa: E402
from clientlib import addrs, run_checks_program, start_cluster3, stop_all  # noqa: E402

H = Harness("node_client")
IPS = {"c1": "127.0.0.71", "c2": "127.0.0.72", "c3": "127.0.0.73"}
IPS_CLUSTER = {"c1": "127.0.0.74", "c2": "127.0.0.75", "c3": "127.0.0.76"}
IPS_NODE_REDIS = {"c1": "127.0.0.77", "c2": "127.0.0.78", "c3": "127.0.0.79"}
ARGS = ("--n", 2, "--enable-flush-command")
NODE_DIR = os.path.join(repo_root(), "tests", "clients", "node")


def node_ready(h):
    h.expect("node is installed", shutil.which("node") is not None, "run scripts/setup.sh (make setup)")
    h.expect("ioredis is installed in tests/clients/node",
             os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ioredis")),
             "run scripts/setup.sh (make setup): it runs npm ci there")


def t_ioredis(h):
    node_ready(h)
    ns = start_cluster3(h, IPS, ARGS)
    run_checks_program(h, "test_ioredis.js", ["node", os.path.join(NODE_DIR, "test_ioredis.js"), addrs(ns), "flush"],
                       cwd=NODE_DIR)
    stop_all(h, ns)


def t_ioredis_cluster(h):
    node_ready(h)
    ns = start_cluster3(h, IPS_CLUSTER, ARGS)
    run_checks_program(h, "test_ioredis_cluster.js",
                       ["node", os.path.join(NODE_DIR, "test_ioredis_cluster.js"), addrs(ns), "flush"], cwd=NODE_DIR)
    stop_all(h, ns)


def t_node_redis(h):
    node_ready(h)
    h.expect("node-redis is installed in tests/clients/node",
             os.path.isdir(os.path.join(NODE_DIR, "node_modules", "redis")), "run scripts/setup.sh (make setup)")
    ns = start_cluster3(h, IPS_NODE_REDIS, ARGS)
    run_checks_program(h, "test_node_redis.js", ["node", os.path.join(NODE_DIR, "test_node_redis.js"), addrs(ns)],
                       cwd=NODE_DIR)
    stop_all(h, ns)


if __name__ == "__main__":
    H.run([("ioredis plain client: every command family through a 3-node cluster", t_ioredis),
           ("ioredis Cluster client: CLUSTER SLOTS routing, every family, hash tags, SCAN per master",
            t_ioredis_cluster),
           ("node-redis over RESP3 and RESP2: reply types, data, key space, server commands", t_node_redis)])
