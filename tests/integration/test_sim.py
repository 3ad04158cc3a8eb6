#!/usr/bin/python3
"""test_sim.py: the deterministic simulator (bin/dyna-sim) as a test.

Runs short seed campaigns across every fault mix (the end-of-run checks must pass),
checks that one seed always gives one trace digest and different seeds different ones,
that a failing run prints its seed and a replay command that reproduces it, and that each
deliberately injected core bug (--bugs) is caught by at least one seed of a small range.

Environment: DYNA_BIN = directory holding dyna-sim (CTest sets it; it may be an ASan
build), DYNA_TMP = scratch directory (unused: the simulator touches no files).
Budget: well under 3 minutes on 2 cores, also under ASan.
"""
import os
import re
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import C100, C40, FAILURES, check, digest, missing_bin, sim  # noqa: E402


def campaigns():
    # 7 mixes x 40 seeds = 280 short runs (5 s of simulated workload each); dup duplicates
    # frames (a forward must still make one version).
    for mix in ["none", "loss", "partition", "crash", "churn", "dup", "all"]:
        rc, out = sim("--seeds", f"1..{C40}", "--faults", mix, "--duration", 5000, "--quiet")
        check(rc == 0 and re.search(rf"^{C40} seeds, 0 failed", out, re.M) is not None,
              f"{C40} seeds of --faults {mix} pass every check", out)
    # Wall clocks skewed by up to 2 s and stepped by an hour either way (also in "all",
    # so in every "all" campaign below, --strict included): a stepped node keeps
    # gossiping, and no actor's newer sibling has an older stamp. (Checked: 82 of 100
    # seeds fail when the node's timers run on the wall clock.)
    rc, out = sim("--seeds", f"1..{C100}", "--faults", "clock", "--duration", 5000, "--quiet")
    check(rc == 0 and re.search(rf"^{C100} seeds, 0 failed", out, re.M) is not None,
          f"{C100} seeds of --faults clock pass every check", out)
    rc, out = sim("--seeds", "1..10", "--faults", "all", "--zones", 3, "--nodes", 7,
                  "--duration", 5000, "--quiet")
    check(rc == 0, "10 seeds with 7 nodes in 3 zones pass", out)
    # GETs ask R replicas first; --read-all (every node's cfg.read_all) asks all N.
    rc, out = sim("--seeds", "1..10", "--read-all", "--duration", 5000, "--quiet")
    check(rc == 0, "10 seeds with --read-all pass", out)
    # Read answers leave before the commit unless --durable-reads (cfg.durable_reads).
    rc, out = sim("--seeds", "1..10", "--durable-reads", "--faults", "all", "--duration", 5000, "--quiet")
    check(rc == 0, "10 seeds with --durable-reads pass", out)
    # The pipelined group commit (dynad's batch policy): answers leave when their own
    # write is durable; acknowledged writes are checked on committed state only.
    for mix in ["crash", "all"]:
        rc, out = sim("--seeds", f"1..{C40}", "--commit-ms", 2, "--faults", mix, "--duration", 5000, "--quiet")
        check(rc == 0 and re.search(rf"^{C40} seeds, 0 failed", out, re.M) is not None,
              f"{C40} seeds of --faults {mix} with --commit-ms 2 pass", out)
    # Seeds 27 and 36 lost an admin removal to a crash before its commit until the
    # operator model checked that its commands became durable.
    rc, out = sim("--seeds", f"1..{C40}", "--commit-ms", 5, "--durable-reads", "--faults", "all",
                  "--duration", 5000, "--quiet")
    check(rc == 0 and re.search(rf"^{C40} seeds, 0 failed", out, re.M) is not None,
          f"{C40} seeds of --faults all with --commit-ms 5 --durable-reads pass", out)
    # Seed 102 at the default duration (seed 13 before joins named three seeds): a leaving
    # node held the last copy of an acknowledged write as a hint (the other copy's disk was
    # removed) and declared itself removed before it delivered it; a leaving node now
    # waits for its hints too. (Checked: fails when sweep_done ignores hints.)
    rc, out = sim("--seed", 102, "--commit-ms", 2, "--faults", "all")
    check(rc == 0 and "FAIL" not in out, "--seed 102 --commit-ms 2: a leaving node delivers its hints first", out)
    # Disk errors: a node's commit fails after its PUTs left early. The node takes a new
    # incarnation, so it never makes the dots it lost again (--bugs keep-incarnation).
    for extra in ([], ["--commit-ms", 2]):
        rc, out = sim("--seeds", f"1..{C40}", "--faults", "diskerr,crash", "--keys", 4, *extra,
                      "--duration", 5000, "--quiet")
        check(rc == 0 and re.search(rf"^{C40} seeds, 0 failed", out, re.M) is not None,
              f"{C40} seeds of --faults diskerr,crash --keys 4 {' '.join(map(str, extra))} pass", out)
    # With churn too: a leave whose write a disk error lost goes on (core issue 8).
    # --strict: no operator workarounds. Seeds 11 and 178 stayed joining (a dead seed;
    # checked: 11 fails when JOIN goes to the first seed only);
    # seed 59 shut down a node whose leave nobody had heard (docs/simulation.md, 6, 10).
    for seed in (11, 59, 178):
        rc, out = sim("--seed", seed, "--strict")
        check(rc == 0 and "FAIL" not in out, f"--seed {seed} --strict passes", out)
    for mix in ("all", "churn"):
        rc, out = sim("--seeds", f"1..{C40}", "--faults", mix, "--strict", "--quiet")
        check(rc == 0 and re.search(rf"^{C40} seeds, 0 failed", out, re.M) is not None,
              f"{C40} seeds of --faults {mix} --strict pass", out)
    rc, out = sim("--seeds", f"1..{C40}", "--faults", "all,diskerr", "--commit-ms", 2, "--quiet")
    check(rc == 0 and re.search(rf"^{C40} seeds, 0 failed", out, re.M) is not None,
          f"{C40} seeds of --faults all,diskerr --commit-ms 2 pass", out)
    # A node's disk dies and a fresh node (a new id) starts under its name with a join:
    # it takes the dead member's place, and no view keeps two live members of one name.
    # (The case where the seed had not heard of the dead one, found by seed 31 while wipe
    # still came with churn's second lost disk, is test_node's
    # test_fresh_node_removes_a_namesake_its_seed_missed.)
    for mix in ("wipe", "wipe,all"):
        rc, out = sim("--seeds", f"1..{C40}", "--faults", mix, "--duration", 5000, "--quiet")
        check(rc == 0 and re.search(rf"^{C40} seeds, 0 failed", out, re.M) is not None,
              f"{C40} seeds of --faults {mix} pass", out)
    rc, out = sim("--seeds", "1..10", "--faults", "wipe", "--types", "all", "--duration", 5000, "--quiet")
    check(rc == 0, "10 seeds of --faults wipe --types all pass (the fresh node's counters start anew)", out)
    # W = 1: a write acknowledged on one disk is lost when that node is then crashed and
    # removed, or wiped, before any other node has it, a loss W = 1 allows (6 of these 40
    # seeds failed so before). The check excuses a loss only when the removed disk held
    # the write's last copy at its removal (handoff-trust, in bugs(), is still caught);
    # the campaign must meet at least one such loss (40 seeds also under ASan).
    rc, out = sim("--seeds", "1..40", "--nrw", "3,1,1", "--faults", "all", "--joins", 2,
                  "--duration", 5000, "--quiet")
    m = re.search(r"lost with every disk that held them.*: (\d+)", out)
    check(rc == 0 and re.search(r"^40 seeds, 0 failed", out, re.M) is not None and m is not None,
          "40 seeds of --nrw 3,1,1 --faults all --joins 2 --duration 5000 pass, writes lost with their removed disks excused", out)


