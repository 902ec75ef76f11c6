#include "common/ip_address.h"

#include <algorithm>
#include <cstring>

namespace safegate {
namespace {

// The IPv4-mapped prefix ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict dotted quad: exactly four decimal octets 0..255, no leading zeros (an inet_aton-style
// "010" would be octal to some parsers and decimal to others; ambiguity is refused), no sign,
// no whitespace.
bool parseDottedQuad(std::string_view text, uint8_t* out) {
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= text.size() || text[pos] != '.') return false;
      ++pos;
    }
    size_t start = pos;
    unsigned value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      value = value * 10 + static_cast<unsigned>(text[pos] - '0');
      if (value > 255) return false;
      ++pos;
      if (pos - start > 3) return false;
    }
    size_t len = pos - start;
    if (len == 0) return false;
    if (len > 1 && text[start] == '0') return false;
    out[i] = static_cast<uint8_t>(value);
  }
  return pos == text.size();
}

// RFC 4291 §2.2 text forms: eight 16-bit hex groups, at most one "::" standing for one or more
// zero groups, and optionally a trailing dotted quad in the last 32 bits.
bool parseV6(std::string_view text, uint8_t* out) {
  if (text.size() < 2 || text.size() > 45) return false;
  uint16_t groups[8] = {};
  int count = 0;
  int gap = -1;  // index in groups[] where "::" was seen
  size_t pos = 0;
  if (text.substr(0, 2) == "::") {
    gap = 0;
    pos = 2;
    if (pos == text.size()) {
      std::memset(out, 0, 16);
      return true;
    }
  } else if (text[0] == ':') {
    return false;  // a single leading colon
  }
  while (pos < text.size()) {
    if (count >= 8) return false;
    // A trailing dotted quad?
    size_t end = text.find(':', pos);
    std::string_view token =
        text.substr(pos, end == std::string_view::npos ? text.npos : end - pos);
    if (token.find('.') != std::string_view::npos) {
      if (end != std::string_view::npos || count > 6) return false;
      uint8_t quad[4];
      if (!parseDottedQuad(token, quad)) return false;
      groups[count++] = static_cast<uint16_t>((quad[0] << 8) | quad[1]);
      groups[count++] = static_cast<uint16_t>((quad[2] << 8) | quad[3]);
      pos = text.size();
      break;
    }
    if (token.empty() || token.size() > 4) return false;
    unsigned value = 0;
    for (char c : token) {
      int h = hexValue(c);
      if (h < 0) return false;
      value = (value << 4) | static_cast<unsigned>(h);
    }
    groups[count++] = static_cast<uint16_t>(value);
    if (end == std::string_view::npos) {
      pos = text.size();
      break;
    }
    pos = end + 1;  // past ':'
    if (pos < text.size() && text[pos] == ':') {
      if (gap >= 0) return false;  // a second "::"
      gap = count;
      ++pos;
      if (pos == text.size()) break;  // "x::"
    } else if (pos == text.size()) {
      return false;  // a single trailing colon
    }
  }
  if (gap < 0) {
    if (count != 8) return false;
  } else {
    if (count > 7) return false;  // "::" must stand for at least one group
    int tail = count - gap;
    std::memmove(groups + 8 - tail, groups + gap, sizeof(uint16_t) * static_cast<size_t>(tail));
    for (int i = gap; i < 8 - tail; ++i) groups[i] = 0;
  }
  for (int i = 0; i < 8; ++i) {
    out[2 * i] = static_cast<uint8_t>(groups[i] >> 8);
    out[2 * i + 1] = static_cast<uint8_t>(groups[i] & 0xff);
  }
  return true;
}

void appendDecimal(std::string& out, unsigned v) { out += std::to_string(v); }

void appendHex(std::string& out, unsigned v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[4];
  int n = 0;
  do {
    buf[n++] = kDigits[v & 0xf];
    v >>= 4;
  } while (v != 0);
  while (n > 0) out += buf[--n];
}

// The v4 address embedded in an IPv4-mapped IPv6 address, or the address itself.
IpAddress unmapped(const IpAddress& a) noexcept {
  if (!a.isV4Mapped()) return a;
  auto b = a.bytes();
  uint8_t v4[4] = {b[12], b[13], b[14], b[15]};
  return IpAddress::v4(std::span<const uint8_t, 4>(v4, 4));
}

using U128 = unsigned __int128;

U128 toU128(std::span<const uint8_t> bytes) {
  U128 v = 0;
  for (uint8_t b : bytes) v = (v << 8) | b;
  return v;
}

}  // namespace

// ---------------------------------------------------------------- IpAddress

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.is_v4_ = true;
  a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::v4(std::span<const uint8_t, 4> bytes) {
  IpAddress a;
  a.is_v4_ = true;
  std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
  return a;
}

