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

# `wait_for SECONDS COMMAND...`: runs COMMAND every 0.1 s until it succeeds; 1 after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# `free_tcp_port`: a TCP port on 127.0.0.1 that is free right now (for servers such as unbound
# that cannot report a port the kernel chose).
free_tcp_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# `read_ready_port FIFO PREFIX`: reads FIFO (a server's stdout) until a line starting with
# PREFIX — its readiness signal, e.g. "safegated: ready dns=127.0.0.1:" — and prints the port
# that follows (up to the next space); nothing after 20 s. The rest of the output is drained
# in the background so the server never blocks on a full pipe.
read_ready_port() {
  local line port=""
  exec {ready_fd}<"$1"
  while IFS= read -r -t 20 -u "$ready_fd" line; do
    case "$line" in
      "$2"*) port="${line#"$2"}"; port="${port%% *}"; break ;;
    esac
  done
  cat <&"$ready_fd" >/dev/null &
  exec {ready_fd}<&-
  echo "$port"
}
