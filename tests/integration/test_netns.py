#!/usr/bin/python3
"""docs/deploy.md's three hosts, for real: three network namespaces joined by a bridge
(in a namespace of its own) stand in for dyna1..dyna3, and a fourth for an application
host. Each dynad runs under `ip netns exec` with the guide's own config file (read from
docs/deploy.md; its addresses moved to a private 10.213.X.0/24 and /etc/dyna,
/var/lib/dyna to a scratch dir). Checks: the cluster forms (every node sees 3 members),
serves (a write through one node is read through another, with dynalib, redis-cli, the
dyna CLI and the HTTP port, all from inside the namespaces), and survives one host's link
going down (writes at W=2 through a survivor succeed, the cut node is seen unreachable;
once it is back, the writes made meanwhile reach it); then the guide's "Replacing a node":
dyna3 dies, a fresh one with the same file and an empty data dir takes its place and
holds every key again.

Root only: as any other user it prints a notice and exits 0. Every namespace, veth and
bridge it makes is named after this process (dynt<pid>...), lives in its own namespaces
(nothing is added to the root namespace, no firewall rule is touched) and is deleted on
exit, failure, SIGTERM or Ctrl-C; a run killed with SIGKILL leaves namespaces that the
next run deletes (those whose pid is gone)."""
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (STATUS_FIELDS, Harness, Node, bin_dir, cleanup_all, dynad_path,  # noqa: E402
                     repo_root, short, wait_until)

PID = os.getpid()
TAG = "dynt%d" % PID                       # every name made here starts with this
NS_BR = TAG + "-br"                          # the bridge's namespace
NAMES = ("dyna1", "dyna2", "dyna3")
GUIDE_IPS = {"dyna1": "10.0.0.11", "dyna2": "10.0.0.12", "dyna3": "10.0.0.13"}
SUBNET = "10.213.%d" % (PID % 200 + 20)      # inside the namespaces only: no route meets it
IPS = {n: "%s.%d" % (SUBNET, 11 + i) for i, n in enumerate(NAMES)}
CLIENT_IP = SUBNET + ".100"
CLIENT_NS = TAG + "-app"
CLIENT_PORT, HTTP_PORT = 7001, 8001


def ns_of(name):
    return "%s-%s" % (TAG, name)


def ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=20)
    if check and p.returncode:
        raise RuntimeError("ip %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


# ------------------------------------------------------------------ namespaces


def stale_namespaces():
    """Namespaces of earlier runs (dynt<pid>-...) whose process is gone."""
    out = []
    for line in ip("netns", "list", check=False).stdout.splitlines():
        m = re.match(r"^(dynt(\d+)-[a-z0-9]+)\b", line)
        if m and not os.path.exists("/proc/%s" % m.group(2)):
            out.append(m.group(1))
    return out


def delete_namespaces(names, kill=False):
    """kill: first SIGKILL what still runs in them (the dynad of a run killed with
    SIGKILL: only processes of our own namespaces)."""
    for ns in names:
        if kill:
            for pid in ip("netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        ip("netns", "del", ns, check=False)


_made = []      # namespaces this run made, deleted by teardown()


def teardown():
    """Kills the processes (dynad, the client agent) first: a namespace with a process
    in it outlives `ip netns del`. Deleting a namespace deletes its interfaces."""
    AGENT.stop()
    cleanup_all()
    delete_namespaces(reversed(_made))
    del _made[:]


def setup_network():
    """The bridge in its own namespace; per host a namespace with one veth whose other
    end is in the bridge (named TAG + 'v' + index, at most 15 bytes)."""
    stale = stale_namespaces()
    if stale:
        print("  note deleting namespaces of killed runs: %s" % " ".join(stale), flush=True)
        delete_namespaces(stale, kill=True)
    ip("netns", "add", NS_BR)
    _made.append(NS_BR)
    br = TAG + "br"
    ip("-n", NS_BR, "link", "add", br, "type", "bridge")
    ip("-n", NS_BR, "link", "set", br, "up")
    hosts = [(ns_of(n), IPS[n]) for n in NAMES] + [(CLIENT_NS, CLIENT_IP)]
    for i, (ns, addr) in enumerate(hosts):
        ip("netns", "add", ns)
        _made.append(ns)
        outer, inner = "%sv%d" % (TAG, i), "%se%d" % (TAG, i)
        ip("link", "add", outer, "netns", NS_BR, "type", "veth", "peer", "name", inner, "netns", ns)
        ip("-n", NS_BR, "link", "set", outer, "master", br, "up")
        ip("-n", ns, "addr", "add", addr + "/24", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "link", "set", "lo", "up")


def bridge_port(name):
    """The bridge end of the host's veth: down, the host is cut off."""
    return "%sv%d" % (TAG, NAMES.index(name))


# ------------------------------------------------------------------ the client agent
#
# One long-lived /usr/bin/python3 in the application namespace runs the clients: a JSON
# line in ({"op": "call", "host", "port", "args"} or {"op": "http", "url"}), a JSON line
# out ({"r": reply} or {"exc": text}); replies are dynalib's, with bytes as text and
# errors as {"error": msg}.

AGENT_SRC = r'''
import json, sys, urllib.request
sys.path.insert(0, sys.argv[1])
from dynalib import Client, RespError
def enc(v):
    if isinstance(v, bytes): return v.decode("utf-8", "replace")
    if isinstance(v, RespError): return {"error": v.msg}
    if isinstance(v, list): return [enc(x) for x in v]
    return v
for line in sys.stdin:
    q = json.loads(line)
    try:
        if q["op"] == "call":
            with Client(q["port"], host=q["host"], timeout=3.0) as c:
                out = {"r": enc(c.call(*q["args"]))}
        else:
            with urllib.request.urlopen(q["url"], timeout=3.0) as f:
                out = {"r": f.read().decode("utf-8", "replace")}
    except Exception as e:
        out = {"exc": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
'''


class Agent(object):
    def __init__(self):
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", CLIENT_NS, "/usr/bin/python3", "-u", "-c", AGENT_SRC,
             os.path.dirname(os.path.abspath(__file__))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, q):
        self.proc.stdin.write(json.dumps(q) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the client agent exited (%s)" % self.proc.poll())
        return json.loads(line)

    def call(self, name, *args):
        """The reply of the command at node name's client port; ("exc", text) when the
        connection failed."""
        a = self.ask({"op": "call", "host": IPS[name], "port": CLIENT_PORT, "args": list(args)})
        return a["r"] if "r" in a else ("exc", a["exc"])

    def http(self, name, path):
        a = self.ask({"op": "http", "url": "http://%s:%d%s" % (IPS[name], HTTP_PORT, path)})
        return a["r"] if "r" in a else ("exc", a["exc"])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


AGENT = Agent()


def in_ns(ns, *argv):
    """Runs a program in namespace ns; returns (exit code, stdout+stderr)."""
    p = subprocess.run(["ip", "netns", "exec", ns] + list(argv), capture_output=True,
                       text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def in_client_ns(*argv):
    """Runs a program in the application namespace."""
    return in_ns(CLIENT_NS, *argv)


# ------------------------------------------------------------------ the guide's files


def guide_configs():
    """{name: text} of the ```ini blocks of docs/deploy.md, one per host."""
    with open(os.path.join(repo_root(), "docs", "deploy.md")) as f:
        text = f.read()
    out = {}
    for block in re.findall(r"```ini\n(.*?)```", text, re.S):
        m = re.match(r"# /etc/dyna/dynad\.conf on (dyna\d)\b", block)
        if m:
            out[m.group(1)] = block
    return out


def write_host_files(h, name, conf):
    """The host's /etc/dyna and /var/lib/dyna under h's scratch dir; returns the config
    file's path. Addresses and paths of the guide are moved to this test's."""
    etc, data = h.path(name, "etc", "dyna"), h.path(name, "var", "lib", "dyna")
    os.makedirs(etc)
    os.makedirs(data)
    for g in NAMES:
        conf = conf.replace(GUIDE_IPS[g] + ":", IPS[g] + ":")
    conf = conf.replace("/etc/dyna/", etc + "/").replace("/var/lib/dyna", data)
    path = os.path.join(etc, "dynad.conf")
    with open(path, "w") as f:
        f.write(conf)
    with open(os.path.join(etc, "cluster.secret"), "w") as f:
        f.write(SECRET + "\n")
    os.chmod(os.path.join(etc, "cluster.secret"), 0o600)
    return path, data


SECRET = os.urandom(32).hex()
NODES = {}
FORMED = []     # not empty once t_form saw the cluster form
FILES = {}      # name: (its dynad.conf, its data dir)


def start_host(h, name, path, data):
    args = ["ip", "netns", "exec", ns_of(name), dynad_path(), "--config", path]
    NODES[name] = Node(name, data, CLIENT_PORT, args, h.path(name, "dynad.log"), host=IPS[name])


def status(via):
    """DYNA.STATUS at via as {name: row} of its members but the removed ones (a replaced
    member keeps a removed row under its name); None when it does not answer."""
    r = AGENT.call(via, "DYNA.STATUS")
    if not isinstance(r, list) or not all(isinstance(x, list) and len(x) == len(STATUS_FIELDS) for x in r):
        return None
    rows = [dict(zip(STATUS_FIELDS, x)) for x in r]
    return dict((x["name"], x) for x in rows if x["status"] != "removed")


def sees(via, want):
    """via sees each of NAMES valid with reach in want[name]."""
    st = status(via)
    return bool(st) and all(st.get(n, {}).get("status") == "valid" and st[n]["reach"] in want[n]
                            for n in NAMES)


def rings_agree():
    rings = [AGENT.call(n, "DYNA.RING") for n in NAMES]
    return all(isinstance(r, list) and len(r) == 5 and r[2] == rings[0][2] and r[4] == rings[0][4]
               for r in rings)


def logs():
    return "\n".join("--- %s:\n%s" % (n, NODES[n].log_tail(15)) for n in NODES)


# ------------------------------------------------------------------ the tests


def t_form(h):
    confs = guide_configs()
    h.expect("docs/deploy.md has a config file for each host", sorted(confs) == list(NAMES), short(sorted(confs)))
    setup_network()
    AGENT.start()
    files = FILES
    files.update((n, write_host_files(h, n, confs[n])) for n in NAMES)
    for n in NAMES:  # dyna1 first, as the guide says; the others once it answers
        start_host(h, n, *files[n])
        wait_until(lambda: AGENT.call(n, "PING") == "PONG" or not NODES[n].alive(), 15, 0.05,
                   "%s to answer PING at %s:%d" % (n, IPS[n], CLIENT_PORT))
        h.expect("%s runs with the guide's config file" % n, NODES[n].alive(), NODES[n].log_tail())
    up = dict((n, ("self", "reachable")) for n in NAMES)
    err = None
    try:
        wait_until(lambda: all(sees(v, up) for v in NAMES) and rings_agree(), 40, 0.2,
                   "every node to see dyna1..3 valid and reachable, on one ring")
    except AssertionError as e:
        err = str(e)
    if err:
        for v in NAMES:
            st = status(v) or {}
            joins = [l for l in open(files[v][0]).read().splitlines() if l.startswith("join")]
            h.note("%s (config: %s) sees: %s" % (v, joins[0] if joins else "no join line", ", ".join(
                "%s %s %s" % (m, st[m]["status"], st[m]["reach"]) for m in sorted(st))))
        h.note("the nodes' logs:\n" + logs())
        h.expect("the cluster forms", False, err)
    FORMED.append(True)
    h.check("the cluster forms: each node sees 3 members",
            all(len(status(v) or {}) == 3 for v in NAMES), short([status(v) for v in NAMES], 400))
    rc, out = in_client_ns(os.path.join(bin_dir(), "dyna"), "-h", IPS["dyna2"], "-p", str(CLIENT_PORT), "status")
    h.check("dyna -h dyna2 status lists the three, reachable",
            rc == 0 and all(re.search(r"\b%s\b" % n, out) for n in NAMES) and "unreachable" not in out,
            short(out, 400))
    m = AGENT.http("dyna2", "/metrics")
    h.check("dyna2's HTTP port serves /metrics with dyna_members",
            isinstance(m, str) and "dyna_members" in m, short(m, 200))


def t_serve(h):
    h.expect("the cluster formed", FORMED and all(n.alive() for n in NODES.values()))
    h.eq("SET through dyna1", AGENT.call("dyna1", "SET", "greeting", "hello"), "OK")
    h.eq("GET through dyna3", AGENT.call("dyna3", "GET", "greeting"), "hello")
    rc, out = in_client_ns("redis-cli", "-h", IPS["dyna2"], "-p", str(CLIENT_PORT), "get", "greeting")
    h.check("redis-cli -h dyna2 get greeting", rc == 0 and out.strip() == "hello", short(out))


def t_cut(h):
    h.expect("the cluster formed", FORMED and all(n.alive() for n in NODES.values()))
    ip("-n", NS_BR, "link", "set", bridge_port("dyna3"), "down")
    cut = {"dyna1": ("self", "reachable"), "dyna2": ("reachable", "self"), "dyna3": ("unreachable",)}
    wait_until(lambda: sees("dyna1", cut) and sees("dyna2", cut), 20, 0.2,
               "dyna1 and dyna2 to see dyna3 unreachable")
    h.check("dyna3 cut off: dyna1 and dyna2 see it unreachable", True)
    keys = ["cut:%d" % i for i in range(20)]
    replies = [AGENT.call("dyna1" if i % 2 else "dyna2", "SET", k, "v%d" % i) for i, k in enumerate(keys)]
    h.check("20 writes at W=2 through dyna1 and dyna2 succeed while dyna3 is cut off",
            all(r == "OK" for r in replies), short(replies, 300))
    h.eq("a read through dyna2 sees a write made through dyna1", AGENT.call("dyna2", "GET", keys[1]), "v1")
    r = AGENT.call("dyna3", "PING")
    h.check("the application host cannot reach dyna3", isinstance(r, tuple) and r[0] == "exc", short(r))
    rc, out = in_ns(ns_of("dyna3"), "redis-cli", "-h", IPS["dyna3"], "-p", str(CLIENT_PORT), "DYNA.LOCAL", keys[0])
    h.check("on dyna3 itself, DYNA.LOCAL %s is empty: the write did not reach it" % keys[0],
            rc == 0 and "v0" not in out, short(out))
    rc, out = in_ns(ns_of("dyna3"), os.path.join(bin_dir(), "dyna"), "-h", IPS["dyna3"], "-p", str(CLIENT_PORT), "status")
    h.check("on dyna3 itself, dyna status shows dyna1 and dyna2 unreachable",
            rc == 0 and len(re.findall(r"^(?=.*\bdyna[12]\b).*\bunreachable\b", out, re.M)) == 2, short(out, 400))
    ip("-n", NS_BR, "link", "set", bridge_port("dyna3"), "up")
    up = dict((n, ("self", "reachable")) for n in NAMES)
    wait_until(lambda: all(sees(v, up) for v in NAMES), 30, 0.2, "every node to see dyna3 reachable again")
    h.check("dyna3 back: every node sees the three reachable", True)

    def missing():
        got = [AGENT.call("dyna3", "DYNA.LOCAL", k) for k in keys]
        return [k for k, r in zip(keys, got)
                if not (isinstance(r, list) and len(r) == 2 and r[1] == ["v%d" % keys.index(k)])]
    try:
        wait_until(lambda: not missing(), 30, 0.2, "dyna3 to hold the writes made while it was cut off")
        h.check("dyna3 holds all 20 writes made while it was cut off (DYNA.LOCAL)", True)
    except AssertionError as e:
        h.check("dyna3 holds all 20 writes made while it was cut off (DYNA.LOCAL)", False,
                "%s; missing %s" % (e, short(missing(), 300)))


def t_replace(h):
    """The guide's "Replacing a node": dyna3's disk dies; a fresh dyna3 with the same
    dynad.conf and an empty data dir takes its place, and its replicas are rebuilt."""
    h.expect("the cluster formed", FORMED and all(n.alive() for n in NODES.values()))
    old_id = status("dyna1")["dyna3"]["id"]
    NODES["dyna3"].kill()
    more = ["replaced:%d" % i for i in range(10)]
    replies = [AGENT.call("dyna1", "SET", k, "r%d" % i) for i, k in enumerate(more)]
    h.check("10 writes through dyna1 while dyna3 is dead", all(r == "OK" for r in replies), short(replies))
    data = NODES["dyna3"].data_dir
    shutil.rmtree(data)
    os.makedirs(data)
    start_host(h, "dyna3", FILES["dyna3"][0], data)
    up = dict((n, ("self", "reachable")) for n in NAMES)
    try:
        wait_until(lambda: all(sees(v, up) and status(v)["dyna3"]["id"] != old_id for v in NAMES)
                   and rings_agree(), 30, 0.2, "every node to see the fresh dyna3 (a new id) valid and reachable")
        h.check("the fresh dyna3 takes the dead one's place: 3 live members everywhere, one ring", True)
    except AssertionError as e:
        h.check("the fresh dyna3 takes the dead one's place: 3 live members everywhere, one ring", False,
                "%s; %s\n%s" % (e, short([status(v) for v in NAMES], 600), logs()))
        return
    rc, out = in_client_ns(os.path.join(bin_dir(), "dyna"), "-t", "30000", "-h", IPS["dyna3"], "-p",
                           str(CLIENT_PORT), "admin", "repair", "--wait")
    h.check("dyna -h dyna3 admin repair --wait", rc == 0, short(out, 300))
    want = {"greeting": "hello"}
    want.update(("cut:%d" % i, "v%d" % i) for i in range(20))
    want.update((k, "r%d" % i) for i, k in enumerate(more))

    def missing():
        got = dict((k, AGENT.call("dyna3", "DYNA.LOCAL", k)) for k in want)
        return [k for k, r in got.items() if not (isinstance(r, list) and len(r) == 2 and r[1] == [want[k]])]
    try:
        wait_until(lambda: not missing(), 30, 0.25, "the fresh dyna3 to hold every key")
        h.check("the fresh dyna3 holds all %d keys again (DYNA.LOCAL)" % len(want), True)
    except AssertionError as e:
        h.check("the fresh dyna3 holds all %d keys again (DYNA.LOCAL)" % len(want), False,
                "%s; missing %s" % (e, short(missing(), 300)))


def t_final(h):
    for name, n in sorted(NODES.items()):
        h.check("%s still running" % name, n.alive(), n.log_tail(10))
        text = n.log_text()
        for bad in ("AddressSanitizer", "runtime error", "assert"):
            if bad in text:
                h.check("%s log free of %r" % (name, bad), False, n.log_tail(10))


INTERRUPTED = []  # the signal that stopped the run: it fails whatever passed before


def on_signal(signum, frame):
    INTERRUPTED.append(signum)
    teardown()
    sys.exit(128 + signum)


def main():
    if os.geteuid() != 0:
        print("test_netns: SKIPPED, not run: it needs root (ip netns, veth, a bridge); "
              "run it as root to test docs/deploy.md's three hosts", flush=True)
        return 0
    if not shutil.which("ip"):
        print("test_netns: FAIL: no `ip` (iproute2) on PATH", flush=True)
        return 1
    atexit.register(teardown)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    h = Harness("netns")
    h.note("namespaces %s-*, subnet %s.0/24, dynad %s" % (TAG, SUBNET, dynad_path()))
    try:
        h.run([("form", t_form), ("serve", t_serve), ("cut", t_cut), ("replace", t_replace), ("final", t_final)])
    finally:
        teardown()
        left = [l for l in ip("netns", "list", check=False).stdout.splitlines() if l.startswith(TAG + "-")]
        if left:
            print("test_netns: FAIL: namespaces left behind: %s" % left, flush=True)
            sys.exit(1)
        if INTERRUPTED:
            print("test_netns: FAIL: stopped by signal %d (namespaces deleted)" % INTERRUPTED[0], flush=True)
            sys.exit(128 + INTERRUPTED[0])


if __name__ == "__main__":
    sys.exit(main())
