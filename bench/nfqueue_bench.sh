#!/bin/bash
# nfqueue_bench.sh — packets per second through NFQUEUE with verdicts, in network namespaces
# this script creates and removes (client -> gateway -> server), in one run:
#
#   1. DNS query flood (UDP 53, every packet a new flow, rules in inline-DNS mode) and
#      2. TLS ClientHello flood (TCP 443, every packet a new flow carrying a whole hello):
#      safegated (inline mode, the shipped rules) versus bench/nfq_accept_all (a bare loop that
#      accepts everything, the kernel's NFQUEUE limit here), same rules, same generator.
#      The generator is pinned to CPU 0 and the queue reader to CPU 1, so the reader's own
#      per-packet cost is what limits the rate (forwarding runs in softirq on both).
#      Throughput = packets that reached the server per second (queues are fail-closed for
#      the measurement, so an overflowing queue drops instead of letting packets bypass).
#      On a 2-CPU machine one generator core rarely outruns a reader, so the script also
#      reports each reader's CPU time per packet (user + system, verdict syscalls and the
#      re-injection they trigger included) and the one-core capacity it implies (1e6 / that):
#      the comparison that holds even when both readers keep up with the offered load.
#   3. The offload's effect on a bulk HTTP download: no rules at all; safegated inline with
#      the connection-mark offload; every packet through user space (nfq_accept_all, no offload).
#
# Usage (root):  bench/nfqueue_bench.sh [BUILD_DIR] [SECONDS]
#   BUILD_DIR defaults to build/release; needs safegated, nfq_accept_all, packet_flood there.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$SRC/build/release}"
SECS="${2:-5}"
SAFEGATED="$BUILD/daemon/safegated"
ACCEPT_ALL="$BUILD/bench/nfq_accept_all"
FLOOD="$BUILD/bench/packet_flood"
FIREWALL="$SRC/packaging/firewall/safegate-firewall.sh"
for b in "$SAFEGATED" "$ACCEPT_ALL" "$FLOOD"; do
  [ -x "$b" ] || { echo "missing $b (build safegated nfq_accept_all packet_flood)"; exit 1; }
done

ID=$$; C="sbc$ID"; G="sbg$ID"; S="sbs$ID"
WORK="$(mktemp -d /tmp/safegate-bench.XXXXXX)"
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for ns in "$C" "$G" "$S"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$C"; ip netns add "$G"; ip netns add "$S"
ip link add c0 netns "$C" type veth peer name g0 netns "$G"
ip link add s0 netns "$S" type veth peer name g1 netns "$G"
ip -n "$C" addr add 10.78.1.2/24 dev c0
ip -n "$G" addr add 10.78.1.1/24 dev g0
ip -n "$G" addr add 10.78.2.1/24 dev g1
ip -n "$S" addr add 10.78.2.2/24 dev s0
for ns in "$C" "$G" "$S"; do ip -n "$ns" link set lo up; done
ip -n "$C" link set c0 up; ip -n "$G" link set g0 up; ip -n "$G" link set g1 up
ip -n "$S" link set s0 up
ip -n "$C" route add default via 10.78.1.1
ip -n "$S" route add default via 10.78.2.1
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=1
# The server counts (and drops) what arrives, so no replies load the gateway.
ip netns exec "$S" iptables-legacy -A INPUT -p udp --dport 53 -j DROP
ip netns exec "$S" iptables-legacy -A INPUT -p tcp --dport 443 -j DROP

delivered() {  # packets the server's INPUT rules counted so far
  ip netns exec "$S" iptables-legacy -L INPUT -v -x -n | awk '/DROP/ {s += $1} END {print s + 0}'
}

cat >"$WORK/safegate.toml" <<TOML
[daemon]
state_dir = "$WORK/state"
[dns]
listen = ["127.0.0.1:5353"]
upstreams = ["10.78.2.2:53"]
workers = 1
[inline]
enabled = true
queues = [0]
fail_open = false
[policy]
default_group = "everyone"
[[lists]]
name = "blocked"
category = "gambling"
sources = ["$WORK/blocked.txt"]
[[groups]]
name = "everyone"
profile = "open"
categories = { gambling = "block" }
TOML
printf 'casino.example\nbet.example\n' >"$WORK/blocked.txt"

start_safegated() {
  ip netns exec "$G" taskset -c 1 "$SAFEGATED" --config "$WORK/safegate.toml" >"$WORK/sg.log" 2>&1 &
  SG=$!; READER=$SG  # ip netns exec and taskset exec the program: same pid
  for _ in $(seq 100); do grep -q "ready" "$WORK/sg.log" && return 0; sleep 0.1; done
  echo "safegated did not start:"; cat "$WORK/sg.log"; exit 1
}
start_accept_all() {
  rm -f "$WORK/aa.ready"
  ip netns exec "$G" taskset -c 1 "$ACCEPT_ALL" --queue 0 --ready-file "$WORK/aa.ready" >"$WORK/aa.log" 2>&1 &
  SG=$!; READER=$SG
  for _ in $(seq 100); do [ -f "$WORK/aa.ready" ] && return 0; sleep 0.1; done
  echo "nfq_accept_all did not start"; exit 1
}
stop_it() { kill "$SG"; wait "$SG" 2>/dev/null || true; }

