#!/usr/bin/python3
"""Basic client protocol of a single dynad: Redis commands, DYNA.* versioning, restart,
data-dir locking, the --read-all and --durable-reads options, and compatibility with redis-cli and
redis-benchmark."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (ConnectionClosed, Harness, RespError, dynad_path, encode_command,  # noqa: E402
                     short, start_node, wait_until)

H = Harness("basic")
STATE = {}


def node():
    return STATE["node"]


def t_start(h):
    STATE["data"] = h.path("n1")
    STATE["node"] = start_node("n1", STATE["data"])
    h.check("dynad started and answers PING on port %d" % node().port, True)


def t_simple(h):
    with node().client() as c:
        h.eq("PING -> PONG", c.call("PING"), "PONG")
        h.eq("PING msg -> bulk msg", c.call("PING", "hello"), b"hello")
        h.eq("ECHO", c.call("ECHO", "hi there"), b"hi there")
        h.eq("SET k v -> OK", c.call("SET", "k", "v"), "OK")
        h.eq("GET k -> v", c.call("GET", "k"), b"v")
        h.eq("SET k v2 overwrites", (c.call("SET", "k", "v2"), c.call("GET", "k")), ("OK", b"v2"))
        h.eq("GET missing -> nil", c.call("GET", "no-such-key"), None)
        h.eq("SET empty value", (c.call("SET", "empty", ""), c.call("GET", "empty")), ("OK", b""))

        for k in ("d1", "d2", "d3"):
            c.call("SET", k, "x")
        h.eq("DEL d1 d2 missing -> 2", c.call("DEL", "d1", "d2", "missing"), 2)
        h.eq("GET after DEL -> nil", c.call("GET", "d1"), None)
        h.eq("DEL again -> 0", c.call("DEL", "d1"), 0)

        c.call("SET", "e1", "1")
        c.call("SET", "e2", "2")
        h.eq("EXISTS e1 e2 missing d1 d3 -> 3", c.call("EXISTS", "e1", "e2", "missing", "d1", "d3"), 3)
        h.eq("EXISTS counts repeats (e1 e1) -> 2", c.call("EXISTS", "e1", "e1"), 2)

        h.eq("MGET e1 missing e2", c.call("MGET", "e1", "missing", "e2"), [b"1", None, b"2"])
        h.eq("MSET a 1 b 2 c 3 -> OK", c.call("MSET", "ma", "1", "mb", "2", "mc", "3"), "OK")
        h.eq("MGET after MSET", c.call("MGET", "ma", "mb", "mc"), [b"1", b"2", b"3"])

        bk = b"bin\r\nkey\x00with\xffbytes\r\n"
        bv = b"\x00\r\n\x00value\r\n" + bytes(range(256)) + b"\r\n"
        h.eq("SET binary key/value", c.call("SET", bk, bv), "OK")
        h.eq("GET binary key -> exact bytes", c.call("GET", bk), bv)
        h.eq("binary key differs from its prefix", c.call("GET", b"bin\r\nkey"), None)
        h.eq("MGET binary", c.call("MGET", bk, "ma"), [bv, b"1"])

        h.eq("wrong arity is an error", isinstance(c.call("GET"), RespError), True)
        h.eq("connection still usable after an error", c.call("PING"), "PONG")


def t_pipeline(h):
    with node().client() as c:
        cmds = []
        for i in range(1000):
            if i % 2 == 0:
                cmds.append(("SET", "pipe:%d" % i, "val:%d" % i))
            else:
                cmds.append(("GET", "pipe:%d" % (i - 1)))
        payload = b"".join(encode_command(*x) for x in cmds)
        c.send_raw(payload)  # one write (one sendall of the whole batch)
        replies = c.read_replies(1000)
        want = ["OK" if i % 2 == 0 else ("val:%d" % (i - 1)).encode() for i in range(1000)]
        bad = [i for i in range(1000) if replies[i] != want[i]]
        h.check("1000 pipelined commands -> 1000 replies in order", not bad,
                "first mismatch at %s: %s" % (bad[:1], short(replies[bad[0]]) if bad else ""))
        h.eq("nothing extra after 1000 replies", c.call("PING"), "PONG")
        # The look ahead that prefetches a batch's keys (runtime/conn.c) meets every kind
        # of command: keyless, inline, multi-key, long keys, a key written earlier in
        # the same batch; the answers are what they would be one at a time.
        long_key = "L" * 300
        parts, want = [], []
        for i in range(300):
            k = "{mix}%d" % i
            kind = i % 6
            if kind == 0:
                parts.append(encode_command("SET", k, "v%d" % i)); want.append("OK")
            elif kind == 1:
                parts.append(encode_command("GET", "{mix}%d" % (i - 1))); want.append(b"v%d" % (i - 1))
            elif kind == 2:
                parts.append(b"PING\r\n"); want.append("PONG")
            elif kind == 3:
                parts.append(encode_command("MGET", "{mix}%d" % (i - 3), "{mix}absent%d" % i))
                want.append([b"v%d" % (i - 3), None])
            elif kind == 4:
                parts.append(encode_command("SET", long_key + str(i), "l%d" % i)); want.append("OK")
            else:
                parts.append(encode_command("GET", long_key + str(i - 1))); want.append(b"l%d" % (i - 1))
        c.send_raw(b"".join(parts))
        replies = c.read_replies(len(want))
        bad = [i for i in range(len(want)) if replies[i] != want[i]]
        h.check("300 pipelined commands of every kind -> their answers in order", not bad,
                "first mismatch at %s: %s" % (bad[:1], short(replies[bad[0]]) if bad else ""))


def t_inline(h):
    with node().client() as c:
        c.send_raw(b"PING\r\n")
        h.eq("inline PING", c.read_reply(), "PONG")
        c.send_raw(b"SET inl b\r\n")
        h.eq("inline SET inl b", c.read_reply(), "OK")
        h.eq("GET inl -> b", c.call("GET", "inl"), b"b")
        c.send_raw(b"GET inl\nECHO \"a b\"\r\n")
        h.eq("inline with bare LF and quoted arg", c.read_replies(2), [b"b", b"a b"])


def t_versions(h):
    with node().client() as c:
        ctx = c.call("DYNA.PUT", "vk", "", "v1")
        h.expect("DYNA.PUT with empty context -> non-empty context", isinstance(ctx, bytes) and ctx,
                 short(ctx))
        r = c.call("DYNA.GET", "vk")
        h.check("DYNA.GET -> [context, [v1]]",
                isinstance(r, list) and len(r) == 2 and isinstance(r[0], bytes) and r[0] and r[1] == [b"v1"],
                short(r))

        # Siblings: two writes from the same (now stale) context.
        ctx0 = c.call("DYNA.PUT", "sk", "", "base")
        h.expect("DYNA.PUT sk base", isinstance(ctx0, bytes) and ctx0, short(ctx0))
        ra = c.call("DYNA.PUT", "sk", ctx0, "alpha")
        rb = c.call("DYNA.PUT", "sk", ctx0, "beta")
        h.check("two DYNA.PUTs from one context both accepted",
                isinstance(ra, bytes) and isinstance(rb, bytes), "%s %s" % (short(ra), short(rb)))
        r = c.call("DYNA.GET", "sk")
        h.check("DYNA.GET shows exactly 2 siblings {alpha, beta}",
                isinstance(r, list) and len(r) == 2 and isinstance(r[1], list)
                and sorted(r[1]) == [b"alpha", b"beta"], short(r))
        h.eq("plain GET on siblings -> last written (beta)", c.call("GET", "sk"), b"beta")
        h.eq("EXISTS on siblings -> 1", c.call("EXISTS", "sk"), 1)
        loc = c.call("DYNA.LOCAL", "sk")
        h.check("DYNA.LOCAL shape [context, [values]] with the same 2 siblings",
                isinstance(loc, list) and len(loc) == 2 and isinstance(loc[0], bytes)
                and isinstance(loc[1], list) and sorted(loc[1]) == [b"alpha", b"beta"], short(loc))
        # A write carrying the context of that read supersedes both siblings.
        merged = r[0]
        rc = c.call("DYNA.PUT", "sk", merged, "merged")
        h.check("DYNA.PUT with the merged context accepted", isinstance(rc, bytes) and rc, short(rc))
        r2 = c.call("DYNA.GET", "sk")
        h.check("merged write collapses siblings to 1", isinstance(r2, list) and r2[1] == [b"merged"],
                short(r2))
        h.eq("GET after merge", c.call("GET", "sk"), b"merged")

        # Sibling set does not grow when the same stale context is reused repeatedly
        # (no sibling explosion): base + 3 concurrent writes -> 3 siblings.
        c0 = c.call("DYNA.PUT", "xk", "", "x0")
        for v in ("x1", "x2", "x3"):
            c.call("DYNA.PUT", "xk", c0, v)
        r3 = c.call("DYNA.GET", "xk")
        h.check("3 writes from one context -> exactly 3 siblings",
                isinstance(r3, list) and isinstance(r3[1], list) and sorted(r3[1]) == [b"x1", b"x2", b"x3"],
                short(r3))

        # Delete with context.
        r = c.call("DYNA.GET", "vk")
        d = c.call("DYNA.DEL", "vk", r[0])
        h.check("DYNA.DEL with context -> a context (not an error)", isinstance(d, bytes), short(d))
        r = c.call("DYNA.GET", "vk")
        h.check("DYNA.GET after DYNA.DEL -> [context, []]",
                isinstance(r, list) and len(r) == 2 and r[1] == [], short(r))
        h.eq("GET after DYNA.DEL -> nil", c.call("GET", "vk"), None)
        h.eq("EXISTS after DYNA.DEL -> 0", c.call("EXISTS", "vk"), 0)

        r = c.call("DYNA.GET", "never-written")
        h.check("DYNA.GET of a missing key -> [\"\", []]",
                isinstance(r, list) and len(r) == 2 and r[1] == [] and isinstance(r[0], bytes), short(r))
        r = c.call("DYNA.LOCAL", "never-written")
        h.check("DYNA.LOCAL of a missing key -> [ctx, []]",
                isinstance(r, list) and len(r) == 2 and r[1] == [], short(r))

        # SET on siblings supersedes all of them.
        c0 = c.call("DYNA.PUT", "sset", "", "s0")
        c.call("DYNA.PUT", "sset", c0, "s1")
        c.call("DYNA.PUT", "sset", c0, "s2")
        h.eq("SET over siblings -> OK", c.call("SET", "sset", "plain"), "OK")
        r = c.call("DYNA.GET", "sset")
        h.check("SET supersedes every sibling", isinstance(r, list) and r[1] == [b"plain"], short(r))


def t_server_cmds(h):
    with node().client() as c:
        r = c.call("CONFIG", "GET", "appendonly")
        h.eq("CONFIG GET appendonly", r, [b"appendonly", b"no"])
        r = c.call("CONFIG", "GET", "save")
        h.check("CONFIG GET save -> [save, ...]", isinstance(r, list) and r[:1] == [b"save"], short(r))
        info = c.call("INFO")
        h.check("INFO contains redis_version", isinstance(info, bytes) and b"redis_version" in info,
                short(info))
        r = c.call("COMMAND")
        h.check("COMMAND -> an array", isinstance(r, list), short(r))
        r = c.call("COMMAND", "COUNT")
        h.check("COMMAND COUNT -> integer > 0", isinstance(r, int) and r > 0, short(r))
        r = c.call("DYNA.STATUS")
        h.check("DYNA.STATUS -> array", isinstance(r, list) and r, short(r))
        r = c.call("DYNA.RING")
        h.check("DYNA.RING -> array", isinstance(r, list) and r, short(r))
        r = c.call("SELECT", "0")
        h.eq("SELECT 0 -> OK", r, "OK")
    c = node().client()
    try:
        h.eq("QUIT -> +OK", c.call("QUIT"), "OK")
        closed, rest = c.wait_closed(10)
        h.check("connection closed after QUIT", closed and rest == b"", "closed=%s rest=%r" % (closed, rest))
    finally:
        c.close()


def t_restart(h):
    n = node()
    with n.client() as c:
        c.call("SET", "persist:1", "one")
        c.call("MSET", "persist:2", "two", "persist:3", "three")
        c0 = c.call("DYNA.PUT", "persist:sib", "", "p0")
        c.call("DYNA.PUT", "persist:sib", c0, "p1")
        c.call("DYNA.PUT", "persist:sib", c0, "p2")
        c.call("DEL", "persist:3")
        before_inl = c.call("GET", "inl")
    rc = n.stop()
    h.eq("SIGTERM -> clean exit 0", rc, 0)
    h.check("log mentions shutdown", "shutting down" in n.log_text() or "stopped" in n.log_text(),
            n.log_tail(5))
    n2 = start_node("n1", STATE["data"], port=n.port)
    STATE["node"] = n2
    with n2.client() as c:
        h.eq("after restart: SET key", c.call("GET", "persist:1"), b"one")
        h.eq("after restart: MSET keys", c.call("MGET", "persist:2", "inl"), [b"two", before_inl])
        h.eq("after restart: deleted key stays deleted", c.call("GET", "persist:3"), None)
        r = c.call("DYNA.GET", "persist:sib")
        h.check("after restart: siblings kept", isinstance(r, list) and sorted(r[1]) == [b"p1", b"p2"],
                short(r))


def t_lock(h):
    n = node()
    second = start_node("n1b", STATE["data"], extra_args=(), wait=False,
                        log_path=h.path("second.log"))
    rc = second.wait_exit(15)
    h.eq("second dynad on the same data dir exits with 1", rc, 1)
    log = second.log_text()
    h.check("its message says 'in use'", "in use" in log, short(log, 300))
    h.note("second dynad said: %s" % log.strip().splitlines()[-1] if log.strip() else "(nothing)")
    h.check("first dynad still alive", n.alive())
    with n.client() as c:
        h.eq("first dynad still serves", (c.call("PING"), c.call("GET", "persist:1")), ("PONG", b"one"))


def t_read_all_option(h):
    """--read-all (GETs ask all N replicas at once), --durable-reads (read answers wait for
    the group commit) and their INI keys reach the node."""
    def run(*args):
        p = subprocess.run([dynad_path()] + list(args), capture_output=True, timeout=20)
        return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")
    for opt in ("read-all", "durable-reads"):
        field = opt.replace("-", "_")
        rc, out = run("--help")
        h.check("--help documents --%s" % opt, rc == 0 and "--" + opt in out and "%s = yes|no" % opt in out,
                short(out, 300))
        rc, out = run("--%s=maybe" % opt)
        h.check("--%s=maybe refused (exit 2)" % opt, rc == 2 and "invalid value 'maybe' for %s" % opt in out, out)
        ini = h.path("%s.ini" % opt)
        with open(ini, "w") as f:
            f.write("%s = yes\n" % opt)
        cases = [((), 0), (("--" + opt,), 1), (("--config", ini), 1), (("--config", ini, "--%s=no" % opt), 0)]
        for i, (args, want) in enumerate(cases):
            n = start_node("ra", h.path("%s%d" % (field, i)), extra_args=args)
            try:
                with n.client() as c:
                    info = c.call("INFO").decode()
                    h.check("dynad %s: INFO %s:%d" % (" ".join(args) or "(default)", field, want),
                            "%s:%d\r\n" % (field, want) in info, short(info, 200))
                    c.call("SET", "ra", "v")
                    h.eq("dynad %s: GET works" % (" ".join(args) or "(default)"), c.call("GET", "ra"), b"v")
                    if opt == "durable-reads":
                        # the batch policy releases read replies before the commit unless asked
                        early = int(re.search(r"early_replies:(\d+)", c.call("INFO").decode()).group(1))
                        h.check("dynad %s: early_replies %s" % (" ".join(args) or "(default)",
                                                                 "0" if want else "> 0"),
                                (early == 0) if want else (early > 0), str(early))
            finally:
                n.stop()


def t_redis_tools(h):
    cli = "/usr/bin/redis-cli"
    port = str(node().port)
    if not os.path.exists(cli):
        h.note("SKIP redis-cli checks: %s is absent (apt-get install redis-tools)" % cli)
    else:
        def run(*args):
            p = subprocess.run([cli, "-p", port] + list(args), capture_output=True, timeout=20)
            return p.returncode, p.stdout.decode("utf-8", "replace").strip(), p.stderr.decode("utf-8", "replace")
        h.eq("redis-cli set k v", run("set", "rck", "rcv")[:2], (0, "OK"))
        h.eq("redis-cli get k", run("get", "rck")[:2], (0, "rcv"))
        h.eq("redis-cli ping", run("ping")[:2], (0, "PONG"))
        h.eq("redis-cli get missing -> empty", run("get", "rc-missing")[:2], (0, ""))
        rc, out, err = run("dyna.get", "rck")
        h.check("redis-cli dyna.get shows the value", rc == 0 and "rcv" in out, out + err)
    bench = "/usr/bin/redis-benchmark"
    if not os.path.exists(bench):
        h.note("SKIP redis-benchmark check: %s is absent" % bench)
        return
    p = subprocess.run([bench, "-p", port, "-n", "2000", "-c", "10", "-t", "set,get", "-q"],
                       capture_output=True, timeout=45)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    lines = [l.strip() for l in out.replace("\r", "\n").splitlines() if l.strip()]
    errs = [l for l in lines if "error" in l.lower() or "err " in l.lower()]
    h.eq("redis-benchmark exit code", p.returncode, 0)
    h.check("redis-benchmark prints no error lines", not errs, short(errs, 400))
    summary = [l for l in lines if "requests per second" in l]
    h.check("redis-benchmark reports SET and GET", any(l.startswith("SET") for l in summary)
            and any(l.startswith("GET") for l in summary), short(lines, 400))
    h.note("redis-benchmark: %s" % " | ".join(summary))
    with node().client() as c:
        h.eq("server fine after benchmark", c.call("PING"), "PONG")


if __name__ == "__main__":
    H.run([
        ("start", t_start),
        ("simple commands", t_simple),
        ("pipelining", t_pipeline),
        ("inline commands", t_inline),
        ("DYNA.* versioning", t_versions),
        ("server commands", t_server_cmds),
        ("restart keeps data", t_restart),
        ("data dir lock", t_lock),
        ("--read-all and --durable-reads options", t_read_all_option),
        ("redis-cli / redis-benchmark", t_redis_tools),
    ])
