#!/usr/bin/env bash
# A dry run of the OpenWrt package without an OpenWrt SDK (none can run here): the package
# Makefile is evaluated by make against a stub of OpenWrt's build system, its install recipe
# runs against a staged `cmake --install` of this build tree, the resulting package root is
# checked, the procd init script is run with stub procd functions (the command line it
# registers, the reload signal, the refusal of a bad config), and the router profile config is
# checked with safegatectl. What this cannot check (the cross-build, the router's kernel and
# firewall) is listed in docs/operations.md "OpenWrt".
#   packaging/openwrt/check.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: check.sh BUILD_DIR}" && pwd)"
work="$(mktemp -d /tmp/safegate-openwrt.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/support/checks.sh
. "$src/tests/support/checks.sh"

# ---- the build's install tree, as OpenWrt's CMAKE_INSTALL stages it ----
DESTDIR="$work/stage" cmake --install "$build" --prefix /usr >"$work/install.log"

# ---- a stub of the OpenWrt build system ----
mkdir -p "$work/top/include"
cat >"$work/top/rules.mk" <<'MK'
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR:=$(TOPDIR)/build_dir
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR
MK
cat >"$work/top/include/package.mk" <<'MK'
PKG_BUILD_DIR:=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
MK
cat >"$work/top/include/cmake.mk" <<'MK'
CMAKE_OPTIONS:=
# BuildPackage: the package's fields (set inside `define Package/NAME`) are evaluated as
# OpenWrt's package.mk does; `vars` prints them, `install` runs the install recipe.
define BuildPackage
$(eval $(Package/$(1)))
vars:
	@echo "name=$(PKG_NAME) version=$(PKG_VERSION) release=$(PKG_RELEASE)"
	@echo "title=$(TITLE)"
	@echo "depends=$(DEPENDS)"
	@echo "userid=$(USERID)"
	@echo "conffiles=$(strip $(Package/$(1)/conffiles))"
	@echo "cmake=$(CMAKE_OPTIONS)"
install:
	$(call Package/$(1)/install,$(DEST))
endef
MK
vars="$(make --no-print-directory -C "$here" TOPDIR="$work/top" vars)"
echo "$vars" | sed 's/^/     /'
check "package name and version" "name=safegate version=0.1.0 release=1" "$(echo "$vars" | sed -n 1p)"
check "the TOML file is the conffile" "conffiles=/etc/safegate/safegate.toml" \
  "$(echo "$vars" | grep '^conffiles=')"
check "tests and benchmarks are off in the target build" "yes" \
  "$(echo "$vars" | grep -q 'SAFEGATE_BUILD_TESTS=OFF.*SAFEGATE_BUILD_BENCH=OFF' && echo yes || echo no)"
for dep in libcurl libopenssl re2 libsqlite3 libcap libnetfilter-queue kmod-nfnetlink-queue; do
  check "depends on $dep" "yes" "$(echo "$vars" | grep -q -- "+$dep\\b" && echo yes || echo no)"
done
make --no-print-directory -C "$here" TOPDIR="$work/top" PKG_INSTALL_DIR="$work/stage" \
  DEST="$work/root" install >"$work/recipe.log"
for f in usr/sbin/safegated usr/bin/safegatectl etc/safegate/safegate.toml etc/init.d/safegated \
         usr/lib/safegate/safegate-firewall.sh usr/share/safegate/lists.toml \
         usr/share/safegate/lists/sinfonietta/gambling.hosts; do
  check "package root has /$f" "yes" "$([ -e "$work/root/$f" ] && echo yes || echo no)"
done
check "the init script is executable" "yes" "$([ -x "$work/root/etc/init.d/safegated" ] && echo yes || echo no)"

# ---- the router profile is a valid config (with the bundled lists of this tree) ----
sed "s|/usr/share/safegate/lists.toml|$src/examples/lists.toml|" "$here/safegate.toml" \
  >"$work/safegate.toml"
check "the router profile passes check-config" "ok" \
  "$("$build/ui-helper/safegatectl" check-config "$work/safegate.toml" 2>&1 | grep -q ': ok' && echo ok || echo bad)"

# ---- the procd init script with stub procd functions ----
initrun() {  # initrun CONFIG FUNCTION: runs FUNCTION of the init script, printing procd calls
  sh -c '
    procd_open_instance() { echo "open"; }
    procd_set_param() { echo "param $*"; }
    procd_close_instance() { echo "close"; }
    procd_send_signal() { echo "signal $*"; }
    . "$1"
    SAFEGATECTL="$2"; CONFIG="$3"
    "$4"
  ' sh "$work/root/etc/init.d/safegated" "$build/ui-helper/safegatectl" "$1" "$2" 2>&1
}
out="$(initrun "$work/safegate.toml" start_service)"
check "start_service runs safegated on the TOML file" \
  "param command /usr/sbin/safegated --config $work/safegate.toml" \
  "$(echo "$out" | grep '^param command')"
check "procd restarts it after a crash" "yes" \
  "$(echo "$out" | grep -q '^param respawn 3600 5 5' && echo yes || echo no)"
check "reload sends SIGHUP" "signal safegated * HUP" "$(initrun "$work/safegate.toml" reload_service)"
printf '[dns]\nlisten = 53\n' >"$work/bad.toml"
out="$(initrun "$work/bad.toml" start_service || true)"
check "a config with errors is refused before procd starts anything" "no" \
  "$(echo "$out" | grep -q '^open' && echo yes || echo no)"

finish "all OpenWrt package checks passed"
