#!/usr/bin/env bash
# bench/types_callgrind.sh: instructions per write of SET and the typed writes, counted by
# callgrind on a 3-node cluster: node 1 (the coordinator of every write: redis-benchmark
# talks to it, and with N=3 on 3 nodes it is a home replica of every key) and node 2 (a
# replica) run under valgrind --tool=callgrind; node 3 runs natively, so W=2 is met at
# native speed. Instruction counts do not depend on the machine's load, unlike
# bench/types.sh's throughput: use this to compare builds on a shared machine.
#
#   per test (the writes of bench/types.sh): a warm-up of 2*KEYS requests over KEYS keys
#   (objects of a few elements, as in types.sh), then the counters are zeroed, N requests
#   with -P 16 -c 20, a pause for node 2 to catch up, and a dump. Background work that
#   runs by the clock (anti-entropy, handoff sweeps) is slowed to once per 10 minutes, as
#   a valgrind run takes far longer than a native one.
#   prints:  per test: instructions per write at the coordinator, at one replica,
#            coordinator + 2 replicas (what the cluster spends), and that as a ratio to SET.
#
# Environment (all optional): BIN=dir (default bin), N=4000, KEYS=2000, TESTS="SET INCR
# SADD HSET ZADD LPUSH", KEEP=dir (keep the callgrind files there; default: removed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
DYNAD=$BIN/dynad
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
N=${N:-4000}
KEYS=${KEYS:-2000}
TESTS=${TESTS:-SET INCR SADD HSET ZADD LPUSH}

. "$here/lib.sh"
bench_init types_callgrind.sh dyna-types-cg
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set BIN=dir)"
for t in valgrind callgrind_control "$REDIS_BENCHMARK" "$REDIS_CLI" python3; do
  command -v "$t" >/dev/null || die "$t not found (apt-get install valgrind redis-tools python3)"
done

slow=(--request-timeout-ms 10000 --fd-min-ms 20000 --aae-interval-ms 600000
      --handoff-interval-ms 600000 --map-size-mb 1024)
ports=() cg=()
for i in 1 2 3; do
  p=$(free_port) cp=$(free_port)
  join=()
  [ "$i" -gt 1 ] && join=(--join "127.0.0.1:$cp1")
  [ "$i" = 1 ] && cp1=$cp
  wrap=()
  [ "$i" -lt 3 ] && wrap=(valgrind --tool=callgrind --dump-instr=no "--callgrind-out-file=$work/cg$i.%p.out")
  "${wrap[@]+"${wrap[@]}"}" "$DYNAD" --name "n$i" --data "$work/n$i" --listen "127.0.0.1:$p" \
    --cluster "127.0.0.1:$cp" --n 3 --r 2 --w 2 --log-level warn "${slow[@]}" \
    "${join[@]+"${join[@]}"}" >"$work/n$i.log" 2>&1 &
  pids+=($!) ports+=("$p")
  [ "$i" -lt 3 ] && cg+=($!)
  for _ in $(seq 1 300); do
    [ "$("$REDIS_CLI" -p "$p" ping 2>/dev/null)" = PONG ] && break
    kill -0 "$!" 2>/dev/null || die "node $i exited at start (see its log)"
    sleep 0.2
  done
done
for _ in $(seq 1 200); do
  ok=1
  for p in "${ports[@]}"; do [ "$(info_field "$p" members)" = 3 ] || ok=0; done
  [ "$ok" = 1 ] && break
  sleep 0.3
done
[ "$ok" = 1 ] || die "the cluster did not settle"

args_of() {
  case $1 in
  SET) echo "-t set" ;;
  INCR) echo "-t incr" ;;
  SADD) echo "SADD cart:__rand_int__ item:__rand_int__" ;;
  HSET) echo "HSET hash:__rand_int__ f:__rand_int__ v" ;;
  ZADD) echo "ZADD zset:__rand_int__ __rand_int__ m:__rand_int__" ;;
  LPUSH) echo "LPUSH list:__rand_int__ item" ;;
  *) die "unknown test $1" ;;
  esac
}
rb() { # requests test
  # shellcheck disable=SC2046  # the arguments are words on purpose
  "$REDIS_BENCHMARK" -p "${ports[0]}" -c 20 -P 16 -n "$1" -q -r "$KEYS" $(args_of "$2") >/dev/null 2>&1 </dev/null
}
for t in $TESTS; do
  rb $((KEYS * 2)) "$t"
  sleep 1
  for p in "${cg[@]}"; do callgrind_control -z "$p" >/dev/null 2>&1; done
  rb "$N" "$t"
  sleep 6
  for p in "${cg[@]}"; do callgrind_control -d "$t" "$p" >/dev/null 2>&1; done
  echo "  $t counted" >&2
done

echo "== callgrind: instructions per write, $N writes per test (-P 16, $KEYS keys, warmed)"
python3 - "$work" "$N" $TESTS <<'EOF'
import glob, sys
work, n, tests = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
res = {}
for f in glob.glob(work + '/cg*.out.*'):
    role = 'c' if '/cg1.' in f else 'r'
    trig = tot = None
    for line in open(f):
        if line.startswith('desc: Trigger:'): trig = line.split('dump ')[-1].strip()
        if line.startswith('totals:') or line.startswith('summary:'): tot = int(line.split()[1])
    if trig and tot is not None: res.setdefault(trig, {})[role] = tot / n
print('| test | coordinator | one replica | coordinator + 2 replicas | x SET |')
print('|---|---:|---:|---:|---:|')
base = res.get('SET')
for t in tests:
    if t not in res: continue
    c, r = res[t].get('c', 0), res[t].get('r', 0)
    tot = c + 2 * r
    x = tot / (base['c'] + 2 * base['r']) if base else 0
    print(f'| {t} | {c:,.0f} | {r:,.0f} | {tot:,.0f} | {x:.2f} |')
EOF
[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$work"/cg*.out* "$KEEP"/
echo "done"
