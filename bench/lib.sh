# bench/lib.sh: what the benchmark scripts share (sourced, not run).
#
#   bench_init NAME PREFIX   die() names NAME; a temp dir $work (PREFIX.XXXXXX) and the
#                            list $pids, both cleaned up on exit (processes killed and
#                            waited for, $work/bench.pid too when a script writes it)
#   BENCH_HOST               the loopback address every server binds and every client
#                            dials (default 127.0.0.1)
#   free_port                a free TCP port P on BENCH_HOST whose P+10000 is free too
#   wait_up PORT PID         until the server answers PING (dies if PID exits first)
#   info_field PORT FIELD    one field of INFO
#   start_cluster N [ARGS]   N dynad on BENCH_HOST (N=3 R=2 W=2, ARGS added to each),
#                            nodes 2.. --join node 1, until all agree on N members
#                            and one ring version; sets CPORTS (client ports), DPIDS,
#                            SEEDS (host:port,...), N1 (node 1) and CLUSTER1 (node 1's
#                            cluster address, for a --join); data dirs and logs
#                            are $work/n1.. ($work/${CLUSTER_DIRS}1.. when set: a
#                            second cluster must not reopen the first one's data)
#   start_cluster3 [ARGS]    start_cluster 3
#   need_redis_tools         dies unless REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI and
#                            python3 are there
#   start_redis NAME [APPENDFSYNC [ARGS]]  a redis-server on BENCH_HOST with an AOF
#                            (appendfsync everysec unless given), no RDB, ARGS added;
#                            sets rport, rpid, rdir ($work/NAME)
# Needs REDIS_CLI (default redis-cli), DYNAD, and python3.
REDIS_CLI=${REDIS_CLI:-redis-cli}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
BENCH_HOST=${BENCH_HOST:-127.0.0.1}
export BENCH_HOST

bench_init() { # name prefix
  BENCH_NAME=$1
  work=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 2; }

bench_cleanup() {
  local p
  set +e
  [ -f "$work/bench.pid" ] && kill "$(cat "$work/bench.pid")" 2>/dev/null
  for p in "${pids[@]+"${pids[@]}"}"; do [ "$p" != 0 ] && kill "$p" 2>/dev/null; done
  for p in "${pids[@]+"${pids[@]}"}"; do [ "$p" != 0 ] && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}

free_port() {
  python3 - <<'EOF'
import os, socket
h = os.environ.get("BENCH_HOST", "127.0.0.1")
def free(p):
    s = socket.socket()
    try:
        s.bind((h, p)); return True
    except OSError:
        return False
    finally:
        s.close()
while True:
    s = socket.socket(); s.bind((h, 0)); p = s.getsockname()[1]; s.close()
    if p + 10000 < 65536 and free(p + 10000):
        print(p); break
EOF
}

wait_up() { # port pid
  local i
  for i in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || die "server on port $1 exited at start"
    [ "$("$REDIS_CLI" -h "$BENCH_HOST" -p "$1" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  die "server on port $1 did not answer PING"
}

info_field() { # port field
  "$REDIS_CLI" -h "$BENCH_HOST" -p "$1" info 2>/dev/null | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

start_cluster3() { # extra dynad args...
  start_cluster 3 "$@"
}

start_cluster() { # NODES [extra dynad args...]
  local nodes=$1 i p cp cp1="" join ok v rv DIRS=${CLUSTER_DIRS:-n}
  shift
  CPORTS=() DPIDS=()
  for i in $(seq 1 "$nodes"); do
    p=$(free_port) cp=$(free_port)
    join=()
    [ "$i" -gt 1 ] && join=(--join "$BENCH_HOST:$cp1")
    "$DYNAD" --name "n$i" --data "$work/$DIRS$i" --listen "$BENCH_HOST:$p" --cluster "$BENCH_HOST:$cp" \
      --n 3 --r 2 --w 2 --log-level warn "${join[@]+"${join[@]}"}" "$@" >"$work/$DIRS$i.log" 2>&1 &
    pids+=($!) DPIDS+=($!) CPORTS+=("$p")
    [ "$i" = 1 ] && cp1=$cp
    wait_up "$p" "$!"
  done
  CLUSTER1="$BENCH_HOST:$cp1" # node 1's cluster address, for a later --join
  SEEDS=$(printf "$BENCH_HOST:%s," "${CPORTS[@]}")
  SEEDS=${SEEDS%,}
  N1="$BENCH_HOST:${CPORTS[0]}"
  for i in $(seq 1 100); do
    ok=1 v=""
    for p in "${CPORTS[@]}"; do
      rv=$(info_field "$p" ring_version)
      [ "$(info_field "$p" members)" = "$nodes" ] || ok=0
      [ -z "$v" ] && v=$rv
      [ "$rv" = "$v" ] || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  die "the cluster did not settle"
}

need_redis_tools() {
  local t
  for t in "$REDIS_SERVER" "$REDIS_BENCHMARK" "$REDIS_CLI" python3; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install redis-server redis-tools python3)"
  done
}

start_redis() { # name [appendfsync [args...]]
  local name=$1 fsync=${2:-everysec}
  shift
  [ $# -gt 0 ] && shift
  rport=$(free_port)
  rdir=$work/$name
  mkdir -p "$rdir"
  "$REDIS_SERVER" --bind "$BENCH_HOST" --port "$rport" --dir "$rdir" --appendonly yes \
    --appendfsync "$fsync" --save '' --daemonize no --protected-mode no \
    --logfile "$rdir/redis.log" "$@" &
  rpid=$!
  pids+=("$rpid")
  wait_up "$rport" "$rpid"
}
