#!/usr/bin/env bash
# bench/costs.sh: what one replicated SET costs each server process, counted rather than
# timed, so that builds can be compared on a loaded, shared machine (issue 23).
#
# Systems (each started by the script on BENCH_HOST, default 127.0.48.1):
#   batch     3 dynad, N=3 R=2 W=2, --sync batch (an acknowledged SET is fdatasync'd on W nodes)
#   none      the same with --sync none
#   redis3    redis-server (AOF everysec) with two --replicaof replicas
#   dynomite  3 Dynomite nodes (one per rack, DC_QUORUM) over 3 in-memory redis-servers,
#             when DYNOMITE names its binary; skipped with a notice otherwise
# For each system and each pipeline depth in PIPES: a warm-up (redis-benchmark -P 16 over
# KEYS keys), then a fixed number of SETs (redis-benchmark -c 50 -d 100 -r KEYS -P p -n
# N_P1 or N_PIPE, through node 1 / the primary) while every server process is traced,
# then a pause for the replicas to catch up. Printed per SET and per process:
#   default  system calls by kind, fsyncs (fdatasync + fsync) and context switches,
#            voluntary/involuntary, summed over the process's threads from
#            /proc/PID/task/*/status. The calls are counted by perf stat's syscall
#            tracepoints (TRACER=perf, the default where perf may read them: root or
#            perf_event_paranoid) or by strace -c -f (TRACER=strace), which stops the process
#            at every call: it slows the servers, so a loop turn finds more work, and every
#            stop is a voluntary context switch (those figures are then the tracer's).
#   CALLGRIND=1  instead, every server runs under valgrind --tool=callgrind and the figure
#            is instructions per SET (counters zeroed before the run, dumped after it).
# Syscall and fsync counts depend on how much work a loop turn finds, so on the load too,
# though far less than throughput does; context switches follow the load. Compare builds
# in the same minute. A benchmark, not a test: it prints figures and never fails on them;
# it removes its processes and temp dir on exit.
#
# Environment (all optional): BIN (default ../bin), SYSTEMS="batch none redis3 dynomite",
# PIPES="1 16", N_P1=20000, N_PIPE=100000 (CALLGRIND=1: 2000 and 8000), KEYS=100000,
# CLIENTS=50, TEST=set (or get: the same per GET), TRACER=perf|strace, CALLGRIND=1, BENCH_HOST=127.0.48.1, DYNOMITE=path,
# KEEP=dir (keep the raw counts and callgrind files), REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI, TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
DYNAD=$BIN/dynad
BENCH_HOST=${BENCH_HOST:-127.0.48.1}
SYSTEMS=${SYSTEMS:-batch none redis3 dynomite}
PIPES=${PIPES:-1 16}
CALLGRIND=${CALLGRIND:-0}
TRACER=${TRACER:-}
if [ -z "$TRACER" ]; then # perf when it can count the tracepoints, else strace
  TRACER=strace
  perf stat -e 'syscalls:sys_enter_write' true >/dev/null 2>&1 && TRACER=perf
fi
if [ "$CALLGRIND" = 1 ]; then
  N_P1=${N_P1:-2000} N_PIPE=${N_PIPE:-8000}
else
  N_P1=${N_P1:-20000} N_PIPE=${N_PIPE:-100000}
fi
KEYS=${KEYS:-100000}
CLIENTS=${CLIENTS:-50}
TEST=${TEST:-set}
H=$BENCH_HOST

. "$here/lib.sh"
bench_init costs.sh dyna-costs
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set BIN=dir)"
need_redis_tools
if [ "$CALLGRIND" = 1 ]; then
  for t in valgrind callgrind_control; do command -v "$t" >/dev/null || die "$t not found (apt-get install valgrind)"; done
elif [ "$TRACER" = perf ]; then
  perf stat -e 'syscalls:sys_enter_write' true >/dev/null 2>&1 || die "perf cannot count syscall tracepoints here (try TRACER=strace)"
else
  command -v strace >/dev/null || die "strace not found (apt-get install strace)"
fi
# The kinds counted; everything else is summed as "other".
KINDS="write writev sendmsg sendto read readv recvfrom recvmsg epoll_wait epoll_ctl fdatasync fsync pwrite64 futex"
wrap=()
[ "$CALLGRIND" = 1 ] && wrap=(valgrind --tool=callgrind --dump-instr=no "--callgrind-out-file=$work/cg.%p.out"
                               "--log-file=$work/vg.%p.log")
