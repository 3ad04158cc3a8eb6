#!/usr/bin/env bash
# tsan-test.sh: runs the promise tests under ThreadSanitizer (`make tsan-test`; issue 23,
# docs/reliability.md "Under ThreadSanitizer"). Not part of `make test`.
#
# Expects build-tsan/ (`make tsan`: clang -fsanitize=thread, DYNA_TEST_BUGS=ON). Runs, in
# that build: every unit test (the LMDB engine's log and checkpoint threads against the
# loop: test_store, test_wal), the integration tests of the promises against real dynad
# processes (docs/reliability.md's table, less test_faults.py, which changes the machine's
# firewall), and the campaign (ctest label campaign: campaign/short, campaign/expose and
# the deliberate-bug checks); then tests/integration/tsan_checkpoints.py, the engine's
# checkpoint thread at work in a real dynad beside the loop's reads.
#
# Every instrumented process (unit tests, each dynad the tests start) writes its reports
# to build-tsan/tsan-reports/tsan.<pid>: a report from a dynad that a test killed, or whose
# exit no test looks at, is still counted. The run fails when ctest fails or any report
# was written; the reports' summary lines are printed. TSAN_TESTS=REGEX runs only the
# tests ctest -R REGEX picks (e.g. TSAN_TESTS=durability). The last line is ctest's summary
# with tsan_checkpoints and the reports' count, "N passed, N failed" (each report file
# counts as a failure).
set -uo pipefail
cd "$(dirname "$0")/.."
dir=build-tsan
reports=$PWD/$dir/tsan-reports
if [ ! -x "$dir/bin/dynad" ]; then
  echo "tsan-test: no $dir/bin/dynad: run make tsan first" >&2
  exit 2
fi
rm -rf "$reports"
mkdir -p "$reports"

# TSan's options, each for a reason:
#   halt_on_error=1        the first race ends the process (exit 66): the test that met
#                          it fails there, not later for another reason;
#   second_deadlock_stack  a lock-order report shows both acquisitions;
#   log_path               reports to files (above), whoever looks at the process's exit;
#   suppressions           tests/tsan.supp: only libraries' own internals, never our
#                          code (it says why for each entry; empty while none is needed).
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$reports/tsan suppressions=$PWD/tests/tsan.supp"
# test_badinput.py bounds dynad's RSS; TSan's shadow memory makes the same dynad about
# 5x larger (stage 1 of its flood: ~600 MB against ~110 MB in the gcc build), so its
# bounds are scaled by 3 (1.2 GB; a dynad without back-pressure would pass 5 GB here).
export DYNA_RSS_SCALE=3

# The promise tests (docs/reliability.md): 2 test_durability, test_commitfail; 3 test_cluster
# (join under load, leave, restart), test_replace (a node rebuilt from its replicas),
# test_clock (a stepped wall clock); 5 test_badinput, test_fairness, test_diskfull; and the
# campaign (2-4 under faults). Each dynad runs the loop, the log thread and the
# checkpoint thread, which is what TSan checks. TSAN_TESTS (a ctest -R regex) runs others.
promise=${TSAN_TESTS:-'^(unit/.*|campaign/.*|integration/test_(durability|commitfail|cluster|replace|clock|badinput|fairness|diskfull))$'}

log=$(mktemp)
nice ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" -R "$promise" 2>&1 | tee "$log"
line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
rm -f "$log"

# Checkpoints in a real dynad beside the loop's reads (tests/integration/tsan_checkpoints.py:
# not a ctest test; the promise tests rarely log enough to start one).
ck_pass=0 ck_fail=0
if [ -z "${TSAN_TESTS:-}" ] || [[ tsan_checkpoints =~ $TSAN_TESTS ]]; then
  echo "=== tsan_checkpoints"
  if DYNA_BIN=$PWD/$dir/bin DYNA_TMP=$PWD/$dir/tmp nice /usr/bin/python3 tests/integration/tsan_checkpoints.py; then
    ck_pass=1
  else
    ck_fail=1
  fi
fi

nrep=0
for f in "$reports"/tsan.*; do
  [ -e "$f" ] || continue
  nrep=$((nrep + 1))
  echo "--- $f"
  grep -E '^(WARNING|SUMMARY): ThreadSanitizer' "$f" | sort | uniq -c
done
echo
if [ -z "$line" ]; then
  echo "tsan-test: no ctest summary (did the build fail?)"
  echo "0 passed, 1 failed"
  exit 1
fi
fail=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
tot=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
echo "tsan-test: $line; tsan_checkpoints: $ck_pass passed, $ck_fail failed;" \
  "$nrep ThreadSanitizer report file(s) in $reports"
echo "tsan: $((tot - fail + ck_pass)) passed, $((fail + ck_fail + nrep)) failed"
[ "$fail" -eq 0 ] && [ "$ck_fail" -eq 0 ] && [ "$nrep" -eq 0 ]
