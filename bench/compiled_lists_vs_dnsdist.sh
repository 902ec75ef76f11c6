#!/usr/bin/env bash
# Compiled lists side by side (results in docs/performance.md): safegated starting
# from list text and from its compiled image (state_dir/compiled), against dnsdist matching the
# same names in the two prebuilt key-value stores it maps, CDB and LMDB
# (KeyValueStoreLookupRule + KeyValueLookupKeySuffix, wire-format keys). One run, one seeded
# list of ENTRIES names (default 5,000,000), the same local upstream (sg_dns_responder), the
# server pinned to CPU 0 and dnsperf + upstream to CPU 1. Query mix as bench/dns_vs_dnsdist.sh:
# 30 % listed names (a third of them subdomains), 70 % unlisted.
#
#   bench/compiled_lists_vs_dnsdist.sh [BUILD_DIR]   (default build/release; needs safegated,
#                                                     safegatectl, sg_dns_responder built there;
#                                                     apt-get install dnsdist dnsperf tinycdb
#                                                     lmdb-utils)
# Environment: SEED (42), ENTRIES (5000000), DURATION (10 s per max-qps run).
#
# Reported per row: ready_ms (exec until the first answered query, dig every 10 ms), rss_mb at
# ready and after the max-qps run, peak_rss_mb (VmHWM), qps (dnsperf, 100 outstanding) and
# NXDOMAIN answers. safegated: its list compiler alone (`--compile-lists`, what the daemon runs
# as a child: time and that child's peak RSS; by hand and with the daemon's environment), a
# first start (the child compiles from the text, the daemon maps the image), a restart (the
# image is there), then a reload with unchanged lists and a reload after the list changed (the
# child compiles the new version), each with the daemon's peak RSS up to then and its RSS
# after. The peers' store builds (cdb -c, mdb_load) are timed too.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
seed="${SEED:-42}"
entries="${ENTRIES:-5000000}"
duration="${DURATION:-10}"
safegated="$build/daemon/safegated"
ctl="$build/ui-helper/safegatectl"
responder="$build/tests/integration/sg_dns_responder"
for b in "$safegated" "$ctl" "$responder" "$(command -v dnsdist)" "$(command -v dnsperf)" \
  "$(command -v cdb)" "$(command -v mdb_load)"; do
  [ -x "$b" ] || {
    echo "missing $b (build safegated safegatectl sg_dns_responder; apt-get install dnsdist dnsperf tinycdb lmdb-utils)" >&2
    exit 1
  }
done
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

. "$root/bench/lib.sh"

echo "== generating $entries listed names (seed $seed) and the query mix" >&2
generate_names "$seed" "$entries" "$work/list.txt" "$work/listed_sample.txt" 97
generate_queries "$seed" "$work/listed_sample.txt" "$work/queries.txt"
echo '* A 192.0.2.1 3600' >"$work/zone.txt"

echo "== building the CDB and LMDB stores (wire-format keys, as KeyValueLookupKeySuffix asks)" >&2
python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
def wire(name):
    out = bytearray()
    for label in name.split("."):
        out.append(len(label)); out += label.encode()
    out.append(0)
    return bytes(out)
def printable(b):  # mdb_load "print" format: printable bytes as they are, others as \xx
    return "".join(chr(c) if 32 <= c < 127 and c != 92 else ("\\\\" if c == 92 else "\\%02x" % c) for c in b)
keys = []
with open(f"{work}/list.txt") as names, open(f"{work}/cdb.in", "wb") as cdb:
    for line in names:
        k = wire(line.strip())
        cdb.write(b"+%d,1:%s->1\n" % (len(k), k))
        keys.append(k)
    cdb.write(b"\n")
# LMDB's default order (memcmp, then length) is Python's bytes order: keys loaded in order go
# minutes faster than in random order (mdb_load 0.9.24 has no append flag).
keys.sort()
with open(f"{work}/lmdb.in", "w") as lmdb:
    lmdb.write("VERSION=3\nformat=print\ntype=btree\nmapsize=4294967296\nHEADER=END\n")
    for k in keys:
        lmdb.write(" %s\n 1\n" % printable(k))
    lmdb.write("DATA=END\n")
PY
t0=$(date +%s%N)
cdb -c -t "$work/list.cdb.tmp" "$work/list.cdb" "$work/cdb.in"
cdb_build_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
t0=$(date +%s%N)
mdb_load -n -s blocklist -f "$work/lmdb.in" "$work/list.lmdb"
lmdb_build_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "store builds: cdb -c ${cdb_build_ms} ms ($(( $(stat -c %s "$work/list.cdb") / 1048576 )) MiB)," \
  "mdb_load ${lmdb_build_ms} ms ($(( $(stat -c %s "$work/list.lmdb") / 1048576 )) MiB)"
rm -f "$work/cdb.in" "$work/lmdb.in"

up_port="$(free_port)"
taskset -c 1 "$responder" --port "$up_port" --zone "$work/zone.txt" >"$work/responder.out" &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$work/responder.out" 2>/dev/null && break; sleep 0.05; done

wait_ready() {  # port -> milliseconds from $start_ns until the first answer
  local port=$1
  local out
  # dig prints "connection refused" on stdout: an answer is exit 0 and an address
  until out="$(dig @127.0.0.1 -p "$port" +time=1 +tries=1 +short ready.example.net 2>/dev/null)" &&
    [[ "$out" =~ ^[0-9.]+$ ]]; do
    sleep 0.01
  done
  echo $(( ($(date +%s%N) - start_ns) / 1000000 ))
}
rss_mb() { awk '/VmRSS/ { printf "%d", $2 / 1024 }' /proc/"$1"/status; }
hwm_mb() { awk '/VmHWM/ { printf "%d", $2 / 1024 }' /proc/"$1"/status; }

