#!/bin/bash
# Access requests end to end: a child on a blocked page asks for access through the real
# safegate-ui, the request reaches the real safegated over its control socket, an administrator
# approves it with safegatectl, and a second real `dig` gets the real answer from the upstream.
#
# Also: the form's token is bound to the client and host (a post without one, with another
# host's, or from another origin gets 403 and files nothing); asking twice is one request; a
# wrong-block report is filed and denied; a client over requests.per_client_per_hour gets 429
# with Retry-After; a licensed illegal-content name gets no form and cannot be asked for; the
# requests survive a restart of safegated; a damaged requests.json is set aside, reported, and
# the daemon starts.
# Environment: SAFEGATED, SAFEGATE_UI, SAFEGATECTL, SAFEGATE_SOURCE_DIR.
set -euo pipefail

SRC="${SAFEGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
SAFEGATED="${SAFEGATED:?set SAFEGATED to the safegated binary}"
SAFEGATE_UI="${SAFEGATE_UI:?set SAFEGATE_UI to the safegate-ui binary}"
SAFEGATECTL="${SAFEGATECTL:?set SAFEGATECTL to the safegatectl binary}"
source "$SRC/tests/support/checks.sh"
source "$SRC/tests/integration/ui/lib.sh"

ui_test_init access
start_upstream

printf 'casino.example.test\npoker.example.test\ndice.example.test\nbingo.example.test\nslots.example.test\n' \
  >"$WORK/gambling.txt"
echo "secret-illegal.example.test" >"$WORK/iwf.txt"
cat >"$WORK/safegate.toml" <<EOF
[daemon]
state_dir = "$WORK/state"
[dns]
listen = ["127.0.0.1:0"]
upstreams = ["127.0.0.1:$UP_PORT"]
[control]
socket = "control.sock"
[requests]
per_client_per_hour = 3
[policy]
default_group = "pupils"
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
name = "pupils"
profile = "9-12"
EOF

start_safegated
start_ui
# safegatectl with the socket (its options follow the sub-command).
ctl() { "$SAFEGATECTL" "$@" --socket "$WORK/state/control.sock"; }
has() { grep -qF -- "$1" <<<"$2" && echo yes || echo no; }
# get HOST [curl options]: the page; post HOST [curl options]: a form post. Status in $WORK/status.
get() {
  local host="$1"; shift
  curl -s -o "$WORK/body" -w '%{http_code}' -H "Host: $host" "$@" "http://127.0.0.1:$UI_PORT/" \
    >"$WORK/status"
  cat "$WORK/body"
}
post() {
  local host="$1"; shift
  curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -H "Host: $host" "$@" \
    "http://127.0.0.1:$UI_PORT/" >"$WORK/status"
  cat "$WORK/body"
}
token_of() { sed -n 's|.*name="token" value="\([^"]*\)".*|\1|p' <<<"$1"; }
pending() { ctl requests list --state pending --json | wc -l; }

before="$(dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 casino.example.test)"
check "dig before: blocked" "yes" "$(has 'EDE: 15 (Blocked)' "$before")"

page="$(get casino.example.test)"
check "blocked page: 403" "403" "$(cat "$WORK/status")"
check "blocked page: has the form" "yes" "$(has '<form method="post"' "$page")"
check "blocked page: ask button" "yes" "$(has 'value="access">Ask to open it</button>' "$page")"
TOKEN="$(token_of "$page")"
check "blocked page: a token" "yes" "$([[ "$TOKEN" =~ ^[0-9]+\.[0-9a-f]{64}$ ]] && echo yes || echo "$TOKEN")"

# Forgeries: nothing is filed.
body="$(post casino.example.test --data 'kind=access&reason=x')"
check "no token: 403" "403" "$(cat "$WORK/status")"
check "no token: told to reload" "yes" "$(has 'This form is too old' "$body")"
other="$(token_of "$(get poker.example.test)")"
post casino.example.test --data-urlencode "token=$other" --data 'kind=access' >/dev/null
check "another host's token: 403" "403" "$(cat "$WORK/status")"
post casino.example.test --interface 127.0.0.2 --data-urlencode "token=$TOKEN" --data 'kind=access' >/dev/null
check "another client's token: 403" "403" "$(cat "$WORK/status")"
post casino.example.test -H 'Origin: http://evil.example' --data-urlencode "token=$TOKEN" \
  --data 'kind=access' >/dev/null
check "another origin: 403" "403" "$(cat "$WORK/status")"
check "forgeries filed nothing" "0" "$(pending)"

# The real thing, with a reason that has markup and a line break.
body="$(post casino.example.test -H 'Origin: http://casino.example.test' \
  --data-urlencode "token=$TOKEN" --data 'kind=access' \
  --data-urlencode $'reason=For my <b>maths</b>\nhomework')"
check "request: 200" "200" "$(cat "$WORK/status")"
check "request: sent page" "yes" "$(has 'Your message was sent' "$body")"
check "request: markup is escaped nowhere needed" "no" "$(has '<b>' "$body")"
body="$(post casino.example.test --data-urlencode "token=$TOKEN" --data 'kind=access')"
check "asking twice: already asked" "yes" "$(has 'You already asked about this page' "$body")"
check "asking twice: one request" "1" "$(pending)"

