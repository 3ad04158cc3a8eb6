#!/usr/bin/python3
"""The operator's live views (docs/deploy.md, Watching a cluster) on a real cluster at
127.0.44.1-3:

- `dyna status` prints, after the members, a rates table from two INFO readings of each
  node one interval apart (the header says so): with a load of reads, writes and errors
  going to n1, n1's OPS/S, READS/S, WRITES/S and ERRORS/S are above 0, every member has a
  row, and the lines tests read before (the members table) are still there; its handoff
  line counts the keys n1's transfers list as acknowledged;
- `dyna top --count 2 --interval 0.5` with stdout a pipe prints two plain-text readings,
  one row per node (status, ops/s, p99, keys, hints, handoff, repair B/s), n1's with a
  rate and a p99 and its KEYS equal to INFO keys_stored; on a pseudo-terminal each
  reading redraws the screen;
- a third node joins a cluster of two holding data: /status's "transfers" on the two old
  nodes list the partitions they hand off (from themselves, to the partition's home
  replicas as /ring gives them, one of which is the joiner), polled until every one is
  done, with keys done = keys held when the move began; the joiner lists what it
  received from each, and the keys it counts received are at least those the senders
  counted acknowledged; if a poll caught a move under way its counts were consistent;
- the dashboard (headless chromium) draws those transfers as rows of its table;
- with n3 killed, `dyna status` still prints everyone's rates and says n3 did not answer.
"""
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, bin_dir, free_port, short, start_cluster_node, wait_until  # noqa: E402

H = Harness("ops")
S = {"nodes": {}, "http": {}}
IPS = {"n1": "127.0.44.1", "n2": "127.0.44.2", "n3": "127.0.44.3"}
Q = 32
# Small handoff batches under a small background budget, so that a join's handoff takes
# a while (a poll may see it under way); --sync always: every commit is LMDB's own (INFO
# keys_stored exact; under batch and none the log reaches LMDB at checkpoints).
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 2000, "--ring-size", Q, "--n", 2, "--r", 1,
          "--w", 2, "--handoff-batch-keys", 4, "--background-bytes-per-sec", 16384, "--sync", "always")
NKEYS = 300


def start(name, join=None):
    hp = "%s:%d" % (IPS[name], free_port(IPS[name]))
    S["nodes"][name] = start_cluster_node(name, H.path(name), IPS[name], join=join,
                                          extra_args=COMMON + ("--http", hp))
    S["http"][name] = hp


def get(name, path):
    with urllib.request.urlopen("http://%s%s" % (S["http"][name], path), timeout=5) as r:
        return json.loads(r.read())


def formed(names):
    def ok():
        for nm in names:
            ms = get(nm, "/status")["members"]
            if sorted(m["name"] for m in ms) != sorted(names):
                return False
            if any(m["status"] != "valid" or m["reachability"] == "unreachable" for m in ms):
                return False
        return True
    return ok


def cli(*args, timeout=60):
    n1 = S["nodes"]["n1"]
    p = subprocess.run([os.path.join(bin_dir(), "dyna"), "-h", n1.ip, "-p", str(n1.port)] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def info(name):
    text = S["nodes"][name].client().call("INFO")
    text = text.decode() if isinstance(text, bytes) else str(text)
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l and not l.startswith("#"))


def under_load(fn):
    """Runs fn() while a thread sends n1 reads, writes and a wrong-arity command (an error
    reply) in a loop; the load starts before fn and stops after it."""
    stop, started = threading.Event(), threading.Event()

    def load():
        c = S["nodes"]["n1"].client()
        i = 0
        while not stop.is_set():
            c.call("SET", "load:%d" % (i % 50), "v")
            c.call("GET", "load:%d" % (i % 50))
            c.call("GET")  # -ERR wrong number of arguments
            i += 1
            if i == 20:
                started.set()
    t = threading.Thread(target=load, daemon=True)
    t.start()
    try:
        if not started.wait(60):
            raise AssertionError("the load did not start")
        return fn()
    finally:
        stop.set()
        t.join(30)


def number(cell):
    """A CLI cell ("12", "1.5k", "3.0M") as a float; None for "-" or anything else."""
    m = re.fullmatch(r"([0-9.]+)([kMGT]?)", cell)
    if not m:
        return None
    return float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]


