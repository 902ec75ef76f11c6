#!/bin/bash
# The block page's accessibility: every language (the six UN languages) in every age band, plus
# the "not blocked" and licensed-list pages and the pages that answer the ask-for-access form
# (filled in and submitted in the browser), and the dashboard (signed in, a request approved,
# incidents, a device, exceptions, the audit log, a forged form refused, five wrong passwords
# locking the account; a11y/dashboard.mjs), loaded in headless Chromium from the real
# safegate-ui (asking the real safegated) and checked by axe-core against the WCAG 2.2 A/AA
# rules: zero violations. A screenshot of each page is saved in $A11Y_SCREENSHOTS.
# The npm packages (axe-core, puppeteer-core) are pinned in a11y/package-lock.json and installed
# with `npm ci` into $A11Y_NODE_DIR once per lock file.
# Environment: SAFEGATED, SAFEGATE_UI, SAFEGATECTL, SAFEGATE_SOURCE_DIR, A11Y_NODE_DIR,
# A11Y_SCREENSHOTS.
set -euo pipefail

SRC="${SAFEGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
SAFEGATED="${SAFEGATED:?set SAFEGATED to the safegated binary}"
SAFEGATE_UI="${SAFEGATE_UI:?set SAFEGATE_UI to the safegate-ui binary}"
SAFEGATECTL="${SAFEGATECTL:?set SAFEGATECTL to the safegatectl binary}"
NODE_DIR="${A11Y_NODE_DIR:?set A11Y_NODE_DIR to a folder for the npm packages}"
SHOTS="${A11Y_SCREENSHOTS:?set A11Y_SCREENSHOTS to a folder for the screenshots}"
source "$SRC/tests/support/checks.sh"
source "$SRC/tests/integration/ui/lib.sh"
for tool in node npm chromium; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (packaging/dev/install-deps.sh installs it)"; exit 1; }
done

# The pinned packages, installed again only when the lock file changed.
mkdir -p "$NODE_DIR" "$SHOTS"
if ! cmp -s "$SRC/tests/integration/ui/a11y/package-lock.json" "$NODE_DIR/package-lock.json" ||
   [ ! -d "$NODE_DIR/node_modules/axe-core" ]; then
  cp "$SRC/tests/integration/ui/a11y/package.json" "$SRC/tests/integration/ui/a11y/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$SRC"/tests/integration/ui/a11y/*.mjs "$NODE_DIR/"

ui_test_init a11y

echo "casino.example.test" >"$WORK/gambling.txt"
start_upstream  # answers every A with 192.0.2.1: what an approved name gets
echo "secret-illegal.example.test" >"$WORK/iwf.txt"
# write_config PROFILE: the client (127.0.0.1, Chromium) is in a group of that profile.
write_config() {
  cat >"$WORK/safegate.toml" <<EOF
[daemon]
state_dir = "$WORK/state"
[dns]
listen = ["127.0.0.1:0"]
upstreams = ["127.0.0.1:$UP_PORT"]
[control]
socket = "control.sock"
[ui]
help_links = ["Childline 0800 1111|https://www.childline.org.uk/", "Call 0800 1111|tel:08001111"]
[policy]
default_group = "children"
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
name = "children"
profile = "$1"
EOF
}
reload() {
  python3 - "$WORK/state/control.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"v":1,"id":1,"cmd":"reload"}\n')
reply = json.loads(s.recv(65536).decode().splitlines()[0])
sys.exit(0 if reply.get("ok") else 1)
PY
}

write_config "13-17"
start_safegated
echo "password-of-ada" |
  "$SAFEGATECTL" user add ada --role admin --password-stdin --config "$WORK/safegate.toml" >/dev/null
start_ui --dashboard-listen 127.0.0.1:0
PORT="$UI_PORT"
DASH="$(sed -n 's|.* dashboard=\(https://[^ ]*\)|\1|p' <<<"$READY_LINE")"

langs=(ar en es fr ru zh)
for band in "13-17:teen" "9-12:junior" "under-9:young"; do
  profile="${band%%:*}"
  write_config "$profile"
  reload
  pages=()
  for l in "${langs[@]}"; do pages+=("casino.example.test?lang=$l"); done
  if [ "$profile" = "13-17" ]; then
    pages+=("allowed.example.test?lang=en" "allowed.example.test?lang=ar"
            "secret-illegal.example.test?lang=en"
            # The form: sent (English), already asked (Arabic), a wrong-block report (Chinese).
            "casino.example.test?lang=en!access" "casino.example.test?lang=ar!access"
            "casino.example.test?lang=zh!wrong-block")
  fi
  rc=0
  node "$NODE_DIR/check_pages.mjs" "$PORT" "$SHOTS" "${band##*:}" "${pages[@]}" \
    >"$WORK/axe-$profile.out" 2>&1 || rc=$?
  cat "$WORK/axe-$profile.out"
  check "axe: no WCAG 2.2 A/AA violation on the $profile pages" "0" "$rc"
  check "axe: every $profile page was checked" "${#pages[@]}" \
    "$(grep -c '^ok  \|^FAIL' "$WORK/axe-$profile.out" || true)"
done
check "the form in the browser: sent" "yes" \
  "$(grep -q 'casino.example.test?lang=en!access: HTTP 200, lang=en' "$WORK/axe-13-17.out" && echo yes || echo no)"
check "the form in the browser: asked twice is one request" "1" \
  "$("$SAFEGATECTL" requests list --json --socket "$WORK/state/control.sock" | grep -c '"kind":"access"')"
check "the form in the browser: the reason typed arrived" "yes" \
  "$("$SAFEGATECTL" requests list --json --socket "$WORK/state/control.sock" | grep -q '"reason":"For my homework"' && echo yes || echo no)"
# The dashboard: sign in (after a wrong password), approve the request the form filed above,
# the incidents (a real dig's block), its device, the exceptions, the audit log; axe on every
# page.
dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 casino.example.test >/dev/null
rc=0
node "$NODE_DIR/dashboard.mjs" "$DASH" "$SHOTS" ada password-of-ada >"$WORK/axe-dashboard.out" 2>&1 || rc=$?
cat "$WORK/axe-dashboard.out"
check "axe: no WCAG 2.2 A/AA violation on the dashboard pages" "0" "$rc"
check "axe: every dashboard page was checked" "9" "$(grep -c '^ok  \|^FAIL' "$WORK/axe-dashboard.out" || true)"
check "dashboard in the browser: the request is approved" "1" \
  "$("$SAFEGATECTL" requests list --state approved --json --socket "$WORK/state/control.sock" | wc -l)"
check "dashboard in the browser: its exception is in force" "yes" \
  "$("$SAFEGATECTL" exceptions list --json --socket "$WORK/state/control.sock" | grep -q '"granted_by":"root for ada (dashboard)"' && echo yes || echo no)"
check "dig after the approval in the browser: the upstream's answer" "192.0.2.1" \
  "$(dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=3 +short casino.example.test)"
check "Arabic is right to left in the browser" "yes" \
  "$(grep -q 'casino.example.test?lang=ar: HTTP 403, lang=ar dir=rtl' "$WORK/axe-13-17.out" && echo yes || echo no)"
check "a screenshot per language and band" "yes" \
  "$(n=0; for b in teen junior young; do for l in "${langs[@]}"; do [ -s "$SHOTS/$b-casino-lang_$l.png" ] && n=$((n+1)); done; done; [ "$n" = 18 ] && echo yes || echo "$n")"

finish "block page accessibility: all checks passed (screenshots in $SHOTS)"