row="$(ctl requests list --json)"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$row" "$1"; }
check "listed: kind" "access" "$(field kind)"
check "listed: client" "127.0.0.1" "$(field client)"
check "listed: name" "casino.example.test" "$(field name)"
check "listed: category" "gambling" "$(field category)"
check "listed: group" "pupils" "$(field group)"
check "listed: the reason, one line" "For my <b>maths</b> homework" "$(field reason)"
ID="$(field id)"

out="$(ctl requests approve "$ID" --minutes 30 --note "maths project")"
check "approve: exit 0 and an exception" "yes" "$(has "request $ID approved: casino.example.test for 127.0.0.1 (exception" "$out")"
after="$(dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 +short casino.example.test)"
check "dig after approval: the upstream's answer" "192.0.2.1" "$after"
get casino.example.test >/dev/null
check "page after approval: not blocked" "200" "$(cat "$WORK/status")"
check "approve twice: refused" "1" "$(ctl requests approve "$ID" --minutes 5 >/dev/null 2>&1; echo $?)"
exc="$(ctl exceptions list --json)"
check "the exception is for that client and name" "yesyes" \
  "$(has '"client":"127.0.0.1"' "$exc")$(has '"name":"casino.example.test"' "$exc")"

# A wrong-block report from another device, denied.
tok2="$(token_of "$(get poker.example.test --interface 127.0.0.2)")"
body="$(post poker.example.test --interface 127.0.0.2 --data-urlencode "token=$tok2" \
  --data 'kind=wrong-block')"
check "report: sent" "yes" "$(has 'will check this block' "$body")"
rid="$(ctl requests list --state pending --json | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["id"], r["kind"])')"
check "report: listed as wrong-block" "wrong-block" "${rid#* }"
ctl requests deny "${rid% *}" --note "the list is right" >/dev/null
check "report: denied" "denied" "$(ctl requests list --state denied --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["state"])')"
check "denial grants nothing" "yes" \
  "$(has 'EDE: 15 (Blocked)' "$(dig -b 127.0.0.2 @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 poker.example.test)")"

# The hourly limit (3 here) for one client; other clients are not affected.
for name in dice bingo slots; do
  t="$(token_of "$(get $name.example.test --interface 127.0.0.3)")"
  post $name.example.test --interface 127.0.0.3 --data-urlencode "token=$t" --data 'kind=access' >/dev/null
done
check "third request of the hour: still accepted" "200" "$(cat "$WORK/status")"
t="$(token_of "$(get poker.example.test --interface 127.0.0.3)")"
body="$(post poker.example.test --interface 127.0.0.3 --data-urlencode "token=$t" --data 'kind=access')"
check "fourth request of the hour: 429" "429" "$(cat "$WORK/status")"
check "fourth request: Retry-After" "yes" "$(grep -qi '^Retry-After: [0-9]' "$WORK/headers" && echo yes || echo no)"
check "fourth request: told to wait" "yes" "$(has 'Please wait a while' "$body")"

# A licensed list's name: no form, and the daemon refuses a request for it.
page="$(get secret-illegal.example.test)"
check "licensed name: no form" "no" "$(has '<form' "$page")"
reply="$(python3 - "$WORK/state/control.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"cmd": "requests.add", "client": "127.0.0.4", "kind": "access",
                       "name": "secret-illegal.example.test"}) + "\n").encode())
print(s.recv(65536).decode().splitlines()[0])
PY
)"
check "licensed name: requests.add refused" "yes" "$(has 'a licensed list blocks it' "$reply")"

# Survives a restart; a damaged file is set aside and reported.
count_all="$(ctl requests list --json | wc -l)"
kill "$SG_PID"; wait "$SG_PID" 2>/dev/null || true; SG_PID=""
check "safegated: no sanitizer report" "0" "$(grep -c 'Sanitizer' "$WORK/safegated.log" || true)"
rm -f "$WORK/sg.fifo"
start_safegated
check "after restart: the same requests" "$count_all" "$(ctl requests list --json | wc -l)"
kill "$SG_PID"; wait "$SG_PID" 2>/dev/null || true; SG_PID=""
echo '{"version": 1, "requests": [' >"$WORK/state/requests.json"
rm -f "$WORK/sg.fifo"
start_safegated
check "damaged file: reported with its path" "yes" \
  "$(has "$WORK/state/requests.json:2:1: error: requests file is not valid JSON" "$(cat "$WORK/safegated.log")")"
check "damaged file: kept aside" "1" "$(ls "$WORK/state" | grep -c '^requests.json.corrupt-')"
check "damaged file: the daemon answers" "0" "$(ctl requests list --json | wc -l)"

kill "$UI_PID"; wait "$UI_PID" || true; UI_PID=""
check "safegate-ui: no sanitizer report" "0" "$(grep -c 'Sanitizer' "$WORK/ui.log" || true)"
finish "access requests: all checks passed"
