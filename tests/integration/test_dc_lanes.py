#!/usr/bin/python3
"""A request's frames do not wait behind another site's backlog (issue 22, items 2 and 4),
with real processes: two sites of three dynad (east on 127.0.51.x, west on 127.0.52.x),
--n 3 in each, LOCAL quorums as the nodes' defaults, and 50 ms of delay each way between
the sites (tests/integration/wan.py: iptables NFQUEUE + nfq_delay).

  burst    dyna-bench writes through e1 for BURST_S seconds (workload W: DYNA.PUT of
           BURST_KEYS keys, 4 connections; LOCAL: each acknowledged by east alone). Each
           write's three copies to west are more than the delayed links carry, so a
           backlog builds on the east -> west links.
  global   at once, through e1, requests that need an answer from west: DYNA.PUT .. W 4
           and DYNA.GET .. R 4 (a majority of the six replicas). Their frames take the
           links' other lane (runtime/peer.h: frames no request waits on wait in a bulk
           lane and join the output a window at a time), so each is answered within the
           request timeout. Before the lanes they queued behind the backlog and every one
           timed out with "quorum not reached" until it drained (bench/dc_latency.sh's
           global rounds after a LOCAL round).
  lanes    INFO peer_bulk_frames on east grew by at least one frame per write (each write
           sends three copies west; a west replica the failure detector suspects for a
           moment gets a hint instead): the copies went through the bulk lanes.

Firewall: iptables rules commented dynadelay-<pid> naming only these addresses, removed
in a finally and at exit. Every wait polls with a deadline. Root only (NFQUEUE).

Environment: DYNA_BIN, DYNA_TMP.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Client, Harness, bin_dir, RespError, pipelined, settled, short, start_cluster_node, wait_until  # noqa: E402
import wan  # noqa: E402

H = Harness("dc_lanes")
_BASE = 10 + 4 * (os.getpid() % 60)
EAST = [("e%d" % i, "127.0.51.%d" % (_BASE + i)) for i in range(1, 4)]
WEST = [("w%d" % i, "127.0.52.%d" % (_BASE + i)) for i in range(1, 4)]
COMMON = ("--gossip-interval-ms", 200, "--heartbeat-ms", 200, "--request-timeout-ms", 2000,
          "--n", 3, "--r", "local", "--w", "local")
BURST_KEYS = 2000
BURST_S = 8
GLOBAL_REQUESTS = 6


def info_u64(node, field):
    with Client(node.port, host=node.host, timeout=5.0) as c:
        txt = c.call("INFO", "everything").decode()
    for line in txt.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError("INFO of %s has no %s" % (node.name, field))


def test_lanes(h):
    why = wan.available()
    if why:
        h.expect("NFQUEUE is available (root)", False, why)
    nodes, first = [], None
    for (name, ip), dc in [(x, "east") for x in EAST] + [(x, "west") for x in WEST]:
        n = start_cluster_node(name, h.path(name), ip, join=first.cluster_addr if first else None,
                               extra_args=COMMON + ("--dc", dc))
        first = first or n
        nodes.append(n)
    wait_until(lambda: settled(nodes, [n.name for n in nodes]), 30, 0.2, "six members, one ring")
    east = nodes[:3]
    with wan.Delay([ip for _, ip in EAST], [ip for _, ip in WEST], 50, range(40, 50)) as delay:
        h.note("50 ms each way between the sites (queue %d)" % delay.qnum)
        bulk0 = sum(info_u64(n, "peer_bulk_frames") for n in east)
        cmd = [os.path.join(bin_dir(), "dyna-bench"), "--seeds", "%s:%d" % (east[0].host, east[0].port),
               "--routing", "seed", "--workload", "W", "--keys", str(BURST_KEYS), "--connections", "4",
               "--duration", str(BURST_S), "--json"]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=BURST_S * 10 + 60)
        try:
            run = json.loads(out.stdout)["run"]
        except (ValueError, KeyError):
            run = {"ops": 0, "errors": -1, "why": out.stderr.decode()[-300:]}
        writes = run["ops"]
        h.check("the burst's %d LOCAL writes were acknowledged by east alone (%.0f a second)"
                % (writes, run.get("ops_per_sec", 0)), writes > 0 and run["errors"] == 0, short(run, 300))
        waiting = sum(info_u64(n, "peer_bulk_waiting_bytes") for n in east)
        h.note("right after the burst: %d bytes wait in east's bulk lanes" % waiting)
        fails = []
        with Client(east[0].port, host=east[0].host, timeout=10.0) as c:
            for k in range(GLOBAL_REQUESTS):
                for cmd in (("DYNA.PUT", "global:%d" % k, "", "g%d" % k, "W", "4"),
                            ("DYNA.GET", "global:%d" % k, "R", "4")):
                    try:
                        r = c.call(*cmd)
                        if cmd[0] == "DYNA.GET" and not (isinstance(r, list) and r[1:] and
                                                         ("g%d" % k).encode() in (r[1] or [])):
                            fails.append((cmd, short(r)))
                    except RespError as e:
                        fails.append((cmd, str(e)))
        h.check("%d global-quorum writes and reads (W 4, R 4: west must answer) right after the burst "
                "all answered, none behind the backlog" % (2 * GLOBAL_REQUESTS), not fails, short(fails, 400))
        bulk1 = sum(info_u64(n, "peer_bulk_frames") for n in east)
        h.check("the burst's copies to west went through the bulk lanes (%d frames for %d writes)"
                % (bulk1 - bulk0, writes), bulk1 - bulk0 >= writes, "%d -> %d" % (bulk0, bulk1))
    h.check("no delay rule of ours left", not wan.our_rules(os.getpid()))
    for n in nodes:
        n.stop()


if __name__ == "__main__":
    H.run([("two sites 50 ms apart: global quorums answered through a LOCAL burst's backlog", test_lanes)])
