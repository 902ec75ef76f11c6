#!/bin/sh
# The shipped systemd units' sandbox: `systemd-analyze security` rates each at most 2.5 (lower is
# better; docs/operations.md). Offline, so no running systemd and no installed unit are needed.
set -eu
if ! command -v systemd-analyze >/dev/null; then
  echo "FAIL: systemd-analyze not found (packaging/dev/install-deps.sh installs systemd)"
  exit 1
fi
failed=0
for name in safegated.service safegate-ui.service; do
  unit="${SAFEGATE_SOURCE_DIR:?}/packaging/systemd/$name"
  out="$(systemd-analyze security --offline=true "$unit" 2>&1)" || true
  score="$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
  if [ -z "$score" ]; then
    printf 'FAIL: %s: no exposure level in the output:\n%s\n' "$name" "$out"
    failed=1
  elif ! awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; then
    echo "FAIL: $name: exposure level $score is above 2.5; what still counts:"
    printf '%s\n' "$out" | grep '✗' || true
    failed=1
  else
    echo "ok - $name exposure level $score (target <= 2.5)"
  fi
done
exit "$failed"