def determinism():
    rc1, out1 = sim("--seed", 7)
    rc2, out2 = sim("--seed", 7)
    d1, d2 = digest(out1), digest(out2)
    check(d1 is not None and d1 == d2 and rc1 == rc2, f"--seed 7 twice gives one digest ({d1})", out1)
    ds = set()
    for s in range(1, 6):
        _, out = sim("--seed", s, "--duration", 3000, "--quiet")
        ds.add(digest(out))
    check(len(ds) == 5 and None not in ds, "seeds 1..5 give 5 different digests")
    _, a = sim("--seed", 3, "--faults", "none", "--quiet")
    _, b = sim("--seed", 3, "--faults", "crash", "--quiet")
    check(digest(a) != digest(b), "the fault mix changes the digest")


def bugs():
    # Each deliberate fault must be caught by at least one seed of a small range.
    # Anti-entropy repairs what read repair misses, so no-repair is tested with it off:
    # no round robin (--aae-ms) and no early exchange when a peer comes back (no-peer-back).
    # undurable-ack needs the pipelined commit (--commit-ms) to have a window at all.
    # keep-incarnation needs disk errors (a failed commit) and few keys (the same key
    # written again by the same coordinator). gate-forget-loss (the durability gate,
    # core/gate.c, releases a failed commit's answers as OK on the next good commit)
    # needs disk errors too; tests/integration/test_commitfail.py catches it in dynad.
    # wall-stamp needs a clock step back between two concurrent writes through one node:
    # many clients on few keys.
    cases = [("early-ack", []), ("overwrite", []), ("no-repair,no-peer-back", ["--aae-ms", 100000000]),
             ("undurable-ack", ["--commit-ms", 2]),
             ("keep-incarnation", ["--faults", "diskerr", "--keys", 2]),
             ("gate-forget-loss", ["--faults", "diskerr"]),
             ("wall-stamp", ["--clients", 32, "--keys", 8]),
             # replace-keeps-old: two live members under one name (the end-of-run name
             # check); replace-same-id: the fresh node reuses the wiped one's id, so its
             # counter contributions start again under the same actor (typed keys).
             ("replace-keeps-old", ["--faults", "wipe"]),
             ("replace-same-id", ["--faults", "wipe", "--types", "all"]),
             # handoff-trust: a handoff takes every target's answer to its check as
             # "I hold it all", so a key whose last copy was the old owner's is lost:
             # with W = 1 and three joins that is common (at N = 3, W = 2 the homes that
             # stay hold almost every write, and anti-entropy fills the new one).
             ("handoff-trust", ["--nrw", "2,1,1", "--faults", "churn", "--joins", 3])]
    for bug, extra in cases:
        rc, out = sim("--seeds", "1..10", "--bugs", bug, *extra, "--duration", 5000)
        caught = re.findall(r"^seed (\d+) FAIL", out, re.M)
        check(rc != 0 and caught, f"--bugs {bug} caught by seeds {','.join(caught) or 'none'} of 1..10", out)
        if not caught:
            continue
        # The failure names its seed and a replay command that reproduces it exactly.
        m = re.search(r"replay: (dyna-sim .*)$", out, re.M)
        check(m is not None and f"--seed {caught[0]}" in m.group(1) and f"--bugs {bug}" in m.group(1),
              f"--bugs {bug}: the failure prints its replay command", out)
        if m:
            args = shlex.split(m.group(1))[1:]
            rc1, out1 = sim(*args)
            rc2, out2 = sim(*args)
            check(rc1 == 1 and "FAIL seed" in out1 and digest(out1) == digest(out2),
                  f"--bugs {bug}: the replay command fails again with one digest", out1)


