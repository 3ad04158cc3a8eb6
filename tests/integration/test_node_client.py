#!/usr/bin/python3
"""ioredis (Node.js, from npm, pinned by tests/clients/node/package-lock.json and installed
by scripts/setup.sh) against a 3-node cluster (N=2, on 127.0.0.71-73): this file starts
the cluster and runs tests/clients/node/test_ioredis.js, ioredis's plain client through
every command family Dyna serves (tests/clients/node/families.js: strings, counters, sets,
hashes, sorted sets, lists, expiry, pipelining, DYNA.*, errors, connection), writes
through one node and reads through another. The script's own checks are printed as they
run; this test passes when it exits 0 having run checks and failed none.

tests/clients/node/test_ioredis_cluster.js (ioredis's Cluster client) needs CLUSTER SLOTS
and is not run here yet.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, all_see, repo_root, start_cluster_node, wait_until  # noqa: E402

H = Harness("node_client")
IPS = {"c1": "127.0.0.71", "c2": "127.0.0.72", "c3": "127.0.0.73"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000)
NODE_DIR = os.path.join(repo_root(), "tests", "clients", "node")


def start_cluster(h, ips, opts):
    """Three nodes (c2, c3 join c1) at ips; returns them once every node sees all three."""
    ns = [start_cluster_node("c1", h.path("c1"), ips["c1"], extra_args=opts)]
    for nm in ("c2", "c3"):
        ns.append(start_cluster_node(nm, h.path(nm), ips[nm], join=ns[0].cluster_addr, extra_args=opts))
    wait_until(lambda: all_see(ns, ("c1", "c2", "c3"), ("self", "reachable")), 30, 0.05,
               "3 valid members seen by every node")
    return ns


def run_node_script(h, script, nodes, timeout=120):
    """Runs `node tests/clients/node/SCRIPT host:port,...`, echoes its output, and checks
    that it exited 0 with a closing 'NAME: N checks, 0 failed' line, N > 0."""
    h.expect("node is installed", shutil.which("node") is not None, "run scripts/setup.sh (make setup)")
    h.expect("ioredis is installed in tests/clients/node", os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ioredis")),
             "run scripts/setup.sh (make setup): it runs npm ci there")
    addrs = ",".join("%s:%d" % (n.host, n.port) for n in nodes)
    out = subprocess.run(["node", os.path.join(NODE_DIR, script), addrs], cwd=NODE_DIR, capture_output=True,
                         text=True, timeout=timeout)
    sys.stdout.write(out.stdout)
    sys.stdout.write(out.stderr)
    m = re.search(r"^\S+: (\d+) checks, (\d+) failed", out.stdout, re.M)
    h.check("%s exited 0" % script, out.returncode == 0, "exit %s" % out.returncode)
    h.check("%s ran checks and none failed" % script, m is not None and int(m.group(1)) > 0 and m.group(2) == "0",
            m.group(0) if m else "no closing line")


def t_ioredis(h):
    ns = start_cluster(h, IPS, COMMON + ("--n", 2))
    run_node_script(h, "test_ioredis.js", ns)
    for n in ns:
        h.check("%s still running after the client test" % n.name, n.alive(), n.log_tail())
        n.stop()


if __name__ == "__main__":
    H.run([("ioredis plain client: every command family through a 3-node cluster", t_ioredis)])
