#!/usr/bin/python3
"""Two sites (data centres) of three dynad nodes each on loopback: east on 127.0.46.x,
west on 127.0.47.x (one address per node), --n 3 in each site, LOCAL quorums as the
nodes' defaults (--r local --w local), no WAN delay.

  1. placement  every partition's home replicas are three east and three west nodes
                (DYNA.RING), and DYNA.STATUS names each member's site. The maps clients
                route by (DYNA.RING, CLUSTER SLOTS) list the asked node's site's homes
                first; libdyna given west seeds routes every key to a west node.
  2. cut        the link between the sites is cut (nft, only between these six
                addresses): plain SETs and DYNA.PUT .. W LOCAL keep succeeding in both
                sites, on keys of their own and on keys both sites write; DYNA.PUT ..
                W EACH and a global W 4 fail with NOQUORUM; DYNA.GET .. R LOCAL reads
                the site's own writes; the coordinators keep hints for the other site.
                Heal: every key's six replicas converge (DYNA.LOCAL on every node)
                without any repair forced, the hints are delivered, and every
                acknowledged write is there: 0 lost.

Firewall rules live in table `inet dynadc<pid>`, removed in a finally and at exit, and
name only this test's addresses. Every wait polls with a deadline.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory).
"""
import atexit
import ctypes
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Client, Harness, RespError, bin_dir, cluster_ring, cluster_status,  # noqa: E402
                     local_values, pipelined, settled, start_cluster_node, wait_until)

H = Harness("dc")
NFT_TABLE = "dynadc%d" % os.getpid()
_BASE = 10 + 8 * (os.getpid() % 28)  # 127.0.46/47.10 .. .233, a block of 3 per run
EAST = [("e%d" % i, "127.0.46.%d" % (_BASE + i)) for i in range(1, 4)]
WEST = [("w%d" % i, "127.0.47.%d" % (_BASE + i)) for i in range(1, 4)]
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000, "--heartbeat-ms", 200,
          "--n", 3, "--r", "local", "--w", "local")


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
    """Drops every packet between an east address and a west address (both ways)."""
    east = "{ %s }" % ", ".join(ip for _, ip in EAST)
    west = "{ %s }" % ", ".join(ip for _, ip in WEST)
    nft("add", "table", "inet", NFT_TABLE)
    nft("add", "chain", "inet", NFT_TABLE, "out", "{ type filter hook output priority 0; policy accept; }")
    nft("add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", east, "ip", "daddr", west, "drop")
    nft("add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", west, "ip", "daddr", east, "drop")


def start_sites(h):
    nodes = {}
    first = None
    for (name, ip), dc in [(x, "east") for x in EAST] + [(x, "west") for x in WEST]:
        join = first.cluster_addr if first else None
        nodes[name] = start_cluster_node(name, h.path(name), ip, join=join, extra_args=COMMON + ("--dc", dc))
        first = first or nodes[name]
    allnodes = list(nodes.values())
    wait_until(lambda: settled(allnodes, list(nodes)), 30, 0.2, "six members, one ring")
    return nodes


def libdyna():
    """libdyna.so through ctypes (as test_client.py loads it); None when it cannot load."""
    for cand in (os.path.join(bin_dir(), "..", "lib", "libdyna.so"), os.path.join(bin_dir(), "libdyna.so")):
        if os.path.exists(cand):
            try:
                lib = ctypes.CDLL(os.path.abspath(cand))
            except OSError:
                return None
            lib.dyna_client_open.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
            lib.dyna_client_route.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                              ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
            lib.dyna_client_close.argtypes = [ctypes.c_void_p]
            return lib
    return None


def call(node, *args):
    try:
        with Client(node.port, host=node.host, timeout=5.0) as c:
            return c.call(*args)
    except OSError as e:
        return RespError("OSERROR %s" % e)


def ok(reply):
    return not isinstance(reply, RespError)


