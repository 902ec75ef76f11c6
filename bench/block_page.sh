#!/usr/bin/env bash
# The block page's throughput (issue target: >= 2,000 requests/s on one core; results in
# docs/performance.md "Block page"). safegate-ui is pinned to CPU 0; safegated (answering the
# `explain` each page view asks over the control socket) and the load generator (wrk) share
# CPU 1. Every request is a full page view: a blocked name in the Host header, Accept-Language
# to negotiate, one control-socket round trip, the page rendered.
#
#   bench/block_page.sh [BUILD_DIR]       (default build/release)
# Environment: DURATION (10 s per run), CONNECTIONS (16).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-16}"
safegated="$build/daemon/safegated"
ui="$build/ui-helper/safegate-ui"
for b in "$safegated" "$ui" "$(command -v wrk)"; do
  [ -x "$b" ] || { echo "missing $b (build safegated safegate-ui; apt install wrk)" >&2; exit 1; }
done
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. "$root/tests/support/checks.sh"  # read_ready_port

echo "casino.example.test" >"$work/gambling.txt"
cat >"$work/safegate.toml" <<EOT
[daemon]
state_dir = "$work/state"
[dns]
listen = ["127.0.0.1:0"]
upstreams = ["127.0.0.1:9"]
[control]
socket = "control.sock"
[ui]
help_links = ["Childline 0800 1111|https://www.childline.org.uk/"]
[policy]
default_group = "pupils"
[[lists]]
name = "gambling"
category = "gambling"
format = "domains"
sources = ["$work/gambling.txt"]
[[groups]]
name = "pupils"
profile = "9-12"
EOT

mkfifo "$work/sg.fifo" "$work/ui.fifo"
taskset -c 1 "$safegated" --config "$work/safegate.toml" >"$work/sg.fifo" 2>"$work/safegated.log" &
pids+=($!)
[ -n "$(read_ready_port "$work/sg.fifo" "safegated: ready dns=127.0.0.1:")" ] ||
  { cat "$work/safegated.log"; exit 1; }
taskset -c 0 "$ui" --config "$work/safegate.toml" --listen 127.0.0.1:0 >"$work/ui.fifo" \
  2>"$work/ui.log" &
pids+=($!)
ui_pid=$!
port="$(read_ready_port "$work/ui.fifo" "safegate-ui: ready url=http://127.0.0.1:")"
port="${port%/}"
[ -n "$port" ] || { cat "$work/ui.log"; exit 1; }

status="$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: casino.example.test' "http://127.0.0.1:$port/")"
[ "$status" = 403 ] || { echo "the page is not a block (HTTP $status)" >&2; exit 1; }

run() {  # run LABEL [wrk header options]: one wrk run, one result line
  local label="$1"; shift
  taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --latency "$@" \
    "http://127.0.0.1:$port/" >"$work/wrk.out"
  local rps p50 p99 errors
  rps="$(awk '/^Requests\/sec:/ {printf "%d", $2}' "$work/wrk.out")"
  p50="$(awk '$1 == "50%" {print $2}' "$work/wrk.out")"
  p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.out")"
  errors="$(awk '/Non-2xx or 3xx/ {n=$NF} /Socket errors/ {s=$0} END {print (s == "" ? "none" : s)}' "$work/wrk.out")"
  printf '%-34s %8s req/s   p50 %-8s p99 %-8s socket errors: %s\n' "$label" "$rps" "$p50" "$p99" "$errors"
}
echo "safegate-ui on CPU 0; safegated and wrk on CPU 1; $connections connections, ${duration} s each"
run "blocked name (403 page, explain)" -H 'Host: casino.example.test' -H 'Accept-Language: fr-FR,fr;q=0.9,en;q=0.5'
run "allowed name (200 page, explain)" -H 'Host: allowed.example.test'
run "own address (no explain)" -H 'Host: 127.0.0.1'
echo "safegate-ui RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$ui_pid/status)"
