// Crafted packets and payloads for unit tests of the inline path and of replay: IPv4/IPv6 TCP
// and UDP packets (built with filters/forged_packet.h, checksums included) and a minimal TLS 1.3
// ClientHello record. One copy, so the inline inspector's tests and replay's tests craft the
// same bytes. Header-only; test code only.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "filters/forged_packet.h"

namespace safegate::testing {

inline std::vector<uint8_t> tcpPacket(const char* src, const char* dst, uint16_t sport,
                                      uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                                      std::span<const uint8_t> payload = {}) {
  std::vector<uint8_t> out(70000);
  TcpSegmentSpec s{
      *IpAddress::parse(src), *IpAddress::parse(dst), sport, dport, seq, ack, flags, 65535};
  out.resize(buildTcpPacket(s, payload, out));
  return out;
}

inline std::vector<uint8_t> udpPacket(const char* src, const char* dst, uint16_t sport,
                                      uint16_t dport, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(70000);
  out.resize(
      buildUdpPacket(*IpAddress::parse(src), *IpAddress::parse(dst), sport, dport, payload, out));
  return out;
}

// A minimal TLS 1.3 ClientHello record (RFC 8446 §4.1.2) naming `sni` (RFC 6066 §3; none if
// empty), with an encrypted_client_hello extension (0xfe0d) if `ech`.
inline std::vector<uint8_t> clientHello(std::string_view sni, bool ech = false) {
  std::vector<uint8_t> ext;
  auto u16 = [](std::vector<uint8_t>& v, size_t x) {
    v.push_back(uint8_t(x >> 8));
    v.push_back(uint8_t(x));
  };
  if (!sni.empty()) {
    u16(ext, 0);
    u16(ext, sni.size() + 5);
    u16(ext, sni.size() + 3);
    ext.push_back(0);
    u16(ext, sni.size());
    ext.insert(ext.end(), sni.begin(), sni.end());
  }
  if (ech) {
    u16(ext, 0xfe0d);
    const std::vector<uint8_t> body = {0x00, 0x00, 0x01, 0x00, 0x01, 0x07, 0x00, 0x00, 0x00, 0x00};
    u16(ext, body.size());
    ext.insert(ext.end(), body.begin(), body.end());
  }
  std::vector<uint8_t> hs = {0x03, 0x03};
  hs.resize(2 + 32, 0x11);
  hs.push_back(0);  // session id
  u16(hs, 2);
  u16(hs, 0x1301);
  hs.push_back(1);
  hs.push_back(0);
  u16(hs, ext.size());
  hs.insert(hs.end(), ext.begin(), ext.end());
  std::vector<uint8_t> rec = {0x16, 0x03, 0x01};
  u16(rec, hs.size() + 4);
  rec.insert(rec.end(), {0x01, 0, uint8_t(hs.size() >> 8), uint8_t(hs.size())});
  rec.insert(rec.end(), hs.begin(), hs.end());
  return rec;
}

}  // namespace safegate::testing
