#include "tests/support/pcap_reader.h"

#include <fstream>
#include <iterator>
#include <string>

namespace safegate::testing {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr uint16_t kEtherTypeVlan = 0x8100;     // IEEE 802.1Q
constexpr uint16_t kEtherTypeQinQ = 0x88A8;     // IEEE 802.1ad
constexpr uint16_t kEtherTypeQinQOld = 0x9100;  // pre-standard double tagging
constexpr uint16_t kEtherTypePppoeSession = 0x8864;
constexpr uint16_t kPppIpv4 = 0x0021;  // RFC 1332
constexpr uint16_t kPppIpv6 = 0x0057;  // RFC 5072

uint16_t be16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}

// True when the first nibble names the IP version the link layer claimed (or any IP version
// when `version` is 0).
std::span<const uint8_t> checkedIp(std::span<const uint8_t> rest, int version) {
  if (rest.empty()) return {};
  int v = rest[0] >> 4;
  if (v != 4 && v != 6) return {};
  if (version != 0 && v != version) return {};
  return rest;
}

std::span<const uint8_t> byEtherType(uint16_t type, std::span<const uint8_t> rest) {
  if (type == kEtherTypeIpv4) return checkedIp(rest, 4);
  if (type == kEtherTypeIpv6) return checkedIp(rest, 6);
  return {};
}

// PPP protocol field (RFC 1661 §2): 1 or 2 octets; an odd first octet means the compressed
// one-octet form (Protocol-Field-Compression).
std::span<const uint8_t> afterPppProtocol(std::span<const uint8_t> b) {
  if (b.empty()) return {};
  uint16_t proto;
  size_t len;
  if (b[0] & 1) {
    proto = b[0];
    len = 1;
  } else {
    if (b.size() < 2) return {};
    proto = be16(b, 0);
    len = 2;
  }
  if (proto == kPppIpv4) return checkedIp(b.subspan(len), 4);
  if (proto == kPppIpv6) return checkedIp(b.subspan(len), 6);
  return {};
}

std::span<const uint8_t> ethernet(std::span<const uint8_t> f) {
  if (f.size() < 14) return {};
  size_t at = 12;
  uint16_t type = be16(f, at);
  at += 2;
  // Up to two VLAN tags (802.1ad outer + 802.1Q inner); each is TCI(2) + next type(2).
  for (int tags = 0;
       tags < 2 && (type == kEtherTypeVlan || type == kEtherTypeQinQ || type == kEtherTypeQinQOld);
       ++tags) {
    if (f.size() < at + 4) return {};
    type = be16(f, at + 2);
    at += 4;
  }
  if (type == kEtherTypePppoeSession) {
    // RFC 2516 §4: ver/type(1) code(1) session(2) length(2), then the PPP protocol.
    if (f.size() < at + 6) return {};
    return afterPppProtocol(f.subspan(at + 6));
  }
  return byEtherType(type, f.subspan(at));
}

std::span<const uint8_t> bsdNull(std::span<const uint8_t> f, bool network_order) {
  if (f.size() < 4) return {};
  uint32_t family;
  if (network_order) {
    family = (uint32_t{f[0]} << 24) | (uint32_t{f[1]} << 16) | (uint32_t{f[2]} << 8) | f[3];
  } else {
    // DLT_NULL stores the family in the capturing host's order; accept either.
    uint32_t le = (uint32_t{f[3]} << 24) | (uint32_t{f[2]} << 16) | (uint32_t{f[1]} << 8) | f[0];
    uint32_t be = (uint32_t{f[0]} << 24) | (uint32_t{f[1]} << 16) | (uint32_t{f[2]} << 8) | f[3];
    family = le < 256 ? le : be;
  }
  auto rest = f.subspan(4);
  if (family == 2) return checkedIp(rest, 4);
  // AF_INET6 differs per BSD: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
  if (family == 24 || family == 28 || family == 30 || family == 10) return checkedIp(rest, 6);
  return {};
}

}  // namespace

