#!/usr/bin/env bash
# bench/repair.sh: foreground latency while anti-entropy rebuilds a wiped node.
#
# A benchmark, not a test: it prints figures and never fails on them. It removes its
# processes and temp dir on exit.
#
#   1. Three dynad nodes (N=3, so every node replicates every key) on 127.0.0.91-93,
#      loaded with KEYS keys of VSIZE bytes (bench/load.py, through node 1).
#   2. baseline: redis-benchmark -t set,get against node 1 (-r KEYS, -c CLIENTS, -n REQS),
#      p50/p99 of each, with no repair running.
#   3. For each budget (the default --background-bytes-per-sec, then TINY): every node is
#      restarted with that budget; node 3 is stopped, its data dir wiped, started again with
#      the same name/addresses and --join (a new id), the old id removed (DYNA.ADMIN REMOVE),
#      and DYNA.ADMIN REPAIR forced on every node. redis-benchmark runs the same load right
#      away, while node 3 is being rebuilt. Reported: p50/p99 under repair, keys repaired on
#      node 3 when the benchmark ended (INFO aae_keys_repaired), and how long the whole
#      rebuild took (until a sample of SAMPLE keys is present in node 3's DYNA.LOCAL; not
#      waited for beyond REBUILD_WAIT seconds).
#
# Environment (all optional):
#   DYNAD=path     dynad binary (default: $(dirname $0)/../bin/dynad, built by `make`)
#   REDIS_BENCHMARK, REDIS_CLI   (default: from PATH)
#   KEYS=50000 VSIZE=1000 CLIENTS=20 REQS=20000 TINY=262144 (bytes/s) SAMPLE=500
#   REBUILD_WAIT=120
#   TMPDIR         where the temp dir goes (it holds the data dirs: use a real disk)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
DYNAD=${DYNAD:-$here/../bin/dynad}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
REDIS_CLI=${REDIS_CLI:-redis-cli}
KEYS=${KEYS:-50000}
VSIZE=${VSIZE:-1000}
CLIENTS=${CLIENTS:-20}
REQS=${REQS:-20000}
TINY=${TINY:-262144}
SAMPLE=${SAMPLE:-500}
REBUILD_WAIT=${REBUILD_WAIT:-120}
IPS=(127.0.0.91 127.0.0.92 127.0.0.93)
PORT=7001
CPORT=17001

. "$here/lib.sh"
bench_init repair.sh dyna-repair
pids=(0 0 0) # by node index; 0 = not running
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set DYNAD=path)"
for t in "$REDIS_BENCHMARK" "$REDIS_CLI" python3; do
  command -v "$t" >/dev/null || die "$t not found (apt-get install redis-tools python3)"
done


cli() { # node-index args...
  local i=$1
  shift
  "$REDIS_CLI" -h "${IPS[$i]}" -p "$PORT" "$@"
}

