#!/usr/bin/python3
"""The typed commands' path through one dynad (runtime/cmd_typed.c): an issue-16 command
whose family has no function yet answers Redis's unknown-command error (and is still in
the command table), multi-key reads span partitions (each key is its own quorum read), and the string
commands keep their behaviour: GET/DEL/EXISTS on strings, SET over a key superseding it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, RespError, start_node  # noqa: E402

H = Harness("typed_path")
STATE = {}


def node():
    return STATE["node"]


def t_start(h):
    STATE["node"] = start_node("n1", h.path("n1"))
    h.check("dynad started on port %d" % node().port, True)


def t_typed(h):
    with node().client() as c:
        info = c.call("COMMAND", "INFO", "incr")
        h.check("COMMAND INFO incr: in the table, arity 2", info and info[0] and info[0][1] == 2, str(info))
        r = c.call("INCR", "n")
        # Until its family lands, a typed command answers the unknown-command error;
        # after that, its own answer (either way: not a crash, not a hang).
        h.check("INCR n -> unknown command (no family yet) or 1",
                r == 1 or (isinstance(r, RespError) and "unknown command 'INCR'" in str(r)), str(r))
        keys = ["k%d" % i for i in range(64)]
        r = c.call("SINTER", *keys)
        h.eq("SINTER over many partitions (absent keys) -> the empty array", r, [])


def t_strings(h):
    with node().client() as c:
        h.eq("SET k v", c.call("SET", "k", "v"), "OK")
        h.eq("GET k", c.call("GET", "k"), b"v")
        h.eq("EXISTS k missing", c.call("EXISTS", "k", "missing"), 1)
        h.eq("SET k w supersedes", (c.call("SET", "k", "w"), c.call("GET", "k")), ("OK", b"w"))
        h.eq("MGET k missing", c.call("MGET", "k", "missing"), [b"w", None])
        h.eq("DEL k missing -> 1", c.call("DEL", "k", "missing"), 1)
        h.eq("GET k after DEL -> nil", c.call("GET", "k"), None)
        h.eq("EXISTS k after DEL -> 0", c.call("EXISTS", "k"), 0)


if __name__ == "__main__":
    H.run([
        ("start", t_start),
        ("typed commands", t_typed),
        ("strings", t_strings),
    ])
