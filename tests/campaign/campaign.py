#!/usr/bin/python3
"""campaign.py: a Jepsen-style campaign against real dynad processes.

  campaign.py [--duration S] [--seed N] [--faults LIST | --schedule expose]
              [--bugs NAMES --expect-violation]

Starts 5 dynad (N=3, R=2, W=2, default --sync batch) on their own loopback addresses
(cluster.py), runs the workloads (workloads.py) from several client threads while the
nemesis (nemesis.py) injects faults, heals everything, waits for convergence and judges
the records (checker.py). The output ends with one line:

  campaign seed=S duration=D: 0 lost, 0 resurrected, 0 doubled, ... converged in X s

Exit status 0 when nothing was lost, resurrected or doubled and the cluster converged.
With --bugs (dynad's test-only DYNA_TEST_BUGS, e.g. set-remove-wins or counter-sum) and
--expect-violation the verdict is reversed: the run passes only if the checker reports a
violation (the campaign catches that deliberate bug). --schedule expose replaces the
random nemesis by expose.py's schedule, whose faults and writes make each of the bugs
early-ack, set-remove-wins and counter-sum show whatever the timing (the bug checks of
`make test`); without --bugs the same schedule must give 0 violations like any run.

Environment: DYNA_BIN (directory holding dynad), DYNA_LIB (libdyna_skew.so), DYNA_TMP.
"""
import argparse
import os
import random
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402
import cluster  # noqa: E402
import workloads  # noqa: E402
from dynalib import make_tmpdir  # noqa: E402
from expose import Expose  # noqa: E402
from nemesis import Nemesis  # noqa: E402


def log(msg):
    print("[%7.1f] %s" % (time.monotonic() - T0, msg), flush=True)


T0 = time.monotonic()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bugs", default=None)
    ap.add_argument("--expect-violation", action="store_true")
    ap.add_argument("--faults", default=None, help="comma list: only these faults (nemesis.py)")
    ap.add_argument("--schedule", choices=("random", "expose"), default="random",
                    help="random: the nemesis's faults (nemesis.py); expose: the bug checks' schedule (expose.py)")
    ap.add_argument("--pace", type=float, default=0.02, help="pause between a thread's ops (s)")
    ap.add_argument("--converge-timeout", type=float, default=180)
    a = ap.parse_args()
    if a.faults and a.schedule != "random":
        ap.error("--faults chooses among the random nemesis's faults: not with --schedule %s" % a.schedule)
    rng = random.Random(a.seed)
    root = make_tmpdir("dyna-campaign")
    cl = cluster.Cluster(root, bugs=a.bugs, log=log)
    cluster.register(cl)
    problems = []
    ok = False
    try:
        log("seed %d, %.0f s, schedule %s, nodes on %s.1-6%s" % (
            a.seed, a.duration, a.schedule, cluster.NET, ", DYNA_TEST_BUGS=" + a.bugs if a.bugs else ""))
        cl.form()
        log("5 nodes settled")
        wls = [kind(tid, random.Random(rng.random())) for tid, kind in enumerate(workloads.KINDS)]
        stop = threading.Event()
        workers = [workloads.Worker(w, cl, stop, a.pace) for w in wls]
        if a.schedule == "expose":
            nem = Expose(cl, random.Random(rng.random()), a.duration, log, len(wls))
            wls += nem.records()   # its writes, judged with the workloads'
        else:
            nem = Nemesis(cl, random.Random(rng.random()), a.duration, log, a.faults)
        for s in nem.skipped():
            log("NOTICE: not on this machine: %s" % s)
        for t in workers:
            t.start()
        nem.start()
        time.sleep(a.duration)
        nem.stop_ev.set()
        nem.join(120)
        stop.set()
        for t in workers:
            t.join(30)
        problems += [t.error for t in workers if t.error] + nem.errors
        cl.heal_all()
        for nm in list(cl.members):
            if not cl.nodes[nm].alive():
                log("restarting %s for the heal (exit %s)" % (nm, cl.nodes[nm].proc.returncode))
                cl.restart(nm)
        t_heal = time.monotonic()
        log("healed; faults: %s" % ", ".join("%s %d" % kv for kv in sorted(nem.counts.items())))
        n_err = len(nem.errors)
        leave_s = nem.finish_leave(120)
        problems += nem.errors[n_err:]
        if leave_s is not None and nem.left:
            log("c6 removed %.1f s after the heal" % leave_s)
        versioned = [k for w in wls if w.name in ("register", "cart") for k in w.keys()]
        versioned = sorted(set(versioned)) + [k for w in wls if w.name == "expiry" for k in w.keys()]
        typed = sorted(set((w.name, k) for w in wls if w.name in checker.TYPED for k in w.keys()))
        secs, probs = checker.converge(cl, versioned, typed, a.converge_timeout)
        conv_s = time.monotonic() - t_heal
        if probs:
            problems.append("not converged after %.0f s: %s" % (secs, "; ".join(probs[:5])))
        counts, details, fig = checker.check(cl, wls, nem)
        for d in details:
            log(d)
        if fig["by_workload"]:
            log("violations by workload: %s" % ", ".join(
                "%s %s %d" % (k, w, n) for (k, w), n in sorted(fig["by_workload"].items())))
        av = fig["availability"]

        def ratio(kind, inside):
            g, n = av.get((kind, inside), [0, 0])
            return "%.1f%% of %d" % (100.0 * g / n, n) if n else "none"
        log("availability during faults: writes %s, reads %s; outside: writes %s, reads %s"
            % (ratio("w", True), ratio("r", True), ratio("w", False), ratio("r", False)))
        log("siblings per register/cart key: %s" % ", ".join(
            "%d:%d" % kv for kv in sorted(fig["siblings"].items())))
        log("expired keys checked: %d; list pops with unknown outcome: %d"
            % (fig["expired_checked"], fig["pops_unknown"]))
        for p in problems:
            log("PROBLEM: %s" % p)
        violations = counts["lost"] + counts["resurrected"] + counts["doubled"]
        g, n = av.get(("w", True), [0, 0])
        line = ("campaign seed=%d duration=%.0f: %d lost, %d resurrected, %d doubled, %d acked writes, "
                "write availability in faults %.1f%%, max siblings %d, %s"
                % (a.seed, a.duration, counts["lost"], counts["resurrected"], counts["doubled"],
                   fig["acked_writes"], 100.0 * g / n if n else 100.0, max(fig["siblings"]),
                   "converged in %.1f s" % conv_s if not probs else "NOT converged"))
        if a.bugs:
            line += " (DYNA_TEST_BUGS=%s)" % a.bugs
        if a.expect_violation:
            ok = violations > 0
            if not ok:
                problems.append("the deliberate bug %s went unnoticed" % (a.bugs or "(none: no --bugs)"))
        else:
            ok = violations == 0 and not problems
        print(line, flush=True)
    finally:
        cl.cleanup()
        if ok or not os.environ.get("DYNA_KEEP_TMP"):
            shutil.rmtree(root, ignore_errors=True)
    if not ok:
        print("FAILED: %s" % ("; ".join(problems) or "violations found"), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