info_field() { # node-index field
  cli "$1" info 2>/dev/null | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# start_node INDEX BUDGET [JOIN]
start_node() {
  local i=$1 budget=$2 join=${3:-} args=()
  [ -n "$join" ] && args=(--join "$join")
  "$DYNAD" --name "n$((i + 1))" --data "$work/n$((i + 1))" --listen "${IPS[$i]}:$PORT" \
    --cluster "${IPS[$i]}:$CPORT" --background-bytes-per-sec "$budget" --log-level warn \
    "${args[@]+"${args[@]}"}" >>"$work/n$((i + 1)).log" 2>&1 &
  pids[$i]=$!
  local k
  for k in $(seq 1 100); do
    kill -0 "${pids[$i]}" 2>/dev/null || die "n$((i + 1)) exited at start: $(tail -3 "$work/n$((i + 1)).log")"
    [ "$(cli "$i" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  die "n$((i + 1)) did not answer PING"
}

stop_node() { # index: SIGTERM and wait
  kill -TERM "${pids[$1]}" 2>/dev/null || true
  wait "${pids[$1]}" 2>/dev/null || true
  pids[$1]=0
}

# A small RESP helper (python3): "settled IP..." polls until every node lists exactly 3
# valid members, all reachable, and one ring version (at most 60 s); "held IP" prints how
# many of SAMPLE loaded keys that node holds locally (DYNA.LOCAL, pipelined).
cat >"$work/h.py" <<'EOF'
import random, socket, sys, time
PORT, KEYS, SAMPLE = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def parse(b, p):
    e = b.index(b"\r\n", p)
    t, v, p = b[p:p + 1], b[p + 1:e], e + 2
    if t in (b"+", b"-", b":"):
        return v, p
    n = int(v)
    if t == b"$":
        if n < 0:
            return None, p
        if len(b) < p + n + 2:
            raise IndexError
        return b[p:p + n], p + n + 2
    out = []
    for _ in range(max(n, 0)):
        x, p = parse(b, p)
        out.append(x)
    return out, p


def calls(ip, cmds):
    s = socket.create_connection((ip, PORT), timeout=10)
    s.sendall(b"".join(b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in c)
                       for c in cmds))
    buf, p, out = b"", 0, []
    while len(out) < len(cmds):
        try:
            r, p = parse(buf, p)
            out.append(r)
        except (ValueError, IndexError):
            d = s.recv(1 << 20)
            if not d:
                raise OSError("closed")
            buf += d
    s.close()
    return out


def settled(ips):
    rings = []
    for ip in ips:
        st, rg = calls(ip, [[b"DYNA.STATUS"], [b"DYNA.RING"]])
        valid = [r for r in st if r[4] == b"valid"]
        if len(valid) != 3 or any(r[7] == b"unreachable" for r in valid):
            return False
        rings.append(rg[2])
    return len(set(rings)) == 1


if sys.argv[4] == "settled":
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if settled(sys.argv[5:]):
                sys.exit(0)
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("cluster did not settle")
if sys.argv[4] == "held":
    ks = [b"key:%012d" % i for i in random.Random(1).sample(range(KEYS), min(SAMPLE, KEYS))]
    rs = calls(sys.argv[5], [[b"DYNA.LOCAL", k] for k in ks])
    print(sum(1 for r in rs if isinstance(r, list) and len(r) == 2 and r[1]))
EOF
wait_settled() { python3 "$work/h.py" "$PORT" "$KEYS" "$SAMPLE" settled "${IPS[@]}"; }
held_sample() { python3 "$work/h.py" "$PORT" "$KEYS" "$SAMPLE" held "${IPS[2]}"; }

# bench TEST -> prints "p50 p99 rps" (milliseconds) from redis-benchmark's CSV
bench() {
  "$REDIS_BENCHMARK" -h "${IPS[0]}" -p "$PORT" -t "$1" -n "$REQS" -c "$CLIENTS" -d "$VSIZE" \
    -r "$KEYS" --csv >"$work/bench.csv" 2>/dev/null &
  echo $! >"$work/bench.pid"
  wait "$(cat "$work/bench.pid")" || true
  rm -f "$work/bench.pid"
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  awk -F, 'NR == 2 { gsub(/"/, ""); print $5, $7, $2 }' "$work/bench.csv"
}

echo "repair.sh: dynad $DYNAD; $KEYS keys x $VSIZE B on 3 nodes (N=3); redis-benchmark -c $CLIENTS -n $REQS -d $VSIZE -r $KEYS"
start_node 0 16777216
start_node 1 16777216 "${IPS[0]}:$CPORT"
start_node 2 16777216 "${IPS[0]}:$CPORT"
wait_settled
python3 "$here/load.py" --host "${IPS[0]}" --port "$PORT" --count "$KEYS" \
  --format 'key:%012d' --value-size "$VSIZE" --batch 500 | sed 's/^/load: /'

declare -A RES
RES[base_set]=$(bench set)
RES[base_get]=$(bench get)

rebuild() { # label budget
  local label=$1 budget=$2 i old_id t0 t1 held
  old_id=$(info_field 2 node_id)
  for i in 0 1 2; do stop_node "$i"; done
  start_node 0 "$budget"
  start_node 1 "$budget"
  rm -rf "$work/n3"
  start_node 2 "$budget" "${IPS[0]}:$CPORT"
  sleep 1
  cli 0 dyna.admin remove "$old_id" >/dev/null
  wait_settled
  for i in 0 1 2; do cli "$i" dyna.admin repair >/dev/null; done
  t0=$(date +%s.%N)
  RES[${label}_set]=$(bench set)
  RES[${label}_get]=$(bench get)
  RES[${label}_during]=$(info_field 2 aae_keys_repaired)
  while :; do
    held=$(held_sample)
    t1=$(date +%s.%N)
    [ "$held" -ge "$SAMPLE" ] && break
    if awk -v a="$t0" -v b="$t1" -v w="$REBUILD_WAIT" 'BEGIN { exit !(b - a > w) }'; then break; fi
    sleep 0.5
  done
  RES[${label}_rebuild]=$(awk -v a="$t0" -v b="$t1" -v h="$held" -v s="$SAMPLE" \
    'BEGIN { if (h >= s) printf "%.1f s", b - a; else printf "not done after %.0f s (%d of %d sampled keys)", b - a, h, s }')
  RES[${label}_waits]=$(( $(info_field 0 background_budget_waits) + $(info_field 1 background_budget_waits) ))
}

rebuild def 16777216
rebuild tiny "$TINY"

row() { # label key
  local s=(${RES[${2}_set]}) g=(${RES[${2}_get]})
  printf "%-34s %8s %8s %9s   %8s %8s %9s\n" "$1" "${s[0]}" "${s[1]}" "${s[2]}" "${g[0]}" "${g[1]}" "${g[2]}"
}
echo
printf "%-34s %8s %8s %9s   %8s %8s %9s\n" "foreground (ms, ops/s)" "SET p50" "SET p99" "SET rps" "GET p50" "GET p99" "GET rps"
row "no repair" base
row "repair, budget 16 MiB/s (default)" def
row "repair, budget $((TINY / 1024)) KiB/s" tiny
echo
echo "keys repaired on the wiped node when the benchmark ended: default ${RES[def_during]}, tiny ${RES[tiny_during]}"
echo "rebuild of the wiped node ($SAMPLE sampled keys present): default ${RES[def_rebuild]}, tiny ${RES[tiny_rebuild]}"
echo "background_budget_waits on the survivors: default ${RES[def_waits]}, tiny ${RES[tiny_waits]}"
