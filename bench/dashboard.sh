#!/usr/bin/env bash
# Dashboard page times with 1M incidents in the database (target: every page under
# 100 ms; results in docs/performance.md "Dashboard"). safegated starts once to create its
# database, stops, the incidents table is filled with 1,000,000 rows spread over the last 20
# days (sqlite3, outside the daemon), safegated starts again on that file, and safegate-ui
# serves the dashboard over HTTPS. Each page is fetched SAMPLES times by a signed-in curl
# (a new TLS connection each time, as a browser opening a page would at worst); the median
# and the slowest are printed. The overview asks safegated for status, stats, the pending
# requests, the 24-hour summary (hourly counters, alerts), the lists and the latest 20
# incidents; the incident pages search with each filter (the last one matches nothing, the
# worst case for an index walk); the device page sums one device's week; the CSV export is
# one device's 2,500 incidents.
#
#   bench/dashboard.sh [BUILD_DIR]       (default build/release)
# Environment: ROWS (1000000), SAMPLES (50).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
rows="${ROWS:-1000000}"
samples="${SAMPLES:-50}"
safegated="$build/daemon/safegated"
ui="$build/ui-helper/safegate-ui"
ctl="$build/ui-helper/safegatectl"
for b in "$safegated" "$ui" "$ctl" "$(command -v sqlite3)"; do
  [ -x "$b" ] || { echo "missing $b (build safegated safegate-ui safegatectl; apt install sqlite3)" >&2; exit 1; }
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
[ui]
dashboard_listen = "127.0.0.1:0"
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

start_daemon() {
  rm -f "$work/sg.fifo"; mkfifo "$work/sg.fifo"
  "$safegated" --config "$work/safegate.toml" >"$work/sg.fifo" 2>>"$work/safegated.log" &
  sg_pid=$!
  pids+=($sg_pid)
  [ -n "$(read_ready_port "$work/sg.fifo" "safegated: ready dns=127.0.0.1:")" ] ||
    { cat "$work/safegated.log"; exit 1; }
}
start_daemon
kill "$sg_pid"; wait "$sg_pid" || true

now_ms=$(( $(date +%s) * 1000 ))
echo "filling $rows incidents ..."
sqlite3 "$work/state/incidents.sqlite" >/dev/null <<EOSQL
PRAGMA journal_mode=WAL;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO incidents (ts_ms, client, client_named, grp, name, qtype, category, verdict, alert,
                       rule, source, protocol, reason)
SELECT $now_ms - (($rows - i) * 1728), 'device-' || (i % 400), 0,
       CASE i % 3 WHEN 0 THEN 'pupils' WHEN 1 THEN 'staff' ELSE 'infants' END,
       'site' || (i % 5000) || '.example', 1,
       CASE i % 4 WHEN 0 THEN 'gambling' WHEN 1 THEN 'social' WHEN 2 THEN 'games' ELSE 'violence' END,
       'block', CASE WHEN i % 1000 = 0 THEN 1 ELSE 0 END, 'site.example', 'list:1', 'dns', ''
FROM n;
INSERT INTO hourly_counts (hour, grp, category, verdict, count)
SELECT ts_ms / 3600000 * 3600, grp, category, verdict, COUNT(*) FROM incidents GROUP BY 1, 2, 3, 4;
EOSQL
echo "database: $(du -h "$work/state/incidents.sqlite" | cut -f1), $(sqlite3 "$work/state/incidents.sqlite" 'SELECT count(*) FROM incidents') incidents"
start_daemon

echo "bench-password-1" | "$ctl" user add lead --role lead --password-stdin --config "$work/safegate.toml" >/dev/null
mkfifo "$work/ui.fifo"
"$ui" --config "$work/safegate.toml" --listen 127.0.0.1:0 >"$work/ui.fifo" 2>"$work/ui.log" &
pids+=($!)
exec {fd}<"$work/ui.fifo"
IFS= read -r -t 20 -u "$fd" ready || true
dash="$(sed -n 's|.* dashboard=\(https://[^ ]*\)|\1|p' <<<"$ready")"
[ -n "$dash" ] || { cat "$work/ui.log"; exit 1; }

jar="$work/jar"
token="$(curl -sk -c "$jar" -b "$jar" "${dash}login" | sed -n 's|.*name="token" value="\([^"]*\)".*|\1|p')"
curl -sk -c "$jar" -b "$jar" -o /dev/null "${dash}login" --data-urlencode "token=$token" \
  --data 'user=lead&password=bench-password-1'

day() { date -u -d "@$(( $(date +%s) - $1 * 86400 ))" +%F; }
pages=("" requests incidents "incidents?group=staff" "incidents?client=device-7"
       "incidents?category=violence&since=$(day 10)&until=$(day 5)" "incidents?alerts=1"
       "incidents?group=pupils&category=games"
       # A group no incident has, with a common category: the walk stops at its budget.
       "incidents?group=nobody&category=games"
       # Matches nothing: device-7's incidents are all "violence".
       "incidents?client=device-7&category=games"
       "device?client=device-7" "incidents.csv?client=device-7")
for page in "${pages[@]}"; do
  curl -sk -b "$jar" -o "$work/page.html" "${dash}$page"
  if [[ "$page" == incidents.csv* ]]; then
    [ "$(head -c 8 "$work/page.html")" = "time_utc" ] || { echo "no CSV"; exit 1; }
    echo "  $(($(wc -l <"$work/page.html") - 1)) incidents in the CSV"
  else
    grep -q 'Sign out lead' "$work/page.html" || { echo "not signed in"; exit 1; }
  fi
  if [ -z "$page" ]; then
    grep -q '<td>site[0-9]*\.example</td>' "$work/page.html" || { echo "no incidents shown"; exit 1; }
  fi
  for _ in $(seq "$samples"); do
    curl -sk -b "$jar" -o /dev/null -w '%{time_total}\n' "${dash}$page"
  done | sort -g | awk -v p="/$page" '{ v[NR] = $1 } END {
    printf "%-62s median %5.1f ms, slowest %5.1f ms (%d fetches, TLS included)\n",
           p, v[int((NR + 1) / 2)] * 1000, v[NR] * 1000, NR }'
done
