// Fuzz target: DHCP lease files in every format (filters/dhcp_leases.h). The first octet picks
// the format (auto, dnsmasq, odhcpd, ISC); every lease kept must have a usable, clean name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "filters/dhcp_leases.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto format = static_cast<safegate::LeaseFormat>(data[0] % 4);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const safegate::LeaseFile f = safegate::parseLeases(text, format);
  for (const safegate::Lease& l : f.leases) {
    if (l.name.empty() || l.name.size() > 63 || safegate::cleanHostName(l.name) != l.name) abort();
  }
  return 0;
}
