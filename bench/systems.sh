# bench/systems.sh: the systems the side-by-side benchmarks start (sourced after lib.sh,
# by costs.sh and floor.sh). Each start_* sets PORT (where the client goes) and SPIDS
# (every server process of the system, for measuring and stop_system):
#
#   start_dyna POLICY [NODES [NAME]]  NODES dynad (default 3: N=3 R=2 W=2; 1: N=R=W=1)
#                              with --sync POLICY, data in $work/NAME.nI (NAME: POLICY);
#                              node 1 is PORT
#   start_redis3               redis-server (AOF everysec) with two --replicaof replicas
#                              (R3_REPLICAS: their ports; redis3_synced TRIES waits for them)
#   start_dynomite             3 Dynomite nodes (one per rack, all token 0, DC_QUORUM both
#                              ways) over 3 in-memory redis-servers; needs DYNOMITE (its binary):
#                              dynomite_available says whether it is there (or why not)
#   redis_proc NAME PORT ARGS  one redis-server, no RDB, data in $work/NAME; sets rpid
#
# Needs H (the address to bind and dial). When the caller defines the arrays `wrap` (a
# command every server runs under, e.g. valgrind) and `slow` (dynad options for a slow
# server), they are used. Every process started is added to `pids` (lib.sh cleans up).
cli() { "$REDIS_CLI" -h "$H" "$@"; }

wait_ping() { # port pid
  local i
  for i in $(seq 1 600); do
    kill -0 "$2" 2>/dev/null || die "server on port $1 exited at start"
    [ "$(cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  die "server on port $1 did not answer PING"
}

# ---------- the systems: each sets PORT (where the client goes) and SPIDS (servers) ----------

start_dyna() { # sync policy [nodes [name]]
  local i p cp cp1="" ok nodes=${2:-3} name=${3:-$1} nrw=(--n 3 --r 2 --w 2)
  local ports=()
  [ "$nodes" = 1 ] && nrw=(--n 1 --r 1 --w 1)
  SPIDS=()
  for i in $(seq 1 "$nodes"); do
    p=$(free_port) cp=$(free_port)
    local join=()
    [ "$i" -gt 1 ] && join=(--join "$H:$cp1")
    [ "$i" = 1 ] && cp1=$cp
    "${wrap[@]+"${wrap[@]}"}" "$DYNAD" --name "n$i" --data "$work/$name.n$i" --listen "$H:$p" \
      --cluster "$H:$cp" "${nrw[@]}" --sync "$1" --log-level warn \
      "${slow[@]+"${slow[@]}"}" "${join[@]+"${join[@]}"}" >"$work/$name.n$i.log" 2>&1 &
    pids+=($!) SPIDS+=($!) ports+=("$p")
    wait_ping "$p" "$!"
  done
  PORT=${ports[0]}
  for i in $(seq 1 300); do
    ok=1
    for p in "${ports[@]}"; do [ "$(info_field "$p" members)" = "$nodes" ] || ok=0; done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  die "the $name cluster did not settle"
}

redis_proc() { # name port [args...]: one redis-server, no RDB; sets rpid
  local name=$1 port=$2
  shift 2
  mkdir -p "$work/$name"
  "${wrap[@]+"${wrap[@]}"}" "$REDIS_SERVER" --bind "$H" --port "$port" --dir "$work/$name" \
    --save '' --daemonize no --protected-mode no --logfile "$work/$name/redis.log" "$@" &
  rpid=$!
  pids+=("$rpid")
  wait_ping "$port" "$rpid"
}

R3_REPLICAS=()
start_redis3() {
  local p i
  SPIDS=() R3_REPLICAS=()
  PORT=$(free_port)
  redis_proc r3p "$PORT" --appendonly yes --appendfsync everysec
  SPIDS+=("$rpid")
  for i in 1 2; do
    p=$(free_port)
    redis_proc "r3r$i" "$p" --appendonly yes --appendfsync everysec --replicaof "$H" "$PORT"
    SPIDS+=("$rpid") R3_REPLICAS+=("$p")
  done
  redis3_synced 600 || die "the redis replicas did not come up"
}

redis3_synced() { # tries: until both replicas are up and at the primary's offset
  local i p off ok
  for i in $(seq 1 "$1"); do
    ok=1
    off=$(info_field "$PORT" master_repl_offset)
    for p in "${R3_REPLICAS[@]}"; do
      [ "$(info_field "$p" master_link_status)" = up ] || ok=0
      [ "$(info_field "$p" slave_repl_offset)" = "$off" ] || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  return 1
}

# 0 when DYNOMITE names an executable, else prints the notice that its row is skipped.
dynomite_available() {
  [ -n "${DYNOMITE:-}" ] && [ -x "$DYNOMITE" ] && return 0
  echo "-- dynomite: skipped (not in Debian; set DYNOMITE=/path/to/dynomite to add the row)"
  return 1
}

# Dynomite: one node per rack in one data centre, all holding token 0, so each is a
# replica of every key; DC_QUORUM both ways (2 of 3). Each over its own redis-server.
start_dynomite() {
  local i p sp rp ok seeds=() dports=() lports=()
  SPIDS=()
  for i in 1 2 3; do dports+=("$(free_port)"); lports+=("$(free_port)"); done
  for i in 1 2 3; do
    rp=$(free_port) sp=$(free_port)
    redis_proc "dyno-redis$i" "$rp" --appendonly no
    SPIDS+=("$rpid")
    seeds=()
    for p in 1 2 3; do
      [ "$p" = "$i" ] || seeds+=("  - $H:${dports[$((p - 1))]}:rack$p:dc1:0")
    done
    {
      echo "dyn_o_mite:"
      echo "  datacenter: dc1"
      echo "  rack: rack$i"
      echo "  dyn_listen: $H:${dports[$((i - 1))]}"
      echo "  dyn_seeds:"
      printf '%s\n' "${seeds[@]}"
      echo "  dyn_seed_provider: simple_provider"
      echo "  listen: $H:${lports[$((i - 1))]}"
      echo "  stats_listen: $H:$sp"
      echo "  servers:"
      echo "  - $H:$rp:1"
      echo "  tokens: '0'"
      echo "  data_store: 0"
      echo "  secure_server_option: none"
      echo "  read_consistency: DC_QUORUM"
      echo "  write_consistency: DC_QUORUM"
      echo "  timeout: 10000"
    } >"$work/dyno$i.yml"
    "${wrap[@]+"${wrap[@]}"}" "$DYNOMITE" -c "$work/dyno$i.yml" -o "$work/dyno$i.log" &
    pids+=($!) SPIDS+=($!)
  done
  PORT=${lports[0]}
  for i in $(seq 1 300); do
    ok=1
    for p in "${lports[@]}"; do [ "$(cli -p "$p" set costs:probe 1 2>/dev/null)" = OK ] || ok=0; done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  die "dynomite did not answer SET on all three nodes (see $work/dyno*.log)"
}

stop_system() {
  local p
  for p in "${SPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
