#!/usr/bin/env bash
# Encrypted upstreams, side by side in one run (results in docs/performance.md):
# safegated forwarding every question (its cache off) to the same local unbound over plain UDP,
# over DNS over TLS (one pipelined connection) and over DNS over HTTPS (HTTP/2 streams), with
# unbound answering every name from local data (no recursion, so the transport is what differs).
# safegated is pinned to CPU 0, unbound and dnsperf to CPU 1.
#
#   bench/encrypted_upstreams.sh [BUILD_DIR]       (default build/release)
# Environment: DURATION (10 s per max-qps run), RATE (2000 qps for the latency run),
# LATENCY_DURATION (10 s).
#
# Reported per transport: max qps (dnsperf unlimited, 100 outstanding), p50/p99 latency at RATE
# (dnsperf -v per-answer latencies), lost queries, safegated's RSS, and the transport's
# connections / resumed TLS sessions from `safegatectl status`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
duration="${DURATION:-10}"
rate="${RATE:-2000}"
lat_duration="${LATENCY_DURATION:-10}"
safegated="$build/daemon/safegated"
safegatectl="$build/ui-helper/safegatectl"
for b in "$safegated" "$safegatectl" "$(command -v unbound)" "$(command -v dnsperf)"; do
  [ -x "$b" ] || { echo "missing $b (build safegated safegatectl; install unbound dnsperf)" >&2; exit 1; }
done
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. "$root/bench/lib.sh"
. "$root/tests/support/checks.sh"  # free_tcp_port

bash "$root/tests/support/make_test_pki.sh" "$work/pki"
udp_port="$(free_port)"
tls_port="$(free_tcp_port)"
https_port="$(free_tcp_port)"
cat >"$work/unbound.conf" <<EOF
server:
  username: ""
  chroot: ""
  directory: "$work"
  pidfile: ""
  use-syslog: no
  logfile: "$work/unbound.log"
  verbosity: 1
  do-daemonize: no
  num-threads: 1
  interface: 127.0.0.1@$udp_port
  interface: 127.0.0.1@$tls_port
  interface: 127.0.0.1@$https_port
  tls-port: $tls_port
  https-port: $https_port
  tls-service-key: "$work/pki/server.key"
  tls-service-pem: "$work/pki/server.pem"
  http-endpoint: "/dns-query"
  http-max-streams: 200
  incoming-num-tcp: 100
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "bench.test." redirect
  local-data: "bench.test. 300 IN A 192.0.2.1"
remote-control:
  control-enable: no
EOF
taskset -c 1 unbound -d -c "$work/unbound.conf" >"$work/unbound.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q "start of service" "$work/unbound.log" 2>/dev/null && break; sleep 0.05; done

for i in $(seq 1 100000); do echo "q$i.bench.test A"; done >"$work/queries.txt"
echo "bench" >"$work/empty-list.txt"

run() {  # label upstream
  local label=$1 upstream=$2 port
  port="$(free_port)"
  mkdir -p "$work/$label"
  # The load benches' config (bench/lib.sh), with this upstream and no cache.
  bench_config "$work/$label" "$port" 0 "$work/empty-list.txt" |
    sed -e "s|^upstreams = .*|upstreams = [\"$upstream\"]\nupstream_ca_file = \"$work/pki/ca.pem\"|" \
        -e 's|^cache_entries = .*|cache_entries = 0  # every question crosses the upstream transport|' \
        >"$work/$label/safegate.toml"
  taskset -c 0 "$safegated" --config "$work/$label/safegate.toml" >"$work/$label/out" 2>"$work/$label/err" &
  local pid=$!
  pids+=($pid)
  for _ in $(seq 200); do grep -q "safegated: ready" "$work/$label/out" 2>/dev/null && break; sleep 0.05; done
  # warm-up: opens the connection, fills nothing (the cache is off)
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l 2 -q 100 >/dev/null 2>&1 || true
  local out qps lost
  out="$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$duration" -q 100 2>&1)"
  qps="$(awk '/Queries per second/ { print $4 }' <<<"$out")"
  lost="$(awk '/Queries lost/ { print $3 }' <<<"$out")"
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$lat_duration" \
    -Q "$rate" -q 1000 -v >"$work/latency.txt" 2>/dev/null || true
  read -r p50 p99 nlat <<<"$(dnsperf_percentiles "$work/latency.txt")"
  local rss; rss="$(awk '/VmRSS/ { print $2 }' /proc/"$pid"/status)"
  local conn="-" resumed="-"
  if [ "$label" != plain ]; then
    read -r conn resumed <<<"$("$safegatectl" status --socket "$work/$label/control.sock" --json |
      python3 -c "import json,sys; e=json.load(sys.stdin)['encrypted_upstreams'][0]; print(e['connections'], e['resumed'])")"
  fi
  printf '%-6s qps=%-9s lost=%-8s p50_ms=%-7s p99_ms=%-7s (at %s qps, %s answers) rss_mb=%-5s connections=%s resumed=%s\n' \
    "$label" "$qps" "$lost" "$p50" "$p99" "$rate" "$nlat" "$((rss / 1024))" "$conn" "$resumed"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "== $(nproc) CPUs; safegated on CPU 0, unbound + dnsperf on CPU 1; cache off; ${duration}s max-qps runs"
run plain "127.0.0.1:$udp_port"
run tls "tls://127.0.0.1:$tls_port#localhost"
run https "https://127.0.0.1:$https_port/dns-query#localhost"
