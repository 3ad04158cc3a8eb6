#!/usr/bin/python3
"""The HTTP port with client authentication (docs/http.md "Authentication",
docs/security.md): one real dynad on 127.0.41.1 with requirepass and ACL users, --http.

- no credentials: 401 with WWW-Authenticate: Basic realm="dyna", not counted as a login;
- wrong credentials: 401, counted in INFO's acl_access_denied_auth like a failed AUTH;
  after enough of them the failed-login delay holds HTTP answers too (auth_delayed_replies
  moves), and a right password still gets in;
- right credentials: 200; the default user with requirepass;
- authorisation as the RESP command: a user limited to ~app:* reads app:1 but gets 403 on
  other:1 (acl_access_denied_key), 403 on /metrics (INFO) without +info; a user without
  @admin gets 403 on POST /admin/repair and /admin/leave, and the node does not leave;
- curl --user fetches /metrics and promtool check metrics passes; promtool check config
  accepts the basic_auth scrape config of docs/http.md;
- without a password or users, nothing changes (no credentials asked);
- --http-tls yes serves HTTPS with the node's certificate (curl --cacert), and refuses to
  start without one.
"""
import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Client, Harness, free_port, short, start_cluster_node, wait_until  # noqa: E402

H = Harness("http_auth")
S = {}
IP = "127.0.41.1"
PW = "s3cret"
CONFIG = """requirepass = %s
user = alice on >apw ~app:* +@read +dyna.status -@admin
user = prom on >ppw +info
user = ops on >opw allkeys +@all
auth-fail-delay-ms = 5
auth-fail-delay-max-ms = 50
""" % PW
NOPERM_KEY = "NOPERM this user has no permissions to access one of the keys used as arguments"


def http(method, path, cred=None, body=None, hp=None):
    """(status, headers, body bytes); cred: (user, password) sent as HTTP Basic."""
    req = urllib.request.Request("http://%s%s" % (hp or S["http"], path), data=body, method=method)
    if cred is not None:
        tok = base64.b64encode(("%s:%s" % cred).encode()).decode()
        req.add_header("Authorization", "Basic " + tok)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def info_stats():
    text = S["admin"].call("INFO", "stats").decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def t_start(h):
    path = h.path("dynad.ini")
    with open(path, "w") as f:
        f.write(CONFIG)
    S["http"] = "%s:%d" % (IP, free_port(IP))
    n = start_cluster_node("ha1", h.path("ha1"), IP, extra_args=("--config", path, "--http", S["http"]), wait=False)
    S["node"] = n

    def up():
        try:
            with Client(n.port, host=IP, timeout=2.0) as c:
                return c.call("AUTH", PW) == "OK"
        except OSError:
            return False
    h.expect("dynad answers AUTH", wait_until(up, 20, 0.05, "dynad to start"))
    S["admin"] = Client(n.port, host=IP)
    h.eq("AUTH (the connection INFO is read on)", S["admin"].call("AUTH", PW), "OK")
    h.eq("SET app:1", S["admin"].call("SET", "app:1", "v1"), "OK")
    h.eq("SET other:1", S["admin"].call("SET", "other:1", "v2"), "OK")
    h.check("the log says HTTP checks credentials", "HTTP Basic credentials checked" in n.log_text(), short(n.log_text()))


def t_no_credentials(h):
    st0 = info_stats()
    for path in ("/metrics", "/status", "/ring", "/keys/app:1"):
        status, headers, body = http("GET", path)
        h.eq("GET %s without credentials: 401" % path, status, 401)
        h.eq("... WWW-Authenticate", headers.get("WWW-Authenticate"), 'Basic realm="dyna"')
        h.eq("... a JSON error", json.loads(body), {"error": "NOAUTH Authentication required."})
    status, headers, body = http("POST", "/admin/leave", body=b"")
    h.eq("POST /admin/leave without credentials: 401", status, 401)
    h.eq("no credentials is not a failed login", info_stats()["acl_access_denied_auth"], st0["acl_access_denied_auth"])


def t_wrong(h):
    st0 = info_stats()
    for cred in (("default", "nope"), ("alice", PW), ("nobody", "x"), ("ops", "")):
        status, headers, body = http("GET", "/status", cred)
        h.eq("GET /status as %s:%s: 401" % cred, status, 401)
        h.eq("... WWW-Authenticate", headers.get("WWW-Authenticate"), 'Basic realm="dyna"')
    req = urllib.request.Request("http://%s/status" % S["http"], headers={"Authorization": "Basic !!notbase64"})
    try:
        urllib.request.urlopen(req, timeout=10)
        status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    h.eq("a malformed Basic header: 401", status, 401)
    st1 = info_stats()
    h.eq("5 failed logins counted in INFO", int(st1["acl_access_denied_auth"]) - int(st0["acl_access_denied_auth"]), 5)


