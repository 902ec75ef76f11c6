// Fuzz target: PTR answers from a LAN DNS server (filters/reverse_name.h). The question is fixed
// and the ID is taken from the input, so the fuzzer reaches the record walk; any name handed out
// must be one clean label.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "filters/dhcp_leases.h"
#include "filters/reverse_name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint16_t id = static_cast<uint16_t>((data[0] << 8) | data[1]);
  auto a = safegate::parsePtrAnswer(std::span<const uint8_t>(data, size), id,
                                    "23.1.168.192.in-addr.arpa");
  if (a && (a->name.find('.') != std::string::npos || a->name.size() > 63 ||
            safegate::cleanHostName(a->name) != a->name)) {
    abort();
  }
  return 0;
}