IpAddress IpAddress::v6(std::span<const uint8_t, 16> bytes) {
  IpAddress a;
  a.is_v4_ = false;
  std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    if (!parseDottedQuad(text, a.bytes_.data())) return std::nullopt;
    a.is_v4_ = true;
    return a;
  }
  if (!parseV6(text, a.bytes_.data())) return std::nullopt;
  a.is_v4_ = false;
  return a;
}

bool IpAddress::isV4Mapped() const noexcept {
  return !is_v4_ && std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes_.begin());
}

std::string IpAddress::toString() const {
  std::string out;
  if (is_v4_) {
    for (int i = 0; i < 4; ++i) {
      if (i > 0) out += '.';
      appendDecimal(out, bytes_[i]);
    }
    return out;
  }
  if (isV4Mapped()) {
    // RFC 5952 §5: mixed notation for IPv4-mapped addresses.
    out = "::ffff:";
    for (int i = 12; i < 16; ++i) {
      if (i > 12) out += '.';
      appendDecimal(out, bytes_[i]);
    }
    return out;
  }
  uint16_t groups[8];
  for (int i = 0; i < 8; ++i) {
    groups[i] = static_cast<uint16_t>((bytes_[2 * i] << 8) | bytes_[2 * i + 1]);
  }
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  int best_start = -1;
  int best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best_start = -1;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (i > 0 && !(best_start >= 0 && i == best_start + best_len)) out += ':';
    appendHex(out, groups[i]);
  }
  return out;
}

size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
  // FNV-1a over the bytes plus the family; addresses are not attacker-chosen keys in a way that
  // matters here (client tables are bounded), and this is cheap and stable.
  uint64_t h = 1469598103934665603ull ^ (a.isV4() ? 4u : 6u);
  for (uint8_t b : a.bytes()) {
    h ^= b;
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

// ---------------------------------------------------------------- MacAddress

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  std::array<uint8_t, 6> b{};
  for (int i = 0; i < 6; ++i) {
    size_t p = static_cast<size_t>(i) * 3;
    if (i > 0 && text[p - 1] != sep) return std::nullopt;
    int hi = hexValue(text[p]);
    int lo = hexValue(text[p + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    b[static_cast<size_t>(i)] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return MacAddress(b);
}

std::string MacAddress::toString() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(17);
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0) out += ':';
    out += kDigits[bytes_[i] >> 4];
    out += kDigits[bytes_[i] & 0xf];
  }
  return out;
}

// ---------------------------------------------------------------- Cidr

Cidr::Cidr(IpAddress network, uint8_t prefix_length) {
  const size_t bits = network.isV4() ? 32 : 128;
  if (prefix_length > bits) prefix_length = static_cast<uint8_t>(bits);
  std::array<uint8_t, 16> b{};
  auto src = network.bytes();
  std::copy(src.begin(), src.end(), b.begin());
  for (size_t i = 0; i < src.size(); ++i) {
    size_t bit_start = i * 8;
    if (bit_start >= prefix_length) {
      b[i] = 0;
    } else if (bit_start + 8 > prefix_length) {
      unsigned keep = prefix_length - bit_start;
      b[i] = static_cast<uint8_t>(b[i] & (0xff00u >> keep));
    }
  }
  network_ = network.isV4() ? IpAddress::v4(std::span<const uint8_t, 4>(b.data(), 4))
                            : IpAddress::v6(std::span<const uint8_t, 16>(b.data(), 16));
  prefix_ = prefix_length;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  size_t slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const unsigned max_bits = addr->isV4() ? 32 : 128;
  if (slash == std::string_view::npos) return Cidr(*addr, static_cast<uint8_t>(max_bits));
  std::string_view digits = text.substr(slash + 1);
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  unsigned len = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + static_cast<unsigned>(c - '0');
  }
  if (len > max_bits) return std::nullopt;
  return Cidr(*addr, static_cast<uint8_t>(len));
}

bool Cidr::contains(const IpAddress& a) const noexcept {
  // An IPv4-mapped IPv6 address (what a dual-stack socket reports for a v4 peer) is matched
  // against IPv4 networks as the IPv4 address it carries.
  const IpAddress& probe = (network_.isV4() && a.isV4Mapped()) ? unmapped(a) : a;
  if (probe.isV4() != network_.isV4()) return false;
  auto x = probe.bytes();
  auto n = network_.bytes();
  size_t full = prefix_ / 8;
  for (size_t i = 0; i < full; ++i) {
    if (x[i] != n[i]) return false;
  }
  unsigned rest = prefix_ % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
  return (x[full] & mask) == n[full];
}

std::string Cidr::toString() const { return network_.toString() + '/' + std::to_string(prefix_); }

// ---------------------------------------------------------------- CidrSet

void CidrSet::add(const Cidr& cidr, uint32_t value) {
  entries_.push_back(Entry{cidr, value, entries_.size()});
  finalized_ = false;
}

