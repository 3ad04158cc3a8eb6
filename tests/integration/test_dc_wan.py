#!/usr/bin/python3
"""A site lost and healed over a WAN (issue 22, item 3) with real processes: two sites of
three dynad nodes each on loopback (east on 127.0.46.x, west on 127.0.47.x), --n 3 in
each, LOCAL quorums as the nodes' defaults, and 50 ms of delay each way between every
east and every west address (tests/integration/wan.py: iptables NFQUEUE + nfq_delay;
none within a site). A cart workload runs in both sites: SADD of unique members to carts
of the site's own and to carts both sites write, each cart through one node of the site,
and now and then SREM of a member that writer added (through the same node: a remove
removes what its coordinator saw).

  1. cut     the link between the sites is cut (nft, only these six addresses) for
             DC_CUT_S seconds (6 in make test; bench/dc.sh runs a minute): every write in
             both sites succeeds.
  2. kill    still cut, the whole west site is SIGKILLed for DC_KILL_S seconds (5): every
             east write succeeds.
  3. heal    west is restarted from its data dirs, the cut healed, the writers stop.
             Both sites converge: SMEMBERS of every cart equal through all six nodes
             (each a LOCAL read: a majority of its site; DYNA.LOCAL shows no typed
             state, so typed replicas are not compared one by one, docs/reliability.md)
             and no hint left waiting anywhere (lag, below): 0 acknowledged adds lost,
             0 acknowledged removes undone; and every node's
             background work (handoff, hints, anti-entropy: INFO background_bytes) stayed
             within its byte budget (--background-bytes-per-sec, one second of burst)
             from the heal until convergence.
  lag        `dyna status` shows, per site, the hints the members hold for it and the
             oldest one's age: west's grows while west is dead; none once converged.

Firewall rules: nft table `inet dynadcw<pid>` and iptables rules commented
dynadelay-<pid>, naming only this test's addresses, removed in a finally and at exit.
Every wait polls with a deadline. Root only (nft, iptables, NFQUEUE).

Environment: DYNA_BIN, DYNA_TMP; DC_CUT_S, DC_KILL_S, DC_WRITERS (writers per site, 1).
"""
import atexit
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Client, ConnectionClosed, Harness, RespError, all_see, bin_dir, pipelined, restart_cluster_node,  # noqa: E402
                     settled, short, start_cluster_node, wait_until)
import wan  # noqa: E402

H = Harness("dc_wan")
NFT_TABLE = "dynadcw%d" % os.getpid()
# test_dc.py takes .BASE+1..3 of a block of 8 chosen by pid; this test the block's .BASE+4..6.
_BASE = 10 + 8 * (os.getpid() % 28) + 3
EAST = [("e%d" % i, "127.0.46.%d" % (_BASE + i)) for i in range(1, 4)]
WEST = [("w%d" % i, "127.0.47.%d" % (_BASE + i)) for i in range(1, 4)]
MS = 50
QUEUES = range(40, 50)
BUDGET = 32 * 1024  # bytes per second of background work per node: the catch-up takes seconds
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000, "--heartbeat-ms", 200,
          "--n", 3, "--r", "local", "--w", "local", "--background-bytes-per-sec", BUDGET)
CUT_S = float(os.environ.get("DC_CUT_S", "6"))
KILL_S = float(os.environ.get("DC_KILL_S", "5"))
WRITERS = int(os.environ.get("DC_WRITERS", "1"))
CARTS = 12  # carts of each site's own, and as many both sites write


