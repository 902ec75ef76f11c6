// Fuzz target for the TCP stream reassembler (filters/stream_reassembler.h), checked against
// a byte-map model.
//
// Input: a list of segments, each [offset u16][length u8][length octets]. Offsets are relative
// to the first sequence number, which is chosen near the 32-bit wrap to exercise it. After
// every add() the reassembler's contiguous prefix must equal the model's (octets held from 0
// without a hole), and conflicts must be reported exactly when a held octet would change.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "filters/stream_reassembler.h"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }
constexpr size_t kCap = 2048;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safegate;
  static ReassemblyBuffer<kCap> r;
  static std::array<uint8_t, kCap> model;
  static std::array<bool, kCap> held;
  held.fill(false);
  const uint32_t first = 0xFFFFF000u + (size > 0 ? data[0] : 0);
  r.start(first);
  bool conflict = false, over = false;
  size_t pos = size > 0 ? 1 : 0;
  while (pos + 3 <= size) {
    const size_t offset = (size_t{data[pos]} << 8) | data[pos + 1];
    size_t len = data[pos + 2];
    pos += 3;
    if (len > size - pos) len = size - pos;
    std::span<const uint8_t> seg(data + pos, len);
    pos += len;
    const ReassemblyStatus st = r.add(first + static_cast<uint32_t>(offset), seg);
    if (conflict || st == ReassemblyStatus::kTooManyGaps ||
        r.failure() == ReassemblyStatus::kTooManyGaps) {
      if (r.failure() == ReassemblyStatus::kAdvanced) fail();
      return 0;  // gave up; the model stops here too
    }
    // Model: would this segment change a held octet?
    bool differs = false;
    for (size_t i = 0; i < len && offset + i < kCap; ++i) {
      if (held[offset + i] && model[offset + i] != seg[i]) differs = true;
    }
    if (differs != (st == ReassemblyStatus::kConflict)) fail();
    if (differs) {
      conflict = true;
      continue;
    }
    for (size_t i = 0; i < len && offset + i < kCap; ++i) {
      model[offset + i] = seg[i];
      held[offset + i] = true;
    }
    if (offset + len > kCap && len > 0) over = true;
    if (over && r.failure() != ReassemblyStatus::kOverCap) fail();
    size_t prefix = 0;
    while (prefix < kCap && held[prefix]) ++prefix;
    const auto got = r.contiguous();
    if (got.size() != prefix) fail();
    if (std::memcmp(got.data(), model.data(), prefix) != 0) fail();
    if (r.hasGap() != (std::find(held.begin() + prefix, held.end(), true) != held.end())) fail();
  }
  return 0;
}
