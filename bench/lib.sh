# Shell helpers shared by the side-by-side load scripts in bench/ (sourced, not run).

# A UDP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# "P50_MS P99_MS COUNT" from a `dnsperf -v` output file (one "> ..." line per answer, the
# latency in seconds last). Parsed after the run, never while it runs: awk on the proxy's CPU
# would be in the latencies being measured.
dnsperf_percentiles() {
  awk '$1 == ">" { print $NF }' "$1" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.3f %.3f %d", v[int(NR*0.5)]*1000, v[int(NR*0.99)]*1000, NR }'
}
