// Fuzz target for IpAddress / Cidr / MacAddress parsing and CidrSet: whatever parses must print
// back to text that parses to the same value, and a CIDR must contain its own network.
#include <cstdint>
#include <cstdlib>
#include <string_view>

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
  for (const Cidr& c : cidrs) {
    // The network address is covered by this CIDR or a more specific one that contains it.
    auto v = set.find(c.network());
    if (!v || *v >= cidrs.size()) std::abort();
    const Cidr& found = cidrs[*v];
    if (!found.contains(c.network()) || found.prefixLength() < c.prefixLength()) std::abort();
  }
  return 0;
}
