#!/usr/bin/env bash
# Does delivering alerts cost DNS anything? (results in docs/performance.md)
# safegated with the same policy twice in one run, alternating: once with no [[alerts]]
# destination ("no-alerts": alerting incidents are stored, nothing is sent) and once with a
# signed webhook on loopback receiving every alert ("alerts": batch 1 s, no rate limit), so
# ~1,000 alerts/s flow through the alert router, the outbox and HTTPS while dnsperf measures.
# Same upstream (sg_dns_responder), safegated pinned to CPU 0; dnsperf, the upstream and the
# HTTPS receiver (tests/support/https_test_server.py) on CPU 1, the receiver at nice 19: it
# stands in for a server elsewhere and must not take the load generator's CPU in the alert
# runs only (that made dnsperf's own receive late and showed up as DNS p99).
#
#   bench/alerts_dns_bench.sh [BUILD_DIR]     (default build/release; needs safegated and
#                                              sg_dns_responder built there)
# Environment: DURATION (15 s per max-qps run), RATE (20000 qps for the latency run, of which
# ALERT_SHARE_RATE % are alerting names: 5 -> 1,000 alerts/s), ROUNDS (2).
# Reported per run: max qps (1 % alerting names), p50/p99 at RATE, alerts the router matched,
# the receiver got and the router dropped (backlog full), and
# incidents dropped by the incident queue.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
duration="${DURATION:-15}"
rate="${RATE:-20000}"
share_rate="${ALERT_SHARE_RATE:-5}"
rounds="${ROUNDS:-2}"
safegated="$build/daemon/safegated"
responder="$build/tests/integration/sg_dns_responder"
for b in "$safegated" "$responder" "$(command -v dnsperf)" /usr/bin/python3; do
  [ -x "$b" ] || { echo "missing $b (build safegated sg_dns_responder; install dnsperf)" >&2; exit 1; }
done
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. "$root/bench/lib.sh"

# 1,000 alerting names (self-harm, alert-block); query files with 1 % and share_rate % of them.
for i in $(seq 1000); do echo "alert$i.selfharm.test"; done >"$work/selfharm.txt"
mix() {  # percent file
  awk -v p="$1" -v out="$2" 'BEGIN { srand(7); for (i = 0; i < 100000; i++)
    if (rand() * 100 < p) print "alert" (1 + int(rand() * 1000)) ".selfharm.test A" > out;
    else print "allowed" int(rand() * 20000) ".example.net A" > out }'
}
mix 1 "$work/queries_max.txt"
mix "$share_rate" "$work/queries_rate.txt"
echo '* A 192.0.2.1 3600' >"$work/zone.txt"

up_port="$(free_port)"
taskset -c 1 "$responder" --port "$up_port" --zone "$work/zone.txt" >"$work/responder.out" &
pids+=($!)
bash "$root/tests/support/make_test_pki.sh" "$work/pki"
printf 'bench-secret\n' >"$work/webhook.secret"; chmod 600 "$work/webhook.secret"
taskset -c 1 nice -n 19 /usr/bin/python3 "$root/tests/support/https_test_server.py" --cert "$work/pki/server.pem" \
  --key "$work/pki/server.key" --log "$work/receiver.jsonl" >"$work/receiver.out" &
pids+=($!)
for _ in $(seq 200); do grep -q READY "$work/receiver.out" 2>/dev/null && grep -q ready "$work/responder.out" && break; sleep 0.05; done
hook_port="$(awk '{ print $2 }' "$work/receiver.out")"

config() {  # mode port
  cat <<EOT
[daemon]
state_dir = "$work/state-$1"
[dns]
listen = ["127.0.0.1:$2"]
upstreams = ["127.0.0.1:$up_port"]
workers = 1
cache_entries = 100000
rate_limit_qps = 0  # dnsperf is one client address: no per-client limit in a throughput bench
[policy]
default_group = "bench"
bypass_defaults = false
[[lists]]
name = "selfharm"
category = "self-harm"
format = "domains"
sources = ["$work/selfharm.txt"]
[[groups]]
name = "bench"
profile = "staff"
default = "allow"
[groups.categories]
"self-harm" = "alert-block"
[groups.safe_search]
google = "off"
bing = "off"
duckduckgo = "off"
youtube = "off"
EOT
  if [ "$1" = alerts ]; then
    cat <<EOT
[[alerts]]
name = "bench-hook"
kind = "webhook"
url = "https://127.0.0.1:$hook_port/ok"
ca_file = "$work/pki/ca.pem"
secret_file = "$work/webhook.secret"
batch_seconds = 1
rate_limit_minutes = 0
EOT
  fi
}

alerts_received() {
  /usr/bin/python3 - "$work/receiver.jsonl" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("body"):
        n += len(json.loads(r["body"]).get("alerts", []))
print(n)
PY
}

run_mode() {  # mode round
  local mode=$1 port; port="$(free_port)"
  rm -rf "$work/state-$mode"; mkdir -p "$work/state-$mode"
  config "$mode" "$port" >"$work/$mode.toml"
  taskset -c 0 "$safegated" --config "$work/$mode.toml" >"$work/$mode.out" 2>"$work/$mode.log" &
  local pid=$!; pids+=($pid)
  for _ in $(seq 400); do grep -q "safegated: ready" "$work/$mode.out" 2>/dev/null && break; sleep 0.05; done
  local before; before="$(alerts_received)"
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries_max.txt" -n 1 -q 200 >/dev/null 2>&1 || true
  local out qps
  out="$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries_max.txt" -l "$duration" -q 100 2>&1)"
  qps="$(awk '/Queries per second/ { print $4 }' <<<"$out")"
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries_rate.txt" -l 10 -Q "$rate" -q 1000 -v \
    >"$work/latency.txt" 2>/dev/null || true
  read -r p50 p99 nlat <<<"$(dnsperf_percentiles "$work/latency.txt")"
  sleep 3  # the last batches: flushed within 1 s, delivered within the next poll
  local got=$(( $(alerts_received) - before ))
  local counters; counters="$(/usr/bin/python3 - "$work/state-$mode/control.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{"v":1,"cmd":"stats"}\n')
data = b""
while not data.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
r = json.loads(data).get("result", {})
a = r.get("alerts", {})
print(r.get("incidents", {}).get("dropped_queue_full", "?"), a.get("alerts", 0), a.get("dropped", 0))
PY
)"
  local dropped routed router_dropped
  read -r dropped routed router_dropped <<<"$counters"
  printf '%-10s round=%s qps=%-9s p50_ms=%-7s p99_ms=%-7s (at %s qps, %s%% alerting, %s answers) alerts_routed=%s alerts_received=%-7s router_dropped=%s incidents_dropped=%s\n' \
    "$mode" "$2" "$qps" "$p50" "$p99" "$rate" "$share_rate" "$nlat" "$routed" "$got" "$router_dropped" "$dropped"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

for r in $(seq "$rounds"); do
  run_mode no-alerts "$r"
  run_mode alerts "$r"
done
