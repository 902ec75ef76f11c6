#!/bin/bash
# The block page end to end: the real safegate-ui answers a browser (curl) sent to it by a
# block, asking the real safegated over its control socket how the running policy decides the
# host for that client.
#
# Checks: a blocked name gets 403 and a page naming the site and its category in the words of
# the client group's age band (under-9 and 13-17 groups, chosen by client address); the
# language follows Accept-Language (Arabic right-to-left, Chinese) and ?lang=; a name from a
# licensed illegal-content list is never shown; an allowed name gets "not blocked now"; a
# temporary exception granted over the control socket turns the page to "not blocked" at once;
# help links from the config are on every page; the daemon gone still gives a page; a broken
# translation file stops safegate-ui at start with the file and key; /metrics (ui.metrics_listen)
# serves the daemon's counters in the Prometheus text format, and safegate_up 0 without it.
# Environment: SAFEGATED, SAFEGATE_UI, SAFEGATE_SOURCE_DIR.
set -euo pipefail

SRC="${SAFEGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
SAFEGATED="${SAFEGATED:?set SAFEGATED to the safegated binary}"
SAFEGATE_UI="${SAFEGATE_UI:?set SAFEGATE_UI to the safegate-ui binary}"
source "$SRC/tests/support/checks.sh"
source "$SRC/tests/integration/ui/lib.sh"

ui_test_init blockpage

echo "casino.example.test" >"$WORK/gambling.txt"
echo "secret-illegal.example.test" >"$WORK/iwf.txt"
cat >"$WORK/safegate.toml" <<EOF
[daemon]
state_dir = "$WORK/state"
[dns]
listen = ["127.0.0.1:0"]
upstreams = ["127.0.0.1:9"]
[control]
socket = "control.sock"
[ui]
metrics_listen = "127.0.0.1:0"
help_links = ["Childline 0800 1111|https://www.childline.org.uk/", "Call 0800 1111|tel:08001111"]
[policy]
default_group = "teens"
[[lists]]
name = "gambling"
category = "gambling"
format = "domains"
sources = ["$WORK/gambling.txt"]
[[lists]]
name = "licensed"
category = "child-abuse"
format = "domains"
sources = ["$WORK/iwf.txt"]
[[groups]]
name = "teens"
profile = "13-17"
[[groups]]
name = "infants"
profile = "under-9"
[[clients]]
name = "infant-tablet"
group = "infants"
addresses = ["127.0.0.2"]
EOF

start_safegated
start_ui
METRICS_URL="$(sed -n 's|.* metrics=\([^ ]*\).*|\1|p' <<<"$READY_LINE")"
check "the ready line names the metrics URL" "yes" \
  "$([[ "$METRICS_URL" == http://127.0.0.1:*/metrics ]] && echo yes || echo "$READY_LINE")"

# page HOST [curl options...]: the body; the status code goes to $WORK/status.
page() {
  local host="$1"; shift
  curl -s -o "$WORK/body" -w '%{http_code}' -H "Host: $host" "$@" \
    "http://127.0.0.1:$UI_PORT${PAGE_PATH:-/}" >"$WORK/status"
  cat "$WORK/body"
}
has() { grep -qF -- "$1" <<<"$2" && echo yes || echo no; }

body="$(page casino.example.test)"
check "blocked name: 403" "403" "$(cat "$WORK/status")"
check "blocked name: the site is named" "yes" "$(has 'The page you asked for: casino.example.test' "$body")"
check "blocked name: its category" "yes" "$(has 'Category: gambling.' "$body")"
check "13-17 group: the teen wording" "yes" "$(has '<h1>This site is blocked</h1>' "$body")"
check "help link from the config" "yes" "$(has '<a href="https://www.childline.org.uk/">Childline 0800 1111</a>' "$body")"
check "tel: help link" "yes" "$(has '<a href="tel:08001111">' "$body")"
check "English by default" "yes" "$(has '<html lang="en" dir="ltr">' "$body")"

body="$(curl -s -H 'Host: casino.example.test' --interface 127.0.0.2 "http://127.0.0.1:$UI_PORT/")"
check "under-9 client: the young wording" "yes" "$(has 'Oops! This page is not for you' "$body")"

body="$(page casino.example.test -H 'Accept-Language: de-DE, ar;q=0.8, en;q=0.5')"
check "Accept-Language: Arabic, right to left" "yes" "$(has '<html lang="ar" dir="rtl">' "$body")"
check "Arabic category name" "yes" "$(has 'القمار' "$body")"
body="$(page casino.example.test -H 'Accept-Language: zh-CN,zh;q=0.9')"
check "Accept-Language zh-CN: Chinese" "yes" "$(has '<html lang="zh"' "$body")"
body="$(PAGE_PATH='/?lang=ru' page casino.example.test -H 'Accept-Language: fr')"
check "?lang= overrides Accept-Language" "yes" "$(has '<html lang="ru"' "$body")"

body="$(page secret-illegal.example.test)"
check "licensed list: blocked" "403" "$(cat "$WORK/status")"
check "licensed list: the name is never shown" "no" "$(has 'secret-illegal' "$body")"
check "licensed list: worded as illegal content" "yes" "$(has 'content that is against the law' "$body")"

body="$(page allowed.example.test)"
check "allowed name: 200" "200" "$(cat "$WORK/status")"
check "allowed name: not blocked now" "yes" "$(has 'This page is not blocked now' "$body")"

