// Per-message cost of the data-plane protocol parsers and builders (filters/dns_message.h,
// http_request.h, tls_client_hello.h): what one DNS query, HTTP request head or TLS
// ClientHello costs a worker. Inputs are crafted to the sizes real
// clients send (a browser-like HTTP head, a post-quantum ClientHello of ~1.9 KB).
//
//   build/proto-release/bench/protocol_parsers_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command)
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "filters/dns_message.h"
#include "filters/http_request.h"
#include "filters/tls_client_hello.h"

namespace safegate {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes dnsQuery() {
  Bytes q(512);
  q.resize(buildDnsQuery(0x1234, "www.some-long-name.example.co.uk", dns_type::kA, 1232, false, q));
  return q;
}

void BM_ParseDnsQuery(benchmark::State& state) {
  const Bytes q = dnsQuery();
  DnsQuery parsed;
  NameBuffer name;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parseDnsQuery(q, parsed, name));
    benchmark::DoNotOptimize(parsed.question.name.data());
  }
}
BENCHMARK(BM_ParseDnsQuery);

void BM_BuildNxdomainWithEde(benchmark::State& state) {
  const Bytes q = dnsQuery();
  DnsQuery parsed;
  NameBuffer name;
  parseDnsQuery(q, parsed, name);
  BlockResponseOptions opts;
  opts.ede_text = "blocked by safegate: gambling";
  std::array<uint8_t, 512> out;
  for (auto _ : state) benchmark::DoNotOptimize(buildNxdomain(q, parsed, opts, out));
}
BENCHMARK(BM_BuildNxdomainWithEde);

void BM_WalkResponseWithCnameChain(benchmark::State& state) {
  // www.example.com CNAME a.example.com (compressed); a.example.com A x 4.
  Bytes m = {0xab, 0xcd, 0x81, 0x80, 0,   1,   0,   5, 0,   0,   0,   0, 3,   'w',  'w', 'w', 7,
             'e',  'x',  'a',  'm',  'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0,   1,    0,   1,   0xC0,
             12,   0,    5,    0,    1,   0,   0,   1, 0,   0,   4,   1, 'a', 0xC0, 16};
  for (int i = 0; i < 4; ++i) {
    m.insert(m.end(), {0xC0, 45, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, uint8_t(i)});
  }
  for (auto _ : state) {
    NameBuffer qn, rn, target;
    DnsResponseView v(m, qn);
    while (auto r = v.next(rn)) {
      if (r->type == dns_type::kCname) benchmark::DoNotOptimize(v.cnameTarget(*r, target));
    }
    benchmark::DoNotOptimize(v.status());
  }
}
BENCHMARK(BM_WalkResponseWithCnameChain);

void BM_ParseHttpRequestHead(benchmark::State& state) {
  const std::string req =
      "GET /search?q=homework+help&source=hp HTTP/1.1\r\n"
      "Host: www.example.com\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
      "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
      "Accept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"
      "Connection: keep-alive\r\nCookie: session=0123456789abcdef0123456789abcdef\r\n"
      "Upgrade-Insecure-Requests: 1\r\n\r\n";
  const std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(req.data()), req.size());
  HttpRequest r;
  if (parseHttpRequest(in, r) != HttpParseStatus::kComplete) {
    state.SkipWithError("crafted request does not parse");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(parseHttpRequest(in, r));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(req.size()));
}
BENCHMARK(BM_ParseHttpRequestHead);

void put16(Bytes& b, size_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}

Bytes postQuantumHello(size_t record_fragment) {
  Bytes exts;
  auto ext = [&](uint16_t type, const Bytes& data) {
    put16(exts, type);
    put16(exts, data.size());
    exts.insert(exts.end(), data.begin(), data.end());
  };
  const std::string host = "www.example.com";
  Bytes sni;
  put16(sni, host.size() + 3);  // server_name_list length
  sni.push_back(0);             // host_name
  put16(sni, host.size());
  sni.insert(sni.end(), host.begin(), host.end());
  ext(0, sni);
  ext(16, {0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'});
  ext(43, {4, 3, 4, 3, 3});
  Bytes ks;
  put16(ks, 4 + 1216 + 4 + 32);
  put16(ks, 0x11ec);
  put16(ks, 1216);
  ks.insert(ks.end(), 1216, 0x42);
  put16(ks, 0x1d);
  put16(ks, 32);
  ks.insert(ks.end(), 32, 0x24);
  ext(51, ks);
  ext(0xfe0d, Bytes(200, 0));  // GREASE-ECH-sized
  ext(21, Bytes(300, 0));
  Bytes body = {3, 3};
  body.insert(body.end(), 32, 0x5a);
  body.push_back(32);
  body.insert(body.end(), 32, 0x11);
  body.insert(body.end(), {0, 6, 0x13, 1, 0x13, 2, 0x13, 3, 1, 0});
  put16(body, exts.size());
  body.insert(body.end(), exts.begin(), exts.end());
  Bytes msg = {1, uint8_t(body.size() >> 16), uint8_t(body.size() >> 8), uint8_t(body.size())};
  msg.insert(msg.end(), body.begin(), body.end());
  Bytes out;
  for (size_t off = 0; off < msg.size(); off += record_fragment) {
    const size_t n = std::min(record_fragment, msg.size() - off);
    out.insert(out.end(), {22, 3, 1});
    put16(out, n);
    out.insert(out.end(), msg.begin() + off, msg.begin() + off + n);
  }
  return out;
}

void BM_ParseTlsClientHello(benchmark::State& state) {
  const Bytes stream = postQuantumHello(size_t(state.range(0)));
  static std::array<uint8_t, kMaxClientHelloLength> scratch;
  TlsClientHello ch;
  if (parseTlsClientHello(stream, scratch, ch) != TlsParseStatus::kComplete || !ch.has_ech) {
    state.SkipWithError("crafted hello does not parse");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(parseTlsClientHello(stream, scratch, ch));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(stream.size()));
  state.counters["hello_bytes"] = double(stream.size());
}
// One record (the usual case, parsed in place) and records of 300 octets (joined in scratch).
BENCHMARK(BM_ParseTlsClientHello)->Arg(16384)->Arg(300);

}  // namespace
}  // namespace safegate

BENCHMARK_MAIN();
