#!/usr/bin/env bash
# README's first command: install what is missing, build (dev preset), and run safegated on
# loopback with the bundled example policy and starter lists, state in ./state/, and the block
# page and dashboard (safegate-ui) beside it on free loopback ports whose URLs are printed.
#
#   packaging/dev/run.sh                 DNS on 127.0.0.1:5353, upstream = /etc/resolv.conf
#   SAFEGATE_PORT=5354 SAFEGATE_UPSTREAM=9.9.9.9:53 packaging/dev/run.sh
#   SAFEGATE_CONFIG=examples/home/safegate.toml packaging/dev/run.sh
#
# Runs in the foreground; Ctrl-C stops it (incidents are flushed). See docs/operations.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

port="${SAFEGATE_PORT:-5353}"
state="${SAFEGATE_STATE_DIR:-$root/state}"
config="${SAFEGATE_CONFIG:-$root/examples/default/safegate.toml}"

packaging/dev/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev --target safegated safegatectl safegate-ui

# Upstream: SAFEGATE_UPSTREAM (comma separated), else the system resolvers.
upstream_args=()
if [ -n "${SAFEGATE_UPSTREAM:-}" ]; then
  IFS=',' read -ra ups <<<"$SAFEGATE_UPSTREAM"
else
  mapfile -t ups < <(awk '$1 == "nameserver" && $2 !~ /%/ {
      if ($2 ~ /:/) print "[" $2 "]:53"; else print $2 ":53" }' /etc/resolv.conf)
fi
for u in "${ups[@]}"; do upstream_args+=(--upstream "$u"); done
[ ${#upstream_args[@]} -gt 0 ] || { echo "run.sh: no upstream resolver; set SAFEGATE_UPSTREAM" >&2; exit 1; }

mkdir -p "$state"
bin="$root/build/dev/daemon/safegated"
ctl="$root/build/dev/ui-helper/safegatectl"
fifo="$(mktemp -u)"
ui_fifo="$(mktemp -u)"
mkfifo "$fifo" "$ui_fifo"
pid=""
ui_pid=""
trap 'kill -TERM $ui_pid $pid 2>/dev/null; wait $ui_pid $pid; rm -f "$fifo" "$ui_fifo"' INT TERM EXIT

# await_ready FD PREFIX WHO: echoes the server's lines from FD until one starts with PREFIX (its
# readiness signal) and prints what follows the prefix in READY; fails when the server ends.
await_ready() {
  local line
  READY=""
  while IFS= read -r line <&"$1"; do
    echo "$line"
    case "$line" in "$2"*) READY="${line#"$2"}"; return 0 ;; esac
  done
  echo "run.sh: $3 did not start (see the errors above)" >&2
  exit 1
}

"$bin" --config "$config" --state-dir "$state" --listen "127.0.0.1:$port" "${upstream_args[@]}" \
  >"$fifo" &
pid=$!
exec 3<"$fifo"
await_ready 3 "safegated: ready" safegated
control="${READY##*control=}"

# The block page and the dashboard (safegate-ui), asking this safegated; SAFEGATE_UI_PORT and
# SAFEGATE_DASHBOARD_PORT pick their ports.
"$root/build/dev/ui-helper/safegate-ui" --config "$config" --socket "$control" --state-dir "$state" \
  --listen "127.0.0.1:${SAFEGATE_UI_PORT:-0}" \
  --dashboard-listen "127.0.0.1:${SAFEGATE_DASHBOARD_PORT:-0}" >"$ui_fifo" &
ui_pid=$!
exec 4<"$ui_fifo"
await_ready 4 "safegate-ui: ready url=" safegate-ui
ui_url="${READY%% *}"
dashboard_url="${READY##*dashboard=}"

# A name the bundled gambling list blocks, to show a block.
blocked="$(awk '$1 == "0.0.0.0" && $2 != "0.0.0.0" { print $2; exit }' \
  "$root/examples/lists/sinfonietta/gambling.hosts" 2>/dev/null || true)"
cat <<EOT

safegated is running (pid $pid) with $(basename "$(dirname "$config")")/$(basename "$config"), state in $state.
Try it:
  dig @127.0.0.1 -p $port example.org          # allowed: answered by the upstream (${ups[*]})
  dig @127.0.0.1 -p $port ${blocked:-casino.example}   # blocked: NXDOMAIN with "EDE: 15 (Blocked)"
  dig @127.0.0.1 -p $port www.google.com       # safe search: CNAME forcesafesearch.google.com
  curl -H 'Host: ${blocked:-casino.example}' $ui_url   # the block page a browser would get (try -H 'Accept-Language: ar')
  $ctl requests list --socket $control          # what children asked for from the block page
  $ctl user add admin --role admin --file $state/ui-users   # an account, then sign in at
      $dashboard_url   (a self-signed certificate: the browser asks once)
  $ctl status --socket $control
  $ctl incidents --socket $control
  sqlite3 $state/incidents.sqlite 'SELECT * FROM incidents'
Press Ctrl-C to stop.
EOT
cat <&3 &
cat <&4 &
wait $pid
