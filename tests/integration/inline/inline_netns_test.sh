#!/bin/bash
# Inline mode end to end, in three network namespaces this test creates and removes itself:
#
#   client (10.77.1.2 "kids", 10.77.1.3 "strict", fd77:1::2)
#     | veth
#   gateway (safegated --config ..., packaging/firewall/safegate-firewall.sh apply)
#     | veth
#   server (10.77.2.2, fd77:2::2): unbound (DNS), python3 -m http.server (80), nghttpd (h2c, 8080),
#          openssl s_server (443, 853), a UDP sink on 443 standing in for a QUIC server
#
# From the client: dig to a hard-coded resolver, curl over HTTP and HTTPS to allowed and
# blocked names, TLS without SNI, a ClientHello in many small segments, DoT on 853, crafted
# QUIC v1/v2 Initials; then inline DNS (rules in "inline" DNS mode, no redirect). Each must
# get the policy's outcome, and incidents must be in the SQLite database.
#
# Needs root, iptables-legacy and NFQUEUE. Exits 77 (ctest SKIP) only when the kernel cannot
# queue packets to user space, and says so. Environment: SAFEGATED, NFQ_PROBE (nfq_accept_all),
# SAFEGATE_SOURCE_DIR.
set -euo pipefail

SRC="${SAFEGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
SAFEGATED="${SAFEGATED:?set SAFEGATED to the safegated binary}"
NFQ_PROBE="${NFQ_PROBE:?set NFQ_PROBE to the nfq_accept_all binary}"
CLIENT_PY="$SRC/tests/integration/inline/inline_client.py"
# Debian's interpreter has python3-cryptography (packaging/dev/install-deps.sh); fall back to
# whatever python3 is on PATH.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
FIREWALL="$SRC/packaging/firewall/safegate-firewall.sh"

ID="$$"
C="sgc$ID"; G="sgg$ID"; S="sgs$ID"
WORK="$(mktemp -d /tmp/safegate-inline.XXXXXX)"
PIDS=()
FAILURES=0

cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for ns in "$C" "$G" "$S"; do ip netns del "$ns" 2>/dev/null; done
  if [ "$FAILURES" -ne 0 ] && [ -f "$WORK/safegated.log" ]; then
    echo "---- safegated log"; tail -50 "$WORK/safegated.log"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "FAIL: must run as root (CI runs as root)"; exit 1; }

check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    echo "ok   - $1"
  else
    echo "FAIL - $1: expected [$2], got [$3]"
    FAILURES=$((FAILURES + 1))
  fi
}

wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# ---- NFQUEUE probe: can this kernel hand packets to user space? ----
ip netns add "$G"
ip -n "$G" link set lo up
if ! ip netns exec "$G" iptables-legacy -A OUTPUT -p udp --dport 9 -j NFQUEUE --queue-num 0 \
     2>"$WORK/probe.err"; then
  echo "SKIP: kernel lacks NFQUEUE / iptables-legacy NFQUEUE target: $(cat "$WORK/probe.err")"
  exit 77
fi
ip netns exec "$G" "$NFQ_PROBE" --queue 0 --ready-file "$WORK/probe.ready" >"$WORK/probe.out" 2>&1 &
PROBE=$!
if ! wait_for 5 test -f "$WORK/probe.ready"; then
  kill $PROBE 2>/dev/null || true
  echo "SKIP: kernel lacks NFQUEUE (cannot bind a queue: $(cat "$WORK/probe.out"))"
  exit 77
fi
kill $PROBE; wait $PROBE 2>/dev/null || true
ip netns exec "$G" iptables-legacy -F OUTPUT

