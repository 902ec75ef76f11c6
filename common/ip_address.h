// IpAddress, MacAddress, Cidr and CidrSet: client identity and address matching.
//
// IpAddress holds IPv4 or IPv6 (IPv4-mapped IPv6 is kept as v6 but compares via isV4Mapped()).
// Parsing and printing are control plane; contains()/find() are data plane (noexcept, no
// allocation). All types are immutable values after construction; CidrSet is safe to read
// from many threads once built.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace safegate {

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(uint32_t host_order);
  static IpAddress v4(std::span<const uint8_t, 4> bytes);
  static IpAddress v6(std::span<const uint8_t, 16> bytes);
  // "192.0.2.1", "2001:db8::1" (no brackets, no zone).
  static std::optional<IpAddress> parse(std::string_view text);

  bool isV4() const { return is_v4_; }
  bool isV6() const { return !is_v4_; }
  // True for ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). Cidr::contains() and CidrSet::find() match such
  // an address against IPv4 networks as the IPv4 address it carries (a dual-stack socket reports
  // IPv4 peers this way).
  bool isV4Mapped() const noexcept;
  // Network-order bytes: 4 for IPv4, 16 for IPv6.
  std::span<const uint8_t> bytes() const { return {bytes_.data(), is_v4_ ? 4u : 16u}; }
  std::string toString() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
  bool is_v4_ = true;
};

struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept;
};

class MacAddress {
 public:
  MacAddress() = default;
  explicit MacAddress(std::array<uint8_t, 6> b) : bytes_(b) {}
  // "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff", any case.
  static std::optional<MacAddress> parse(std::string_view text);
  const std::array<uint8_t, 6>& bytes() const { return bytes_; }
  std::string toString() const;  // lower-case, colon separated
  friend bool operator==(const MacAddress&, const MacAddress&) = default;
  friend auto operator<=>(const MacAddress&, const MacAddress&) = default;

 private:
  std::array<uint8_t, 6> bytes_{};
};

class Cidr {
 public:
  Cidr() = default;
  Cidr(IpAddress network, uint8_t prefix_length);  // host bits are cleared
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
  static std::optional<Cidr> parse(std::string_view text);
  const IpAddress& network() const { return network_; }
  uint8_t prefixLength() const { return prefix_; }
  bool contains(const IpAddress& a) const noexcept;
  std::string toString() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;

 private:
  IpAddress network_;
  uint8_t prefix_ = 0;
};

// A set of CIDRs, each carrying a caller-chosen value; find() returns the value of the
// longest (most specific) prefix that contains the address. The same CIDR added twice keeps the
// value it was first added with. finalize() flattens the nested prefixes into sorted disjoint
// ranges, so find() is one binary search (O(log n), no allocation) whatever the prefix mix;
// find() before finalize() finds nothing.
class CidrSet {
 public:
  void add(const Cidr& cidr, uint32_t value);
  // Must be called after the last add() and before find().
  void finalize();
  std::optional<uint32_t> find(const IpAddress& a) const noexcept;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Cidr cidr;
    uint32_t value;
    size_t order;  // insertion order, so the first of two identical CIDRs wins
  };
  struct V4Range {
    uint32_t first;
    uint32_t last;
    uint32_t value;
  };
  struct V6Range {
    unsigned __int128 first;
    unsigned __int128 last;
    uint32_t value;
  };
  std::vector<Entry> entries_;      // as added
  std::vector<V4Range> v4_ranges_;  // disjoint, sorted by first, after finalize()
  std::vector<V6Range> v6_ranges_;
  bool finalized_ = false;
};

}  // namespace safegate
