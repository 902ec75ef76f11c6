#!/usr/bin/env bash
# Makes a throw-away PKI for TLS tests with the openssl CLI:
#   DIR/ca.pem, ca.key          a test CA
#   DIR/server.pem, server.key  signed by it, for 127.0.0.1, ::1 and localhost
#   DIR/wrong.pem, wrong.key    signed by it, for wrong.invalid only (host-name mismatch)
#   DIR/other-ca.pem            an unrelated CA (an untrusted chain)
#   DIR/server.pin              the server key's "sha256//BASE64" pin (curl's pinned public key)
# Usage: make_test_pki.sh DIR
set -euo pipefail
dir="$1"
mkdir -p "$dir"
cd "$dir"
days=2
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
  -subj "/CN=safegate test CA" -keyout ca.key -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign"
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
  -subj "/CN=unrelated test CA" -keyout other-ca.key -out other-ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign"
leaf() {  # leaf NAME SUBJECT_ALT_NAMES
  q openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2" > "$1.ext"
  q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1.pem"
}
leaf server "IP:127.0.0.1,IP:::1,DNS:localhost"
leaf wrong "DNS:wrong.invalid"
printf 'sha256//%s\n' "$(openssl pkey -in server.key -pubout -outform der 2>/dev/null |
  openssl dgst -sha256 -binary | base64)" > server.pin
