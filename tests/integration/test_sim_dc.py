#!/usr/bin/python3
"""test_sim_dc.py: the simulator with sites (data centres): --sites, a WAN delay between
sites (--wan-ms, 50 ms by default), the site fault (the link between sites cut, then a
whole site lost and restarted) and the quorum kinds (--quorum local|each).

Each campaign's end-of-run checks must pass: no acknowledged write lost, deletes stay
deleted, every acknowledgement durable where its quorum says (LOCAL: a majority of one
site's homes; EACH: of every site's), read repair, replicas converged. LOCAL writes keep
succeeding while the sites are cut apart or one is lost (EACH ones cannot: the run
shows both), and the deliberate bugs local-remote-ack (a LOCAL quorum that counts the
other site's acks) and each-one-site (an EACH quorum that waits for its own site only)
are caught. Seeds whose membership changed under an EACH write (a removed member still a
home in a lagging ring; a site's joiner arriving after the coordinator planned without
it) pass: each site is held to the homes of a ring the coordinator may have used.

Environment: DYNA_BIN = directory holding dyna-sim (CTest sets it; it may be an ASan
build). Budget: about a minute on 2 cores (fewer seeds under ASan: simlib.py).
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simlib import C40, FAILURES, check, digest, missing_bin, sim  # noqa: E402

C20 = C40 // 2
C10 = max(C40 // 4, 3)


def passes(n, *args):
    rc, out = sim("--seeds", f"1..{n}", *args, "--duration", 5000, "--quiet")
    check(rc == 0 and re.search(rf"^{n} seeds, 0 failed", out, re.M) is not None,
          f"{n} seeds of {' '.join(map(str, args))} pass every check", out)


def writes_ok(out):
    """(acknowledged, submitted) writes of a single run's report."""
    m = re.search(r"workload: \d+ gets \(\d+ ok\), (\d+) writes \((\d+) ok", out)
    return (int(m.group(2)), int(m.group(1))) if m else (0, 0)


def main():
    if missing_bin():
        return 1
    t = time.time()
    two = ["--nodes", 6, "--sites", 2]
    passes(C20, *two, "--quorum", "local", "--faults", "site")
    passes(C20, *two, "--quorum", "local", "--faults", "all,site")
    passes(C10, *two, "--quorum", "each", "--faults", "all,site")
    # EACH writes acknowledged while rings disagreed on a site's homes: 23, an entry node
    # whose ring still had a removed member as a home; 75 and 271, a coordinator whose
    # ring gave a site one member, the entry's ring that site's joiner by the ack.
    for seed in (23, 75, 271):
        rc, out = sim("--seed", seed, *two, "--quorum", "each", "--duration", 5000,
                      "--faults", "all,site")
        check(rc == 0 and "FAIL" not in out and "1 removals" in out,
              f"EACH seed {seed} (a removal and a join under the writes) passes every check", out)
    passes(C10, *two, "--faults", "site")  # the global quorum (W=2 of all six homes)
    passes(C10, "--nodes", 9, "--sites", 3, "--zones", 3, "--nrw", "2,2,2", "--quorum", "local",
           "--faults", "all,site")
    passes(C10, "--nodes", 8, "--sites", 2, "--quorum", "local", "--types", "all", "--faults", "all,site")
    # joins and leaves in one site hand off within it (handoff.c), during cuts too
    passes(C10, "--nodes", 8, "--sites", 2, "--quorum", "local", "--faults", "churn,site")

    # LOCAL keeps writing through the cut and the loss of a site; EACH cannot.
    rc, out = sim("--seed", 3, *two, "--quorum", "local", "--faults", "site")
    ok, sent = writes_ok(out)
    check(rc == 0 and "FAIL" not in out and "2 partitions" in out and sent > 0 and ok >= 0.99 * sent,
          f"LOCAL: {ok} of {sent} writes acknowledged while the sites were cut and one was lost", out)
    rc, out = sim("--seed", 3, *two, "--quorum", "each", "--faults", "site")
    each_ok, each_sent = writes_ok(out)
    check(rc == 0 and each_sent > 0 and each_ok < 0.9 * each_sent,
          f"EACH: only {each_ok} of {each_sent} writes acknowledged in the same run (a site away: no quorum)", out)

    # One seed, one digest, with the WAN in the trace; another WAN delay, another trace.
    a = digest(sim("--seed", 5, *two, "--quorum", "local", "--faults", "all,site")[1])
    b = digest(sim("--seed", 5, *two, "--quorum", "local", "--faults", "all,site")[1])
    c = digest(sim("--seed", 5, *two, "--quorum", "local", "--faults", "all,site", "--wan-ms", 10)[1])
    check(a is not None and a == b and c is not None and c != a,
          f"seed 5 with sites replays exactly ({a} == {b}); --wan-ms 10 changes it ({c})")

    # The deliberate bug: a LOCAL quorum counting the other site's acks is caught.
    rc, out = sim("--seeds", "1..10", *two, "--quorum", "local", "--bugs", "local-remote-ack",
                  "--duration", 5000, "--quiet")
    caught = re.search(r"^(\d+) seeds, (\d+) failed", out, re.M)
    check(rc != 0 and caught is not None and int(caught.group(2)) > 0 and "no site's majority" in out,
          f"--bugs local-remote-ack is caught ({caught.group(2) if caught else '?'} of 10 seeds)", out)

    # ... and an EACH quorum that waits for its own site's majority only.
    rc, out = sim("--seeds", f"1..{C10}", *two, "--quorum", "each", "--bugs", "each-one-site",
                  "--duration", 5000, "--quiet")
    caught = re.search(r"^(\d+) seeds, (\d+) failed", out, re.M)
    check(rc != 0 and caught is not None and int(caught.group(2)) > 0 and "(EACH quorum)" in out,
          f"--bugs each-one-site is caught ({caught.group(2) if caught else '?'} of {C10} seeds)", out)

    rc, out = sim("--sites", 3, "--nrw", "6,2,2")
    check(rc == 2 and "over 16 replicas" in out, "--sites 3 with n = 6 is refused (18 replicas)", out)
    rc, out = sim("--quorum", "local")
    check(rc == 2 and "needs --sites" in out, "--quorum without --sites is refused", out)
    print(f"{len(FAILURES)} failure(s) in {time.time() - t:.1f} s")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