def cli():
    rc, out = sim("--help")
    flags = ["--seed", "--seeds", "--nodes", "--keys", "--clients", "--duration", "--faults",
             "--bugs", "--ring-size", "--zones", "--nrw", "--joins", "--experiment", "--quiet",
             "--verbose", "--watch", "--strict", "--aae-ms", "--read-all", "--durable-reads", "--routing",
             "--latency", "--spikes", "--types", "--help"]
    missing = [f for f in flags if f not in out]
    check(rc == 0 and not missing, f"--help documents every flag (missing: {missing})", out)
    rc, out = sim("--faults", "bogus")
    check(rc == 2 and "bad value" in out, "a bad option value is refused with exit 2", out)
    rc, out = sim("--experiment", "ring", "--nodes", 10, "--ring-size", 256)
    check(rc == 0 and "balance" in out, "--experiment ring reports balance", out)


LAT_RE = re.compile(r"^  latency (reads|writes) \((random|ring) routing\): n (\d+) mean ([0-9.]+) "
                    r"p50 (\d+) p99 (\d+) p99\.9 (\d+) max (\d+)", re.M)


def latency(out):
    """{'reads': {...}, 'writes': {...}} from a --latency report (simulated ms)."""
    res = {}
    for m in LAT_RE.finditer(out):
        res[m.group(1)] = {"routing": m.group(2), "n": int(m.group(3)), "mean": float(m.group(4)),
                           "p50": int(m.group(5)), "p99": int(m.group(6)),
                           "p999": int(m.group(7)), "max": int(m.group(8))}
    return res


