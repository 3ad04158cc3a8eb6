#!/usr/bin/python3
"""Redis's own tools (Debian's redis-tools 7.0) against a 3-node cluster (N=2, on
127.0.0.91-93):

- redis-cli --pipe: a generated file of 10,000 commands (SET, SADD, HSET, INCR, as RESP)
  piped into one node; redis-cli's summary says "errors: 0, replies: 10000"; every value
  is then read back through another node.
- redis-cli -c (cluster mode, which follows -MOVED/-ASK): SET, SADD, GET, SMEMBERS through
  different nodes; any node coordinates any key, so none is redirected.
- redis-cli reading a MULTI ... EXEC from a here-doc prints QUEUED and EXEC's elements as
  it does for Redis 7.0 (a transcript recorded from redis-server 7.0), EXECABORT after a
  wrong-arity command, and only the first transaction's writes are there.
- redis-benchmark with its default test list (no -t: PING, SET, GET, INCR, LPUSH, RPUSH,
  LPOP, RPOP, SADD, HSET, SPOP, ZADD, ZPOPMIN, LRANGE_100..600, MSET) against one node:
  it exits 0, prints no error ("Error from server: ..." ends it with exit 1) and reports
  every test of the list. -n 200 -c 10 keeps it short: every list test pushes to or pops
  one list (mylist), and a list write costs time in the list's length (the list tests took
  80 s of -n 600 under ASan on a busy machine).

- Before those, on a key space of a few known keys: redis-cli --scan --pattern (every key
  once, nothing else, also a pattern starting with a {hash tag}), --bigkeys (the biggest
  key of each type with its size), --memkeys (it completes; every size is 0 bytes, since
  Dyna does not serve MEMORY USAGE: docs/compatibility.md), -3 HGETALL (a RESP3 map,
  printed as "field value" lines; -2 prints them one per line), -c with hash-tagged keys
  (MSET, MGET, RENAME, COPY through different nodes), INFO keyspace (the section header
  only) and redis-cli --cluster check (every node a master, slots agreed and all covered;
  each master counts the whole cluster's keys).

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

# The key space the redis-cli key tests see: strings rt:s0..rt:s9 of 1..10 bytes, a list
# of 6, a set of 4, a sorted set of 5, and three keys under the {user:7} tag (a hash of 3
# fields among them).
KS_STRINGS = ["rt:s%d" % i for i in range(10)]
KS_TAGGED = ["{user:7}.name", "{user:7}.profile", "{user:7}.tags"]
KS_ALL = sorted(KS_STRINGS + ["rt:list", "rt:set", "rt:zset"] + KS_TAGGED)


def out_of(r):
    return r.stdout.decode("utf-8", "replace")


def t_keyspace_setup(h):
    c1 = S["nodes"][0]
    cmds = [("SET", k, "x" * (i + 1)) for i, k in enumerate(KS_STRINGS)]
    cmds += [("RPUSH", "rt:list", "a", "b", "c", "d", "e", "f"), ("SADD", "rt:set", "1", "2", "3", "4"),
             ("ZADD", "rt:zset", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e"), ("SET", "{user:7}.name", "ann"),
             ("HSET", "{user:7}.profile", "city", "oslo", "age", "30", "lang", "nb"), ("SADD", "{user:7}.tags", "x")]
    h.check("the key space written", all(not isinstance(r, Exception) for r in pipelined(c1, cmds)))


def t_cli_scan(h):
    ns = S["nodes"]
    for node in ns:
        r = cli(node, "--scan", "--pattern", "rt:*")
        keys = out_of(r).split()
        h.check("redis-cli --scan --pattern rt:* through %s: every rt: key once, no other" % node.name,
                r.returncode == 0 and sorted(keys) == sorted(k for k in KS_ALL if k.startswith("rt:")),
                "exit %s, %s" % (r.returncode, short(keys)))
    r = cli(ns[1], "--scan", "--pattern", "{user:7}.*")
    h.eq("redis-cli --scan --pattern {user:7}.*", (r.returncode, sorted(out_of(r).split())), (0, KS_TAGGED))
    r = cli(ns[2], "--scan")
    h.eq("redis-cli --scan: the whole key space", (r.returncode, sorted(out_of(r).split())), (0, KS_ALL))
    r = cli(ns[0], "DBSIZE")
    h.eq("DBSIZE", out_of(r).strip(), str(len(KS_ALL)))


def t_cli_bigkeys(h):
    r = cli(S["nodes"][1], "--bigkeys")
    text = out_of(r)
    summary = text[text.find("-------- summary -------"):]
    print(summary.strip())
    h.check("redis-cli --bigkeys exited 0", r.returncode == 0, text[-300:])
    for want in ("Sampled %d keys in the keyspace!" % len(KS_ALL),
                 "Biggest string found '\"rt:s9\"' has 10 bytes",
                 "Biggest   list found '\"rt:list\"' has 6 items",
                 "Biggest   hash found '\"{user:7}.profile\"' has 3 fields",
                 "Biggest    set found '\"rt:set\"' has 4 members",
                 "Biggest   zset found '\"rt:zset\"' has 5 members",
                 "11 strings with 58 bytes"):
        h.check("redis-cli --bigkeys: %s" % want, want in summary, summary[-400:])


def t_cli_memkeys(h):
    r = cli(S["nodes"][2], "--memkeys")
    text = out_of(r)
    summary = text[text.find("-------- summary -------"):]
    h.check("redis-cli --memkeys exited 0", r.returncode == 0, text[-300:])
    h.check("redis-cli --memkeys sampled every key", "Sampled %d keys in the keyspace!" % len(KS_ALL) in summary, summary)
    h.check("... every size 0 bytes (MEMORY USAGE is not served)",
            "11 strings with 0 bytes" in summary and "1 hashs with 0 bytes" in summary and "Biggest" not in summary,
            summary[-400:])
    r = cli(S["nodes"][2], "MEMORY", "USAGE", "rt:s1")
    h.eq("MEMORY USAGE: unknown command", out_of(r).strip(),
         "ERR unknown command 'MEMORY', with args beginning with: 'USAGE' 'rt:s1'")


def t_cli_resp3(h):
    n = S["nodes"][1]
    r = cli(n, "-3", "HGETALL", "{user:7}.profile")
    h.eq("redis-cli -3 HGETALL: a map, one field value pair per line",
         (r.returncode, sorted(out_of(r).splitlines())), (0, ["age 30", "city oslo", "lang nb"]))
    r = cli(n, "-2", "HGETALL", "{user:7}.profile")
    lines = out_of(r).splitlines()
    h.eq("redis-cli -2 HGETALL: a flat array", (r.returncode, sorted(zip(lines[::2], lines[1::2]))),
         (0, [("age", "30"), ("city", "oslo"), ("lang", "nb")]))
    r = cli(n, "-3", "SMEMBERS", "rt:set")
    h.eq("redis-cli -3 SMEMBERS", (r.returncode, sorted(out_of(r).split())), (0, ["1", "2", "3", "4"]))
    r = cli(n, "-3", "ZSCORE", "rt:zset", "c")
    h.eq("redis-cli -3 ZSCORE: a double", (r.returncode, out_of(r).strip()), (0, "3"))


def t_cli_hash_tags(h):
    ns = S["nodes"]
    steps = [
        (ns[0], ("MSET", "{user:7}.a", "x", "{user:7}.b", "y"), "OK"),
        (ns[1], ("MGET", "{user:7}.a", "{user:7}.b", "{user:7}.nope"), "x\ny\n"),
        (ns[2], ("RENAME", "{user:7}.a", "{user:7}.c"), "OK"),
        (ns[0], ("MGET", "{user:7}.a", "{user:7}.c"), "\nx"),
        (ns[1], ("COPY", "{user:7}.c", "{user:7}.d"), "1"),
        (ns[2], ("GET", "{user:7}.d"), "x"),
        (ns[0], ("DEL", "{user:7}.b", "{user:7}.c", "{user:7}.d"), "3"),
        (ns[1], ("CLUSTER", "KEYSLOT", "{user:7}.a"), "2780"),
        (ns[2], ("CLUSTER", "KEYSLOT", "user:7"), "2780"),  # CRC16-XMODEM("user:7") mod 16384
    ]
    for node, args, want in steps:
        r = cli(node, "-c", *args)
        got = out_of(r).strip("\n")
        h.check("redis-cli -c through %s: %s -> %r" % (node.name, " ".join(args), want),
                r.returncode == 0 and got == want.strip("\n"), "exit %s, %r %r" % (r.returncode, got, r.stderr[-200:]))


def t_cli_info_keyspace(h):
    r = cli(S["nodes"][0], "INFO", "keyspace")
    h.eq("INFO keyspace: the section header, no db line (one node does not count the cluster's keys)",
         (r.returncode, out_of(r).strip()), (0, "# Keyspace"))


def t_cli_cluster_check(h):
    ns = S["nodes"]
    r = subprocess.run(["redis-cli", "--cluster", "check", "%s:%d" % (ns[0].host, ns[0].port)],
                       capture_output=True, timeout=60)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out_of(r))
    print("\n".join(ln[:160] for ln in text.splitlines()))
    h.check("redis-cli --cluster check exited 0", r.returncode == 0, text[-300:])
    for want in ("[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered.",
                 "[OK] %d keys in 3 masters." % (3 * len(KS_ALL))):
        h.check("redis-cli --cluster check: %s" % want, want in text, text[-300:])
    masters = re.findall(r"^M: ([0-9a-f]{40}) (\S+)$", text, re.M)
    h.eq("... every node a master, by its address", sorted(a for _, a in masters),
         sorted("%s:%d" % (n.host, n.port) for n in ns))
    h.check("... no error or warning", "[ERR]" not in text and "[WARNING]" not in text, text[-300:])


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


# A transaction typed on redis-cli's standard input (a here-doc), and what redis-cli 7.0
# prints for it against redis-server 7.0 (recorded from Debian's, so that this test needs
# none): QUEUED per command, then EXEC's elements one per line (an error element, then a
# blank line; a nil element, a blank line); a wrong-arity GET aborts the second EXEC, and
# its SET was not applied (the last GET prints a blank line: nil).
CLI_TX_STDIN = """MULTI
SET {cli:tx}a hello
INCR {cli:tx}n
SADD {cli:tx}a m
GET {cli:tx}a
GET {cli:tx}none
EXEC
MULTI
SET {cli:tx}b v
GET
EXEC
GET {cli:tx}b
"""
CLI_TX_REDIS7 = """OK
QUEUED
QUEUED
QUEUED
QUEUED
QUEUED
OK
1
WRONGTYPE Operation against a key holding the wrong kind of value

