#!/usr/bin/env bash
# Memory of safegated in the small-router profile (packaging/openwrt/safegate.toml: one DNS
# worker, a 2,000-entry cache, one TCP query thread): resident memory with the bundled starter
# lists and with those plus a seeded 1,000,000-name list, the peak of the list compiler child
# (what a 128 MB router must fit once per list change), and RSS after 20,000 queries.
# Results in docs/performance.md ("A 128 MB router").
#
#   bench/router_memory.sh [BUILD_DIR]     (default build/release; needs safegated,
#                                           sg_dns_responder; apt-get install dnsperf)
# Environment: SEED (42), ENTRIES (1000000).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
seed="${SEED:-42}"
entries="${ENTRIES:-1000000}"
safegated="$build/daemon/safegated"
responder="$build/tests/integration/sg_dns_responder"
for b in "$safegated" "$responder" "$(command -v dnsperf)"; do
  [ -x "$b" ] || { echo "missing $b (build safegated sg_dns_responder; apt-get install dnsperf)" >&2; exit 1; }
done
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

printf 'allowed.test A 192.0.2.10\n' >"$work/zone.txt"
"$responder" --port 0 --zone "$work/zone.txt" >"$work/responder.out" &
pids+=($!)
until grep -q "responder: ready" "$work/responder.out" 2>/dev/null; do sleep 0.05; done
up_port="$(sed -n 's/.*port=\([0-9]*\).*/\1/p' "$work/responder.out")"
generate_names "$seed" "$entries" "$work/big.list" "$work/sample.txt" 50
generate_queries "$seed" "$work/sample.txt" "$work/queries.txt"
head -20000 "$work/queries.txt" >"$work/queries20k.txt"

# The router profile with the bundled lists; the big list is added for the second row.
config() {  # config NAME WITH_BIG_LIST
  local dir="$work/$1"
  mkdir -p "$dir"
  sed -e "s|include = \\[\"/usr/share/safegate/lists.toml\"\\]|include = [\"$root/examples/lists.toml\"]|" \
      -e "s|^state_dir = .*|state_dir = \"$dir/state\"|" \
      -e "s|^listen = .*|listen = [\"127.0.0.1:0\"]|" \
      -e "s|^upstreams = .*|upstreams = [\"127.0.0.1:$up_port\"]|" \
      -e "s|^rate_limit_qps = .*|rate_limit_qps = 0|" -e 's|^user = .*|user = ""|' \
      "$root/packaging/openwrt/safegate.toml" >"$dir/safegate.toml"
  if [ "$2" = yes ]; then
    printf '\n[[lists]]\nname = "big"\ncategory = "gambling"\nformat = "domains"\nsources = ["%s"]\n' \
      "$work/big.list" >>"$dir/safegate.toml"
  fi
  echo "$dir/safegate.toml"
}
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

printf '| %-34s | %9s | %9s | %9s | %9s |\n' "Lists" "ready MiB" "20k q MiB" "peak MiB" "child MiB"
for row in "bundled:no" "bundled + ${entries} names:yes"; do
  label="${row%%:*}"; big="${row##*:}"
  cfg="$(config "run-$big" "$big")"
  # The compiler child alone, as the daemon runs it (its peak is the router's worst moment).
  child_kb="$(python3 - "$safegated" "$cfg" <<'PY'
import os, subprocess, sys
env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.hugetlb=1")
p = subprocess.Popen([sys.argv[1], "--compile-lists", "--config", sys.argv[2]], env=env)
_, status, usage = os.wait4(p.pid, 0)
print(usage.ru_maxrss)
PY
)"
  rm -rf "$(dirname "$cfg")/state/compiled"  # the daemon's own start compiles again
  mkfifo "$work/out-$big"
  "$safegated" --config "$cfg" >"$work/out-$big" 2>"$work/err-$big" &
  pid=$!
  pids+=($pid)
  exec 3<"$work/out-$big"
  port=""
  while IFS= read -r -t 300 line <&3; do
    case "$line" in "safegated: ready dns=127.0.0.1:"*) port="${line#*127.0.0.1:}"; port="${port%% *}"; break ;; esac
  done
  [ -n "$port" ] || { cat "$work/err-$big"; exit 1; }
  ready_kb="$(status_kb "$pid" VmRSS)"
  dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries20k.txt" -n 1 -c 1 -q 20 >/dev/null 2>&1
  after_kb="$(status_kb "$pid" VmRSS)"
  peak_kb="$(status_kb "$pid" VmHWM)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  exec 3<&-
  awk -v l="$label" -v a="$ready_kb" -v b="$after_kb" -v c="$peak_kb" -v d="$child_kb" \
    'BEGIN { printf "| %-34s | %9.1f | %9.1f | %9.1f | %9.1f |\n", l, a/1024, b/1024, c/1024, d/1024 }'
done
