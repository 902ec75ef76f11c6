#!/bin/sh
# packaging/firewall/safegate-firewall.sh without root: iptables is replaced by a stub that
# records its arguments, so the test sees exactly what "apply" would install (with
# SAFEGATE_LAN_IF empty the DNS REDIRECT used to match the WAN side too).
set -u
SRC="${SAFEGATE_SOURCE_DIR:?run through ctest}"
FIREWALL="$SRC/packaging/firewall/safegate-firewall.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }

# The stub: logs every call; "-D" fails (no such rule), so remove's unhook loops end.
cat > "$WORK/ipt" <<'STUB'
#!/bin/sh
echo "$(basename "$0") $*" >> "$STUB_LOG"
case " $* " in *" -D "*) exit 1 ;; esac
exit 0
STUB
chmod +x "$WORK/ipt"
mkdir -p "$WORK/state"

run_fw() {  # run_fw LOGNAME ARGS... ; environment comes from the caller
  : > "$WORK/$1.log"
  log="$1"; shift
  STUB_LOG="$WORK/$log.log" IPTABLES="$WORK/ipt" IP6TABLES="$WORK/ipt" \
    SAFEGATE_STATE_DIR="$WORK/state" "$FIREWALL" "$@" 2> "$WORK/$log.err"
}

# 1. apply without a LAN interface: refused before any rule is touched.
(unset SAFEGATE_LAN_IF; run_fw nolan apply)
rc=$?
[ "$rc" -eq 1 ] || fail "apply without SAFEGATE_LAN_IF exited $rc, want 1"
grep -q "SAFEGATE_LAN_IF" "$WORK/nolan.err" || fail "no message naming SAFEGATE_LAN_IF: $(cat "$WORK/nolan.err")"
[ ! -s "$WORK/nolan.log" ] || fail "iptables was called: $(cat "$WORK/nolan.log")"

# 2. Set but empty, or blank, in a --config file: refused the same way.
printf 'SAFEGATE_LAN_IF=\n' > "$WORK/empty.conf"
run_fw emptyconf --config "$WORK/empty.conf" apply
rc=$?
[ "$rc" -eq 1 ] || fail "apply with SAFEGATE_LAN_IF= in --config exited $rc, want 1"
[ ! -s "$WORK/emptyconf.log" ] || fail "iptables was called with an empty SAFEGATE_LAN_IF"
SAFEGATE_LAN_IF=" " run_fw blank apply
rc=$?
[ "$rc" -eq 1 ] || fail "apply with a blank SAFEGATE_LAN_IF exited $rc, want 1"

# 3. With a LAN interface: every client-facing rule is limited to it.
SAFEGATE_LAN_IF=lan0 run_fw lan apply
rc=$?
[ "$rc" -eq 0 ] || fail "apply with SAFEGATE_LAN_IF=lan0 exited $rc: $(cat "$WORK/lan.err")"
grep -q -- "-A SAFEGATE_DNS -i lan0 -p udp --dport 53 -j REDIRECT" "$WORK/lan.log" ||
  fail "no UDP REDIRECT limited to lan0: $(cat "$WORK/lan.log")"
grep -q -- "-A SAFEGATE_DNS -i lan0 -p tcp --dport 53 -j REDIRECT" "$WORK/lan.log" ||
  fail "no TCP REDIRECT limited to lan0"
if grep -- "-A SAFEGATE_DNS " "$WORK/lan.log" | grep -qv -- "-i lan0"; then
  fail "a DNS redirect rule is not limited to lan0: $(grep -- '-A SAFEGATE_DNS ' "$WORK/lan.log")"
fi

# 4. remove and status need no LAN interface (cleaning up must always work).
(unset SAFEGATE_LAN_IF; run_fw remove remove) || fail "remove without SAFEGATE_LAN_IF failed"
grep -q -- "-X SAFEGATE_DNS" "$WORK/remove.log" || fail "remove did not delete SAFEGATE_DNS"
(unset SAFEGATE_LAN_IF; run_fw status status > /dev/null) || fail "status without SAFEGATE_LAN_IF failed"

[ "$FAILED" -eq 0 ] && echo "firewall_script_test: all passed"
exit "$FAILED"