# ---- topology ----
ip netns add "$C"; ip netns add "$S"
ip link add c0 netns "$C" type veth peer name g0 netns "$G"
ip link add s0 netns "$S" type veth peer name g1 netns "$G"
ip -n "$C" addr add 10.77.1.2/24 dev c0
ip -n "$C" addr add 10.77.1.3/24 dev c0
ip -n "$C" addr add fd77:1::2/64 dev c0 nodad
ip -n "$G" addr add 10.77.1.1/24 dev g0
ip -n "$G" addr add fd77:1::1/64 dev g0 nodad
ip -n "$G" addr add 10.77.2.1/24 dev g1
ip -n "$G" addr add fd77:2::1/64 dev g1 nodad
ip -n "$S" addr add 10.77.2.2/24 dev s0
ip -n "$S" addr add 10.77.2.53/24 dev s0   # a "DoH endpoint" named by address in a list
ip -n "$S" addr add fd77:2::2/64 dev s0 nodad
for ns in "$C" "$G" "$S"; do ip -n "$ns" link set lo up; done
ip -n "$C" link set c0 up; ip -n "$S" link set s0 up
ip -n "$G" link set g0 up; ip -n "$G" link set g1 up
ip -n "$C" route add default via 10.77.1.1
ip -n "$C" -6 route add default via fd77:1::1
ip -n "$S" route add default via 10.77.2.1
ip -n "$S" -6 route add default via fd77:2::1
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$G" sysctl -qw net.ipv6.conf.all.forwarding=1
# Loose offload: the kernel must not drop the forged packets as martians.
ip netns exec "$C" sysctl -qw net.ipv4.conf.all.rp_filter=0

# ---- servers ----
mkdir -p "$WORK/www"
echo "hello from the server" >"$WORK/www/index.html"
head -c 4000000 /dev/zero >"$WORK/www/bulk.bin"
cat >"$WORK/unbound.conf" <<UNB
server:
  interface: 10.77.2.2
  interface: fd77:2::2
  port: 53
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$WORK"
  pidfile: ""
  use-syslog: no
  logfile: ""
  access-control: 0.0.0.0/0 allow
  access-control: ::/0 allow
  local-zone: "test." static
  local-data: "allowed.test. 60 IN A 10.77.2.2"
  local-data: "allowed.test. 60 IN AAAA fd77:2::2"
  local-data: "casino.test. 60 IN A 10.77.2.2"
  local-data: "www.casino.test. 60 IN A 10.77.2.2"
  local-data: "www.google.com. 60 IN A 10.77.2.66"
  local-data: "forcesafesearch.google.com. 300 IN A 10.77.2.77"
  local-data: "forcesafesearch.google.com. 300 IN AAAA fd77:2::77"
  local-data: "strict.bing.com. 300 IN A 10.77.2.78"
  local-data: "safe.duckduckgo.com. 300 IN A 10.77.2.79"
  local-data: "restrict.youtube.com. 300 IN A 10.77.2.80"
  local-data: "restrictmoderate.youtube.com. 300 IN A 10.77.2.81"
remote-control:
  control-enable: no
UNB
ip netns exec "$S" unbound -d -c "$WORK/unbound.conf" >"$WORK/unbound.log" 2>&1 &
PIDS+=($!)
(cd "$WORK/www" && exec ip netns exec "$S" python3 -m http.server 80 --bind :: >"$WORK/http.log" 2>&1) &
PIDS+=($!)
# HTTP/2 over cleartext with prior knowledge (h2c) on 8080.
ip netns exec "$S" nghttpd --no-tls -d "$WORK/www" 8080 >"$WORK/nghttpd.log" 2>&1 &
PIDS+=($!)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=allowed.test" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
for port in 443 853; do
  ip netns exec "$S" openssl s_server -quiet -accept "$port" -cert "$WORK/cert.pem" \
    -key "$WORK/key.pem" -www >"$WORK/s_server$port.log" 2>&1 &
  PIDS+=($!)
done
ip netns exec "$S" "$PYTHON" "$CLIENT_PY" udp-sink --bind 0.0.0.0 --port 443 --log "$WORK/quic.log" &
PIDS+=($!)
wait_for 10 ip netns exec "$C" dig +time=1 +tries=1 @10.77.2.2 allowed.test || true
wait_for 10 ip netns exec "$S" curl -s --http2-prior-knowledge -o /dev/null http://10.77.2.2:8080/ || true

# ---- gateway: safegated + the shipped rules ----
# safegated starts as root and runs as nobody (daemon.user) with the capabilities inline mode
# and port 53 need; $WORK must be reachable for that user.
chmod 755 "$WORK"
mkdir -p "$WORK/state"
echo "casino.test" >"$WORK/gambling.txt"
printf 'doh.test\n10.77.2.53\n2001:db8:53::/48\n' >"$WORK/doh.txt"
cat >"$WORK/safegate.toml" <<TOML
[daemon]
state_dir = "$WORK/state"
user = "nobody"

