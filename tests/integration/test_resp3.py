#!/usr/bin/python3
"""RESP3 (issue 17 item 5) against a 3-node cluster, read with a small RESP3 reader of
its own (python3-redis 4.3 has no RESP3 parser):

- HELLO: the server map (RESP2: a flat array; RESP3: a map), Redis 7.0's errors for a bad
  version, an unknown option, AUTH with another user than default, a bad SETNAME; a
  refused HELLO changes nothing; SETNAME names the connection (CLIENT GETNAME).
- RESP2 stays the default; RESET answers +RESET and goes back to RESP2 and no name; a
  command pipelined before HELLO 3 is answered in RESP2, the one after it in RESP3.
- One command of every family in its RESP3 shape, as Redis 7.0 answers after HELLO 3:
  strings and counters, sets (~), hashes (%), sorted sets (scores as doubles, WITHSCORES
  as [member, score] pairs), lists, expiry, nulls (_) for missing keys, CONFIG GET (%),
  COMMAND DOCS (%), COMMAND INFO (flags as ~), INFO (verbatim =txt), through a node that
  is not a replica of some keys (N=2 of 3: typed writes forwarded to their coordinator
  come back in RESP3 too); the same commands on a RESP2 connection keep RESP2's shapes.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Harness, RespError, all_see, settled, encode_command, start_cluster_node,  # noqa: E402
                     wait_until)

H = Harness("resp3")
IPS = {"r1": "127.0.0.111", "r2": "127.0.0.112", "r3": "127.0.0.113"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000, "--n", 2)

# ---------------------------------------------------------------- a RESP3 reader


class Map(dict):
    """A RESP3 map (%): keys in the order sent."""


class Set(list):
    """A RESP3 set (~), elements in the order sent."""


class Double(float):
    """A RESP3 double (,)."""


class Verbatim(bytes):
    """A RESP3 verbatim string (=): .fmt is its 3-byte format ("txt")."""
    fmt = None


class Null(object):
    """RESP3's null (_), told apart from RESP2's nil (None)."""

    def __eq__(self, other):
        return isinstance(other, Null)

    def __hash__(self):
        return 0

    def __repr__(self):
        return "Null"


NULL = Null()


class Conn(object):
    """One socket; call() sends a command and reads one reply (any RESP2 or RESP3 type);
    call_raw() returns one reply's bytes exactly as sent."""

    def __init__(self, node, timeout=10.0):
        self.s = socket.create_connection((node.host, node.port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.s.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"(":
            return int(rest)
        if t == b",":
            return Double(float(rest))
        if t == b"#":
            assert rest in (b"t", b"f"), line
            return rest == b"t"
        if t == b"_":
            return NULL
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            if t == b"$":
                return data
            v = Verbatim(data[4:])
            v.fmt = data[:3].decode()
            return v
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            return Set(items) if t == b"~" else items
        if t == b"%":
            m = Map()
            for _ in range(int(rest)):
                k = self.read()
                m[k] = self.read()
            return m
        raise AssertionError("unknown RESP type in %r" % line)

    def send(self, *args):
        self.s.sendall(encode_command(*args))

    def call(self, *args):
        self.send(*args)
        return self.read()

    def call_raw(self, *args):
        self.send(*args)
        # Fill the buffer until one whole reply is there (parse a copy).
        while True:
            probe = Conn.__new__(Conn)
            probe.s, probe.buf = _NoSocket(), self.buf
            try:
                probe.read()
                break
            except _Short:
                d = self.s.recv(65536)
                if not d:
                    raise EOFError("connection closed")
                self.buf += d
        used = len(self.buf) - len(probe.buf)
        out, self.buf = self.buf[:used], self.buf[used:]
        return out


class _Short(Exception):
    pass


class _NoSocket(object):
    def recv(self, n):
        raise _Short()


# ---------------------------------------------------------------- the cluster


def cluster(h):
    if "nodes" not in S:
        ns = [start_cluster_node("r1", h.path("r1"), IPS["r1"], extra_args=COMMON)]
        for nm in ("r2", "r3"):
            ns.append(start_cluster_node(nm, h.path(nm), IPS[nm], join=ns[0].cluster_addr, extra_args=COMMON))
        wait_until(lambda: settled(ns, ("r1", "r2", "r3")), 30, 0.05,
                   "3 valid members seen by every node")
        S["nodes"] = ns
    return S["nodes"]


S = {}

HELLO_KEYS = [b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"]


def t_hello(h):
    ns = cluster(h)
    c = Conn(ns[0])
    try:
        # RESP2 is the default: a missing key is RESP2's nil, HELLO with no version answers
        # the map as a flat array and stays in RESP2.
        h.eq("default: GET of a missing key is $-1", c.call_raw("GET", "resp3:none"), b"$-1\r\n")
        r = c.call("HELLO")
        h.eq("HELLO: a flat array of 14", (type(r), len(r)), (list, 14))
        h.eq("HELLO: its keys", r[0::2], HELLO_KEYS)
        h.eq("HELLO: proto 2", r[5], 2)
        h.eq("HELLO 2: proto 2", c.call("HELLO", "2")[5], 2)
        # Refused HELLOs, in Redis 7.0's words, change nothing.
        h.eq("HELLO 4", c.call("HELLO", "4"), RespError("NOPROTO unsupported protocol version"))
        h.eq("HELLO 1", c.call("HELLO", "1"), RespError("NOPROTO unsupported protocol version"))
        h.eq("HELLO x", c.call("HELLO", "x"),
             RespError("ERR Protocol version is not an integer or out of range"))
        h.eq("HELLO 3 FOO", c.call("HELLO", "3", "FOO"), RespError("ERR Syntax error in HELLO option 'FOO'"))
        h.eq("HELLO 3 AUTH default (no password)", c.call("HELLO", "3", "AUTH", "default"),
             RespError("ERR Syntax error in HELLO option 'AUTH'"))
        h.eq("HELLO 3 AUTH bob pw", c.call("HELLO", "3", "AUTH", "bob", "pw"),
             RespError("WRONGPASS invalid username-password pair or user is disabled."))
        h.eq("HELLO 3 SETNAME 'a b'", c.call("HELLO", "3", "SETNAME", "a b"),
             RespError("ERR Client names cannot contain spaces, newlines or special characters."))
        h.eq("still RESP2 after the refusals", c.call_raw("GET", "resp3:none"), b"$-1\r\n")
        h.eq("still no name", c.call_raw("CLIENT", "GETNAME"), b"$-1\r\n")
        # HELLO 3: the map, in RESP3.
        m = c.call("HELLO", "3", "AUTH", "default", "any password", "SETNAME", "conn-1")
        h.eq("HELLO 3: a map", type(m), Map)
        h.eq("HELLO 3: its keys in order", list(m.keys()), HELLO_KEYS)
        h.eq("HELLO 3: server, version, proto, mode, role, modules",
             (m[b"server"], m[b"version"], m[b"proto"], m[b"mode"], m[b"role"], m[b"modules"]),
             (b"redis", b"7.0.15", 3, b"cluster", b"master", []))
        h.eq("HELLO 3: id is CLIENT ID", m[b"id"], c.call("CLIENT", "ID"))
        h.eq("SETNAME named the connection", c.call("CLIENT", "GETNAME"), b"conn-1")
        h.eq("RESP3: GET of a missing key is _", c.call_raw("GET", "resp3:none"), b"_\r\n")
        h.eq("HELLO with no version keeps RESP3", c.call("HELLO")[b"proto"], 3)
        h.eq("HELLO 3 SETNAME '' clears the name", (type(c.call("HELLO", "3", "SETNAME", "")),
                                                    c.call("CLIENT", "GETNAME")), (Map, NULL))
        c.call("HELLO", "3", "SETNAME", "conn-2")
        # RESET: back to RESP2 and no name.
        h.eq("RESET", c.call("RESET"), "RESET")
        h.eq("after RESET: RESP2", c.call_raw("GET", "resp3:none"), b"$-1\r\n")
        h.eq("after RESET: no name", c.call_raw("CLIENT", "GETNAME"), b"$-1\r\n")
        h.eq("HELLO 2 from RESP3 goes back too", (c.call("HELLO", "3")[b"proto"], c.call("HELLO", "2")[5],
                                                   c.call_raw("GET", "resp3:none")), (3, 2, b"$-1\r\n"))
        # Pipelined: each command is answered in the protocol in force when it arrived.
        c.s.sendall(encode_command("GET", "resp3:none") + encode_command("HELLO", "3") +
                    encode_command("GET", "resp3:none") + encode_command("RESET") +
                    encode_command("GET", "resp3:none"))
        got = [c.read(), c.read(), c.read(), c.read(), c.read()]
        h.eq("pipelined GET, HELLO 3, GET, RESET, GET", (got[0], type(got[1]), got[2], got[3], got[4]),
             (None, Map, NULL, "RESET", None))
    finally:
        c.close()
    # A new connection starts in RESP2 whatever another one asked.
    c3 = Conn(ns[0])
    c3.call("HELLO", "3")
    c2 = Conn(ns[0])
    try:
        h.eq("another connection stays RESP2", c2.call_raw("GET", "resp3:none"), b"$-1\r\n")
    finally:
        c2.close()
        c3.close()


def forwarded(node):
    info = node_info(node)
    return int(info.get("forwarded", "0"))


def node_info(node):
    c = Conn(node)
    try:
        text = c.call("INFO")
    finally:
        c.close()
    out = {}
    for line in text.decode().split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def t_shapes(h):
    ns = cluster(h)
    w, r = Conn(ns[0]), Conn(ns[1])
    for c in (w, r):
        h.expect("HELLO 3", c.call("HELLO", "3")[b"proto"] == 3)
    try:
        # ---- strings and counters
        h.eq("SET", w.call("SET", "s", "v"), "OK")
        h.eq("GET", r.call("GET", "s"), b"v")
        h.eq("GET missing: null", r.call_raw("GET", "nokey"), b"_\r\n")
        h.eq("MGET: value and null", r.call("MGET", "s", "nokey"), [b"v", NULL])
        h.eq("SET .. GET of a missing key: null", w.call("SET", "s2", "x", "GET"), NULL)
        h.eq("GETDEL missing: null", w.call("GETDEL", "nokey"), NULL)
        h.eq("INCR", w.call("INCR", "views"), 1)
        h.eq("INCRBYFLOAT: a bulk string (as Redis 7.0)", w.call("INCRBYFLOAT", "views", "0.5"), b"1.5")
        # ---- a transaction: EXEC's answers in the client's protocol
        h.eq("MULTI", w.call("MULTI"), "OK")
        for cmd in (("GET", "{tx}none"), ("ZADD", "{tx}z", "1.5", "m"), ("ZSCORE", "{tx}z", "m"),
                    ("HSET", "{tx}h", "f", "v"), ("HGETALL", "{tx}h")):
            h.eq("queued %s" % cmd[0], w.call(*cmd), "QUEUED")
        got = w.call("EXEC")
        h.eq("EXEC in RESP3: null, 1, a double, 1, a map", (got[0], got[1], got[2], got[3], type(got[4])),
             (NULL, 1, 1.5, 1, Map))
        w.call("WATCH", "{tx}w")
        Conn(ns[1]).call("SET", "{tx}w", "changed")
        w.call("MULTI")
        w.call("SET", "{tx}w", "mine")
        h.eq("EXEC after a watched key changed: RESP3's null", w.call_raw("EXEC"), b"_\r\n")
        h.eq("MULTI, then RESET", (w.call("MULTI"), w.call("RESET")), ("OK", "RESET"))
        h.eq("RESET left MULTI: EXEC without MULTI", w.call("EXEC"), RespError("ERR EXEC without MULTI"))
        h.expect("HELLO 3 again", w.call("HELLO", "3")[b"proto"] == 3)
        # ---- sets
        h.eq("SADD", w.call("SADD", "fruit", "apple", "pear", "fig"), 3)
        got = r.call("SMEMBERS", "fruit")
        h.eq("SMEMBERS: a set", (type(got), sorted(got)), (Set, [b"apple", b"fig", b"pear"]))
        h.eq("SMEMBERS missing: empty set", r.call_raw("SMEMBERS", "nokey"), b"~0\r\n")
        w.call("SADD", "other", "pear", "plum")
        got = r.call("SINTER", "fruit", "other")
        h.eq("SINTER: a set", (type(got), got), (Set, [b"pear"]))
        got = r.call("SUNION", "fruit", "other")
        h.eq("SUNION: a set", (type(got), len(got)), (Set, 4))
        got = r.call("SDIFF", "fruit", "other")
        h.eq("SDIFF: a set", (type(got), sorted(got)), (Set, [b"apple", b"fig"]))
        h.eq("SISMEMBER: an integer (as Redis 7.0)", r.call("SISMEMBER", "fruit", "fig"), 1)
        h.eq("SPOP missing: null", w.call("SPOP", "nokey"), NULL)
        got = w.call("SPOP", "other", "1")
        h.eq("SPOP with a count: a set", (type(got), len(got)), (Set, 1))
        # ---- hashes
        h.eq("HSET", w.call("HSET", "user", "name", "ann", "age", "7"), 2)
        got = r.call("HGETALL", "user")
        h.eq("HGETALL: a map", (type(got), dict(got)), (Map, {b"name": b"ann", b"age": b"7"}))
        h.eq("HGETALL missing: empty map", r.call_raw("HGETALL", "nokey"), b"%0\r\n")
        h.eq("HGET missing field: null", r.call("HGET", "user", "zip"), NULL)
        h.eq("HMGET: value and null", r.call("HMGET", "user", "name", "zip"), [b"ann", NULL])
        h.eq("HKEYS: an array (as Redis 7.0)", type(r.call("HKEYS", "user")), list)
        got = r.call("HRANDFIELD", "user", "-1", "WITHVALUES")
        h.eq("HRANDFIELD .. WITHVALUES: [field, value] pairs", (len(got), len(got[0])), (1, 2))
        # ---- sorted sets
        h.eq("ZADD", w.call("ZADD", "board", "1.5", "ann", "2", "bob", "0.1", "cy"), 3)
        got = r.call("ZSCORE", "board", "ann")
        h.eq("ZSCORE: a double", (type(got), got), (Double, 1.5))
        h.eq("ZSCORE: Redis 7.0's text", r.call_raw("ZSCORE", "board", "cy"), b",0.10000000000000001\r\n")
        h.eq("ZSCORE missing member: null", r.call("ZSCORE", "board", "zed"), NULL)
        h.eq("ZMSCORE: double and null", r.call("ZMSCORE", "board", "bob", "zed"), [Double(2), NULL])
        got = w.call("ZINCRBY", "board", "1", "ann")
        h.eq("ZINCRBY: a double", (type(got), got), (Double, 2.5))
        h.eq("ZRANGE WITHSCORES: [member, double] pairs", r.call("ZRANGE", "board", "0", "-1", "WITHSCORES"),
             [[b"cy", Double(0.1)], [b"bob", Double(2)], [b"ann", Double(2.5)]])
        h.eq("ZRANGE WITHSCORES: the doubles' type", {type(p[1]) for p in r.call("ZRANGE", "board", "0", "-1",
                                                                               "WITHSCORES")}, {Double})
        h.eq("ZRANGE: members", r.call("ZRANGE", "board", "0", "0"), [b"cy"])
        h.eq("ZPOPMIN: one flat pair", w.call("ZPOPMIN", "board"), [b"cy", Double(0.1)])
        h.eq("ZPOPMIN 1: pairs", w.call("ZPOPMIN", "board", "1"), [[b"bob", Double(2)]])
        h.eq("ZRANK missing: null", r.call("ZRANK", "board", "zed"), NULL)
        # ---- lists
        h.eq("RPUSH", w.call("RPUSH", "jobs", "a", "b"), 2)
        h.eq("LRANGE", r.call("LRANGE", "jobs", "0", "-1"), [b"a", b"b"])
        h.eq("LINDEX out of range: null", r.call("LINDEX", "jobs", "9"), NULL)
        h.eq("LPOP missing: null", w.call("LPOP", "nokey"), NULL)
        h.eq("LPOP missing with a count: null", w.call_raw("LPOP", "nokey", "2"), b"_\r\n")
        h.eq("LMOVE from a missing list: null", w.call("LMOVE", "nokey", "jobs", "LEFT", "RIGHT"), NULL)
        # ---- expiry and keys
        h.eq("EXPIRE", w.call("EXPIRE", "jobs", "100"), 1)
        ttl = r.call("TTL", "jobs")
        h.eq("TTL: an integer", (type(ttl), 0 < ttl <= 100), (int, True))
        h.eq("TTL missing: -2", r.call("TTL", "nokey"), -2)
        h.eq("TYPE: a status", r.call("TYPE", "jobs"), "list")
        h.eq("OBJECT ENCODING missing: null", r.call("OBJECT", "ENCODING", "nokey"), NULL)
        # ---- typed writes through a node that is not a replica of the key (forwarded)
        before = forwarded(ns[0])
        doubles = [w.call("ZINCRBY", "fz:%d" % i, "0.5", "m") for i in range(12)]
        h.eq("ZINCRBY on 12 keys through r1: doubles", {(type(d), d) for d in doubles}, {(Double, 0.5)})
        h.check("some of them were forwarded to their coordinator", forwarded(ns[0]) > before,
                "forwarded %d -> %d" % (before, forwarded(ns[0])))
        pops = [w.call("SPOP", "fz:none:%d" % i) for i in range(12)]
        h.eq("SPOP of 12 missing keys through r1: nulls", pops, [NULL] * 12)
        # ---- server commands
        got = r.call("CONFIG", "GET", "maxclients")
        h.eq("CONFIG GET: a map", (type(got), list(got.keys())), (Map, [b"maxclients"]))
        h.eq("CONFIG GET of nothing: empty map", r.call_raw("CONFIG", "GET", "no-such-option"), b"%0\r\n")
        got = r.call("COMMAND", "DOCS", "get")
        h.eq("COMMAND DOCS: a map of maps", (type(got), list(got.keys()), type(got.get(b"get"))),
             (Map, [b"get"], Map))
        h.eq("COMMAND DOCS: the group", got[b"get"].get(b"group"), b"string")
        got = r.call("COMMAND", "INFO", "get")[0]
        h.eq("COMMAND INFO: flags and categories are sets", (type(got[2]), sorted(got[2]), type(got[6])),
             (Set, ["fast", "readonly"], Set))
        h.eq("COMMAND INFO: a key spec is a map", type(got[8][0]), Map)
        h.eq("COMMAND INFO of an unknown name: null", r.call("COMMAND", "INFO", "nosuch"), [NULL])
        got = r.call("INFO")
        h.eq("INFO: a verbatim text", (type(got), got.fmt, b"redis_version:" in got), (Verbatim, "txt", True))
        h.eq("PING: a status", r.call("PING"), "PONG")
        h.eq("an error stays an error", r.call("GET"), RespError("ERR wrong number of arguments for 'get' command"))
    finally:
        w.close()
        r.close()
    # The same commands on a RESP2 connection: RESP2's shapes, as before.
    c = Conn(ns[2])
    try:
        h.eq("RESP2 SMEMBERS: an array", type(c.call("SMEMBERS", "fruit")), list)
        h.eq("RESP2 HGETALL: a flat array", len(c.call("HGETALL", "user")), 4)
        h.eq("RESP2 ZSCORE: a bulk string", c.call_raw("ZSCORE", "board", "ann"), b"$3\r\n2.5\r\n")
        h.eq("RESP2 ZRANGE WITHSCORES: flat", c.call("ZRANGE", "board", "0", "-1", "WITHSCORES"), [b"ann", b"2.5"])
        h.eq("RESP2 ZINCRBY through r3: bulk strings",
             {c.call("ZINCRBY", "fz:%d" % i, "0.5", "m") for i in range(12)}, {b"1"})
        h.eq("RESP2 LPOP missing with a count: *-1", c.call_raw("LPOP", "nokey", "2"), b"*-1\r\n")
        h.eq("RESP2 CONFIG GET: a flat array", c.call("CONFIG", "GET", "maxclients")[0], b"maxclients")
        h.eq("RESP2 INFO: a bulk string", type(c.call("INFO")), bytes)
    finally:
        c.close()


if __name__ == "__main__":
    H.run([
        ("hello", t_hello),
        ("shapes", t_shapes),
    ])
