// Fuzz target for the QUIC Initial decoder (filters/quic_initial.h).
//
// Input format: the first byte selects the mode.
//   0x00: the rest is a decrypted Initial payload; its frames go through parseInitialFrames()
//         into one CRYPTO assembler (frame parsing and out-of-order reassembly).
//   else: the rest is a sequence of datagrams, each prefixed by a big-endian u16 length, fed in
//         order into one QuicFlowState (header parsing, header protection, AEAD, coalesced
//         packets, DCID tracking, reassembly).
// Real Initials rarely survive mutation of the ciphertext, so mode 0 is what reaches the frame
// parser deeply; the corpus holds both kinds of seed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "filters/quic_initial.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safegate;
  static auto inspector = QuicInitialInspector::create();
  static auto flow = std::make_unique<QuicFlowState>();
  if (size < 1 || !inspector.isOk()) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  flow->reset();
  if (data[0] == 0x00) {
    QuicFrameSummary summary;
    (void)parseInitialFrames(in, flow->crypto, &summary);
    if (auto hello = flow->crypto.firstHandshakeMessage()) {
      // The view must lie inside the assembler's buffer and be fully readable.
      volatile uint8_t sink = 0;
      for (uint8_t b : *hello) sink = sink ^ b;
      (void)sink;
    }
    return 0;
  }
  while (in.size() >= 2) {
    size_t len = (size_t{in[0]} << 8) | in[1];
    in = in.subspan(2);
    if (len > in.size()) len = in.size();
    (void)(*inspector)->feed(in.first(len), *flow);
    in = in.subspan(len);
  }
  return 0;
}