[dns]
listen = ["10.77.1.1:5353", "[fd77:1::1]:5353", "10.77.1.1:53"]
upstreams = ["10.77.2.2:53"]
cache_entries = 0
workers = 1

[database]
batch_ms = 20

[block_page]
url = "http://10.77.1.1/blocked"

[inline]
enabled = true
queues = [0, 1]
fail_closed_queues = [2]

[policy]
default_group = "kids"

[[lists]]
name = "gambling"
category = "gambling"
sources = ["$WORK/gambling.txt"]

[[lists]]
name = "doh"
category = "circumvention"
format = "domains"
sources = ["$WORK/doh.txt"]

[[groups]]
name = "kids"
profile = "open"
categories = { gambling = "block" }
safe_search = { google = "on" }

[[groups]]
name = "strict"
profile = "open"
categories = { gambling = "block" }
quic = "drop"
unresolved_destination = "block"
encrypted_dns = "monitor"
fail = "closed"

[[clients]]
name = "tablet"
group = "strict"
addresses = ["10.77.1.3/32"]
TOML
# The xtables lock safegated shares with its group (daemon/privileges.h) is a test-local file,
# so the host's /run/xtables.lock keeps its owner.
export XTABLES_LOCKFILE="$WORK/xtables.lock"
ip netns exec "$G" "$SAFEGATED" --config "$WORK/safegate.toml" >"$WORK/safegated.log" 2>&1 &
SAFEGATED_PID=$!
PIDS+=($SAFEGATED_PID)
if ! wait_for 20 grep -q "safegated: ready" "$WORK/safegated.log"; then
  echo "FAIL: safegated did not become ready"; FAILURES=1; exit 1
fi
grep "safegated: ready" "$WORK/safegated.log"
status_field() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$SAFEGATED_PID/status"; }
check "safegated runs as nobody" "65534" "$(status_field Uid)"
# CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13); the last two ambient for
# iptables-legacy-restore.
check "safegated keeps only the capabilities it uses" "0000000000003400" "$(status_field CapEff)"
check "safegated passes CAP_NET_ADMIN and CAP_NET_RAW to iptables-restore only" \
  "0000000000003000" "$(status_field CapAmb)"
check "the xtables lock is readable by the daemon's group only" "root:nogroup 640" \
  "$(stat -c '%U:%G %a' "$XTABLES_LOCKFILE")"
check "unprivileged safegated answers on port 53" "NXDOMAIN" \
  "$(ip netns exec "$G" dig +time=2 +tries=1 @10.77.1.1 -p 53 casino.test | grep -o NXDOMAIN | head -1)"
ip netns exec "$G" env SAFEGATE_LAN_IF=g0 SAFEGATE_DNS_PORT=5353 SAFEGATE_QUEUES=0:1 SAFEGATE_FAIL_CLOSED_QUEUES=2 \
  SAFEGATE_STATE_DIR="$WORK/state" "$FIREWALL" apply

CX() { ip netns exec "$C" "$@"; }
DIG() { CX dig +time=2 +tries=1 "$@"; }
CURL() { CX curl -s -m 5 "$@"; }

# ---- DNS to a hard-coded resolver: redirected to the proxy ----
check "dig allowed.test via redirect" "10.77.2.2" "$(DIG @10.77.2.2 allowed.test +short)"
check "dig casino.test is NXDOMAIN" "NXDOMAIN" \
  "$(DIG @10.77.2.2 casino.test | sed -n 's/.*status: \([A-Z]*\).*/\1/p')"

# ---- HTTP ----
check "http allowed" "200" \
  "$(CURL -o /dev/null -w '%{http_code}' --resolve allowed.test:80:10.77.2.2 http://allowed.test/)"
check "http blocked redirects to block page" "302 http://10.77.1.1/blocked?host=casino.test" \
  "$(CURL -o /dev/null -w '%{http_code} %{redirect_url}' --resolve casino.test:80:10.77.2.2 \
      http://casino.test/slots)"
check "http over IPv6 allowed" "200" \
  "$(CURL -o /dev/null -w '%{http_code}' -g 'http://[fd77:2::2]/' -H 'Host: allowed.test')"

