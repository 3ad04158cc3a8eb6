#!/usr/bin/python3
"""dynad's options table (src/runtime/options.c) seen from outside: options set on the
command line and in the INI file reach the node (CONFIG GET answers the node's options
with the values the node runs with), CONFIG GET takes glob patterns, --help lists every
option CONFIG GET knows, docs/architecture.md's table of options lists the same options
with the defaults dynad reports, and bad values of the newer options are refused."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, dynad_path, repo_root, short, start_node  # noqa: E402

H = Harness("config")
STATE = {}
REDIS_NAMES = ("save", "appendonly", "databases", "maxclients")  # CONFIG GET extras

# Options of the node (they land in dyna_node_cfg_t), set to values other than their
# defaults; CONFIG GET reads them back from the node's own configuration.
NODE_VALUES = {
    "handoff-interval-ms": "250",
    "handoff-batch-keys": "64",
    "fd-min-ms": "1500",
    "heartbeat-ms": "150",
    "ring-size": "64",
    "read-all": "yes",
    "tombstone-grace-ms": "3600000",
    "zone": "zone-b",
}


def pairs(reply):
    """A CONFIG GET reply as a list of (name, value) strings."""
    return [(reply[i].decode(), reply[i + 1].decode()) for i in range(0, len(reply), 2)]


def run(*args):
    p = subprocess.run([dynad_path()] + list(args), capture_output=True, timeout=20)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def t_defaults(h):
    n = start_node("cfg0", h.path("cfg0"))
    with n.client() as c:
        r = pairs(c.call("CONFIG", "GET", "*"))
    STATE["defaults"] = dict(r)
    names = [k for k, _ in r]
    h.check("CONFIG GET * names each option once", len(names) == len(set(names)), short(names, 400))
    h.check("CONFIG GET * ends with the Redis names", tuple(names[-4:]) == REDIS_NAMES, short(names[-4:]))
    STATE["options"] = names[:-4]
    h.note("%d options" % len(STATE["options"]))
    for k in NODE_VALUES:
        h.check("default %s differs from the value set below" % k, STATE["defaults"].get(k) != NODE_VALUES[k],
                short(STATE["defaults"].get(k)))
    h.eq("default fd-min-ms (the core's)", STATE["defaults"].get("fd-min-ms"), "1000")
    h.eq("default handoff-interval-ms (the core's)", STATE["defaults"].get("handoff-interval-ms"), "100")
    n.stop()


def check_node_values(h, n, how, want):
    with n.client() as c:
        got = dict(pairs(c.call("CONFIG", "GET", *want.keys())))
        for k, v in want.items():
            h.eq("%s: CONFIG GET %s" % (how, k), got.get(k), v)
        info = c.call("INFO").decode()
        h.check("%s: INFO read_all:1" % how, "read_all:1\r\n" in info, short(info, 200))


def t_command_line(h):
    args = []
    for k, v in NODE_VALUES.items():
        args += ["--" + k] if v == "yes" else ["--" + k, v]
    n = start_node("cfg1", h.path("cfg1"), extra_args=args)
    check_node_values(h, n, "command line", NODE_VALUES)
    n.stop()


def t_ini_file(h):
    ini = h.path("dynad.ini")
    with open(ini, "w") as f:
        f.write("; the node's options, none at its default\n")
        for k, v in NODE_VALUES.items():
            f.write("%s = %s\n" % (k, v))
    want = dict(NODE_VALUES)
    want["fd-min-ms"] = "2500"  # the command line wins over the file
    n = start_node("cfg2", h.path("cfg2"), extra_args=("--config", ini, "--fd-min-ms", "2500"))
    check_node_values(h, n, "INI file", want)
    STATE["node"] = n


def t_patterns(h):
    with STATE["node"].client() as c:
        r = pairs(c.call("CONFIG", "GET", "ring-*"))
        h.eq("CONFIG GET ring-*", r, [("ring-size", "64")])
        r = pairs(c.call("CONFIG", "GET", "HANDOFF-*", "fd-min-ms", "handoff-batch-keys"))
        h.eq("CONFIG GET with several patterns, each option once", r,
             [("handoff-interval-ms", "250"), ("handoff-batch-keys", "64"), ("fd-min-ms", "2500")])
        r = pairs(c.call("CONFIG", "GET", "[nrw]"))
        h.eq("CONFIG GET [nrw]", r, [("n", "3"), ("r", "2"), ("w", "2")])
        r = pairs(c.call("CONFIG", "GET", "*-ms"))
        h.check("CONFIG GET *-ms: only names ending in -ms",
                r and all(k.endswith("-ms") for k, _ in r), short(r, 300))
        h.eq("CONFIG GET no-such-option -> []", c.call("CONFIG", "GET", "no-such-option"), [])
        h.eq("CONFIG GET appendonly (redis-benchmark asks)", c.call("CONFIG", "GET", "appendonly"),
             [b"appendonly", b"no"])
        r = c.call("CONFIG", "GET")
        h.check("CONFIG GET without a pattern -> arity error", hasattr(r, "msg") and "wrong number" in r.msg,
                short(r))
        h.eq("CONFIG SET fd-min-ms 1 (a runtime option)", c.call("CONFIG", "SET", "fd-min-ms", "1"), "OK")
        h.eq("... CONFIG GET shows it", c.call("CONFIG", "GET", "fd-min-ms"), [b"fd-min-ms", b"1"])
        r = c.call("CONFIG", "SET", "ring-size", "64")
        h.check("CONFIG SET ring-size -> immutable", hasattr(r, "msg") and r.msg.endswith("can't set immutable config"),
                short(r))


def t_help(h):
    rc, out = run("--help")
    h.eq("--help exits 0", rc, 0)
    missing = [k for k in STATE["options"] if not re.search(r"^  --%s( |$)" % re.escape(k), out, re.M)]
    h.check("--help lists every option CONFIG GET knows", not missing, "missing: %s" % missing)
    listed = re.findall(r"^  --([a-z][a-z-]*)", out, re.M)
    extra = [k for k in listed if k not in STATE["options"] and k not in ("config", "help")]
    h.check("--help lists no option CONFIG GET does not know", not extra, "extra: %s" % extra)


def t_docs(h):
    """docs/architecture.md's table of options: every option, no other, the defaults dynad
    reports (a byte count may be written in MiB; a default worked out at start is prose)."""
    with open(os.path.join(repo_root(), "docs", "architecture.md")) as f:
        doc = f.read()
    rows = re.findall(r"^\| `--([a-z][a-z-]*)[^`]*` \| ([^|]*) \|", doc, re.M)
    documented = {k: d.strip() for k, d in rows}
    h.check("docs list options", len(documented) > 20, short(rows, 200))
    missing = [k for k in STATE["options"] if k not in documented]
    h.check("docs/architecture.md lists every option", not missing, "missing: %s" % missing)
    extra = [k for k in documented if k not in STATE["options"]]
    h.check("docs/architecture.md lists no option dynad lacks", not extra, "extra: %s" % extra)
    # set by start_node (--name, --data, --listen), or worked out from them (--cluster)
    computed = {"name", "data", "cluster", "listen"}
    wrong = []
    for k, d in documented.items():
        v = STATE["defaults"].get(k)
        if k in computed or v is None:
            continue
        m = re.fullmatch(r"(\d+) MiB", d)
        ok = (d == v) or (d == "-" and v == "") or (m and int(m.group(1)) << 20 == int(v))
        if not ok:
            wrong.append("%s: docs %r, dynad %r" % (k, d, v))
    h.check("docs/architecture.md gives the defaults dynad reports", not wrong, "; ".join(wrong))


def t_bad_values(h):
    cases = [
        (("--fd-min-ms", "soon"), "invalid value 'soon' for fd-min-ms"),
        (("--handoff-interval-ms", "0"), "invalid value '0' for handoff-interval-ms"),
        (("--handoff-batch-keys", "65537"), "invalid value '65537' for handoff-batch-keys"),
        (("--ring-size", "100"), "invalid ring-size '100' (want a power of two up to 16384, the number of hash slots)"),
        (("--ring-size", "32768"), "invalid ring-size '32768' (want a power of two up to 16384, the number of hash slots)"),
        (("--no-such-option", "1"), "unknown option 'no-such-option'"),
    ]
    for args, msg in cases:
        rc, out = run(*args)
        h.check("dynad %s refused (exit 2): %s" % (" ".join(args), msg), rc == 2 and msg in out, short(out, 200))


if __name__ == "__main__":
    H.run([
        ("defaults through CONFIG GET *", t_defaults),
        ("node options from the command line reach the node", t_command_line),
        ("node options from the INI file reach the node", t_ini_file),
        ("CONFIG GET patterns", t_patterns),
        ("--help lists every option", t_help),
        ("docs list every option with its default", t_docs),
        ("bad values refused", t_bad_values),
    ])
