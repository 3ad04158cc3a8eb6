"""clientlib: what the real-client tests share (test_node_client.py, test_hiredis.py,
test_redis_tools.py): a 3-node cluster on three loopback IPs, and running a client
program that prints its own checks ("  ok   ..." / "  FAIL ...") and closes with
"NAME: N checks, M failed".

Environment: DYNA_BIN, DYNA_TMP (dynalib), DYNA_TESTBIN (where CMake puts the test
programs: <build>/tests)."""
import os
import re
import subprocess
import sys
import tempfile

from dynalib import all_see, settled, repo_root, start_cluster_node, wait_until

COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 10000)


def test_bin_dir():
    """Where the build puts the test programs (hiredis_smoke)."""
    d = os.environ.get("DYNA_TESTBIN")
    if d:
        return d
    for cand in ("build/tests", "build-asan/tests"):
        p = os.path.join(repo_root(), cand)
        if os.path.isdir(p):
            return p
    return os.path.join(repo_root(), "build", "tests")


def start_cluster3(h, ips, extra_args=()):
    """Three nodes c1, c2, c3 (c2 and c3 join c1) at ips {"c1": ip, ...} with COMMON and
    extra_args; returns them once every node sees all three valid and reachable, at their
    addresses, on one ring. Each call is a new cluster: its data dirs (and logs) are new,
    in a directory of their own under h's. (A second call on the first one's data dirs
    would restart that cluster on other addresses, with each node's old record of the
    others until gossip brings their new ones: test_node_client.py once got a CLUSTER
    SLOTS naming the first cluster's addresses that way.)"""
    opts = COMMON + tuple(extra_args)
    d = tempfile.mkdtemp(prefix="cluster-", dir=h.dir)
    ns = [start_cluster_node("c1", os.path.join(d, "c1"), ips["c1"], extra_args=opts)]
    for nm in ("c2", "c3"):
        ns.append(start_cluster_node(nm, os.path.join(d, nm), ips[nm], join=ns[0].cluster_addr, extra_args=opts))
    wait_until(lambda: settled(ns, ("c1", "c2", "c3")), 30, 0.05,
               "3 valid members seen by every node")
    return ns


def addrs(nodes):
    """"ip:port,ip:port,..." of the nodes' client ports."""
    return ",".join("%s:%d" % (n.host, n.port) for n in nodes)


def run_checks_program(h, name, argv, timeout=120, cwd=None):
    """Runs argv, echoes its output, and checks that it exited 0 with a closing
    'NAME: N checks, 0 failed' line with N > 0 (a program that ran no check fails)."""
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(out.stdout)
    sys.stdout.write(out.stderr)
    sys.stdout.flush()
    m = re.search(r"^\S+: (\d+) checks, (\d+) failed", out.stdout, re.M)
    h.check("%s exited 0" % name, out.returncode == 0, "exit %s" % out.returncode)
    h.check("%s ran checks and none failed" % name, m is not None and int(m.group(1)) > 0 and m.group(2) == "0",
            m.group(0) if m else "no closing line")


def stop_all(h, nodes):
    """Checks that each node survived the client, then stops it."""
    for n in nodes:
        h.check("%s still running after the client" % n.name, n.alive(), n.log_tail())
        n.stop()