# ---- HTTP/2 over cleartext (prior knowledge): decided on :authority ----
check "h2c allowed" "200 2" \
  "$(CURL --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' \
      --resolve allowed.test:8080:10.77.2.2 http://allowed.test:8080/)"
set +e
CURL --http2-prior-knowledge -o /dev/null --resolve casino.test:8080:10.77.2.2 \
  http://casino.test:8080/
rc=$?
set -e
check "h2c blocked is reset (curl fails)" "fails" "$([ $rc -ne 0 ] && echo fails || echo succeeded)"

# ---- HTTPS ----
check "https allowed" "200" \
  "$(CURL -k -o /dev/null -w '%{http_code}' --resolve allowed.test:443:10.77.2.2 https://allowed.test/)"
set +e
CURL -k -o /dev/null --resolve casino.test:443:10.77.2.2 https://casino.test/
rc=$?
set -e
check "https blocked is reset (curl fails)" "fails" "$([ $rc -ne 0 ] && echo fails || echo succeeded)"
check "TLS in 7-byte segments, allowed" "REPLY" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.2 --dst 10.77.2.2 --sni allowed.test --chunk 7)"
check "TLS in 7-byte segments, blocked" "RESET" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.2 --dst 10.77.2.2 --sni www.casino.test --chunk 7)"
# Keepalive probes before the hello no longer use up a per-packet budget
# (the old inspector allowed the flow after 8 packets), and a record version above 0x0304 is
# still read as TLS (it was "unresolved", allowed).
check "blocked TLS after 9 s of keepalive probes" "RESET" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.2 --dst 10.77.2.2 --sni www.casino.test --keepalive 9)"
check "blocked TLS with record version 0x0305" "RESET" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.2 --dst 10.77.2.2 --sni www.casino.test --record-version 0x0305)"
check "TLS without SNI, kids (unresolved = allow)" "REPLY" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.2 --dst 10.77.2.2)"
check "TLS without SNI, strict (unresolved = block)" "RESET" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.3 --dst 10.77.2.2)"
# strict: allowed.test is fine only after the proxy returned the address to this client.
check "TLS to a name never resolved by the client, strict" "RESET" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.3 --dst 10.77.2.2 --sni allowed.test)"
CX dig +time=2 +tries=1 -b 10.77.1.3 @10.77.2.2 allowed.test +short >/dev/null
check "TLS after resolving through the proxy, strict" "REPLY" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.3 --dst 10.77.2.2 --sni allowed.test)"

# ---- DoT on 853 ----
check "DoT from kids is blocked" "RESET" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.2 --dst 10.77.2.2 --port 853 --sni dns.test)"
check "DoT from strict is monitored (passes)" "REPLY" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.3 --dst 10.77.2.2 --port 853 --sni dns.test)"

# ---- DoH endpoint by address (circumvention list), whatever the SNI ----
check "TLS to a listed DoH address, innocuous SNI, kids: reset" "RESET" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.2 --dst 10.77.2.53 --sni allowed.test)"
set +e
CURL -k -o /dev/null --resolve allowed.test:443:10.77.2.53 https://allowed.test/
rc=$?
set -e
check "curl https to a listed DoH address is reset" "fails" \
  "$([ $rc -ne 0 ] && echo fails || echo succeeded)"
check "TLS to a listed DoH address, strict (encrypted_dns = monitor): passes" "REPLY" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.3 --dst 10.77.2.53 --sni allowed.test)"
check "TLS to the unlisted address next to it, kids: passes" "REPLY" \
  "$(CX "$PYTHON" "$CLIENT_PY" tls --src 10.77.1.2 --dst 10.77.2.2 --sni allowed.test)"