def t_right(h):
    status, headers, body = http("GET", "/status", ("default", PW))
    h.eq("GET /status as default (requirepass): 200", status, 200)
    h.check("... the JSON status", "members" in json.loads(body))
    status, headers, body = http("GET", "/ring", ("ops", "opw"))
    h.eq("GET /ring as ops: 200", status, 200)
    status, headers, body = http("GET", "/keys/other:1", ("ops", "opw"))
    h.eq("GET /keys/other:1 as ops: 200", status, 200)
    h.eq("... its value", [s["value"] for s in json.loads(body)["siblings"]], ["v2"])


def t_key_patterns(h):
    st0 = info_stats()
    status, headers, body = http("GET", "/keys/app:1", ("alice", "apw"))
    h.eq("alice (~app:*) GET /keys/app:1: 200", status, 200)
    h.eq("... its value", [s["value"] for s in json.loads(body)["siblings"]], ["v1"])
    status, headers, body = http("GET", "/keys/other:1", ("alice", "apw"))
    h.eq("alice GET /keys/other:1: 403", status, 403)
    h.eq("... NOPERM as RESP words it", json.loads(body), {"error": NOPERM_KEY})
    h.eq("counted in acl_access_denied_key", int(info_stats()["acl_access_denied_key"]) - int(st0["acl_access_denied_key"]), 1)
    status, headers, body = http("GET", "/metrics", ("alice", "apw"))
    h.eq("alice (no INFO) GET /metrics: 403", status, 403)
    h.eq("... naming the command", json.loads(body),
         {"error": "NOPERM this user has no permissions to run the 'info' command"})
    status, headers, body = http("GET", "/status", ("alice", "apw"))
    h.eq("alice (+dyna.status) GET /status: 200", status, 200)
    status, headers, body = http("GET", "/ring", ("alice", "apw"))
    h.eq("alice (no DYNA.RING: it is @slow, not @read) GET /ring: 403", status, 403)
    status, headers, body = http("GET", "/status", ("prom", "ppw"))
    h.eq("prom (+info only) GET /status: 403", status, 403)


def self_status():
    status, headers, body = http("GET", "/status", ("ops", "opw"))
    return [m["status"] for m in json.loads(body)["members"] if m["name"] == "ha1"]


def t_admin(h):
    st0 = info_stats()
    for path in ("/admin/repair", "/admin/leave", "/admin/join?address=127.0.41.2:1"):
        status, headers, body = http("POST", path, ("alice", "apw"), body=b"")
        h.eq("alice (-@admin) POST %s: 403" % path, status, 403)
        h.check("... NOPERM naming the subcommand", json.loads(body)["error"].startswith(
            "NOPERM this user has no permissions to run the 'dyna.admin|"), short(body))
    h.eq("counted in acl_access_denied_cmd", int(info_stats()["acl_access_denied_cmd"]) - int(st0["acl_access_denied_cmd"]), 3)
    h.eq("the node did not leave (still valid in /status)", self_status(), ["valid"])
    status, headers, body = http("POST", "/admin/repair", ("ops", "opw"), body=b"")
    h.eq("ops (@admin) POST /admin/repair: 200", (status, json.loads(body)), (200, {"ok": True}))


