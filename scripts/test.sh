#!/usr/bin/env bash
# test.sh: runs every test phase and prints one summary. Phases:
#   1. gcc build (build/):           unit, integration and simulator tests
#   2. clang ASan+UBSan (build-asan): the same tests under the sanitizers
#   3. clang libFuzzer (build-fuzz):  a short smoke run of every fuzz target
# The last line is "N passed, N failed"; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0
failed_names=()

# The gcc phase runs 2 tests per core: most integration tests wait on sockets, timers and
# failure detectors, and at one per core (2 here) the cores were half idle (/proc/stat over
# the phase: 50% busy, 311 s; 4 at once: 76%, 176 s). The ASan phase is nearly CPU-bound
# under the sanitizers and stays at one per core (at 1.5: 86% busy, and one clean clone in
# five hit a race in a test; docs/reliability.md, "How long make test takes"). The fuzz
# smoke is all CPU: one target per core.
cores=$(nproc)
run_phase() { # name dir jobs [ctest args...]
  local name=$1 dir=$2 jobs=$3
  shift 3
  echo "=== $name ($dir) ==="
  local log
  log=$(mktemp)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=64 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" 2>&1 | tee "$log"
  local line pass fail tot
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "$name: no ctest summary (did the build fail?)"
    total_fail=$((total_fail + 1))
    failed_names+=("$name: no summary")
  else
    fail=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    tot=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
    pass=$((tot - fail))
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    while IFS= read -r t; do failed_names+=("$name: $t"); done < <(sed -n '/The following tests FAILED/,$p' "$log" | grep -E '^\s+[0-9]+ - ' || true)
  fi
  rm -f "$log"
}

run_phase "gcc" build $((cores * 2))
run_phase "asan+ubsan" build-asan "$cores"
run_phase "fuzz smoke" build-fuzz "$cores" -L fuzz

echo
if [ ${#failed_names[@]} -gt 0 ]; then
  echo "Failed:"
  printf '  %s\n' "${failed_names[@]}"
fi
echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
