#!/usr/bin/python3
"""A write whose commit fails is never answered +OK (the durability gate, core/gate.h).

dynad runs with an LD_PRELOAD shim (tests/tools/failsync.c, built by CMake as
libdyna_failsync.so) that makes fsync and fdatasync fail with EIO while a flag file
exists. With the flag up, a SET is sent; once INFO counts the failed commit, the flag
goes and a second SET is made, whose commit succeeds. The check: no write whose commit
failed was answered +OK, and every write answered +OK reads back.

(a) With the real gate the check holds: the first SET gets an error, the second +OK.
(b) With the deliberate gate bug gate-forget-loss, turned on through dynad's test-only
    environment variable DYNA_TEST_BUGS (the gate does not record the failed commit, so
    the next successful one releases the first SET as +OK), the same check must fire.
dynad refuses DYNA_TEST_BUGS names it does not take (it takes a few node bugs too, for
tests/campaign).
In a build without the CMake option DYNA_TEST_BUGS (a release build, `make release`;
CMake passes DYNA_TEST_BUGS_BUILT=0), (b) becomes: dynad refuses to start with any
DYNA_TEST_BUGS, even a name the test builds take, and says it was built without them.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Client, Harness, RespError, dynad_path, free_port, lib_dir, start_node,  # noqa: E402
                     wait_until)

H = Harness("commitfail")
BUILT = os.environ.get("DYNA_TEST_BUGS_BUILT", "1") != "0"


def shim():
    return os.path.abspath(os.path.join(lib_dir(), "libdyna_failsync.so"))


def info_int(c, field):
    for line in c.call("INFO").split(b"\r\n"):
        if line.startswith(field.encode() + b":"):
            return int(line.split(b":", 1)[1])
    raise AssertionError("INFO has no field %s" % field)


def scenario(h, name, bugs=None):
    """Runs the failing-commit scenario on a fresh dynad; returns (violations, answers):
    violations lists every write answered +OK although its commit failed or that does
    not read back."""
    flag = h.path(name + ".fail")
    env = dict(os.environ, LD_PRELOAD=shim(), DYNA_FAILSYNC_FLAG=flag)
    env.pop("DYNA_TEST_BUGS", None)
    if bugs:
        env["DYNA_TEST_BUGS"] = bugs
    node = start_node(name, h.path(name), env=env)
    answers, violations, failed_commit = {}, [], set()
    try:
        with Client(node.port, timeout=20) as c:
            answers["before"] = c.call("SET", "before", "v0")
            errors0 = info_int(c, "commit_errors")
            a = Client(node.port, timeout=20)
            open(flag, "w").close()
            a.send("SET", "lost", "v1")  # its commit fails while the flag is up
            failed_commit.add("lost")
            wait_until(lambda: info_int(c, "commit_errors") > errors0, 20, what="a failed commit")
            os.unlink(flag)
            # A commit that succeeds: the store may still report the failure to the first
            # batch after it (store.h: the next commit reports a failed write), so retry.
            for _ in range(50):
                answers["after"] = c.call("SET", "after", "v2")
                if answers["after"] == "OK":
                    break
                time.sleep(0.05)
            answers["lost"] = a.read_reply()
            a.close()
            want = {"before": b"v0", "lost": b"v1", "after": b"v2"}
            for k, r in sorted(answers.items()):
                if r != "OK":
                    continue
                if k in failed_commit:
                    violations.append("%s answered +OK although its commit failed" % k)
                got = c.call("GET", k)
                if got != want[k]:
                    violations.append("%s answered +OK but reads back %r" % (k, got))
    finally:
        if os.path.exists(flag):
            os.unlink(flag)
        node.stop()
    return violations, answers


def t_gate(h):
    h.expect("the fsync shim was built (%s)" % shim(), os.path.exists(shim()))
    violations, answers = scenario(h, "real")
    h.check("the write made while fsync failed got an error", isinstance(answers.get("lost"), RespError),
            repr(answers.get("lost")))
    h.check("...which says the commit failed", isinstance(answers.get("lost"), RespError)
            and "commit failed" in answers["lost"].msg, repr(answers.get("lost")))
    h.check("writes before and after the failure answered +OK",
            answers.get("before") == "OK" and answers.get("after") == "OK", repr(answers))
    h.check("no write whose commit failed is answered +OK; every +OK reads back", not violations,
            "; ".join(violations))


def t_gate_bug(h):
    h.expect("the fsync shim was built (%s)" % shim(), os.path.exists(shim()))
    violations, answers = scenario(h, "bug", bugs="gate-forget-loss")
    h.note("with the bug: %r" % answers)
    h.check("with DYNA_TEST_BUGS=gate-forget-loss the same check catches the bug", violations,
            "no violation found: %r" % answers)


def refused(h, values, words):
    for v in values:
        env = dict(os.environ, DYNA_TEST_BUGS=v)
        p = subprocess.run([dynad_path(), "--name", "r", "--data", h.path("refused"), "--listen",
                            "127.0.0.1:%d" % free_port()], env=env, capture_output=True, timeout=20)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        h.check("DYNA_TEST_BUGS=%s refused at start, saying %r" % (v, words),
                p.returncode != 0 and "DYNA_TEST_BUGS" in out and words in out,
                "exit %d: %s" % (p.returncode, out[-300:]))


def t_refused(h):
    refused(h, ("bogus", "keep-incarnation", "gate-forget-loss,overwrite"), "dynad takes only")


def t_release(h):
    refused(h, ("gate-forget-loss", "early-ack", "bogus"), "built without deliberate test bugs")


if __name__ == "__main__":
    if BUILT:
        H.run([("a failed commit is never answered +OK", t_gate),
               ("the check catches gate-forget-loss", t_gate_bug),
               ("DYNA_TEST_BUGS refuses the names dynad does not take", t_refused)])
    else:
        H.run([("a failed commit is never answered +OK", t_gate),
               ("a release dynad refuses every DYNA_TEST_BUGS", t_release)])
