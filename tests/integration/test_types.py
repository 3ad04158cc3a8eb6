#!/usr/bin/python3
"""Issue 16's typed commands through a real client (Debian's python3-redis, as a new user
would call them): counters, sets (the multi-key ones too), hashes, sorted sets, lists,
types and expiry, on one node and through every node of a 3-node cluster, with the
replies a single Redis 7 gives; the WRONGTYPE error as redis-py raises it; a key written
with PX 300 goes away by itself; redis-benchmark over the typed commands gets no error.

Concurrency on a real cluster, as test_strings.py makes it: two nodes (n 2, r 1, w 1),
each stopped in turn with SIGSTOP so that the other reads and writes alone, then healed:
increments on both sides sum exactly; an SREM on one side and an SADD of the same member
on the other keep it (add wins); a hash field written on both sides shows one value, the
same through every node, and DYNA.HSIBLINGS shows both; RPUSH on both sides keeps both
elements once, in one order through every node; EXPIRE against PERSIST: PERSIST wins; a
key deleted on one side and SADDed on the other keeps the add.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import re
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Harness, all_see, settled, partition_heal, partition_resume, partition_side_1,  # noqa: E402
                     partition_side_2, start_cluster_node, start_node, start_pair, wait_until)

H = Harness("types")
S = {}
IPS = {"c1": "127.0.0.61", "c2": "127.0.0.62", "c3": "127.0.0.63", "p1": "127.0.0.64", "p2": "127.0.0.65"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000)
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def raises(fn):
    """The text of the redis.ResponseError fn raises, or None (it answered)."""
    try:
        fn()
    except redis.ResponseError as e:
        return str(e)
    return None


def commands(h, w, rd, label):
    """Every command of issue 16 items 1-7: writes through w, reads through rd (the same
    client, or another node of the cluster: a quorum read sees an acknowledged write)."""
    def eq(what, got, want):
        h.eq("%s: %s" % (label, what), got, want)

    # ---- counters
    eq("incr", w.incr("views"), 1)
    eq("incrby", w.incrby("views", 41), 42)
    eq("decr", w.decr("views"), 41)
    eq("decrby", w.decrby("views", 11), 30)
    eq("get of a counter", rd.get("views"), b"30")
    eq("incrbyfloat", w.incrbyfloat("views", 0.5), 30.5)
    eq("get after incrbyfloat", rd.get("views"), b"30.5")
    w.incrby("big", 9223372036854775807)
    eq("incr overflow", raises(lambda: w.incr("big")), "increment or decrement would overflow")
    eq("type of a counter", rd.type("views"), b"string")

    # ---- sets
    eq("sadd", w.sadd("cart", "apple", "pear", "fig"), 3)
    eq("sadd again", w.sadd("cart", "apple", "kiwi"), 1)
    eq("smembers", rd.smembers("cart"), {b"apple", b"pear", b"fig", b"kiwi"})
    eq("sismember", (rd.sismember("cart", "fig"), rd.sismember("cart", "plum")), (True, False))
    eq("smismember", rd.smismember("cart", ["fig", "plum"]), [1, 0])
    eq("scard", rd.scard("cart"), 4)
    eq("srem", w.srem("cart", "kiwi", "plum"), 1)
    popped = w.spop("cart")
    eq("spop took a member", popped in (b"apple", b"pear", b"fig"), True)
    eq("spop removed it", rd.sismember("cart", popped), False)
    w.sadd("cart", popped)
    eq("srandmember", rd.srandmember("cart") in (b"apple", b"pear", b"fig"), True)
    eq("srandmember -5 (repeats allowed)", len(rd.srandmember("cart", -5)), 5)
    w.sadd("other", "pear", "fig", "plum")
    eq("sinter", rd.sinter("cart", "other"), {b"pear", b"fig"})
    eq("sunion", rd.sunion("cart", "other"), {b"apple", b"pear", b"fig", b"plum"})
    eq("sdiff", rd.sdiff("cart", "other"), {b"apple"})
    eq("sinter with an absent key", rd.sinter("cart", "nosuchset"), set())
    eq("sintercard", rd.sintercard(2, ["cart", "other"]), 2)
    eq("sintercard limit 1", rd.sintercard(2, ["cart", "other"], limit=1), 1)
    eq("sinterstore", w.sinterstore("both", ["cart", "other"]), 2)
    eq("... stored", rd.smembers("both"), {b"pear", b"fig"})
    eq("sunionstore", w.sunionstore("both", ["cart", "other"]), 4)
    eq("... stored (replacing)", rd.smembers("both"), {b"apple", b"pear", b"fig", b"plum"})
    eq("sdiffstore", w.sdiffstore("both", ["cart", "other"]), 1)
    eq("... stored", rd.smembers("both"), {b"apple"})
    eq("sinterstore of nothing deletes the destination", (w.sinterstore("both", ["cart", "nosuch"]),
                                                           rd.exists("both")), (0, 0))
    w.set("strkey", "x")
    eq("sunionstore over a string destination replaces it",
       (w.sunionstore("strdst", ["other"]) if w.set("strdst", "v") else None, rd.type("strdst")), (3, b"set"))
    eq("smove", w.smove("cart", "moved", "apple"), True)
    eq("... gone from src, in dst", (rd.sismember("cart", "apple"), rd.smembers("moved")), (False, {b"apple"}))
    eq("smove of an absent member", w.smove("cart", "moved", "nope"), False)
    eq("smove from an absent key", w.smove("nosuch", "moved", "apple"), False)

    # ---- hashes
    eq("hset mapping", w.hset("user", mapping={"name": "ann", "age": "30"}), 2)
    eq("hget", rd.hget("user", "name"), b"ann")
    eq("hmget", rd.hmget("user", ["name", "nope"]), [b"ann", None])
    eq("hgetall", rd.hgetall("user"), {b"name": b"ann", b"age": b"30"})
    eq("hkeys hvals hlen", (sorted(rd.hkeys("user")), sorted(rd.hvals("user")), rd.hlen("user")),
       ([b"age", b"name"], [b"30", b"ann"], 2))
    eq("hexists", (rd.hexists("user", "age"), rd.hexists("user", "x")), (True, False))
    eq("hincrby", w.hincrby("user", "visits", 5), 5)
    eq("hincrby again", w.hincrby("user", "visits", -2), 3)
    eq("hincrbyfloat", w.hincrbyfloat("user", "score", 1.5), 1.5)
    eq("hstrlen", rd.hstrlen("user", "name"), 3)
    eq("hsetnx", (w.hsetnx("user", "name", "bob"), w.hsetnx("user", "nick", "a")), (0, 1))
    eq("hdel", w.hdel("user", "nick", "nope"), 1)
    eq("hrandfield", rd.hrandfield("user") in (b"name", b"age", b"visits", b"score"), True)
    eq("dyna.hsiblings of a field written once", rd.execute_command("DYNA.HSIBLINGS", "user", "name"), [b"ann"])

    # ---- sorted sets
    eq("zadd", w.zadd("rank", {"a": 1, "b": 2, "c": 3}), 3)
    eq("zadd nx", w.zadd("rank", {"a": 10, "d": 4}, nx=True), 1)
    eq("zadd xx ch", w.zadd("rank", {"a": 5, "e": 9}, xx=True, ch=True), 1)
    eq("zadd gt ch (lower: kept)", w.zadd("rank", {"a": 2}, gt=True, ch=True), 0)
    eq("zadd lt ch", w.zadd("rank", {"a": 0.5}, lt=True, ch=True), 1)
    eq("zadd incr", w.zadd("rank", {"b": 3}, incr=True), 5.0)
    eq("zincrby", w.zincrby("rank", 1, "c"), 4.0)
    eq("zscore zmscore", (rd.zscore("rank", "b"), rd.zmscore("rank", ["a", "x"])), (5.0, [0.5, None]))
    eq("zcard zcount", (rd.zcard("rank"), rd.zcount("rank", 1, 4)), (4, 2))
    eq("zrank zrevrank", (rd.zrank("rank", "a"), rd.zrevrank("rank", "a")), (0, 3))
    eq("zrange", rd.zrange("rank", 0, -1), [b"a", b"c", b"d", b"b"])
    eq("zrange withscores", rd.zrange("rank", 0, 1, withscores=True), [(b"a", 0.5), (b"c", 4.0)])
    eq("zrange byscore limit", rd.zrange("rank", 1, 10, byscore=True, offset=1, num=2), [b"d", b"b"])
    eq("zrange rev", rd.execute_command("ZRANGE", "rank", 0, 0, "REV"), [b"b"])
    eq("zrangebyscore zrevrangebyscore", (rd.zrangebyscore("rank", 4, 5), rd.zrevrangebyscore("rank", 5, 4)),
       ([b"c", b"d", b"b"], [b"b", b"d", b"c"]))
    w.zadd("lex", {"x": 0, "y": 0, "z": 0})
    eq("zrange bylex", rd.zrange("lex", "[y", "+", bylex=True), [b"y", b"z"])
    eq("zrem", w.zrem("rank", "d", "nope"), 1)
    eq("zpopmin zpopmax", (w.zpopmin("rank"), w.zpopmax("rank")), ([(b"a", 0.5)], [(b"b", 5.0)]))
    w.zadd("rank", {"p": 1, "q": 2, "r": 3, "s": 4})
    eq("zremrangebyscore", w.zremrangebyscore("rank", 1, 2), 2)
    eq("zremrangebyrank", w.zremrangebyrank("rank", 0, 0), 1)
    eq("zrange after", rd.zrange("rank", 0, -1), [b"c", b"s"])
    eq("zrevrange", rd.zrevrange("rank", 0, -1, withscores=True), [(b"s", 4.0), (b"c", 4.0)])
    eq("zrandmember", (rd.zrandmember("nosuch"), sorted(rd.zrandmember("rank", 5)),
                       len(rd.zrandmember("rank", -3, withscores=True))), (None, [b"c", b"s"], 6))
    eq("zremrangebylex", (w.zremrangebylex("lex", "[y", "+"), rd.zrange("lex", 0, -1)), (2, [b"x"]))
    # ZRANGESTORE: dst and src in any partitions (a read of src, then a write of dst)
    w.set("top", "a string, overwritten")
    eq("zrangestore", (w.zrangestore("top", "rank", 0, 0, desc=True), rd.zrange("top", 0, -1, withscores=True)),
       (1, [(b"s", 4.0)]))
    eq("zrangestore of an empty range deletes the destination",
       (w.zrangestore("top", "rank", 5, 9), rd.exists("top")), (0, 0))
    eq("zrangestore withscores", raises(lambda: w.execute_command("ZRANGESTORE", "top", "rank", 0, 1, "WITHSCORES")),
       "syntax error")

    # ---- lists
    eq("lpush", w.lpush("jobs", "b", "a"), 2)
    eq("rpush", w.rpush("jobs", "c", "d", "c"), 5)
    eq("lrange", rd.lrange("jobs", 0, -1), [b"a", b"b", b"c", b"d", b"c"])
    eq("lpushx rpushx", (w.lpushx("nolist", "x"), w.rpushx("jobs", "e")), (0, 6))
    eq("llen lindex", (rd.llen("jobs"), rd.lindex("jobs", -1)), (6, b"e"))
    eq("lpos", (rd.lpos("jobs", "c"), rd.lpos("jobs", "c", rank=2), rd.lpos("jobs", "c", count=0)), (2, 4, [2, 4]))
    eq("lset", w.lset("jobs", 0, "A"), True)
    eq("linsert", w.linsert("jobs", "before", "d", "D"), 7)
    eq("lrem", w.lrem("jobs", 0, "c"), 2)
    eq("lpop rpop", (w.lpop("jobs"), w.rpop("jobs")), (b"A", b"e"))
    eq("ltrim", (w.ltrim("jobs", 0, 1), rd.lrange("jobs", 0, -1)), (True, [b"b", b"D"]))
    eq("lmove", w.lmove("jobs", "done", "LEFT", "RIGHT"), b"b")
    eq("rpoplpush", w.rpoplpush("jobs", "done"), b"D")
    eq("... moved", (rd.lrange("jobs", 0, -1), rd.lrange("done", 0, -1)), ([], [b"D", b"b"]))
    eq("lmove from an absent list", w.lmove("jobs", "done"), None)

    # ---- types
    eq("type of each kind", [rd.type(k) for k in ("strkey", "cart", "user", "rank", "done", "nokey")],
       [b"string", b"set", b"hash", b"zset", b"list", b"none"])
    eq("object encoding", [rd.object("encoding", k) for k in ("views", "strkey", "cart", "user", "rank", "done")],
       [b"embstr", b"embstr", b"hashtable", b"listpack", b"listpack", b"quicklist"])
    w.sadd("ints", 1, 2)
    eq("object encoding of a set of integers", rd.object("encoding", "ints"), b"intset")
    for what, fn in (("sadd on a string", lambda: w.sadd("strkey", "m")),
                     ("get on a set", lambda: rd.get("cart")),
                     ("lpush on a hash", lambda: w.lpush("user", "x")),
                     ("incr on a set", lambda: w.incr("cart")),
                     ("sinter with a string", lambda: rd.sinter("cart", "strkey")),
                     ("sunionstore from a hash", lambda: w.sunionstore("d2", ["user"])),
                     ("smove to a string", lambda: w.smove("cart", "strkey", "pear")),
                     ("zrangestore from a string", lambda: w.zrangestore("top", "strkey", 0, 1)),
                     ("lmove to a set", lambda: w.lmove("jobs2", "cart") if w.rpush("jobs2", "x") else None)):
        eq("WRONGTYPE: " + what, raises(fn), WRONGTYPE)

    # ---- expiry
    eq("set ex", w.set("sess", "v", ex=60), True)
    eq("ttl", 0 < rd.ttl("sess") <= 60, True)
    eq("set keepttl keeps it", (w.set("sess", "v2", keepttl=True), 0 < rd.ttl("sess") <= 60), (True, True))
    eq("set without keepttl drops it", (w.set("sess", "v3"), rd.ttl("sess")), (True, -1))
    eq("set px nx on a live key", w.set("sess", "v4", px=5000, nx=True), None)
    eq("set exat", (w.set("sess", "v5", exat=int(time.time()) + 100), 90 < rd.ttl("sess") <= 100), (True, True))
    eq("setex", (w.setex("tok", 30, "a"), 0 < rd.ttl("tok") <= 30), (True, True))
    eq("psetex", (w.psetex("tok", 30000, "b"), 0 < rd.pttl("tok") <= 30000, rd.get("tok")), (True, True, b"b"))
    eq("getex ex", (w.getex("tok", ex=100), 90 < rd.ttl("tok") <= 100), (b"b", True))
    eq("getex persist", (w.getex("tok", persist=True), rd.ttl("tok")), (b"b", -1))
    eq("expire nx", (w.expire("cart", 100, nx=True), w.expire("cart", 200, nx=True)), (True, False))
    eq("expire xx gt lt", (w.expire("cart", 50, gt=True), w.expire("cart", 50, lt=True), w.expire("nokey", 5, xx=True)),
       (False, True, False))
    eq("expiretime", abs(rd.execute_command("EXPIRETIME", "cart") - (int(time.time()) + 50)) <= 2, True)
    eq("persist", (w.persist("cart"), rd.ttl("cart"), w.persist("cart")), (True, -1, False))
    eq("ttl of a missing key", rd.ttl("nokey"), -2)
    eq("expire on every type", [w.pexpire(k, 100000) for k in ("views", "user", "rank", "done")], [True] * 4)
    for what, args, name in (("set ex 0", ("SET", "k", "v", "EX", "0"), "set"),
                             ("setex -1", ("SETEX", "k", "-1", "v"), "setex"),
                             ("psetex 0", ("PSETEX", "k", "0", "v"), "psetex")):
        eq("invalid time: " + what, raises(lambda: w.execute_command(*args)),
           "invalid expire time in '%s' command" % name)
    eq("set ex and px together", raises(lambda: w.execute_command("SET", "k", "v", "EX", "1", "PX", "1")),
       "syntax error")
    eq("set keepttl and ex together", raises(lambda: w.execute_command("SET", "k", "v", "KEEPTTL", "EX", "1")),
       "syntax error")
    for k, make in (("gone-s", lambda: w.set("gone-s", "v", px=300)),
                    ("gone-set", lambda: w.sadd("gone-set", "m") and w.pexpire("gone-set", 300))):
        make()
        wait_until(lambda: rd.exists(k) == 0, 30, 0.05, "%s to expire" % k)
        h.eq("%s: %s written with a 300 ms expiry is gone by itself" % (label, k), rd.type(k), b"none")


# ---------------------------------------------------------------------------- one node

def t_single(h):
    S["node"] = start_node("n1", h.path("n1"))
    r = redis.Redis(port=S["node"].port)
    commands(h, r, r, "1 node")
    r.close()


def t_benchmark(h):
    """redis-benchmark (Debian's redis-tools) over the typed commands: no error reply."""
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(S["node"].port), "-t",
                          "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange,mset",
                          "-n", "1000", "-q"], capture_output=True, text=True, timeout=240)
    text = out.stdout + out.stderr
    bad = [ln for ln in re.split(r"[\r\n]", text) if re.search(r"ERR|WRONGTYPE|[Ee]rror", ln)]
    h.check("redis-benchmark exited 0", out.returncode == 0, text[-400:])
    h.check("redis-benchmark saw no error reply", not bad, "; ".join(bad[:5]))
    h.check("redis-benchmark ran every test", all(t in text for t in ("INCR", "SADD", "HSET", "ZADD", "LPUSH",
                                                                       "ZPOPMIN", "LRANGE_100", "MSET")),
            text[-400:])
    S["node"].stop()


