#!/usr/bin/python3
"""Replacing a node whose disk died, the way a user tries it (issue 20, item 6).

A 4-node cluster (N=3, R=W=2) on 127.0.20.1-4 takes 150 string keys and typed values (sets,
hashes, counters, lists) at W=2. Node n3 is killed (SIGKILL: its disk died), 30 more keys
are written while it is down, its data directory is emptied, and a dynad is started with
the same --name, the same addresses and --join. Then:
  - the fresh node takes the old member's place: one live member named n3 (the new id,
    valid, reachable), the old id REMOVED on every node, one ring;
  - every live string key is back on its 3 home replicas (DYNA.LOCAL on each: the
    holders are exactly the first N of its preference list; DYNA.LOCAL shows no typed
    values, so for those every partition n3 replicates must have matched a replica's
    Merkle tree), and every acknowledged value reads back through every node (strings,
    sets, hashes, counters, lists);
  - the survivors' logs do not fill: at most a few `unexpected node id at that address`
    lines, no message repeated more than 10 times;
  - `dyna status` on the new node shows the rebuild done (all its partitions matched a
    replica, keys repaired);
  - `dyna admin remove <old id>` changes nothing (already removed); the live n3 stays.
Then the refusals:
  - a second node started as n3 at another address while n3 is alive is refused: the
    seed counts joins_refused, the cluster keeps one n3, and the refused node's log says
    why and what to do;
  - when two live members share a name (n4 restarted under the name n2), `dyna admin
    remove n2` is refused with an error listing both ids, and nothing is removed.

Environment: DYNA_BIN (directory holding dynad and dyna), DYNA_TMP (scratch directory)."""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Client, Harness, Node, bin_dir, cluster_ring, key_partition,  # noqa: E402
                     pipelined, short, start_cluster_node, wait_until)

H = Harness("replace")
S = {}
NAMES = ["n1", "n2", "n3", "n4"]
IPS = {"n1": "127.0.20.1", "n2": "127.0.20.2", "n3": "127.0.20.3", "n4": "127.0.20.4", "x5": "127.0.20.5"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000)
N = 3


def call(node, *args):
    with Client(node.port, host=node.host, timeout=5.0) as c:
        return c.call(*args)


def rows(node):
    """DYNA.STATUS as a list of dicts (not keyed by name: names may repeat)."""
    try:
        r = call(node, "DYNA.STATUS")
    except OSError:
        return None
    if not isinstance(r, list):
        return None
    f = ("name", "id", "addr", "client_addr", "status", "zone", "owned", "reach", "phi")
    return [dict(zip(f, [x.decode() if isinstance(x, bytes) else x for x in row])) for row in r]


def info(node):
    txt = call(node, "INFO").decode()
    out = {}
    for line in txt.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            # A node id is hex that may be all digits (8358239563460986 was): keep ids text.
            out[k] = int(v) if re.fullmatch(r"-?\d+", v) and not k.endswith("_id") else v
    return out


def live():
    return [S["nodes"][n] for n in NAMES]


def view_ok(nodes, want_ids):
    """Every node lists exactly want_ids ({name: id}) as its non-removed members, all
    valid and reachable, and all agree on the ring."""
    for n in nodes:
        rs = rows(n)
        if rs is None:
            return False
        mine = dict((r["name"], r["id"]) for r in rs if r["status"] != "removed")
        if len([r for r in rs if r["status"] != "removed"]) != len(want_ids) or mine != want_ids:
            return False
        if any(r["status"] != "valid" or r["reach"] not in ("self", "reachable") for r in rs if r["status"] != "removed"):
            return False
    rings = [cluster_ring(n) for n in nodes]
    if any(r is None for r in rings):
        return False
    maps = set(repr([[rg["members"][i]["id"] for i in pl] for pl in rg["prefs"]]) for rg in rings)
    return rings[0] if len(maps) == 1 else False


def holders(keys):
    """{key: sorted names of the live nodes whose DYNA.LOCAL holds it (values or, for a
    typed key, a context)}."""
    out = dict((k, []) for k in keys)
    for n in live():
        for k, r in zip(keys, pipelined(n, [("DYNA.LOCAL", k) for k in keys])):
            if isinstance(r, list) and len(r) == 2 and (r[0] or r[1]):
                out[k].append(n.name)
    for k in out:
        out[k].sort()
    return out


