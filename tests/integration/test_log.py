#!/usr/bin/python3
"""dynad's log lines (--log-format text|json; docs/architecture.md, Options): one line per
event with its time, level and node. In json each line is one JSON object {time, level,
node, msg} that parses, whatever the node's name or the message hold (quotes,
backslashes); a start that fails says why in the same format; a bad format is refused.
Events come with their figures: a member joining, leaving and removed, the ring's new
version and this node's share, a member unreachable, the keys and bytes a handoff moved.
Cluster nodes on 127.0.21.5-6."""
import json
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, short, start_cluster_node, start_node, wait_until  # noqa: E402

H = Harness("log")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def lines_of(node):
    return [ln for ln in node.log_text().splitlines() if ln.strip()]


def t_json(h):
    name = 'j"1\\x'
    n = start_node(name, H.path("j1"), extra_args=("--log-format", "json", "--stall-timeout-ms", "200"))
    # an event whose message is about a client: a request that stalls and is closed
    s = socket.create_connection(("127.0.0.1", n.port))
    s.sendall(b"*2\r\n$3\r\nGET\r\n$5\r\nab")
    s.settimeout(10)
    h.eq("the stalled client is closed", s.recv(10), b"")
    s.close()
    h.eq("SIGTERM: exit 0", n.stop(), 0)
    docs, bad = [], []
    for ln in lines_of(n):
        try:
            docs.append(json.loads(ln))
        except ValueError:
            bad.append(ln)
    h.check("every line is one JSON object", not bad and docs, short(bad[:3]))
    h.check("each has time, level, node, msg and nothing else",
            all(isinstance(d, dict) and sorted(d) == ["level", "msg", "node", "time"] for d in docs), short(docs[:3]))
    h.check("time is UTC to the millisecond", all(TIME.match(d["time"]) for d in docs), short([d["time"] for d in docs]))
    h.check("level is a level name", all(d["level"] in ("debug", "info", "warn", "error") for d in docs))
    h.check("node is the node's name, quote and backslash included", all(d["node"] == name for d in docs),
            short([d["node"] for d in docs]))
    msgs = [d["msg"] for d in docs]
    h.check("the start is logged", any("listening on" in m for m in msgs), short(msgs))
    h.check("the stalled client is logged", any("stalled" in m for m in msgs), short(msgs))
    h.check("the stop is logged", any(m == "stopped" for m in msgs), short(msgs))


def t_json_start_failure(h):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        n = start_node("j2", H.path("j2"), port=port, extra_args=("--log-format", "json"), wait=False)
        h.eq("a node whose port is taken exits 1", n.wait_exit(15), 1)
        docs = [json.loads(ln) for ln in lines_of(n)]
        errs = [d for d in docs if d["level"] == "error"]
        h.check("it says why in a JSON line", errs and "cannot listen" in errs[-1]["msg"], short(docs))
    finally:
        taken.close()


def msgs_of(node):
    return [json.loads(ln)["msg"] for ln in lines_of(node)]


def logged(node, pred):
    return [m for m in msgs_of(node) if pred(m)]


def t_events(h):
    args = ("--log-format", "json", "--gossip-interval-ms", 200)
    e1 = start_cluster_node("e1", H.path("e1"), "127.0.21.5", extra_args=args)
    e2 = start_cluster_node("e2", H.path("e2"), "127.0.21.6", join=e1.cluster_addr, extra_args=args)
    wait_until(lambda: logged(e1, lambda m: m.startswith("member e2 ") and "joined: valid" in m), 30, 0.1,
               "e1 to log e2 joining")
    h.check("e1 logs e2 joining", True)
    ring = wait_until(lambda: logged(e1, lambda m: m.startswith("ring version ")), 30, 0.1, "e1 to log the new ring")
    h.check("... and the ring's new version with its share", "this node owns 128 of 256 partitions (was 256)" in ring[-1],
            short(ring))
    c = e2.client()
    for i in range(300):
        c.call("SET", "ev:%d" % i, "x" * 100)
    h.eq("DYNA.ADMIN LEAVE on e2", c.call("DYNA.ADMIN", "LEAVE"), "OK")
    wait_until(lambda: logged(e1, lambda m: m.startswith("member e2 ") and "valid -> leaving" in m), 30, 0.1,
               "e1 to log e2 leaving")
    h.check("e1 logs e2 leaving", True)
    ho = wait_until(lambda: logged(e2, lambda m: m.startswith("background in the last") and "handoff" in m), 40, 0.2,
                    "e2 to log its handoff")
    h.check("e2 logs its handoff with keys and bytes", "keys (" in ho[0] and "sent" in ho[0], short(ho))
    wait_until(lambda: logged(e1, lambda m: m.startswith("member e2 ") and "-> removed" in m), 60, 0.2,
               "e1 to log e2 removed")
    h.check("e1 logs e2 removed", True)
    e2.stop()
    e1.stop()


def t_text(h):
    n = start_node("t1", H.path("t1"))
    n.stop()
    pat = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR) t1 \S")
    lines = lines_of(n)
    h.check("text (the default): '<time> <LEVEL> <node> message' on every line",
            lines and all(pat.match(ln) for ln in lines), short(lines[:3]))


def t_bad_format(h):
    n = start_node("b1", H.path("b1"), extra_args=("--log-format", "xml"), wait=False)
    h.eq("--log-format xml: exit 2", n.wait_exit(15), 2)
    h.check("... naming it", "invalid log-format 'xml' (want text or json)" in n.log_text(), short(n.log_text()))


if __name__ == "__main__":
    H.run([
        ("json lines", t_json),
        ("json: a failed start", t_json_start_failure),
        ("events with their figures", t_events),
        ("text lines", t_text),
        ("a bad format", t_bad_format),
    ])
