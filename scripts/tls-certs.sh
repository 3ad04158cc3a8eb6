#!/usr/bin/env bash
# tls-certs.sh: a throw-away certificate authority and certificates for a local cluster,
# made with the openssl command (for `make run SECURE=1` and tests; never for production:
# the CA key sits next to the certificates, unencrypted).
#
#   scripts/tls-certs.sh [DIR] [NAME[@IP] ...]
#
# DIR (default var/tls) gets ca.crt and ca.key (the CA), NAME.crt and NAME.key for each
# node (default n1 n2 n3, all at 127.0.0.1): subject CN=NAME, subjectAltName DNS:NAME and
# IP:IP, usable as server and client (a node presents it on its TLS client port, to the
# peers that dial it, and to the peers it dials), and client.crt / client.key for
# clients (redis-cli --tls --cert ... --key ...). Existing files are kept: delete DIR to
# start over. Certificates are valid for 30 days; ECDSA P-256 keys (quick to make and to
# handshake with), SHA-256.
set -euo pipefail
dir=${1:-var/tls}
shift || true
nodes=("$@")
[ ${#nodes[@]} -gt 0 ] || nodes=(n1 n2 n3)
days=${DYNA_TLS_DAYS:-30}
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.crt" ]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -days "$days" \
    -subj "/O=Dyna local/CN=Dyna local CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
fi
# sign NAME SAN EKU: NAME.key and NAME.crt signed by the CA.
sign() {
  local name=$1 san=$2 eku=$3 ext
  [ -f "$dir/$name.crt" ] && return 0
  ext=$(mktemp)
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$eku" >"$ext"
  [ -n "$san" ] && printf 'subjectAltName=%s\n' "$san" >>"$ext"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -subj "/O=Dyna local/CN=$name" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -sha256 -days "$days" -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$ext"
}
names=()
for spec in "${nodes[@]}"; do
  name=${spec%@*}
  names+=("$name.crt")
  ip=127.0.0.1
  [ "$spec" != "$name" ] && ip=${spec#*@}
  sign "$name" "DNS:$name,IP:$ip" serverAuth,clientAuth
done
sign client "" clientAuth
chmod 644 "$dir"/*.crt
echo "$dir: ca.crt, ${names[*]}, client.crt (and their keys)"
