#!/bin/bash
# Encrypted upstreams end to end: the real safegated binary forwards over DNS over TLS (RFC 7858)
# and DNS over HTTPS (RFC 8484) to a real unbound on loopback that listens for TLS and HTTPS
# only (so an answer can only have come over the encrypted transport), with a throw-away PKI
# (tests/support/make_test_pki.sh). Clients are real `dig` (UDP and TCP) and `dnsperf`.
#
# Checks: answers over DoT and DoH for UDP and TCP clients; policy still blocks; a burst of
# distinct questions shares one connection (pipelining / HTTP/2 streams); an answer too big for
# the UDP path sends the client to TCP, which gets it whole; the upstream restarting costs no
# answer; a certificate for another name or from an unknown CA is refused (SERVFAIL, a log line
# saying why, nothing asked in plain text); failover from a dead DoT upstream to DoH.
# Environment: SAFEGATED, SAFEGATECTL, SAFEGATE_SOURCE_DIR.
set -euo pipefail

SRC="${SAFEGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
SAFEGATED="${SAFEGATED:?set SAFEGATED to the safegated binary}"
SAFEGATECTL="${SAFEGATECTL:?set SAFEGATECTL to the safegatectl binary}"
source "$SRC/tests/support/checks.sh"

WORK="$(mktemp -d /tmp/safegate-encrypted.XXXXXX)"
UNBOUND_PID=""
SG_PID=""
cleanup() {
  set +e
  [ -n "$SG_PID" ] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null
  [ -n "$UNBOUND_PID" ] && kill "$UNBOUND_PID" 2>/dev/null && wait "$UNBOUND_PID" 2>/dev/null
  if [ "$FAILURES" -ne 0 ]; then
    for f in "$WORK"/*.log; do echo "---- $f"; tail -20 "$f"; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

bash "$SRC/tests/support/make_test_pki.sh" "$WORK/pki"
TLS_PORT="$(free_tcp_port)"
HTTPS_PORT="$(free_tcp_port)"
DEAD_PORT="$(free_tcp_port)"  # nothing listens here

# ---- unbound: DoT and DoH only, answering example.test from local data --------------------
big_txt=""
for i in $(seq 1 24); do
  big_txt+="  local-data: 'big.example.test. 300 IN TXT \"$(printf 'record-%02d-%0230d' "$i" 0)\"'"$'\n'
done
cat >"$WORK/unbound.conf" <<EOF
server:
  username: ""
  chroot: ""
  directory: "$WORK"
  pidfile: ""
  use-syslog: no
  logfile: "$WORK/unbound.log"
  verbosity: 1
  do-daemonize: no
  interface: 127.0.0.1@$TLS_PORT
  interface: 127.0.0.1@$HTTPS_PORT
  tls-port: $TLS_PORT
  https-port: $HTTPS_PORT
  tls-service-key: "$WORK/pki/server.key"
  tls-service-pem: "$WORK/pki/server.pem"
  http-endpoint: "/dns-query"
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "example.test." redirect
  local-data: "example.test. 300 IN A 192.0.2.10"
  local-zone: "big.example.test." static
$big_txt
remote-control:
  control-enable: no
EOF
start_unbound() {
  : >"$WORK/unbound.log"
  unbound -d -c "$WORK/unbound.conf" >>"$WORK/unbound-stderr.log" 2>&1 &
  UNBOUND_PID=$!
  # Its readiness signal: the "start of service" line in its log.
  wait_for 10 grep -q "start of service" "$WORK/unbound.log"
}
start_unbound || { echo "FAIL: unbound did not start"; cat "$WORK/unbound.log"; exit 1; }
check "unbound answers DoT itself" "192.0.2.10" \
  "$(dig +tls +tls-ca="$WORK/pki/ca.pem" +tls-hostname=localhost @127.0.0.1 -p "$TLS_PORT" www.example.test +short)"

# ---- safegated ------------------------------------------------------------------------------
echo "blocked.example.test" >"$WORK/blocked.txt"
# write_config UPSTREAMS CA_FILE
write_config() {
  cat >"$WORK/safegate.toml" <<EOF
[daemon]
state_dir = "$WORK/state"
[dns]
listen = ["127.0.0.1:0"]
upstreams = [$1]
upstream_ca_file = "$2"
upstream_timeout_ms = 2000
cache_entries = 0  # every question goes upstream
rate_limit_qps = 0
[control]
socket = "control.sock"
[policy]
default_group = "everyone"
[[lists]]
name = "test"
category = "gambling"
format = "domains"
sources = ["$WORK/blocked.txt"]
[[groups]]
name = "everyone"
profile = "staff"
default = "allow"
[groups.categories]
gambling = "block"
EOF
}
PORT=""
# start_safegated LOG: starts it on the current config; PORT is its DNS port.
start_safegated() {
  LOG="$1"
  mkfifo "$WORK/ready.fifo"
  "$SAFEGATED" --config "$WORK/safegate.toml" >"$WORK/ready.fifo" 2>"$WORK/$1" &
  SG_PID=$!
  PORT="$(read_ready_port "$WORK/ready.fifo" "safegated: ready dns=127.0.0.1:")"
  rm -f "$WORK/ready.fifo"
  [ -n "$PORT" ]
}
LOG=""
stop_safegated() {
  kill "$SG_PID"; wait "$SG_PID" 2>/dev/null || true; SG_PID=""
  # Under the asan and tsan presets a sanitizer report in its log is a failure of this test.
  check "$LOG: no sanitizer report" "0" "$(grep -c 'Sanitizer' "$WORK/$LOG" || true)"
}
q() {  # q NAME [dig options...]: the answer's first line, or the status when there is none
  local name="$1"; shift
  local out
  out="$(dig @127.0.0.1 -p "$PORT" +tries=1 +timeout=5 "$@" "$name")"
  local answer
  answer="$(dig_short "$out")"
  if [ -n "$answer" ]; then echo "$answer"; else sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out"; fi
}
dig_short() { awk '/^;; ANSWER SECTION:/ {a=1; next} a && NF == 0 {exit} a {print $NF; exit}' <<<"$1"; }
status_field() {  # status_field KEY: encrypted_upstreams[0].KEY from `safegatectl status --json`
  "$SAFEGATECTL" status --socket "$WORK/state/control.sock" --json |
    python3 -c "import json,sys; print(json.load(sys.stdin)['encrypted_upstreams'][0]['$1'])"
}
burst() {  # burst COUNT: that many distinct questions at once; prints how many got NOERROR
  for i in $(seq 1 "$1"); do echo "n$i.example.test A"; done >"$WORK/burst.txt"
  dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/burst.txt" -n 1 -q 200 -t 5 >"$WORK/dnsperf.out" 2>&1 || true
  sed -n 's/.*NOERROR \([0-9]*\) .*/\1/p' "$WORK/dnsperf.out"
}