def routing():
    # Client-driven coordination (--routing ring: the first up node of the key's
    # preference list, as libdyna does) against a random entry node (a load balancer),
    # in simulated time, so the comparison is deterministic. 8 nodes, N = 3: a random
    # entry is a replica 3/8 of the time; otherwise a write costs a FWD hop there and
    # back, and a read waits for R remote replicas instead of R - 1.
    base = ["--nodes", 8, "--faults", "none", "--clients", 32, "--keys", 200,
            "--duration", 10000, "--latency"]
    for seed, spikes in [(1, 0), (2, 0), (3, 0), (4, 0.1), (5, 0.1)]:
        args = ["--seed", seed, "--spikes", spikes, *base]
        rc0, out0 = sim(*args, "--routing", "random")
        rc1, out1 = sim(*args, "--routing", "ring")
        a, b = latency(out0), latency(out1)
        what = f"seed {seed} --spikes {spikes}"
        if rc0 or rc1 or set(a) != {"reads", "writes"} or set(b) != {"reads", "writes"}:
            check(False, f"{what}: both routings run clean and report latency", out0 + out1)
            continue
        check(a["writes"]["routing"] == "random" and b["writes"]["routing"] == "ring",
              f"{what}: the report names the routing", out1)
        w0, w1 = a["writes"]["p999"], b["writes"]["p999"]
        check(w1 * 4 <= w0 * 3, f"{what}: routed writes p99.9 {w1} ms <= 3/4 of random-entry {w0} ms",
              out0 + out1)
        check(b["writes"]["mean"] < a["writes"]["mean"] and b["writes"]["p50"] < a["writes"]["p50"],
              f"{what}: routed writes mean/p50 {b['writes']['mean']}/{b['writes']['p50']} below "
              f"random {a['writes']['mean']}/{a['writes']['p50']}", out0 + out1)
        r0, r1 = a["reads"], b["reads"]
        # With spikes (10% of frames 50-250 ms late) a read's mean and tail are set by how
        # many late frames it meets: over ~6,000 reads the mean moves by +-0.6 ms from
        # run to run whatever the routing (seeds 4 and 5: routed 7.83 and 5.71 ms against
        # random 7.28 and 9.76), so there only the median must be lower and the p99.9
        # within 5%; without spikes routed reads are faster in mean and at the median, and
        # no slower at p99.9 than the report's resolution: the p99.9 of ~7,000 reads is
        # the 7th slowest in whole ms, and a change elsewhere (gossip's digests moved
        # every run) took seed 1's from 10 to 11 ms against random's 10.
        if spikes:
            ok = r1["p50"] < r0["p50"] and r1["p999"] <= r0["p999"] * 21 // 20
        else:
            ok = r1["p999"] <= r0["p999"] + 1 and r1["mean"] < r0["mean"] and r1["p50"] < r0["p50"]
        check(ok, f"{what}: routed reads p50 {r1['p50']}, p99.9 {r1['p999']} ms, mean {r1['mean']} against "
                  f"random {r0['p50']}, {r0['p999']}, {r0['mean']}", out0 + out1)
        if seed == 1:
            rc2, out2 = sim(*args, "--routing", "ring")
            check(digest(out1) == digest(out2) and latency(out2) == b and digest(out1) != digest(out0),
                  f"{what}: --routing ring repeats its digest and latencies, and differs from random",
                  out2)
    rc, out = sim("--seeds", "1..10", "--routing", "ring", "--nodes", 8, "--spikes", 0.2,
                  "--duration", 5000, "--quiet")
    check(rc == 0, "10 seeds of --faults all with --routing ring --spikes 0.2 pass", out)
    rc, out = sim("--routing", "bogus")
    check(rc == 2 and "bad value" in out, "--routing bogus is refused with exit 2", out)


def main():
    if missing_bin():
        return 1
    t = time.time()
    cli()
    determinism()
    campaigns()
    bugs()
    routing()
    print(f"{len(FAILURES)} failure(s) in {time.time() - t:.1f} s")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
