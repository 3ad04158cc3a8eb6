#!/usr/bin/python3
"""test_sim_scale.py: the failure detector's cost does not grow with the cluster, and it
suspects no live member it does not ping (issue 21; docs/simulation.md, Scale experiments).

Past 32 members each node pings only its neighbours (the members it shares a partition
with), one other per round in a shuffled round robin, and any member with a PING still
unanswered (core/failure_detector.c); a member it does not ping keeps the judgement of
its last direct contact. Checked:
  - dyna-sim --experiment traffic: the background frames per node per simulated second
    (ping/pong, gossip, anti-entropy) at 100 nodes are at most 1.25 times those at 40,
    and ping/pong at 100 nodes under 100 (every member pinged every 200 ms: ~990);
  - --bugs fd-unasked-silence (silence counts even while nobody pings the member, so the
    members outside the probe set turn unreachable) fails at 100 nodes with the end-of-
    run check that every running node judges every running member reachable, and the
    same run without the bug passes.

Environment: DYNA_BIN = directory holding dyna-sim (CTest sets it; it may be an ASan
build). Budget: about 10 s with gcc -O2 on a loaded machine, 1-2 min under ASan+UBSan.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import check, digest, missing_bin, sim, verdict  # noqa: E402

TRAFFIC = ("--experiment", "traffic", "--faults", "none", "--duration", 3000, "--seed", 1)
SIZES = {40: ("--nodes", 40, "--ring-size", 512, "--keys", 400, "--clients", 40),
         100: ("--nodes", 100, "--ring-size", 1024, "--keys", 1000, "--clients", 100)}
ROW = re.compile(r"^\s+(ping/pong|gossip/join|anti-entropy|requests|other|background|all)\s+([\d.]+) frames\s+(\d+) bytes",
                 re.M)


def traffic(nodes):
    rc, out = sim(*TRAFFIC, *SIZES[nodes], timeout=500)
    rows = {k: (float(f), int(b)) for k, f, b in ROW.findall(out)}
    check(rc == 0 and "background" in rows and "ping/pong" in rows,
          f"{nodes} nodes: --experiment traffic reports frames and bytes by kind", out)
    return rows, out


def main():
    if missing_bin():
        return 1
    small, _ = traffic(40)
    big, out = traffic(100)
    if "background" in small and "background" in big:
        b40, b100 = small["background"][0], big["background"][0]
        check(b100 <= 1.25 * b40, f"background frames per node per second: {b100} at 100 nodes, "
              f"at most 1.25 x {b40} at 40", out)
        check(big["ping/pong"][0] < 100, f"ping/pong frames per node per second at 100 nodes: "
              f"{big['ping/pong'][0]} (< 100)", out)

    run = ("--seed", 1, "--nodes", 100, "--ring-size", 1024, "--keys", 300, "--clients", 50, "--duration", 3000)
    rc, out = sim(*run, timeout=500)
    check(rc == 0 and "FAIL" not in out, "100 nodes, default faults: every check passes", out)
    rc, out = sim(*run, "--bugs", "fd-unasked-silence", timeout=500)
    check(rc == 1 and re.search(r"judges the running member \S+ unreachable after the heal", out),
          "--bugs fd-unasked-silence: live members outside the probe set judged unreachable (caught)", out)
    m = re.search(r"replay: (dyna-sim .*)$", out, re.M)
    check(m is not None and "--bugs fd-unasked-silence" in m.group(1) and "--nodes 100" in m.group(1),
          "--bugs fd-unasked-silence: the failure prints its replay command", out)
    _, again = sim(*run, "--bugs", "fd-unasked-silence", timeout=500)
    check(digest(out) is not None and digest(out) == digest(again), "--bugs fd-unasked-silence: the run repeats its digest")

    return verdict()


if __name__ == "__main__":
    sys.exit(main())