for transport in tls https; do
  if [ "$transport" = tls ]; then
    up="\"tls://127.0.0.1:$TLS_PORT#localhost\""
  else
    up="\"https://127.0.0.1:$HTTPS_PORT/dns-query#localhost\""
  fi
  write_config "$up" "$WORK/pki/ca.pem"
  start_safegated "safegated-$transport.log" || { check "$transport: safegated ready" yes no; finish ""; }
  check "$transport: UDP client answered" "192.0.2.10" "$(q www.example.test)"
  check "$transport: TCP client answered" "192.0.2.10" "$(q www.example.test +tcp)"
  check "$transport: policy still blocks" "NXDOMAIN" "$(q blocked.example.test)"
  check "$transport: 400 distinct questions at once all answered" "400" "$(burst 400)"
  # DoT pipelines all of them on one connection. DoH multiplexes them as HTTP/2 streams; past
  # the server's concurrent-stream limit (unbound's http-max-streams, 100) curl may open one
  # more connection (CURLMOPT_MAX_HOST_CONNECTIONS 2), never one per question.
  connections="$(status_field connections)"
  if [ "$transport" = https ] && [ "$connections" = 2 ]; then connections=1; fi
  check "$transport: ... over one connection (DoH: at most two)" "1" "$connections"
  check "$transport: no failures" "0" "$(status_field failures)"
  # 24 TXT records of 240 bytes: more than the UDP path carries (4 KB), so the UDP client is
  # told to retry over TCP, where the whole answer arrives.
  check "$transport: big answer truncated for UDP" "yes" \
    "$(dig @127.0.0.1 -p "$PORT" +ignore +bufsize=4096 big.example.test TXT | grep -q 'flags:.* tc' && echo yes || echo no)"
  check "$transport: big answer whole over TCP" "24" \
    "$(dig @127.0.0.1 -p "$PORT" +tcp +short big.example.test TXT | wc -l)"
  if [ "$transport" = tls ]; then
    # The upstream restarts: its connection is gone; the next question opens a new one.
    kill "$UNBOUND_PID"; wait "$UNBOUND_PID" 2>/dev/null || true
    start_unbound || { echo "FAIL: unbound did not restart"; exit 1; }
    check "tls: answered after the upstream restarted" "192.0.2.10" "$(q again.example.test)"
    check "tls: a second connection was opened" "2" "$(status_field connections)"
  fi
  stop_safegated
