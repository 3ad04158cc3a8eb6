#!/usr/bin/python3
"""libdyna and dyna-bench against a real 3-node cluster on loopback (127.0.0.31-33).

The cluster runs with N=2 (R=W=2) so that a key's preference list leaves one node out and
routing is observable: a write sent to a node outside the list is forwarded (INFO
`forwarded`), one sent to the list is not.

  1. examples/cart (built as example_cart): concurrent adds become siblings, the merge
     (union of items) written back with the context leaves one sibling, checkout deletes.
  2. Routing, from inside the library: through ctypes on libdyna.so, dyna_client_route()
     names for 300 keys the first node of the key's preference list, which is computed
     here independently (slot partition + DYNA.RING, dynalib.preference_names).
  3. Routing, on the servers: dyna-bench workload A routed by the ring adds 0 to the
     summed `forwarded` counters while `puts` grows; the same run with --routing seed
     (everything through one node) is forwarded about 1/3 of the time.
  4. dyna-bench output: human table and --json for workloads A, B, C, F (uniform and
     zipfian, with a load phase); the JSON fields are checked (counts add up, quantiles
     ordered, no errors), and --help names every flag.
  5. A node killed: routed requests fall back to the next preference-list node and the
     run still succeeds (R=W=1 so quorum waits do not depend on failure detection).
  6. --protocol redis against a redis-server (when /usr/bin/redis-server exists).
  7. The typed calls: examples/cart_set (example_cart_set) adds from two clients, removes,
     counts and expires through dyna_sadd/srem/smembers/incrby/expire/ttl/type; the dyna
     CLI's type subcommands (incr, sadd, smembers, srem, hset, hget, hgetall, zadd,
     zincrby, zrange, lpush, rpush, lrange, lpop, expire, ttl, persist, type) print what
     Redis would answer, WRONGTYPE is an error (exit 1), a bad number a usage error
     (exit 2), and --help names every subcommand.

Environment: DYNA_BIN (dynad, dyna-bench, example_cart; libdyna.so in ../lib), DYNA_TMP."""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynalib import (Client, Harness, bin_dir, cluster_ring, free_port,  # noqa: E402
                     preference_names, short, start_cluster_node, wait_until)

H = Harness("client")
S = {}
IPS = {"n1": "127.0.0.31", "n2": "127.0.0.32", "n3": "127.0.0.33"}
COMMON = ("--gossip-interval-ms", 200, "--request-timeout-ms", 1000, "--n", 2, "--r", 2,
          "--w", 2, "--log-level", "warn")


def exe(name):
    return os.path.join(bin_dir(), name)


def seeds(names=("n1", "n2", "n3")):
    return ",".join("%s:%d" % (S["nodes"][n].ip, S["nodes"][n].port) for n in names)


def info_sum(field, names=("n1", "n2", "n3")):
    total = 0
    for n in names:
        node = S["nodes"][n]
        with Client(node.port, host=node.host, timeout=5.0) as c:
            text = c.call("INFO")
        for line in text.decode().split("\r\n"):
            if line.startswith(field + ":"):
                total += int(line.split(":", 1)[1])
    return total


def bench(*args, timeout=60):
    cmd = [exe("dyna-bench")] + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def settled():
    rings = [cluster_ring(S["nodes"][n]) for n in IPS]
    if any(r is None for r in rings):
        return False
    if len(set(r["version"] for r in rings)) != 1:
        return False
    if any(sorted(m["name"] for m in r["members"] if m["status"] == "valid") != sorted(IPS)
           for r in rings):
        return False
    return rings[0]


def t_start(h):
    S["nodes"] = {}
    first = None
    for name in ("n1", "n2", "n3"):
        n = start_cluster_node(name, h.path(name), IPS[name],
                               join=first.cluster_addr if first else None, extra_args=COMMON)
        S["nodes"][name] = n
        first = first or n
    S["ring"] = wait_until(settled, 20, interval=0.2, what="3 members and one ring version")
    h.eq("ring n", S["ring"]["n"], 2)


