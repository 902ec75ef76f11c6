#!/bin/bash
# The dashboard end to end over HTTPS (its generated self-signed certificate), with curl as the
# browser: the real safegate-ui, the real safegated, accounts made by the real safegatectl.
#
# Checks: signed out, every page sends you to the sign-in page; a wrong password is refused and
# audited, five in a row lock the account for 15 minutes (429 with Retry-After, even with the
# right password); the session cookie is __Host-, HttpOnly, Secure, SameSite=Strict; the
# overview shows an incident a real dig produced and the request a child filed from the block
# page; a post without the session's CSRF token is refused and changes nothing; a viewer cannot
# decide; a lead approves and a second dig gets the upstream's answer; the overview's group state
# and charts; incident search by category, group and day, a device's page and the CSV export
# (all audited, none for a viewer); a lead ends the exception and a third dig is blocked again;
# a child's may-be-illegal report is forwarded by the lead to the hotline outbox, URL only;
# only an admin sees the audit log, which names who approved, viewed and exported what; removing an account or changing its password ends
# its sessions; signing out ends the session.
# Environment: SAFEGATED, SAFEGATE_UI, SAFEGATECTL, SAFEGATE_SOURCE_DIR.
set -euo pipefail

SRC="${SAFEGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
SAFEGATED="${SAFEGATED:?set SAFEGATED to the safegated binary}"
SAFEGATE_UI="${SAFEGATE_UI:?set SAFEGATE_UI to the safegate-ui binary}"
SAFEGATECTL="${SAFEGATECTL:?set SAFEGATECTL to the safegatectl binary}"
source "$SRC/tests/support/checks.sh"
source "$SRC/tests/integration/ui/lib.sh"

ui_test_init dashboard
start_upstream

echo "casino.example.test" >"$WORK/gambling.txt"
cat >"$WORK/safegate.toml" <<EOF
[daemon]
state_dir = "$WORK/state"
[dns]
listen = ["127.0.0.1:0"]
upstreams = ["127.0.0.1:$UP_PORT"]
[ui]
dashboard_listen = "127.0.0.1:0"
[policy]
default_group = "pupils"
[[lists]]
name = "gambling"
category = "gambling"
format = "domains"
sources = ["$WORK/gambling.txt"]
[[groups]]
name = "pupils"
profile = "9-12"
[hotline]
enabled = true
# Nothing listens there: a forwarded report waits in the outbox, where the test reads it.
endpoint = "https://127.0.0.1:9/report"
deployment_id = "school-test"
EOF

