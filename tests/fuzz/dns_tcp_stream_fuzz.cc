// Fuzz target for DNS-over-TCP framing (filters/dns_tcp_stream.h), checked against a model.
//
// Input: [mode u8] then segments. Mode even: segments are consecutive, each [length u8][octets];
// the messages handed out must be exactly the model's framing of the concatenated stream (two-
// byte length, message), in order, until a message too large for the cap. Mode odd: each
// segment is [offset u16][length u8][octets] at any offset (gaps, overlaps, retransmissions,
// the 32-bit sequence wrap); the framer must not crash or hand out a message longer than the
// cap. Every handed-out message is also parsed as a DNS query (as the inline path does).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "filters/dns_message.h"
#include "filters/dns_tcp_stream.h"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }
constexpr size_t kCap = 4096;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safegate;
  if (size == 0) return 0;
  static QuicCryptoAssembler assembler;
  static uint8_t scratch[kCap];
  assembler.reset();
  const bool in_order = (data[0] & 1) == 0;
  const uint32_t first = 0xFFFFFF00u + data[0];  // near the wrap
  DnsTcpStreamState state{first, 0};
  std::vector<uint8_t> model;  // in-order mode: every octet sent
  size_t model_at = 0;         // in-order mode: next message expected in `model`
  bool model_done = false;
  auto on_message = [&](std::span<const uint8_t> msg) {
    if (msg.size() + 2 > kCap) fail();
    NameBuffer name;
    DnsQuery q;
    (void)parseDnsQuery(msg, q, name);
    if (in_order && !model_done) {
      if (model.size() - model_at < 2) fail();
      const size_t len = (size_t{model[model_at]} << 8) | model[model_at + 1];
      if (len != msg.size() || model.size() - model_at - 2 < len) fail();
      for (size_t i = 0; i < len; ++i) {
        if (model[model_at + 2 + i] != msg[i]) fail();
      }
      model_at += 2 + len;
    }
    return msg.empty() || msg[0] != 0xEE;  // a "blocked" message stops the stream
  };
  size_t pos = 1;
  uint32_t next_seq = first;
  while (pos < size) {
    size_t offset = 0;
    if (!in_order) {
      if (pos + 2 > size) break;
      offset = (size_t{data[pos]} << 8) | data[pos + 1];
      pos += 2;
    }
    if (pos >= size) break;
    size_t len = data[pos++];
    if (len > size - pos) len = size - pos;
    std::span<const uint8_t> seg(data + pos, len);
    pos += len;
    uint32_t seq = in_order ? next_seq : first + static_cast<uint32_t>(offset);
    if (in_order) {
      model.insert(model.end(), seg.begin(), seg.end());
      next_seq += static_cast<uint32_t>(len);
    }
    DnsTcpStatus st = feedDnsTcpSegment(assembler, state, seq, seg, kCap, scratch, on_message);
    if (state.consumed > assembler.contiguousBytes()) fail();
    if (st == DnsTcpStatus::kStopped || st == DnsTcpStatus::kOverCap ||
        st == DnsTcpStatus::kAmbiguous) {
      if (in_order && st == DnsTcpStatus::kAmbiguous) fail();  // in order never conflicts
      return 0;
    }
    if (in_order) {
      // Every complete message in the model must have been handed out.
      if (model.size() - model_at >= 2) {
        const size_t len = (size_t{model[model_at]} << 8) | model[model_at + 1];
        if (model.size() - model_at - 2 >= len) fail();
      }
    }
  }
  return 0;
}