def nft(*args):
    r = subprocess.run(["nft"] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("nft %s: %s" % (" ".join(map(str, args)), r.stderr.decode().strip()))


def nft_cleanup():
    if shutil.which("nft"):
        subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


atexit.register(nft_cleanup)


def cut_sites():
    east = "{ %s }" % ", ".join(ip for _, ip in EAST)
    west = "{ %s }" % ", ".join(ip for _, ip in WEST)
    nft("add", "table", "inet", NFT_TABLE)
    nft("add", "chain", "inet", NFT_TABLE, "out", "{ type filter hook output priority 0; policy accept; }")
    nft("add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", east, "ip", "daddr", west, "drop")
    nft("add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", west, "ip", "daddr", east, "drop")


def info(node):
    try:
        with Client(node.port, host=node.host, timeout=5.0) as c:
            txt = c.call("INFO")
    except (OSError, ConnectionClosed):
        return {}
    txt = txt.decode() if isinstance(txt, bytes) else ""
    return dict(line.split(":", 1) for line in txt.splitlines() if ":" in line)


class Writer(threading.Thread):
    """Writes carts through one site's nodes until stopped; what was acknowledged is kept
    per cart. phase (shared) names the period each failure is counted in."""

    def __init__(self, site, idx, nodes, state):
        threading.Thread.__init__(self, daemon=True)
        self.site, self.idx, self.nodes, self.state = site, idx, nodes, state
        self.adds = {}      # cart -> members whose SADD answered 1
        self.removed = {}   # cart -> members whose SREM answered 1
        self.unsure = set()  # (cart, member) whose command failed: either outcome is right
        self.ok = 0
        self.fails = {}     # phase -> [error...]
        self.paused = threading.Event()
        self.stop = threading.Event()
        self.conns = {}

    def conn(self, node):
        c = self.conns.get(node.name)
        if c is None:
            c = Client(node.port, host=node.host, timeout=5.0)
            self.conns[node.name] = c
        return c

    def drop(self, node):
        c = self.conns.pop(node.name, None)
        if c:
            c.close()

    def one(self, node, *cmd):
        try:
            return self.conn(node).call(*cmd)
        except Exception as e:  # noqa: BLE001 (a dead node, a timeout: not acknowledged)
            self.drop(node)
            return RespError("CONN %s" % e)

    def run(self):
        seq = 0
        while not self.stop.is_set():
            if self.paused.is_set():
                for n in list(self.conns):
                    self.conns.pop(n).close()
                time.sleep(0.05)
                continue
            phase = self.state["phase"]
            i = seq % CARTS
            cart = ("cart:%s:%d" % (self.site, i)) if seq % 2 == 0 else ("cart:both:%d" % i)
            node = self.nodes[(i + self.idx) % len(self.nodes)]
            member = "%s%d-%d" % (self.site, self.idx, seq)
            seq += 1
            added = self.adds.setdefault(cart, [])
            if seq % 5 == 0 and len(added) > 2:
                victim = added.pop(0)
                r = self.one(node, "SREM", cart, victim)
                if r == 1:
                    self.removed.setdefault(cart, set()).add(victim)
                    self.ok += 1
                elif r == 0:  # its coordinator did not see the add (another node's): keep it
                    added.append(victim)
                    self.ok += 1
                else:
                    self.unsure.add((cart, victim))
                    self.fails.setdefault(phase, []).append(short(r))
                continue
            r = self.one(node, "SADD", cart, member)
            if r == 1:
                added.append(member)
                self.ok += 1
            else:
                self.unsure.add((cart, member))
                self.fails.setdefault(phase, []).append(short(r))
        for n in list(self.conns):
            self.conns.pop(n).close()


def start_sites(h):
    nodes = {}
    first = None
    for (name, ip), dc in [(x, "east") for x in EAST] + [(x, "west") for x in WEST]:
        join = first.cluster_addr if first else None
        nodes[name] = start_cluster_node(name, h.path(name), ip, join=join, extra_args=COMMON + ("--dc", dc))
        first = first or nodes[name]
    wait_until(lambda: settled(list(nodes.values()), list(nodes)), 30, 0.2, "six members, one ring")
    return nodes


def reach_all(nodes, names, want):
    """Every node judges each of names (itself aside) `want`."""
    return lambda: all_see(nodes, names, (want, "self"))


def site_lag(node):
    """dyna status's replication lag lines: {site: (hints waiting, oldest s)}."""
    out = subprocess.run([os.path.join(bin_dir(), "dyna"), "-h", node.ip, "-p", str(node.port), "status"],
                         stdout=subprocess.PIPE, timeout=30).stdout.decode()
    lag = {}
    for m in re.finditer(r"^site (\S+): (\d+) hints waiting, oldest ([0-9.]+) s$", out, re.M):
        lag[m.group(1)] = (int(m.group(2)), float(m.group(3)))
    return lag


def test_site_lost(h):
    for why in (None if os.geteuid() == 0 else "needs root",
                None if shutil.which("nft") else "no nft", wan.available()):
        if why:
            h.expect("nft and NFQUEUE are available (root)", False, why)
    nodes = start_sites(h)
    east = [nodes[n] for n, _ in EAST]
    west = [nodes[n] for n, _ in WEST]
    state = {"phase": "before"}
    writers = []
    delay = wan.Delay([ip for _, ip in EAST], [ip for _, ip in WEST], MS, QUEUES)
    try:
        h.note("%d ms each way between the sites (queue %d)" % (MS, delay.qnum))
        for i in range(WRITERS):
            writers += [Writer("east", i, east, state), Writer("west", i, west, state)]
        for w in writers:
            w.start()
        time.sleep(2)
        # 1. cut
        state["phase"] = "cut"
        cut_sites()
        t0 = time.monotonic()
        wait_until(reach_all(east, [m.name for m in west], "unreachable"), 20, 0.1, "east judges west unreachable")
        h.note("east judged west unreachable %.1f s into the cut" % (time.monotonic() - t0))
        time.sleep(max(0.0, CUT_S - (time.monotonic() - t0)))
        # 2. kill west, still cut
        for w in writers:
            if w.site == "west":
                w.paused.set()
        time.sleep(0.3)
        state["phase"] = "west dead"
        for n in west:
            n.kill()
        time.sleep(KILL_S)
        lag = site_lag(east[0])
        h.note("dyna status with west dead: %r" % lag)
        h.check("dyna status shows the lag to west: hints waiting, the oldest held at least %.0f s" % KILL_S,
                lag.get("west", (0, 0))[0] > 0 and lag["west"][1] >= KILL_S and lag.get("east", (1, 0))[0] == 0,
                repr(lag))
        # 3. restart west (still cut), then heal
        state["phase"] = "west restarting"
        west[:] = [restart_cluster_node(n) for n in west]
        for w in writers:
            if w.site == "west":
                w.nodes = west
                w.paused.clear()
        time.sleep(1.5)
        state["phase"] = "heal"
        nft_cleanup()
        t_heal = time.monotonic()
        base = dict((n.name, info(n)) for n in east + west)
        wait_until(reach_all(east + west, [m.name for m in east + west], "reachable"), 30, 0.2,
                   "all six reachable again")
        time.sleep(1)
        state["phase"] = "after"
        for w in writers:
            w.stop.set()
        for w in writers:
            w.join(15)
        allnodes = east + west
        keys = sorted(set(k for w in writers for k in list(w.adds) + list(w.removed)))

        def views():
            return [[sorted(r) if isinstance(r, list) else short(r)
                     for r in pipelined(n, [("SMEMBERS", k) for k in keys])] for n in allnodes]

        got = wait_until(lambda: (lambda v: v if all(x == v[0] for x in v) else None)(views()), 90, 0.5,
                         "every cart read alike through all six nodes")
        t_conv = time.monotonic() - t_heal
        final = dict(zip(keys, got[0]))
    finally:
        for w in writers:
            w.stop.set()
        nft_cleanup()
        delay.close()
    h.check("no delay rule of ours left", not wan.our_rules(os.getpid()))
    # Both sites' hints drain: west's for east were kept on west's disks through its kill
    # and go out after its restart, under the background budget (so they may come last).
    def drained():
        v = site_lag(east[0])
        return v if v.get("west") == (0, 0.0) and v.get("east") == (0, 0.0) else None
    try:
        lag = wait_until(drained, 60, 0.5, "dyna status to show no hint waiting for either site")
    except AssertionError:
        lag = site_lag(east[0])
    h.check("after the catch-up dyna status shows no hint waiting for either site",
            lag.get("west") == (0, 0.0) and lag.get("east") == (0, 0.0), repr(lag))
    h.note("every cart read alike through all six nodes %.1f s after the heal" % t_conv)

    def fails(site, phases):
        return [(p, e) for w in writers if w.site == site for p in phases for e in w.fails.get(p, [])]

    acked = sum(w.ok for w in writers)
    h.note("acknowledged writes: %s; failures by phase: %s" % (
        ", ".join("%s%d %d" % (w.site, w.idx, w.ok) for w in writers),
        "; ".join("%s%d %s" % (w.site, w.idx, dict((p, len(v)) for p, v in w.fails.items())) for w in writers)))
    h.check("the workload ran in both sites (%d acknowledged)" % acked,
            all(w.ok > 20 for w in writers), repr([w.ok for w in writers]))
    bad = fails("east", ("before", "cut", "west dead", "west restarting", "heal", "after"))
    h.check("every LOCAL write in east succeeded: before, during the cut, with west dead, at the heal",
            not bad, short(bad, 300))
    bad = fails("west", ("before", "cut"))
    h.check("every LOCAL write in west succeeded before west was killed (the cut included)",
            not bad, short(bad, 300))
    lost, back = [], []
    for w in writers:
        for cart, members in w.adds.items():
            have = set(x.decode() for x in final.get(cart, []) if isinstance(x, bytes))
            lost += [(cart, m) for m in members if m not in have and (cart, m) not in w.unsure]
        for cart, members in w.removed.items():
            have = set(x.decode() for x in final.get(cart, []) if isinstance(x, bytes))
            back += [(cart, m) for m in members if m in have]
    nadd = sum(len(v) for w in writers for v in w.adds.values())
    nrem = sum(len(v) for w in writers for v in w.removed.values())
    h.check("0 acknowledged adds lost (%d members in %d carts)" % (nadd, len(keys)), not lost, short(lost, 300))
    h.check("0 acknowledged removes undone (%d removed)" % nrem, nrem > 0 and not back, short(back, 300))

    # the catch-up within the background budget, node by node, from the heal to convergence
    after = dict((n.name, info(n)) for n in allnodes)
    span = time.monotonic() - t_heal
    over = []
    moved = waits = 0
    for n in allnodes:
        a, b = after[n.name], base.get(n.name, {})
        d = int(a.get("background_bytes", 0)) - int(b.get("background_bytes", 0))
        catch = sum(int(a.get(f, 0)) - int(b.get(f, 0)) for f in ("hints_bytes", "aae_bytes", "handoff_bytes"))
        moved += catch
        waits += int(a.get("background_budget_waits", 0)) - int(b.get("background_budget_waits", 0))
        # one second of burst, and a batch over for each of handoff, hints and anti-entropy
        # (a send takes its bytes, then the next waits)
        limit = BUDGET * (span + 1) + 192 * 1024
        h.note("%s: %d background bytes from the heal (%d of catch-up), limit %d; budget waits %s"
               % (n.name, d, catch, limit, a.get("background_budget_waits")))
        if not ("background_bytes" in a and d <= limit):
            over.append((n.name, d, catch, limit))
    h.check("the cross-site catch-up stayed within each node's background budget"
            " (%d bytes of hints, anti-entropy and handoff in %.1f s)" % (moved, span), moved > 0 and not over,
            repr(over))
    h.check("the budget held the catch-up back (%d waits for it after the heal)" % waits, waits > 0)
    stored = sum(int(after[n.name].get("hints_stored", 0)) for n in allnodes)
    h.check("the other site's copies waited as hints (%d stored)" % stored, stored > 0)


if __name__ == "__main__":
    H.run([("two sites over a 50 ms WAN: cut, one site killed, restart, heal; carts converge",
            test_site_lost)])
