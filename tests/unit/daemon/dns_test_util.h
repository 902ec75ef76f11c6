// Helpers for daemon unit tests: build DNS queries and simple upstream responses by hand.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "filters/dns_message.h"

namespace safegate::testing {

inline std::vector<uint8_t> makeQuery(uint16_t id, std::string_view name, uint16_t qtype,
                                      uint16_t udp_size = 1232) {
  std::vector<uint8_t> buf(512);
  size_t n = buildDnsQuery(id, name, qtype, udp_size, false, buf);
  buf.resize(n);
  return buf;
}

// A response to `query` (no OPT copied) with one A record per address (TTL `ttl`), or with an
// SOA in authority when `addresses` is empty (NODATA / NXDOMAIN by `rcode`).
inline std::vector<uint8_t> makeResponse(const std::vector<uint8_t>& query,
                                         const std::vector<std::array<uint8_t, 4>>& addresses,
                                         uint32_t ttl, uint8_t rcode = 0) {
  std::vector<uint8_t> r(query.begin(), query.end());
  // Drop the additional section (the query's OPT): find the end of the question.
  size_t off = 12;
  while (off < r.size() && r[off] != 0) off += r[off] + 1;
  off += 5;
  r.resize(off);
  r[2] = 0x81;  // QR, RD
  r[3] = static_cast<uint8_t>(0x80 | rcode);
  r[10] = r[11] = 0;
  auto put16 = [&](uint16_t v) {
    r.push_back(static_cast<uint8_t>(v >> 8));
    r.push_back(static_cast<uint8_t>(v));
  };
  auto put32 = [&](uint32_t v) {
    put16(static_cast<uint16_t>(v >> 16));
    put16(static_cast<uint16_t>(v));
  };
  if (!addresses.empty()) {
    r[6] = 0;
    r[7] = static_cast<uint8_t>(addresses.size());
    r[8] = r[9] = 0;
    for (const auto& a : addresses) {
      put16(0xc00c);
      put16(1);
      put16(1);
      put32(ttl);
      put16(4);
      r.insert(r.end(), a.begin(), a.end());
    }
  } else {
    r[6] = r[7] = 0;
    r[8] = 0;
    r[9] = 1;
    put16(0xc00c);
    put16(dns_type::kSoa);
    put16(1);
    put32(ttl);
    // mname ".", rname ".", serial, refresh, retry, expire, minimum
    put16(22);
    r.push_back(0);
    r.push_back(0);
    put32(1);
    put32(3600);
    put32(600);
    put32(86400);
    put32(ttl / 2);
  }
  return r;
}

// A response to `query` with one PTR record naming `target` (TTL `ttl`), owned by the question
// name (compression pointer to offset 12).
inline std::vector<uint8_t> makePtrResponse(const std::vector<uint8_t>& query,
                                            std::string_view target, uint32_t ttl) {
  std::vector<uint8_t> r = makeResponse(query, {}, ttl);
  // makeResponse wrote NOERROR + SOA: cut back to the question and add the PTR instead.
  size_t off = 12;
  while (off < r.size() && r[off] != 0) off += r[off] + 1;
  off += 5;
  r.resize(off);
  r[7] = 1;  // ANCOUNT
  r[9] = 0;  // NSCOUNT
  std::vector<uint8_t> wire;
  size_t start = 0;
  while (start < target.size()) {
    size_t dot = target.find('.', start);
    if (dot == std::string_view::npos) dot = target.size();
    wire.push_back(static_cast<uint8_t>(dot - start));
    wire.insert(wire.end(), target.begin() + static_cast<std::ptrdiff_t>(start),
                target.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  wire.push_back(0);
  const uint8_t rr[] = {0xc0,
                        0x0c,
                        0,
                        dns_type::kPtr,
                        0,
                        1,
                        static_cast<uint8_t>(ttl >> 24),
                        static_cast<uint8_t>(ttl >> 16),
                        static_cast<uint8_t>(ttl >> 8),
                        static_cast<uint8_t>(ttl),
                        static_cast<uint8_t>(wire.size() >> 8),
                        static_cast<uint8_t>(wire.size())};
  r.insert(r.end(), std::begin(rr), std::end(rr));
  r.insert(r.end(), wire.begin(), wire.end());
  return r;
}

}  // namespace safegate::testing
