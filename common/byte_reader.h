// ByteReader: bounds-checked, allocation-free reading of network-order data from a span.
//
// Every accessor checks what remains and returns std::nullopt / false instead of reading past
// the end; a failed read leaves the position unchanged. Views returned point into the caller's
// buffer and live as long as it does. Data-plane safe: noexcept, no allocation.
// Not thread-safe (one reader per parse); cheap to copy, which is how look-ahead is done.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace safegate {

class ByteReader {
 public:
  constexpr explicit ByteReader(std::span<const uint8_t> data) noexcept : data_(data) {}

  constexpr size_t position() const noexcept { return pos_; }
  constexpr size_t remaining() const noexcept { return data_.size() - pos_; }
  constexpr size_t size() const noexcept { return data_.size(); }
  constexpr bool empty() const noexcept { return pos_ == data_.size(); }
  constexpr std::span<const uint8_t> whole() const noexcept { return data_; }
  constexpr std::span<const uint8_t> rest() const noexcept { return data_.subspan(pos_); }

  constexpr std::optional<uint8_t> u8() noexcept {
    if (remaining() < 1) return std::nullopt;
    return data_[pos_++];
  }
  constexpr std::optional<uint16_t> u16() noexcept {
    if (remaining() < 2) return std::nullopt;
    uint16_t v = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  constexpr std::optional<uint32_t> u24() noexcept {
    if (remaining() < 3) return std::nullopt;
    uint32_t v = (uint32_t{data_[pos_]} << 16) | (uint32_t{data_[pos_ + 1]} << 8) | data_[pos_ + 2];
    pos_ += 3;
    return v;
  }
  constexpr std::optional<uint32_t> u32() noexcept {
    if (remaining() < 4) return std::nullopt;
    uint32_t v = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
                 (uint32_t{data_[pos_ + 2]} << 8) | data_[pos_ + 3];
    pos_ += 4;
    return v;
  }
  // A QUIC variable-length integer (RFC 9000 §16).
  constexpr std::optional<uint64_t> quicVarint() noexcept {
    if (remaining() < 1) return std::nullopt;
    size_t len = size_t{1} << (data_[pos_] >> 6);
    if (remaining() < len) return std::nullopt;
    uint64_t v = data_[pos_] & 0x3f;
    for (size_t i = 1; i < len; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += len;
    return v;
  }
  // The next n bytes as a view, advancing past them.
  constexpr std::optional<std::span<const uint8_t>> bytes(size_t n) noexcept {
    if (remaining() < n) return std::nullopt;
    auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  constexpr bool skip(size_t n) noexcept {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }
  // Moves to an absolute offset (used by DNS compression pointers); false if out of range.
  constexpr bool seek(size_t offset) noexcept {
    if (offset > data_.size()) return false;
    pos_ = offset;
    return true;
  }
  constexpr std::optional<uint8_t> peek(size_t ahead = 0) const noexcept {
    if (remaining() <= ahead) return std::nullopt;
    return data_[pos_ + ahead];
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace safegate
