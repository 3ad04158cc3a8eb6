#!/usr/bin/python3
"""Fault injection against real dynad processes on loopback (one 127.0.0.x per node).

  1. detect    3 nodes: SIGSTOP one; the others judge it unreachable (DYNA.STATUS), and
               reachable again after SIGCONT; W=2 writes keep succeeding meanwhile.
  2. sloppy    5 nodes, N=3, W=2: SIGKILL two of a key's three home replicas, keep writing
               it (and other keys) through the survivors: every write succeeds, hints are
               stored; restart them: hints are delivered, the homes hold the latest values
               and the fallbacks hold nothing any more (hints deleted).
  3. load      writer threads (W=2, only acknowledged writes remembered) while a node is
               killed and restarted, another paused and resumed, and the link between two
               others cut with nft and healed; afterwards every replica of every key
               (DYNA.LOCAL on each home replica, per DYNA.RING) is compared until they all
               agree, unforced; a second, shorter round (link cut only) is healed with
               DYNA.ADMIN REPAIR forced on every node. Then every acknowledged write is
               read through every node.
  4. tombstone with --tombstone-grace-ms 3000: a replica down during a delete, restarted
               after the grace period, does not bring the keys back; tombstones are reaped
               (INFO tombstones_reaped) and DYNA.LOCAL is empty everywhere.
  5. rebuild   a node's data directory is wiped; it starts again with the same name and
               addresses and --join, the old id is removed (DYNA.ADMIN REMOVE); anti-entropy
               alone brings every key it replicates back (no reads through it).

Link cuts need nft (root); without it that part is skipped with a notice. Firewall rules
live in table `inet dynafaults`, removed at exit. Every wait polls with a deadline; the
measured times are printed as 'note' lines (figures in docs/performance.md).

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory).
"""
import atexit
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (STATUS_FIELDS, ConnectionClosed, Client, Harness, RespError,  # noqa: E402
                     cluster_ring,
                     cluster_status, key_partition, local_values, pipelined,
                     preference_names, restart_cluster_node, short, start_cluster_node,
                     wait_until)

H = Harness("faults")
S = {}
# Another copy of this file may run at the same time (two builds' CTest runs): the nft
# table is per process and the block of 8 loopback addresses is picked from the pid.
NFT_TABLE = "dynafaults%d" % os.getpid()
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000, "--heartbeat-ms", 200)
GRACE_MS = 3000
# how long deletes are left to anti-entropy alone before DYNA.ADMIN REPAIR is forced
REAP_UNFORCED_S = float(os.environ.get("DYNA_FAULTS_REAP_WAIT", "35"))
FIVE = ["g1", "g2", "g3", "g4", "g5"]
_BASE = 128 + 8 * (os.getpid() % 15)   # 127.0.0.128 .. 127.0.0.247
IPS = dict((nm, "127.0.0.%d" % (_BASE + i))
           for i, nm in enumerate(["f1", "f2", "f3"] + FIVE))
FIGURES = []


def figure(name, value):
    FIGURES.append((name, value))
    H.note("FIGURE %s: %s" % (name, value))


# ---------------------------------------------------------------------------- nft

