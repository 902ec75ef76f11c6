// Fuzz target for IpAddress / Cidr / MacAddress parsing and CidrSet: whatever parses must print
// back to text that parses to the same value, a CIDR must contain its own network, and
// CidrSet::find() must agree with a linear most-specific scan (IPv4 and IPv4-mapped entries
// compared as one address space).
#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "common/ip_address.h"

using safegate::Cidr;
using safegate::CidrSet;
using safegate::IpAddress;
using safegate::MacAddress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto a = IpAddress::parse(text)) {
    auto again = IpAddress::parse(a->toString());
    if (!again || *again != *a) std::abort();
  }
  if (auto m = MacAddress::parse(text)) {
    if (MacAddress::parse(m->toString()) != m) std::abort();
  }
  // Each line is a CIDR; each is then looked up in the set of all of them.
  CidrSet set;
  std::vector<Cidr> cidrs;
  size_t start = 0;
  while (start <= text.size() && cidrs.size() < 256) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (auto c = Cidr::parse(text.substr(start, end - start))) {
      if (!c->contains(c->network())) std::abort();
      auto again = Cidr::parse(c->toString());
      if (!again || !(*again == *c)) std::abort();
      set.add(*c, static_cast<uint32_t>(cidrs.size()));
      cidrs.push_back(*c);
    }
    start = end + 1;
  }
  set.finalize();
  // Reference: a linear scan for the most specific CIDR containing the address, an IPv4 CIDR
  // counting as its ::ffff:0:0/96 form (96 + length) when the address is IPv4-mapped, the first
  // added winning a tie. find() must agree on every network address and its last address.
  auto specificity = [](const Cidr& c, const IpAddress& a) {
    return c.prefixLength() + (c.network().isV4() && a.isV6() ? 96 : 0);
  };
  auto reference = [&](const IpAddress& a) -> std::optional<uint32_t> {
    std::optional<uint32_t> best;
    for (size_t i = 0; i < cidrs.size(); ++i) {
      if (!cidrs[i].contains(a)) continue;
      if (!best || specificity(cidrs[i], a) > specificity(cidrs[*best], a)) {
        best = static_cast<uint32_t>(i);
      }
    }
    return best;
  };
  for (const Cidr& c : cidrs) {
    if (!set.find(c.network())) std::abort();  // a CIDR always covers its own network
    auto probe = [&](const IpAddress& a) {
      auto got = set.find(a);
      auto want = reference(a);
      if (!got != !want) std::abort();
      // Equal values, or two CIDRs of the same range (the first added keeps it).
      if (got && *got != *want && specificity(cidrs[*got], a) != specificity(cidrs[*want], a)) {
        std::abort();
      }
    };
    probe(c.network());
    auto last = c.network().bytes();
    std::array<uint8_t, 16> b{};
    std::copy(last.begin(), last.end(), b.begin());
    const size_t bits = last.size() * 8;
    for (size_t i = c.prefixLength(); i < bits; ++i) b[i / 8] |= uint8_t(0x80u >> (i % 8));
    probe(c.network().isV4() ? IpAddress::v4(std::span<const uint8_t, 4>(b.data(), 4))
                             : IpAddress::v6(std::span<const uint8_t, 16>(b.data(), 16)));
  }
  return 0;
}