def t_prometheus(h):
    r = subprocess.run(["curl", "-sf", "--user", "prom:ppw", "http://%s/metrics" % S["http"]],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    h.eq("curl --user prom:ppw /metrics exits 0", r.returncode, 0)
    p = subprocess.run(["promtool", "check", "metrics"], input=r.stdout, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    h.check("promtool check metrics passes", p.returncode == 0 and not p.stdout.strip() and r.stdout,
            short(p.stdout.decode("utf-8", "replace")))
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://%s/metrics" % S["http"]],
                       stdout=subprocess.PIPE, timeout=30)
    h.eq("curl without --user: 401", r.stdout, b"401")
    pwfile = H.path("prom.pw")
    with open(pwfile, "w") as f:
        f.write("ppw\n")
    cfg = H.path("prometheus.yml")
    with open(cfg, "w") as f:
        f.write("scrape_configs:\n  - job_name: dyna\n    basic_auth:\n      username: prom\n"
                "      password_file: %s\n    static_configs:\n      - targets: ['%s']\n" % (pwfile, S["http"]))
    p = subprocess.run(["promtool", "check", "config", cfg], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    h.eq("promtool check config accepts the basic_auth scrape config", p.returncode, 0)


def t_delay(h):
    st0 = info_stats()
    for i in range(12):
        status, headers, body = http("GET", "/ring", ("ops", "wrong%d" % i))
        h.eq("wrong password %d: 401" % i, status, 401)
    status, headers, body = http("GET", "/ring", ("ops", "opw"))
    h.eq("the right password still gets in: 200", status, 200)
    st1 = info_stats()
    h.check("the failed-login delay held HTTP answers (auth_delayed_replies moved)",
            int(st1["auth_delayed_replies"]) > int(st0["auth_delayed_replies"]), "%s -> %s" % (
                st0["auth_delayed_replies"], st1["auth_delayed_replies"]))
    h.check("... and their time counted", int(st1["auth_delay_ms_total"]) > int(st0["auth_delay_ms_total"]))


def t_no_password(h):
    hp = "%s:%d" % ("127.0.41.2", free_port("127.0.41.2"))
    n = start_cluster_node("ha2", h.path("ha2"), "127.0.41.2", extra_args=("--http", hp))
    status, headers, body = http("GET", "/status", hp=hp)
    h.eq("no password, no users: GET /status without credentials: 200", status, 200)
    status, headers, body = http("POST", "/admin/repair", hp=hp, body=b"")
    h.eq("... POST /admin/repair: 200", status, 200)
    n.stop()
    h.eq("ha2 stops cleanly", n.proc.returncode, 0)


def t_https(h):
    ip = "127.0.41.3"
    crt, key = h.path("http.crt"), h.path("http.key")
    r = subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-sha256", "-days", "2", "-subj", "/CN=ha3",
                        "-addext", "subjectAltName=IP:%s" % ip, "-keyout", key, "-out", crt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    h.expect("openssl makes a certificate", r.returncode == 0, short(r.stdout))
    hp = "%s:%d" % (ip, free_port(ip))
    n = start_cluster_node("ha3", h.path("ha3"), ip, extra_args=(
        "--requirepass", PW, "--http", hp, "--http-tls", "yes", "--tls-cert-file", crt, "--tls-key-file", key),
        wait=False)
    h.expect("ha3 starts", wait_until(lambda: "HTTPS (metrics, admin API) on" in n.log_text() or not n.alive(),
                                      20, 0.05, "ha3 to start") and n.alive(), short(n.log_text()))

    def curl(*args):
        return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", crt] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    r = curl("--user", "default:" + PW, "https://%s/status" % hp)
    h.eq("curl --cacert --user over HTTPS: 200", (r.returncode, r.stdout), (0, b"200"))
    r = curl("https://%s/status" % hp)
    h.eq("... without credentials: 401", (r.returncode, r.stdout), (0, b"401"))
    r = curl("--user", "default:" + PW, "http://%s/status" % hp)
    h.check("plain HTTP on the HTTPS port gets no 200", r.stdout != b"200", repr(r.stdout))
    n.stop()
    h.eq("ha3 stops cleanly", n.proc.returncode, 0)
    bad = start_cluster_node("ha4", h.path("ha4"), "127.0.41.4", extra_args=(
        "--http", "127.0.41.4:%d" % free_port("127.0.41.4"), "--http-tls", "yes"), wait=False)
    h.eq("--http-tls without a certificate: dynad does not start (exit 1)", bad.wait_exit(15), 1)
    h.check("... saying why", "--http-tls needs tls-cert-file and tls-key-file" in bad.log_text(), short(bad.log_text()))


def t_stop(h):
    S["admin"].close()
    S["node"].stop()
    h.eq("ha1 stops cleanly on SIGTERM", S["node"].proc.returncode, 0)


if __name__ == "__main__":
    H.run([
        ("start a node with requirepass, users and --http", t_start),
        ("no credentials: 401", t_no_credentials),
        ("wrong credentials: 401, counted", t_wrong),
        ("right credentials: 200", t_right),
        ("key patterns and commands: 403", t_key_patterns),
        ("admin without @admin: 403, nothing happens", t_admin),
        ("curl and promtool with basic auth", t_prometheus),
        ("the failed-login delay", t_delay),
        ("without a password nothing changes", t_no_password),
        ("--http-tls yes: HTTPS with the node's certificate", t_https),
        ("clean stop", t_stop),
    ])
