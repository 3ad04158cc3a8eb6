#!/usr/bin/python3
"""The web dashboard (GET / on the HTTP port; docs/http.md) in headless Chromium (Debian's
`chromium`) against a real 3-node cluster (127.0.42.1-3):

- /, /dash.js and /dash.css come with their content types, from the binary;
- the page, rendered (`--dump-dom` after a virtual-time budget), draws the ring as Q
  partition elements coloured by owner and lists the 3 members as reachable;
- a node is killed, and the page (polled) shows it unreachable once the failure detector
  judges so;
- a screenshot (n3 down, writes going on) is taken; with DYNA_DASH_SCREENSHOT=PATH it is
  saved there when every check before it passed (docs/dashboard.png, which docs/http.md
  embeds, was made so), so that a test run leaves the source tree as it was.

Chromium comes from scripts/setup.sh (Debian's `chromium`); without it the test fails.
"""
import os
import json
import re
import shutil
import subprocess
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import Harness, free_port, repo_root, short, start_cluster_node, wait_until  # noqa: E402

H = Harness("dashboard")
S = {"nodes": {}, "http": {}}
IPS = {"n1": "127.0.42.1", "n2": "127.0.42.2", "n3": "127.0.42.3"}
Q = 64
# N = 2 of 3 nodes: with one node down its writes go to the third with a hint, which the
# page lists under the node they wait for.
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000, "--ring-size", Q,
          "--n", 2, "--r", 1, "--w", 1)


def chromium():
    """The chromium binary, installed with apt-get when missing and we are root; None when
    it cannot be had."""
    path = shutil.which("chromium")
    if path or os.geteuid() != 0:
        return path
    print("  note chromium missing: apt-get install -y chromium", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        print("  note apt-get failed: %s" % e, flush=True)
    return shutil.which("chromium")


def browse(url, *extra, budget=4000):
    """Runs headless chromium on url (its own profile dir); returns its stdout."""
    prof = H.path("chrome-profile")
    args = [S["chromium"], "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir=" + prof, "--virtual-time-budget=%d" % budget] + list(extra) + [url]
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120,
                       env=dict(os.environ, HOME=H.path()))
    return r.stdout.decode("utf-8", "replace")


def dom(name):
    return browse("http://%s/" % S["http"][name], "--dump-dom")


def rows(html):
    """{member name: its row's data-reach} of the members table in a dumped DOM."""
    out = {}
    for tag in re.findall(r"<tr [^>]*class=\"node\"[^>]*>", html):
        n = re.search(r'data-name="([^"]*)"', tag)
        r = re.search(r'data-reach="([^"]*)"', tag)
        if n and r:
            out[n.group(1)] = r.group(1)
    return out


def hints_shown(html):
    """{member name: the hints-waiting cell of its row} in a dumped DOM."""
    out = {}
    for m in re.finditer(r'<tr [^>]*data-name="([^"]*)"[^>]*>(.*?)</tr>', html):
        c = re.search(r'<td class="hints">([^<]*)</td>', m.group(2))
        if c:
            out[m.group(1)] = c.group(1)
    return out


def status_of(name):
    with urllib.request.urlopen("http://%s/status" % S["http"][name], timeout=5) as r:
        return json.loads(r.read())


def start(name, join=None):
    hp = "%s:%d" % (IPS[name], free_port(IPS[name]))
    S["nodes"][name] = start_cluster_node(name, H.path(name), IPS[name], join=join,
                                          extra_args=COMMON + ("--http", hp))
    S["http"][name] = hp


def t_start(h):
    start("n1")
    start("n2", join=S["nodes"]["n1"].cluster_addr)
    start("n3", join=S["nodes"]["n1"].cluster_addr)

    def formed():
        for nm in ("n1", "n2", "n3"):
            with urllib.request.urlopen("http://%s/status" % S["http"][nm], timeout=5) as r:
                ms = json.loads(r.read())["members"]
            if sorted(m["name"] for m in ms) != ["n1", "n2", "n3"]:
                return False
            if any(m["status"] != "valid" or m["reachability"] == "unreachable" for m in ms):
                return False
        return True
    h.expect("3 nodes see each other", wait_until(formed, 30, 0.1, "the cluster to form"))
    c = S["nodes"]["n1"].client()
    for i in range(50):
        c.call("SET", "dash:%d" % i, "v")
        c.call("GET", "dash:%d" % i)


def t_files(h):
    for path, ctype in (("/", "text/html"), ("/index.html", "text/html"), ("/dash.js", "text/javascript"),
                        ("/dash.css", "text/css")):
        with urllib.request.urlopen("http://%s%s" % (S["http"]["n2"], path), timeout=5) as r:
            body = r.read()
            h.check("GET %s: 200 %s" % (path, ctype), r.status == 200 and
                    r.headers["Content-Type"].startswith(ctype), short(dict(r.headers)))
            h.check("... with a body", len(body) > 500, short(body))
    try:
        urllib.request.urlopen("http://%s/nope.js" % S["http"]["n2"], timeout=5)
        h.check("an unknown file is 404", False)
    except urllib.error.HTTPError as e:
        h.eq("an unknown file is 404", e.code, 404)


