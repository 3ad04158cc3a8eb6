#!/usr/bin/python3
"""test_clock.py: dynad keeps working when its wall clock steps by an hour either way.

A 3-node cluster on loopback; node c1 runs under the LD_PRELOAD shim tests/tools/skew.c
(built by CMake as libdyna_skew.so), which adds an offset read from a file to
CLOCK_REALTIME only, as an NTP step or a resumed VM would move it; the monotonic clock
(libuv's uv_now) is untouched. Under a steady load of SETs and GETs through c1, its wall
clock steps +1 h, then back to true time (-1 h), then to an hour behind (-1 h again).
After each step, for a few seconds:
  - INFO server_time_usec on c1 shows the step (so the shim really moved the clock);
  - no request fails;
  - no peer is marked unreachable, by c1 or by the others (DYNA.STATUS);
  - c1 goes on gossiping and running anti-entropy (INFO gossip_rounds, aae_exchanges).
With one clock (the wall clock driving timers) the step back stops c1's timers: it sends
no gossip and runs no exchange for an hour; a step forward times out requests in flight.
And once c1's clock is back at true time, the deadlines it sets follow it: EXPIRE k 100
and SET k v EX 100 through c1 read back through c2 and c3 with a PTTL of at most 100 s
(not an hour more: c1's value stamps stay at the last one the step made until its clock
catches up, but a deadline is a time, not a stamp; docs/architecture.md, "Two clocks").

The shim also runs ahead of the ASan build's dynad (clang links the ASan runtime into
the executable, whose clock_gettime interceptor calls on into the shim); CMake builds the
shim uninstrumented there, so that it loads into any process.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory),
the shim libdyna_skew.so, built by CMake from tests/tools/skew.c (dynalib.lib_dir())."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (ConnectionClosed, Client, Harness, cluster_status, lib_dir,  # noqa: E402
                     short, start_cluster_node, wait_until)

H = Harness("clock")
S = {}
IPS = {"c1": "127.0.0.41", "c2": "127.0.0.42", "c3": "127.0.0.43"}
GOSSIP_MS = 200
COMMON = ("--gossip-interval-ms", GOSSIP_MS, "--request-timeout-ms", 1000, "--aae-interval-ms", 100)
WATCH_S = 3.0   # how long each step is watched
HOUR = 3600


def skew_lib():
    p = os.path.abspath(os.path.join(lib_dir(), "libdyna_skew.so"))
    return p if os.path.exists(p) else None


def info(node):
    """INFO of a node as {name: str}; {} when it does not answer."""
    out = {}
    try:
        with Client(node.port, host=node.host, timeout=5.0) as c:
            for line in c.call("INFO").split(b"\r\n"):
                k, sep, v = line.decode().partition(":")
                if sep:
                    out[k] = v
    except (OSError, ConnectionClosed):
        pass
    return out


def counters(node):
    i = info(node)
    return {k: int(i.get(k, -1)) for k in ("gossip_rounds", "aae_exchanges", "server_time_usec")}


class Load(threading.Thread):
    """SET then GET of rotating keys through one node, in small pipelined batches, until
    stopped. Every reply is checked; failures are kept with the time they came."""

    def __init__(self, node):
        threading.Thread.__init__(self, daemon=True)
        self.node = node
        self.ok, self.failures = 0, []
        self.stop_ev = threading.Event()

    def run(self):
        i = 0
        c = None
        while not self.stop_ev.is_set():
            keys = ["clk%05d" % ((i + j) % 500) for j in range(8)]
            i += 8
            cmds = [("SET", k, "v%d" % i) for k in keys] + [("GET", k) for k in keys]
            try:
                if c is None:
                    c = Client(self.node.port, host=self.node.host, timeout=5.0)
                replies = c.pipeline(cmds)
            except (OSError, ConnectionClosed) as e:
                self.failures.append((time.monotonic(), "connection: %s" % e))
                if c:
                    c.close()
                c = None
                self.stop_ev.wait(0.05)
                continue
            for cmd, r in zip(cmds, replies):
                good = r == "OK" if cmd[0] == "SET" else r == ("v%d" % i).encode()
                if good:
                    self.ok += 1
                else:
                    self.failures.append((time.monotonic(), "%s %s -> %r" % (cmd[0], cmd[1], r)))
            self.stop_ev.wait(0.01)  # pacing, not an assertion
        if c:
            c.close()

    def stop(self):
        self.stop_ev.set()
        self.join(15)


def unreachable_views(nodes):
    """[(viewer, peer)] for every pair where viewer does not see peer as reachable."""
    bad = []
    for n in nodes:
        st = cluster_status(n)
        if st is None:
            bad.append((n.name, "no answer"))
            continue
        for name, m in st.items():
            if name != n.name and m["reach"] != "reachable":
                bad.append((n.name, "%s %s" % (name, m["reach"])))
    return bad


def t_form(h):
    lib = skew_lib()
    h.expect("the skew shim is built (libdyna_skew.so)", lib is not None)
    S["skew"] = H.path("skew")
    with open(S["skew"], "w") as f:
        f.write("0\n")
    env_saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "DYNA_SKEW_FILE")}
    os.environ["LD_PRELOAD"] = lib
    os.environ["DYNA_SKEW_FILE"] = S["skew"]
    try:
        c1 = start_cluster_node("c1", H.path("c1"), IPS["c1"], extra_args=COMMON)
    finally:
        for k, v in env_saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    c2 = start_cluster_node("c2", H.path("c2"), IPS["c2"], join=c1.cluster_addr, extra_args=COMMON)
    c3 = start_cluster_node("c3", H.path("c3"), IPS["c3"], join=c1.cluster_addr, extra_args=COMMON)
    S["nodes"] = [c1, c2, c3]

    def formed():
        sts = [cluster_status(n) for n in S["nodes"]]
        return all(st and len(st) == 3 and all(m["status"] == "valid" for m in st.values()) for st in sts) \
            and not unreachable_views(S["nodes"])
    wait_until(formed, 20, what="3 valid members, all reachable from each other")
    h.check("3-node cluster formed, every node reaches the others", True)
    # Placement and anti-entropy need data: write some first.
    with Client(c1.port, host=c1.host) as c:
        replies = c.pipeline([("SET", "clk%05d" % k, "init") for k in range(500)])
    h.check("500 keys written through c1", all(r == "OK" for r in replies), short(replies))


def step(h, offset_s, what):
    """Sets c1's wall-clock offset and watches the cluster for WATCH_S seconds."""
    c1 = S["nodes"][0]
    load = S["load"]
    before = counters(c1)
    t_wall0 = time.time()
    with open(S["skew"], "w") as f:
        f.write("%d\n" % offset_s)
    t0 = time.monotonic()
    nfail0 = len(load.failures)
    ok0 = load.ok
    seen_bad = []
    # The shim re-reads the file every 50 ms: the step is in force within 0.1 s.
    time.sleep(0.1)  # not a timed assertion: the check below reads the clock it set
    after_step = counters(c1)
    skew = after_step["server_time_usec"] / 1e6 - time.time()
    h.check("%s: c1's wall clock (INFO server_time_usec) is %+.0f s off true time, want %+d s"
            % (what, skew, offset_s), abs(skew - offset_s) < 5, short(after_step))
    while time.monotonic() - t0 < WATCH_S:
        seen_bad += unreachable_views(S["nodes"])
        time.sleep(0.1)
    after = counters(c1)
    fails = load.failures[nfail0:]
    h.check("%s: no request failed in the %.0f s after the step (%d answered)"
            % (what, WATCH_S, load.ok - ok0), not fails and load.ok > ok0, short(fails[:5]))
    h.check("%s: no node judged a peer unreachable" % what, not seen_bad, short(seen_bad[:5]))
    g = after["gossip_rounds"] - before["gossip_rounds"]
    a = after["aae_exchanges"] - before["aae_exchanges"]
    want_g = int(WATCH_S * 1000 / GOSSIP_MS / 2)
    h.check("%s: c1 ran %d gossip rounds (want >= %d) and %d anti-entropy exchanges (want > 0)"
            % (what, g, want_g, a), g >= want_g and a > 0, short((before, after)))
    h.note("%s at %.0f: %d gossip rounds, %d exchanges, %d requests answered"
           % (what, t_wall0, g, a, load.ok - ok0))


