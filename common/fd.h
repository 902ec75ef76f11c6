// Fd: owns one POSIX file descriptor and closes it exactly once (RAII).
//
// Move-only. A default or moved-from Fd holds -1. close() errors are ignored on purpose: on
// Linux the descriptor is released even when close() fails with EINTR, so retrying could close
// a descriptor another thread just opened (see close(2), "Dealing with error returns").
// Thread-safety: like an int — one owner; do not share a mutable Fd between threads.
#pragma once

#include <unistd.h>

#include <utility>

namespace safegate {

class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Gives up ownership without closing; returns the descriptor (or -1).
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the current descriptor (if any) and takes ownership of `fd`.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0 && fd_ != fd) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace safegate
