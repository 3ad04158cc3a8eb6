#!/usr/bin/env bash
# setup.sh: make sure the Debian packages Dyna builds and tests with are present.
# As root it installs what is missing with apt-get; otherwise it prints the exact
# apt-get line and fails, so `make` stops before a confusing compiler error.
set -euo pipefail
pkgs=(cmake ninja-build pkgconf gcc clang libclang-rt-14-dev
      libuv1-dev liblmdb-dev libxxhash-dev libcmocka-dev libinih-dev libjemalloc-dev
      redis-tools redis-server python3 python3-redis nftables iproute2)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "dyna: missing Debian packages; run as root:" >&2
  echo "  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "dyna: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