def deadlines(h, what):
    """Deadlines set through c1 (EXPIRE on a string and a hash, SET EX), read through the
    other nodes: PTTL in (90, 100] s."""
    c1, others = S["nodes"][0], S["nodes"][1:]
    tag = "%d" % len(S.setdefault("dl", []))
    S["dl"].append(what)
    keys = ["dl%s-str" % tag, "dl%s-hash" % tag, "dl%s-ex" % tag]
    with Client(c1.port, host=c1.host, timeout=10) as c:
        got = c.pipeline([("SET", keys[0], "v"), ("EXPIRE", keys[0], 100), ("HSET", keys[1], "f", "v"),
                          ("EXPIRE", keys[1], 100), ("SET", keys[2], "v", "EX", 100)])
    h.check("%s: the writes through c1 succeeded" % what, got == ["OK", 1, 1, 1, "OK"], short(got))
    for n in others:
        with Client(n.port, host=n.host, timeout=10) as c:
            ttl = c.pipeline([("PTTL", k) for k in keys])
        h.check("%s: PTTL through %s of the deadlines c1 set is in (90, 100] s" % (what, n.name),
                all(isinstance(t, int) and 90000 < t <= 100000 for t in ttl), short(ttl))


def t_steps(h):
    S["load"] = Load(S["nodes"][0])
    S["load"].start()
    try:
        wait_until(lambda: S["load"].ok > 200, 10, what="the load running")
        step(h, 0, "no step (baseline)")
        deadlines(h, "baseline")
        step(h, HOUR, "step +1 h")
        step(h, 0, "step -1 h (back to true time)")
        deadlines(h, "back at true time after +1 h")
        step(h, -HOUR, "step -1 h (an hour behind)")
    finally:
        S["load"].stop()
    h.check("the load saw no failure at all", not S["load"].failures, short(S["load"].failures[:5]))


def t_final(h):
    for n in S.get("nodes", []):
        h.check("%s still running" % n.name, n.alive(), n.log_tail(10))
        for bad in ("AddressSanitizer", "runtime error", "assert"):
            if bad in n.log_text():
                h.check("%s log free of %r" % (n.name, bad), False, n.log_tail(10))
        n.stop()


if __name__ == "__main__":
    H.run([("form a 3-node cluster, c1 under the skew shim", t_form),
           ("wall-clock steps of an hour under load", t_steps),
           ("final", t_final)])