def t_render(h):
    html = dom("n1")
    parts = re.findall(r"<path [^>]*class=\"part[ \"]", html)
    h.eq("the ring has Q = %d partition elements" % Q, len(parts), Q)
    owners = set(re.findall(r'data-owner="([^"]*)"', html))
    h.eq("coloured by 3 owners", owners, {"n1", "n2", "n3"})
    fills = set(re.findall(r'<path [^>]*fill="([^"]*)"', html))
    h.eq("... in 3 colours", len(fills), 3)
    r = rows(html)
    h.eq("3 members listed, reachable (n1 is itself)", r,
         {"n1": "self", "n2": "reachable", "n3": "reachable"})
    h.check("the progress panel is drawn", "anti-entropy: partitions in sync" in html, short(html[-800:]))
    h.check("a request rate is shown", re.search(r'id="rate">[0-9.k]+/s<', html) is not None,
            short(re.findall(r'id="rate">[^<]*<', html)))


def t_kill(h):
    S["nodes"]["n3"].kill()
    seen = {}

    def unreachable():
        seen["rows"] = rows(dom("n1"))
        return seen["rows"].get("n3") == "unreachable"
    ok = False
    try:
        ok = wait_until(unreachable, 60, 0.2, "the page to show n3 unreachable")
    except AssertionError as e:
        seen["err"] = str(e)
    h.check("after a kill the page shows n3 unreachable", ok, short(seen))
    h.eq("... and the others still reachable", {k: v for k, v in seen.get("rows", {}).items() if k != "n3"},
         {"n1": "self", "n2": "reachable"})


def t_hints(h):
    """Writes while n3 is down leave hints for it on n1 (N = 2: n1 is the fallback of
    n3's partitions shared with n2); the page shows /status's count in n3's row."""
    c = S["nodes"]["n1"].client()
    for i in range(200):
        c.call("SET", "hint:%d" % i, "v")
    want = {}

    def held():  # and no longer moving: the same count twice
        last = want.get("n")
        want["n"] = {m["name"]: m["hints_waiting"] for m in status_of("n1")["members"]}["n3"]
        return want["n"] > 0 and want["n"] == last
    h.expect("n1's /status counts hints waiting for n3", wait_until(held, 20, 0.2, "hints for n3"))
    st = status_of("n1")
    h.eq("... in its progress object too", st["progress"]["hints_waiting"],
         sum(m["hints_waiting"] for m in st["members"]) + st["progress"]["hints_waiting_unknown_owner"])
    shown = hints_shown(dom("n1"))
    h.eq("the page shows n1's hints waiting for n3", shown.get("n3"), str(want["n"]))
    h.eq("... and none for n2", shown.get("n2"), "0")


def t_screenshot(h):
    """With n3 down and writes going on (hints for n3), as docs/http.md shows it."""
    out = os.environ.get("DYNA_DASH_SCREENSHOT")
    tmp = H.path("dashboard.png")
    stop = threading.Event()

    def load():
        c = S["nodes"]["n1"].client()
        i = 0
        while not stop.is_set():
            c.call("SET", "shot:%d" % i, "v" * 100)
            c.call("GET", "shot:%d" % (i // 2))
            i += 1
    t = threading.Thread(target=load, daemon=True)
    t.start()
    try:
        browse("http://%s/" % S["http"]["n1"], "--screenshot=" + tmp, "--window-size=1200,900",
               "--hide-scrollbars", budget=15000)
    finally:
        stop.set()
        t.join(10)
    ok = os.path.exists(tmp) and os.path.getsize(tmp) > 10000
    h.check("a screenshot is taken", ok, tmp)
    # Only a page that passed every check replaces the one the docs show.
    if ok and out and not h.failures:
        shutil.copyfile(tmp, out)
        h.note("saved %s" % out)


if __name__ == "__main__":
    S["chromium"] = chromium()
    if not S["chromium"]:
        print("FAIL: test_dashboard needs Debian's chromium (scripts/setup.sh installs it), which is "
              "not installed and could not be installed (apt-get install -y chromium, as root)", flush=True)
        sys.exit(1)
    H.run([
        ("start a 3-node cluster with --http", t_start),
        ("the dashboard's files", t_files),
        ("the page renders the ring and the members", t_render),
        ("a killed node turns unreachable on the page", t_kill),
        ("hints waiting per target", t_hints),
        ("a screenshot", t_screenshot),
    ])
