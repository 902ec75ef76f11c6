#!/bin/sh
# The shipped systemd unit's sandbox: `systemd-analyze security` rates it at most 2.5 (lower is
# better; docs/operations.md). Offline, so no running systemd and no installed unit are needed.
set -eu
unit="${SAFEGATE_SOURCE_DIR:?}/packaging/systemd/safegated.service"
if ! command -v systemd-analyze >/dev/null; then
  echo "FAIL: systemd-analyze not found (packaging/dev/install-deps.sh installs systemd)"
  exit 1
fi
out="$(systemd-analyze security --offline=true "$unit" 2>&1)" || true
score="$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
if [ -z "$score" ]; then
  printf 'FAIL: no exposure level in the output:\n%s\n' "$out"
  exit 1
fi
if ! awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; then
  echo "FAIL: exposure level $score is above 2.5; what still counts:"
  printf '%s\n' "$out" | grep '✗' || true
  exit 1
fi
echo "ok - safegated.service exposure level $score (target <= 2.5)"
