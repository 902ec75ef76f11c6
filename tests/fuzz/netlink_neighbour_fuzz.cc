// Fuzz target for parseNeighbourMessages (rtnetlink RTM_NEWNEIGH dump buffers): any input must
// be walked without reading out of bounds, every accepted entry must be a usable neighbour
// (usable NUD state, 6-octet non-zero MAC), and the counts must add up to what was appended.
#include <linux/neighbour.h>

#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "filters/netlink_neighbour.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<safegate::NeighbourEntry> out;
  // An unaligned start, as a recv buffer offset could be: the parser must not assume alignment.
  std::vector<uint8_t> shifted(size + 1);
  if (size > 0) std::copy(data, data + size, shifted.begin() + 1);
  const auto r = safegate::parseNeighbourMessages(std::span(shifted).subspan(1), out);
  if (r.accepted != out.size()) std::abort();
  if (r.accepted + r.skipped > r.messages) std::abort();
  constexpr uint16_t kUsable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
  for (const auto& e : out) {
    if ((e.state & kUsable) == 0) std::abort();
    if (e.mac == safegate::MacAddress()) std::abort();
  }
  return 0;
}