def homes(ring, ids_to_name, key):
    pl = ring["prefs"][key_partition(key, ring["size"])][:N]
    return sorted(ids_to_name.get(ring["members"][i]["id"], "?" + ring["members"][i]["id"]) for i in pl)


# ---------------------------------------------------------------------------- data

def string_keys():
    return ["k%03d" % i for i in range(150)] + ["d%03d" % i for i in range(30)]


def typed_writes(phase):
    """(commands, expected reads) for the typed keys; phase 2 adds to them while n3 is down."""
    cmds = []
    for i in range(10):
        cmds.append(("SADD", "s%02d" % i, "a%d" % phase, "b%d" % phase))
        cmds.append(("HSET", "h%02d" % i, "f%d" % phase, "v%d-%d" % (i, phase)))
        cmds.append(("INCRBY", "c%02d" % i, 10 + i))
    for i in range(5):
        cmds.append(("RPUSH", "l%02d" % i, "x%d" % phase, "y%d" % phase))
    return cmds


def typed_expect():
    exp = {}
    for i in range(10):
        exp[("SMEMBERS", "s%02d" % i)] = sorted([b"a1", b"b1", b"a2", b"b2"])
        exp[("HGETALL", "h%02d" % i)] = sorted([b"f1", ("v%d-1" % i).encode(), b"f2", ("v%d-2" % i).encode()])
        exp[("GET", "c%02d" % i)] = str(2 * (10 + i)).encode()
    for i in range(5):
        exp[("LRANGE", "l%02d" % i, 0, -1)] = [b"x1", b"y1", b"x2", b"y2"]
    return exp


def typed_keys():
    return sorted(set(k[1] for k in typed_expect()))


def norm(cmd, r):
    return sorted(r) if cmd in ("SMEMBERS", "HGETALL") and isinstance(r, list) else r


# ---------------------------------------------------------------------------- steps

def t_form(h):
    S["nodes"] = {}
    for nm in NAMES:
        join = S["nodes"]["n1"].cluster_addr if S["nodes"] else None
        S["nodes"][nm] = start_cluster_node(nm, h.path(nm), IPS[nm], join=join, extra_args=COMMON)
    want = {}
    for nm in NAMES:
        want[nm] = info(S["nodes"][nm])["node_id"]
    S["ids"] = want
    try:
        wait_until(lambda: view_ok(live(), want), 30, 0.1, "4 nodes, one ring")
    except AssertionError:  # what each node saw, for the record, then the failure
        for n in live():
            rg = cluster_ring(n)
            h.note("%s sees %s; ring version %s" % (n.name, [(r["name"], r["status"], r["reach"]) for r in
                                                          (rows(n) or [])], rg and rg.get("version")))
            h.note("%s log tail:\n%s" % (n.name, n.log_tail(12)))
        raise
    h.check("4 members valid and reachable everywhere, one ring", True)
    n1 = S["nodes"]["n1"]
    rep = pipelined(n1, [("SET", k, "v-" + k) for k in string_keys()[:150]])
    h.check("150 string keys written at W=2", all(r == "OK" for r in rep), short(rep[:3]))
    rep = pipelined(n1, typed_writes(1))
    h.check("typed values written at W=2 (sets, hashes, counters, lists)",
            all(isinstance(r, int) for r in rep), short(rep))