def test_two_sites(h):
    if os.geteuid() != 0 or shutil.which("nft") is None:
        h.expect("nft is available (root)", False, "this test cuts links with nft")
    nodes = start_sites(h)
    east = [nodes[n] for n, _ in EAST]
    west = [nodes[n] for n, _ in WEST]
    allnodes = east + west

    # 1. placement: three homes in each site, for every partition
    ring = cluster_ring(east[0])
    h.expect("DYNA.RING answers", ring is not None)
    site_of = dict((n, "east") for n, _ in EAST)
    site_of.update((n, "west") for n, _ in WEST)
    bad = [p for p, pref in enumerate(ring["prefs"])
           if sorted(site_of[ring["members"][i]["name"]] for i in pref) != ["east"] * 3 + ["west"] * 3]
    h.check("n = %d: every partition has 3 east and 3 west home replicas (%d partitions)"
            % (ring["n"], len(ring["prefs"])), ring["n"] == 6 and not bad, "bad partitions %s" % bad[:5])
    # the maps clients route by list the asked node's site's homes first
    for node, site in ((west[0], "west"), (east[1], "east")):
        r = cluster_ring(node)
        bad = [p for p, pref in enumerate(r["prefs"])
               if [site_of[r["members"][i]["name"]] for i in pref[:3]] != [site] * 3]
        h.check("DYNA.RING from a %s node lists %s's three homes first (libdyna routes there)" % (site, site),
                r["n"] == 6 and not bad, "bad partitions %s" % bad[:5])
    lib = libdyna()
    if lib is None:
        h.note("libdyna.so cannot be loaded here (an ASan build): its routing by site not checked")
    else:
        c = ctypes.c_void_p()
        seeds = ",".join("%s:%d" % (n.ip, n.port) for n in west[1:])
        h.expect("dyna_client_open on two west seeds", lib.dyna_client_open(seeds.encode(), None, ctypes.byref(c)) == 0)
        addr = ctypes.create_string_buffer(128)
        went = set()
        for i in range(200):
            key = ("rk%d" % i).encode()
            rc = lib.dyna_client_route(c, key, len(key), addr, 128, None, 0)
            went.add(addr.value.decode() if rc == 0 else "error %d" % rc)
        lib.dyna_client_close(c)
        h.check("libdyna with west seeds routes 200 keys to west nodes only (%d of them)" % len(went),
                went and all(a.startswith("127.0.47.") for a in went), repr(sorted(went)))
    slots = call(west[1], "CLUSTER", "SLOTS")
    masters = set(e[2][0].decode() for e in slots) if isinstance(slots, list) else set()
    h.check("CLUSTER SLOTS from a west node names west nodes as every range's master",
            masters and all(m.startswith("127.0.47.") for m in masters), repr(slots)[:300])
    st = call(east[0], "DYNA.STATUS")
    dcs = dict((row[0].decode(), row[-1].decode()) for row in st) if isinstance(st, list) else {}
    h.check("DYNA.STATUS names each member's site", dcs == site_of, repr(st)[:200])
    info = call(west[1], "INFO")
    info = info.decode() if isinstance(info, bytes) else ""
    h.check("INFO shows r:local, w:local, dc:west and n:6",
            all(x in info for x in ("r:local", "w:local", "dc:west", "n:6")), info[:300])

    rep = call(east[0], "DYNA.PUT", "q", "", "v", "W", "most")
    h.check("DYNA.PUT .. W most is refused with the kinds named",
            isinstance(rep, RespError) and "LOCAL or EACH" in str(rep), repr(rep))
    rep = call(east[0], "CONFIG", "SET", "w", "each")
    rep2 = call(east[0], "CONFIG", "GET", "w")
    call(east[0], "CONFIG", "SET", "w", "local")
    h.check("CONFIG SET w each takes, and CONFIG GET w shows it", rep == "OK" and rep2 == [b"w", b"each"],
            "%r %r" % (rep, rep2))
    out = subprocess.run([os.path.join(bin_dir(), "dyna"), "-h", west[0].ip, "-p", str(west[0].port), "status"],
                         stdout=subprocess.PIPE, timeout=20).stdout.decode()
    lines = out.splitlines()
    at = {}  # the first line of each member (a later table may name them again) and heading
    for i, l in enumerate(lines):
        if l.split():
            at.setdefault(l.strip() if l.startswith("site ") else l.split()[0], i)
    h.check("dyna status groups the members under a heading per site",
            "site east:" in at and "site west:" in at and
            all(at["site east:"] < at[n] < at["site west:"] for n, _ in EAST) and
            all(at["site west:"] < at[n] for n, _ in WEST), out)
    out = subprocess.run([os.path.join(bin_dir(), "dyna"), "-h", east[0].ip, "-p", str(east[0].port), "ring"],
                         stdout=subprocess.PIPE, timeout=20).stdout.decode()
    h.check("dyna ring lists the members by site and zone first",
            out.startswith("site east zone -: e1 e2 e3\nsite west zone -: w1 w2 w3\n"), out[:200])
    acked = {}  # key -> set of values acknowledged
    before = [("SET", "k%d" % i, "v%d" % i) for i in range(40)]
    reps = pipelined(east[0], before)
    h.check("40 SETs before the cut succeed", all(r == "OK" for r in reps), repr(reps[:3]))
    for i in range(40):
        acked.setdefault("k%d" % i, set()).add(b"v%d" % i)

    # 2. cut
    try:
        cut_sites()
        t0 = time.monotonic()
        wait_until(lambda: all((cluster_status(n) or {}).get(m.name, {}).get("reach") == "unreachable"
                               for n in east for m in west), 20, 0.1, "east judges west unreachable")
        h.note("east judged west unreachable after %.1f s" % (time.monotonic() - t0))
        fails = 0
        for r in range(5):  # both sites keep writing: own keys, and keys both write
            for side, group in (("east", east), ("west", west)):
                for j, n in enumerate(group):
                    for k in ("%s-own-%d-%d" % (side, r, j), "both-%d-%d" % (r, j)):
                        v = "%s:%s:%d" % (side, k, r)
                        rep = call(n, "SET", k, v)
                        if rep == "OK":
                            acked.setdefault(k, set()).add(v.encode())
                        else:
                            fails += 1
                    k = "%s-put-%d-%d" % (side, r, j)
                    rep = call(n, "DYNA.PUT", k, "", "p" + k, "W", "LOCAL")
                    if ok(rep):
                        acked.setdefault(k, set()).add(("p" + k).encode())
                    else:
                        fails += 1
        h.check("during the cut: %d LOCAL writes in both sites, 0 failed" % (5 * 6 * 3), fails == 0,
                "%d failed" % fails)
        rep = call(east[1], "DYNA.GET", "east-put-0-1", "R", "local")
        h.check("DYNA.GET .. R LOCAL reads the site's own write during the cut",
                local_values(rep) == [b"peast-put-0-1"], repr(rep))
        rep = call(east[2], "DYNA.PUT", "each-key", "", "x", "W", "EACH")
        h.check("DYNA.PUT .. W EACH fails with NOQUORUM during the cut",
                isinstance(rep, RespError) and rep.startswith("NOQUORUM"), repr(rep))
        rep = call(west[0], "DYNA.PUT", "w4-key", "", "x", "W", 4)
        h.check("DYNA.PUT .. W 4 (global) fails with NOQUORUM during the cut",
                isinstance(rep, RespError) and rep.startswith("NOQUORUM"), repr(rep))
    finally:
        nft_cleanup()

    # heal: converge without forcing anything, then count what was lost
    t0 = time.monotonic()
    keys = sorted(acked)

    def converged():
        views = []
        for n in allnodes:
            views.append([sorted(local_values(r) or []) for r in pipelined(n, [("DYNA.LOCAL", k) for k in keys])])
        return all(v == views[0] for v in views) and all(views[0][i] for i in range(len(keys)))

    wait_until(converged, 60, 0.5, "all six replicas of every key equal")

    def counter(n, name):
        txt = call(n, "INFO")
        txt = txt.decode() if isinstance(txt, bytes) else ""
        for line in txt.splitlines():
            if line.startswith(name + ":"):
                return int(line.split(":", 1)[1])
        return 0

    stored = sum(counter(n, "hints_stored") for n in allnodes)
    delivered = sum(counter(n, "hints_delivered") for n in allnodes)
    h.check("the other site's copies went as hints (%d stored, %d delivered after the heal)" % (stored, delivered),
            stored > 0 and delivered > 0)
    h.note("every replica equal %.1f s after the heal" % (time.monotonic() - t0))
    h.check("after the heal every key's six replicas are equal (DYNA.LOCAL on every node)", True)
    final = pipelined(west[2], [("DYNA.GET", k, "R", "EACH") for k in keys])
    lost = [(k, sorted(acked[k] - set(local_values(r) or []))) for k, r in zip(keys, final)
            if acked[k] - set(local_values(r) or [])]
    # Keys written before the cut were superseded by nothing; keys both sites wrote in the
    # cut hold both sides' values as siblings (each side's SET superseded only its own).
    h.check("0 acknowledged writes lost (%d keys, read R EACH)" % len(keys), not lost, repr(lost[:3]))
    both = local_values(final[keys.index("both-4-0")])
    h.check("a key both sites wrote during the cut holds both as siblings",
            sorted(both or []) == [b"east:both-4-0:4", b"west:both-4-0:4"], repr(both))


if __name__ == "__main__":
    H.run([("two sites: placement, a cut with LOCAL writes, heal, 0 lost", test_two_sites)])
