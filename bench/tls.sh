#!/usr/bin/env bash
# bench/tls.sh: what TLS costs. Two local 3-node Dyna clusters in the same run, one
# plain and one with TLS on both ports (clients on the TLS port, client certificates
# required; the cluster port with mutual TLS), same options otherwise (N=3, R=2, W=2,
# sync batch), certificates from scripts/tls-certs.sh (ECDSA P-256).
#
# A benchmark, not a test: it prints figures and never fails on them. It stops by itself
# and removes its processes and temp dirs on exit.
#
# dyna-bench --protocol redis routed by key (--routing ring), 50 connections, no
# pipelining and -P 16: plain SET (workload W) and GET (workload C) over 100k keys of
# 100 bytes, loaded first. Each run has a second of warm-up that is not measured, so that
# its 50 connections are open (and their TLS handshakes done) before the clock starts. Rounds interleave the two clusters; the median of each figure
# is shown with the TLS/plain throughput ratio.
#
# Environment (all optional): BIN=dir (dynad, dyna-bench; default ../bin), DURATION=10
# seconds per run, ROUNDS=2, KEYS=100000, TMPDIR (data dirs).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../bin}
DYNAD=$BIN/dynad
BENCH=$BIN/dyna-bench
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
CLIENTS=50
KEYS=${KEYS:-100000}
VSIZE=100

. "$here/lib.sh"
bench_init tls.sh dyna-tls-bench
[ -x "$DYNAD" ] || die "no dynad at $DYNAD (run make, or set BIN=dir)"
[ -x "$BENCH" ] || die "no dyna-bench at $BENCH (run make, or set BIN=dir)"
command -v openssl >/dev/null || die "no openssl command"

bash "$here/../scripts/tls-certs.sh" "$work/tls" node >/dev/null || die "cannot make certificates"
T=$work/tls
TLS_CLIENT=(--tls --cacert "$T/ca.crt" --cert "$T/client.crt" --key "$T/client.key")

# The plain cluster: lib.sh's. Its seeds: PLAIN_SEEDS.
CLUSTER_DIRS=p start_cluster3
PLAIN_SEEDS=$SEEDS

# The TLS cluster: the plain port stays on for lib.sh's readiness checks (PING, INFO);
# the ring advertises the TLS ports (--tls-cluster), so routed clients use only those.
TPORTS=() cp1=""
for i in 1 2 3; do
  p=$(free_port) cp=$(free_port) tp=$(free_port)
  join=()
  [ "$i" -gt 1 ] && join=(--join "127.0.0.1:$cp1")
  "$DYNAD" --name "t$i" --data "$work/t$i" --listen "127.0.0.1:$p" --cluster "127.0.0.1:$cp" \
    --tls-port "$tp" --tls-cluster yes --tls-cert-file "$T/node.crt" --tls-key-file "$T/node.key" \
    --tls-ca-cert-file "$T/ca.crt" --n 3 --r 2 --w 2 --log-level warn "${join[@]+"${join[@]}"}" \
    >"$work/t$i.log" 2>&1 &
  pids+=($!)
  [ "$i" = 1 ] && cp1=$cp
  wait_up "$p" "$!"
  TPORTS+=("$p") TLS_PORTS+=("$tp")
done
for i in $(seq 1 100); do
  ok=1
  for p in "${TPORTS[@]}"; do [ "$(info_field "$p" members)" = 3 ] || ok=0; done
  [ "$ok" = 1 ] && break
  sleep 0.2
done
[ "$ok" = 1 ] || die "the TLS cluster did not settle"
TLS_SEEDS=$(printf '127.0.0.1:%s,' "${TLS_PORTS[@]}")
TLS_SEEDS=${TLS_SEEDS%,}

echo "== machine"
echo "date:    $(date -u +%FT%TZ)"
echo "cpu:     $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
echo "openssl: $(openssl version)"
echo "plain:   $PLAIN_SEEDS    tls: $TLS_SEEDS (client certificates required, --tls-cluster yes)"
echo

summ() { # json -> "ops p50 p99 p999 errors" of the whole run
  python3 -c '
import json, sys
run = json.loads(sys.argv[1])["run"]
ls = [o["latency_us"] for o in run["by_op"].values()]
print("%.0f %.3f %.3f %.3f %d" % (run["ops_per_sec"], max(l["p50"] for l in ls)/1e3,
      max(l["p99"] for l in ls)/1e3, max(l["p999"] for l in ls)/1e3, run["errors"]))' "$1"
}
median() { sort -g | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }'; }
declare -A R

run() { # label seeds [dyna-bench args...]
  local label=$1 seeds=$2 out s
  shift 2
  out=$("$BENCH" --seeds "$seeds" --protocol redis --routing ring --keys "$KEYS" --value-size "$VSIZE" \
    --connections "$CLIENTS" --duration "$DURATION" --warmup 1 --json "$@") || die "dyna-bench failed: $label"
  s=$(summ "$out")
  R["$label"]+="$s"$'\n'
  printf '  %-22s %9s ops/s  p50 %7s  p99 %7s  p99.9 %7s ms  errors %s\n' "$label" $s
}

echo "== load ($KEYS keys of $VSIZE bytes into each cluster)"
"$BENCH" --seeds "$PLAIN_SEEDS" --protocol redis --routing ring --keys "$KEYS" --value-size "$VSIZE" \
  --connections "$CLIENTS" --load-only >/dev/null || die "plain load failed"
"$BENCH" --seeds "$TLS_SEEDS" "${TLS_CLIENT[@]}" --protocol redis --routing ring --keys "$KEYS" \
  --value-size "$VSIZE" --connections "$CLIENTS" --load-only >/dev/null || die "TLS load failed"

for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r"
  for pipe in 1 16; do
    for w in W C; do
      op=$([ "$w" = W ] && echo SET || echo GET)
      run "plain $op -P $pipe" "$PLAIN_SEEDS" --workload "$w" --pipeline "$pipe"
      run "tls   $op -P $pipe" "$TLS_SEEDS" "${TLS_CLIENT[@]}" --workload "$w" --pipeline "$pipe"
    done
  done
done

echo
echo "== medians of $ROUNDS rounds (ops/s; p50, p99, p99.9 in ms)"
printf '  %-10s %12s %12s %6s   %-26s %-26s\n' "" "plain ops/s" "tls ops/s" "ratio" "plain p50/p99/p99.9" "tls p50/p99/p99.9"
for pipe in 1 16; do
  for op in SET GET; do
    line=""
    for m in plain "tls  "; do
      for c in 1 2 3 4; do
        printf '%s' "${R["$m $op -P $pipe"]}" | awk -v c="$c" '{ print $c }' | median
      done | tr '\n' ' ' > "$work/m"
      line+="$(cat "$work/m")|"
    done
    IFS='|' read -r pl tl _ <<<"$line"
    read -r po p50 p99 p999 <<<"$pl"
    read -r to t50 t99 t999 <<<"$tl"
    printf '  %-10s %12s %12s %6s   %-26s %-26s\n' "$op -P $pipe" "$po" "$to" \
      "$(awk -v a="$to" -v b="$po" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" \
      "$p50/$p99/$p999" "$t50/$t99/$t999"
  done
done
