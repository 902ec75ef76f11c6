# Shell helpers for the script tests (sourced, not run): `check NAME EXPECTED ACTUAL` prints
# "ok" or "FAIL" with both values and counts failures in FAILURES; `finish MESSAGE` exits 1
# with the count when any check failed, else prints MESSAGE.
FAILURES=0

check() {
  if [ "$2" = "$3" ]; then
    echo "ok   - $1"
  else
    echo "FAIL - $1: expected [$2], got [$3]"
    FAILURES=$((FAILURES + 1))
  fi
}

finish() {
  if [ "$FAILURES" -ne 0 ]; then
    echo "$FAILURES check(s) failed"
    exit 1
  fi
  echo "$1"
}
