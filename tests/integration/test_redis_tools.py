#!/usr/bin/python3
"""Redis's own tools (Debian's redis-tools 7.0) against a 3-node cluster (N=2, on
127.0.0.91-93):

- redis-cli --pipe: a generated file of 10,000 commands (SET, SADD, HSET, INCR, as RESP)
  piped into one node; redis-cli's summary says "errors: 0, replies: 10000"; every value
  is then read back through another node.
- redis-cli -c (cluster mode, which follows -MOVED/-ASK): SET, SADD, GET, SMEMBERS through
  different nodes; any node coordinates any key, so none is redirected.
- redis-benchmark with its default test list (no -t: PING, SET, GET, INCR, LPUSH, RPUSH,
  LPOP, RPOP, SADD, HSET, SPOP, ZADD, ZPOPMIN, LRANGE_100..600, MSET) against one node:
  it exits 0, prints no error ("Error from server: ..." ends it with exit 1) and reports
  every test of the list. -n 200 -c 10 keeps it short: every list test pushes to or pops
  one list (mylist), and a list write costs time in the list's length (the list tests took
  80 s of -n 600 under ASan on a busy machine).

redis-cli --scan and --bigkeys need SCAN and are not run here yet.

Environment: DYNA_BIN (directory holding dynad), DYNA_TMP (scratch directory)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, encode_command, pipelined, short  # noqa: E402
from clientlib import start_cluster3, stop_all  # noqa: E402

H = Harness("redis_tools")
IPS = {"c1": "127.0.0.91", "c2": "127.0.0.92", "c3": "127.0.0.93"}
S = {}
N_PIPE = 10000
GROUPS = 10

# redis-benchmark 7.0's default tests, as it names them in its output.
BENCH_DEFAULT = ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET",
                 "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)", "LRANGE_100 (first 100 elements)",
                 "LRANGE_300 (first 300 elements)", "LRANGE_500 (first 500 elements)",
                 "LRANGE_600 (first 600 elements)", "MSET (10 keys)")


def cli(node, *args, stdin=None, timeout=60):
    return subprocess.run(["redis-cli", "-h", node.host, "-p", str(node.port)] + [str(a) for a in args],
                          input=stdin, capture_output=True, timeout=timeout)


def pipe_commands():
    """The 10,000 commands of the --pipe file: a quarter each of SET, SADD, HSET, INCR,
    interleaved, over GROUPS sets, hashes and counters."""
    cmds = []
    for i in range(N_PIPE // 4):
        g = i % GROUPS
        cmds.append(("SET", "pk:%d" % i, "v%d" % i))
        cmds.append(("SADD", "ps:%d" % g, "m%d" % i))
        cmds.append(("HSET", "ph:%d" % g, "f%d" % i, str(i)))
        cmds.append(("INCR", "pc:%d" % g))
    return cmds


def t_start(h):
    S["nodes"] = start_cluster3(h, IPS, ("--n", 2))


def t_pipe(h):
    c1, c2 = S["nodes"][0], S["nodes"][1]
    cmds = pipe_commands()
    h.eq("the file holds 10,000 commands", len(cmds), N_PIPE)
    path = h.path("pipe.resp")
    with open(path, "wb") as f:
        f.write(b"".join(encode_command(*c) for c in cmds))
    with open(path, "rb") as f:
        out = subprocess.run(["redis-cli", "-h", c1.host, "-p", str(c1.port), "--pipe"], stdin=f,
                             capture_output=True, timeout=120)
    text = (out.stdout + out.stderr).decode("utf-8", "replace")
    print(text.strip())
    h.check("redis-cli --pipe exited 0", out.returncode == 0, text[-300:])
    h.check("redis-cli --pipe: errors: 0, replies: 10000", "errors: 0, replies: %d" % N_PIPE in text, text[-300:])
    # Every value, read back through another node.
    per = N_PIPE // 4 // GROUPS
    got = pipelined(c2, [("GET", "pk:%d" % i) for i in range(N_PIPE // 4)])
    bad = [i for i, v in enumerate(got) if v != b"v%d" % i]
    h.check("every SET value read back through c2", not bad, "first wrong: %s" % (bad[:3],))
    h.eq("every set's members", pipelined(c2, [("SCARD", "ps:%d" % g) for g in range(GROUPS)]), [per] * GROUPS)
    h.eq("a set's members exactly", sorted(pipelined(c2, [("SMEMBERS", "ps:3")])[0]),
         sorted(b"m%d" % i for i in range(3, N_PIPE // 4, GROUPS)))
    h.eq("every hash's fields", pipelined(c2, [("HLEN", "ph:%d" % g) for g in range(GROUPS)]), [per] * GROUPS)
    h.eq("a hash field", pipelined(c2, [("HGET", "ph:7", "f1237")]), [b"1237"])
    h.eq("every counter", pipelined(c2, [("GET", "pc:%d" % g) for g in range(GROUPS)]), [b"%d" % per] * GROUPS)


def t_cli_cluster_mode(h):
    ns = S["nodes"]
    steps = [
        (ns[0], ("SET", "cli:greeting", "hello"), "OK"),
        (ns[1], ("GET", "cli:greeting"), "hello"),
        (ns[2], ("GET", "cli:greeting"), "hello"),
        (ns[2], ("SADD", "cli:cart", "book", "pen"), "2"),
        (ns[0], ("SCARD", "cli:cart"), "2"),
        (ns[1], ("INCR", "cli:views"), "1"),
        (ns[2], ("INCRBY", "cli:views", "9"), "10"),
        (ns[0], ("GET", "cli:views"), "10"),
        (ns[1], ("GET", "cli:nokey"), ""),
        (ns[1], ("SADD", "cli:greeting", "x"), "WRONGTYPE Operation against a key holding the wrong kind of value"),
    ]
    for node, args, want in steps:
        out = cli(node, "-c", *args)
        got = out.stdout.decode("utf-8", "replace").strip()
        h.check("redis-cli -c through %s: %s -> %s" % (node.name, " ".join(args), want or "(nil)"),
                out.returncode == 0 and got == want, "exit %s, %r %r" % (out.returncode, got, out.stderr[-200:]))
    out = cli(ns[2], "-c", "SMEMBERS", "cli:cart")
    h.eq("redis-cli -c: SMEMBERS through c3", sorted(out.stdout.decode().split()), ["book", "pen"])


def t_benchmark(h):
    c1 = S["nodes"][0]
    out = subprocess.run(["redis-benchmark", "-h", c1.host, "-p", str(c1.port), "-n", "200", "-c", "10", "-q"],
                         capture_output=True, text=True, timeout=240)
    text = out.stdout + out.stderr
    lines = [ln.strip() for ln in re.split(r"[\r\n]", text) if ln.strip() and "rps=" not in ln]
    print("\n".join(lines))
    bad = [ln for ln in lines if re.search(r"ERR|WRONGTYPE|[Ee]rror", ln)]
    h.check("redis-benchmark exited 0", out.returncode == 0, text[-400:])
    h.check("redis-benchmark printed no error", not bad, "; ".join(bad[:5]))
    done = [ln.split(":")[0] for ln in lines if "requests per second" in ln]
    h.eq("redis-benchmark ran every default test, in order", done, list(BENCH_DEFAULT))


def t_stop(h):
    stop_all(h, S["nodes"])


if __name__ == "__main__":
    H.run([
        ("a 3-node cluster", t_start),
        ("redis-cli --pipe of 10,000 commands, then every value read back", t_pipe),
        ("redis-cli -c (cluster mode) through every node", t_cli_cluster_mode),
        ("redis-benchmark, default test list", t_benchmark),
        ("the nodes survived", t_stop),
    ])