# ---- QUIC ----
quic_received() { grep -c "^$1 " "$WORK/quic.log" || true; }
CX "$PYTHON" "$CLIENT_PY" quic --src 10.77.1.2 --dst 10.77.2.2 --sni allowed.test >/dev/null
CX "$PYTHON" "$CLIENT_PY" quic --src 10.77.1.2 --dst 10.77.2.2 --sni allowed.test --version 2 --split >/dev/null
sleep 0.3
check "QUIC v1 + v2 (split) Initials for allowed.test pass" "3" "$(quic_received 10.77.1.2)"
CX "$PYTHON" "$CLIENT_PY" quic --src 10.77.1.2 --dst 10.77.2.2 --sni casino.test >/dev/null
CX "$PYTHON" "$CLIENT_PY" quic --src 10.77.1.2 --dst 10.77.2.2 --sni casino.test --version 2 --split >/dev/null
sleep 0.3
# The split v2 connection's first datagram carries only the second half of the ClientHello:
# nothing to decide yet, so it passes (the server cannot use it); the one completing the
# hello is dropped. Hence one more datagram, not three.
check "QUIC Initials for casino.test are dropped" "4" "$(quic_received 10.77.1.2)"
CX "$PYTHON" "$CLIENT_PY" quic --src 10.77.1.3 --dst 10.77.2.2 --sni allowed.test >/dev/null
sleep 0.3
check "QUIC from the strict group is dropped (force TCP)" "0" "$(quic_received 10.77.1.3)"

# ---- offload: a bulk download goes through the kernel, not through safegated ----
chain_count() {  # packets counted by the NFQUEUE rules / by the "decided, allow" ACCEPT rule
  ip netns exec "$G" iptables-legacy -t mangle -L SAFEGATE_INLINE -v -x -n |
    awk -v what="$1" '(what == "queued" && /NFQUEUE/) {s += $1}
                      (what == "offloaded" && /ACCEPT/ && /mark match 0x1\/0x3/) {s += $1}
                      END {print s + 0}'
}
q0=$(chain_count queued); o0=$(chain_count offloaded)
CURL -o /dev/null --resolve allowed.test:80:10.77.2.2 http://allowed.test/bulk.bin
queued=$(( $(chain_count queued) - q0 )); offloaded=$(( $(chain_count offloaded) - o0 ))
echo "     4 MB download: $queued client packets queued, $offloaded passed by the connection mark"
check "offload: the download's packets bypass the queue" "yes" \
  "$([ "$queued" -le 8 ] && [ "$offloaded" -gt 50 ] && echo yes || echo no)"

# ---- inline DNS: the same rules without the redirect ----
ip netns exec "$G" env SAFEGATE_LAN_IF=g0 SAFEGATE_DNS_MODE=inline SAFEGATE_QUEUES=0:1 SAFEGATE_FAIL_CLOSED_QUEUES=2 \
  SAFEGATE_STATE_DIR="$WORK/state" "$FIREWALL" apply
check "inline DNS: allowed name answered by the real resolver" "10.77.2.2" \
  "$(DIG @10.77.2.2 allowed.test +short)"
check "inline DNS: blocked name answered for the client (NXDOMAIN)" "NXDOMAIN" \
  "$(DIG @10.77.2.2 www.casino.test | sed -n 's/.*status: \([A-Z]*\).*/\1/p')"
check "inline DNS: forged answer comes from the resolver's address" "10.77.2.2#53" \
  "$(DIG @10.77.2.2 www.casino.test | sed -n 's/.*SERVER: \([^(]*\)(.*/\1/p')"
check "inline DNS over IPv6: blocked" "NXDOMAIN" \
  "$(DIG @fd77:2::2 casino.test | sed -n 's/.*status: \([A-Z]*\).*/\1/p')"
# Safe search through a hard-coded resolver: safegate answers for the client with the CNAME and
# the target's address it resolved through its upstream (unbound would say 10.77.2.66).
ss_answer() { DIG @10.77.2.2 "$@" | awk '$1 !~ /^;/ && NF >= 5 {print $1, $4, $5}' | tr '\n' ' '; }
wait_for 5 sh -c "ip netns exec $C dig +time=1 +tries=1 @10.77.2.2 www.google.com | grep -q 10.77.2.77" || true
check "inline DNS: safe search answered with CNAME + target address (kids)" \
  "www.google.com. CNAME forcesafesearch.google.com. forcesafesearch.google.com. A 10.77.2.77 " \
  "$(ss_answer www.google.com)"
check "inline DNS: safe search AAAA (kids)" \
  "www.google.com. CNAME forcesafesearch.google.com. forcesafesearch.google.com. AAAA fd77:2::77 " \
  "$(ss_answer www.google.com AAAA)"
