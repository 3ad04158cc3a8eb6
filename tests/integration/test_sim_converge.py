#!/usr/bin/python3
"""test_sim_converge.py: replicas converge after a partition heals (dyna-sim
--experiment converge), at a size that fits make test; bench/converge.sh runs the full
size (100 nodes, seeds 1..20) and docs/simulation.md gives its figures.

Each run: a cart workload with a random two-way split from 1/4 to 1/2 of the duration;
after the heal clients only read, and the simulator checks every 50 ms whether the first
N replicas of every key hold equal objects. Checked per seed: the probe's premise (no
write is submitted after the heal: a blind write arriving there keeps one replica ahead
of the others at the instant of each check, which is how the probe once reported
"does not converge" at 100 nodes), that many keys did diverge (the run is not vacuous),
and that every replica agrees within LIMIT_MS of the heal. The limits hold because a
peer heard again after a silence gets an early exchange of every partition both nodes
replicate and a rush of the hints meant for it, and a replica that learns something from
the background passes it on (node.c, merkle.c, hints.c, coord.c); with those off
(--bugs no-peer-back) the same seeds wait for the anti-entropy round robin and take
longer than the limit, which the test checks too.

Environment: DYNA_BIN = directory holding dyna-sim (CTest sets it; it may be an ASan
build, which runs one seed at 40 nodes and not the 100-node run). Budget: 6 s (idle
machine) to 25 s (loaded) with gcc -O2, about 30 s under ASan+UBSan.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import FAILURES, SANITIZED, check, missing_bin, sim  # noqa: E402

SMALL = ("--nodes", 40, "--ring-size", 512, "--keys", 400, "--clients", 80, "--duration", 8000)
FULL = ("--nodes", 100, "--ring-size", 1024, "--keys", 1000, "--clients", 200, "--duration", 8000)
# Under the sanitizers (5-10 times slower) one seed at 40 nodes and its no-peer-back
# twin: the same code paths; the 100-node run is the gcc build's.
SEEDS = (1,) if SANITIZED else (1, 2, 3, 4, 5)
# Seeds 1..5 at 40 nodes converge in 0.45-1.05 s; with --bugs no-peer-back in 2.4-3.65 s.
# 100 nodes, seed 1: 1.2 s (4.95 s before it); bench/converge.sh gives seeds 1..20.
# Issue 21's aim is 3 s at 100 nodes on every seed.
LIMIT_MS = 2000
LIMIT_FULL_MS = 3000
CONV_RE = re.compile(r"converge: (\d+) of (\d+) keys diverged at the heal; all replicas equal (\d+) ms "
                     r"after it \(clients only read: (\d+) writes after the heal")
FAIL_RE = re.compile(r"converge: (\d+) of (\d+) keys diverged at the heal; (\d+) still differ 60 s "
                     r"after it \((\d+) writes after the heal")


def converge(seed, size=SMALL, limit=LIMIT_MS, *extra):
    """Runs the probe; checks its premise and that it is not vacuous; returns the ms to
    converge (None when it did not within 60 s). Checks the limit unless limit is None."""
    what = f"{size[1]} nodes, seed {seed}{' ' + ' '.join(map(str, extra)) if extra else ''}"
    rc, out = sim("--seed", seed, "--experiment", "converge", *size, *extra, timeout=500)
    m = CONV_RE.search(out)
    f = FAIL_RE.search(out)
    check(rc == 0 and (m or f), f"{what}: the converge probe ran and reported", out)
    if not (m or f):
        return None
    r = m or f
    diverged, keys, writes = int(r.group(1)), int(r.group(2)), int(r.group(4))
    check(writes == 0, f"{what}: no write submitted after the heal ({writes})", out)
    check(diverged >= keys // 4, f"{what}: {diverged} of {keys} keys diverged at the heal (>= 1/4)", out)
    if not m:
        check(limit is None, f"{what}: {f.group(3)} keys still differ 60 s after the heal", out)
        return None
    ms = int(m.group(3))
    if limit is not None:
        check(ms <= limit, f"{what}: every replica equal {ms} ms after the heal (<= {limit})", out)
    return ms


def main():
    if missing_bin():
        return 1
    t = time.time()
    fast = [converge(s) for s in SEEDS]
    # The limit measures the early exchanges and hint rush: without them the first seed
    # misses it (it then waits for the round robin of exchanges).
    slow = converge(SEEDS[0], SMALL, None, "--bugs", "no-peer-back")
    check(fast[0] is not None and (slow is None or slow > LIMIT_MS),
          f"40 nodes, seed {SEEDS[0]}: with --bugs no-peer-back it misses the limit ({slow} ms > {LIMIT_MS})")
    # The issue-21 regression at its own size (it reported "N still differ 60 s after"),
    # within issue 21's aim.
    if not SANITIZED:
        converge(1, FULL, LIMIT_FULL_MS)
    print(f"{len(FAILURES)} failure(s) in {time.time() - t:.1f} s")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