start_safegated
for account in "lena lead" "vic viewer" "ada admin"; do
  echo "password-of-${account% *}" |
    "$SAFEGATECTL" user add ${account% *} --role ${account#* } --password-stdin --config "$WORK/safegate.toml" >/dev/null
done
check "accounts file: not readable by others" "640" "$(stat -c %a "$WORK/state/ui-users")"
start_ui
DASH="$(sed -n 's|.* dashboard=\(https://[^ ]*\)|\1|p' <<<"$READY_LINE")"
check "the ready line names the HTTPS dashboard" "yes" "$([[ "$DASH" == https://127.0.0.1:*/ ]] && echo yes || echo "$READY_LINE")"
check "a self-signed certificate for the listen address" "yes" \
  "$(openssl x509 -in "$WORK/state/dashboard.crt" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' && echo yes || echo no)"
check "its key is the owner's alone" "600" "$(stat -c %a "$WORK/state/dashboard.key")"
has() { grep -qF -- "$1" <<<"$2" && echo yes || echo no; }

# A child's blocked query and access request, as in integration.access_requests.
dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 casino.example.test >/dev/null
tok="$(curl -s -H 'Host: casino.example.test' "http://127.0.0.1:$UI_PORT/" | sed -n 's|.*name="token" value="\([^"]*\)".*|\1|p')"
curl -s -o /dev/null -H 'Host: casino.example.test' --data-urlencode "token=$tok" --data 'kind=access' \
  --data-urlencode 'reason=science project' "http://127.0.0.1:$UI_PORT/"

# c JAR PATH [curl args]: a request with that cookie jar; the status goes to $WORK/status.
c() {
  local jar="$WORK/$1.jar" path="$2"; shift 2
  curl -sk -c "$jar" -b "$jar" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@" \
    "${DASH%/}$path" >"$WORK/status"
  cat "$WORK/body"
}
# signin JAR USER PASSWORD: the sign-in form, then the post.
signin() {
  local t
  t="$(c "$1" /login | sed -n 's|.*name="token" value="\([^"]*\)".*|\1|p')"
  c "$1" /login --data-urlencode "token=$t" --data-urlencode "user=$2" --data-urlencode "password=$3"
}
csrf_of() { sed -n 's|.*name="csrf" value="\([^"]*\)".*|\1|p' <<<"$1" | head -1; }

c anon / >/dev/null
check "signed out: / goes to the sign-in page" "303 /login" "$(cat "$WORK/status") $(sed -n 's/^Location: \([^\r]*\).*/\1/p' "$WORK/headers")"
c anon /requests >/dev/null
check "signed out: /requests too" "303" "$(cat "$WORK/status")"
body="$(c anon /login --data 'token=1.00&user=lena&password=password-of-lena')"
check "sign-in without a good form token: 403" "403" "$(cat "$WORK/status")"

body="$(signin lena lena not-her-password)"
check "wrong password: 401" "401" "$(cat "$WORK/status")"
check "wrong password: said plainly" "yes" "$(has 'Wrong account or password.' "$body")"
signin lena lena password-of-lena >/dev/null
check "right password: 303 to the overview" "303" "$(cat "$WORK/status")"
cookie="$(grep -i '^Set-Cookie:' "$WORK/headers" | tr -d '\r')"
check "session cookie: __Host-, HttpOnly, Secure, SameSite=Strict" "yes" \
  "$([[ "$cookie" == *"__Host-sg_session="*"; Path=/; HttpOnly; SameSite=Strict; Secure" ]] && echo yes || echo "$cookie")"
body="$(c lena /)"
check "overview: the real dig's incident" "yes" "$(has '<td>casino.example.test</td><td>gambling</td><td>block</td>' "$body")"
check "overview: one request waiting" "yes" "$(has 'Requests waiting <strong>1</strong>' "$body")"
check "overview: the group is amber while a request waits" "yes" \
  "$(has 'pupils</a></th><td><span class="rag rag-amber">Amber</span></td><td>1</td>' "$body")"
check "overview: the block in the hour chart and the category chart" "yes" \
  "$(has '<th scope="row">gambling</th><td>1</td>' "$body")"
body="$(c lena '/incidents?category=gambling')"
check "search by category: the incident" "200 yes" "$(cat "$WORK/status") $(has '<td>casino.example.test</td>' "$body")"
DEVICE="$(sed -n 's|.*href="/device?client=\([^"]*\)".*|\1|p' <<<"$body" | head -1)"
check "devices are pseudonyms, not addresses" "yes" "$([[ "$DEVICE" == c-* ]] && echo yes || echo "$DEVICE")"
check "search by another category: nothing" "yes" "$(has 'No incident matches.' "$(c lena '/incidents?category=adult')")"
check "search by group and day" "yes" \
  "$(has '<td>casino.example.test</td>' "$(c lena "/incidents?group=pupils&since=$(date -u +%F)&until=$(date -u +%F)")")"
q() { "$SAFEGATECTL" incidents --json --socket "$WORK/state/control.sock" "$@" | wc -l; }
check "safegatectl incidents: by category, group, day and device" "1 0 1 1 0 1" \
  "$(q --category gambling) $(q --category adult) $(q --group pupils --since "$(date -u +%F)")\
 $(q --client "$DEVICE") $(q --client "$DEVICE" --alerts) $(q --until "$(date -u -d tomorrow +%F)")"
body="$(c lena '/incidents?since=yesterday')"
check "a bad date: 400, said where" "400 yes" "$(cat "$WORK/status") $(has 'From: &quot;yesterday&quot; is not a date' "$body")"
body="$(c lena "/device?client=$DEVICE")"
check "device page: its week" "200 yes" "$(cat "$WORK/status") $(has 'Blocks <strong>1</strong>pupils' "$body")"
c lena '/incidents.csv?category=gambling' >/dev/null
check "CSV export: a download" "200 yes" \
  "$(cat "$WORK/status") $(grep -qi '^Content-Disposition: attachment; filename="incidents.csv"' "$WORK/headers" && echo yes || echo no)"
check "CSV export: header and the one row" "2 yes" \
  "$(wc -l <"$WORK/body") $(grep -q "^[0-9T:-]*Z,$DEVICE,pupils,casino.example.test,gambling,block,0,dns" "$WORK/body" && echo yes || echo no)"
body="$(c lena /requests)"
check "requests: the child's reason" "yes" "$(has '<td>science project</td>' "$body")"
CSRF="$(csrf_of "$body")"
ID="$("$SAFEGATECTL" requests list --json --socket "$WORK/state/control.sock" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')"

c lena /requests/decide --data "request=$ID&action=approve&minutes=60" >/dev/null
check "no CSRF token: 403" "403" "$(cat "$WORK/status")"
c lena /requests/decide --data "csrf=0000&request=$ID&action=approve&minutes=60" >/dev/null
check "wrong CSRF token: 403" "403" "$(cat "$WORK/status")"
check "refused posts changed nothing" "1" "$("$SAFEGATECTL" requests list --state pending --json --socket "$WORK/state/control.sock" | wc -l)"

signin vic vic password-of-vic >/dev/null
vcsrf="$(csrf_of "$(c vic /requests)")"
check "viewer: no decision buttons" "no" "$(has 'value="approve"' "$(cat "$WORK/body")")"
check "viewer: no incidents" "no" "$(has 'Latest incidents' "$(c vic /)")"
check "viewer: the group's counts" "yes" "$(has '<th scope="row">pupils</th>' "$(c vic /)")"
for path in /incidents /incidents.csv "/device?client=$DEVICE" /exceptions; do
  c vic "$path" >/dev/null
  check "viewer: $path refused" "403" "$(cat "$WORK/status")"
done
c vic /requests/decide --data "csrf=$vcsrf&request=$ID&action=approve&minutes=60" >/dev/null
check "viewer: deciding is refused" "403" "$(cat "$WORK/status")"

body="$(c lena /requests/decide --data "csrf=$CSRF&request=$ID&action=approve&minutes=60&note=science")"
check "lead: approve" "200" "$(cat "$WORK/status")"
check "lead: told what happened" "yes" "$(has "Request $ID approved: casino.example.test for 127.0.0.1." "$body")"
check "the exception names the lead" "yes" \
  "$(has 'for lena (dashboard)' "$("$SAFEGATECTL" exceptions list --json --socket "$WORK/state/control.sock")")"
check "dig after approval: the upstream's answer" "192.0.2.1" \
  "$(dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 +short casino.example.test)"

body="$(c lena /exceptions)"
check "exceptions: the approved one" "yes" "$(has '<td>device 127.0.0.1</td><td>casino.example.test</td>' "$body")"
XID="$(sed -n 's|.*name="exception" value="\([0-9]*\)".*|\1|p' <<<"$body" | head -1)"
c lena /exceptions/end --data "exception=$XID" >/dev/null
check "ending without CSRF: 403" "403" "$(cat "$WORK/status")"
body="$(c lena /exceptions/end --data "csrf=$CSRF&exception=$XID")"
check "ending an exception" "200 yes" "$(cat "$WORK/status") $(has "Exception $XID ended." "$body")"
check "dig after ending it: blocked again" "NXDOMAIN" \
  "$(dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 casino.example.test | sed -n 's/.*status: \([A-Z]*\).*/\1/p')"

# A pause (safegatectl pause) is on the same page, says "everything", and ends the same way.
"$SAFEGATECTL" pause --group pupils --minutes 30 --socket "$WORK/state/control.sock" >/dev/null
body="$(c lena /exceptions)"
check "exceptions: a group's pause is listed" "yes" \
  "$(has '<td>pause</td><td>group pupils</td><td>everything</td>' "$body")"
PID_X="$(sed -n 's|.*name="exception" value="\([0-9]*\)".*|\1|p' <<<"$body" | head -1)"
check "dig during the pause: allowed" "192.0.2.1" \
  "$(dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 +short casino.example.test)"
body="$(c lena /exceptions/end --data "csrf=$CSRF&exception=$PID_X")"
check "ending the pause" "200 yes" "$(cat "$WORK/status") $(has "Exception $PID_X ended." "$body")"
check "dig after the pause: blocked again" "NXDOMAIN" \
  "$(dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 casino.example.test | sed -n 's/.*status: \([A-Z]*\).*/\1/p')"

# A child's "this page may be against the law" (the hotline is on): the third button, the
# thank-you, the lead forwards it, and the outbox holds a URL-only report with nothing about
# the child.
page="$(curl -s -H 'Host: casino.example.test' "http://127.0.0.1:$UI_PORT/")"
check "block page: the may-be-illegal button (hotline on)" "yes" "$(has 'value="suspected-illegal"' "$page")"
tok="$(sed -n 's|.*name="token" value="\([^"]*\)".*|\1|p' <<<"$page")"
body="$(curl -s -H 'Host: casino.example.test' --data-urlencode "token=$tok" --data 'kind=suspected-illegal' \
  --data-urlencode 'reason=my friend Sam sent me this' "http://127.0.0.1:$UI_PORT/")"
check "the child is thanked" "yes" "$(has 'Thank you for telling us.' "$body")"
body="$(c lena /requests)"
check "requests: forward or close, no minutes" "yes" "$(has '>Forward to the hotline</button>' "$body")"
RID="$("$SAFEGATECTL" requests list --state pending --json --socket "$WORK/state/control.sock" |
  python3 -c 'import json,sys; print([r["id"] for r in map(json.loads, sys.stdin) if r["kind"] == "suspected-illegal"][0])')"
body="$(c lena /requests/decide --data "csrf=$CSRF&request=$RID&action=approve&category=child-abuse")"
check "lead: forwarded" "200 yes" "$(cat "$WORK/status") $(has "Request $RID forwarded to the hotline as child-abuse" "$body")"
report="$(sqlite3 "$WORK/state/outbox.sqlite" "SELECT kind || ' ' || destination || ' ' || payload FROM outbox")"
check "outbox: one hotline report" "1" "$(grep -c '^hotline-report hotline {' <<<"$report")"
check "report: the page, the category, reporter child" "yes yes yes" \
  "$(has '"url":"http://casino.example.test/"' "$report") $(has '"suspected_content":"child-sexual-abuse-material"' "$report") $(has '"reporter_role":"child"' "$report")"
check "report: nothing about the child" "no no no" \
  "$(has '127.0.0.1' "$report") $(has "$DEVICE" "$report") $(has 'Sam' "$report")"
check "report: valid against docs/hotline-report.schema.json" "0" \
  "$(sqlite3 "$WORK/state/outbox.sqlite" "SELECT payload FROM outbox WHERE kind = 'hotline-report'" |
     python3 "$SRC/tests/support/validate_json_schema.py" "$SRC/docs/hotline-report.schema.json" >"$WORK/schema.out" 2>&1; echo $?)"
check "forwarded twice: refused" "1" \
  "$("$SAFEGATECTL" requests approve "$RID" --category child-abuse --socket "$WORK/state/control.sock" >/dev/null 2>&1; echo $?)"

c lena /audit >/dev/null
check "lead: no audit log" "403" "$(cat "$WORK/status")"
signin ada ada password-of-ada >/dev/null
body="$(c ada /audit)"
check "admin: the audit log" "200" "$(cat "$WORK/status")"
check "audit: the approval, by whom" "yes" "$(has "<td>lena</td><td>127.0.0.1</td><td>approve</td><td>request $ID casino.example.test for 127.0.0.1, 60 minutes</td>" "$body")"
check "audit: the failed sign-in" "yes" "$(has '<td>lena</td><td>127.0.0.1</td><td>login_failed</td>' "$body")"
check "audit: the refused forgery" "yes" "$(has '<td>csrf_refused</td>' "$body")"
check "audit: a viewer's look at the counts" "yes" "$(has '<td>vic</td><td>127.0.0.1</td><td>view_counts</td>' "$body")"
check "audit: views of incident data" "yes" "$(has '<td>view_incidents</td>' "$body")"
check "audit: the search, with its filter" "yes" "$(has '<td>view_incidents</td><td>category=gambling: 1</td>' "$body")"
check "audit: the device page" "yes" "$(has "<td>view_device</td><td>$DEVICE</td>" "$body")"
check "audit: the export, with its size" "yes" "$(has '<td>export_incidents</td><td>category=gambling: 1 rows</td>' "$body")"
check "audit: the ended exception" "yes" "$(has "<td>end_exception</td><td>$XID</td>" "$body")"
check "audit: the forwarded report" "yes" "$(has "<td>forward_hotline</td><td>request $RID casino.example.test for 127.0.0.1, child-abuse, outbox" "$body")"

# Five wrong passwords lock the name; then even the right one waits.
for i in 1 2 3 4; do signin guess ada wrong-$i >/dev/null; done
body="$(signin guess ada wrong-5)"
check "fifth wrong password: locked" "yes" "$(has 'Signing in is locked for 15 minutes' "$body")"
body="$(signin guess ada password-of-ada)"
check "locked: the right password waits too" "429" "$(cat "$WORK/status")"
check "locked: Retry-After" "yes" "$(grep -qi '^Retry-After: [0-9]' "$WORK/headers" && echo yes || echo no)"
check "locked: audited" "yes" "$(grep -q '"action":"login_locked"' "$WORK/state/ui-audit.log" && echo yes || echo no)"
check "another account is not locked" "303" "$(signin other vic password-of-vic >/dev/null; cat "$WORK/status")"

# An account removed, or given a new password, is signed out at once.
signin vic2 vic password-of-vic >/dev/null
"$SAFEGATECTL" user remove vic --config "$WORK/safegate.toml" >/dev/null
c vic2 /requests >/dev/null
check "removed account: its session ends" "303" "$(cat "$WORK/status")"
echo "new-password-of-ada" |
  "$SAFEGATECTL" user add ada --role admin --password-stdin --config "$WORK/safegate.toml" >/dev/null
c ada /audit >/dev/null
check "new password: the old session ends" "303" "$(cat "$WORK/status")"
echo "oops" >>"$WORK/state/ui-users"
rc=0
echo "password-of-zoe" | "$SAFEGATECTL" user add zoe --role viewer --password-stdin \
  --config "$WORK/safegate.toml" >/dev/null 2>"$WORK/useradd.err" || rc=$?
check "a line it cannot read: user add refuses to rewrite the file" "2 yes" \
  "$rc $(grep -q 'ui-users:.*expected name:role:hash' "$WORK/useradd.err" && echo yes || echo no)"

c lena /logout --data "csrf=$CSRF" >/dev/null
check "sign out: back to sign-in" "303" "$(cat "$WORK/status")"
c lena / >/dev/null
check "signed out: the old session is gone" "303" "$(cat "$WORK/status")"

kill "$UI_PID"; wait "$UI_PID" || true; UI_PID=""
check "safegate-ui: no sanitizer report" "0" "$(grep -c 'Sanitizer' "$WORK/ui.log" || true)"
finish "dashboard: all checks passed"