def t_cart(h):
    p = subprocess.run([exe("example_cart"), "--seeds", seeds(), "--user", "ann"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    print("\n".join("    | " + l for l in out.splitlines()))
    h.eq("example_cart exit status", p.returncode, 0)
    h.check("two concurrent adds became two siblings", "2. read: 2 siblings" in out, out)
    h.check("merge kept every item", "merged: [book, coffee, pencil]" in out, out)
    h.check("write with the context resolved the siblings", "1 sibling" in out, out)


def load_libdyna():
    for cand in (os.path.join(bin_dir(), "..", "lib", "libdyna.so"),
                 os.path.join(bin_dir(), "libdyna.so")):
        if os.path.exists(cand):
            try:
                lib = ctypes.CDLL(os.path.abspath(cand))
            except OSError as e:  # e.g. an ASan build cannot load into this python
                print("  note cannot load %s: %s" % (cand, e), flush=True)
                return None
            lib.dyna_client_open.argtypes = [ctypes.c_char_p, ctypes.c_void_p,
                                             ctypes.POINTER(ctypes.c_void_p)]
            lib.dyna_client_route.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                              ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                              ctypes.c_size_t]
            lib.dyna_client_close.argtypes = [ctypes.c_void_p]
            lib.dyna_client_ring_version.argtypes = [ctypes.c_void_p]
            lib.dyna_client_ring_version.restype = ctypes.c_uint64
            lib.dyna_client_errmsg.argtypes = [ctypes.c_void_p]
            lib.dyna_client_errmsg.restype = ctypes.c_char_p
            return lib
    return None


def t_route_library(h):
    lib = load_libdyna()
    if lib is None:
        h.note("libdyna.so not found next to %s: library routing check skipped" % bin_dir())
        return
    c = ctypes.c_void_p()
    rc = lib.dyna_client_open(seeds(("n2",)).encode(), None, ctypes.byref(c))
    h.expect("dyna_client_open on one seed", rc == 0, lib.dyna_client_errmsg(c))
    ring = S["ring"]
    h.eq("client routes by the cluster's ring version", lib.dyna_client_ring_version(c),
         ring["version"])
    addr_of = dict((m["name"], m["client_addr"]) for m in ring["members"])
    bad_first, bad_pref = [], []
    addr = ctypes.create_string_buffer(128)
    pref = ctypes.create_string_buffer(512)
    for i in range(300):
        key = ("rk%d" % i).encode()
        rc = lib.dyna_client_route(c, key, len(key), addr, 128, pref, 512)
        want = [addr_of[n] for n in preference_names(ring, key)]
        if rc != 0 or addr.value.decode() != want[0]:
            bad_first.append((key, addr.value, want))
        if pref.value.decode().split(",") != want:
            bad_pref.append((key, pref.value, want))
    h.check("300 keys: the client picks the first node of each preference list",
            not bad_first, short(bad_first[:3]))
    h.check("300 keys: the client's preference lists equal DYNA.RING's",
            not bad_pref, short(bad_pref[:3]))
    lib.dyna_client_close(c)


def t_route_servers(h):
    f0, p0 = info_sum("forwarded"), info_sum("puts")
    rc, out, err = bench("--seeds", seeds(("n1",)), "--workload", "A", "--ops", 2000,
                         "--keys", 1000, "--connections", 8, "--json")
    h.expect("routed bench ran", rc == 0, err)
    j = json.loads(out)
    f1, p1 = info_sum("forwarded"), info_sum("puts")
    upd = j["run"]["by_op"]["UPDATE"]["count"]
    h.note("routed: %d updates, forwarded +%d, puts +%d" % (upd, f1 - f0, p1 - p0))
    h.check("routed writes were coordinated where they landed (forwarded +0)", f1 == f0,
            "forwarded +%d" % (f1 - f0))
    h.check("the nodes saw the routed writes (puts grew)", p1 - p0 >= upd, "%d" % (p1 - p0))
    rc, out, err = bench("--seeds", seeds(("n1",)), "--workload", "A", "--ops", 2000,
                         "--keys", 1000, "--connections", 8, "--routing", "seed", "--json")
    h.expect("unrouted bench ran", rc == 0, err)
    j = json.loads(out)
    f2 = info_sum("forwarded")
    upd = j["run"]["by_op"]["UPDATE"]["count"]
    h.note("through one node: %d updates, forwarded +%d" % (upd, f2 - f1))
    h.check("writes through one node are partly forwarded (about 1/3 with N=2 of 3)",
            upd // 10 < f2 - f1 <= upd, "forwarded +%d of %d" % (f2 - f1, upd))


def check_json(h, what, j, ops, ops_names):
    run = j["run"]
    h.eq("%s: run.ops" % what, run["ops"] + run["errors"], ops)
    h.eq("%s: no errors" % what, run["errors"], 0)
    h.check("%s: ops_per_sec > 0" % what, run["ops_per_sec"] > 0, short(run))
    h.eq("%s: operation types" % what, sorted(run["by_op"]), sorted(ops_names))
    total = 0
    for name, o in run["by_op"].items():
        lat = o["latency_us"]
        keys = ["mean", "min", "p50", "p90", "p99", "p999", "max"]
        h.check("%s %s: latency fields" % (what, name), all(k in lat for k in keys), short(lat))
        seq = [lat["min"], lat["p50"], lat["p90"], lat["p99"], lat["p999"], lat["max"]]
        h.check("%s %s: min <= p50 <= p90 <= p99 <= p99.9 <= max" % (what, name),
                all(a <= b for a, b in zip(seq, seq[1:])) and seq[0] > 0, short(seq))
        total += o["count"]
    h.eq("%s: counts add up" % what, total, run["ops"])


def t_bench_output(h):
    rc, out, err = bench("--help")
    flags = ["--seeds", "--workload", "--distribution", "--theta", "--keys", "--key-prefix",
             "--value-size", "--connections", "--pipeline", "--duration", "--ops", "--load",
             "--load-only", "--protocol", "--routing", "--r", "--w", "--timeout-ms", "--seed",
             "--interval", "--json", "--help"]
    h.check("--help documents every flag", rc == 0 and all(f in out for f in flags),
            [f for f in flags if f not in out])
    rc, out, err = bench("--workload", "Z")
    h.eq("bad workload is a usage error", rc, 2)
    rc, out, err = bench("--seeds", seeds(), "--workload", "A", "--ops", 2000, "--keys", 1000,
                         "--pipeline", 4)
    print("\n".join("    | " + l for l in out.splitlines()))
    h.check("human output: a run line and READ/UPDATE rows", rc == 0 and "run: 2000 ops" in out
            and "\n  READ " in out and "\n  UPDATE " in out and "p99.9" in out, out + err)
    for wl, extra, names in (("B", ["--distribution", "zipfian"], ["READ", "UPDATE"]),
                             ("C", ["--load"], ["READ"]),
                             ("F", ["--load", "--pipeline", 8], ["READ", "READ-MODIFY-WRITE"])):
        rc, out, err = bench("--seeds", seeds(), "--workload", wl, "--ops", 2000, "--keys", 500,
                             "--json", *extra)
        h.expect("workload %s ran" % wl, rc == 0, err)
        j = json.loads(out)
        h.eq("workload %s: JSON names it" % wl, j["workload"], wl)
        h.eq("workload %s: routing" % wl, j["routing"], "ring")
        check_json(h, "workload %s" % wl, j, 2000, names)
        if "--load" in extra:
            h.eq("workload %s: load wrote every key" % wl, j["load"]["by_op"]["INSERT"]["count"], 500)
        if wl == "C":
            h.eq("workload C: every key found (loaded before)",
                 j["run"]["by_op"]["READ"]["not_found"], 0)
    t_bench_interval(h)


def t_bench_interval(h):
    """--interval: the run cut in slices that add up to the run's own figures."""
    rc, out, err = bench("--seeds", seeds(), "--workload", "A", "--duration", 1.2, "--interval", 0.25,
                         "--keys", 1000, "--connections", 8, "--json")
    h.expect("bench --interval ran", rc == 0, err)
    j = json.loads(out)
    sl, run = j["intervals"], j["run"]
    h.check("--interval: one slice per 0.25 s of the run (and the drain)", 4 <= len(sl) <= 7,
            len(sl))
    h.eq("--interval: the slices' operations add up to the run's", sum(x["ops"] for x in sl), run["ops"])
    h.eq("--interval: so do their errors", sum(x["errors"] for x in sl), run["errors"])
    h.check("--interval: slices in time order, each about 0.25 s (the last may be shorter)",
            all(b["t"] > a["t"] for a, b in zip(sl, sl[1:]))
            and all(0.2 <= x["seconds"] <= 0.6 for x in sl[:-1]), sl)
    worst = max(o["latency_us"]["max"] for o in run["by_op"].values())
    h.check("--interval: the slowest slice holds the run's slowest operation",
            abs(max(x["latency_us"]["max"] for x in sl) - worst) < 0.2, (worst, sl))
    h.check("--interval: each slice's percentiles are ordered",
            all(x["latency_us"]["p50"] <= x["latency_us"]["p99"] <= x["latency_us"]["p999"]
                <= x["latency_us"]["max"] for x in sl if x["ops"]), sl)
    rc, out, err = bench("--seeds", seeds(), "--workload", "C", "--duration", 0.6, "--interval", 0.2,
                         "--keys", 1000, "--connections", 4)
    lines = [l for l in out.splitlines() if l.strip().startswith("[") and "ops/s" in l]
    h.check("--interval, human output: a line per slice", rc == 0 and 2 <= len(lines) <= 5, out + err)
    rc, out, err = bench("--interval", 0.01)
    h.eq("--interval below 0.05 s is a usage error", rc, 2)


def t_node_down(h):
    S["nodes"]["n3"].kill()
    rc, out, err = bench("--seeds", seeds(), "--workload", "A", "--ops", 2000, "--keys", 1000,
                         "--r", 1, "--w", 1, "--connections", 8, "--timeout-ms", 3000, "--json")
    h.expect("bench with n3 down ran", rc == 0, err)
    run = json.loads(out)["run"]
    h.note("n3 down: %d ok, %d errors %s" % (run["ops"], run["errors"], run["errors_by_code"]))
    h.check("with n3 down, routed requests fall back to live nodes", run["ops"] >= 1900,
            short(run))


def t_redis(h):
    rs = shutil.which("redis-server") or ("/usr/bin/redis-server"
                                          if os.path.exists("/usr/bin/redis-server") else None)
    if not rs:
        h.note("no redis-server: --protocol redis check skipped")
        return
    port = free_port()
    d = h.path("redis")
    os.makedirs(d, exist_ok=True)
    p = subprocess.Popen([rs, "--bind", "127.0.0.1", "--port", str(port), "--dir", d, "--save", "",
                          "--appendonly", "no", "--daemonize", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up():
            try:
                with Client(port, timeout=1.0) as c:
                    return c.call("PING") == "PONG"
            except OSError:
                return False
        wait_until(up, 10, interval=0.05, what="redis-server")
        rc, out, err = bench("--seeds", "127.0.0.1:%d" % port, "--protocol", "redis", "--load",
                             "--keys", 1000, "--ops", 2000, "--workload", "B", "--json")
        h.expect("bench --protocol redis ran", rc == 0, err)
        j = json.loads(out)
        h.eq("protocol field", j["protocol"], "redis")
        check_json(h, "redis workload B", j, 2000, ["READ", "UPDATE"])
        h.eq("redis: every key read was found", j["run"]["by_op"]["READ"]["not_found"], 0)
        with Client(port, timeout=2.0) as c:
            h.eq("redis holds the loaded keys", c.call("DBSIZE"), 1000)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()


def t_cart_set(h):
    p = subprocess.run([exe("example_cart_set"), "--seeds", seeds(), "--user", "bob"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    print("\n".join("    | " + l for l in out.splitlines()))
    h.eq("example_cart_set exit status", p.returncode, 0)
    h.check("adds from two clients at once all kept",
            "laptop added coffee, book: [book, coffee, pencil]" in out, out)
    h.check("a remove takes what was seen", "(1 removed): [book, coffee]" in out, out)
    h.check("the cart is a set with an expiry", "cart is a set, expires in" in out, out)


def cli(*args):
    n = S["nodes"]["n1"]
    p = subprocess.run([exe("dyna"), "-h", n.ip, "-p", str(n.port)] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def t_cli_types(h):
    helptext = subprocess.run([exe("dyna"), "--help"], stdout=subprocess.PIPE,
                              timeout=10).stdout.decode()
    subs = ("incr", "sadd", "srem", "smembers", "hset", "hget", "hgetall", "zadd", "zincrby",
            "zrange", "lpush", "rpush", "lrange", "lpop", "expire", "ttl", "persist", "type")
    missing = [s for s in subs if "\n  %s KEY" % s not in helptext]
    h.check("--help names every type subcommand", not missing, missing)
    steps = [
        (("incr", "cli:n"), 0, "1\n"),
        (("incr", "cli:n", -5), 0, "-4\n"),
        (("type", "cli:n"), 0, "string\n"),
        (("sadd", "cli:s", "b", "a", "b"), 0, "2\n"),
        (("sadd", "cli:s", "c"), 0, "1\n"),
        (("srem", "cli:s", "c", "zz"), 0, "1\n"),
        (("smembers", "cli:s"), 0, "a\nb\n"),
        (("smembers", "cli:none"), 0, "(empty)\n"),
        (("type", "cli:s"), 0, "set\n"),
        (("hset", "cli:h", "f", "1", "g", "2"), 0, "2\n"),
        (("hset", "cli:h", "f", "3"), 0, "0\n"),
        (("hget", "cli:h", "f"), 0, "3\n"),
        (("hget", "cli:h", "nope"), 0, "(nil)\n"),
        (("zadd", "cli:z", 2, "b", 1.5, "a"), 0, "2\n"),
        (("zincrby", "cli:z", 10, "a"), 0, "11.5\n"),
        (("zrange", "cli:z"), 0, "b 2\na 11.5\n"),
        (("zrange", "cli:z", 0, 0), 0, "b 2\n"),
        (("rpush", "cli:l", "x", "y"), 0, "2\n"),
        (("lpush", "cli:l", "w"), 0, "3\n"),
        (("lrange", "cli:l"), 0, "w\nx\ny\n"),
        (("lrange", "cli:l", 1, 1), 0, "x\n"),
        (("lpop", "cli:l"), 0, "w\n"),
        (("lpop", "cli:l", 5), 0, "x\ny\n"),
        (("lpop", "cli:l"), 0, "(nil)\n"),
        (("ttl", "cli:s"), 0, "-1\n"),
        (("expire", "cli:s", 100), 0, "1\n"),
        (("expire", "cli:none", 100), 0, "0\n"),
        (("persist", "cli:s"), 0, "1\n"),
        (("ttl", "cli:s"), 0, "-1\n"),
        (("ttl", "cli:none"), 0, "-2\n"),
        (("type", "cli:none"), 0, "none\n"),
    ]
    for args, want_rc, want_out in steps:
        rc, out, err = cli(*args)
        h.eq("dyna %s" % " ".join(str(a) for a in args), (rc, out), (want_rc, want_out))
    rc, out, _ = cli("expire", "cli:h", 100)
    rc, out, _ = cli("ttl", "cli:h")
    h.check("ttl after expire 100 is in (0, 100]", rc == 0 and 0 < int(out) <= 100, out)
    rc, out, err = cli("sadd", "cli:n", "m")
    h.eq("sadd on a counter fails", rc, 1)
    h.check("... with WRONGTYPE", "WRONGTYPE" in err, err)
    rc, out, err = cli("incr", "cli:n", "x")
    h.eq("incr with a non-number is a usage error", rc, 2)
    rc, out, err = cli("hset", "cli:h", "f")
    h.eq("hset without a value is a usage error", rc, 2)


if __name__ == "__main__":
    H.run([("start a 3-node cluster (N=2)", t_start),
           ("example_cart", t_cart),
           ("routing inside libdyna", t_route_library),
           ("routing seen by the servers", t_route_servers),
           ("dyna-bench output", t_bench_output),
           ("example_cart_set", t_cart_set),
           ("dyna CLI type subcommands", t_cli_types),
           ("a node down", t_node_down),
           ("dyna-bench --protocol redis", t_redis)])