slow=()
[ "$CALLGRIND" = 1 ] && slow=(--request-timeout-ms 10000 --fd-min-ms 20000 --aae-interval-ms 600000
                               --handoff-interval-ms 600000 --map-size-mb 1024)
. "$here/systems.sh"

# ---------- measuring ----------

ctx_sum() { # pid -> "voluntary involuntary", summed over its threads
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt_switches/ { v += $2 } /^nonvoluntary_ctxt_switches/ { n += $2 } END { print v + 0, n + 0 }'
}

settle() { # after the run: until the replicas have it all (the traced work includes theirs)
  case $1 in
  redis3) redis3_synced 300 || echo "  (the redis replicas had not caught up)" >&2 ;;
  *) sleep "$([ "$CALLGRIND" = 1 ] && echo 6 || echo 1)" ;;
  esac
}

# measure SYSTEM P N: prints one line per process "role kind=count ... ctxv=.. ctxn=.." or
# "role instr=..", raw counts for the N SETs.
measure() {
  local sys=$1 pipe=$2 n=$3 i pid tp=() c0=() role
  "$REDIS_BENCHMARK" -h "$H" -p "$PORT" -t set -n "$KEYS" -r "$KEYS" -d 100 -c 10 -P 16 -q >/dev/null 2>&1 </dev/null
  settle "$sys"
  for i in "${!SPIDS[@]}"; do
    pid=${SPIDS[$i]}
    c0+=("$(ctx_sum "$pid")")
    if [ "$CALLGRIND" = 1 ]; then
      callgrind_control -z "$pid" >/dev/null 2>&1
    elif [ "$TRACER" = perf ]; then
      local ev
      ev=$(for k in $KINDS; do printf 'syscalls:sys_enter_%s,' "$k"; done)
      perf stat -x, -e "${ev}raw_syscalls:sys_enter" -p "$pid" -o "$work/tr.$i" &
      tp+=($!)
    else
      strace -c -f -q -o "$work/tr.$i" -p "$pid" &
      tp+=($!)
    fi
  done
  [ "$CALLGRIND" = 1 ] || sleep 0.5 # the tracers attach
  "$REDIS_BENCHMARK" -h "$H" -p "$PORT" -t "$TEST" -n "$n" -c "$CLIENTS" -d 100 -r "$KEYS" -P "$pipe" -q \
    >"$work/rb.txt" 2>&1 </dev/null
  settle "$sys"
  for i in "${!SPIDS[@]}"; do
    pid=${SPIDS[$i]}
    role=$(role_of "$sys" "$i")
    if [ "$CALLGRIND" = 1 ]; then
      callgrind_control -d "costs" "$pid" >/dev/null 2>&1
      sleep 0.5
      local f instr
      f=$(ls -t "$work"/cg."$pid".out* 2>/dev/null | head -1)
      instr=$(awk '/^(totals|summary):/ { print $2; exit }' "$f" 2>/dev/null)
      echo "$role instr=${instr:-0}"
      [ -n "${KEEP:-}" ] && [ -n "$f" ] && mkdir -p "$KEEP" && cp "$f" "$KEEP/cg.$sys.$pipe.$role"
      rm -f "$work"/cg."$pid".out.*
    else
      kill -INT "${tp[$i]}" 2>/dev/null || true
      wait "${tp[$i]}" 2>/dev/null || true
      local c1
      c1=$(ctx_sum "$pid")
      printf '%s ' "$role"
      if [ "$TRACER" = perf ]; then
        awk -F, '$3 ~ /^syscalls:sys_enter_/ { k = $3; sub(/^syscalls:sys_enter_/, "", k); printf "%s=%s ", k, $1 }
                 $3 == "raw_syscalls:sys_enter" { printf "total=%s ", $1 }' "$work/tr.$i"
      else
        # strace -c: % time, seconds, usecs/call, calls, [errors], syscall
        awk '$1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ && $NF ~ /^[a-z_0-9]+$/ {
               if ($NF == "total") printf "total=%s ", $4; else printf "%s=%s ", $NF, $4
             }' "$work/tr.$i"
      fi
      awk -v i="${c0[$i]}" -v j="$c1" 'BEGIN { split(i, a, " "); split(j, b, " "); printf "ctxv=%d ctxn=%d\n", b[1] - a[1], b[2] - a[2] }'
    fi
  done
  tr '\r' '\n' <"$work/rb.txt" | awk '/requests per second/ { printf "rb %s\n", $2 }' | tail -1
}

