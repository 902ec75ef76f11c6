# Shared by the safegate-ui script tests (sourced): a work folder removed on exit, and the real
# safegated and safegate-ui started on $WORK/safegate.toml and stopped by their PIDs.
#   ui_test_init NAME         WORK=/tmp/safegate-NAME.XXXXXX, the EXIT trap
#   start_safegated           DNS_PORT = its DNS port (from its ready line)
#   start_ui [ARGS...]        UI_PORT = the page's port, READY_LINE = its whole ready line
#   start_upstream            UP_PORT = a loopback DNS server answering every A with 192.0.2.1
# Needs SRC, SAFEGATED, SAFEGATE_UI and tests/support/checks.sh sourced (FAILURES, read_ready_port).
SG_PID=""
UI_PID=""
UP_PID=""

ui_test_init() {
  WORK="$(mktemp -d "/tmp/safegate-$1.XXXXXX")"
  trap ui_test_cleanup EXIT
}

ui_test_cleanup() {
  set +e
  [ -n "$UI_PID" ] && kill "$UI_PID" 2>/dev/null && wait "$UI_PID" 2>/dev/null
  [ -n "$SG_PID" ] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null
  [ -n "$UP_PID" ] && kill "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null
  if [ "$FAILURES" -ne 0 ]; then
    for f in "$WORK"/*.log; do echo "---- $f"; tail -20 "$f"; done
  fi
  rm -rf "$WORK"
}

start_safegated() {
  mkfifo "$WORK/sg.fifo"
  "$SAFEGATED" --config "$WORK/safegate.toml" >"$WORK/sg.fifo" 2>"$WORK/safegated.log" &
  SG_PID=$!
  DNS_PORT="$(read_ready_port "$WORK/sg.fifo" "safegated: ready dns=127.0.0.1:")"
  [ -n "$DNS_PORT" ] || { echo "FAIL: safegated did not start"; cat "$WORK/safegated.log"; exit 1; }
}

# Its only stdout line is the ready line:
# "safegate-ui: ready url=http://127.0.0.1:PORT/ languages=N[ metrics=URL]".
start_ui() {
  mkfifo "$WORK/ui.fifo"
  "$SAFEGATE_UI" --config "$WORK/safegate.toml" --listen 127.0.0.1:0 "$@" >"$WORK/ui.fifo" \
    2>"$WORK/ui.log" &
  UI_PID=$!
  local fd
  exec {fd}<"$WORK/ui.fifo"
  READY_LINE=""
  IFS= read -r -t 20 -u "$fd" READY_LINE || true
  exec {fd}<&-
  UI_PORT="$(sed -n 's|^safegate-ui: ready url=http://127.0.0.1:\([0-9]*\)/.*|\1|p' <<<"$READY_LINE")"
  [ -n "$UI_PORT" ] || { echo "FAIL: safegate-ui did not start"; cat "$WORK/ui.log"; exit 1; }
}

start_upstream() {
  mkfifo "$WORK/up.fifo"
  python3 "$SRC/tests/support/udp_dns_server.py" >"$WORK/up.fifo" 2>"$WORK/upstream.log" &
  UP_PID=$!
  UP_PORT="$(read_ready_port "$WORK/up.fifo" "ready port=")"
  [ -n "$UP_PORT" ] || { echo "FAIL: the test upstream did not start"; exit 1; }
}
