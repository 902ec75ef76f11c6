// parsePacket(): IPv4 / IPv6 (with its extension-header chain) + UDP / TCP header parsing for
// the NFQUEUE path, where the kernel hands us a packet starting at the IP header.
//
// Provides PacketView, a small value describing one packet: addresses, final upper-layer
// protocol, ports, TCP sequence/flags, fragment information and a view of the transport payload.
// Malformed input is an expected outcome, reported as a PacketStatus (never an exception).
//
// Data plane: noexcept, no allocation, no locks. Every span in a PacketView points into the
// caller's buffer and is valid only as long as that buffer. Stateless; safe from any thread.
//
// What is checked (and why):
//   - IPv4 (RFC 791): version, IHL >= 5, total length within the buffer and >= IHL; bytes after
//     the total length (Ethernet padding) are ignored. Options are skipped.
//   - IPv6 (RFC 8200): payload length within the buffer; the extension-header chain is walked:
//     Hop-by-Hop (0, only directly after the fixed header, §4.1), Routing (43), Fragment (44),
//     Destination Options (60), Mobility (135), HIP (139), Shim6 (140) and AH (51, RFC 4302
//     length in 4-octet units). ESP (50) ends the walk (the rest is encrypted) and No Next Header
//     (59) means there is no payload. A chain longer than kMaxIpv6ExtensionHeaders is refused: a
//     long chain is an evasion technique (RFC 7112 wants the whole chain in the first fragment).
//   - Fragments: a non-first fragment carries no transport header, so it has no ports; a first
//     fragment has its transport header parsed but its payload is only what this packet holds.
//   - UDP (RFC 768): length >= 8 and within the IP payload (except in a first fragment).
//   - TCP (RFC 9293): data offset >= 5 and within the IP payload.
// Jumbograms (RFC 2675) are reported as kUnsupported.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/ip_address.h"

namespace safegate {

inline constexpr int kMaxIpv6ExtensionHeaders = 16;

// IANA protocol numbers used by the parser and its callers.
namespace ip_protocol {
inline constexpr uint8_t kHopByHop = 0;
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kRouting = 43;
inline constexpr uint8_t kFragment = 44;
inline constexpr uint8_t kEsp = 50;
inline constexpr uint8_t kAh = 51;
inline constexpr uint8_t kIcmpV6 = 58;
inline constexpr uint8_t kNoNextHeader = 59;
inline constexpr uint8_t kDestinationOptions = 60;
inline constexpr uint8_t kMobility = 135;
inline constexpr uint8_t kHip = 139;
inline constexpr uint8_t kShim6 = 140;
}  // namespace ip_protocol

// TCP flag bits as in the header's 13th octet (RFC 9293 §3.1).
namespace tcp_flag {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
inline constexpr uint8_t kUrg = 0x20;
inline constexpr uint8_t kEce = 0x40;
inline constexpr uint8_t kCwr = 0x80;
}  // namespace tcp_flag

enum class PacketStatus : uint8_t {
  kOk = 0,
  kEmpty,                  // zero bytes
  kBadVersion,             // first nibble neither 4 nor 6
  kTruncated,              // a header or length field points past the end of the buffer
  kBadIpv4HeaderLength,    // IHL < 5, or total length < IHL
  kBadExtensionHeader,     // Hop-by-Hop not first
  kExtensionChainTooLong,  // more than kMaxIpv6ExtensionHeaders
  kBadTransportHeader,     // UDP length < 8, TCP data offset < 5
  kUnsupported,            // IPv6 jumbogram
};

std::string_view packetStatusName(PacketStatus s) noexcept;

struct PacketView {
  PacketStatus status = PacketStatus::kEmpty;
  uint8_t ip_version = 0;  // 4 or 6 (0 if not even that was readable)
  IpAddress src;
  IpAddress dst;
  uint8_t ttl = 0;  // IPv4 TTL or IPv6 hop limit
  // The upper-layer protocol after any extension headers (6 TCP, 17 UDP, 58 ICMPv6, 50 ESP,
  // 59 no next header, ...).
  uint8_t protocol = 0;
  uint8_t extension_headers = 0;  // IPv6 extension headers walked
  uint16_t ip_header_length = 0;  // IPv4 IHL*4, or IPv6 40 + extension headers

  // Fragment information (IPv4 flags/offset, or an IPv6 Fragment header).
  bool has_fragment_header = false;  // IPv6 Fragment header present (even an atomic one)
  bool more_fragments = false;
  bool dont_fragment = false;    // IPv4 DF
  uint16_t fragment_offset = 0;  // in bytes
  uint32_t fragment_id = 0;      // IPv4 identification or IPv6 fragment identification
  bool isFragment() const { return more_fragments || fragment_offset != 0; }
  bool isNonFirstFragment() const { return fragment_offset != 0; }

  // Transport (UDP/TCP). has_ports is false for non-first fragments and other protocols.
  bool has_ports = false;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t tcp_flags = 0;  // tcp_flag::k*
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint16_t tcp_window = 0;
  uint16_t udp_length = 0;  // the UDP header's length field

  // UDP/TCP: the transport payload. Other protocols and non-first fragments: the bytes after the
  // IP header chain. ESP: the encrypted bytes. Empty on error.
  std::span<const uint8_t> payload;
  // The whole IP packet as delimited by its length field (padding removed).
  std::span<const uint8_t> ip_packet;

  bool ok() const { return status == PacketStatus::kOk; }
  bool isTcp() const { return protocol == ip_protocol::kTcp; }
  bool isUdp() const { return protocol == ip_protocol::kUdp; }
};

// Parses one IP packet (starting at the IPv4/IPv6 header). On error, status says why and the
// fields read so far (version, addresses, ...) are filled in; payload is empty.
PacketView parsePacket(std::span<const uint8_t> ip) noexcept;

}  // namespace safegate