role_of() { # system index
  case $1 in
  batch | none) echo "n$(($2 + 1))" ;;
  redis3) [ "$2" = 0 ] && echo primary || echo "replica$2" ;;
  dynomite) [ $(($2 % 2)) = 0 ] && echo "redis$(($2 / 2 + 1))" || echo "dyno$(($2 / 2 + 1))" ;;
  esac
}

# report SYSTEM P N FILE: the per-SET table of one run
report() {
  python3 - "$1" "$2" "$3" "$4" "$CALLGRIND" "$KINDS" "${TEST^^}" <<'EOF'
import sys
sysname, pipe, n, path, cg, kinds, op = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1", sys.argv[6].split(), sys.argv[7]
rows, rb = [], None
for line in open(path):
    w = line.split()
    if not w: continue
    if w[0] == "rb": rb = w[1]; continue
    d = {}
    for kv in w[1:]:
        k, _, v = kv.partition("=")
        try: d[k] = float(v)
        except ValueError: pass
    rows.append((w[0], d))
print(f"-- {sysname}, -P {pipe}: {n} {op}s" + (f" ({rb} req/s as measured, traced)" if rb else ""))
if cg:
    print(f"| process | instructions per {op} |")
    print("|---|---:|")
    tot = 0
    for role, d in rows:
        tot += d.get("instr", 0)
        print(f"| {role} | {d.get('instr', 0) / n:,.0f} |")
    print(f"| all | {tot / n:,.0f} |")
    sys.exit(0)
shown = [k for k in kinds if any(d.get(k, 0) for _, d in rows)]
print("| process | " + " | ".join(shown) + " | other | all syscalls | fsyncs | ctx vol | ctx invol |")
print("|---|" + "---:|" * (len(shown) + 5))
acc = {}
for role, d in rows + [("all", None)]:
    if d is None: d = acc
    else:
        for k, v in d.items(): acc[k] = acc.get(k, 0) + v
    total = d.get("total", 0)
    other = total - sum(d.get(k, 0) for k in kinds)
    f = lambda v: f"{v / n:.3f}"
    print(f"| {role} | " + " | ".join(f(d.get(k, 0)) for k in shown) +
          f" | {f(other)} | {f(total)} | {f(d.get('fdatasync', 0) + d.get('fsync', 0))} | {f(d.get('ctxv', 0))} | {f(d.get('ctxn', 0))} |")
EOF
}

echo "== machine"
echo "date:    $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu:     $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "dynad:   $DYNAD, $("$DYNAD" --version 2>&1 | head -1), built $(date -u -r "$DYNAD" +%FT%TZ)"
echo "redis:   $("$REDIS_SERVER" --version | awk '{ sub("v=", "", $3); print $3 }')"
echo "counted: $([ "$CALLGRIND" = 1 ] && echo 'instructions (callgrind)' || echo "system calls ($TRACER), context switches (/proc)")"
echo "load:    redis-benchmark -h $H -c $CLIENTS -d 100 -r $KEYS -t $TEST, -n $N_P1 at -P 1, $N_PIPE pipelined"
echo

for sys in $SYSTEMS; do
  case $sys in
  batch | none) start_dyna "$sys" ;;
  redis3) start_redis3 ;;
  dynomite)
    if ! dynomite_available; then
      echo
      continue
    fi
    start_dynomite
    ;;
  *) die "unknown system $sys (want batch, none, redis3, dynomite)" ;;
  esac
  for pipe in $PIPES; do
    n=$([ "$pipe" = 1 ] && echo "$N_P1" || echo "$N_PIPE")
    measure "$sys" "$pipe" "$n" >"$work/m.$sys.$pipe"
    report "$sys" "$pipe" "$n" "$work/m.$sys.$pipe"
    echo
    [ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$work/m.$sys.$pipe" "$KEEP/"
  done
  stop_system
done
echo "done"
