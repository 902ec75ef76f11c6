#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking safegate needs.
# Idempotent: asks dpkg first and runs apt-get only for what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev clang-format
  # libraries named by the issues
  libre2-dev libsqlite3-dev sqlite3 libssl-dev openssl libcurl4-openssl-dev
  libnetfilter-queue-dev libmnl-dev libgtest-dev libgmock-dev libbenchmark-dev
  # libraries we chose (docs/dependencies.md says why)
  libidn2-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libpcap-dev zlib1g-dev
  libxxhash-dev libcap-dev libcpp-httplib-dev libnghttp2-dev
  # real peers for integration tests and benchmarks
  dnsutils dnsperf dnsdist unbound wrk iptables iproute2 systemd groff-base curl python3 python3-cryptography
  nghttp2-server
  python3-jsonschema python3-aiosmtpd openssl
  # the block page's accessibility test: headless Chromium, a CJK font for its screenshots
  chromium fonts-wqy-microhei
)
# Node.js for that test (axe-core and puppeteer-core come from npm, pinned in
# tests/integration/ui/a11y/package-lock.json): Debian's, unless a node is already installed.
command -v node >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Packaged daemons (unbound, dnsdist) must not start system services on a build machine.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
