#!/usr/bin/python3
"""hiredis (Debian's libhiredis-dev, installed by scripts/setup.sh) against a 3-node cluster
(N=2, on 127.0.0.81-83): runs tests/clients/hiredis_smoke.c (built by CMake for the
tests), which writes through one node and reads through another: synchronous commands of
each family (strings, counters, sets, hashes, sorted sets, lists, expiry), 1000 commands
pipelined with redisAppendCommand/redisGetReply, error replies in Redis's words
(WRONGTYPE, unknown command, arity, syntax), binary-safe keys and values with NUL bytes,
a SCAN cursor loop (every key back, cursors parsed as unsigned 64-bit numbers), CLUSTER
SLOTS parsed as a cluster client does, HELLO 2, transactions (MULTI/QUEUED/EXEC sent
one at a time and pipelined, EXECABORT after a wrong-arity command, a nil EXEC after a
WATCH conflict, DISCARD). The program's checks are printed as they
run; this test passes when it exits 0 having run checks and failed none.

Environment: DYNA_BIN, DYNA_TMP, DYNA_TESTBIN (where hiredis_smoke is)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness  # noqa: E402
from clientlib import run_checks_program, start_cluster3, stop_all, test_bin_dir  # noqa: E402

H = Harness("hiredis")
IPS = {"c1": "127.0.0.81", "c2": "127.0.0.82", "c3": "127.0.0.83"}


def t_hiredis(h):
    prog = os.path.join(test_bin_dir(), "hiredis_smoke")
    h.expect("hiredis_smoke is built", os.path.exists(prog), prog)
    ns = start_cluster3(h, IPS, ("--n", 2))
    run_checks_program(h, "hiredis_smoke", [prog] + ["%s:%d" % (n.host, n.port) for n in ns])
    stop_all(h, ns)


if __name__ == "__main__":
    H.run([("hiredis: every family, pipelined, errors, binary-safe, transactions, through a 3-node cluster",
            t_hiredis)])
