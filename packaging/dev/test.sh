#!/usr/bin/env bash
# The one test command: installs what is missing, configures, builds and runs every test.
#   packaging/dev/test.sh [PRESET]     PRESET = dev (default) | asan | release | fuzz
# Extra ctest arguments may follow after "--", e.g. packaging/dev/test.sh dev -- -R filters.
set -euo pipefail
cd "$(dirname "$0")/../.."
preset="${1:-dev}"
shift || true
[ "${1:-}" = "--" ] && shift

packaging/dev/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" -j"$(nproc)" "$@"
