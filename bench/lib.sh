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

# generate_names SEED COUNT LIST SAMPLE EVERY: COUNT unique names (seeded; 20 % under a "cdnN."
# label) one per line into LIST, and every EVERY-th of them into SAMPLE.
generate_names() {
  awk -v seed="$1" -v n="$2" -v list="$3" -v sample="$4" -v every="$5" 'BEGIN {
    srand(seed); split("com net org info io xyz biz de uk fr", tld, " ");
    chars = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (i = 0; i < n; i++) {
      len = 6 + int(rand() * 10); s = "";
      for (j = 0; j < len; j++) s = s substr(chars, 1 + int(rand() * 36), 1);
      name = s "-" i "." tld[1 + int(rand() * 10)];
      if (rand() < 0.2) name = "cdn" int(rand() * 9) "." name;
      print name > list;
      if (i % every == 0) print name > sample;
    }
  }'
}

# generate_queries SEED SAMPLE OUT: 100,000 dnsperf queries, 30 % names of SAMPLE (a third of
# those as a www. subdomain), 70 % names no list has.
generate_queries() {
  awk -v seed="$1" -v out="$3" 'BEGIN { srand(seed + 1) }
    { b[NR] = $0 }
    END {
      for (i = 0; i < 100000; i++) {
        if (rand() < 0.3) { n = b[1 + int(rand() * NR)]; if (rand() < 0.3) n = "www." n; print n " A" > out }
        else print "allowed" int(rand() * 20000) ".example.net A" > out
      }
    }' "$2"
}

# bench_config STATE_DIR PORT UPSTREAM_PORT LIST: a safegate.toml on stdout for the load
# benches — one worker, the 100,000-entry cache, no rate limit, one "domains" list blocked as
# gambling, safe search off.
bench_config() {
  cat <<EOT
[daemon]
state_dir = "$1"
[dns]
listen = ["127.0.0.1:$2"]
upstreams = ["127.0.0.1:$3"]
workers = 1
cache_entries = 100000
rate_limit_qps = 0  # dnsperf is one client address: no per-client limit in a throughput bench
[database]
batch_ms = 100
[policy]
default_group = "bench"
bypass_defaults = false
[[lists]]
name = "bench"
category = "gambling"
format = "domains"
sources = ["$4"]
[[groups]]
name = "bench"
profile = "staff"
default = "allow"
[groups.categories]
gambling = "block"
[groups.safe_search]
google = "off"
bing = "off"
duckduckgo = "off"
youtube = "off"
EOT
}