namespace {

// Flattens nested-or-disjoint intervals (CIDRs are never partially overlapping) into sorted,
// non-overlapping ranges each carrying the value of the most specific CIDR covering it.
// `items` are (start, last, value, order) sorted by start ascending, then by size descending.
template <typename Key, typename Range, typename Item>
std::vector<Range> flatten(const std::vector<Item>& items, Key max_key) {
  std::vector<Range> out;
  std::vector<const Item*> open;
  Key cursor = 0;     // first address not yet emitted
  bool done = false;  // cursor passed the end of the address space
  auto emit = [&](Key first, Key last, uint32_t value) {
    if (done || first > last) return;
    if (!out.empty() && out.back().value == value && out.back().last + 1 == first) {
      out.back().last = last;  // merge adjacent ranges with the same value
    } else {
      out.push_back(Range{first, last, value});
    }
  };
  auto close_top = [&]() {
    const Item* top = open.back();
    open.pop_back();
    if (!done && cursor <= top->last) emit(cursor, top->last, top->value);
    if (top->last == max_key) {
      done = true;
    } else if (!done && cursor <= top->last) {
      cursor = top->last + 1;
    }
  };
  for (const Item& it : items) {
    while (!open.empty() && open.back()->last < it.first) close_top();
    if (!open.empty() && open.back()->first == it.first && open.back()->last == it.last) {
      continue;  // duplicate CIDR: the first one added keeps its value
    }
    if (!open.empty() && cursor < it.first) emit(cursor, it.first - 1, open.back()->value);
    if (cursor < it.first || open.empty()) cursor = it.first;
    open.push_back(&it);
  }
  while (!open.empty()) close_top();
  return out;
}

template <typename Key>
struct Item {
  Key first;
  Key last;
  uint32_t value;
  size_t order;
};

template <typename Key>
void sortItems(std::vector<Item<Key>>& items) {
  std::sort(items.begin(), items.end(), [](const Item<Key>& a, const Item<Key>& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.last != b.last) return a.last > b.last;  // the enclosing (bigger) one first
    return a.order < b.order;                      // then insertion order (first wins)
  });
}

}  // namespace

void CidrSet::finalize() {
  std::vector<Item<uint32_t>> v4;
  std::vector<Item<U128>> v6;
  for (const Entry& e : entries_) {
    const Cidr& c = e.cidr;
    if (c.network().isV4()) {
      uint32_t first = static_cast<uint32_t>(toU128(c.network().bytes()));
      uint32_t host_mask = c.prefixLength() >= 32 ? 0u : (0xffffffffu >> c.prefixLength());
      v4.push_back({first, first | host_mask, e.value, e.order});
      // The same network as seen from a dual-stack socket: ::ffff:a.b.c.d/(96 + length).
      // Keeping it in the IPv6 ranges too lets a mapped address find the most specific of the
      // IPv4 CIDRs and the IPv6 CIDRs written inside ::ffff:0:0/96 in one lookup.
      const U128 mapped = U128{0xffff} << 32;
      v6.push_back({mapped | first, mapped | first | host_mask, e.value, e.order});
    } else {
      U128 first = toU128(c.network().bytes());
      U128 all = ~U128{0};
      U128 host_mask = c.prefixLength() >= 128 ? U128{0} : (all >> c.prefixLength());
      v6.push_back({first, first | host_mask, e.value, e.order});
    }
  }
  sortItems(v4);
  sortItems(v6);
  v4_ranges_ = flatten<uint32_t, V4Range>(v4, 0xffffffffu);
  v6_ranges_ = flatten<U128, V6Range>(v6, ~U128{0});
  v4_ranges_.shrink_to_fit();
  v6_ranges_.shrink_to_fit();
  finalized_ = true;
}

std::optional<uint32_t> CidrSet::find(const IpAddress& a) const noexcept {
  if (!finalized_) return std::nullopt;
  if (a.isV4()) {
    auto b = a.bytes();
    uint32_t key = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    auto it = std::upper_bound(v4_ranges_.begin(), v4_ranges_.end(), key,
                               [](uint32_t k, const V4Range& r) { return k < r.first; });
    if (it != v4_ranges_.begin() && key <= std::prev(it)->last) return std::prev(it)->value;
    return std::nullopt;
  }
  // An IPv4-mapped address (see Cidr::contains()) is found here as well: finalize() put every
  // IPv4 CIDR into ::ffff:0:0/96, so "most specific wins" holds across the two families.
  U128 key = toU128(a.bytes());
  auto it = std::upper_bound(v6_ranges_.begin(), v6_ranges_.end(), key,
                             [](U128 k, const V6Range& r) { return k < r.first; });
  if (it != v6_ranges_.begin() && key <= std::prev(it)->last) return std::prev(it)->value;
  return std::nullopt;
}

}  // namespace safegate