hello

OK
QUEUED
ERR wrong number of arguments for 'get' command

EXECABORT Transaction discarded because of previous errors.


"""


def t_cli_transaction(h):
    n = S["nodes"][0]
    r = subprocess.run(["sh", "-c", 'redis-cli -h "$1" -p "$2" <<EOF\n%sEOF\n' % CLI_TX_STDIN, "sh", n.host, str(n.port)],
                       capture_output=True, timeout=60)
    h.eq("redis-cli reading MULTI ... EXEC from a here-doc prints what it prints for Redis 7.0",
         (r.returncode, out_of(r)), (0, CLI_TX_REDIS7))
    r = cli(S["nodes"][1], "MGET", "{cli:tx}a", "{cli:tx}n", "{cli:tx}b")
    h.eq("... the first transaction applied, the aborted one not (read through another node)",
         (r.returncode, out_of(r)), (0, "hello\n1\n\n"))


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
        ("a small key space for the redis-cli key tests", t_keyspace_setup),
        ("redis-cli --scan --pattern", t_cli_scan),
        ("redis-cli --bigkeys", t_cli_bigkeys),
        ("redis-cli --memkeys", t_cli_memkeys),
        ("redis-cli -3 (RESP3)", t_cli_resp3),
        ("redis-cli -c with hash-tagged keys", t_cli_hash_tags),
        ("INFO keyspace", t_cli_info_keyspace),
        ("redis-cli --cluster check", t_cli_cluster_check),
        ("redis-cli --pipe of 10,000 commands, then every value read back", t_pipe),
        ("redis-cli -c (cluster mode) through every node", t_cli_cluster_mode),
        ("redis-cli: a MULTI/EXEC typed on standard input", t_cli_transaction),
        ("redis-benchmark, default test list", t_benchmark),
        ("the nodes survived", t_stop),
    ])
