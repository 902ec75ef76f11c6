// PcapFile: a small reader for classic libpcap capture files, for tests that feed real packets
// to the parsers (../shared/data/pcaps).
//
// Provides PcapFile::open(path) -> every frame with its timestamp, its raw bytes and a view of
// its IP layer (the IPv4/IPv6 header onwards) after removing the link-layer framing of:
//   0 NULL/BSD loopback, 108 OpenBSD LOOP, 1 Ethernet (802.1Q / 802.1ad VLAN tags, PPPoE
//   session), 9 PPP, 50 PPP in HDLC framing, 12/14/101 raw IP, 228 raw IPv4, 229 raw IPv6,
//   113 Linux cooked (SLL), 276 Linux cooked v2 (SLL2).
// Both byte orders and both microsecond and nanosecond timestamp magics are accepted; pcapng is
// refused with a clear error. Frames whose link layer is not IP (ARP, LLDP, ...) have an empty
// ip() view.
//
// Ownership: PcapFile owns the file's bytes; every span in a PcapFrame points into them and
// stays valid as long as the PcapFile (moving the PcapFile keeps them valid). Not thread-safe
// to mutate; const access from many threads is fine. Test support only (allocates freely).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "common/result.h"

namespace safegate::testing {

// Link types (https://www.tcpdump.org/linktypes.html).
inline constexpr uint32_t kLinkTypeNull = 0;
inline constexpr uint32_t kLinkTypeEthernet = 1;
inline constexpr uint32_t kLinkTypePpp = 9;
inline constexpr uint32_t kLinkTypeRawBsd12 = 12;
inline constexpr uint32_t kLinkTypeRawBsd14 = 14;
inline constexpr uint32_t kLinkTypePppHdlc = 50;
inline constexpr uint32_t kLinkTypeRaw = 101;
inline constexpr uint32_t kLinkTypeLoop = 108;
inline constexpr uint32_t kLinkTypeLinuxSll = 113;
inline constexpr uint32_t kLinkTypeIpv4 = 228;
inline constexpr uint32_t kLinkTypeIpv6 = 229;
inline constexpr uint32_t kLinkTypeLinuxSll2 = 276;

struct PcapFrame {
  uint32_t index = 0;              // 0-based position in the file (tshark's frame number minus one)
  int64_t timestamp_ns = 0;        // capture time, nanoseconds since the Unix epoch
  uint32_t original_length = 0;    // length on the wire (may exceed frame.size() if snapped)
  std::span<const uint8_t> frame;  // captured bytes, link layer included
  std::span<const uint8_t> ip;     // IPv4/IPv6 header onwards; empty when not IP
};

// The IP layer of one frame of the given link type; empty when the frame does not carry IP
// or its link header is truncated.
std::span<const uint8_t> ipLayerOf(uint32_t link_type, std::span<const uint8_t> frame);

class PcapFile {
 public:
  // Reads the whole file. Errors: not found / unreadable (kIoError), pcapng or bad magic,
  // truncated header or record (kInvalidArgument, message names the byte offset).
  static Result<PcapFile> open(const std::filesystem::path& path);
  // Parses a capture already in memory (copied).
  static Result<PcapFile> fromBytes(std::span<const uint8_t> bytes);

  PcapFile(PcapFile&&) = default;
  PcapFile& operator=(PcapFile&&) = default;
  PcapFile(const PcapFile&) = delete;
  PcapFile& operator=(const PcapFile&) = delete;

  uint32_t linkType() const { return link_type_; }
  uint32_t snapLength() const { return snap_length_; }
  const std::vector<PcapFrame>& frames() const { return frames_; }
  // The frames whose ip() view is non-empty, in file order.
  std::vector<PcapFrame> ipFrames() const;

 private:
  PcapFile() = default;
  std::vector<uint8_t> data_;
  uint32_t link_type_ = 0;
  uint32_t snap_length_ = 0;
  std::vector<PcapFrame> frames_;
};

}  // namespace safegate::testing
