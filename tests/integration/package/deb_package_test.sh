#!/usr/bin/env bash
# The Debian package: built with CPack from this build tree, installed with dpkg into a scratch
# root (dpkg --root, maintainer scripts run with $DPKG_ROOT), and its binaries run from that
# root in a private mount namespace (the host's libraries bound in): safegatectl check-config on
# the installed conffile, and safegated answering a real dig with the installed config and
# lists. Needs root (CI runs as root). Environment: SAFEGATE_BUILD_DIR.
set -euo pipefail
BUILD="${SAFEGATE_BUILD_DIR:?set SAFEGATE_BUILD_DIR to the cmake build tree}"
WORK="$(mktemp -d /tmp/safegate-deb.XXXXXX)"
ROOT="$WORK/root"
PID=""     # unshare, in the background
DAEMON=""  # its child, the installed safegated (unshare --fork ignores SIGTERM itself)
cleanup() {
  if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null || true; fi
  if [ -n "$PID" ]; then wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "FAIL: must run as root (CI runs as root)"; exit 1; }

# shellcheck source=tests/support/checks.sh
. "$(dirname "$0")/../../support/checks.sh"

# ---- build the .deb ----
cpack --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 ||
  { cat "$WORK/cpack.log"; echo "FAIL: cpack"; exit 1; }
DEB="$(ls "$WORK"/pkg/safegate_*.deb)"
echo "     built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"
check "the config is a conffile" "/etc/safegate/safegate.toml" \
  "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)"
check "library dependencies come from dpkg-shlibdeps" "yes" \
  "$(dpkg-deb -f "$DEB" Depends | grep -q 'libc6 (>=' && echo yes || echo no)"

# ---- install into a scratch root ----
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates" "$ROOT/etc"
touch "$ROOT/var/lib/dpkg/status" "$ROOT/var/lib/dpkg/available"
# An /etc/passwd and /etc/group like a fresh system's, for systemd-sysusers to add to.
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
# --force-depends: the scratch root has no packages; the binaries use the host's libraries.
dpkg --root="$ROOT" --force-script-chrootless --force-depends --log="$WORK/dpkg.log" \
  -i "$DEB" >"$WORK/dpkg.out" 2>&1 || { cat "$WORK/dpkg.out"; echo "FAIL: dpkg -i"; exit 1; }
check "dpkg records the package as installed" "install ok installed" \
  "$(dpkg --root="$ROOT" -s safegate 2>/dev/null | sed -n 's/^Status: //p')"
for f in usr/sbin/safegated usr/bin/safegatectl usr/bin/safegate-ui \
         usr/share/safegate/translations/en.toml usr/share/safegate/translations/ar.toml \
         etc/safegate/safegate.toml \
         usr/lib/systemd/system/safegated.service usr/lib/systemd/system/safegate-ui.service \
         usr/lib/sysusers.d/safegate.conf \
         usr/lib/tmpfiles.d/safegate.conf usr/lib/safegate/safegate-firewall.sh \
         usr/share/man/man8/safegated.8.gz usr/share/man/man8/safegatectl.8.gz \
         usr/share/safegate/lists.toml usr/share/safegate/examples/primary-school/safegate.toml \
         usr/share/doc/safegate/operations.md; do
  check "installed /$f" "yes" "$([ -e "$ROOT/$f" ] && echo yes || echo no)"
done
check "postinst created the safegate system user" "yes" \
  "$(grep -q '^safegate:' "$ROOT/etc/passwd" && echo yes || echo no)"
uid="$(awk -F: '$1 == "safegate" {print $3}' "$ROOT/etc/passwd")"
check "postinst created /var/lib/safegate for it, 0750" "$uid 750" \
  "$(stat -c '%u %a' "$ROOT/var/lib/safegate" 2>/dev/null)"
# safegate-ui is a user of its own: in the control socket's groups, not in safegate's group.
ui_uid="$(awk -F: '$1 == "safegate-ui" {print $3}' "$ROOT/etc/passwd")"
check "postinst created the safegate-ui system user" "yes" "$([ -n "$ui_uid" ] && echo yes || echo no)"
members() { awk -F: -v g="$1" '$1 == g {print $4}' "$ROOT/etc/group"; }
check "safegate-control: the daemon and the UI" "safegate,safegate-ui" "$(members safegate-control)"
check "safegate-admin: the UI (the dashboard's decisions)" "safegate-ui" "$(members safegate-admin)"
check "the UI is not in the daemon's group" "" "$(members safegate)"
check "postinst created /var/lib/safegate-ui for it, 0750" "$ui_uid 750" \
  "$(stat -c '%u %a' "$ROOT/var/lib/safegate-ui" 2>/dev/null)"
for page in safegated safegatectl; do
  check "man page $page(8) renders without warnings" "" \
    "$(zcat "$ROOT/usr/share/man/man8/$page.8.gz" | groff -man -Tutf8 -ww -z 2>&1)"
done
check "safegated(8) lists the options it parses" "yes" \
  "$(zcat "$ROOT/usr/share/man/man8/safegated.8.gz" | grep -q 'state\\-dir' && echo yes || echo no)"

if command -v deb-systemd-helper >/dev/null; then
  check "postinst enabled the service in the root" "yes" \
    "$([ -L "$ROOT/etc/systemd/system/multi-user.target.wants/safegated.service" ] && echo yes || echo no)"
fi