def t_start(h):
    start("n1")
    start("n2", join=S["nodes"]["n1"].cluster_addr)
    h.expect("2 nodes see each other", wait_until(formed(["n1", "n2"]), 30, 0.1, "the cluster to form"))
    c = S["nodes"]["n1"].client()
    for i in range(NKEYS):
        c.call("SET", "ops:%d" % i, "x" * 100)
    h.note("%d keys written on n1, n2" % NKEYS)


def t_transfers(h):
    start("n3", join=S["nodes"]["n1"].cluster_addr)
    seen = {"under_way": [], "polls": 0}

    def settled():
        seen["polls"] += 1
        sts = {nm: get(nm, "/status") for nm in ("n1", "n2", "n3")}
        for nm in ("n1", "n2"):
            for t in sts[nm]["transfers"]:
                if t["direction"] == "out" and t["state"] in ("sending", "waiting"):
                    seen["under_way"].append((nm, t))
        old_outs = [t for nm in ("n1", "n2") for t in sts[nm]["transfers"] if t["direction"] == "out"]
        if len(sts["n1"]["members"]) != 3 or not old_outs:
            return None
        if any(sts[nm]["progress"]["handoff_partitions_pending"] for nm in ("n1", "n2")):
            return None
        if any(t["state"] != "done" for t in old_outs):
            return None
        return sts
    sts = wait_until(settled, 120, 0.1, "the join's handoff to finish")
    ring = get("n1", "/ring")
    reps = {p["partition"]: p["replicas"] for p in ring["partitions"]}
    h.note("%d polls; %d readings of a move under way" % (seen["polls"], len(seen["under_way"])))
    total_done = 0
    for nm in ("n1", "n2"):
        outs = [t for t in sts[nm]["transfers"] if t["direction"] == "out"]
        lost = sorted(p for p, r in reps.items() if nm not in r)
        h.eq("%s: one outgoing transfer per partition it no longer replicates" % nm,
             sorted(t["partition"] for t in outs), lost)
        h.check("%s: each from %s to the partition's home replicas (the joiner among them)" % (nm, nm),
                all(t["from"] == nm and sorted(t["to"]) == sorted(reps[t["partition"]]) and "n3" in t["to"]
                    for t in outs), short(outs, 400))
        bad = [t for t in outs if not (t["state"] == "done" and t["keys_done"] == t["keys_total"] > 0
                                       and t["keys_sent"] >= t["keys_done"] and t["bytes"] > 0)]
        h.check("%s: each done with every key it held acknowledged (keys_done = keys_total > 0)" % nm,
                not bad, short(bad, 400))
        total_done += sum(t["keys_done"] for t in outs)
        S.setdefault("outs_all", []).extend(outs)
    h.check("the old nodes moved about the keys of the partitions they gave up (> 0)", total_done > 0, total_done)
    ins = [t for t in sts["n3"]["transfers"] if t["direction"] == "in"]
    h.check("n3 lists what it received, from n1 and n2, to itself",
            ins and all(t["from"] in ("n1", "n2") and t["to"] == ["n3"] for t in ins), short(ins, 400))
    # A sender sends a key only to the targets that lack it (docs/architecture.md, Moving
    # data): n2 and n1 get none they hold already, and n3 none that anti-entropy brought
    # first, so n3 receives at most what the senders sent, and some of it.
    received = sum(t["keys_received"] for t in ins)
    total_sent = sum(t["keys_sent"] for t in S.get("outs_all", []))
    h.check("n3 received some of the keys the senders sent, and no more",
            0 < received <= total_sent, "received %d, sent %d, acknowledged %d" % (received, total_sent, total_done))
    bad = [(nm, t) for nm, t in seen["under_way"] if not t["keys_done"] <= t["keys_sent"]
           or (t["state"] == "sending" and t["keys_sent"] == 0) or sorted(t["to"]) != sorted(reps[t["partition"]])]
    h.check("every move seen under way had consistent counts (done <= sent, to its home replicas)",
            not bad, short(bad, 400))
    S["transfers_n1"] = [t for t in sts["n1"]["transfers"] if t["direction"] == "out"]
    h.expect("3 nodes see each other", wait_until(formed(["n1", "n2", "n3"]), 30, 0.1, "the cluster to form"))


