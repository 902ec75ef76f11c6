// Forged packets: the IPv4/IPv6 packets the inline path sends on behalf of others — a DNS
// answer from the resolver's address, a TCP reset to either end of a blocked connection, an
// HTTP redirect to the block page from the server's address.
//
// Provides buildUdpPacket() and buildTcpPacket(): a whole IP packet (IPv4 header without
// options, or IPv6 without extension headers) with correct IP/UDP/TCP checksums (RFC 791,
// RFC 768, RFC 9293 §3.1, RFC 8200 §8.1), written into a caller buffer, ready for a raw
// socket (IP_HDRINCL / IPPROTO_RAW). TTL/hop limit 64.
//
// Data plane: noexcept, no allocation; returns 0 when the buffer is too small, the payload too
// large, or the addresses are of different families. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ip_address.h"

namespace safegate {

namespace tcp_flags {
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
}

struct TcpSegmentSpec {
  IpAddress src;
  IpAddress dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
};

size_t buildUdpPacket(const IpAddress& src, const IpAddress& dst, uint16_t src_port,
                      uint16_t dst_port, std::span<const uint8_t> payload,
                      std::span<uint8_t> out) noexcept;

size_t buildTcpPacket(const TcpSegmentSpec& spec, std::span<const uint8_t> payload,
                      std::span<uint8_t> out) noexcept;

// The Internet checksum (RFC 1071) of `data` added to `initial` (folded, not complemented).
uint32_t checksumAdd(std::span<const uint8_t> data, uint32_t initial = 0) noexcept;

}  // namespace safegate