# ---- run the installed binaries inside the root ----
# A private mount namespace: the host's libraries, /dev and a /proc are bound into the root for
# the commands below and vanish with it. unshare forks the command (its child is safegated
# itself: sh and chroot exec) and waits for it; --kill-child also stops it if unshare dies.
MULTIARCH="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
INROOT_SH='
    root="$1"; multiarch="$2"; shift 2
    for d in "usr/lib/$multiarch" usr/lib64; do
      [ -d "/$d" ] || continue
      mkdir -p "$root/$d" && mount --bind "/$d" "$root/$d"
    done
    [ -e "$root/lib64" ] || ln -s usr/lib64 "$root/lib64"
    [ -e "$root/lib" ] || ln -s usr/lib "$root/lib"
    mkdir -p "$root/dev" "$root/proc" "$root/tmp"
    mount --rbind /dev "$root/dev"
    mount -t proc proc "$root/proc"
    exec chroot "$root" "$@"
'
inroot() {
  unshare --fork --kill-child=SIGTERM --mount --propagation private \
    sh -c "$INROOT_SH" sh "$ROOT" "$MULTIARCH" "$@"
}
out="$(inroot /usr/bin/safegatectl check-config /etc/safegate/safegate.toml 2>&1)" || true
check "installed safegatectl checks the installed config" "ok" \
  "$(printf '%s' "$out" | grep -q '^/etc/safegate/safegate.toml: ok' && echo ok || echo "$out")"
out="$(inroot /usr/bin/safegate-ui --config /etc/safegate/safegate.toml --check 2>&1)" || true
check "installed safegate-ui finds the installed translations" \
  "translations=/usr/share/safegate/translations languages=6" \
  "$(printf '%s' "$out" | grep -o 'translations=.*' || echo "$out")"

# safegated from the root with the installed config and lists; DNS on a free loopback port. Its
# stdout is a FIFO read until the ready line (the readiness signal; no polling).
mkfifo "$WORK/stdout"
unshare --fork --kill-child=SIGTERM --mount --propagation private \
  sh -c "$INROOT_SH" sh "$ROOT" "$MULTIARCH" /usr/sbin/safegated \
  --config /etc/safegate/safegate.toml --listen 127.0.0.1:0 --upstream 127.0.0.1:9 \
  >"$WORK/stdout" 2>"$WORK/safegated.err" &
PID=$!
DAEMON=""
exec 3<"$WORK/stdout"
port=""
while IFS= read -r -t 30 line <&3; do
  case "$line" in
    "safegated: ready dns=127.0.0.1:"*) port="${line#safegated: ready dns=127.0.0.1:}"; port="${port%% *}"; break ;;
  esac
done
check "installed safegated becomes ready" "yes" "$([ -n "$port" ] && echo yes || echo no)"
DAEMON="$(pgrep -P "$PID" || true)"
if [ -n "$port" ]; then
  check "installed safegated blocks a name of the bundled lists" "NXDOMAIN" \
    "$(dig @127.0.0.1 -p "$port" +time=2 +tries=1 10bet.com | grep -o NXDOMAIN | head -1)"
  check "its state went to the root's /var/lib/safegate" "yes" \
    "$([ -e "$ROOT/var/lib/safegate/incidents.sqlite" ] && echo yes || echo no)"
  control_gid="$(awk -F: '$1 == "safegate-control" {print $3}' "$ROOT/etc/group")"
  check "the control socket is in /run/safegate, 0660, group safegate-control" "660 $control_gid" \
    "$(stat -c '%a %g' "$ROOT/run/safegate/control.sock" 2>/dev/null)"
  # What the safegate-ui user can do, as the unit starts it (its groups from the root's
  # /etc/group): ask safegated, but not read the children's data.
  cp /usr/bin/setpriv /bin/ls "$ROOT/usr/bin/"
  as_ui() { inroot /usr/bin/setpriv --reuid=safegate-ui --regid=safegate-ui --init-groups "$@"; }
  out="$(as_ui /usr/bin/safegatectl status --json --config /etc/safegate/safegate.toml 2>&1)" || true
  check "safegate-ui may ask safegated over the socket" "yes" \
    "$(printf '%s' "$out" | grep -q '"pid"' && echo yes || echo "$out")"
  check "safegate-ui cannot read /var/lib/safegate" "denied" \
    "$(as_ui /usr/bin/ls /var/lib/safegate 2>&1 | grep -o 'Permission denied' | head -1 | sed 's/Permission denied/denied/')"
fi
check "the daemon runs as unshare's child" "safegated" "$(ps -o comm= -p "${DAEMON:-0}" || true)"
[ -n "$DAEMON" ] && kill "$DAEMON"
# unshare exits with its child: waiting for it is waiting for safegated to stop.
wait "$PID" 2>/dev/null || true
PID=""
DAEMON=""
exec 3<&-
[ "$FAILURES" -eq 0 ] || { echo "---- safegated stderr"; tail -20 "$WORK/safegated.err"; }

# ---- purge removes the children's data ----
dpkg --root="$ROOT" --force-script-chrootless --force-depends --log="$WORK/dpkg.log" \
  --purge safegate >"$WORK/purge.out" 2>&1 || { cat "$WORK/purge.out"; FAILURES=$((FAILURES + 1)); }
check "purge removes /var/lib/safegate-ui (accounts, audit log)" "no" \
  "$([ -e "$ROOT/var/lib/safegate-ui" ] && echo yes || echo no)"
check "purge removes /var/lib/safegate (incidents, pseudonym secret)" "no" \
  "$([ -e "$ROOT/var/lib/safegate" ] && echo yes || echo no)"
check "purge removes the conffile" "no" \
  "$([ -e "$ROOT/etc/safegate/safegate.toml" ] && echo yes || echo no)"

finish "all package checks passed"
