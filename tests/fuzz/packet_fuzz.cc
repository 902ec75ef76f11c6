// Fuzz target for parsePacket(): any bytes must give a status, never a crash or a view outside
// the input.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "filters/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  const safegate::PacketView v = safegate::parsePacket(in);
  auto inside = [&](std::span<const uint8_t> s) {
    return s.empty() || (s.data() >= data && s.data() + s.size() <= data + size);
  };
  if (!inside(v.payload) || !inside(v.ip_packet)) std::abort();
  if (v.ok() && v.ip_version != 4 && v.ip_version != 6) std::abort();
  if (v.ok() && v.isNonFirstFragment() && v.has_ports) std::abort();
  (void)safegate::packetStatusName(v.status);
  return 0;
}
