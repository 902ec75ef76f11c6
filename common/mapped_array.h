// MappedArray<T>: a fixed-size array in its own anonymous memory mapping, for large buffers that
// are reserved up front but filled gradually (the DNS cache's message stores, the incident
// queue). Fresh anonymous pages are zero and become resident only when first written, so
// resident memory follows use. Plain `new T[n]` does not guarantee that: glibc may serve the
// block from heap pages an earlier phase (the list compile) already dirtied, and those stay
// resident whether or not the array ever touches them.
//
// T must be trivially copyable and valid when all-zero (bytes, integers, raw-byte slots).
// Ownership: move-only; the mapping is released in the destructor. Thread-safety: as a plain
// array. Allocation failure throws std::bad_alloc (construction is control plane).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace safegate {

template <typename T>
class MappedArray {
  static_assert(std::is_trivially_copyable_v<T>, "pages start zeroed; no constructors run");

 public:
  MappedArray() noexcept = default;
  explicit MappedArray(size_t count) : count_(count) {
    if (count == 0) return;
    void* p = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
  }
  MappedArray(MappedArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  MappedArray& operator=(MappedArray&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;
  ~MappedArray() { release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  size_t size() const noexcept { return count_; }
  T& operator[](size_t i) noexcept { return data_[i]; }
  const T& operator[](size_t i) const noexcept { return data_[i]; }

 private:
  size_t bytes() const noexcept { return count_ * sizeof(T); }
  void release() noexcept {
    if (data_) ::munmap(data_, bytes());
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace safegate