# ---------------------------------------------------------------------------- 3 nodes

def t_cluster(h):
    # N=2 of 3 nodes: some keys have no copy on the node a read goes through, which then
    # coordinates a read of replicas only (a typed key read there once came back absent).
    opts = COMMON + ("--n", 2)
    ns = [start_cluster_node("c1", h.path("c1"), IPS["c1"], extra_args=opts)]
    for nm in ("c2", "c3"):
        ns.append(start_cluster_node(nm, h.path(nm), IPS[nm], join=ns[0].cluster_addr, extra_args=opts))
    wait_until(lambda: settled(ns, ("c1", "c2", "c3")), 30, 0.05,
               "3 valid members seen by every node")
    rs = [redis.Redis(host=n.host, port=n.port) for n in ns]
    try:
        commands(h, rs[0], rs[1], "3 nodes, writes through c1, reads through c2")
        h.eq("3 nodes: a set read through every node", [r.smembers("moved") for r in rs], [{b"apple"}] * 3)
    finally:
        for r in rs:
            r.close()
    for n in ns:
        n.stop()


# ---------------------------------------------------------------------------- a partition

def t_partition(h):
    opts = COMMON + ("--n", 2, "--r", 1, "--w", 1)
    p1, p2 = start_pair(h, IPS, opts)
    r1, r2 = redis.Redis(host=p1.host, port=p1.port), redis.Redis(host=p2.host, port=p2.port)
    both = (r1, r2)
    try:
        # Before: state both sides start from.
        r1.sadd("keep", "m")
        r1.sadd("gone", "old")
        r1.set("ttl", "v", ex=1000)
        wait_until(lambda: all(r.sismember("keep", "m") and r.sismember("gone", "old") and r.ttl("ttl") > 0
                               for r in both), 30, 0.05, "the starting state on both nodes")
        # Side 1: p2 is stopped; p1 reads and writes alone.
        partition_side_1(p1, p2)
        h.eq("side 1: INCR x3", [r1.incr("hits") for _ in range(3)], [1, 2, 3])
        h.eq("side 1: SREM keep m", r1.srem("keep", "m"), 1)
        h.eq("side 1: HSET h f A", r1.hset("h", "f", "A"), 1)
        h.eq("side 1: RPUSH l a", r1.rpush("l", "a"), 1)
        h.eq("side 1: EXPIRE ttl 500", r1.expire("ttl", 500), True)
        h.eq("side 1: DEL gone", r1.delete("gone"), 1)
        # Side 2: p1 is stopped, p2 resumes and judges p1 unreachable.
        partition_side_2(p1, p2)
        h.eq("side 2: INCR x2 (its own count)", [r2.incr("hits") for _ in range(2)], [1, 2])
        h.eq("side 2: SADD keep m (already there for this side)", r2.sadd("keep", "m"), 0)
        h.eq("side 2: HSET h f B", r2.hset("h", "f", "B"), 1)
        h.eq("side 2: RPUSH l b", r2.rpush("l", "b"), 1)
        h.eq("side 2: PERSIST ttl", r2.persist("ttl"), True)
        h.eq("side 2: SADD gone new", r2.sadd("gone", "new"), 1)
        # Healed.
        partition_heal(p1, p2)

        def settled(fn, want, what):
            got = wait_until(lambda: all(fn(r) == want for r in both) and [fn(r) for r in both], 60, 0.1, what)
            return got
        h.eq("healed: INCR from both sides sums exactly, through each node",
             settled(lambda r: r.get("hits"), b"5", "hits to be 5 on both nodes"), [b"5", b"5"])
        h.eq("healed: SREM against a concurrent SADD: the add wins",
             settled(lambda r: r.smembers("keep"), {b"m"}, "keep to hold m on both nodes"), [{b"m"}] * 2)
        hv = wait_until(lambda: len({r.hget("h", "f") for r in both}) == 1 and
                        all(r.execute_command("DYNA.HSIBLINGS", "h", "f") and
                            len(r.execute_command("DYNA.HSIBLINGS", "h", "f")) == 2 for r in both) and
                        [r.hget("h", "f") for r in both], 60, 0.1, "h f to settle on both nodes")
        h.check("healed: HSET on both sides: one value, the same through every node", hv[0] in (b"A", b"B"), str(hv))
        h.eq("healed: DYNA.HSIBLINGS shows both values",
             [sorted(r.execute_command("DYNA.HSIBLINGS", "h", "f")) for r in both], [[b"A", b"B"]] * 2)
        lv = wait_until(lambda: len({tuple(r.lrange("l", 0, -1)) for r in both}) == 1 and
                        len(r1.lrange("l", 0, -1)) >= 2 and [r.lrange("l", 0, -1) for r in both], 60, 0.1,
                        "l to settle on both nodes")
        h.check("healed: RPUSH on both sides: both elements once, one order through every node",
                sorted(lv[0]) == [b"a", b"b"] and lv[0] == lv[1], str(lv))
        h.eq("healed: EXPIRE against PERSIST: PERSIST wins",
             settled(lambda r: r.ttl("ttl"), -1, "ttl to have no expiry on both nodes"), [-1, -1])
        h.eq("healed: DEL against a concurrent SADD: the add survives",
             settled(lambda r: r.smembers("gone"), {b"new"}, "gone to hold new on both nodes"), [{b"new"}] * 2)
    finally:
        partition_resume(p1, p2)
        r1.close()
        r2.close()
    p1.stop()
    p2.stop()


if __name__ == "__main__":
    H.run([
        ("one node: every typed command through redis-py", t_single),
        ("one node: redis-benchmark", t_benchmark),
        ("3-node cluster, N=2: every typed command, reads through another node", t_cluster),
        ("a partition: concurrent typed writes merge", t_partition),
    ])
    sys.exit(1 if H.failures else 0)
