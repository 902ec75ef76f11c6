#!/bin/bash
# Device names from reverse DNS, end to end, in two network namespaces this test creates and
# removes itself:
#
#   client (10.78.1.2, 10.78.1.3)  --veth--  gateway (10.78.1.1): safegated + sg_dns_responder
#
# The responder plays the school's LAN DNS server: 10.78.1.2 has the PTR name
# "sams-tablet.school.lan", 10.78.1.3 has none. safegated (devices.reverse_lookup_server) asks
# it for the clients in the gateway's neighbour table. A blocked query from 10.78.1.2 must be
# recorded under "sams-tablet"; one from 10.78.1.3 under a pseudonym.
# Needs root. Environment: SAFEGATED, SAFEGATECTL, SG_DNS_RESPONDER, SAFEGATE_SOURCE_DIR.
set -euo pipefail

SRC="${SAFEGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
SAFEGATED="${SAFEGATED:?set SAFEGATED}"
SAFEGATECTL="${SAFEGATECTL:?set SAFEGATECTL}"
SG_DNS_RESPONDER="${SG_DNS_RESPONDER:?set SG_DNS_RESPONDER}"
source "$SRC/tests/support/checks.sh"

[ "$(id -u)" = 0 ] || { echo "FAIL: must run as root (CI runs as root)"; exit 1; }
ID="$$"
C="sgrc$ID"; G="sgrg$ID"
WORK="$(mktemp -d /tmp/safegate-revnames.XXXXXX)"
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$C" 2>/dev/null
  ip netns del "$G" 2>/dev/null
  if [ "$FAILURES" -ne 0 ]; then
    for f in "$WORK"/*.log; do echo "---- $f"; tail -20 "$f"; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$C"
ip netns add "$G"
ip -n "$G" link set lo up
ip -n "$C" link set lo up
ip link add "vc$ID" netns "$C" type veth peer name "vg$ID" netns "$G"
ip -n "$C" addr add 10.78.1.2/24 dev "vc$ID"
ip -n "$C" addr add 10.78.1.3/24 dev "vc$ID"
ip -n "$G" addr add 10.78.1.1/24 dev "vg$ID"
ip -n "$C" link set "vc$ID" up
ip -n "$G" link set "vg$ID" up

# The LAN DNS server (and upstream), on the gateway's loopback.
cat >"$WORK/zone.txt" <<EOF
2.1.78.10.in-addr.arpa PTR sams-tablet.school.lan 3600
allowed.test A 192.0.2.10
casino.test A 192.0.2.66
EOF
mkfifo "$WORK/responder.fifo"
ip netns exec "$G" "$SG_DNS_RESPONDER" --address 127.0.0.1 --port 0 --zone "$WORK/zone.txt" \
  >"$WORK/responder.fifo" 2>"$WORK/responder.log" &
PIDS+=($!)
RESP_PORT="$(read_ready_port "$WORK/responder.fifo" "responder: ready port=")"
[ -n "$RESP_PORT" ] || { check "responder ready" yes no; finish ""; }

echo "casino.test" >"$WORK/gambling.txt"
cat >"$WORK/safegate.toml" <<EOF
[daemon]
state_dir = "$WORK/state"
[dns]
listen = ["10.78.1.1:0"]
upstreams = ["127.0.0.1:$RESP_PORT"]
allow_from = ["10.78.1.0/24", "127.0.0.1"]
[control]
socket = "control.sock"
[devices]
reverse_lookup_server = "127.0.0.1:$RESP_PORT"
refresh_seconds = 1
[policy]
default_group = "everyone"
[[lists]]
name = "gambling"
category = "gambling"
format = "domains"
sources = ["$WORK/gambling.txt"]
[[groups]]
name = "everyone"
profile = "staff"
default = "allow"
[groups.categories]
gambling = "block"
EOF
mkfifo "$WORK/ready.fifo"
ip netns exec "$G" "$SAFEGATED" --config "$WORK/safegate.toml" >"$WORK/ready.fifo" \
  2>"$WORK/safegated.log" &
PIDS+=($!)
PORT="$(read_ready_port "$WORK/ready.fifo" "safegated: ready dns=10.78.1.1:")"
[ -n "$PORT" ] || { check "safegated ready" yes no; finish ""; }

ask() {  # ask SOURCE NAME: dig from the client namespace with that source address
  ip netns exec "$C" dig -b "$1" @10.78.1.1 -p "$PORT" +tries=1 +timeout=3 "$2" +short
}
status_json() {
  ip netns exec "$G" "$SAFEGATECTL" status --socket "$WORK/state/control.sock" --json
}
reverse_count() {
  status_json | python3 -c "import json,sys; print(json.load(sys.stdin).get('device_names', {}).get('reverse_dns', 0))"
}

# Both client addresses talk to the gateway, so its neighbour table has them.
check "allowed name answered for 10.78.1.2" "192.0.2.10" "$(ask 10.78.1.2 allowed.test)"
check "allowed name answered for 10.78.1.3" "192.0.2.10" "$(ask 10.78.1.3 allowed.test)"
# The names are looked up every refresh_seconds (1 s); status says when one is known.
deadline=$((SECONDS + 15))
until [ "$(reverse_count)" = 1 ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
check "one device named from reverse DNS" "1" "$(reverse_count)"

ask 10.78.1.2 casino.test >/dev/null
ask 10.78.1.3 casino.test >/dev/null
db="$WORK/state/incidents.sqlite"
deadline=$((SECONDS + 10))
until [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM incidents" 2>/dev/null || echo 0)" -ge 2 ] ||
      [ $SECONDS -ge $deadline ]; do sleep 0.2; done
check "the blocked query of 10.78.1.2 is Sam's tablet's" "1" \
  "$(sqlite3 "$db" "SELECT COUNT(*) FROM incidents WHERE client='sams-tablet'")"
check "10.78.1.3 has no PTR: a pseudonym" "1" \
  "$(sqlite3 "$db" "SELECT COUNT(*) FROM incidents WHERE client LIKE 'c-%'")"
check "no sanitizer report" "0" "$(grep -c 'Sanitizer' "$WORK/safegated.log" || true)"

finish "reverse names: all checks passed"