def t_disk_dies(h):
    n3 = S["nodes"]["n3"]
    S["old_id"] = S["ids"]["n3"]
    n3.kill()
    n1 = S["nodes"]["n1"]
    rep = pipelined(n1, [("SET", k, "v-" + k) for k in string_keys()[150:]])
    h.check("30 more string keys acknowledged while n3 is down", all(r == "OK" for r in rep), short(rep[:3]))
    rep = pipelined(n1, typed_writes(2))
    h.check("typed writes acknowledged while n3 is down", all(isinstance(r, int) for r in rep), short(rep))
    shutil.rmtree(n3.data_dir)
    # The survivors' logs from here on: what the replacement costs in log lines.
    S["log_from"] = dict((nm, len(S["nodes"][nm].log_text())) for nm in NAMES if nm != "n3")
    S["t0"] = time.monotonic()
    new = start_cluster_node("n3", n3.data_dir, n3.ip, join=S["nodes"]["n1"].cluster_addr,
                             extra_args=COMMON, port=n3.port, cluster_port=n3.cluster_port)
    S["nodes"]["n3"] = new
    S["ids"]["n3"] = info(new)["node_id"]
    h.check("the fresh n3 has a new node id (%s, was %s)" % (S["ids"]["n3"], S["old_id"]),
            S["ids"]["n3"] != S["old_id"])


def t_takes_place(h):
    try:
        ring = wait_until(lambda: view_ok(live(), S["ids"]), 30, 0.1,
                          "one live n3 (the new id) and one ring everywhere")
        h.check("one live member named n3, the new id, valid and reachable everywhere; one ring", True)
    except AssertionError as e:
        h.check("one live member named n3, the new id, valid and reachable everywhere; one ring", False,
                "%s; n1 sees %s" % (e, short(rows(S["nodes"]["n1"]), 800)))
        ring = cluster_ring(S["nodes"]["n1"])
    S["ring"] = ring
    for n in live():
        old = [r for r in rows(n) or [] if r["id"] == S["old_id"]]
        h.check("%s: the old n3 (%s) is removed" % (n.name, S["old_id"]),
                old and old[0]["status"] == "removed", short(old))
    ids_to_name = dict((v, k) for k, v in S["ids"].items())
    want = dict((k, homes(ring, ids_to_name, k)) for k in string_keys() + typed_keys())
    bad = [k for k in want if any(x.startswith("?") for x in want[k])]
    h.check("every key's 3 home replicas are live nodes", not bad, short([(k, want[k]) for k in bad[:5]]))
    # DYNA.LOCAL lists register siblings only (a typed key shows as empty there): the
    # string keys are checked replica by replica here, the typed ones by n3's trees
    # matching its peers' (t_status) and by reads through every node (t_reads).
    keys = string_keys()

    def placed():
        got = holders(keys)
        S["misplaced"] = [(k, got[k], want[k]) for k in keys if got[k] != want[k]]
        return not S["misplaced"]

    try:
        wait_until(placed, 60, 0.25, "every key on exactly its 3 home replicas")
        S["rebuild_s"] = time.monotonic() - S["t0"]
        h.check("every one of %d live string keys is back on its 3 home replicas (DYNA.LOCAL on each)" % len(keys), True)
        h.note("rebuilt in %.2f s from the start of the fresh n3" % S["rebuild_s"])
    except AssertionError:
        h.check("every one of %d live string keys is back on its 3 home replicas (DYNA.LOCAL on each)" % len(keys),
                False, "%d misplaced, e.g. %s" % (len(S["misplaced"]), short(S["misplaced"][:4], 400)))
    n3 = S["nodes"]["n3"]
    mine = [k for k in string_keys() if "n3" in want[k]]
    rep = pipelined(n3, [("DYNA.LOCAL", k) for k in mine])
    wrong = [(k, r) for k, r in zip(mine, rep) if not (isinstance(r, list) and r[1] == [("v-" + k).encode()])]
    h.check("the new n3 holds the acknowledged value of each of its %d string keys" % len(mine), not wrong,
            short(wrong[:3]))


def t_reads(h):
    exp = typed_expect()
    for n in live():
        rep = pipelined(n, [("GET", k) for k in string_keys()])
        lost = [k for k, r in zip(string_keys(), rep) if r != ("v-" + k).encode()]
        h.check("%s: all 180 acknowledged strings read back" % n.name, not lost, short(lost[:5]))
        cmds = list(exp)
        rep = pipelined(n, cmds)
        wrong = [(c, r) for c, r in zip(cmds, rep) if norm(c[0], r) != exp[c]]
        h.check("%s: every typed value (sets, hashes, counters, lists) reads back whole" % n.name, not wrong,
                short(wrong[:3], 300))


