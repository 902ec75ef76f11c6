#include "filters/forged_packet.h"

#include <cstring>

namespace safegate {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Writes the IP header for a transport segment of `l4_length` octets; returns its size or 0.
size_t writeIpHeader(const IpAddress& src, const IpAddress& dst, uint8_t proto, size_t l4_length,
                     std::span<uint8_t> out) {
  if (src.isV4() != dst.isV4()) return 0;
  if (src.isV4()) {
    if (out.size() < kIpv4Header + l4_length || kIpv4Header + l4_length > 0xffff) return 0;
    uint8_t* h = out.data();
    std::memset(h, 0, kIpv4Header);
    h[0] = 0x45;
    put16(h + 2, static_cast<uint16_t>(kIpv4Header + l4_length));
    put16(h + 6, 0x4000);  // DF
    h[8] = 64;
    h[9] = proto;
    std::memcpy(h + 12, src.bytes().data(), 4);
    std::memcpy(h + 16, dst.bytes().data(), 4);
    put16(h + 10, static_cast<uint16_t>(~fold(checksumAdd({h, kIpv4Header}))));
    return kIpv4Header;
  }
  if (out.size() < kIpv6Header + l4_length || l4_length > 0xffff) return 0;
  uint8_t* h = out.data();
  std::memset(h, 0, kIpv6Header);
  h[0] = 0x60;
  put16(h + 4, static_cast<uint16_t>(l4_length));
  h[6] = proto;
  h[7] = 64;
  std::memcpy(h + 8, src.bytes().data(), 16);
  std::memcpy(h + 24, dst.bytes().data(), 16);
  return kIpv6Header;
}

// Pseudo-header sum (RFC 768 / RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6).
uint32_t pseudoHeaderSum(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                         size_t l4_length) {
  uint32_t sum = checksumAdd(src.bytes());
  sum = checksumAdd(dst.bytes(), sum);
  sum += proto;
  sum += static_cast<uint32_t>(l4_length & 0xffff) + static_cast<uint32_t>(l4_length >> 16);
  return sum;
}

}  // namespace

uint32_t checksumAdd(std::span<const uint8_t> data, uint32_t initial) noexcept {
  uint64_t sum = initial;
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += (uint32_t{data[i]} << 8) | data[i + 1];
  if (i < data.size()) sum += uint32_t{data[i]} << 8;
  while (sum >> 32) sum = (sum & 0xffffffff) + (sum >> 32);
  return fold(static_cast<uint32_t>(sum));
}

size_t buildUdpPacket(const IpAddress& src, const IpAddress& dst, uint16_t src_port,
                      uint16_t dst_port, std::span<const uint8_t> payload,
                      std::span<uint8_t> out) noexcept {
  size_t l4 = 8 + payload.size();
  size_t ip = writeIpHeader(src, dst, kProtoUdp, l4, out);
  if (ip == 0) return 0;
  uint8_t* u = out.data() + ip;
  put16(u, src_port);
  put16(u + 2, dst_port);
  put16(u + 4, static_cast<uint16_t>(l4));
  put16(u + 6, 0);
  if (!payload.empty()) std::memcpy(u + 8, payload.data(), payload.size());
  uint16_t c =
      static_cast<uint16_t>(~fold(checksumAdd({u, l4}, pseudoHeaderSum(src, dst, kProtoUdp, l4))));
  put16(u + 6, c == 0 ? 0xffff : c);  // 0 means "no checksum" (RFC 768)
  return ip + l4;
}

size_t buildTcpPacket(const TcpSegmentSpec& spec, std::span<const uint8_t> payload,
                      std::span<uint8_t> out) noexcept {
  size_t l4 = 20 + payload.size();
  size_t ip = writeIpHeader(spec.src, spec.dst, kProtoTcp, l4, out);
  if (ip == 0) return 0;
  uint8_t* t = out.data() + ip;
  std::memset(t, 0, 20);
  put16(t, spec.src_port);
  put16(t + 2, spec.dst_port);
  put32(t + 4, spec.seq);
  put32(t + 8, spec.ack);
  t[12] = 5 << 4;
  t[13] = spec.flags;
  put16(t + 14, spec.window);
  if (!payload.empty()) std::memcpy(t + 20, payload.data(), payload.size());  // RSTs: empty
  put16(t + 16, static_cast<uint16_t>(~fold(
                    checksumAdd({t, l4}, pseudoHeaderSum(spec.src, spec.dst, kProtoTcp, l4)))));
  return ip + l4;
}

}  // namespace safegate
