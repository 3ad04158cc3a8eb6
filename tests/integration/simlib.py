"""simlib.py: what the simulator's tests (test_sim.py, test_sim_types.py) share: where
dyna-sim is, how many seeds a campaign runs, running it, and recording checks.

BIN = DYNA_BIN/dyna-sim (CTest sets DYNA_BIN; it may be an ASan build). The campaigns
are the core's logic, checked in full by the gcc build; under the sanitizers (a
build-asan binary, 5-10 times slower) each campaign runs 6 of its 40 seeds (15 of 100),
which still exercises every path for memory errors within make test's budget.
"""
import os
import re
import subprocess

BIN = os.path.join(os.environ.get("DYNA_BIN", "bin"), "dyna-sim")
SANITIZED = "asan" in os.path.abspath(BIN)
C40 = 6 if SANITIZED else 40
C100 = 15 if SANITIZED else 100
FAILURES = []  # what failed, in order (check() appends; never rebound)


def missing_bin():
    """1 (after saying so) when dyna-sim is not there: a test's main returns it."""
    if os.access(BIN, os.X_OK):
        return 0
    print(f"dyna-sim not found at {BIN} (set DYNA_BIN)")
    return 1


def sim(*args, timeout=240):
    """Runs dyna-sim with args; returns (exit status, stdout + stderr)."""
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def check(cond, what, out=""):
    """Prints ok/FAIL for what; on failure, the last 30 lines of out, and records it."""
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        if out:
            print("\n".join(out.splitlines()[-30:]))
        FAILURES.append(what)


def verdict():
    """Prints the run's verdict line; returns the exit status (1 when a check failed)."""
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


def digest(out):
    """The trace digest a run printed, or None."""
    m = re.search(r"^digest ([0-9a-f]{16})$", out, re.M)
    return m.group(1) if m else None
