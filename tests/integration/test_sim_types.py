#!/usr/bin/python3
"""test_sim_types.py: the simulator's typed keys (dyna-sim --types) as a test.

Issue 16's "convergence is checked, not hoped for": campaigns of --types all over the
fault mixes must pass the typed checks (docs/simulation.md, "Typed keys": (a) counter
sums, (b) acknowledged adds present, (c) replicas byte-equal, (d) expired keys stay
gone, (e) lists without duplicates or lost pushes, (f) a deleted key stays deleted:
nothing a delete removed comes back, an add no delete observed stays); the checks must not be vacuous
(they count what they checked); each deliberate typed bug (--bugs) is caught by the
check named for it; and --experiment churn-types shows that a set's, a sorted set's and
a hash's encoded state stays bounded under an hour of churn.

Apart from test_sim.py so that CTest can run the two in parallel.
Environment: DYNA_BIN = directory holding dyna-sim (CTest sets it; it may be an ASan
build). Budget: well under 2 minutes on 2 cores, also under ASan.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import C40, FAILURES, check, digest, missing_bin, sim as _sim  # noqa: E402


def sim(*args, timeout=300):
    """simlib.sim with this campaign's longer default timeout."""
    return _sim(*args, timeout=timeout)


TYPES_RE = re.compile(r"^  types (\S+): (\d+) keys, (\d+) typed writes \((\d+) acked, (\d+) rejected, "
                      r"(\d+) unknown\); checked (\d+) members/elements, (\d+) expired keys, (\d+) deleted members",
                      re.M)


def cli():
    rc, out = sim("--help")
    check(rc == 0 and "--types" in out and "churn-types" in out, "--help documents --types and churn-types", out)
    rc, out = sim("--types", "bogus")
    check(rc == 2 and "bad value" in out, "--types bogus is refused with exit 2", out)
    rc1, out1 = sim("--seed", 4, "--types", "all", "--duration", 3000)
    rc2, out2 = sim("--seed", 4, "--types", "all", "--duration", 3000)
    check(rc1 == 0 and digest(out1) is not None and digest(out1) == digest(out2),
          "--seed 4 --types all twice gives one digest", out1)
    m = TYPES_RE.search(out1)
    check(m is not None and m.group(1) == "counter,set,hash,zset,list,expire",
          "--types all runs every type and expiry", out1)


def coverage():
    # The checks must have something to check: over a few seeds, members and list
    # elements were checked present and expired keys checked gone.
    members = expired = deleted = 0
    for seed in range(1, 7):
        rc, out = sim("--seed", seed, "--types", "all", "--faults", "none" if seed % 2 else "all")
        m = TYPES_RE.search(out)
        if rc or not m:
            check(False, f"seed {seed} --types all passes and reports its typed checks", out)
            return
        members += int(m.group(7))
        expired += int(m.group(8))
        deleted += int(m.group(9))
    check(members >= 100 and expired >= 10 and deleted >= 20,
          f"typed checks are not vacuous: {members} members/elements, {expired} expired keys and {deleted} "
          "deleted members checked in 6 runs")


def campaigns():
    # 5 mixes x 40 seeds of 5 s of workload; "all" includes clock skew and steps; --txn
    # sends about half of the typed writes as one-command transactions (core/batch.h).
    for name, extra in [("all", ["--faults", "all"]), ("all,diskerr", ["--faults", "all,diskerr"]),
                        ("all --commit-ms 2", ["--faults", "all", "--commit-ms", 2]),
                        ("clock", ["--faults", "clock"]),
                        ("all --txn", ["--faults", "all", "--txn"])]:
        rc, out = sim("--seeds", f"1..{C40}", "--types", "all", *extra, "--duration", 5000, "--quiet")
        check(rc == 0 and re.search(rf"^{C40} seeds, 0 failed", out, re.M) is not None,
              f"{C40} seeds of --types all --faults {name} pass every check", out)


def bugs():
    # Each typed bug, and the check that must catch it (its message).
    cases = [("counter-sum", [], r"counter reads -?\d+, acknowledged increments sum"),          # (a)
             ("set-remove-wins", [], r"^  - set:\d+: member \d+, added .* missing"),           # (b)
             ("expiry-no-merge", [], r"still differ between their replicas"),                   # (c)
             ("expiry-no-merge", [], r"expired at most at .* reads as kind"),                  # (d)
             ("typed-no-merge", [], r"acknowledged push of e\d+ .* missing"),                   # (e)
             # the duplicated forward double-counts counters too, so (a) often fires
             # first; seeds 1..40 (as --seeds below) include some where (e) does
             ("list-dup", ["--faults", "dup", "--seeds", "1..40"], r"list element e\d+ appears twice"),  # (e)
             ("del-forgets", [], r"^  - del\w+:\d+: [de]\d+, removed by the acknowledged delete .* is back")]  # (f)
    for bug, extra, msg in cases:
        seeds = "1..10"
        if "--seeds" in extra:
            i = extra.index("--seeds")
            seeds, extra = extra[i + 1], extra[:i] + extra[i + 2:]
        rc, out = sim("--seeds", seeds, "--types", "all", "--bugs", bug, *extra, "--duration", 5000)
        caught = re.findall(r"^seed (\d+) FAIL", out, re.M)
        check(rc != 0 and caught and re.search(msg, out, re.M) is not None,
              f"--bugs {bug} caught ('{msg}') by seeds {','.join(caught) or 'none'} of {seeds}", out)
        m = re.search(r"replay: (dyna-sim .*)$", out, re.M)
        check(m is not None and "--types" in m.group(1) and f"--bugs {bug}" in m.group(1),
              f"--bugs {bug}: the replay command names --types and the bug", out)


CHURN_RE = re.compile(r"^churn-types (\w+): members (\d+) actors (\d+) .* max (\d+) bytes, bound (\d+) bytes", re.M)


def churn():
    # Item 10: an hour of simulated churn (adds and removes of the same members through
    # 3+ actors, with crashes and partitions): the encoded states stay under a bound
    # that depends on members and actors only (one context entry per actor, nothing per
    # removed element), not on the number of operations.
    rc, out = sim("--experiment", "churn-types", "--seed", 1)
    rows = {m.group(1): m for m in CHURN_RE.finditer(out)}
    check(rc == 0 and set(rows) == {"set", "zset", "hash"}, "--experiment churn-types reports set, zset, hash", out)
    for t, m in rows.items():
        mx, bound = int(m.group(4)), int(m.group(5))
        check(mx <= bound, f"churn-types {t}: max encoded size {mx} <= bound {bound} bytes over an hour", out)


def main():
    if missing_bin():
        return 1
    t = time.time()
    cli()
    coverage()
    campaigns()
    bugs()
    churn()
    print(f"{len(FAILURES)} failure(s) in {time.time() - t:.1f} s")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
