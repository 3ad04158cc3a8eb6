#!/usr/bin/env bash
# layering.sh: fails if a layer reaches past the ones below it (docs/architecture.md,
# Layers), or if the pure layers (src/core, src/proto) include an I/O library or call a
# clock, a random source, a socket or a file. Run by `make test` (ctest lint/layering).
set -uo pipefail
cd "$(dirname "$0")/../.."
bad=0
fail() { echo "layering: $*"; bad=1; }

# allowed DIR PATTERN: every quoted include in DIR/*.[ch] must match PATTERN.
allowed_in() {
  local dir=$1 pat=$2 hits
  hits=$(grep -HnE '^\s*#\s*include\s+"' "$dir"/*.[ch] | grep -vE "#\s*include\s+\"($pat)\"")
  [ -z "$hits" ] || fail "$dir includes what it may not:"$'\n'"$hits"
}
allowed() { allowed_in src/"$1" "$2"; }
allowed util 'util/[a-z0-9_]+\.h|dyna_err\.h'
allowed proto 'proto/[a-z0-9_]+\.h|util/[a-z0-9_]+\.h'
allowed store 'store/[a-z0-9_]+\.h|util/[a-z0-9_]+\.h'
# The drivers: dynad's runtime and the simulator never include each other, the client
# library or the CLI.
allowed runtime 'runtime/[a-z0-9_]+\.h|core/[a-z0-9_]+\.h|proto/[a-z0-9_]+\.h|store/[a-z0-9_]+\.h|util/[a-z0-9_]+\.h|dyna_[a-z0-9_]+\.h'
allowed sim 'sim/[a-z0-9_]+\.h|core/[a-z0-9_]+\.h|proto/[a-z0-9_]+\.h|store/[a-z0-9_]+\.h|util/[a-z0-9_]+\.h|dyna_[a-z0-9_]+\.h'
allowed core 'core/[a-z0-9_]+\.h|proto/[a-z0-9_]+\.h|util/[a-z0-9_]+\.h|store/store\.h'
allowed client 'client/[a-z0-9_]+\.h|proto/(resp|words|ring_reply)\.h|util/[a-z0-9_]+\.h|dyna\.h|dyna_[a-z0-9_]+\.h'
# The CLI, the bench and the examples are programs on the public API: include/ and, for
# the CLI, its own headers (docs/client.md).
allowed cli 'cli/[a-z0-9_]+\.h|dyna\.h|dyna_[a-z0-9_]+\.h'
allowed_in examples 'dyna\.h|dyna_[a-z0-9_]+\.h'

# The pure layers: no I/O headers, no clock, no randomness, no sockets, no files.
for d in src/core src/proto; do
  hits=$(grep -nE '#\s*include\s*<(uv|lmdb|pthread|unistd|time|fcntl|poll|sys/[a-z]+|netinet/[a-z]+|arpa/[a-z]+|netdb)\.h>' "$d"/*.[ch])
  [ -z "$hits" ] || fail "$d includes an I/O header:"$'\n'"$hits"
  # Comments stripped by the preprocessor, so that prose like "read (" is not a call.
  hits=$(for f in "$d"/*.[ch]; do gcc -fpreprocessed -dD -E -P "$f" 2>/dev/null | sed "s#^#$f: #"; done |
    grep -E '\b(time|clock_gettime|gettimeofday|clock|rand|random|srand|srandom|arc4random|getrandom|socket|connect|accept|open|fopen|read|write|fsync|fdatasync|sleep|usleep|nanosleep|printf|fprintf|uv_[a-z0-9_]+|mdb_[a-z0-9_]+|pthread_[a-z0-9_]+)\s*\(')
  [ -z "$hits" ] || fail "$d calls the outside world:"$'\n'"$hits"
done

[ "$bad" -eq 0 ] && echo "layering: ok"
exit "$bad"