cpu_ticks() {  # user + system clock ticks of a process (its threads included)
  awk '{print $14 + $15}' "/proc/$1/stat"
}

flood() {  # flood MODE -> prints "<delivered pps> <sent pps> <reader CPU us per packet>"
  local before after sent t0 t1
  before=$(delivered)
  t0=$(cpu_ticks "$READER")
  sent=$(ip netns exec "$C" taskset -c 0 "$FLOOD" --mode "$1" --src 10.78.1.2 --dst 10.78.2.2 --seconds "$SECS" |
    sed -n 's/sent=//p')
  sleep 0.5
  after=$(delivered)
  t1=$(cpu_ticks "$READER")
  local hz; hz=$(getconf CLK_TCK)
  local us_per_packet
  us_per_packet=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$((after - before))" \
    'BEGIN {if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "n/a"}')
  echo "$(( (after - before) / SECS )) $(( sent / SECS )) $us_per_packet"
}

ip netns exec "$G" env SAFEGATE_LAN_IF=g0 SAFEGATE_DNS_MODE=inline SAFEGATE_QUEUES=0 \
  "$FIREWALL" apply
# Fail-closed measurement: the shipped rules use --queue-bypass; without a listener the kernel
# would let packets through, so the rules are re-applied with every source fail-closed.
ip netns exec "$G" env SAFEGATE_LAN_IF=g0 SAFEGATE_DNS_MODE=inline SAFEGATE_QUEUES=0 \
  SAFEGATE_FAIL_CLOSED_SOURCES="0.0.0.0/0" "$FIREWALL" apply

echo "# nfqueue_bench: $(date -u +%FT%TZ), $(nproc) CPUs, ${SECS}s per run, build $BUILD"
printf '%-6s %-15s %13s %13s %12s %14s\n' mode program delivered_pps offered_pps \
  cpu_us/packet capacity_pps
for mode in dns tls; do
  start_accept_all
  read -r aa_pps aa_sent aa_us < <(flood "$mode")
  stop_it
  aa_cap=$(awk -v u="$aa_us" 'BEGIN {if (u > 0) printf "%.0f", 1e6 / u; else print 0}')
  printf '%-6s %-15s %13s %13s %12s %14s\n' "$mode" nfq_accept_all "$aa_pps" "$aa_sent" "$aa_us" "$aa_cap"
  start_safegated
  read -r sg_pps sg_sent sg_us < <(flood "$mode")
  stop_it
  sg_cap=$(awk -v u="$sg_us" 'BEGIN {if (u > 0) printf "%.0f", 1e6 / u; else print 0}')
  printf '%-6s %-15s %13s %13s %12s %14s\n' "$mode" safegated "$sg_pps" "$sg_sent" "$sg_us" "$sg_cap"
  if [ "$aa_cap" -gt 0 ]; then
    echo "$mode: safegated capacity = $(( 100 * sg_cap / aa_cap ))% of the bare accept-all loop" \
      "(delivered: $(( 100 * sg_pps / (aa_pps > 0 ? aa_pps : 1) ))%)"
  fi
done
ip netns exec "$G" "$FIREWALL" remove

# ---- bulk download: offload ----
truncate -s 300M "$WORK/bulk.bin"
(cd "$WORK" && exec ip netns exec "$S" python3 -m http.server 80 --bind 10.78.2.2 \
  >"$WORK/http.log" 2>&1) &
PIDS+=($!)
for _ in $(seq 50); do ip netns exec "$C" curl -s -o /dev/null http://10.78.2.2/ && break; sleep 0.1; done
download() {  # best of three downloads, MB/s
  for _ in 1 2 3; do
    ip netns exec "$C" curl -s -o /dev/null -w '%{speed_download}\n' http://10.78.2.2/bulk.bin
  done | awk '$1 > m {m = $1} END {printf "%.0f", m / 1e6}'
}
echo
printf '%-44s %10s\n' "bulk download (300 MB over HTTP)" "MB/s"
printf '%-44s %10s\n' "no rules" "$(download)"
ip netns exec "$G" env SAFEGATE_LAN_IF=g0 SAFEGATE_QUEUES=0 "$FIREWALL" apply
start_safegated
printf '%-44s %10s\n' "safegated inline, connmark offload" "$(download)"
stop_it
ip netns exec "$G" "$FIREWALL" remove
ip netns exec "$G" iptables-legacy -t mangle -A FORWARD -j NFQUEUE --queue-num 0
start_accept_all
printf '%-44s %10s\n' "every packet through user space (no offload)" "$(download)"
stop_it