def have_nft():
    if os.geteuid() != 0 or shutil.which("nft") is None:
        return False
    r = subprocess.run(["nft", "list", "tables"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return r.returncode == 0


def nft(*args):
    r = subprocess.run(["nft"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("nft %s: %s" % (" ".join(args), r.stderr.decode().strip()))


def nft_cleanup():
    if shutil.which("nft") is None:
        return
    subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def cut_link(ip_a, ip_b):
    """Drops every packet between ip_a and ip_b (both directions; only these two IPs)."""
    nft("add", "table", "inet", NFT_TABLE)
    nft("add", "chain", "inet", NFT_TABLE, "out",
        "{ type filter hook output priority 0; policy accept; }")
    nft("add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", ip_a, "ip", "daddr", ip_b, "drop")
    nft("add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", ip_b, "ip", "daddr", ip_a, "drop")


def heal_links():
    nft("flush", "chain", "inet", NFT_TABLE, "out")


atexit.register(nft_cleanup)


# ---------------------------------------------------------------------------- helpers

def info(node, timeout=5.0):
    """INFO of a node as {field: int or str}; {} when it does not answer."""
    out = {}
    try:
        with Client(node.port, host=node.host, timeout=timeout) as c:
            txt = c.call("INFO")
    except (OSError, ConnectionClosed):
        return out
    if not isinstance(txt, bytes):
        return out
    for line in txt.decode("utf-8", "replace").split("\r\n"):
        k, sep, v = line.partition(":")
        if sep:
            try:  # a node id is hex that may be all digits: ids stay text
                out[k] = v if k.endswith("_id") else int(v)
            except ValueError:
                out[k] = v
    return out


def info_sum(nodes, field):
    return sum(info(n).get(field, 0) for n in nodes)


def call(node, *args, timeout=5.0):
    try:
        with Client(node.port, host=node.host, timeout=timeout) as c:
            return c.call(*args)
    except (OSError, ConnectionClosed) as e:
        return e


def node_start(name, join=None, extra=(), data_dir=None, port=None, cluster_port=None):
    n = start_cluster_node(name, data_dir or H.path(name), IPS[name], join=join,
                           extra_args=COMMON + tuple(extra), port=port, cluster_port=cluster_port)
    S["nodes"][name] = n
    return n


def status_rows(node):
    """DYNA.STATUS as a list of row dicts (two members may share a name: a wiped node
    that came back under its old name next to its old id)."""
    r = call(node, "DYNA.STATUS", timeout=2.0)
    if not isinstance(r, list):
        return None
    rows = []
    for row in r:
        if not isinstance(row, list) or len(row) != len(STATUS_FIELDS):
            return None
        rows.append(dict(zip(STATUS_FIELDS, [x.decode() if isinstance(x, bytes) else x
                                             for x in row])))
    return rows


def reach_of(observer, name):
    st = cluster_status(observer, timeout=2.0)
    if not st or name not in st:
        return None
    return st[name]["reach"]


def settled(nodes, names):
    """Every node answers, lists exactly names as valid members, all reachable, one ring."""
    rings = []
    for n in nodes:
        st = cluster_status(n, timeout=2.0)
        rg = cluster_ring(n, timeout=2.0)
        if not st or not rg:
            return None
        valid = sorted(k for k, m in st.items() if m["status"] == "valid")
        if valid != sorted(names):
            return None
        if any(m["reach"] == "unreachable" for k, m in st.items() if m["status"] == "valid"):
            return None
        rings.append(rg)
    maps = set(repr((r["version"], [[r["members"][i]["name"] for i in pl] for pl in r["prefs"]]))
               for r in rings)
    return rings[0] if len(maps) == 1 else None


def form(names, extra=()):
    first = node_start(names[0], extra=extra)
    for nm in names[1:]:
        node_start(nm, join=first.cluster_addr, extra=extra)
    nodes = [S["nodes"][nm] for nm in names]
    return wait_until(lambda: settled(nodes, names), 30, 0.1, "cluster %s settled" % names)


def up_nodes(names):
    return [S["nodes"][nm] for nm in names if S["nodes"][nm].alive()]


def local_state(reply):
    """DYNA.LOCAL reply -> (context bytes, sorted values) or None when malformed."""
    vals = local_values(reply)
    if vals is None:
        return None
    ctx = reply[0] if isinstance(reply, list) and len(reply) == 2 else b""
    return (ctx or b"", tuple(sorted(vals)))


def local_map(node, keys):
    replies = pipelined(node, [("DYNA.LOCAL", k) for k in keys], batch=500, timeout=30)
    return dict((k, local_state(r)) for k, r in zip(keys, replies))


def divergence(nodes_by_name, ring, keys, check_non_homes=True):
    """Compares every replica of every key. Returns a list of problems (empty when all
    home replicas hold the same non-empty (context, values) and, with check_non_homes,
    no other node holds anything (hints delivered and deleted))."""
    maps = {}
    for nm, n in nodes_by_name.items():
        maps[nm] = local_map(n, keys)
    probs = []
    for k in keys:
        homes = preference_names(ring, k)
        states = [maps[h][k] for h in homes if h in maps]
        if any(s is None for s in states):
            probs.append("%s: error reply on a home" % k)
            continue
        if any(not s[1] for s in states):
            probs.append("%s: missing on %s" % (k, [h for h in homes if h in maps and not maps[h][k][1]]))
            continue
        if len(set(states)) != 1:
            probs.append("%s: homes %s differ: %s" % (k, homes, short(states, 200)))
            continue
        if check_non_homes:
            extra = [nm for nm in maps if nm not in homes and maps[nm][k] and maps[nm][k][1]]
            if extra:
                probs.append("%s: non-home %s still holds a copy" % (k, extra))
    return probs


def poll_converged(nodes_by_name, ring_node, keys, timeout, interval=0.25, check_non_homes=True):
    """Polls divergence() until empty. Returns (seconds, last problems)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    probs = ["never polled"]
    while True:
        ring = cluster_ring(ring_node)
        if ring:
            try:
                probs = divergence(nodes_by_name, ring, keys, check_non_homes)
            except (OSError, ConnectionClosed, AssertionError) as e:
                probs = ["poll error %s" % e]
            if not probs:
                return time.monotonic() - t0, []
        if time.monotonic() >= deadline:
            return None, probs
        time.sleep(interval)


class Writer(threading.Thread):
    """Writes keys PREFIX<i mod nkeys> with fresh values through random nodes of a shared
    'up' list, one DYNA.PUT ... W 2 at a time, passing the context its last acknowledged
    write of the key returned (read-modify-write, as a Dynamo client does); records per key
    the last acknowledged value and the values attempted after it whose outcome is unknown
    (error or timeout)."""

    def __init__(self, tid, prefix, nkeys, up, w=2, timeout=3.0, pace=0.0):
        threading.Thread.__init__(self, daemon=True)
        self.tid, self.prefix, self.nkeys, self.up, self.w = tid, prefix, nkeys, up, w
        self.timeout, self.pace = timeout, pace
        self.acked, self.pending, self.ctx = {}, {}, {}
        self.ok = self.failed = 0
        self.errors = []
        self.max_lat = 0.0
        self.stop_ev = threading.Event()
        self.rng = random.Random(tid * 7919)

    def run(self):
        c = None
        i = 0
        while not self.stop_ev.is_set():
            key = "%s%d_%03d" % (self.prefix, self.tid, i % self.nkeys)
            val = ("%s=%d" % (key, i)).encode()
            i += 1
            if c is None:
                choices = list(self.up)
                if not choices:
                    time.sleep(0.05)
                    continue
                n = self.rng.choice(choices)
                try:
                    c = Client(n.port, host=n.host, timeout=self.timeout)
                    c.name = n.name
                except OSError:
                    c = None
                    time.sleep(0.05)
                    continue
            t = time.monotonic()
            try:
                r = c.call("DYNA.PUT", key, self.ctx.get(key, b""), val, "W", self.w)
            except (OSError, ConnectionClosed) as e:
                r = e
                c.close()
                c = None
            lat = time.monotonic() - t
            if isinstance(r, bytes) or (isinstance(r, str) and r == "OK"):
                self.ok += 1
                self.acked[key] = val
                self.ctx[key] = r
                self.pending[key] = set()
                self.max_lat = max(self.max_lat, lat)
            else:
                self.failed += 1
                self.pending.setdefault(key, set()).add(val)
                if len(self.errors) < 5:
                    self.errors.append("%s -> %s" % (key, short(r)))
                if c is not None and self.rng.random() < 0.5:
                    c.close()
                    c = None
            if self.pace:
                time.sleep(self.pace)
        if c is not None:
            c.close()


def stop_writers(ws):
    for w in ws:
        w.stop_ev.set()
    for w in ws:
        w.join(15)


def merged_expect(ws):
    acked, pending = {}, {}
    for w in ws:
        acked.update(w.acked)
        for k, v in w.pending.items():
            pending[k] = set(v)
    return acked, pending


def read_check(h, nodes, acked, pending, what):
    """Every acknowledged key read through every node (DYNA.GET): the last acknowledged
    value, or a later write whose outcome was unknown, is among the siblings."""
    keys = sorted(acked)
    for n in nodes:
        replies = pipelined(n, [("DYNA.GET", k) for k in keys], batch=500, timeout=60)
        bad = []
        for k, r in zip(keys, replies):
            vals = local_values(r)
            ok_vals = set([acked[k]]) | pending.get(k, set())
            if vals is None or not (set(vals) & ok_vals):
                bad.append((k, r))
        h.check("%s: %d acknowledged keys read back through %s" % (what, len(keys), n.name),
                not bad, "%d wrong, e.g. %s" % (len(bad), short(bad[:3], 300)))


def ensure_five_up():
    """Restarts any of the 5-node cluster that a failed step left down or paused."""
    for nm in FIVE:
        n = S["nodes"].get(nm)
        if n is None:
            continue
        try:
            os.kill(n.pid, signal.SIGCONT)
        except OSError:
            pass
        if not n.alive():
            S["nodes"][nm] = restart_cluster_node(n)
    nodes = [S["nodes"][nm] for nm in FIVE]
    return wait_until(lambda: settled(nodes, FIVE), 30, 0.1, "5-node cluster settled")


# ---------------------------------------------------------------------------- 1. detect

def t_detect(h):
    S.setdefault("nodes", {})
    names = ["f1", "f2", "f3"]
    form(names)
    f1, f2, f3 = [S["nodes"][nm] for nm in names]
    up = [f1, f2]
    ws = [Writer(t, "d", 50, up) for t in range(2)]
    for w in ws:
        w.start()
    time.sleep(1.0)
    try:
        ok_before = sum(w.ok for w in ws)
        t0 = time.monotonic()
        os.kill(f3.pid, signal.SIGSTOP)
        seen = {}
        deadline = t0 + 10
        while time.monotonic() < deadline and len(seen) < 2:
            for o in (f1, f2):
                if o.name not in seen and reach_of(o, "f3") == "unreachable":
                    seen[o.name] = time.monotonic() - t0
            time.sleep(0.05)
        h.check("SIGSTOPped f3 judged unreachable by f1 and f2 within 10 s", len(seen) == 2,
                "seen %s" % seen)
        if seen:
            figure("detect_sigstop_s", "%.2f (f1 %.2f, f2 %.2f)" % (
                max(seen.values()), seen.get("f1", -1), seen.get("f2", -1)))
        st = cluster_status(f1)
        if st:
            h.note("f1's view of f3: %s phi %s" % (st["f3"]["reach"], st["f3"]["phi"]))
        time.sleep(1.0)  # keep writing while f3 is known to be down
        fail_paused = sum(w.failed for w in ws)
        ok_paused = sum(w.ok for w in ws) - ok_before
        h.check("W=2 writes through f1/f2 kept succeeding while f3 was paused (%d acked)" % ok_paused,
                ok_paused > 0 and fail_paused == 0,
                "%d failed: %s" % (fail_paused, [e for w in ws for e in w.errors]))
        h.note("slowest acknowledged write while f3 was paused: %.0f ms"
               % (1000 * max(w.max_lat for w in ws)))
        t1 = time.monotonic()
        os.kill(f3.pid, signal.SIGCONT)
        back = {}
        deadline = t1 + 10
        while time.monotonic() < deadline and len(back) < 2:
            for o in (f1, f2):
                if o.name not in back and reach_of(o, "f3") == "reachable":
                    back[o.name] = time.monotonic() - t1
            time.sleep(0.05)
        h.check("f3 reachable again on f1 and f2 within 10 s of SIGCONT", len(back) == 2,
                "seen %s" % back)
        if back:
            figure("recover_sigcont_s", "%.2f" % max(back.values()))
        st3 = cluster_status(f3)
        h.check("f3 sees f1 and f2 reachable after resuming",
                wait_until(lambda: (cluster_status(f3) or {}).get("f1", {}).get("reach") == "reachable"
                           and (cluster_status(f3) or {}).get("f2", {}).get("reach") == "reachable",
                           10, 0.05, "f3's view"), short(st3))
    finally:
        try:
            os.kill(f3.pid, signal.SIGCONT)
        except OSError:
            pass
        stop_writers(ws)
    h.check("no write failed during the whole pause", sum(w.failed for w in ws) == 0,
            "%s" % [e for w in ws for e in w.errors])
    for n in (f1, f2, f3):
        n.stop()


# ---------------------------------------------------------------------------- 2. sloppy

def t_sloppy(h):
    S.setdefault("nodes", {})
    ring = form(FIVE, extra=("--tombstone-grace-ms", GRACE_MS))
    S["ring"] = ring
    S["keys"] = set()
    # a key with homes [a, b, c]; kill b and c
    for i in range(1000):
        key = "hk%d" % i
        homes = preference_names(ring, key)
        if len(homes) == 3:
            break
    a, b, c = homes
    h.note("key %s: homes %s; killing %s and %s" % (key, homes, b, c))
    survivors = [nm for nm in FIVE if nm not in (b, c)]
    others = ["ok%03d" % i for i in range(200)]
    base = [(k, ("%s=0" % k).encode()) for k in [key] + others]
    r = pipelined(S["nodes"][a], [("DYNA.PUT", k, "", v) for k, v in base])
    h.expect("seed writes acknowledged", all(isinstance(x, bytes) for x in r), short(r))
    ctxs = dict((k, x) for (k, _), x in zip(base, r))
    S["nodes"][b].kill()
    S["nodes"][c].kill()
    t_kill = time.monotonic()
    latest = dict(base)
    fails = []
    nwrites = 0
    round_no = 0
    # keep writing for 4 s: the first writes land before the failure detector has judged
    while time.monotonic() - t_kill < 4.0:
        round_no += 1
        for nm in survivors:
            n = S["nodes"][nm]
            batch = [(key, ("%s=%d.%s" % (key, round_no, nm)).encode())]
            batch += [(k, ("%s=%d.%s" % (k, round_no, nm)).encode())
                      for k in random.sample(others, 10)]
            try:
                with Client(n.port, host=n.host, timeout=5.0) as cl:
                    for k, v in batch:
                        t = time.monotonic() - t_kill
                        rr = cl.call("DYNA.PUT", k, ctxs.get(k, b""), v, "W", 2)
                        nwrites += 1
                        if isinstance(rr, bytes):
                            latest[k] = v
                            ctxs[k] = rr
                        else:
                            fails.append((round(t, 2), nm, k, rr))
            except (OSError, ConnectionClosed) as e:
                fails.append((round(time.monotonic() - t_kill, 2), nm, "conn", e))
    h.check("all %d W=2 writes through the survivors succeeded with 2 of %s's 3 homes down"
            % (nwrites, key), not fails, "%d failed, e.g. %s" % (len(fails), short(fails[:4], 400)))
    sv = [S["nodes"][nm] for nm in survivors]
    stored = info_sum(sv, "hints_stored")
    h.check("INFO hints_stored > 0 on the survivors (%d)" % stored, stored > 0)
    h.note("sloppy_writes on survivors: %d" % info_sum(sv, "sloppy_writes"))
    delivered0 = info_sum(sv, "hints_delivered")
    t0 = time.monotonic()
    S["nodes"][b] = restart_cluster_node(S["nodes"][b])
    S["nodes"][c] = restart_cluster_node(S["nodes"][c])
    t_restart = time.monotonic()
    h.note("restart of %s, %s took %.2f s" % (b, c, t_restart - t0))
    keys = sorted(latest)
    all_nodes = dict((nm, S["nodes"][nm]) for nm in FIVE)

    def delivered():
        probs = []
        for nm in (b, c):
            m = local_map(S["nodes"][nm], keys)
            for k in keys:
                if nm in preference_names(ring, k) and (not m[k] or m[k][1] != (latest[k],)):
                    probs.append("%s on %s: %s" % (k, nm, short(m[k])))
        if not probs:
            probs = divergence(all_nodes, ring, keys, check_non_homes=True)
        S["last_probs"] = probs
        return not probs

    try:
        wait_until(delivered, 30, 0.1, "hints delivered")
        dt = time.monotonic() - t_restart
        h.check("restarted homes hold the latest values, fallbacks hold nothing (hints deleted)", True)
        figure("hint_delivery_s", "%.2f (from both restarted nodes answering PING)" % dt)
    except AssertionError as e:
        h.check("hints delivered within 30 s", False, "%s: %s" % (e, short(S["last_probs"][:4], 400)))
    d1 = info_sum(sv, "hints_delivered")
    h.check("INFO hints_delivered grew on the survivors (%d -> %d)" % (delivered0, d1), d1 > delivered0)
    lk = call(S["nodes"][b], "DYNA.LOCAL", key)
    h.check("DYNA.LOCAL %s on restarted %s shows the latest value, and only it" % (key, b),
            local_values(lk) == [latest[key]], short(lk))
    S["keys"].update(keys)
    S["expect"] = dict(latest)


# ---------------------------------------------------------------------------- 3. load

def t_load(h):
    ring = ensure_five_up()
    nodes = dict((nm, S["nodes"][nm]) for nm in FIVE)
    nft_ok = have_nft()
    if not nft_ok:
        print("NOTICE: nft unavailable (or not root): the link-cut part is skipped", flush=True)
    up = [S["nodes"][nm] for nm in FIVE]
    order = list(FIVE)
    random.Random(4).shuffle(order)
    killed, paused, cut_a, cut_b = order[0], order[1], order[2], order[3]
    h.note("kill/restart %s, pause %s, cut %s<->%s" % (killed, paused, cut_a, cut_b))
    ws = [Writer(t, "ld", 200, up) for t in range(4)]
    for w in ws:
        w.start()
    events = []

    def ev(msg):
        events.append("%.1f %s" % (time.monotonic() - t0, msg))

    t0 = time.monotonic()
    try:
        time.sleep(1.5)
        n = S["nodes"][killed]
        up.remove(n)
        n.kill()
        ev("SIGKILL %s" % killed)
        time.sleep(2.5)
        S["nodes"][killed] = restart_cluster_node(n)
        up.append(S["nodes"][killed])
        ev("restarted %s" % killed)
        time.sleep(1.0)
        p = S["nodes"][paused]
        up.remove(p)
        os.kill(p.pid, signal.SIGSTOP)
        ev("SIGSTOP %s" % paused)
        time.sleep(3.0)
        os.kill(p.pid, signal.SIGCONT)
        up.append(p)
        ev("SIGCONT %s" % paused)
        time.sleep(1.0)
        if nft_ok:
            cut_link(IPS[cut_a], IPS[cut_b])
            ev("cut %s<->%s" % (cut_a, cut_b))
            time.sleep(4.0)
            wait_until(lambda: reach_of(S["nodes"][cut_a], cut_b) == "unreachable", 10, 0.1,
                       "%s judging %s unreachable" % (cut_a, cut_b))
            ev("%s sees %s unreachable" % (cut_a, cut_b))
    finally:
        stop_writers(ws)
        ev("writers stopped")
        if nft_ok:
            heal_links()
            ev("healed")
    t_heal = time.monotonic()
    h.note("events: %s" % "; ".join(events))
    acked, pending = merged_expect(ws)
    nok, nfail = sum(w.ok for w in ws), sum(w.failed for w in ws)
    h.note("writes: %d acknowledged, %d failed/unknown (e.g. %s)"
           % (nok, nfail, short([e for w in ws for e in w.errors][:3], 300)))
    h.check("writes were acknowledged during the faults", nok > 100, "%d" % nok)
    keys = sorted(set(acked) | set(pending))
    nodes = dict((nm, S["nodes"][nm]) for nm in FIVE)
    dt, probs = poll_converged(nodes, S["nodes"][FIVE[0]], keys, 45)
    h.check("all replicas of %d keys converged without forcing (unforced anti-entropy, hints)"
            % len(keys), dt is not None, "%d keys differ, e.g. %s" % (len(probs), short(probs[:4], 500)))
    if dt is not None:
        figure("converge_unforced_s", "%.2f (%d keys, after kill+restart, pause, link cut; from heal)"
               % (time.monotonic() - t_heal, len(keys)))
    else:
        for nm in FIVE:
            call(S["nodes"][nm], "DYNA.ADMIN", "REPAIR")
        dt2, probs2 = poll_converged(nodes, S["nodes"][FIVE[0]], keys, 20)
        h.check("... converged after DYNA.ADMIN REPAIR on every node", dt2 is not None,
                short(probs2[:4], 500))
    # round 2: link cut only, healed with a forced repair
    if nft_ok:
        a2, b2 = order[1], order[4]
        up[:] = [S["nodes"][nm] for nm in FIVE]
        ws2 = [Writer(t, "lf", 100, up) for t in range(4)]
        for w in ws2:
            w.start()
        try:
            cut_link(IPS[a2], IPS[b2])
            wait_until(lambda: reach_of(S["nodes"][a2], b2) == "unreachable", 10, 0.1,
                       "%s judging %s unreachable" % (a2, b2))
            time.sleep(2.0)
        finally:
            stop_writers(ws2)
            heal_links()
        t_heal2 = time.monotonic()
        for nm in FIVE:
            call(S["nodes"][nm], "DYNA.ADMIN", "REPAIR")
        acked2, pending2 = merged_expect(ws2)
        keys2 = sorted(set(acked2) | set(pending2))
        dt, probs = poll_converged(nodes, S["nodes"][FIVE[0]], keys2, 45)
        h.check("round 2 (cut %s<->%s): all replicas of %d keys converged with DYNA.ADMIN REPAIR"
                % (a2, b2, len(keys2)), dt is not None,
                "%d keys differ, e.g. %s" % (len(probs), short(probs[:4], 500)))
        if dt is not None:
            figure("converge_forced_s", "%.2f (%d keys, link cut; from heal, REPAIR on every node)"
                   % (time.monotonic() - t_heal2, len(keys2)))
        acked.update(acked2)
        for k, v in pending2.items():
            pending[k] = v
    # every acknowledged write readable through every node
    read_check(h, [S["nodes"][nm] for nm in FIVE], acked, pending, "after heal")
    S["keys"].update(keys)


# ---------------------------------------------------------------------------- 4. tombstones

def t_tombstone(h):
    ring = ensure_five_up()
    victim = FIVE[2]
    keys = []
    i = 0
    while len(keys) < 12:
        k = "tb%d" % i
        i += 1
        if victim in preference_names(ring, k):
            keys.append(k)
    nodes = dict((nm, S["nodes"][nm]) for nm in FIVE)
    r = pipelined(S["nodes"][FIVE[0]], [("SET", k, "doomed-" + k) for k in keys])
    h.expect("tombstone keys written", all(x == "OK" for x in r), short(r))
    dt, probs = poll_converged(nodes, S["nodes"][FIVE[0]], keys, 15)
    h.expect("all 3 replicas hold every key before the delete", dt is not None, short(probs[:3]))
    reaped0 = info_sum(nodes.values(), "tombstones_reaped")
    S["nodes"][victim].kill()
    survivors = [S["nodes"][nm] for nm in FIVE if nm != victim]
    # half with DEL, half with DYNA.DEL and the context read
    dels = []
    for j, k in enumerate(keys):
        via = survivors[j % len(survivors)]
        if j % 2:
            g = call(via, "DYNA.GET", k)
            ctx = g[0] if isinstance(g, list) else b""
            dels.append(call(via, "DYNA.DEL", k, ctx))
        else:
            dels.append(call(via, "DEL", k))
    h.check("deletes acknowledged with %s down" % victim,
            all(not isinstance(d, (RespError, Exception)) for d in dels), short(dels))
    t_del = time.monotonic()
    # wait past the grace period while the victim is down: nothing may be reaped yet
    time.sleep(GRACE_MS / 1000.0 + 1.0)
    S["nodes"][victim] = restart_cluster_node(S["nodes"][victim])
    t_restart = time.monotonic()
    h.note("victim %s restarted %.1f s after the deletes (grace %d ms)"
           % (victim, t_restart - t_del, GRACE_MS))
    nodes = dict((nm, S["nodes"][nm]) for nm in FIVE)
    resurrected = []
    empty_at = None
    reaped_at = None
    deadline = t_restart + REAP_UNFORCED_S + 30
    forced = False
    next_force = 0
    timeline = []
    while time.monotonic() < deadline:
        for nm, n in nodes.items():
            for k, g in zip(keys, pipelined(n, [("GET", k) for k in keys])):
                if g is not None:
                    resurrected.append((round(time.monotonic() - t_restart, 2), nm, k, g))
        maps = dict((nm, local_map(n, keys)) for nm, n in nodes.items())
        held = [(nm, k, maps[nm][k]) for nm in maps for k in keys if maps[nm][k] and maps[nm][k][1]]
        ctxs = [(nm, k) for nm in maps for k in keys if maps[nm][k] and maps[nm][k][0]]
        snap = (len(held), len(ctxs), tuple(sorted(set(nm for nm, k in ctxs))),
                info_sum(nodes.values(), "tombstones_reaped") - reaped0)
        if not timeline or timeline[-1][1] != snap:
            timeline.append((round(time.monotonic() - t_restart, 1), snap))
        reaped = info_sum(nodes.values(), "tombstones_reaped") - reaped0
        if reaped > 0 and reaped_at is None:
            reaped_at = time.monotonic() - t_restart
        if not held and not ctxs and reaped > 0:
            empty_at = time.monotonic() - t_restart
            break
        if time.monotonic() - t_restart > REAP_UNFORCED_S and time.monotonic() >= next_force:
            # reaping needs one round in which every home agreed, then another: force
            # rounds of the keys' partitions every 2 s
            if not forced:
                h.note("not all reaped after %.0f s unforced: forcing DYNA.ADMIN REPAIR of the "
                       "keys' partitions every 2 s" % REAP_UNFORCED_S)
            forced = True
            next_force = time.monotonic() + 2.0
            for n in nodes.values():
                for p in set(key_partition(k) for k in keys):
                    call(n, "DYNA.ADMIN", "REPAIR", p)
        time.sleep(0.3)
    h.note("timeline (s after restart, (values held, contexts held, by, reaped)): %s"
           % short(timeline, 1500))
    first_reap = next((t for t, snap in timeline if snap[3] > 0), None)
    if first_reap is not None:
        figure("tombstone_first_reap_s", "%.1f after the replica's restart%s"
               % (first_reap, " (forced)" if first_reap > REAP_UNFORCED_S else " (unforced)"))
    regrown = [(t, snap) for (t0_, a), (t, snap) in zip(timeline, timeline[1:]) if snap[1] > a[1]]
    if regrown:
        h.note("tombstones came back after being reaped (contexts held grew) at %s: read repair "
               "or anti-entropy copying a tombstone to a replica that had reaped it" % short(regrown, 300))
    h.check("deleted keys never read back through any node", not resurrected,
            short(resurrected[:4], 400))
    h.check("INFO tombstones_reaped > 0 and DYNA.LOCAL empty (no value, no context) everywhere",
            empty_at is not None, "held %s ctxs %s reaped %d"
            % (short(held[:3]), short(ctxs[:3]), info_sum(nodes.values(), "tombstones_reaped") - reaped0))
    if empty_at is not None:
        figure("tombstone_reap_s", "%.2f after the replica's restart%s" % (empty_at, " (forced)" if forced else ""))
    # ... and they stay gone after another full anti-entropy pass
    for n in nodes.values():
        call(n, "DYNA.ADMIN", "REPAIR")
    time.sleep(2.0)
    back = []
    for nm, n in nodes.items():
        m = local_map(n, keys)
        back += [(nm, k, m[k]) for k in keys if m[k] and (m[k][1])]
        back += [(nm, k, g) for k, g in zip(keys, pipelined(n, [("GET", k) for k in keys])) if g is not None]
    h.check("still absent everywhere after a forced full repair", not back, short(back[:4]))


# ---------------------------------------------------------------------------- 5. rebuild

def t_rebuild(h):
    ensure_five_up()
    victim = FIVE[3]
    old = S["nodes"][victim]
    old_id = info(old).get("node_id")
    keys = sorted(S["keys"])
    if len(keys) < 500:
        pad = ["rb%04d" % i for i in range(2000)]
        pipelined(S["nodes"][FIVE[0]], [("SET", k, "v-" + k) for k in pad])
        keys += pad
    others = [S["nodes"][nm] for nm in FIVE if nm != victim]
    old.stop()
    shutil.rmtree(old.data_dir)
    t0 = time.monotonic()
    new = start_cluster_node(victim, old.data_dir, old.ip, join=others[0].cluster_addr,
                             extra_args=COMMON + ("--tombstone-grace-ms", GRACE_MS),
                             port=old.port, cluster_port=old.cluster_port)
    S["nodes"][victim] = new
    new_id = info(new).get("node_id")
    h.check("the wiped node got a new id (%s, was %s)" % (new_id, old_id),
            new_id and old_id and new_id != old_id)

    def joined():
        rows = status_rows(others[0]) or []
        return any(r["id"] == new_id and r["status"] == "valid" for r in rows)

    try:
        wait_until(joined, 15, 0.1, "new id listed as valid on a survivor")
    except AssertionError:
        pass
    rm = call(others[0], "DYNA.ADMIN", "REMOVE", old_id)
    h.check("DYNA.ADMIN REMOVE <old id> on a survivor -> OK", rm == "OK", short(rm))
    nodes_all = [S["nodes"][nm] for nm in FIVE]

    def settled5():
        for n in nodes_all:
            rows = status_rows(n)
            if not rows:
                return None
            valid = [r for r in rows if r["status"] == "valid"]
            if sorted(r["name"] for r in valid) != sorted(FIVE):
                return None
            if not any(r["id"] == new_id for r in valid):
                return None
            if any(r["reach"] == "unreachable" for r in valid):
                return None
        rings = [cluster_ring(n) for n in nodes_all]
        if any(rg is None for rg in rings):
            return None
        # preference lists by member index -> by id (names are ambiguous here)
        maps = set(repr((rg["version"], [[rg["members"][i]["id"] for i in pl] for pl in rg["prefs"]]))
                   for rg in rings)
        return rings[0] if len(maps) == 1 else None

    try:
        ring = wait_until(settled5, 30, 0.1, "ring settled with the new member")
    except AssertionError as e:
        h.check("5 valid members with the new id, one ring", False,
                "%s; %s" % (e, short(status_rows(others[0]), 600)))
        return
    h.note("old member's row now: %s" % [r["status"] for r in status_rows(others[0]) if r["id"] == old_id])
    rep0 = info(new).get("aae_keys_repaired", 0)
    mine = [k for k in keys if victim in preference_names(ring, k)]
    h.note("the rebuilt node replicates %d of %d known keys" % (len(mine), len(keys)))
    nodes = dict((nm, S["nodes"][nm]) for nm in FIVE)

    def rebuilt():
        m = local_map(new, mine)
        missing = [k for k in mine if not m[k] or not (m[k][1] or m[k][0])]
        S["missing"] = missing
        return not missing

    try:
        wait_until(rebuilt, 60, 0.25, "every key back on the rebuilt node")
        dt = time.monotonic() - t0
        h.check("the wiped node holds every key it replicates (%d) again, no reads through it"
                % len(mine), True)
        figure("rebuild_s", "%.2f for %d keys (from start with an empty data dir)" % (dt, len(mine)))
    except AssertionError:
        h.check("wiped node rebuilt within 60 s", False,
                "%d of %d missing, e.g. %s" % (len(S["missing"]), len(mine), S["missing"][:5]))
    inf = info(new)
    h.check("INFO aae_keys_repaired grew on the rebuilt node (%d -> %d)"
            % (rep0, inf.get("aae_keys_repaired", 0)), inf.get("aae_keys_repaired", 0) > 0)
    h.note("rebuilt node: aae_exchanges %s aae_keys_repaired %s handoff_keys_sent %s read_repairs %s"
           % (inf.get("aae_exchanges"), inf.get("aae_keys_repaired"), inf.get("handoff_keys_sent"),
              inf.get("read_repairs")))
    dt, probs = poll_converged(nodes, S["nodes"][FIVE[0]], keys, 30, check_non_homes=False)
    h.check("all replicas of all %d keys agree after the rebuild" % len(keys), dt is not None,
            short(probs[:4], 500))


def t_figures(h):
    for name, v in FIGURES:
        print("FIGURE %s: %s" % (name, v), flush=True)
    # a sanitizer build reports into the node logs (the scratch dir goes away after a pass)
    bad = []
    for f in sorted(os.listdir(h.dir)):
        if f.endswith(".log"):
            with open(os.path.join(h.dir, f), "rb") as fh:
                txt = fh.read().decode("utf-8", "replace")
            for word in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
                if word in txt:
                    bad.append("%s: %s" % (f, txt[txt.index(word):][:300]))
    h.check("no sanitizer report in any node log", not bad, short(bad, 800))


if __name__ == "__main__":
    TESTS = [("1. failure detection (SIGSTOP/SIGCONT)", t_detect),
             ("2. sloppy quorum and hinted handoff", t_sloppy),
             ("3. kill, pause, restart and a cut link under write load", t_load),
             ("4. deletes stay deleted", t_tombstone),
             ("5. a wiped node rebuilt by anti-entropy", t_rebuild),
             ("figures and logs", t_figures)]
    only = os.environ.get("DYNA_FAULTS_ONLY")  # e.g. "2,4" (debugging aid)
    if only:
        TESTS = [t for t in TESTS if t[0].split(".")[0] in only.split(",") or t[0] == "figures and logs"]
    try:
        H.run(TESTS)
    finally:
        nft_cleanup()
