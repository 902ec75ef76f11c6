#include "filters/packet.h"

#include "common/byte_reader.h"

namespace safegate {
namespace {

constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kUdpHeader = 8;
constexpr size_t kTcpMinHeader = 20;

uint16_t be16(std::span<const uint8_t> b, size_t at) noexcept {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}

uint32_t be32(std::span<const uint8_t> b, size_t at) noexcept {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         b[at + 3];
}

PacketView& fail(PacketView& v, PacketStatus s) noexcept {
  v.status = s;
  v.payload = {};
  return v;
}

// Parses the UDP or TCP header at the start of `l4` (the IP payload). `first_fragment` relaxes
// the UDP length check: the length covers the whole datagram, not this fragment.
void parseTransport(PacketView& v, std::span<const uint8_t> l4, bool first_fragment) noexcept {
  if (v.protocol == ip_protocol::kUdp) {
    if (l4.size() < kUdpHeader) {
      fail(v, PacketStatus::kTruncated);
      return;
    }
    v.src_port = be16(l4, 0);
    v.dst_port = be16(l4, 2);
    v.udp_length = be16(l4, 4);
    v.has_ports = true;
    if (v.udp_length < kUdpHeader) {
      fail(v, PacketStatus::kBadTransportHeader);
      return;
    }
    if (first_fragment) {
      v.payload = l4.subspan(kUdpHeader);
    } else if (v.udp_length > l4.size()) {
      fail(v, PacketStatus::kTruncated);
      return;
    } else {
      // Bytes after the UDP length are not part of the datagram (RFC 768); ignore them.
      v.payload = l4.subspan(kUdpHeader, v.udp_length - kUdpHeader);
    }
    v.status = PacketStatus::kOk;
    return;
  }
  if (v.protocol == ip_protocol::kTcp) {
    if (l4.size() < kTcpMinHeader) {
      fail(v, PacketStatus::kTruncated);
      return;
    }
    v.src_port = be16(l4, 0);
    v.dst_port = be16(l4, 2);
    v.tcp_seq = be32(l4, 4);
    v.tcp_ack = be32(l4, 8);
    v.tcp_flags = l4[13];
    v.tcp_window = be16(l4, 14);
    v.has_ports = true;
    const size_t data_offset = size_t{static_cast<uint8_t>(l4[12] >> 4)} * 4;
    if (data_offset < kTcpMinHeader) {
      fail(v, PacketStatus::kBadTransportHeader);
      return;
    }
    if (data_offset > l4.size()) {
      fail(v, PacketStatus::kTruncated);
      return;
    }
    v.payload = l4.subspan(data_offset);
    v.status = PacketStatus::kOk;
    return;
  }
  v.payload = l4;  // ICMP, ESP, GRE, ...: the caller gets the upper-layer bytes
  v.status = PacketStatus::kOk;
}

PacketView parseV4(std::span<const uint8_t> b) noexcept {
  PacketView v;
  v.ip_version = 4;
  if (b.size() < kIpv4MinHeader) return fail(v, PacketStatus::kTruncated);
  const size_t ihl = size_t{static_cast<uint8_t>(b[0] & 0x0f)} * 4;
  v.src = IpAddress::v4(std::span<const uint8_t, 4>(b.data() + 12, 4));
  v.dst = IpAddress::v4(std::span<const uint8_t, 4>(b.data() + 16, 4));
  v.ttl = b[8];
  v.protocol = b[9];
  v.fragment_id = be16(b, 4);
  const uint16_t flags_offset = be16(b, 6);
  v.dont_fragment = (flags_offset & 0x4000) != 0;
  v.more_fragments = (flags_offset & 0x2000) != 0;
  v.fragment_offset = static_cast<uint16_t>((flags_offset & 0x1fff) * 8);
  if (ihl < kIpv4MinHeader) return fail(v, PacketStatus::kBadIpv4HeaderLength);
  const size_t total = be16(b, 2);
  if (total < ihl) return fail(v, PacketStatus::kBadIpv4HeaderLength);
  if (total > b.size()) return fail(v, PacketStatus::kTruncated);
  v.ip_header_length = static_cast<uint16_t>(ihl);
  v.ip_packet = b.first(total);
  const auto l4 = v.ip_packet.subspan(ihl);
  if (v.isNonFirstFragment()) {
    v.payload = l4;  // no transport header in a later fragment
    v.status = PacketStatus::kOk;
    return v;
  }
  parseTransport(v, l4, v.more_fragments);
  return v;
}

PacketView parseV6(std::span<const uint8_t> b) noexcept {
  PacketView v;
  v.ip_version = 6;
  if (b.size() < kIpv6Header) return fail(v, PacketStatus::kTruncated);
  v.src = IpAddress::v6(std::span<const uint8_t, 16>(b.data() + 8, 16));
  v.dst = IpAddress::v6(std::span<const uint8_t, 16>(b.data() + 24, 16));
  v.ttl = b[7];
  const size_t payload_length = be16(b, 4);
  uint8_t next = b[6];
  if (payload_length == 0 && next == ip_protocol::kHopByHop && b.size() > kIpv6Header) {
    return fail(v, PacketStatus::kUnsupported);  // RFC 2675 jumbogram
  }
  if (kIpv6Header + payload_length > b.size()) return fail(v, PacketStatus::kTruncated);
  v.ip_packet = b.first(kIpv6Header + payload_length);
  ByteReader r(v.ip_packet.subspan(kIpv6Header));
  int walked = 0;
  for (;;) {
    v.protocol = next;
    const bool generic = next == ip_protocol::kHopByHop || next == ip_protocol::kRouting ||
                         next == ip_protocol::kDestinationOptions ||
                         next == ip_protocol::kMobility || next == ip_protocol::kHip ||
                         next == ip_protocol::kShim6;
    if (!generic && next != ip_protocol::kFragment && next != ip_protocol::kAh) break;
    if (walked == kMaxIpv6ExtensionHeaders) return fail(v, PacketStatus::kExtensionChainTooLong);
    // RFC 8200 §4.1: Hop-by-Hop Options only immediately after the IPv6 header.
    if (next == ip_protocol::kHopByHop && walked > 0) {
      return fail(v, PacketStatus::kBadExtensionHeader);
    }
    const auto next_header = r.peek(0);
    const auto length_field = r.peek(1);
    if (!next_header || !length_field) return fail(v, PacketStatus::kTruncated);
    size_t length;
    if (next == ip_protocol::kFragment) {
      length = 8;  // RFC 8200 §4.5: fixed size
      auto frag = r.rest();
      if (frag.size() < 8) return fail(v, PacketStatus::kTruncated);
      const uint16_t offset_flags = be16(frag, 2);
      v.has_fragment_header = true;
      v.fragment_offset = static_cast<uint16_t>(offset_flags & 0xfff8);  // 13 bits * 8
      v.more_fragments = (offset_flags & 0x0001) != 0;
      v.fragment_id = be32(frag, 4);
    } else if (next == ip_protocol::kAh) {
      length = (size_t{*length_field} + 2) * 4;  // RFC 4302 §2.2
    } else {
      length = (size_t{*length_field} + 1) * 8;  // RFC 8200 §4.3-4.6 (and RFC 6564)
    }
    if (!r.skip(length)) return fail(v, PacketStatus::kTruncated);
    ++walked;
    v.extension_headers = static_cast<uint8_t>(walked);
    next = *next_header;
    if (v.isNonFirstFragment()) {
      // The rest belongs to the reassembled packet; there is no transport header here.
      v.protocol = next;
      v.ip_header_length = static_cast<uint16_t>(kIpv6Header + r.position());
      v.payload = r.rest();
      v.status = PacketStatus::kOk;
      return v;
    }
  }
  v.ip_header_length = static_cast<uint16_t>(kIpv6Header + r.position());
  if (v.protocol == ip_protocol::kNoNextHeader) {
    v.payload = {};  // RFC 8200 §4.7: anything after it is ignored
    v.status = PacketStatus::kOk;
    return v;
  }
  parseTransport(v, r.rest(), v.more_fragments);
  return v;
}

}  // namespace

std::string_view packetStatusName(PacketStatus s) noexcept {
  switch (s) {
    case PacketStatus::kOk: return "ok";
    case PacketStatus::kEmpty: return "empty";
    case PacketStatus::kBadVersion: return "bad-version";
    case PacketStatus::kTruncated: return "truncated";
    case PacketStatus::kBadIpv4HeaderLength: return "bad-ipv4-header-length";
    case PacketStatus::kBadExtensionHeader: return "bad-extension-header";
    case PacketStatus::kExtensionChainTooLong: return "extension-chain-too-long";
    case PacketStatus::kBadTransportHeader: return "bad-transport-header";
    case PacketStatus::kUnsupported: return "unsupported";
  }
  return "unknown";
}

PacketView parsePacket(std::span<const uint8_t> ip) noexcept {
  if (ip.empty()) return PacketView{};
  switch (ip[0] >> 4) {
    case 4: return parseV4(ip);
    case 6: return parseV6(ip);
    default: {
      PacketView v;
      v.status = PacketStatus::kBadVersion;
      return v;
    }
  }
}

}  // namespace safegate
