#!/usr/bin/env bash
# exports.sh LIBDYNA_SO: fails unless the shared library exports exactly the documented
# API, that is the functions declared DYNA_API in include/*.h, and nothing else (no
# buffer, codec, allocation or routing internals; docs/client.md, Symbols). Also fails if
# a function declared in include/*.h lacks DYNA_API (it would not be exported).
# Run by `make test` (ctest lint/exports) on the library the build just made.
set -uo pipefail
lib=${1:?usage: exports.sh path/to/libdyna.so}
cd "$(dirname "$0")/../.."
bad=0
fail() { echo "exports: $*"; bad=1; }
[ -f "$lib" ] || { echo "exports: no such library: $lib"; exit 1; }

# The public headers without comments and preprocessor lines, one declaration per line.
decls=$(perl -0777 -ne 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g; s{^\s*#[^\n]*(?:\\\n[^\n]*)*}{}gm;
                       s{\s+}{ }g; s{;}{;\n}g; print' include/*.h)
# Every function declared (an identifier followed by "(" outside a typedef).
declared=$(echo "$decls" | grep -v '^\s*typedef' | grep -oE '\b[a-z_][a-z0-9_]*\s*\(' |
           sed -E 's/\s*\($//' | sort -u)
# Those declared with DYNA_API.
api=$(echo "$decls" | grep -E '\bDYNA_API\b' | grep -oE '\b[a-z_][a-z0-9_]*\s*\(' |
      sed -E 's/\s*\($//' | sort -u)
[ -n "$api" ] || fail "no DYNA_API declaration found in include/*.h"
missing_mark=$(comm -23 <(echo "$declared") <(echo "$api"))
[ -z "$missing_mark" ] || fail "declared in include/*.h without DYNA_API:"$'\n'"$missing_mark"

# What the library exports: defined dynamic symbols, less the linker's own markers.
exported=$(nm -D --defined-only "$lib" | awk 'NF >= 3 {print $3}' | sed 's/@.*//' |
           grep -vxE '_init|_fini|_edata|_end|__bss_start' | sort -u)
leaked=$(comm -13 <(echo "$api") <(echo "$exported"))
[ -z "$leaked" ] || fail "$lib exports what is not documented API:"$'\n'"$leaked"
absent=$(comm -23 <(echo "$api") <(echo "$exported"))
[ -z "$absent" ] || fail "$lib does not export documented API:"$'\n'"$absent"

[ "$bad" -eq 0 ] && echo "exports: ok ($(echo "$api" | wc -l) functions)"
exit "$bad"
