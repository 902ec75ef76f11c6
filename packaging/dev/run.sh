#!/usr/bin/env bash
# README's first command: install what is missing, build (dev preset), and run safegated on
# loopback with the bundled example policy and starter lists, state in ./state/.
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
cmake --build --preset dev --target safegated safegatectl

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
mkfifo "$fifo"
"$bin" --config "$config" --state-dir "$state" --listen "127.0.0.1:$port" "${upstream_args[@]}" \
  >"$fifo" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; rm -f "$fifo"' INT TERM EXIT
exec 3<"$fifo"
ready=""
while IFS= read -r line <&3; do
  echo "$line"
  case "$line" in "safegated: ready"*) ready="$line"; break ;; esac
done
[ -n "$ready" ] || { echo "run.sh: safegated did not start (see the errors above)" >&2; exit 1; }
control="${ready##*control=}"

# A name the bundled gambling list blocks, to show a block.
blocked="$(awk '$1 == "0.0.0.0" && $2 != "0.0.0.0" { print $2; exit }' \
  "$root/examples/lists/sinfonietta/gambling.hosts" 2>/dev/null || true)"
cat <<EOT

safegated is running (pid $pid) with $(basename "$(dirname "$config")")/$(basename "$config"), state in $state.
Try it:
  dig @127.0.0.1 -p $port example.org          # allowed: answered by the upstream (${ups[*]})
  dig @127.0.0.1 -p $port ${blocked:-casino.example}   # blocked: NXDOMAIN with "EDE: 15 (Blocked)"
  dig @127.0.0.1 -p $port www.google.com       # safe search: CNAME forcesafesearch.google.com
  $ctl status --socket $control
  $ctl incidents --socket $control
  sqlite3 $state/incidents.sqlite 'SELECT * FROM incidents'
Press Ctrl-C to stop.
EOT
cat <&3 &
wait $pid
