#!/usr/bin/env bash
# Side-by-side DNS proxy benchmark (results in docs/performance.md):
# safegated versus dnsdist (Debian package) with a SuffixMatchNode blocklist — once as
# configured by default (no packet cache) and once with a packet cache — in one run, with
# the same generated 1,000,000-domain blocklist (seeded), the same fast local upstream
# (sg_dns_responder: one A record for every name), the proxy pinned to CPU 0 and dnsperf +
# upstream to CPU 1. Query mix: 30 % blocked names, 70 % allowed names.
#
#   bench/dns_vs_dnsdist.sh [BUILD_DIR]      (default build/release; needs safegated and
#                                             sg_dns_responder built there)
# Environment: SEED (42), ENTRIES (1000000), DURATION (20 s per max-qps run), RATE (20000 qps
# for the latency run), LATENCY_DURATION (10 s), ONLY (bare, dnsdist or safegated: run one),
# PERF_OUT (a file: `perf record -g` of the proxy during its max-qps run).
#
# A third row, "bare-loop", is the test responder itself pinned where the proxies run: the most
# any program answers on this machine's loopback with this set-up (no upstream, no policy).
# Reported per proxy: max qps (dnsperf unlimited, 100 outstanding), p50/p99 latency at RATE
# (from dnsperf -v per-response latencies), RSS after the runs, and time-to-ready (from exec
# until the first answered query, polled every 10 ms with dig).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
seed="${SEED:-42}"
entries="${ENTRIES:-1000000}"
duration="${DURATION:-20}"
rate="${RATE:-20000}"
lat_duration="${LATENCY_DURATION:-10}"
safegated="$build/daemon/safegated"
responder="$build/tests/integration/sg_dns_responder"
for b in "$safegated" "$responder" "$(command -v dnsdist)" "$(command -v dnsperf)"; do
  [ -x "$b" ] || { echo "missing $b (build safegated sg_dns_responder; install dnsdist dnsperf)" >&2; exit 1; }
done
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

. "$root/bench/lib.sh"

echo "== generating $entries blocked names (seed $seed) and the query mix" >&2
generate_names "$seed" "$entries" "$work/blocklist.txt" "$work/blocked_sample.txt" 33
generate_queries "$seed" "$work/blocked_sample.txt" "$work/queries.txt"
echo '* A 192.0.2.1 3600' >"$work/zone.txt"

up_port="$(free_port)"
taskset -c 1 "$responder" --port "$up_port" --zone "$work/zone.txt" >"$work/responder.out" &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$work/responder.out" 2>/dev/null && break; sleep 0.05; done

wait_ready() {  # port -> prints milliseconds from $start_ns until the first answer
  local port=$1
  until dig @127.0.0.1 -p "$port" +time=1 +tries=1 +short ready.example.net >/dev/null 2>&1 &&
        [ -n "$(dig @127.0.0.1 -p "$port" +time=1 +tries=1 +short ready.example.net)" ]; do
    sleep 0.01
  done
  echo $(( ($(date +%s%N) - start_ns) / 1000000 ))
}