check "inline DNS: no safe search for the strict group (open profile)" "10.77.2.66" \
  "$(DIG -b 10.77.1.3 @10.77.2.2 www.google.com +short)"
# Over TCP the rewrite is answered on the client's connection (the server is reset).
check "inline DNS over TCP: safe search answered with CNAME + target address (kids)" \
  "www.google.com. CNAME forcesafesearch.google.com. forcesafesearch.google.com. A 10.77.2.77 " \
  "$(ss_answer +tcp www.google.com)"
check "inline DNS over TCP: no safe search for the strict group" "10.77.2.66" \
  "$(DIG +tcp -b 10.77.1.3 @10.77.2.2 www.google.com +short)"
# DNS over TCP: dig +keepopen sends its queries on one connection; the allowed ones are
# answered, the blocked third one resets the connection (unbound would answer 10.77.2.2).
tcp_out=$(DIG +tcp +keepopen @10.77.2.2 allowed.test +short allowed.test +short \
  www.casino.test +short 2>&1 || true)
check "inline DNS over TCP: the two allowed queries on the connection are answered" "2" \
  "$(grep -c '^10\.77\.2\.2$' <<<"$tcp_out" || true)"
check "inline DNS over TCP: the later blocked query gets no answer" "yes" \
  "$(grep -qi 'reset\|error\|timed out\|no servers' <<<"$tcp_out" && echo yes || echo "no: $tcp_out")"

# ---- incidents in SQLite ----
sleep 0.5
DB="$WORK/state/incidents.sqlite"
q() { sqlite3 "$DB" "$1"; }
check "incident: DNS block via proxy" "1" "$(q "select count(*)>0 from incidents where protocol='dns' and name='casino.test' and verdict='block'")"
check "incident: HTTP block" "1" "$(q "select count(*)>0 from incidents where protocol='http' and name='casino.test' and verdict='block'")"
check "incident: TLS block" "1" "$(q "select count(*)>0 from incidents where protocol='tls' and name='www.casino.test' and verdict='block'")"
check "incident: QUIC block" "1" "$(q "select count(*)>0 from incidents where protocol='quic' and name='casino.test' and verdict='block'")"
check "incident: unresolved destination" "1" "$(q "select count(*)>0 from incidents where category='unresolved-destination' and grp='strict'")"
check "incident: DoT once per client per hour" "1" "$(q "select count(*) from incidents where category='circumvention' and grp='kids' and rule like '%port 853%'")"
check "incident: DoH address once per client per hour" "1" "$(q "select count(*) from incidents where category='circumvention' and grp='kids' and rule like '%circumvention list address%'")"
check "incident: inline DNS block" "1" "$(q "select count(*)>0 from incidents where protocol='dns' and name='www.casino.test'")"

# ---- per-group fail mode while safegated is down (groups[].fail -> SAFEGATE_FAILMODE) ----
check "safegated wrote the strict group (fail = closed) into SAFEGATE_FAILMODE" \
  "-A SAFEGATE_FAILMODE -s 10.77.1.3/32 -j SAFEGATE_FAILCLOSED" \
  "$(ip netns exec "$G" iptables-legacy -t mangle -S SAFEGATE_FAILMODE | grep -- '-s 10.77.1.3/32')"
# A reload moves a client into the fail-closed group: only safegated (as nobody, through
# iptables-legacy-restore and the shared xtables lock) updates the chain now.
cat >>"$WORK/safegate.toml" <<TOML

[[clients]]
name = "laptop"
group = "strict"
addresses = ["10.77.1.4/32"]
TOML
kill -HUP "$SAFEGATED_PID"
failmode_has_laptop() {
  ip netns exec "$G" iptables-legacy -t mangle -S SAFEGATE_FAILMODE | grep -q -- '-s 10.77.1.4/32'
}
check "after a reload the unprivileged daemon loaded the new fail-closed source" "yes" \
  "$(wait_for 20 failmode_has_laptop && echo yes || echo no)"
http_from() {  # http_from SOURCE -> HTTP status of a new connection to allowed.test, or 000
  CURL -o /dev/null -w '%{http_code}' --interface "$1" --resolve allowed.test:80:10.77.2.2 \
    http://allowed.test/ || true
}
check "daemon running: strict client connects" "200" "$(http_from 10.77.1.3)"

