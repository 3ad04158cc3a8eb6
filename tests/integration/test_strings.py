#!/usr/bin/env python3
"""The string commands judged on a quorum read (SET NX|XX|GET, SETNX, GETSET, MSETNX,
APPEND, STRLEN, GETRANGE, SETRANGE, GETDEL): every reply and error text compared with
what Redis 7.0.15 answers (recorded below, so that this test needs no redis-server), on
one node and through every node of a 3-node cluster; pipelines keep Redis's order; and
exactly the cases where Dyna differs from a single Redis:

- siblings: the read sees the last written sibling, and the write (with the context read)
  supersedes every sibling read, leaving one value;
- a partition: two SET NX (and two MSETNX) on the two sides both succeed and the key ends
  with both values as siblings. The two sides are made with SIGSTOP on a 2-node cluster
  (n 2, r 1, w 1): a stopped node is one the other judges unreachable, so each side reads
  and writes alone, as across a cut link; no firewall rules are needed.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Harness, RespError, all_see, settled, partition_heal, partition_resume,  # noqa: E402
                     partition_side_1, partition_side_2, short, start_cluster_node, start_node,
                     start_pair, wait_until)

H = Harness("strings")
S = {}
IPS = {"c1": "127.0.0.51", "c2": "127.0.0.52", "c3": "127.0.0.53", "p1": "127.0.0.54", "p2": "127.0.0.55"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000)

# Each command, in this order on an empty keyspace, and Redis 7.0.15's reply (generated
# once from redis-server 7.0.15 of Debian 12, then written here).
REDIS7 = [
    (('SET', 's1', 'v1', 'NX'), 'OK'),
    (('GET', 's1'), b'v1'),
    (('SET', 's1', 'v2', 'NX'), None),
    (('GET', 's1'), b'v1'),
    (('SET', 's1', 'v3', 'XX'), 'OK'),
    (('GET', 's1'), b'v3'),
    (('SET', 'nx1', 'v', 'XX'), None),
    (('GET', 'nx1'), None),
    (('SET', 's1', 'v4', 'GET'), b'v3'),
    (('SET', 's2', 'v', 'GET'), None),
    (('GET', 's2'), b'v'),
    (('SET', 's1', 'v5', 'NX', 'GET'), b'v4'),
    (('GET', 's1'), b'v4'),
    (('SET', 's3', 'v', 'NX', 'GET'), None),
    (('GET', 's3'), b'v'),
    (('SET', 's1', 'v6', 'XX', 'GET'), b'v4'),
    (('SET', 's4', 'v', 'XX', 'GET'), None),
    (('GET', 's4'), None),
    (('SET', 's1', 'v7', 'nx', 'xx'), RespError('ERR syntax error')),
    (('SET', 's1', 'v7', 'XX', 'NX'), RespError('ERR syntax error')),
    (('SET', 's1', 'v7', 'NX', 'NX'), None),
    (('SET', 's1', 'v8', 'GET', 'GET', 'xx'), b'v6'),
    (('SET', 's1', 'v', 'BOGUS'), RespError('ERR syntax error')),
    (('SET', 's1', 'v', 'NX', 'BOGUS'), RespError('ERR syntax error')),
    (('GET', 's1'), b'v8'),
    (('SETNX', 'n1', 'a'), 1),
    (('SETNX', 'n1', 'b'), 0),
    (('GET', 'n1'), b'a'),
    (('SETNX', 'n1'), RespError("ERR wrong number of arguments for 'setnx' command")),
    (('SETNX', 'n1', 'a', 'b'), RespError("ERR wrong number of arguments for 'setnx' command")),
    (('GETSET', 'g1', 'a'), None),
    (('GETSET', 'g1', 'b'), b'a'),
    (('GET', 'g1'), b'b'),
    (('GETSET', 'g1'), RespError("ERR wrong number of arguments for 'getset' command")),
    (('MSETNX', 'm1', '1', 'm2', '2'), 1),
    (('MGET', 'm1', 'm2'), [b'1', b'2']),
    (('MSETNX', 'm3', '3', 'm1', 'x'), 0),
    (('MGET', 'm1', 'm3'), [b'1', None]),
    (('MSETNX', 'm4', '4', 'm4', '5'), 1),
    (('GET', 'm4'), b'5'),
    (('MSETNX', 'm5'), RespError("ERR wrong number of arguments for 'msetnx' command")),
    (('MSETNX', 'm5', '1', 'm6'), RespError("ERR wrong number of arguments for 'msetnx' command")),
    (('MSETNX',), RespError("ERR wrong number of arguments for 'msetnx' command")),
    (('APPEND', 'a1', 'hello'), 5),
    (('APPEND', 'a1', ' world'), 11),
    (('GET', 'a1'), b'hello world'),
    (('APPEND', 'a1', ''), 11),
    (('APPEND', 'a2', ''), 0),
    (('EXISTS', 'a2'), 1),
    (('GET', 'a2'), b''),
    (('APPEND', 'a1'), RespError("ERR wrong number of arguments for 'append' command")),
    (('STRLEN', 'a1'), 11),
    (('STRLEN', 'nosuch'), 0),
    (('STRLEN', 'a2'), 0),
    (('STRLEN',), RespError("ERR wrong number of arguments for 'strlen' command")),
    (('SET', 'r', 'Hello World'), 'OK'),
    (('GETRANGE', 'r', '0', '4'), b'Hello'),
    (('GETRANGE', 'r', '-5', '-1'), b'World'),
    (('GETRANGE', 'r', '-1', '-5'), b''),
    (('GETRANGE', 'r', '0', '-1'), b'Hello World'),
    (('GETRANGE', 'r', '0', '100'), b'Hello World'),
    (('GETRANGE', 'r', '5', '3'), b''),
    (('GETRANGE', 'r', '-100', '2'), b'Hel'),
    (('GETRANGE', 'r', '-100', '-50'), b'H'),
    (('GETRANGE', 'r', '20', '30'), b''),
    (('GETRANGE', 'r', '3', '-100'), b''),
    (('GETRANGE', 'r', '-3', '100'), b'rld'),
    (('GETRANGE', 'nosuch', '0', '-1'), b''),
    (('GETRANGE', 'r', 'a', '1'), RespError('ERR value is not an integer or out of range')),
    (('GETRANGE', 'r', '0', '1.5'), RespError('ERR value is not an integer or out of range')),
    (('GETRANGE', 'r', '01', '2'), RespError('ERR value is not an integer or out of range')),
    (('GETRANGE', 'r', '+1', '2'), RespError('ERR value is not an integer or out of range')),
    (('GETRANGE', 'r', '-0', '2'), RespError('ERR value is not an integer or out of range')),
    (('GETRANGE', 'r', ' 1', '2'), RespError('ERR value is not an integer or out of range')),
    (('GETRANGE', 'r', '9223372036854775807', '9223372036854775807'), b''),
    (('GETRANGE', 'r', '-9223372036854775808', '3'), b'Hell'),
    (('GETRANGE', 'r', '9223372036854775808', '3'), RespError('ERR value is not an integer or out of range')),
    (('GETRANGE', 'r', '0'), RespError("ERR wrong number of arguments for 'getrange' command")),
    (('SETRANGE', 'r', '6', 'Redis'), 11),
    (('GET', 'r'), b'Hello Redis'),
    (('SETRANGE', 'z', '3', 'ab'), 5),
    (('GET', 'z'), b'\x00\x00\x00ab'),
    (('SETRANGE', 'z', '0', ''), 5),
    (('SETRANGE', 'z2', '5', ''), 0),
    (('EXISTS', 'z2'), 0),
    (('SETRANGE', 'z', '-1', 'x'), RespError('ERR offset is out of range')),
    (('SETRANGE', 'z', 'x', 'x'), RespError('ERR value is not an integer or out of range')),
    (('SETRANGE', 'z', '1', 'XYZW'), 5),
    (('GET', 'z'), b'\x00XYZW'),
    (('STRLEN', 'z'), 5),
    (('SETRANGE', 'z', '536870912', 'x'), RespError('ERR string exceeds maximum allowed size (proto-max-bulk-len)')),
    (('SETRANGE', 'z', '536870911', ''), 5),
    (('SETRANGE', 'z', '1'), RespError("ERR wrong number of arguments for 'setrange' command")),
    (('SETRANGE', 'z', '9223372036854775807', 'x'), RespError('ERR string exceeds maximum allowed size (proto-max-bulk-len)')),
    (('GETDEL', 'g1'), b'b'),
    (('GETDEL', 'g1'), None),
    (('GET', 'g1'), None),
    (('EXISTS', 'g1'), 0),
    (('GETDEL', 'nosuch'), None),
    (('GETDEL',), RespError("ERR wrong number of arguments for 'getdel' command")),
    (('SET', 'e', ''), 'OK'),
    (('GETDEL', 'e'), b''),
    (('EXISTS', 'e'), 0),
]

# Where Dyna answers otherwise on purpose (docs/compatibility.md).
DYNA_ONLY = [
    (("GETRANGE", "", "0", "1"), RespError("ERR empty key")),  # Redis: "" (no empty keys here)
    # The size limit is --max-value-bytes (1 MiB by default), not Redis's 512 MB.
    (("SETRANGE", "big", "1048576", "x"), RespError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")),
    (("SETRANGE", "big", "1048575", "x"), 1048576),
    (("APPEND", "big", "x"), RespError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")),
    (("STRLEN", "big"), 1048576),
    (("SET", "big", "x" * 1048577, "NX"), RespError("TOOBIG value is 1048577 bytes, limit is 1048576")),
]

# One pipeline (one write of all commands) and Redis 7.0.15's replies: each read-then-write
# command sees every earlier command of its connection.
PIPELINE = [("SET", "pk", "a"), ("APPEND", "pk", "b"), ("APPEND", "pk", "c"), ("GET", "pk"), ("SETNX", "px", "1"),
            ("SETNX", "px", "2"), ("GET", "px"), ("PING",), ("GETDEL", "pk"), ("GET", "pk"),
            ("SET", "pk", "z", "GET"), ("MSETNX", "pm", "1", "px", "3"), ("GETRANGE", "pk", "0", "-1"),
            ("SETRANGE", "pk", "3", "q"), ("STRLEN", "pk"), ("GETSET", "pk", "w"), ("MGET", "pk", "pm", "px")]
PIPELINE_REDIS7 = ['OK', 2, 3, b'abc', 1, 0, b'1', 'PONG', b'abc', None, None, 0, b'z', 4, 4, b'z\x00\x00q',
                   [b'w', None, b'1']]


def run_cases(h, clients, cases, label):
    """Sends each case through the next client in turn; one check per case."""
    for i, (cmd, want) in enumerate(cases):
        got = clients[i % len(clients)].call(*cmd)
        h.eq("%s: %s" % (label, short(cmd, 70)), got, want)


def values(reply):
    """The sorted live values of a DYNA.GET / DYNA.LOCAL reply ([context, [values]])."""
    return sorted(reply[1]) if isinstance(reply, list) else reply


def siblings(c, key):
    return values(c.call("DYNA.GET", key))


def siblings_r2(c, key):
    return values(c.call("DYNA.GET", key, "R", "2"))


def local_values(c, key):
    return values(c.call("DYNA.LOCAL", key))


# ---------------------------------------------------------------------------- one node

def t_single(h):
    S["node"] = start_node("n1", h.path("n1"))
    with S["node"].client() as c:
        run_cases(h, [c], REDIS7, "1 node")
        run_cases(h, [c], DYNA_ONLY, "1 node, Dyna's own")
        c.call("DEL", "pk", "px", "pm")
        h.eq("1 node: a pipeline answers as Redis does, in order", c.pipeline(PIPELINE), PIPELINE_REDIS7)


def t_single_siblings(h):
    """Siblings made with DYNA.PUT and the empty context (two writers that read nothing)."""
    with S["node"].client() as c:
        def two(key):
            c.call("DYNA.PUT", key, "", "a")
            c.call("DYNA.PUT", key, "", "b")
            return siblings(c, key)
        h.eq("two DYNA.PUT with the empty context leave two siblings", two("sib1"), [b"a", b"b"])
        h.eq("GET, STRLEN, GETRANGE see the last written sibling",
             (c.call("GET", "sib1"), c.call("STRLEN", "sib1"), c.call("GETRANGE", "sib1", "0", "-1")), (b"b", 1, b"b"))
        h.eq("SET NX on siblings: the key has a value, nothing written", c.call("SET", "sib1", "c", "NX"), None)
        h.eq("... the siblings stay", siblings(c, "sib1"), [b"a", b"b"])
        h.eq("SET XX GET on siblings answers the last written one", c.call("SET", "sib1", "c", "XX", "GET"), b"b")
        h.eq("... and its write supersedes both siblings read", siblings(c, "sib1"), [b"c"])
        two("sib2")
        h.eq("APPEND on siblings appends to the last written one", c.call("APPEND", "sib2", "x"), 2)
        h.eq("... and leaves one value", siblings(c, "sib2"), [b"bx"])
        two("sib3")
        h.eq("SETRANGE on siblings", (c.call("SETRANGE", "sib3", "2", "z"), siblings(c, "sib3")), (3, [b"b\x00z"]))
        two("sib4")
        h.eq("GETDEL on siblings answers the last written one", c.call("GETDEL", "sib4"), b"b")
        h.eq("... and deletes both", (siblings(c, "sib4"), c.call("EXISTS", "sib4")), ([], 0))
        two("sib5")
        h.eq("GETSET on siblings", (c.call("GETSET", "sib5", "n"), siblings(c, "sib5")), (b"b", [b"n"]))
        two("sib6")
        h.eq("MSETNX with a key that has siblings writes nothing",
             (c.call("MSETNX", "fresh6", "1", "sib6", "2"), c.call("EXISTS", "fresh6"), siblings(c, "sib6")),
             (0, 0, [b"a", b"b"]))


# ---------------------------------------------------------------------------- 3 nodes

def t_cluster(h):
    ns = [start_cluster_node("c1", h.path("c1"), IPS["c1"], extra_args=COMMON)]
    for nm in ("c2", "c3"):
        ns.append(start_cluster_node(nm, h.path(nm), IPS[nm], join=ns[0].cluster_addr, extra_args=COMMON))
    wait_until(lambda: settled(ns, ("c1", "c2", "c3")), 30, 0.05,
               "3 valid members seen by every node")
    clients = [n.client() for n in ns]
    try:
        run_cases(h, clients, REDIS7, "3 nodes, each command through the next node")
        clients[1].call("DEL", "pk", "px", "pm")
        h.eq("3 nodes: a pipeline answers as Redis does, in order", clients[1].pipeline(PIPELINE), PIPELINE_REDIS7)
    finally:
        for c in clients:
            c.close()
    for n in ns:
        n.stop()


# ---------------------------------------------------------------------------- a partition

def t_partition(h):
    opts = COMMON + ("--n", 2, "--r", 1, "--w", 1)
    p1, p2 = start_pair(h, IPS, opts)
    c1, c2 = p1.client(), p2.client()
    try:
        # Side 1: p2 is stopped; p1 judges it unreachable and reads and writes alone.
        partition_side_1(p1, p2)
        h.eq("side 1: SET nx A NX -> OK", c1.call("SET", "nx", "A", "NX"), "OK")
        h.eq("side 1: SETNX one A -> 1", c1.call("SETNX", "one", "A"), 1)
        h.eq("side 1: MSETNX m1 A m2 A -> 1", c1.call("MSETNX", "m1", "A", "m2", "A"), 1)
        # Side 2: p1 is stopped, p2 resumes and judges p1 unreachable.
        partition_side_2(p1, p2)
        h.eq("side 2: SET nx B NX -> OK as well (its quorum read found nothing)", c2.call("SET", "nx", "B", "NX"), "OK")
        h.eq("side 2: SETNX one B -> 1 as well", c2.call("SETNX", "one", "B"), 1)
        h.eq("side 2: MSETNX m1 B m2 B -> 1 as well", c2.call("MSETNX", "m1", "B", "m2", "B"), 1)
        # Healed: both values are kept, as siblings.
        partition_heal(p1, p2)
        for key in ("nx", "one", "m1", "m2"):
            got = wait_until(lambda: siblings_r2(c1, key) == [b"A", b"B"] and siblings_r2(c1, key), 30, 0.05,
                             "both values of %s on a full read" % key)
            h.eq("healed: %s holds both writers' values as siblings" % key, got, [b"A", b"B"])
        # Read repair brings both siblings to each replica; a read with R 1 then sees both.
        wait_until(lambda: all(local_values(c, "nx") == [b"A", b"B"] for c in (c1, c2)), 30, 0.05,
                   "both siblings of nx on each replica")
        h.eq("healed: SET nx C NX -> nil: the key has values", c1.call("SET", "nx", "C", "NX"), None)
        h.check("healed: SET nx C XX GET answers the last written sibling",
                c1.call("SET", "nx", "C", "XX", "GET") in (b"A", b"B"))
        h.eq("healed: ... and its write superseded both siblings it read", siblings_r2(c1, "nx"), [b"C"])
    finally:
        partition_resume(p1, p2)
        c1.close()
        c2.close()
    p1.stop()
    p2.stop()


if __name__ == "__main__":
    H.run([
        ("one node: Redis 7's replies", t_single),
        ("one node: siblings", t_single_siblings),
        ("3-node cluster: Redis 7's replies", t_cluster),
        ("a partition: concurrent NX writers both succeed", t_partition),
    ])
