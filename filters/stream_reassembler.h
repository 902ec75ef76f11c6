// StreamReassembler: the first bytes of one direction of a TCP connection, put back in order
// from segments, up to a fixed byte cap — enough for an HTTP request head or a TLS
// ClientHello (a post-quantum ClientHello is larger than one packet).
//
// Segments are placed by sequence number (32-bit, wrapping, RFC 9293 §3.4) relative to the
// first payload octet (ISN + 1). In-order data extends the contiguous prefix; out-of-order
// data is kept and joins the prefix when the gap fills ("gap = wait"); exact or partial
// retransmissions are accepted when they repeat the same octets. A retransmission that
// carries *different* octets for bytes already held is kConflict: receivers resolve such
// overlaps differently (first or last copy wins, depending on the OS), which is the classic
// inspection-evasion trick, so the caller must not allow on the stream's content. Data beyond
// the cap is kOverCap (sticky): the caller gives up and applies its "too large" policy.
//
// Data plane: noexcept, no allocation. The storage is the caller's (e.g. from a per-worker
// pool) or inline via ReassemblyBuffer<N>. Not thread-safe: one per flow direction, used by
// the worker that owns the flow.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace safegate {

enum class ReassemblyStatus : uint8_t {
  kAdvanced,     // the contiguous prefix grew
  kBuffered,     // stored beyond a gap; contiguous prefix unchanged (waiting)
  kDuplicate,    // nothing new (retransmission of octets already held, or empty payload)
  kConflict,     // overlapping octets differ from those held (sticky: the stream is ambiguous)
  kOverCap,      // some octets lie beyond the capacity (sticky; octets within the cap are kept)
  kTooManyGaps,  // more disjoint ranges than kMaxRanges (sticky)
  kNotStarted,   // add() before start()
};
std::string_view reassemblyStatusName(ReassemblyStatus s);

class StreamReassembler {
 public:
  // Disjoint byte ranges held beyond the contiguous prefix, at most.
  static constexpr size_t kMaxRanges = 16;

  // `storage` is where the stream's first storage.size() octets go; it must outlive this.
  explicit StreamReassembler(std::span<uint8_t> storage) noexcept : storage_(storage) {}

  // Begins a stream whose first payload octet has sequence number `first_seq` (ISN + 1).
  void start(uint32_t first_seq) noexcept;
  bool started() const noexcept { return started_; }

  // Places a segment's payload. Octets before first_seq (e.g. a SYN's, or a retransmission
  // straddling the start) are trimmed.
  ReassemblyStatus add(uint32_t seq, std::span<const uint8_t> payload) noexcept;

  // The in-order octets from the start of the stream, without gaps.
  std::span<const uint8_t> contiguous() const noexcept { return storage_.first(contiguous_); }
  // True while octets beyond a gap are waiting.
  bool hasGap() const noexcept { return range_count_ > 0; }
  size_t capacity() const noexcept { return storage_.size(); }
  // The sticky failure (kConflict / kOverCap / kTooManyGaps), or kAdvanced if none.
  ReassemblyStatus failure() const noexcept { return failure_; }
  bool failed() const noexcept { return failure_ != ReassemblyStatus::kAdvanced; }

 private:
  struct Range {
    uint32_t begin, end;  // stream offsets, begin < end, all > contiguous_
  };
  // Copies `data` to `offset`, comparing with octets already held; false on a mismatch.
  bool place(size_t offset, std::span<const uint8_t> data) noexcept;

  std::span<uint8_t> storage_;
  uint32_t first_seq_ = 0;
  size_t contiguous_ = 0;
  std::array<Range, kMaxRanges> ranges_{};  // sorted, disjoint, non-adjacent
  size_t range_count_ = 0;
  bool started_ = false;
  ReassemblyStatus failure_ = ReassemblyStatus::kAdvanced;
};

// A reassembler with its storage inline (N octets).
template <size_t N>
class ReassemblyBuffer : public StreamReassembler {
 public:
  ReassemblyBuffer() noexcept : StreamReassembler(std::span<uint8_t>(bytes_)) {}
  ReassemblyBuffer(const ReassemblyBuffer&) = delete;
  ReassemblyBuffer& operator=(const ReassemblyBuffer&) = delete;

 private:
  std::array<uint8_t, N> bytes_;
};

}  // namespace safegate