# An exception for this client lifts the block; the page says so at once.
python3 - "$WORK/state/control.sock" >"$WORK/exception.json" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"v": 1, "id": 1, "cmd": "exceptions.add", "kind": "name",
                       "name": "casino.example.test", "client": "127.0.0.1",
                       "minutes": 5}) + "\n").encode())
print(s.recv(65536).decode().splitlines()[0])
PY
check "exception granted" "True" "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ok'])" "$WORK/exception.json")"
page casino.example.test >/dev/null
check "with the exception: 200" "200" "$(cat "$WORK/status")"

# /metrics: the daemon's counters in the Prometheus text format, on their own listener.
# From the infant tablet (the exception above is for 127.0.0.1 only).
dig -b 127.0.0.2 @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 casino.example.test >/dev/null
metrics="$(curl -s "$METRICS_URL")"
check "metrics: the daemon is up" "yes" "$(has 'safegate_up 1' "$metrics")"
check "metrics: the blocked query is counted" "yes" "$(has 'safegate_dns_blocked_total 1' "$metrics")"
check "metrics: UDP queries are a counter" "yes" "$(has '# TYPE safegate_dns_queries_udp_total counter' "$metrics")"
check "metrics: in-flight queries are a gauge" "yes" "$(has '# TYPE safegate_dns_in_flight gauge' "$metrics")"
# Blocks by category count incidents once written (the writer commits every batch_ms): asked
# until it shows, for at most 5 s.
for _ in $(seq 50); do
  metrics="$(curl -s "$METRICS_URL")"
  grep -q '^safegate_incidents_by_category_total' <<<"$metrics" && break
  sleep 0.1
done
check "metrics: blocks by category" "yes" \
  "$(has 'safegate_incidents_by_category_total{category="gambling",verdict="block"} 1' "$metrics")"
check "metrics: every line is a comment or a well-formed sample" "" \
  "$(grep -Ev '^(# (TYPE|HELP) .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9][0-9.e+-]*)$' <<<"$metrics" || true)"
check "metrics: not on the block page's listener" "yes" \
  "$(curl -s -H 'Host: 127.0.0.1' "http://127.0.0.1:$UI_PORT/metrics" | grep -qv safegate_up && echo yes)"

# The daemon gone: still a page (blocked, no reason guessed), never an error.
kill "$SG_PID"; wait "$SG_PID" 2>/dev/null || true; SG_PID=""
check "safegated: no sanitizer report" "0" "$(grep -c 'Sanitizer' "$WORK/safegated.log" || true)"
body="$(page casino.example.test)"
check "daemon down: still the block page" "403" "$(cat "$WORK/status")"
check "daemon down: generic reason" "yes" "$(has 'a topic this filter blocks' "$body")"
check "metrics: daemon down is safegate_up 0" "safegate_up 0" "$(curl -s "$METRICS_URL" | grep '^safegate_up')"
rc=0
kill "$UI_PID"; wait "$UI_PID" || rc=$?; UI_PID=""
check "safegate-ui stops cleanly on SIGTERM" "0" "$rc"
check "safegate-ui: no sanitizer report" "0" "$(grep -c 'Sanitizer' "$WORK/ui.log" || true)"

# A school's own translations folder is read over the installed one: a copied fr.toml that
# lacks a sentence keeps the installed one; a new language lacking sentences starts with a
# warning naming them; a sentence that lost its {name} stops the start, naming file and key.
mkdir "$WORK/tr"
cp "$SRC"/ui-helper/translations/fr.toml "$WORK/tr/"
grep -v '^ask = ' "$WORK/tr/fr.toml" >"$WORK/tr/fr.tmp" && mv "$WORK/tr/fr.tmp" "$WORK/tr/fr.toml"
grep -v '^illegal_button = \|^sent_illegal = ' "$SRC/ui-helper/translations/en.toml" |
  sed 's/^language = .*/language = "Deutsch"/' >"$WORK/tr/de.toml"
rc=0
"$SAFEGATE_UI" --config "$WORK/safegate.toml" --listen 127.0.0.1:0 --translations "$WORK/tr" \
  --check >"$WORK/tr.out" 2>"$WORK/tr.log" || rc=$?
check "school's translations: starts" "0" "$rc"
check "school's translations: seven languages" "yes" "$(has "languages=7" "$(cat "$WORK/tr.out")")"
check "school's translations: fr keeps the installed sentence, no error" "0" \
  "$(grep -c 'error' "$WORK/tr.log" || true)"
check "school's translations: de's missing sentences named" "yes" \
  "$(has "de.toml: warning: 2 sentences not translated, shown in English: form.illegal_button, form.sent_illegal" "$(cat "$WORK/tr.log")")"
sed -i 's/^site = .*/site = "Diese Seite"/' "$WORK/tr/de.toml"
rc=0
"$SAFEGATE_UI" --config "$WORK/safegate.toml" --listen 127.0.0.1:0 --translations "$WORK/tr" \
  >"$WORK/bad.out" 2>"$WORK/bad.log" || rc=$?
check "broken translation: exit 1" "1" "$rc"
check "broken translation: names the file and key" "yes" \
  "$(has "de.toml: error: \"site\" must contain {name}" "$(cat "$WORK/bad.log")")"

finish "block page: all checks passed"
