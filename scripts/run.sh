#!/usr/bin/env bash
# run.sh: `make run`: starts one dynad on 127.0.0.1:7001 with data under ./var/n1 and
# stops it on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
echo "Dyna: starting node n1 on 127.0.0.1:7001 (data in var/n1)."
echo "Connect with:  redis-cli -p 7001   or   bin/dyna -p 7001 get KEY"
echo "Stop with Ctrl-C."
exec bin/dynad --name n1 --data var/n1 --listen 127.0.0.1:7001
