#!/usr/bin/python3
"""Transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH) as clients send them, through
Debian's python3-redis (its default pipeline() is MULTI/EXEC; transaction() is
WATCH/MULTI/EXEC with retries), on a 3-node cluster with N=2 (so that some transactions
are coordinated by the node asked and others forwarded):

- issue 17's bug: a transaction that fails (a queue-time error: unknown command, wrong
  arity, CROSSSLOT, a command a transaction cannot hold) applies nothing, through every
  node; EXEC answers EXECABORT;
- a transaction applies every write, and a command's own error (syntax, WRONGTYPE) is
  its element of EXEC's answer, as Redis does;
- the errors and replies of MULTI/EXEC/DISCARD/WATCH misuse are Redis 7.0's (recorded
  from redis-server 7.0 below, so that this test needs none);
- hash-tagged keys in one transaction: `{user:1}.cart` and `{user:1}.session` when they
  share a partition (they do once placement goes by Redis slots), else the first
  `{user:1}.session<i>` the cluster accepts beside the cart (asked with CROSSSLOT);
- WATCH: a watched key written (a string, or a counter: typed state counts) by another
  client between WATCH and EXEC makes EXEC answer nil (redis-py: WatchError) and applies
  nothing; transaction() retries and applies once;
- the batch reaches each replica: DYNA.LOCAL on both home replicas holds every key;
- when no quorum can be had, EXEC answers one error for the whole transaction;
- the queue's bound (1024 commands) refuses the next command and aborts the EXEC.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import signal
import sys

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, RespError, all_see, settled, connect, start_cluster_node, wait_until  # noqa: E402

H = Harness("multi")
IPS = {"c1": "127.0.0.44", "c2": "127.0.0.45", "c3": "127.0.0.46"}
OPTS = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000, "--n", 2, "--w", 2)
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."

# Raw replies of Redis 7.0 (redis-server 7.0 of Debian, on an empty keyspace) to this
# sequence on one connection; `bogus` is an unknown command.
REDIS7 = [
    (("MULTI",), "+OK"),
    (("MULTI",), "-ERR MULTI calls can not be nested"),
    (("SET", "{t}a", "1"), "+QUEUED"),
    (("BOGUS", "x"), "-ERR unknown command 'BOGUS', with args beginning with: 'x' "),
    (("GET",), "-ERR wrong number of arguments for 'get' command"),
    (("EXEC",), "-" + EXECABORT),
    (("EXEC",), "-ERR EXEC without MULTI"),
    (("DISCARD",), "-ERR DISCARD without MULTI"),
    (("MULTI",), "+OK"),
    (("WATCH", "{t}a"), "-ERR WATCH inside MULTI is not allowed"),
    (("SET", "{t}a", "1", "XX", "YY"), "+QUEUED"),
    (("INCR", "{t}a"), "+QUEUED"),
    (("EXEC",), ["-ERR syntax error", ":1"]),
    (("MULTI",), "+OK"),
    (("EXEC",), []),
    (("MULTI",), "+OK"),
    (("PING",), "+QUEUED"),
    (("ECHO", "hi"), "+QUEUED"),
    (("EXEC",), ["+PONG", "$hi"]),
    (("MULTI",), "+OK"),
    (("UNWATCH",), "+QUEUED"),
    (("PING", "x"), "+QUEUED"),
    (("PING", "a", "b"), "+QUEUED"),
    (("EXEC",), ["+OK", "$x", "-ERR wrong number of arguments for 'ping' command"]),
    (("MULTI",), "+OK"),
    (("SETEX", "{t}b", "100", "v"), "+QUEUED"),
    (("PSETEX", "{t}b", "0", "v"), "+QUEUED"),
    (("SETEX", "{t}b", "x", "v"), "+QUEUED"),
    (("GET", "{t}b"), "+QUEUED"),
    (("EXEC",), ["+OK", "-ERR invalid expire time in 'psetex' command",
                 "-ERR value is not an integer or out of range", "$v"]),
    (("MULTI",), "+OK"),
    (("SET", "{t}a", "2"), "+QUEUED"),
    (("DISCARD",), "+OK"),
    (("GET", "{t}a"), "$1"),
]


def show(v):
    """A raw reply (dynalib's parse) in REDIS7's notation."""
    if isinstance(v, list):
        return [show(x) for x in v]
    if isinstance(v, bytes):
        return "$" + v.decode()
    if isinstance(v, int):
        return ":%d" % v
    if v is None:
        return "$nil"
    if isinstance(v, RespError):
        return "-" + v.msg
    return "+" + v


def shares(rc, a, b):
    """Whether the cluster takes keys a and b in one transaction (asked with MULTI and
    CROSSSLOT on the raw connection rc; nothing runs: DISCARD)."""
    rep = rc.pipeline([("MULTI",), ("GET", a), ("GET", b), ("DISCARD",)])
    return show(rep[2]) == "+QUEUED"


def partner(rc, base, prefix, first=None):
    """A key that shares base's partition: first if it does, else prefix + i."""
    if first and shares(rc, base, first):
        return first
    for i in range(20000):
        k = "%s%d" % (prefix, i)
        if shares(rc, base, k):
            return k
    raise AssertionError("no key shares a partition with %s" % base)


def stranger(rc, base):
    """A key of another partition than base's."""
    for i in range(1000):
        k = "other%d" % i
        if not shares(rc, base, k):
            return k
    raise AssertionError("every key shares %s's partition" % base)


def everywhere(rs, key):
    """GET key through every node."""
    return [r.get(key) for r in rs]


def raises(fn):
    try:
        fn()
    except redis.RedisError as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


def t_cluster(h):
    ns = [start_cluster_node("c1", h.path("c1"), IPS["c1"], extra_args=OPTS)]
    for nm in ("c2", "c3"):
        ns.append(start_cluster_node(nm, h.path(nm), IPS[nm], join=ns[0].cluster_addr, extra_args=OPTS))
    wait_until(lambda: settled(ns, ("c1", "c2", "c3")), 30, 0.05,
               "3 valid members seen by every node")
    rs = [redis.Redis(host=n.host, port=n.port) for n in ns]
    rc = connect(ns[0].port, host=ns[0].host)
    try:
        redis7_words(h, ns)
        bounds(h, ns)
        for i, r in enumerate(rs):
            through(h, rc, rs, r, "c%d" % (i + 1))
        hash_tags(h, rc, rs)
        watch(h, rc, rs)
        replicated(h, rc, rs, ns)
        no_quorum(h, rc, rs, ns)
    finally:
        rc.close()
        for r in rs:
            r.close()
        for n in ns:
            if n.alive():
                os.kill(n.pid, signal.SIGCONT)
    for n in ns:
        n.stop()


def redis7_words(h, ns):
    """Misuse and edge cases answer as Redis 7.0 does (keys {t}a only: one partition)."""
    with connect(ns[1].port, host=ns[1].host) as c:
        got = [show(x) for x in c.pipeline([cmd for cmd, _ in REDIS7])]
        for (cmd, want), g in zip(REDIS7, got):
            h.eq("Redis 7.0's reply to %s" % " ".join(cmd), g, want)


def bounds(h, ns):
    """A transaction holds at most 1024 commands: the 1025th is refused, EXEC aborts."""
    with connect(ns[0].port, host=ns[0].host) as c:
        got = [show(x) for x in c.pipeline([("MULTI",)] + [("PING",)] * 1025 + [("EXEC",)])]
    h.eq("bounds: 1024 commands queued", got[1:1025], ["+QUEUED"] * 1024)
    h.eq("bounds: the 1025th refused with a clear error, EXEC aborts", got[1025:],
         ["-ERR transaction too large: at most 1024 commands and 4096 keys", "-" + EXECABORT])


def through(h, rc, rs, r, name):
    """One node's client: the bug, a transaction that applies, CROSSSLOT."""
    a = "tx-%s-a" % name
    b = partner(rc, a, "tx-%s-b" % name)
    c = partner(rc, a, "tx-%s-c" % name)
    far = stranger(rc, a)
    r.set(a, "old")
    # Issue 17's bug: the SET inside a failed transaction used to be applied.
    for what, bad in (("an unknown command", ("NOSUCHCMD", a)), ("a wrong arity", ("GET",)),
                      ("CROSSSLOT", ("SET", far, "x")), ("a command a transaction cannot hold", ("INFO",))):
        p = r.pipeline()  # transaction=True: MULTI ... EXEC
        p.set(a, "new")
        p.incr(b)
        p.execute_command(*bad)
        err = raises(p.execute)
        h.check("through %s: %s fails the transaction (%s)" % (name, what, err), err is not None, str(err))
        h.eq("through %s: after %s nothing was applied (%s, %s, through every node)" % (name, what, a, b),
             everywhere(rs, a) + everywhere(rs, b), [b"old"] * 3 + [None] * 3)
    p = r.pipeline()
    p.set(a, "v1").incr(b).incrby(b, 4).sadd(c, "m1", "m2").get(a).mget(a, b).delete(c).exists(a, b, c)
    h.eq("through %s: a transaction answers each command in order" % name, p.execute(),
         [True, 1, 5, 2, b"v1", [b"v1", b"5"], 1, 2])
    h.eq("through %s: its writes are there, through every node" % name,
         everywhere(rs, a) + everywhere(rs, b) + [x.exists(c) for x in rs], [b"v1"] * 3 + [b"5"] * 3 + [0] * 3)
    # A command's own error is its element; the others still apply (Redis's rule).
    p = r.pipeline()
    p.set(a, "v2").execute_command("SET", a, "v", "BOGUS").lpush(a, "x").get(a)
    got = p.execute(raise_on_error=False)
    h.eq("through %s: errors inside EXEC are elements" % name,
         [x if not isinstance(x, Exception) else str(x) for x in got],
         [True, "syntax error", "WRONGTYPE Operation against a key holding the wrong kind of value", b"v2"])
    h.eq("through %s: CROSSSLOT's words" % name,
         show(rc.pipeline([("MULTI",), ("GET", a), ("GET", far), ("DISCARD",)])[2]), "-" + CROSSSLOT)


def hash_tags(h, rc, rs):
    cart = "{user:1}.cart"
    session = partner(rc, cart, "{user:1}.session", first="{user:1}.session")
    h.note("hash tags: %s shares %s's partition" % (session, cart))
    p = rs[0].pipeline()
    p.sadd(cart, "apple", "pear").hset(session, mapping={"user": "1", "seen": "now"}).expire(session, 1000)
    p.scard(cart).hget(session, "user")
    h.eq("hash tags: one transaction over %s and %s" % (cart, session), p.execute(), [2, 2, True, 2, b"1"])
    h.eq("hash tags: both written, through every node",
         [(x.smembers(cart), x.hget(session, "seen")) for x in rs], [({b"apple", b"pear"}, b"now")] * 3)


def watch(h, rc, rs):
    k = "w-key"
    out = partner(rc, k, "w-out")
    cnt = partner(rc, k, "w-cnt")
    other = rs[2]
    # A watched string written by another client: EXEC is nil, nothing applied.
    rs[0].set(k, "1")
    with rs[0].pipeline() as p:
        p.watch(k)
        other.set(k, "2")
        p.multi()
        p.set(out, "applied")
        err = raises(p.execute)
    h.check("WATCH: a string written meanwhile makes EXEC nil (WatchError)", err and "WatchError" in err, str(err))
    h.eq("WATCH: nothing applied", everywhere(rs, out), [None] * 3)
    # A watched counter incremented meanwhile (typed state, not in the register's context).
    rs[0].incr(cnt)
    with rs[0].pipeline() as p:
        p.watch(cnt)
        other.incr(cnt)
        p.multi()
        p.set(out, "applied")
        err = raises(p.execute)
    h.check("WATCH: a counter incremented meanwhile makes EXEC nil", err and "WatchError" in err, str(err))
    h.eq("WATCH: nothing applied (counter)", everywhere(rs, out), [None] * 3)
    # Not changed: EXEC runs. UNWATCH forgets.
    with rs[0].pipeline() as p:
        p.watch(k, cnt)
        p.multi()
        p.set(out, "ok")
        h.eq("WATCH: unchanged keys: EXEC runs", p.execute(), [True])
    with rs[1].pipeline() as p:
        p.watch(k)
        other.set(k, "3")
        p.unwatch()
        p.multi()
        p.set(out, "after-unwatch")
        h.eq("UNWATCH: the change no longer matters", p.execute(), [True])
    # transaction(): a conflict on the first try, then it applies once.
    tries = []

    def fn(pipe):
        v = int(pipe.get(k) or 0)
        if not tries:
            other.set(k, str(v + 100))
        tries.append(v)
        pipe.multi()
        pipe.set(k, str(v + 1))
        pipe.incr(cnt)
    rs[0].set(k, "10")
    before = int(rs[0].get(cnt))
    rs[0].transaction(fn, k)
    h.eq("transaction(): retried after the conflict, applied once", (tries, rs[1].get(k), int(rs[2].get(cnt))),
         ([10, 110], b"111", before + 1))


def replicated(h, rc, rs, ns):
    """Every key of a transaction is on both home replicas (DYNA.LOCAL) when EXEC answers."""
    a = "rep-a"
    keys = [a] + [partner(rc, a, "rep-%d-" % i) for i in range(3)]
    p = rs[0].pipeline()
    for i, k in enumerate(keys):
        p.set(k, "v%d" % i)
    p.execute()

    def homes():
        held = [[bool(x.execute_command("DYNA.LOCAL", k)[1]) for k in keys] for x in rs]
        return [row for row in held if any(row)]
    # W = N = 2: EXEC answered after both home replicas acknowledged the batch, so both
    # hold all of it now (no waiting: repair must not be what puts it there).
    h.eq("the batch is on both home replicas, whole, when EXEC answers", homes(), [[True] * len(keys)] * 2)


def no_quorum(h, rc, rs, ns):
    """The other nodes stopped: EXEC answers one error (no array of answers)."""
    a = "nq-a"
    b = partner(rc, a, "nq-b")
    for n in ns[1:]:
        os.kill(n.pid, signal.SIGSTOP)
    try:
        c = connect(ns[0].port, host=ns[0].host, timeout=20)
        got = [show(x) for x in c.pipeline([("MULTI",), ("SET", a, "1"), ("INCR", b), ("EXEC",)])]
        c.close()
    finally:
        for n in ns[1:]:
            os.kill(n.pid, signal.SIGCONT)
    h.check("no quorum: EXEC answers one error for the whole transaction (%s)" % got[3],
            isinstance(got[3], str) and got[3].startswith("-NOQUORUM"), str(got))


if __name__ == "__main__":
    H.run([
        ("3-node cluster, N=2: transactions through every node", t_cluster),
    ])
    sys.exit(1 if H.failures else 0)