# ---- queue full (safegated stalled): the kernel's fail-open flag, per group by queue ----
# kids' sources go to queues 0:1 (bound with NFQA_CFG_F_FAIL_OPEN), strict's to queue 2
# (without). SIGSTOP stalls the reader with the queues still bound; a SYN flood from each
# client fills its queue (max_queue_length 4096), then a new HTTP connection from each.
nfq_field() {  # nfq_field QUEUE FIELD(3=queue_total 6=queue_dropped 7=user_dropped)
  ip netns exec "$G" awk -v q="$1" -v f="$2" '$1 == q {print $f}' /proc/net/netfilter/nfnetlink_queue
}
flood() {  # flood SOURCE: 2000 TCP SYNs to the server (raw socket, nothing listens there);
  # TCP like the HTTP checks, since --queue-balance hashes the addresses and the protocol
  CX "$PYTHON" -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.bind((sys.argv[1], 0))
for i in range(2000):
    syn = struct.pack("!HHIIBBHHH", 20000 + i % 40000, 9999, i, 0, 5 << 4, 0x02, 65535, 0, 0)
    try:
        s.sendto(syn, ("10.77.2.2", 0))
    except OSError:
        pass
' "$1"
}
queue_full() {  # queue_full QUEUE: the kernel holds max_queue_length packets or dropped some
  [ "$(nfq_field "$1" 3)" -ge 4096 ] || [ "$(nfq_field "$1" 6)" -gt 0 ] ||
    [ "$(nfq_field "$1" 7)" -gt 0 ]
}
kill -STOP "$SAFEGATED_PID"
# kids' TCP to the server hashes to one queue of 0:1, the same for the flood and for curl.
for _ in $(seq 20); do flood 10.77.1.2; { queue_full 0 || queue_full 1; } && break; done
for _ in $(seq 20); do flood 10.77.1.3; queue_full 2 && break; done
echo "     stalled: queues 0, 1, 2 hold $(nfq_field 0 3), $(nfq_field 1 3), $(nfq_field 2 3)" \
  "packets; dropped on 2: $(nfq_field 2 6)+$(nfq_field 2 7)"
check "queue full: fail-open group's (kids) new connection passes uninspected" "200" \
  "$(http_from 10.77.1.2)"
check "queue full: fail-closed group's (strict) new connection is dropped" "000" \
  "$(http_from 10.77.1.3)"
check "queue full: the kernel counted drops on the fail-closed queue only" "yes" \
  "$([ $(( $(nfq_field 2 6) + $(nfq_field 2 7) )) -gt 0 ] &&
     [ $(( $(nfq_field 0 6) + $(nfq_field 1 6) )) -eq 0 ] && echo yes || echo no)"
kill -CONT "$SAFEGATED_PID"
queue2_empty() { [ "$(nfq_field 2 3)" -eq 0 ]; }
wait_for 10 queue2_empty || true
check "queue drained (SIGCONT): strict client connects again" "200" "$(http_from 10.77.1.3)"
kill "$SAFEGATED_PID"; wait "$SAFEGATED_PID" 2>/dev/null || true
check "daemon stopped: fail-open group (kids) passes uninspected" "200" "$(http_from 10.77.1.2)"
check "daemon stopped: fail-closed group (strict) cannot connect" "000" "$(http_from 10.77.1.3)"
ip netns exec "$G" "$SAFEGATED" --config "$WORK/safegate.toml" >"$WORK/safegated2.log" 2>&1 &
SAFEGATED_PID=$!
PIDS+=($SAFEGATED_PID)
wait_for 20 grep -q "safegated: ready" "$WORK/safegated2.log" || true
check "daemon restarted: strict client connects again" "200" "$(http_from 10.77.1.3)"

ip netns exec "$G" "$FIREWALL" remove
check "firewall remove leaves no SAFEGATE chain" "0" \
  "$(ip netns exec "$G" iptables-legacy-save | grep -c SAFEGATE || true)"

if [ "$FAILURES" -ne 0 ]; then
  echo "$FAILURES check(s) failed"
  exit 1
fi
echo "all inline checks passed"
