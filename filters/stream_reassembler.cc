#include "filters/stream_reassembler.h"

#include <algorithm>
#include <cstring>

namespace safegate {

std::string_view reassemblyStatusName(ReassemblyStatus s) {
  switch (s) {
    case ReassemblyStatus::kAdvanced: return "advanced";
    case ReassemblyStatus::kBuffered: return "buffered";
    case ReassemblyStatus::kDuplicate: return "duplicate";
    case ReassemblyStatus::kConflict: return "conflict";
    case ReassemblyStatus::kOverCap: return "over-cap";
    case ReassemblyStatus::kTooManyGaps: return "too-many-gaps";
    case ReassemblyStatus::kNotStarted: return "not-started";
  }
  return "unknown";
}

void StreamReassembler::start(uint32_t first_seq) noexcept {
  first_seq_ = first_seq;
  contiguous_ = 0;
  range_count_ = 0;
  started_ = true;
  failure_ = ReassemblyStatus::kAdvanced;
}

bool StreamReassembler::place(size_t offset, std::span<const uint8_t> data) noexcept {
  const size_t end = offset + data.size();
  // Octets already held must be repeated exactly (see the header: overlap evasion).
  if (offset < contiguous_) {
    const size_t n = std::min(end, contiguous_) - offset;
    if (std::memcmp(storage_.data() + offset, data.data(), n) != 0) return false;
  }
  for (size_t i = 0; i < range_count_; ++i) {
    const size_t a = std::max<size_t>(offset, ranges_[i].begin);
    const size_t b = std::min<size_t>(end, ranges_[i].end);
    if (a < b && std::memcmp(storage_.data() + a, data.data() + (a - offset), b - a) != 0) {
      return false;
    }
  }
  std::memcpy(storage_.data() + offset, data.data(), data.size());
  return true;
}

ReassemblyStatus StreamReassembler::add(uint32_t seq, std::span<const uint8_t> payload) noexcept {
  if (!started_) return ReassemblyStatus::kNotStarted;
  if (failure_ == ReassemblyStatus::kConflict || failure_ == ReassemblyStatus::kTooManyGaps) {
    return failure_;
  }
  // Serial-number arithmetic: the signed distance from the first octet (RFC 1982 style).
  const auto distance = static_cast<int32_t>(seq - first_seq_);
  size_t offset = 0;
  if (distance < 0) {
    const size_t before = static_cast<size_t>(-static_cast<int64_t>(distance));
    if (payload.size() <= before) return ReassemblyStatus::kDuplicate;
    payload = payload.subspan(before);
  } else {
    offset = static_cast<size_t>(distance);
  }
  if (payload.empty()) return ReassemblyStatus::kDuplicate;
  bool over_cap = false;
  if (offset >= storage_.size()) {
    failure_ = ReassemblyStatus::kOverCap;
    return failure_;
  }
  if (payload.size() > storage_.size() - offset) {
    payload = payload.first(storage_.size() - offset);
    over_cap = true;
  }
  const size_t begin = offset;
  const size_t end = offset + payload.size();

  if (!place(begin, payload)) {
    failure_ = ReassemblyStatus::kConflict;
    return failure_;
  }

  size_t held_before = contiguous_;
  for (size_t i = 0; i < range_count_; ++i) held_before += ranges_[i].end - ranges_[i].begin;
  const size_t contiguous_before = contiguous_;

  if (begin <= contiguous_) {
    contiguous_ = std::max(contiguous_, end);
  } else {
    // Merge [begin, end) into the sorted, disjoint, non-adjacent range list.
    size_t first = 0;
    while (first < range_count_ && ranges_[first].end < begin) ++first;
    size_t last = first;
    size_t new_begin = begin, new_end = end;
    while (last < range_count_ && ranges_[last].begin <= end) {
      new_begin = std::min<size_t>(new_begin, ranges_[last].begin);
      new_end = std::max<size_t>(new_end, ranges_[last].end);
      ++last;
    }
    const size_t merged = last - first;  // ranges replaced by one
    if (merged == 0) {
      if (range_count_ == kMaxRanges) {
        failure_ = ReassemblyStatus::kTooManyGaps;
        return failure_;
      }
      for (size_t i = range_count_; i > first; --i) ranges_[i] = ranges_[i - 1];
      ++range_count_;
    } else {
      for (size_t i = last, j = first + 1; i < range_count_; ++i, ++j) ranges_[j] = ranges_[i];
      range_count_ -= merged - 1;
    }
    ranges_[first] = {static_cast<uint32_t>(new_begin), static_cast<uint32_t>(new_end)};
  }
  // Ranges the prefix now reaches join it.
  size_t absorbed = 0;
  while (absorbed < range_count_ && ranges_[absorbed].begin <= contiguous_) {
    contiguous_ = std::max<size_t>(contiguous_, ranges_[absorbed].end);
    ++absorbed;
  }
  if (absorbed > 0) {
    for (size_t i = absorbed; i < range_count_; ++i) ranges_[i - absorbed] = ranges_[i];
    range_count_ -= absorbed;
  }

  size_t held_after = contiguous_;
  for (size_t i = 0; i < range_count_; ++i) held_after += ranges_[i].end - ranges_[i].begin;

  if (over_cap) {
    failure_ = ReassemblyStatus::kOverCap;
    return failure_;
  }
  if (contiguous_ > contiguous_before) return ReassemblyStatus::kAdvanced;
  if (held_after > held_before) return ReassemblyStatus::kBuffered;
  return ReassemblyStatus::kDuplicate;
}

}  // namespace safegate
