#!/usr/bin/python3
"""dc_latency.py (run by bench/dc_latency.sh): what a WAN between sites costs a site's
requests (issue 22, item 4). In one run, on loopback:

  single  one site of 3 dynad (127.0.46.x), --n 3, R = W = 2 (a majority of 3)
  local   two sites of 3 (east 127.0.46.x, west 127.0.47.x), --n 3 each, 50 ms each way
          between every east and west address (tests/integration/wan.py), LOCAL quorums
  global  the same two sites, per request R = W = 4 (a majority of the 6 replicas: every
          request waits on the other site)

Each is driven by dyna-bench (workload A: 50% DYNA.GET, 50% DYNA.PUT with the context,
KEYS keys loaded first, CONNS connections, everything through one east node: --routing
seed), ROUNDS interleaved rounds of DURATION seconds; the table shows each setup's median
round: ops/s and read/update p50/p99, and the p99 difference against single. A benchmark:
it prints figures and fails only when a setup cannot run. Root only (iptables NFQUEUE).

On one machine the other site's three processes share the cores with the site measured;
on a real deployment they run elsewhere. So west's dynad run at nice 19 (NICE_WEST=0 turns
that off): a LOCAL request's latency is then charged with its own site's work, and the
west replicas still take every copy (they only yield the CPU to east when both want it).

Environment: DURATION=10 ROUNDS=3 CONNS=4 KEYS=2000 NICE_WEST=1 DYNA_BIN DYNA_TMP."""
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
os.environ.setdefault("DYNA_BIN", os.path.join(here, "..", "bin"))
from dynalib import bin_dir, make_tmpdir, settled, start_cluster_node, wait_until  # noqa: E402
import wan  # noqa: E402

DURATION = int(os.environ.get("DURATION", "10"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CONNS = int(os.environ.get("CONNS", "4"))
KEYS = int(os.environ.get("KEYS", "2000"))
NICE_WEST = os.environ.get("NICE_WEST", "1") != "0"
B = 200 + os.getpid() % 40  # 127.0.46/47.200 .. .248: clear of the tests' blocks
SINGLE = [("s%d" % i, "127.0.46.%d" % (B + 10 + i)) for i in range(1, 4)]
EAST = [("e%d" % i, "127.0.46.%d" % (B + i)) for i in range(1, 4)]
WEST = [("w%d" % i, "127.0.47.%d" % (B + i)) for i in range(1, 4)]
COMMON = ("--gossip-interval-ms", 500, "--request-timeout-ms", 2000, "--n", 3, "--log-level", "warn")


def start(tmp, members, extra):
    nodes, first = [], None
    for (name, ip), dc in members:
        args = COMMON + extra + (("--dc", dc) if dc else ())
        n = start_cluster_node(name, os.path.join(tmp, name), ip, join=first.cluster_addr if first else None,
                               extra_args=args)
        first = first or n
        nodes.append(n)
    wait_until(lambda: settled(nodes, [n.name for n in nodes]), 60, 0.2, "the cluster to settle")
    return nodes


def bench(node, extra=(), load=False):
    cmd = [os.path.join(bin_dir(), "dyna-bench"), "--seeds", "%s:%d" % (node.ip, node.port), "--routing", "seed",
           "--workload", "A", "--keys", str(KEYS), "--connections", str(CONNS), "--duration", str(DURATION),
           "--json"] + (["--load"] if load else []) + list(extra)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=DURATION * 10 + 120)
    try:  # dyna-bench exits 1 when requests failed; its report (errors by code) still counts
        run = json.loads(out.stdout)["run"]
    except (ValueError, KeyError):
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), out.returncode, out.stderr.decode()))
    if run.get("errors"):
        print("dc_latency: %s: %d errors %s" % (" ".join(extra) or "(defaults)", run["errors"],
                                               json.dumps(run.get("errors_by_code", {}))), flush=True)
    return run


def main():
    if wan.available():
        print("dc_latency: %s" % wan.available())
        return 2
    tmp = make_tmpdir("dc_latency")
    load0 = open("/proc/loadavg").read().split()[:3]
    single = start(tmp, [(x, None) for x in SINGLE], ("--r", 2, "--w", 2))
    sites = start(tmp, [(x, "east") for x in EAST] + [(x, "west") for x in WEST], ("--r", "local", "--w", "local"))
    if NICE_WEST:
        for n in sites[3:]:
            os.setpriority(os.PRIO_PROCESS, n.pid, 19)
    runs = {"single": [], "local": [], "global": []}
    with wan.Delay([ip for _, ip in EAST], [ip for _, ip in WEST], 50, range(40, 50)):
        wait_until(lambda: settled(sites, [n.name for n in sites]), 60, 0.2, "the sites to agree with the delay on")
        bench(single[0], load=True)
        bench(sites[0], load=True)
        for r in range(ROUNDS):
            runs["single"].append(bench(single[0]))
            runs["local"].append(bench(sites[0]))
            runs["global"].append(bench(sites[0], ("--r", "4", "--w", "4")))
    load1 = open("/proc/loadavg").read().split()[:3]
    for n in single + sites:
        n.stop()
    print("dc_latency: %d rounds of %d s, workload A, %d connections, %d keys, through one east node; "
          "50 ms each way between the sites; west at nice %d; loadavg %s before, %s after (%d cores)"
          % (ROUNDS, DURATION, CONNS, KEYS, 19 if NICE_WEST else 0, "/".join(load0), "/".join(load1),
             os.cpu_count()))
    print("%-8s %9s %7s %9s %9s %9s %9s %10s %10s" % ("setup", "ops/s", "errors", "read p50", "read p99",
                                                     "upd p50", "upd p99", "read p99-", "upd p99-"))
    med = {}
    for name in ("single", "local", "global"):
        rs = sorted(runs[name], key=lambda x: x["ops_per_sec"])
        med[name] = rs[len(rs) // 2]
    for name in ("single", "local", "global"):
        m = med[name]
        lat = dict((op, m["by_op"].get(op, {}).get("latency_us", {})) for op in ("READ", "UPDATE"))
        base = dict((op, med["single"]["by_op"].get(op, {}).get("latency_us", {})) for op in ("READ", "UPDATE"))
        print("%-8s %9.0f %7d %8.2fms %8.2fms %8.2fms %8.2fms %+9.2fms %+9.2fms" % (
            name, m["ops_per_sec"], m["errors"], lat["READ"].get("p50", 0) / 1e3, lat["READ"].get("p99", 0) / 1e3,
            lat["UPDATE"].get("p50", 0) / 1e3, lat["UPDATE"].get("p99", 0) / 1e3,
            (lat["READ"].get("p99", 0) - base["READ"].get("p99", 0)) / 1e3,
            (lat["UPDATE"].get("p99", 0) - base["UPDATE"].get("p99", 0)) / 1e3))
    print("p99 of every round (read/update ms): " + "; ".join(
        "%s %s" % (k, " ".join("%.2f/%.2f" % (r["by_op"]["READ"]["latency_us"]["p99"] / 1e3,
                                              r["by_op"]["UPDATE"]["latency_us"]["p99"] / 1e3) for r in v))
        for k, v in runs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