done

# ---- refusals: wrong name, unknown CA; nothing is asked in plain text -----------------------
write_config "\"tls://127.0.0.1:$TLS_PORT#wrong.invalid\"" "$WORK/pki/ca.pem"
start_safegated safegated-wrongname.log
check "tls: certificate for another name refused" "SERVFAIL" "$(q www.example.test)"
check "tls: the log says why" "yes" \
  "$(grep -q 'certificate verification failed: hostname mismatch' "$WORK/safegated-wrongname.log" && echo yes || echo no)"
stop_safegated

write_config "\"https://127.0.0.1:$HTTPS_PORT/dns-query#wrong.invalid\"" "$WORK/pki/ca.pem"
start_safegated safegated-doh-wrongname.log
check "https: certificate for another name refused" "SERVFAIL" "$(q www.example.test)"
stop_safegated

write_config "\"tls://127.0.0.1:$TLS_PORT#localhost\", \"https://127.0.0.1:$HTTPS_PORT#localhost\"" \
  "$WORK/pki/other-ca.pem"
start_safegated safegated-otherca.log
check "tls+https: certificate from an unknown CA refused" "SERVFAIL" "$(q www.example.test)"
check "tls: the log names the chain problem" "yes" \
  "$(grep -q 'certificate verification failed: unable to get local issuer certificate' "$WORK/safegated-otherca.log" && echo yes || echo no)"
stop_safegated

# ---- failover: a dead DoT upstream first, a working DoH one second --------------------------
write_config "\"tls://127.0.0.1:$DEAD_PORT#localhost\", \"https://127.0.0.1:$HTTPS_PORT#localhost\"" \
  "$WORK/pki/ca.pem"
start_safegated safegated-failover.log
check "failover: dead DoT upstream, answer over DoH" "192.0.2.10" "$(q www.example.test)"
check "failover: over TCP too" "192.0.2.10" "$(q www2.example.test +tcp)"
stop_safegated

# ---- a bad upstream entry stops the start with a clear message ------------------------------
write_config "\"tls://dns.quad9.net\"" ""
msg="$("$SAFEGATECTL" check-config "$WORK/safegate.toml" 2>&1 || true)"
check "check-config: a host name as the address is refused" "yes" \
  "$(grep -q 'is not an IP address' <<<"$msg" && echo yes || echo no)"

finish "encrypted upstreams: all checks passed"
