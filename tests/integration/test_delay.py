#!/usr/bin/python3
"""The network delay fault (tests/integration/wan.py over tests/tools/nfq_delay): packets
between chosen loopback addresses held 50 ms by an NFQUEUE helper.

- ping: a client bound to one 127.0.49.x address PINGs a dynad at another; with the delay
  on that pair (one way) every round trip takes at least 50 ms, without it far less.
- cluster: two dynad (N=2), the first on the address PINGed above, with the delay between
  them (both ways): every DYNA.PUT at W=2 through one waits for the other's answer, so
  takes at least 2 x 50 ms; the two still see each other reachable, and both hold every
  key written.
- every rule a Delay added is gone afterwards (iptables -S shows none of ours).

The lower bounds check the fault tool, not Dyna's speed: the delay itself guarantees them
(a packet cannot leave before it was held 50 ms). The check without the delay compares the
fastest of many round trips with half the delay.

Root only (iptables, NFQUEUE): as any other user it prints a notice and exits 0. Our
addresses are 127.0.49.x, our queues 40-49, our rules carry "dynadelay-<pid>"; they are
removed on exit, failure and SIGTERM, and a run killed with SIGKILL leaves rules that the
next run removes."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Client, Harness, local_holders, settled, short, start_cluster_node,  # noqa: E402
                     wait_until)
import wan  # noqa: E402

H = Harness("delay")
MS = 50
QUEUES = range(40, 50)
# Three addresses of 127.0.49.x picked by our pid, so that two runs at once (two builds'
# suites) do not delay each other's packets.
BASE = 10 + (os.getpid() % 80) * 3
IPS = {"a": "127.0.49.%d" % BASE, "b": "127.0.49.%d" % (BASE + 1)}
CLIENT_IP = "127.0.49.%d" % (BASE + 2)


def ping_rtts(host, port, n=10):
    """Round trips (ms) of n PINGs from a socket bound to CLIENT_IP."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(10)
    s.bind((CLIENT_IP, 0))
    s.connect((host, port))
    out = []
    try:
        for _ in range(n):
            t0 = time.monotonic()
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            buf = b""
            while not buf.endswith(b"\r\n"):
                d = s.recv(64)
                if not d:
                    raise AssertionError("connection closed after %r" % buf)
                buf += d
            out.append((time.monotonic() - t0) * 1000)
            if buf != b"+PONG\r\n":
                raise AssertionError("PING -> %r" % buf)
    finally:
        s.close()
    return out


def check_no_rules(h, what):
    left = wan.our_rules(os.getpid())
    h.check("%s: no rule of ours left (iptables -S)" % what, not left, short(left, 300))


def t_ping(h):
    a = start_cluster_node("a", h.path("a"), IPS["a"])
    port = a.port
    before = ping_rtts(IPS["a"], port, 20)
    with wan.Delay([CLIENT_IP], [IPS["a"]], MS, QUEUES, both=False) as d:
        h.note("iptables -A %s" % " ".join(d.spec(CLIENT_IP, IPS["a"])))
        during = ping_rtts(IPS["a"], port, 10)
    after = ping_rtts(IPS["a"], port, 20)
    h.note("PING round trip ms: without min %.2f max %.2f; with %d ms: min %.2f max %.2f; after min %.2f"
           % (min(before), max(before), MS, min(during), max(during), min(after)))
    h.check("with the delay every PING takes >= %d ms" % MS, min(during) >= MS, "%r" % during)
    h.check("without it the fastest PING takes < %d ms" % (MS // 2), min(before) < MS / 2, "%r" % before)
    h.check("after it the fastest PING takes < %d ms again" % (MS // 2), min(after) < MS / 2, "%r" % after)
    check_no_rules(h, "ping")
    a.stop()


def t_cluster(h):
    common = ("--n", 2, "--gossip-interval-ms", 200, "--heartbeat-ms", 200, "--request-timeout-ms", 2000)
    a = start_cluster_node("a", h.path("ca"), IPS["a"], extra_args=common)
    b = start_cluster_node("b", h.path("cb"), IPS["b"], join=a.cluster_addr, extra_args=common)
    wait_until(lambda: settled((a, b), ("a", "b")), 30, 0.05, "a and b to settle")
    keys = ["wan-%d" % i for i in range(20)]
    try:
        with wan.Delay([IPS["a"]], [IPS["b"]], MS, QUEUES) as d:
            took = []
            with Client(a.port, host=a.host, timeout=10) as c:
                for k in keys:
                    t0 = time.monotonic()
                    r = c.call("DYNA.PUT", k, "", "v-" + k, "W", 2)
                    took.append((time.monotonic() - t0) * 1000)
                    h.expect("DYNA.PUT %s W 2 through a" % k, isinstance(r, bytes) and r, short(r))
            h.note("DYNA.PUT W 2 across the delayed pair, ms: min %.1f max %.1f (queue %d)"
                   % (min(took), max(took), d.qnum))
            h.check("every W=2 write waits for the other node: >= 2 x %d ms" % MS,
                    min(took) >= 2 * MS, "%r" % took)
            # Converges with the delay on: each sees the other, both hold every key.
            wait_until(lambda: settled((a, b), ("a", "b")), 30, 0.1, "a and b to agree with the delay on")
            counts = wait_until(lambda: (lambda c: c if all(v == 2 for v in c.values()) else None)(
                local_holders((a, b), keys)), 30, 0.2, "both nodes to hold every key")
            h.eq("keys held by both nodes, delay on", sum(1 for v in counts.values() if v == 2), len(keys))
        after = []
        with Client(a.port, host=a.host, timeout=10) as c:
            for i in range(5):
                t0 = time.monotonic()
                r = c.call("DYNA.PUT", "wan-after-%d" % i, "", "x", "W", 2)
                after.append((time.monotonic() - t0) * 1000)
                h.check("a write after the delay is acknowledged", isinstance(r, bytes) and r, short(r))
        h.note("DYNA.PUT W 2 after the delay, ms: min %.1f" % min(after))
        h.check("the fastest no longer waits 2 x %d ms" % MS, min(after) < 2 * MS, "%r" % after)
        h.check("nfq_delay held packets and exited cleanly", b"packets held" in d.log, short(d.log))
    finally:
        check_no_rules(h, "cluster")
        a.stop()
        b.stop()


def t_failure_cleans(h):
    """An exception inside the with-block still removes the rules and stops the tool."""
    d = None
    try:
        with wan.Delay([IPS["a"]], [IPS["b"], CLIENT_IP], MS, QUEUES) as d:
            h.eq("rules while the delay is on", len(wan.our_rules(os.getpid())), 4)
            raise KeyError("on purpose")
    except KeyError:
        pass
    check_no_rules(h, "after an exception")
    h.check("the tool stopped", d is not None and d.proc is None)
    d.close()   # again: nothing to do
    check_no_rules(h, "after a second close")


if __name__ == "__main__":
    why = wan.available()
    if why:
        print("test_delay: not run here: %s" % why)
        sys.exit(0)
    wan.clean_stale()
    H.run([("ping", t_ping), ("cluster", t_cluster), ("failure cleans up", t_failure_cleans)])
