#!/usr/bin/env bash
# What can be checked of the container recipe without a container runtime: every file it copies
# exists, the image's config passes check-config (with this tree's lists), and it names the
# package's paths.   packaging/docker/check.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: check.sh BUILD_DIR}" && pwd)"
work="$(mktemp -d /tmp/safegate-docker.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/support/checks.sh
. "$src/tests/support/checks.sh"
# COPY lines with a source in the build context (not --from=...).
while read -r from _; do
  check "COPY source $from exists" "yes" "$([ -e "$src/$from" ] && echo yes || echo no)"
done < <(awk '$1 == "COPY" && $2 !~ /^--from/ && $2 != "." {print $2}' "$here/Dockerfile")
sed "s|/usr/share/safegate/lists.toml|$src/examples/lists.toml|" "$here/safegate.toml" >"$work/c.toml"
check "the image's config passes check-config" "ok" \
  "$("$build/ui-helper/safegatectl" check-config "$work/c.toml" 2>&1 | grep -q ': ok' && echo ok || echo bad)"
for path in /usr/sbin/safegated /usr/bin/safegatectl /usr/share/safegate/lists.toml; do
  check "the package installs $path, which the image uses" "yes" \
    "$(DESTDIR="$work/stage" cmake --install "$build" --prefix /usr >/dev/null && [ -e "$work/stage$path" ] && echo yes || echo no)"
done
finish "all container recipe checks passed"