def t_status(h):
    rc, out, err = under_load(lambda: cli("status", "--interval", 1))
    h.expect("dyna status exits 0", rc == 0, "rc %d, stderr %r" % (rc, err))
    h.note("dyna status output:\n" + "\n".join("       " + l for l in out.splitlines()))
    lines = out.splitlines()
    h.check("the members table is as before (header, a row per member)",
            any(l.startswith("NAME ") and "STATUS" in l and "PHI" in l for l in lines)
            and all(any(l.startswith(nm + " ") and " valid " in l for l in lines) for nm in IPS), short(out, 400))
    ho = re.search(r"^handoff: \[([#.]{30})\] (\d+) of (\d+) partitions handed off since start; (\d+) partitions "
                   r"still to hand off here, (\d+) keys handed off and deleted", out, re.M)
    moved = sum(t["keys_done"] for t in S.get("transfers_n1", []))
    parts = len([t for t in S.get("transfers_n1", []) if t["state"] == "done"])
    h.check("a handoff line: n1 has nothing left to hand off, and handed off the keys its transfers list (%d)" % moved,
            ho is not None and int(ho.group(4)) == 0 and int(ho.group(5)) == moved > 0, ho and ho.group(0))
    h.check("... with a full bar: every partition it gave up (%d in its transfers) handed off" % parts,
            ho is not None and ho.group(1) == "#" * 30 and int(ho.group(2)) == int(ho.group(3)) == parts > 0,
            ho and ho.group(0))
    head = [i for i, l in enumerate(lines) if l.startswith("rates per node")]
    h.expect("a rates header saying they come from two INFO readings 1.0 s apart",
             len(head) == 1 and "two INFO readings" in lines[head[0]] and "1.0 s apart" in lines[head[0]], short(out))
    cols = lines[head[0] + 1].split()
    h.eq("rates columns", cols, ["NAME", "OPS/S", "READS/S", "WRITES/S", "ERRORS/S", "HANDOFF", "B/S", "REPAIR",
                                 "B/S", "HINTS", "B/S"])
    rows = {l.split()[0]: l.split()[1:] for l in lines[head[0] + 2:] if l.strip()}
    h.eq("a rates row per node", sorted(rows), sorted(IPS))
    r1 = [number(c) for c in rows.get("n1", [])]
    h.check("n1 under load: ops, reads, writes and errors per second above 0",
            len(r1) == 7 and all(x is not None and x > 0 for x in r1[:4]), short(rows.get("n1")))
    h.check("n2 and n3: a number in every column",
            all(len(rows.get(nm, [])) == 7 and all(number(c) is not None for c in rows[nm]) for nm in ("n2", "n3")),
            short(rows))
    rc, out, _ = cli("status", "--interval", 0)
    h.check("--interval 0: no rates", rc == 0 and "rates per node" not in out and "NAME" in out, short(out))
    rc, _, err = cli("status", "--interval", "x")
    h.eq("--interval x: a usage error (2)", rc, 2)


def t_top(h):
    rc, out, err = under_load(lambda: cli("top", "--count", 2, "--interval", 0.5))
    h.expect("dyna top --count 2 exits 0", rc == 0, "rc %d, stderr %r" % (rc, err))
    h.note("dyna top output:\n" + "\n".join("       " + l for l in out.splitlines()))
    h.check("not a terminal: plain text, no escape sequence", "\033" not in out, short(out))
    blocks = [b for b in out.split("\n\n") if b.strip()]
    h.eq("two readings", len(blocks), 2)
    keys = int(info("n1").get("keys_stored", "-1"))
    for k, b in enumerate(blocks):
        lines = b.splitlines()
        h.check("reading %d: a header with the interval and where rates come from" % (k + 1),
                lines[0].startswith("dyna top") and "INFO readings 0.5 s apart" in lines[0]
                and "reading %d" % (k + 1) in lines[0], lines[0])
        h.eq("reading %d: columns" % (k + 1), lines[1].split(),
             ["NAME", "STATUS", "OPS/S", "P99", "KEYS", "HINTS", "HANDOFF", "REPAIR", "B/S"])
        rows = {l.split()[0]: l.split()[1:] for l in lines[2:]}
        h.eq("reading %d: a row per node" % (k + 1), sorted(rows), sorted(IPS))
        r = rows.get("n1", [])
        h.check("reading %d: n1 valid, ops/s > 0, a p99 bound, keys, hints, 0 partitions to hand off" % (k + 1),
                len(r) == 9 and r[0] == "valid" and (number(r[1]) or 0) > 0 and re.fullmatch(r"<=[0-9.]+(us|ms|s)", r[2])
                and number(r[3]) is not None and number(r[4]) is not None and r[5] == "0" and r[6] == "parts",
                short(r))
        # n1's store does not change after the load (its keys were written before it).
        h.check("reading %d: n1's KEYS is INFO keys_stored (%d)" % (k + 1, keys),
                len(r) == 9 and keys >= NKEYS // 3 and number(r[3]) == (keys if keys < 1000 else number(r[3])),
                short(r))
    rc, _, _ = cli("top", "--interval", 0)
    h.eq("top --interval 0: a usage error (2)", rc, 2)
    out = on_terminal("top", "--count", 2, "--interval", 0.2)
    h.check("on a terminal: each reading redraws the screen (home, clear) with its header and rows",
            out.count("\033[H\033[2J") == 2 and out.count("dyna top ") == 2
            and all(re.search(r"^%s +valid " % nm, out, re.M) for nm in IPS), short(out, 300))