measure() {  # label port pid
  local label=$1 port=$2 pid=$3
  local rss_ready; rss_ready="$(rss_mb "$pid")"
  # one pass over the query file first (the peers' health checks settle, caches fill)
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -n 1 -q 200 >/dev/null 2>&1 || true
  local out
  out="$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$duration" -q 100 2>&1)"
  echo "$out" >"$work/dnsperf.$label.txt"
  local qps; qps="$(awk '/Queries per second/ { print $4 }' <<<"$out")"
  local nx; nx="$(grep -o 'NXDOMAIN [0-9]*' <<<"$out" | awk '{ print $2 }' || true)"
  local noerror; noerror="$(grep -o 'NOERROR [0-9]*' <<<"$out" | awk '{ print $2 }' || true)"
  printf '%-22s ready_ms=%-6s rss_ready_mb=%-5s rss_after_mb=%-5s peak_rss_mb=%-5s qps=%-8s nxdomain=%s noerror=%s\n' \
    "$label" "$ready_ms" "$rss_ready" "$(rss_mb "$pid")" "$(hwm_mb "$pid")" "$qps" "${nx:-0}" "${noerror:-0}"
}

run_dnsdist() {  # label store-constructor
  local label=$1 store=$2
  local port; port="$(free_port)"
  cat >"$work/dnsdist.conf" <<EOT
setLocal("127.0.0.1:$port")
newServer({address="127.0.0.1:$up_port"})
setSecurityPollSuffix("")
kvs = $store
addAction(KeyValueStoreLookupRule(kvs, KeyValueLookupKeySuffix()), RCodeAction(DNSRCode.NXDOMAIN))
pc = newPacketCache(100000, {maxTTL=86400})
getPool(""):setCache(pc)
EOT
  start_ns=$(date +%s%N)
  taskset -c 0 dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" >"$work/dnsdist.log" 2>&1 &
  local pid=$!; pids+=($pid)
  ready_ms="$(wait_ready "$port")"
  measure "$label" "$port" "$pid"
  kill -9 "$pid"
}
run_dnsdist "dnsdist CDB" "newCDBKVStore(\"$work/list.cdb\", 0)"
run_dnsdist "dnsdist LMDB" "newLMDBKVStore(\"$work/list.lmdb\", \"blocklist\")"

sg_port="$(free_port)"
mkdir -p "$work/state"
bench_config "$work/state" "$sg_port" "$up_port" "$work/list.txt" >"$work/safegate.toml"
run_safegated() {  # label; leaves sg_pid running
  start_ns=$(date +%s%N)
  taskset -c 0 "$safegated" --config "$work/safegate.toml" >"$work/safegated.out" 2>"$work/safegated.log" &
  sg_pid=$!; pids+=($sg_pid)
  ready_ms="$(wait_ready "$sg_port")"
  local status=""
  until status="$("$ctl" status --json --socket "$work/state/control.sock" 2>/dev/null)"; do
    sleep 0.01  # DNS answers a moment before the control socket is bound
  done
  measure "$1" "$sg_port" "$sg_pid"
}
reload_row() {  # label
  local t0; t0=$(date +%s%N)
  "$ctl" reload --socket "$work/state/control.sock" >/dev/null
  printf '%-22s reload_ms=%-6s rss_after_mb=%-5s peak_rss_mb=%-5s\n' "$1" \
    "$(( ($(date +%s%N) - t0) / 1000000 ))" "$(rss_mb "$sg_pid")" "$(hwm_mb "$sg_pid")"
}
# The list compiler on its own: wall time and the child's peak RSS (the daemon never holds this
# peak), run by hand and as the daemon runs it (glibc.malloc.hugetlb=1 added to GLIBC_TUNABLES,
# daemon/lists/list_compiler.h; not niced here). The entry is removed before each run, and after the
# last, so the first start below compiles again.
python3 - "$safegated" "$work/safegate.toml" "$work/state/compiled" <<'PY'
import os, shutil, subprocess, sys, time
for label, extra in (("compile-lists (text)", {}),
                     ("  daemon's environment", {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"})):
    shutil.rmtree(sys.argv[3], ignore_errors=True)
    t0 = time.monotonic()
    child = subprocess.Popen([sys.argv[1], "--compile-lists", "--config", sys.argv[2]],
                             env={**os.environ, **extra})
    _, status, usage = os.wait4(child.pid, 0)
    ms = int((time.monotonic() - t0) * 1000)
    print(f"{label:<22} compile_ms={ms:<6} peak_rss_mb={usage.ru_maxrss // 1024:<5} "
          f"exit={os.waitstatus_to_exitcode(status)}")
PY
rm -rf "$work/state/compiled"
run_safegated "safegated first start"
kill -TERM "$sg_pid"; wait "$sg_pid" 2>/dev/null || true
run_safegated "safegated restart"
reload_row "  reload, same lists"
# A list that changed: replaced by rename with one more name, as a download or an edit does.
{ cat "$work/list.txt"; echo "one-more-listed.example"; } >"$work/list.next"
mv "$work/list.next" "$work/list.txt"
reload_row "  reload, list changed"
[ "$(dig @127.0.0.1 -p "$sg_port" +short one-more-listed.example)" = "" ] ||
  echo "warning: the changed list was not applied" >&2
kill -TERM "$sg_pid"; wait "$sg_pid" 2>/dev/null || true
