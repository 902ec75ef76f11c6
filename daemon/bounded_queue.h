// BoundedMpmcQueue<T>: a fixed-capacity, lock-free multi-producer multi-consumer queue.
//
// Used where the data plane hands work to a control-plane thread (DNS workers -> incident
// writer): tryPush() never blocks, never allocates and simply fails when the queue is full, so a
// slow consumer can cost dropped items (which the caller counts) but never a stalled query.
// The algorithm is the classic per-cell sequence-number ring (D. Vyukov's bounded MPMC queue).
// Thread-safety: any number of producers and consumers. T must be trivially copyable.
// Memory: capacity (rounded up to a power of two) slots allocated once in the constructor, the
// values in their own mapping (common/mapped_array.h), so a value page becomes resident only
// when the ring first reaches it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

#include "common/mapped_array.h"

namespace safegate {

template <typename T>
class BoundedMpmcQueue {
  static_assert(std::is_trivially_copyable_v<T>, "queue items are copied with plain stores");

 public:
  explicit BoundedMpmcQueue(size_t capacity) {
    size_t n = 2;
    while (n < capacity) n <<= 1;
    mask_ = n - 1;
    // Sequences are small and initialised; values are left uninitialised (raw bytes, not
    // constructed Ts) so their pages become resident only when the queue actually fills.
    sequences_ = std::make_unique<std::atomic<size_t>[]>(n);
    values_ = MappedArray<Slot>(n);
    for (size_t i = 0; i < n; ++i) sequences_[i].store(i, std::memory_order_relaxed);
  }

  size_t capacity() const { return mask_ + 1; }

  bool tryPush(const T& value) noexcept {
    size_t pos = enqueue_.load(std::memory_order_relaxed);
    for (;;) {
      size_t seq = sequences_[pos & mask_].load(std::memory_order_acquire);
      intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (diff == 0) {
        if (enqueue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = enqueue_.load(std::memory_order_relaxed);
      }
    }
    std::memcpy(values_[pos & mask_].bytes, &value, sizeof(T));
    sequences_[pos & mask_].store(pos + 1, std::memory_order_release);
    return true;
  }

  bool tryPop(T& out) noexcept {
    size_t pos = dequeue_.load(std::memory_order_relaxed);
    for (;;) {
      size_t seq = sequences_[pos & mask_].load(std::memory_order_acquire);
      intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
      if (diff == 0) {
        if (dequeue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return false;  // empty
      } else {
        pos = dequeue_.load(std::memory_order_relaxed);
      }
    }
    std::memcpy(&out, values_[pos & mask_].bytes, sizeof(T));
    sequences_[pos & mask_].store(pos + mask_ + 1, std::memory_order_release);
    return true;
  }

 private:
  std::unique_ptr<std::atomic<size_t>[]> sequences_;
  struct Slot {
    alignas(T) unsigned char bytes[sizeof(T)];
  };
  MappedArray<Slot> values_;
  size_t mask_ = 0;
  alignas(64) std::atomic<size_t> enqueue_{0};
  alignas(64) std::atomic<size_t> dequeue_{0};
};

}  // namespace safegate