thread_cpu() {  # pid -> "name=ticks ..." (user+system clock ticks per thread name)
  local pid=$1 t
  for t in /proc/"$pid"/task/*; do
    awk '{ sub(/^[^)]*\) /, ""); print $12 + $13 }' "$t/stat" | paste -d= <(tr ' ' '_' <"$t/comm") -
  done | awk -F= '{ s[$1] += $2 } END { for (k in s) printf "%s=%d ", k, s[k] }'
}

measure() {  # name port pid
  local name=$1 port=$2 pid=$3
  # warm the caches with one pass over the query file
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -n 1 -q 200 >/dev/null 2>&1 || true
  local out qps
  local perf_pid=""
  if [ -n "${PERF_OUT:-}" ]; then
    perf record -g -o "$PERF_OUT.$name" -p "$pid" -- sleep "$duration" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local cpu_before; cpu_before="$(thread_cpu "$pid")"
  out="$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$duration" -q 100 2>&1)"
  local cpu_after; cpu_after="$(thread_cpu "$pid")"
  [ -n "$perf_pid" ] && wait "$perf_pid"
  qps="$(awk '/Queries per second/ { print $4 }' <<<"$out")"
  local lost; lost="$(awk '/Queries lost/ { print $3 }' <<<"$out")"
  local nx; nx="$(grep -o 'NXDOMAIN [0-9]*' <<<"$out" | awk '{print $2}' || true)"
  local lat
  # dnsperf's per-answer lines go to a file first: parsing them while it runs would put awk on
  # the proxy's CPU and into the latencies being measured.
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$lat_duration" \
    -Q "$rate" -q 1000 -v >"$work/latency.txt" 2>/dev/null || true
  lat="$(dnsperf_percentiles "$work/latency.txt")"
  local rss; rss="$(awk '/VmRSS/ { print $2 }' /proc/"$pid"/status)"
  local hwm; hwm="$(awk '/VmHWM/ { print $2 }' /proc/"$pid"/status)"
  read -r p50 p99 nlat <<<"$lat"
  echo "$name CPU ticks (1/100 s) per thread during the max-qps run: before: $cpu_before / after: $cpu_after"
  printf '%-12s qps=%-9s lost=%-6s nxdomain=%-8s p50_ms=%-7s p99_ms=%-7s (at %s qps, %s answers) rss_mb=%-7s peak_rss_mb=%-7s ready_ms=%s\n' \
    "$name" "$qps" "$lost" "$nx" "$p50" "$p99" "$rate" "$nlat" "$((rss / 1024))" "$((hwm / 1024))" "$ready_ms"
}

# ---- the loopback ceiling: a bare recvmmsg/sendmmsg responder where the proxy would run ----
# Not a proxy (no upstream, no policy, no logging): what one pinned core can answer at all.
if [ -z "${ONLY:-}" ] || [ "${ONLY}" = bare ]; then
  bare_port="$(free_port)"
  start_ns=$(date +%s%N)
  taskset -c 0 "$responder" --port "$bare_port" --zone "$work/zone.txt" >"$work/bare.out" &
  bare_pid=$!; pids+=($bare_pid)
  ready_ms="$(wait_ready "$bare_port")"
  measure bare-loop "$bare_port" "$bare_pid"
  kill -9 "$bare_pid"
fi

# ---- dnsdist, twice: as the issue states it (SuffixMatchNode; dnsdist's default has no packet
# cache, so allowed names go upstream every time) and with a 100,000-entry packet cache (the
# stricter comparison: safegated always has its cache) ----
run_dnsdist() {  # label cache(yes|no)
  local label=$1 cache=$2
  dd_port="$(free_port)"
  cat >"$work/dnsdist.conf" <<EOT
setLocal("127.0.0.1:$dd_port")
newServer({address="127.0.0.1:$up_port"})
setSecurityPollSuffix("")
smn = newSuffixMatchNode()
for line in io.lines("$work/blocklist.txt") do smn:add(line) end
addAction(SuffixMatchNodeRule(smn), RCodeAction(DNSRCode.NXDOMAIN))
EOT
  if [ "$cache" = yes ]; then
    cat >>"$work/dnsdist.conf" <<EOT
pc = newPacketCache(100000, {maxTTL=86400})
getPool(""):setCache(pc)
EOT
  fi
  start_ns=$(date +%s%N)
  taskset -c 0 dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" >"$work/dnsdist.log" 2>&1 &
  dd_pid=$!; pids+=($dd_pid)
  ready_ms="$(wait_ready "$dd_port")"
  measure "$label" "$dd_port" "$dd_pid"
  kill -9 "$dd_pid"
}
if [ -z "${ONLY:-}" ] || [ "${ONLY}" = dnsdist ]; then
  run_dnsdist dnsdist no
  run_dnsdist dnsdist+pc yes
fi
[ -z "${ONLY:-}" ] || [ "${ONLY}" = safegated ] || exit 0

# ---- safegated ----
sg_port="$(free_port)"
mkdir -p "$work/state"
bench_config "$work/state" "$sg_port" "$up_port" "$work/blocklist.txt" >"$work/safegate.toml"
start_ns=$(date +%s%N)
taskset -c 0 "$safegated" --config "$work/safegate.toml" >"$work/safegated.out" 2>"$work/safegated.log" &
sg_pid=$!; pids+=($sg_pid)
ready_ms="$(wait_ready "$sg_port")"
measure safegated "$sg_port" "$sg_pid"
echo "incidents recorded: $(sqlite3 "$work/state/incidents.sqlite" 'SELECT COUNT(*) FROM incidents')," \
     "dropped (queue full): $(grep -o '"dropped_queue_full":[0-9]*' <<<"$(python3 - "$work/state/control.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{"v":1,"cmd":"stats"}\n'); print(s.recv(65536).decode())
PY
)" | cut -d: -f2)"
kill -TERM "$sg_pid"; wait "$sg_pid" 2>/dev/null || true