std::span<const uint8_t> ipLayerOf(uint32_t link_type, std::span<const uint8_t> f) {
  switch (link_type) {
    case kLinkTypeNull: return bsdNull(f, false);
    case kLinkTypeLoop: return bsdNull(f, true);
    case kLinkTypeEthernet: return ethernet(f);
    case kLinkTypeRawBsd12:
    case kLinkTypeRawBsd14:
    case kLinkTypeRaw: return checkedIp(f, 0);
    case kLinkTypeIpv4: return checkedIp(f, 4);
    case kLinkTypeIpv6: return checkedIp(f, 6);
    case kLinkTypePpp:
    case kLinkTypePppHdlc:
      // RFC 1662 framing: optional address 0xff and control 0x03 before the protocol.
      if (f.size() >= 2 && f[0] == 0xff && f[1] == 0x03) f = f.subspan(2);
      return afterPppProtocol(f);
    case kLinkTypeLinuxSll:
      // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2).
      if (f.size() < 16) return {};
      return byEtherType(be16(f, 14), f.subspan(16));
    case kLinkTypeLinuxSll2:
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8).
      if (f.size() < 20) return {};
      return byEtherType(be16(f, 0), f.subspan(20));
    default: return {};
  }
}

Result<PcapFile> PcapFile::open(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io("cannot open " + path.string());
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) return Status::io("cannot read " + path.string());
  auto r = fromBytes(bytes);
  if (!r) {
    Status s = r.status();
    return Status(s.code(), path.string() + ": " + s.message());
  }
  return r;
}

Result<PcapFile> PcapFile::fromBytes(std::span<const uint8_t> bytes) {
  PcapFile p;
  p.data_.assign(bytes.begin(), bytes.end());
  const std::span<const uint8_t> d(p.data_);
  if (d.size() < 24) return Status::invalid("truncated pcap file header");
  const uint32_t magic_le =
      (uint32_t{d[3]} << 24) | (uint32_t{d[2]} << 16) | (uint32_t{d[1]} << 8) | d[0];
  bool swapped;  // true when fields are big-endian
  bool nanos;
  switch (magic_le) {
    case 0xa1b2c3d4:
      swapped = false;
      nanos = false;
      break;
    case 0xa1b23c4d:
      swapped = false;
      nanos = true;
      break;
    case 0xd4c3b2a1:
      swapped = true;
      nanos = false;
      break;
    case 0x4d3cb2a1:
      swapped = true;
      nanos = true;
      break;
    case 0x0a0d0d0a:
      return Status::invalid("pcapng is not supported; convert with editcap -F pcap");
    default: return Status::invalid("not a pcap file (bad magic)");
  }
  auto u32 = [&](size_t at) -> uint32_t {
    if (swapped) {
      return (uint32_t{d[at]} << 24) | (uint32_t{d[at + 1]} << 16) | (uint32_t{d[at + 2]} << 8) |
             d[at + 3];
    }
    return (uint32_t{d[at + 3]} << 24) | (uint32_t{d[at + 2]} << 16) | (uint32_t{d[at + 1]} << 8) |
           d[at];
  };
  p.snap_length_ = u32(16);
  // The upper bits of the link-type field carry FCS information (pcap-savefile(5)).
  p.link_type_ = u32(20) & 0x03FFFFFF;
  size_t at = 24;
  uint32_t index = 0;
  while (at < d.size()) {
    if (d.size() - at < 16) {
      return Status::invalid("truncated record header at byte " + std::to_string(at));
    }
    const uint32_t sec = u32(at);
    const uint32_t frac = u32(at + 4);
    const uint32_t incl = u32(at + 8);
    const uint32_t orig = u32(at + 12);
    at += 16;
    if (incl > d.size() - at) {
      return Status::invalid("truncated record " + std::to_string(index) + " at byte " +
                             std::to_string(at) + ": needs " + std::to_string(incl) + " bytes");
    }
    PcapFrame f;
    f.index = index++;
    f.timestamp_ns = int64_t{sec} * 1000000000 + (nanos ? int64_t{frac} : int64_t{frac} * 1000);
    f.original_length = orig;
    f.frame = d.subspan(at, incl);
    f.ip = ipLayerOf(p.link_type_, f.frame);
    p.frames_.push_back(f);
    at += incl;
  }
  return p;
}

std::vector<PcapFrame> PcapFile::ipFrames() const {
  std::vector<PcapFrame> out;
  for (const auto& f : frames_) {
    if (!f.ip.empty()) out.push_back(f);
  }
  return out;
}

}  // namespace safegate::testing
