#!/usr/bin/env python3
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
import subprocess
import sys
import time

BIN = os.path.join(os.environ.get("DYNA_BIN", "bin"), "dyna-sim")
FAILURES = []


def sim(*args, timeout=240):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def check(cond, what, out=""):
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        if out:
            print("\n".join(out.splitlines()[-30:]))
        FAILURES.append(what)


def digest(out):
    m = re.search(r"^digest ([0-9a-f]{16})$", out, re.M)
    return m.group(1) if m else None


def campaigns():
    # 7 mixes x 40 seeds = 280 short runs (5 s of simulated workload each); dup duplicates
    # frames (a forward must still make one version).
    for mix in ["none", "loss", "partition", "crash", "churn", "dup", "all"]:
        rc, out = sim("--seeds", "1..40", "--faults", mix, "--duration", 5000, "--quiet")
        check(rc == 0 and re.search(r"^40 seeds, 0 failed", out, re.M) is not None,
              f"40 seeds of --faults {mix} pass every check", out)
    rc, out = sim("--seeds", "1..10", "--faults", "all", "--zones", 3, "--nodes", 7,
                  "--duration", 5000, "--quiet")
    check(rc == 0, "10 seeds with 7 nodes in 3 zones pass", out)
    # GETs ask R replicas first; --read-all (every node's cfg.read_all) asks all N.
    rc, out = sim("--seeds", "1..10", "--read-all", "--duration", 5000, "--quiet")
    check(rc == 0, "10 seeds with --read-all pass", out)


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
    # Anti-entropy repairs what read repair misses, so no-repair is tested with it off.
    cases = [("early-ack", []), ("overwrite", []), ("no-repair", ["--aae-ms", 100000000])]
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
             "--verbose", "--watch", "--strict", "--aae-ms", "--read-all", "--help"]
    missing = [f for f in flags if f not in out]
    check(rc == 0 and not missing, f"--help documents every flag (missing: {missing})", out)
    rc, out = sim("--faults", "bogus")
    check(rc == 2 and "bad value" in out, "a bad option value is refused with exit 2", out)
    rc, out = sim("--experiment", "ring", "--nodes", 10, "--ring-size", 256)
    check(rc == 0 and "balance" in out, "--experiment ring reports balance", out)


def main():
    if not os.access(BIN, os.X_OK):
        print(f"dyna-sim not found at {BIN} (set DYNA_BIN)")
        return 1
    t = time.time()
    cli()
    determinism()
    campaigns()
    bugs()
    print(f"{len(FAILURES)} failure(s) in {time.time() - t:.1f} s")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
