#!/usr/bin/python3
"""Issue 17 item 4, listing keys, through Debian's python3-redis and redis-cli against a
3-node cluster: SCAN (redis-py scan_iter with MATCH, COUNT and TYPE) returns every key
written, once the pages are put together, whichever node is asked; KEYS, DBSIZE,
RANDOMKEY, TOUCH and UNLINK; SCAN's errors in Redis 7.0's words; FLUSHALL refused by a
node started without --enable-flush-command, and on one started with it deleting every
key on every node (DYNA.LOCAL shows nothing left) so that an anti-entropy run brings
nothing back; redis-cli --scan --pattern and --bigkeys complete.

Churn: a scan started before a fourth node joins, and continued page by page while it
joins and takes its partitions, returns every key present throughout; the same while it
leaves again.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import re
import subprocess
import sys

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, all_see, settled, cluster_status, short, start_cluster_node, wait_until  # noqa: E402

H = Harness("scan")
IPS = {"c1": "127.0.0.101", "c2": "127.0.0.102", "c3": "127.0.0.103", "c4": "127.0.0.104"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 2000, "--ring-size", 64)
CLI = "/usr/bin/redis-cli"
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
FLUSH_OFF = ("FLUSHALL and FLUSHDB are not allowed: they delete every key of the cluster. "
             "Start dynad with --enable-flush-command (or enable-flush-command = yes in its "
             "config file) to allow them")


def raises(fn):
    try:
        fn()
    except redis.ResponseError as e:
        return str(e)
    return None


def start3(h, tag, extra_c1=()):
    os.makedirs(h.path(tag), exist_ok=True)
    ns = [start_cluster_node("c1", h.path(tag, "c1"), IPS["c1"], extra_args=COMMON + tuple(extra_c1))]
    for nm in ("c2", "c3"):
        ns.append(start_cluster_node(nm, h.path(tag, nm), IPS[nm], join=ns[0].cluster_addr, extra_args=COMMON))
    wait_until(lambda: settled(ns, ("c1", "c2", "c3")), 30, 0.05,
               "3 valid members seen by every node")
    return ns


def fill(r):
    """Writes the data set; returns {key: type}."""
    want = {}
    p = r.pipeline(transaction=False)
    for i in range(300):
        p.set("user:%d" % i, "v%d" % i)
        want["user:%d" % i] = "string"
    for i in range(40):
        p.sadd("set:%d" % i, "a", "b")
        want["set:%d" % i] = "set"
        p.hset("hash:%d" % i, "f", "v")
        want["hash:%d" % i] = "hash"
        p.zadd("zset:%d" % i, {"m": 1})
        want["zset:%d" % i] = "zset"
        p.rpush("list:%d" % i, "x", "y")
        want["list:%d" % i] = "list"
    p.incr("counter")
    want["counter"] = "string"
    for i in range(20):  # deleted again: tombstones, never listed
        p.set("gone:%d" % i, "x")
        p.delete("gone:%d" % i)
    p.set("expired", "x", px=1)
    p.execute()
    return want


def cli(port, host, *args):
    p = subprocess.run([CLI, "-h", host, "-p", str(port)] + list(args), capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def t_scan(h):
    ns = start3(h, "scan", ("--enable-flush-command",))
    rs = [redis.Redis(host=n.host, port=n.port) for n in ns]
    try:
        want = fill(rs[0])
        keys = set(want)
        for i, r in enumerate(rs):
            got = [k.decode() for k in r.scan_iter()]
            h.eq("c%d: scan_iter returns every key" % (i + 1), set(got), keys)
            h.check("c%d: scan_iter returns no key twice" % (i + 1), len(got) == len(set(got)),
                    "%d keys, %d distinct" % (len(got), len(set(got))))
        h.eq("scan_iter(count=7)", {k.decode() for k in rs[1].scan_iter(count=7)}, keys)
        h.eq("scan_iter(count=1000)", {k.decode() for k in rs[2].scan_iter(count=1000)}, keys)
        h.eq("scan_iter(match='user:1*')", {k.decode() for k in rs[0].scan_iter(match="user:1*")},
             {k for k in keys if k.startswith("user:1")})
        for t in ("string", "set", "hash", "zset", "list"):
            h.eq("scan_iter(_type=%s)" % t, {k.decode() for k in rs[1].scan_iter(_type=t)},
                 {k for k, v in want.items() if v == t})
        h.eq("scan_iter(_type=stream): nothing", list(rs[1].scan_iter(_type="stream")), [])
        h.eq("scan_iter(match='set:1*', _type='set', count=3)",
             {k.decode() for k in rs[2].scan_iter(match="set:1*", _type="set", count=3)},
             {k for k in keys if k.startswith("set:1")})
        cur, page = rs[0].scan(0, count=5)
        h.check("one SCAN call: a cursor to go on and about COUNT keys", cur != 0 and 0 < len(page) <= 40,
                "cursor %r, %d keys" % (cur, len(page)))

        h.eq("keys()", {k.decode() for k in rs[1].keys()}, keys)
        h.eq("keys('hash:?')", {k.decode() for k in rs[2].keys("hash:?")},
             {"hash:%d" % i for i in range(10)})
        for i, r in enumerate(rs):
            h.eq("c%d: dbsize()" % (i + 1), wait_until(lambda: r.dbsize() == len(keys) and r.dbsize(), 10, 0.1,
                                                       "dbsize through c%d" % (i + 1)), len(keys))
        rk = {rs[0].randomkey().decode() for _ in range(20)}
        h.check("randomkey() returns keys that exist", rk <= keys, short(rk - keys))
        h.check("randomkey() is not always the same key", len(rk) > 1, short(rk))
        h.eq("touch(2 present, 1 missing)", rs[1].touch("user:1", "set:1", "nope"), 2)
        h.eq("unlink(user:0, nope)", rs[1].unlink("user:0", "nope"), 1)
        h.eq("unlinked key is gone", rs[2].exists("user:0"), 0)
        keys.discard("user:0")
        h.eq("exists over many partitions", rs[0].exists(*["user:%d" % i for i in range(1, 50)], "nope"), 49)

        h.eq("SCAN abc", raises(lambda: rs[0].execute_command("SCAN", "abc")), "invalid cursor")
        h.eq("SCAN 18446744073709551616", raises(lambda: rs[0].execute_command("SCAN", "18446744073709551616")),
             "invalid cursor")
        h.eq("SCAN -1 (2^64 - 1, as strtoul reads it: past the ring)", rs[0].execute_command("SCAN", "-1"), (0, []))
        h.eq("SCAN 0 COUNT 0", raises(lambda: rs[0].execute_command("SCAN", "0", "COUNT", "0")), "syntax error")
        h.eq("SCAN 0 COUNT x", raises(lambda: rs[0].execute_command("SCAN", "0", "COUNT", "x")),
             "value is not an integer or out of range")
        h.eq("SCAN 0 MATCH", raises(lambda: rs[0].execute_command("SCAN", "0", "MATCH")), "syntax error")
        h.eq("SCAN 0 FOO bar", raises(lambda: rs[0].execute_command("SCAN", "0", "FOO", "bar")), "syntax error")
        h.eq("SCAN of a partition beyond the ring: over", rs[0].execute_command("SCAN", str(64 << 48)), (0, []))

        if os.path.exists(CLI):
            rc, out, err = cli(ns[1].port, ns[1].host, "--scan", "--pattern", "list:*")
            h.eq("redis-cli --scan --pattern list:*", (rc, set(out.split())),
                 (0, {k for k in keys if k.startswith("list:")}))
            rc, out, err = cli(ns[2].port, ns[2].host, "--bigkeys")
            found = set(re.findall(r"Biggest +(\w+) found", out))
            h.check("redis-cli --bigkeys completes: every key sampled, the biggest of each type",
                    rc == 0 and "Sampled %d keys" % len(keys) in out
                    and found == {"string", "set", "hash", "zset", "list"}, short(out[-600:] + err))
        else:
            h.note("SKIP redis-cli checks: %s is absent" % CLI)

        # FLUSHALL: refused where not enabled, then cluster-wide where it is.
        h.eq("FLUSHALL on c2 (not enabled)", raises(lambda: rs[1].flushall()), FLUSH_OFF)
        h.eq("FLUSHDB on c3 (not enabled)", raises(lambda: rs[2].flushdb()), FLUSH_OFF)
        h.eq("nothing was flushed", rs[1].dbsize(), len(keys))
        h.eq("FLUSHALL ASYNC BAD", raises(lambda: rs[0].execute_command("FLUSHALL", "BAD")), "syntax error")
        h.eq("FLUSHALL on c1", rs[0].flushall(), True)
        for i, r in enumerate(rs):
            h.eq("c%d: dbsize() after flushall" % (i + 1), r.dbsize(), 0)
            h.eq("c%d: keys() after flushall" % (i + 1), r.keys(), [])
            local = [k for k in sorted(keys)[:60] if r.execute_command("DYNA.LOCAL", k)[1]]
            h.eq("c%d: no live value in its own replica" % (i + 1), local, [])
        h.eq("randomkey() of an empty cluster", rs[0].randomkey(), None)
        before = [int(r.info("all").get("aae_exchanges", 0)) for r in rs]
        for r in rs:
            r.execute_command("DYNA.ADMIN", "REPAIR")
        wait_until(lambda: all(int(r.info("all").get("aae_exchanges", 0)) >= b + 64 for r, b in zip(rs, before)),
                   60, 0.2, "an anti-entropy exchange of every partition on every node")
        h.eq("after anti-entropy: still no key", [sorted(r.keys()) for r in rs], [[], [], []])
        rs[1].set("after", "1")
        h.eq("a key written after the flush lives", [r.keys() for r in rs], [[b"after"]] * 3)
        h.eq("FLUSHDB SYNC on c1", rs[0].flushdb(asynchronous=False), True)
        h.eq("dbsize after flushdb", rs[2].dbsize(), 0)
    finally:
        for r in rs:
            r.close()
    for n in ns:
        n.stop()


def partner(r, key, prefix):
    """A name starting with prefix in key's partition: COPY of a missing key onto key
    answers 0 there and CROSSSLOT anywhere else (and changes nothing either way)."""
    for i in range(10000):
        cand = "%s%d" % (prefix, i)
        if r.exists(cand) == 0 and raises(lambda: r.copy(cand, key)) is None:
            return cand
    raise AssertionError("no key of %s's partition found" % key)


def t_rename_copy(h):
    ns = start3(h, "rename")
    rs = [redis.Redis(host=n.host, port=n.port) for n in ns]
    r, rd = rs[0], rs[1]
    try:
        r.set("s", "hello", ex=1000)
        d = partner(r, "s", "d")
        h.eq("RENAME s d", r.rename("s", d), True)
        h.eq("the value moved", (rd.get(d), rd.exists("s")), (b"hello", 0))
        h.check("the deadline moved with it", 900 < rd.ttl(d) <= 1000, str(rd.ttl(d)))
        h.eq("SCAN lists the new name, not the old", {k.decode() for k in rd.scan_iter()} & {"s", d}, {d})
        h.eq("RENAME of a missing key", raises(lambda: r.rename("s", d)), "no such key")
        h.eq("RENAMENX of a missing key", raises(lambda: r.renamenx("s", d)), "no such key")
        h.eq("RENAME k k", r.rename(d, d), True)
        h.eq("RENAMENX k k", r.renamenx(d, d), False)
        h.eq("COPY k k", raises(lambda: r.copy(d, d)), "source and destination objects are the same")
        far = next("far%d" % i for i in range(1000)
                   if raises(lambda: r.copy("far%d" % i, d)) == CROSSSLOT)
        h.eq("RENAME across partitions", raises(lambda: r.rename(d, far)), CROSSSLOT)
        h.eq("COPY ... DB 1", raises(lambda: r.execute_command("COPY", d, far, "DB", "1")), "DB index is out of range")
        h.eq("COPY ... FOO", raises(lambda: r.execute_command("COPY", d, far, "FOO")), "syntax error")

        # Typed keys keep their state; NX and REPLACE as Redis.
        r.sadd("set", "a", "b", "c")
        r.hset("hash", mapping={"f": "v", "g": "w"})
        r.hincrby("hash", "n", 5)
        r.zadd("zset", {"x": 1.5, "y": -2})
        r.rpush("list", "1", "2", "3", "2")
        r.incrby("ctr", 7)
        r.pexpire("set", 500000)
        shows = {"set": lambda c, k: c.smembers(k), "hash": lambda c, k: c.hgetall(k),
                 "zset": lambda c, k: c.zrange(k, 0, -1, withscores=True),
                 "list": lambda c, k: c.lrange(k, 0, -1), "ctr": lambda c, k: c.get(k)}
        for src, show in shows.items():
            want = show(rd, src)
            dst = partner(r, src, src + "-copy")
            h.eq("COPY %s" % src, r.copy(src, dst), True)
            h.eq("COPY %s: the same content, read through another node" % src, show(rd, dst), want)
            h.eq("COPY %s: the same type" % src, rd.type(dst), rd.type(src))
            h.eq("COPY %s: the source stays" % src, show(rd, src), want)
            h.eq("COPY %s onto an existing key, no REPLACE" % src, r.copy(src, dst), False)
            mv = partner(r, src, src + "-moved")
            h.eq("RENAMENX %s" % src, r.renamenx(src, mv), True)
            h.eq("RENAMENX %s: moved" % src, (show(rd, mv), rd.exists(src)), (want, 0))
            h.eq("RENAMENX onto an existing key", r.renamenx(mv, dst), False)
            h.eq("RENAMENX onto an existing key: both stay", (show(rd, mv), show(rd, dst)), (want, want))
        setcopy = next(k.decode() for k in rd.scan_iter(match="set-copy*"))
        h.check("COPY set: its deadline too", 400 < rd.ttl(setcopy) <= 500, str(rd.ttl(setcopy)))
        # REPLACE over a key of another type, then it behaves as its new type.
        r.set("str", "x")
        dst = partner(r, "str", "str-over")
        r.sadd(dst, "old")
        h.eq("COPY REPLACE a string over a set", r.copy("str", dst, replace=True), True)
        h.eq("it is a string now", (rd.type(dst), rd.get(dst)), (b"string", b"x"))
        r.sadd("src2", "m")
        dst2 = partner(r, "src2", "over")
        r.set(dst2, "was a string", ex=100)
        h.eq("RENAME a set over a string with a deadline", r.rename("src2", dst2), True)
        h.eq("the set replaced it, without the old deadline",
             (rd.type(dst2), rd.smembers(dst2), rd.ttl(dst2)), (b"set", {b"m"}, -1))
        h.eq("SADD to the renamed set", (r.sadd(dst2, "n"), rd.scard(dst2)), (1, 2))
    finally:
        for c in rs:
            c.close()
    for n in ns:
        n.stop()


def scan_pages(r, cursor, pages):
    """Runs pages SCAN calls from cursor (COUNT 10); returns (cursor, keys)."""
    got = []
    for _ in range(pages):
        cursor, ks = r.scan(cursor, count=10)
        got += [k.decode() for k in ks]
        if cursor == 0:
            break
    return cursor, got


def t_churn(h):
    ns = start3(h, "churn")
    rs = [redis.Redis(host=n.host, port=n.port) for n in ns]
    c4 = None
    try:
        p = rs[0].pipeline(transaction=False)
        keys = {"k:%d" % i for i in range(600)}
        for k in keys:
            p.set(k, "v")
        p.execute()

        # A join in the middle: a third of the scan before, the rest while c4 joins.
        cur, got = scan_pages(rs[1], 0, 10)
        h.check("the first pages did not finish the scan", cur != 0, str(cur))
        c4 = start_cluster_node("c4", h.path("churn", "c4"), IPS["c4"], join=ns[0].cluster_addr, extra_args=COMMON)
        cur, more = scan_pages(rs[1], cur, 3)  # pages while it joins
        got += more
        wait_until(lambda: all_see(ns + [c4], ("c1", "c2", "c3", "c4"), ("self", "reachable")), 30, 0.05,
                   "4 valid members")
        h.check("the scan was not over when the ring changed", cur != 0, str(cur))
        while cur:
            cur, more = scan_pages(rs[1], cur, 1)
            got += more
        h.eq("scan across a join: every key present throughout", keys - set(got), set())
        r4 = redis.Redis(host=c4.host, port=c4.port)
        h.eq("scan through the new node", {k.decode() for k in r4.scan_iter()}, keys)

        # A leave in the middle.
        cur, got = scan_pages(r4, 0, 10)
        h.eq("DYNA.ADMIN LEAVE on c4", r4.execute_command("DYNA.ADMIN", "LEAVE"), b"OK")
        cur, more = scan_pages(rs[2], cur, 3)  # pages while it hands its partitions off
        got += more
        wait_until(lambda: not c4.alive() or (cluster_status(ns[2]) or {}).get("c4", {}).get("status") == "removed",
                   60, 0.1, "c4 removed")
        h.check("the scan was not over when c4 was removed", cur != 0, str(cur))
        while cur:
            cur, more = scan_pages(rs[2], cur, 1)
            got += more
        h.eq("scan across a leave: every key present throughout", keys - set(got), set())
        r4.close()
        h.eq("scan after the leave", {k.decode() for k in rs[0].scan_iter()}, keys)
    finally:
        for r in rs:
            r.close()
    for n in ns + ([c4] if c4 else []):
        if n.alive():
            n.stop()


if __name__ == "__main__":
    H.run([("scan", t_scan), ("rename and copy", t_rename_copy), ("churn", t_churn)])
