// Fuzz target for the stream assembler the inline path and replay reassemble every TCP stream
// and QUIC CRYPTO stream with (QuicCryptoAssembler, filters/quic_initial.h), checked octet by
// octet against a model: a map of which stream octets are known and what they hold.
//
// Input: segments, each [offset u16][length u8][octets]. Offsets run past the cap (so overflow
// is reached). A length with its top bit set takes its octets from a fixed "true stream"
// (octet i = i * 31 + 7), so retransmissions and overlaps agree; otherwise the octets come
// from the input, so overlaps may disagree. For every add() the status must be what the model
// predicts — kCryptoOverflow past the cap, kCryptoConflict when a held octet would change,
// kTooFragmented when a new disjoint range would exceed kMaxRanges, else kOk — a refused add()
// must change nothing, rangeCount() must be the model's number of maximal runs, and
// contiguous() must be exactly the model's known prefix.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "filters/quic_initial.h"

namespace {

[[noreturn]] void fail() { __builtin_trap(); }

using safegate::QuicCryptoAssembler;
using safegate::QuicStatus;
constexpr size_t kCap = QuicCryptoAssembler::kCapacity;

struct Model {
  std::vector<int16_t> octet = std::vector<int16_t>(kCap, -1);  // -1 = not known yet

  size_t runs() const {
    size_t n = 0;
    for (size_t i = 0; i < kCap; ++i) n += octet[i] >= 0 && (i == 0 || octet[i - 1] < 0);
    return n;
  }
  size_t prefix() const {
    size_t n = 0;
    while (n < kCap && octet[n] >= 0) ++n;
    return n;
  }
};

uint8_t trueOctet(size_t i) { return static_cast<uint8_t>(i * 31 + 7); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static QuicCryptoAssembler assembler;
  assembler.reset();
  Model model;
  std::vector<uint8_t> segment;
  size_t at = 0;
  while (at + 3 <= size) {
    const size_t offset = (size_t{data[at]} << 8 | data[at + 1]) % (kCap + 512);
    const bool from_stream = (data[at + 2] & 0x80) != 0;
    const size_t length = data[at + 2] & 0x7f;
    at += 3;
    segment.clear();
    for (size_t i = 0; i < length; ++i) {
      if (from_stream) {
        segment.push_back(trueOctet(offset + i));
      } else if (at < size) {
        segment.push_back(data[at++]);
      }
    }

    QuicStatus expected = QuicStatus::kOk;
    Model next = model;
    if (!segment.empty()) {
      if (offset > kCap || segment.size() > kCap - offset) {
        expected = QuicStatus::kCryptoOverflow;
      } else {
        for (size_t i = 0; i < segment.size(); ++i) {
          const int16_t held = model.octet[offset + i];
          if (held >= 0 && held != segment[i]) expected = QuicStatus::kCryptoConflict;
          next.octet[offset + i] = segment[i];
        }
        if (expected == QuicStatus::kOk && next.runs() > QuicCryptoAssembler::kMaxRanges) {
          expected = QuicStatus::kTooFragmented;
        }
      }
    }
    if (assembler.add(offset, segment) != expected) fail();
    if (expected == QuicStatus::kOk) model = std::move(next);

    if (assembler.rangeCount() != model.runs()) fail();
    const auto prefix = assembler.contiguous();
    if (prefix.size() != model.prefix()) fail();
    for (size_t i = 0; i < prefix.size(); ++i) {
      if (prefix[i] != model.octet[i]) fail();
    }
  }
  return 0;
}
