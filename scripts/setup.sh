#!/usr/bin/env bash
# setup.sh: make sure what Dyna builds and tests with is present.
# 1. Debian packages: as root it installs what is missing with apt-get; otherwise it prints
#    the exact apt-get line and fails, so `make` stops before a confusing compiler error.
# 2. The Node.js clients the tests drive (tests/clients/node: ioredis and node-redis, pinned by its
#    package-lock.json): `npm ci` when node_modules is missing or was installed from
#    another lockfile; nothing (no network) when it is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(cmake ninja-build pkgconf gcc clang libclang-rt-14-dev
      libuv1-dev liblmdb-dev libxxhash-dev libcmocka-dev libinih-dev libjemalloc-dev
      libhiredis-dev redis-tools redis-server python3 python3-redis nftables iproute2 iptables libnetfilter-queue-dev
      libssl-dev openssl libmicrohttpd-dev prometheus chromium
      debhelper dpkg-dev fakeroot lintian man-db)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js and npm may come from elsewhere than Debian (a nodejs package that bundles npm):
# Debian's are asked for only when the commands are not there.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "dyna: missing Debian packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "dyna: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The stamp records the hash of the lockfile node_modules was installed from.
node_dir=tests/clients/node
stamp=$node_dir/node_modules/.dyna-lock-sha256
want=$(sha256sum "$node_dir/package.json" "$node_dir/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "dyna: installing the Node.js test clients (npm ci in $node_dir)" >&2
  if ! (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "dyna: npm ci failed in $node_dir (the npm registry must be reachable once)" >&2
    exit 1
  fi
  echo "$want" >"$stamp"
fi