def on_terminal(*args):
    """Runs dyna against n1 with stdout and stderr a pseudo-terminal; returns what it wrote."""
    n1 = S["nodes"]["n1"]
    master, slave = pty.openpty()
    p = subprocess.Popen([os.path.join(bin_dir(), "dyna"), "-h", n1.ip, "-p", str(n1.port)] + [str(a) for a in args],
                         stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    p.wait(60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def t_dashboard(h):
    chromium = shutil.which("chromium")
    h.expect("chromium is installed (scripts/setup.sh installs it)", chromium is not None)
    args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir=" + H.path("chrome-profile"), "--virtual-time-budget=4000", "--dump-dom",
            "http://%s/" % S["http"]["n1"]]
    html = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120,
                          env=dict(os.environ, HOME=H.path())).stdout.decode("utf-8", "replace")
    rows = re.findall(r'<tr [^>]*class="xfer"[^>]*>', html)
    attrs = [dict(re.findall(r'data-([a-z]+)="([^"]*)"', r)) for r in rows]
    want = S.get("transfers_n1", [])
    h.eq("the page lists n1's transfers, one row each",
         sorted(int(a.get("partition", -1)) for a in attrs if a.get("direction") == "out"),
         sorted(t["partition"] for t in want))
    h.check("... each done, from n1, to its replicas",
            attrs and all(a.get("state") == "done" and a.get("from") == "n1" and "n3" in a.get("to", "").split()
                          for a in attrs if a.get("direction") == "out"), short(attrs, 300))
    done = re.findall(r'<td class="keys" data-done="(\d+)" data-total="(\d+)"', html)
    h.check("... with keys done of keys held, as /status gives them",
            sorted((int(d), int(t)) for d, t in done) == sorted((t["keys_done"], t["keys_total"]) for t in want),
            short(done))
    h.check("the count of partitions left to hand off is shown (0)",
            re.search(r'id="xfer-pending">0<', html) is not None, short(re.findall(r'id="xfer-pending">[^<]*<', html)))


def t_dead(h):
    """A member that does not answer keeps its row, with the reason, and the rest go on."""
    S["nodes"]["n3"].kill()
    rc, out, err = cli("status", "--interval", 0.2)
    lines = out.splitlines()
    head = [i for i, l in enumerate(lines) if l.startswith("rates per node")]
    rows = dict((l.split()[0], l) for l in lines[head[0] + 2:] if l.strip()) if head else {}
    h.check("dyna status with n3 killed exits 0 and says n3 did not answer",
            rc == 0 and "(no answer from %s:" % IPS["n3"] in rows.get("n3", ""), short(out[-600:]) + short(err))
    h.check("... with n1's and n2's rates still there",
            all(len(rows.get(nm, "").split()) == 8 for nm in ("n1", "n2")), short(rows))


if __name__ == "__main__":
    H.run([
        ("start 2 nodes holding %d keys" % NKEYS, t_start),
        ("a join's partition transfers in /status", t_transfers),
        ("dyna status: rates per node", t_status),
        ("dyna top", t_top),
        ("the dashboard shows the transfers", t_dashboard),
        ("a member that does not answer", t_dead),
    ])