def t_logs(h):
    for nm in ("n1", "n2", "n4"):
        text = S["nodes"][nm].log_text()[S["log_from"][nm]:]
        lines = [ln.split(" ", 2)[2] if ln.count(" ") >= 2 else ln for ln in text.splitlines()]
        unexpected = sum("unexpected node id" in ln for ln in lines)
        counts = {}
        for ln in lines:
            counts[ln] = counts.get(ln, 0) + 1
        worst = max(counts.items(), key=lambda kv: kv[1]) if counts else ("", 0)
        h.check("%s: at most 10 'unexpected node id' lines since the fresh n3 started (%d)" % (nm, unexpected),
                unexpected <= 10)
        h.check("%s: no log message repeated more than 10 times (%d lines in all)" % (nm, len(lines)),
                worst[1] <= 10, "%dx %s" % (worst[1], worst[0][:200]))


def dyna_cli(node, *args):
    p = subprocess.run([os.path.join(bin_dir(), "dyna"), "-h", node.host, "-p", str(node.port)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def t_status(h):
    n3 = S["nodes"]["n3"]
    inf = {}

    def done():
        inf.update(info(n3))
        return inf.get("aae_partitions_replicated", 0) > 0 and \
            inf.get("aae_partitions_matched") == inf.get("aae_partitions_replicated")

    try:
        wait_until(done, 30, 0.25, "n3's anti-entropy to match every partition it replicates")
    except AssertionError:
        pass
    rc, out = dyna_cli(n3, "status")
    m = re.search(r"rebuild: \[[#.]+\] (\d+) of (\d+) partitions matched a replica since start, (\d+) keys repaired,"
                  r" (\d+) exchanges queued", out)
    h.check("dyna status on n3 shows the rebuild: every partition it replicates (typed keys included) "
            "matched a replica's tree, keys repaired",
            rc == 0 and m and int(m.group(1)) == int(m.group(2)) > 0 and int(m.group(3)) > 0, out[:600])
    h.note("dyna status on n3: %s" % (m.group(0) if m else "-"))
    seeds = [info(S["nodes"][nm]).get("members_replaced", 0) for nm in ("n1", "n2", "n4")]
    h.check("a survivor counts the replacement (INFO members_replaced %s)" % seeds, sum(seeds) >= 1)


def t_repair_wait(h):
    """dyna admin repair --wait prints its progress until every exchange it asked for ran."""
    n3 = S["nodes"]["n3"]
    rc, out = dyna_cli(n3, "admin", "repair", "--wait")
    lines = [ln for ln in out.splitlines() if ln.startswith("repair: [")]
    last = re.search(r"repair: \[#+\] (\d+) of (\d+) partitions exchanged, \d+ keys repaired \(\d+/s\)$",
                     lines[-1]) if lines else None
    h.check("dyna admin repair --wait: progress lines, the last one complete, then done",
            rc == 0 and last and last.group(1) == last.group(2) and int(last.group(2)) > 0 and
            out.rstrip().endswith("repair: done"), out[-600:])
    h.note("repair --wait printed %d progress line(s)" % len(lines))


def t_leave_wait(h):
    """dyna admin leave --wait prints its progress until the node is removed."""
    n1 = S["nodes"]["n1"]
    rc, out = dyna_cli(n1, "admin", "leave", "--wait")
    h.check("dyna admin leave --wait: progress lines with the partitions given up, then done",
            rc == 0 and re.search(r"^leave: \w+, \[[#.]+\] \d+ of \d+ partitions given up, \d+ keys handed off "
                                  r"\(\d+/s\)$", out, re.M) and "leave: done" in out, out[-800:])
    # leave --wait returns once n1 itself says removed; the others learn it by gossip.
    def removed_in_n3():
        return any(r["name"] == "n1" and r["status"] == "removed" for r in rows(S["nodes"]["n3"]) or [])
    try:
        wait_until(removed_in_n3, 15, 0.1, "n1 removed in n3's view")
        ok = True
    except AssertionError:
        ok = False
    h.check("n1 is removed in n3's view soon after leave --wait returns", ok, short(rows(S["nodes"]["n3"]) or [], 600))


def t_remove_old(h):
    n1 = S["nodes"]["n1"]
    rc, out = dyna_cli(n1, "admin", "remove", S["old_id"])
    h.check("dyna admin remove <old id> -> OK (already removed)", rc == 0 and "OK" in out, out)
    time.sleep(0.5)  # a wrong removal would spread by gossip within a few 200 ms rounds
    h.check("the live n3 is still valid everywhere after it", view_ok(live(), S["ids"]) is not False,
            short(rows(n1), 600))


def t_refuse_live_namesake(h):
    """A node started as n3 at another address while n3 is alive is refused."""
    x = start_cluster_node("n3", h.path("x5"), IPS["x5"], join=S["nodes"]["n1"].cluster_addr, extra_args=COMMON,
                           log_path=h.path("x5.log"))
    try:
        wait_until(lambda: "the cluster refuses this node" in x.log_text(), 15, 0.1, "the refusal in its log")
        h.check("the second n3's log says it is refused and what to do",
                "named n3 too and is alive" in x.log_text(), x.log_tail(5))
    except AssertionError:
        h.check("the second n3's log says it is refused and what to do", False, x.log_tail(5))
    refused = sum(info(S["nodes"][nm]).get("joins_refused", 0) for nm in NAMES)
    h.check("the seed counts the refused join (joins_refused %d)" % refused, refused >= 1)
    h.check("the cluster still has exactly one live n3 (the replacement)", view_ok(live(), S["ids"]) is not False,
            short(rows(S["nodes"]["n1"]), 600))
    x.stop()


def t_ambiguous_remove(h):
    """Two live members named n2 (n4 restarted under that name): remove n2 is refused."""
    n4 = S["nodes"]["n4"]
    n4.stop()
    args = list(n4.args)
    args[args.index("--name") + 1] = "n2"
    if "--join" in args:
        i = args.index("--join")
        del args[i:i + 2]
    twin = Node("n2", n4.data_dir, n4.port, args, n4.log_path, host=n4.host)
    twin.ip, twin.cluster_port, twin.cluster_addr = n4.ip, n4.cluster_port, n4.cluster_addr
    twin.wait_ready(15)
    S["nodes"]["n4"] = twin
    n1 = S["nodes"]["n1"]
    wait_until(lambda: sum(1 for r in rows(n1) or [] if r["name"] == "n2" and r["status"] == "valid") == 2,
               15, 0.1, "n1 to see two valid members named n2")
    rc, out = dyna_cli(n1, "admin", "remove", "n2")
    h.check("dyna admin remove n2 (two members) is refused, listing both ids",
            rc != 0 and S["ids"]["n2"] in out and S["ids"]["n4"] in out and "names 2 members" in out, out)
    time.sleep(0.5)
    h.check("nothing was removed", sum(1 for r in rows(n1) or [] if r["status"] == "removed") == 1,
            short(rows(n1), 600))
    rc, out = dyna_cli(n1, "admin", "remove", "n9")
    h.check("dyna admin remove of an unknown name still says no such member", rc != 0 and "no such member" in out, out)


def t_final(h):
    for n in live():
        h.check("%s still running" % n.name, n.alive())
        for bad in ("AddressSanitizer", "runtime error", "assert"):
            if bad in n.log_text():
                h.check("%s log free of %r" % (n.name, bad), False, n.log_tail(10))


if __name__ == "__main__":
    H.run([("form a 4-node cluster and write", t_form),
           ("n3's disk dies; a fresh n3 starts with the same name, addresses and --join", t_disk_dies),
           ("the fresh n3 takes the old one's place and is rebuilt", t_takes_place),
           ("every acknowledged value reads back through every node", t_reads),
           ("the survivors' logs do not fill", t_logs),
           ("dyna status shows the rebuild", t_status),
           ("dyna admin repair --wait", t_repair_wait),
           ("removing the old id changes nothing", t_remove_old),
           ("a live namesake is refused", t_refuse_live_namesake),
           ("a name two live members share is refused by remove", t_ambiguous_remove),
           ("dyna admin leave --wait", t_leave_wait),
           ("final", t_final)])
