#!/usr/bin/python3
"""dynad's HTTP port (--http; docs/http.md) on a real 3-node cluster (127.0.21.1-3):

- GET /metrics passes `promtool check metrics` (Debian's prometheus package), and its
  counters and histograms move when requests are made;
- a real `prometheus` (its own temp dir and port, a 1 s scrape interval) scrapes the three
  nodes, and a query is read back through its HTTP API (polled until the sample is there);
- the JSON admin API: /status, /ring, /keys/{key} (siblings and context as DYNA.GET gives
  them, keys with quotes, control characters, '/', '%' and bytes that are not UTF-8),
  /admin/repair, /admin/join and /admin/leave (a fourth node joins and leaves through it);
  every body is parsed as JSON;
- bad requests (malformed request lines, oversized headers and bodies, bad escapes, wrong
  methods, unknown paths) get a 4xx, and the node goes on serving.
"""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Harness, free_port, short, start_cluster_node, start_node,  # noqa: E402
                     wait_until)

H = Harness("http")
S = {"nodes": {}, "http": {}}
IPS = {"n1": "127.0.21.1", "n2": "127.0.21.2", "n3": "127.0.21.3", "x4": "127.0.21.4"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000)


def http(name, method, path, body=None, ctype=None, timeout=10.0):
    """(status, headers, body bytes) of one request to node name's HTTP port."""
    url = "http://%s%s" % (S["http"][name], path)
    req = urllib.request.Request(url, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(name, path):
    status, headers, body = http(name, "GET", path)
    return status, json.loads(body.decode("utf-8"))


def raw(name, data, timeout=10.0):
    """Sends raw bytes to name's HTTP port; returns the status of the answer (0: none)."""
    host, port = S["http"][name].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    finally:
        s.close()
    parts = got.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def metrics(name):
    status, headers, body = http(name, "GET", "/metrics")
    assert status == 200, status
    return body.decode("utf-8")


def sample(text, series):
    """The value of one series ('name{labels}' exactly as written), or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def start(name, join=None):
    hp = "%s:%d" % (IPS[name], free_port(IPS[name]))
    n = start_cluster_node(name, H.path(name), IPS[name], join=join,
                           extra_args=COMMON + ("--http", hp))
    S["nodes"][name] = n
    S["http"][name] = hp
    return n


def members_seen(name):
    status, st = get_json(name, "/status")
    return {m["name"]: m for m in st["members"]} if status == 200 else {}


def t_start(h):
    n1 = start("n1")
    start("n2", join=n1.cluster_addr)
    start("n3", join=n1.cluster_addr)

    def formed():
        for nm in ("n1", "n2", "n3"):
            ms = members_seen(nm)
            if sorted(ms) != ["n1", "n2", "n3"]:
                return False
            if any(m["status"] != "valid" or m["reachability"] == "unreachable" for m in ms.values()):
                return False
        return True
    h.expect("3 nodes see each other valid and reachable through GET /status",
             wait_until(formed, 30, 0.1, "the cluster to form"))


def t_promtool(h):
    c = S["nodes"]["n1"].client()
    for i in range(20):
        c.call("SET", "pt:%d" % i, "v")
        c.call("GET", "pt:%d" % i)
    status, headers, body = http("n1", "GET", "/metrics")
    h.eq("/metrics answers 200", status, 200)
    h.check("/metrics is the text format 0.0.4", headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
            headers.get("Content-Type"))
    r = subprocess.run(["promtool", "check", "metrics"], input=body, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    h.check("promtool check metrics passes (exit 0, no problem listed)", r.returncode == 0 and not r.stdout.strip(),
            short(r.stdout.decode("utf-8", "replace"), 800))
    text = body.decode("utf-8")
    for fam, typ in (("dyna_commands_total", "counter"), ("dyna_request_duration_seconds", "histogram"),
                     ("dyna_commit_duration_seconds", "histogram"), ("dyna_quorum_failures_total", "counter"),
                     ("dyna_read_repairs_total", "counter"), ("dyna_hints_pending", "gauge"),
                     ("dyna_hints_stored_total", "counter"), ("dyna_hints_delivered_total", "counter"),
                     ("dyna_anti_entropy_exchanges_total", "counter"),
                     ("dyna_anti_entropy_keys_repaired_total", "counter"), ("dyna_transfer_bytes_total", "counter"),
                     ("dyna_members", "gauge"), ("dyna_partitions_owned", "gauge"), ("dyna_store_size_bytes", "gauge"),
                     ("dyna_client_connections", "gauge"), ("dyna_background_bytes_total", "counter")):
        h.check("family %s is a %s" % (fam, typ), ("# TYPE %s %s\n" % (fam, typ)) in text)
    h.eq("dyna_members{status=\"valid\"} is 3", sample(text, 'dyna_members{status="valid"}'), 3.0)
    def owned():  # each node counts what its own view of the ring gives it: equal once gossip settles
        return sum(sample(metrics(nm), "dyna_partitions_owned") or 0 for nm in ("n1", "n2", "n3"))
    try:
        wait_until(lambda: owned() == 256.0, 30, 0.1, "the views of the ring to agree")
    except AssertionError:
        pass
    h.eq("the nodes' dyna_partitions_owned add up to the ring", owned(), 256.0)
    h.check("dyna_store_size_bytes is above 0", (sample(text, "dyna_store_size_bytes") or 0) > 0)


def t_counters_move(h):
    c = S["nodes"]["n2"].client()
    before = metrics("n2")
    for i in range(7):
        c.call("SET", "cm:%d" % i, "v")
    c.call("GET")                      # wrong arity: rejected
    c.call("SET", "cm:str", "abc")
    c.call("INCR", "cm:str")           # not an integer: an error reply
    after = metrics("n2")

    def delta(series):
        return (sample(after, series) or 0) - (sample(before, series) or 0)
    h.eq("7 SETs (+1) counted as ok", delta('dyna_commands_total{command="set",outcome="ok"}'), 8.0)
    h.eq("GET without a key counted as rejected", delta('dyna_commands_total{command="get",outcome="rejected"}'), 1.0)
    h.eq("INCR of a string counted as an error", delta('dyna_commands_total{command="incr",outcome="error"}'), 1.0)
    h.check("the put latency histogram counted the writes",
            delta('dyna_request_duration_seconds_count{op="put"}') >= 8,
            "delta %s" % delta('dyna_request_duration_seconds_count{op="put"}'))
    h.check("the +Inf bucket equals the count",
            sample(after, 'dyna_request_duration_seconds_bucket{op="put",le="+Inf"}') ==
            sample(after, 'dyna_request_duration_seconds_count{op="put"}'))
    h.check("the commit histogram moved", delta("dyna_commit_duration_seconds_count") > 0)
    h.check("a client connection is open", (sample(after, "dyna_client_connections") or 0) >= 1)


def t_prometheus(h):
    d = H.path("prometheus")
    os.makedirs(d, exist_ok=True)
    targets = ", ".join("'%s'" % S["http"][nm] for nm in ("n1", "n2", "n3"))
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: dyna\n    static_configs:\n      - targets: [%s]\n" % targets)
    addr = "%s:%d" % (IPS["n1"], free_port(IPS["n1"]))
    log = open(os.path.join(d, "prometheus.log"), "w")
    p = subprocess.Popen(["prometheus", "--config.file", os.path.join(d, "prometheus.yml"),
                          "--storage.tsdb.path", os.path.join(d, "data"), "--web.listen-address", addr],
                         stdout=log, stderr=subprocess.STDOUT, cwd=d)
    try:
        def query(q):
            url = "http://%s/api/v1/query?%s" % (addr, urllib.parse.urlencode({"query": q}))
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    doc = json.loads(r.read().decode("utf-8"))
            except (OSError, ValueError):
                return None
            return doc["data"]["result"] if doc.get("status") == "success" else None

        def three_valid():
            res = query('dyna_members{status="valid"}')
            if not res or len(res) != 3:
                return None
            return res
        res = wait_until(three_valid, 90, 0.5, "prometheus to scrape the 3 nodes")
        h.eq("prometheus has dyna_members{status=valid} from each node",
             sorted(r["metric"]["instance"] for r in res), sorted(S["http"][nm] for nm in ("n1", "n2", "n3")))
        h.check("each says 3", all(float(r["value"][1]) == 3 for r in res), short(res))
        up = query("up{job='dyna'}")
        h.check("every target is up", up and len(up) == 3 and all(r["value"][1] == "1" for r in up), short(up))
        sets = wait_until(lambda: query('sum(dyna_commands_total{command="set",outcome="ok"})'), 30, 0.5,
                          "the SET counter in prometheus")
        h.check("the SETs made are seen through prometheus", float(sets[0]["value"][1]) >= 20, short(sets))
    finally:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()


def key_path(k):
    return "/keys/" + urllib.parse.quote(k, safe="")


def t_json(h):
    status, st = get_json("n1", "/status")
    h.eq("/status 200", status, 200)
    h.eq("/status: this node", st["node"]["name"], "n1")
    h.eq("/status: 3 members", sorted(m["name"] for m in st["members"]), ["n1", "n2", "n3"])
    h.eq("/status: ownership adds up", sum(m["partitions_owned"] for m in st["members"]), st["node"]["ring_size"])
    h.eq("/status: n1 is self", {m["name"]: m["reachability"] for m in st["members"]}["n1"], "self")
    status, ring = get_json("n2", "/ring")
    h.eq("/ring 200", status, 200)
    h.eq("/ring: 256 partitions", len(ring["partitions"]), 256)
    h.check("/ring: 3 distinct replicas each, all members",
            all(len(set(p["replicas"])) == 3 and set(p["replicas"]) <= {"n1", "n2", "n3"} for p in ring["partitions"]))
    h.eq("/ring: slots cover the hash space", (ring["partitions"][0]["slots"], ring["partitions"][-1]["slots"][1]),
         ([0, 63], 16383))

    c = S["nodes"]["n1"].client()
    keys = [b'q"uo\\te', b"ctl\x01\n\t\x7f", b"bin\xff\xfe\xc0\x80", b"slash/and%25per cent?x=1", "caf\u00e9 \u2603".encode()]
    for i, k in enumerate(keys):
        v = b"val\"" + bytes([i, 0xff, 10]) + b"\\end"
        h.eq("SET %r" % k, c.call("SET", k, v), "OK")
        status, headers, body = http("n3", "GET", key_path(k))
        h.eq("GET /keys/%r 200" % k, status, 200)
        try:
            doc = json.loads(body.decode("utf-8"))
        except ValueError as e:
            h.check("GET /keys/%r is valid UTF-8 JSON" % k, False, "%s: %s" % (e, short(body)))
            continue
        h.eq("key_b64 gives the key's bytes", base64.b64decode(doc["key_b64"]), k)
        try:
            h.eq("the key as text", doc["key"], k.decode("utf-8"))
        except UnicodeDecodeError:
            h.eq("the key as text (U+FFFD for bad bytes)", doc["key"], k.decode("utf-8", "replace"))
        h.eq("one sibling with the value's bytes", [base64.b64decode(s["value_b64"]) for s in doc["siblings"]], [v])
        dget = c.call("DYNA.GET", k)
        h.eq("the context is DYNA.GET's", doc["context"].encode(), dget[0])

    # siblings: two writes with no context
    k = b"sib:1"
    c.call("DYNA.PUT", k, "", "a")
    c.call("DYNA.PUT", k, "", "b")
    status, doc = get_json("n2", key_path(k))
    h.eq("two concurrent writes are two siblings", sorted(s["value"] for s in doc["siblings"]), ["a", "b"])
    status, doc = get_json("n2", key_path(b"never:written") + "?r=3")
    h.eq("an absent key: no sibling, empty context (as DYNA.GET)", (status, doc["siblings"], doc["context"]), (200, [], ""))


def t_pending(h):
    """A /keys read that waits for its quorum waits suspended: the node answers other
    HTTP requests meanwhile, and the read ends in a 503 when no quorum comes."""
    n1, n2, n3 = (S["nodes"][nm] for nm in ("n1", "n2", "n3"))
    h.eq("CONFIG SET request-timeout-ms 8000 on n1", n1.client().call("CONFIG", "SET", "request-timeout-ms", "8000"), "OK")
    os.kill(n2.proc.pid, signal.SIGSTOP)
    os.kill(n3.proc.pid, signal.SIGSTOP)
    try:
        got = {}
        gets0 = sample(metrics("n1"), 'dyna_coordinated_requests_total{op="get"}')
        t = threading.Thread(target=lambda: got.update(r=http("n1", "GET", "/keys/pending%3A1", timeout=30)))
        t.start()
        wait_until(lambda: sample(metrics("n1"), 'dyna_coordinated_requests_total{op="get"}') > gets0, 5, 0.02,
                   "n1 to take the read")
        status, st = get_json("n1", "/status")
        h.eq("/status answers while the read waits", status, 200)
        h.check("... the read is still waiting then", t.is_alive())
        t.join(30)
        status, headers, body = got["r"]
        h.eq("the read without a quorum: 503", status, 503)
        h.check("... saying so", "error" in json.loads(body), short(body))
    finally:
        os.kill(n2.proc.pid, signal.SIGCONT)
        os.kill(n3.proc.pid, signal.SIGCONT)
        n1.client().call("CONFIG", "SET", "request-timeout-ms", "1000")
    wait_until(lambda: all(m["reachability"] != "unreachable" for m in members_seen("n1").values()), 30, 0.1,
               "n2 and n3 to be reachable again")


def t_admin(h):
    status, headers, body = http("n1", "POST", "/admin/repair", b"")
    h.eq("POST /admin/repair", (status, json.loads(body)), (200, {"ok": True}))
    status, headers, body = http("n1", "POST", "/admin/repair", b"partition=3", "application/x-www-form-urlencoded")
    h.eq("POST /admin/repair partition=3 (form body)", (status, json.loads(body)), (200, {"ok": True}))
    status, headers, body = http("n1", "POST", "/admin/repair?partition=100000", b"")
    h.eq("POST /admin/repair?partition=100000: 400", status, 400)
    h.check("... with a JSON error", "error" in json.loads(body))
    status, headers, body = http("n1", "POST", "/admin/join", b"address=nowhere", "application/x-www-form-urlencoded")
    h.eq("POST /admin/join address=nowhere: 400", status, 400)
    status, headers, body = http("n1", "GET", "/admin/leave")
    h.eq("GET /admin/leave: 405", status, 405)
    h.eq("... Allow: POST", headers.get("Allow"), "POST")

    x4 = start("x4")
    status, headers, body = http("x4", "POST", "/admin/join?address=" + urllib.parse.quote(S["nodes"]["n1"].cluster_addr),
                                 b"")
    h.eq("POST /admin/join?address=n1 on a new node", (status, json.loads(body)), (200, {"ok": True}))
    wait_until(lambda: members_seen("n1").get("x4", {}).get("status") == "valid", 30, 0.1, "n1 to see x4 valid")
    h.check("n1 sees x4 join", True)
    wait_until(lambda: sorted(members_seen("x4")) == ["n1", "n2", "n3", "x4"], 30, 0.1, "x4 to see the cluster")
    status, headers, body = http("x4", "POST", "/admin/leave", b"")
    h.eq("POST /admin/leave on x4", (status, json.loads(body)), (200, {"ok": True}))
    wait_until(lambda: members_seen("n1").get("x4", {}).get("status") in ("leaving", "removed"), 30, 0.1,
               "n1 to see x4 leave")
    h.check("n1 sees x4 leaving", True)
    wait_until(lambda: members_seen("n1").get("x4", {}).get("status") == "removed", 60, 0.2, "x4 to be removed")
    h.check("x4 is removed once its data is handed off", True)
    x4.stop()


def t_bad_requests(h):
    cases = [
        ("HTTP/1.1 without Host", b"GET /status HTTP/1.1\r\n\r\n"),
        ("a request line without a version", b"GET /status\r\n\r\n"),
        ("a header line without a colon", b"GET /status HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
        ("a header over the connection's memory", b"GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 400000 +
         b"\r\n\r\n"),
        ("a bad percent escape in a key", b"GET /keys/%zz HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("a half escape at the end", b"GET /keys/ab%4 HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("an empty key", b"GET /keys/ HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("r out of range", b"GET /keys/a?r=99 HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("r not a number", b"GET /keys/a?r=x%00 HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("an unknown path", b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("DELETE /status", b"DELETE /status HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("a body that is not a form", b"POST /admin/repair HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 5\r\n\r\nhello"),
        ("a body over 4096 bytes", b"POST /admin/repair HTTP/1.1\r\nHost: x\r\nContent-Type: "
         b"application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n" + b"a" * 10000),
        ("a bad Content-Length", b"POST /admin/repair HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
        ("a bad chunked body", b"POST /admin/repair HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"zz\r\nxx\r\n0\r\n\r\n"),
        ("a bad form escape", b"POST /admin/join HTTP/1.1\r\nHost: x\r\nContent-Type: "
         b"application/x-www-form-urlencoded\r\nContent-Length: 12\r\n\r\naddress=%G1x"),
    ]
    for what, data in cases:
        code = raw("n2", data)
        h.check("%s: 4xx" % what, 400 <= code < 500, "got %d" % code)
    # Lines that are not METHOD URL VERSION at all: libmicrohttpd closes the connection
    # without an answer (there is no request to answer).
    for what, data in (("a garbage request line", b"GARBAGE\r\n\r\n"),
                       ("a space in the URL", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")):
        h.eq("%s: closed without an answer" % what, raw("n2", data), 0)
    h.eq("an unknown HTTP version: 505 (HTTP's own answer)", raw("n2", b"GET /status HTTP/9.9\r\nHost: x\r\n\r\n"), 505)
    # Bytes that never make a line: the connection waits for its idle timeout (30 s), and
    # the others are served meanwhile.
    host, port = S["http"]["n2"].rsplit(":", 1)
    stuck = socket.create_connection((host, int(port)), timeout=10)
    stuck.sendall(b"\x00\x01\xff\x00")
    status, st = get_json("n2", "/status")
    h.eq("the node still serves /status (with a stuck connection open)", status, 200)
    stuck.close()
    h.eq("... and RESP", S["nodes"]["n2"].client().call("PING"), "PONG")
    log = S["nodes"]["n2"].log_text()
    h.check("no sanitizer or crash report in its log",
            "AddressSanitizer" not in log and "runtime error" not in log and "Segmentation" not in log,
            short(log[-500:], 600))


def t_conn_limit(h):
    """64 connections at most: the next waits (in the listen backlog) until one closes, and
    is then served, without waiting for an idle timeout."""
    host, port = S["http"]["n3"].rsplit(":", 1)
    idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(64)]
    try:
        waiting = socket.create_connection((host, int(port)), timeout=10)
        waiting.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        h.eq("RESP is served while the HTTP port is full", S["nodes"]["n3"].client().call("PING"), "PONG")
        for s in idle[:5]:
            s.close()
        try:
            got = waiting.recv(64)
        except socket.timeout:
            got = b"(nothing in 10 s)"
        h.check("once some close, the waiting connection is served", got.startswith(b"HTTP/1.1 200"), short(got))
        waiting.close()
    finally:
        for s in idle[5:]:
            s.close()
    status, st = get_json("n3", "/status")
    h.eq("and new ones are", status, 200)


def t_off_by_default(h):
    n = start_node("plain", H.path("plain"))
    h.check("without --http the log says nothing of HTTP", "HTTP" not in n.log_text())
    n.stop()
    bad = start_node("badhttp", H.path("badhttp"), extra_args=("--http", "nohost"), wait=False)
    h.eq("--http nohost is refused (exit 2)", bad.wait_exit(15), 2)
    h.check("... naming the option", "invalid address 'nohost' for http" in bad.log_text(), short(bad.log_text()))


def t_stop(h):
    for nm in ("n1", "n2", "n3"):
        n = S["nodes"][nm]
        n.stop()
        h.eq("%s stops cleanly on SIGTERM" % nm, n.proc.returncode, 0)


if __name__ == "__main__":
    H.run([
        ("start a 3-node cluster with --http", t_start),
        ("promtool check metrics", t_promtool),
        ("counters move with requests", t_counters_move),
        ("a real prometheus scrapes the cluster", t_prometheus),
        ("JSON: /status, /ring, /keys", t_json),
        ("a read that waits does not block the port", t_pending),
        ("admin: repair, join, leave", t_admin),
        ("bad requests get 4xx", t_bad_requests),
        ("the connection limit", t_conn_limit),
        ("off by default; a bad --http refused", t_off_by_default),
        ("clean stop", t_stop),
    ])
