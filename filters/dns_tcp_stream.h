// DNS over TCP framing for an inline observer: the client-to-server byte stream of one
// connection, fed segment by segment, yields every complete DNS message in order.
//
// RFC 1035 §4.2.2 prefixes each message with a two-byte length; RFC 7766 §6.2.1 lets clients
// pipeline queries, so one segment may carry several messages and one message may be split
// over segments (and segments may arrive out of order). The bytes are put together in a
// QuicCryptoAssembler (filters/quic_initial.h: ordered ranges, identical-overlap check, fixed
// capacity); after each segment the messages handed out are dropped from its front, so it
// only ever holds the undecided tail and a long-lived connection never reaches the cap.
//
// Data plane: noexcept, no allocation. Not thread-safe: one state per flow, used by the
// worker owning the flow. The assembler and scratch are the caller's.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "filters/quic_initial.h"

namespace safegate {

struct DnsTcpStreamState {
  uint32_t base_seq = 0;  // sequence number of the assembler's octet 0
  uint32_t consumed = 0;  // octets at the assembler's front already handed out
};

enum class DnsTcpStatus : uint8_t {
  kOk,             // segment placed; every complete message was handed out
  kRetransmitted,  // every octet lies before base_seq (already handed out): nothing to do
  kStopped,        // on_message returned false for a message (the caller blocks)
  kOverCap,        // octets beyond the capacity: a message larger than the cap, or a wide gap
  kAmbiguous,      // overlapping octets differ, or too many gaps: no safe reading exists
};

// Places `payload` (sequence number `seq`) and calls on_message(std::span<const uint8_t>) for
// each newly complete message (without its length prefix), in stream order; stops at the first
// call returning false. `cap` (<= QuicCryptoAssembler::kCapacity) bounds the octets held;
// `scratch` (>= cap bytes) is used to move the undecided tail to the front.
template <typename OnMessage>
DnsTcpStatus feedDnsTcpSegment(QuicCryptoAssembler& assembler, DnsTcpStreamState& state,
                               uint32_t seq, std::span<const uint8_t> payload, size_t cap,
                               std::span<uint8_t> scratch, OnMessage&& on_message) noexcept {
  if (cap > QuicCryptoAssembler::kCapacity) cap = QuicCryptoAssembler::kCapacity;
  // Sequence numbers wrap (RFC 9293 §3.4): the signed distance tells before from after.
  int32_t rel = static_cast<int32_t>(seq - state.base_seq);
  if (rel < 0) {
    const uint64_t before = static_cast<uint64_t>(-static_cast<int64_t>(rel));
    if (before >= payload.size()) return DnsTcpStatus::kRetransmitted;
    payload = payload.subspan(static_cast<size_t>(before));
    rel = 0;
  }
  const size_t offset = static_cast<size_t>(rel);
  if (offset > cap || payload.size() > cap - offset) return DnsTcpStatus::kOverCap;
  if (!payload.empty() && assembler.add(offset, payload) != QuicStatus::kOk) {
    return DnsTcpStatus::kAmbiguous;
  }
  std::span<const uint8_t> stream = assembler.contiguous();
  size_t at = state.consumed;
  DnsTcpStatus status = DnsTcpStatus::kOk;
  while (stream.size() - at >= 2) {
    const size_t len = (size_t{stream[at]} << 8) | stream[at + 1];
    if (stream.size() - at - 2 < len) {
      if (2 + len > cap) status = DnsTcpStatus::kOverCap;  // can never fit
      break;
    }
    if (!on_message(stream.subspan(at + 2, len))) return DnsTcpStatus::kStopped;
    at += 2 + len;
  }
  state.consumed = static_cast<uint32_t>(at);
  // Drop the handed-out messages when nothing waits beyond a gap; the tail moves to 0.
  if (at > 0 && assembler.rangeCount() <= 1 && scratch.size() >= stream.size() - at) {
    const size_t tail = stream.size() - at;
    if (tail > 0) std::memcpy(scratch.data(), stream.data() + at, tail);
    assembler.reset();
    if (tail > 0) assembler.add(0, scratch.first(tail));
    state.base_seq += static_cast<uint32_t>(at);
    state.consumed = 0;
  }
  return status;
}

}  // namespace safegate
