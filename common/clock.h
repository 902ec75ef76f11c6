// Clock: where time comes from, so schedules, TTLs and rate limits can be tested without
// sleeping (fakes over mocks).
//
// Provides the Clock interface (wall-clock Unix time for schedules and incident timestamps;
// a monotonic clock in milliseconds for timeouts and rate limits, which never jumps when the
// wall clock is set), SystemClock (the real clocks) and FakeClock (set and advanced by tests).
// Thread-safety: all methods of both implementations may be called from any thread; FakeClock
// uses atomics so a test thread can advance it while workers read it. Callers keep a reference
// to a Clock that outlives them (SystemClock::instance() lives forever).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace safegate {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch (CLOCK_REALTIME); can jump when the system time is set.
  virtual int64_t unixSeconds() const noexcept = 0;
  // Milliseconds since the Unix epoch (CLOCK_REALTIME).
  virtual int64_t unixMs() const noexcept = 0;
  // Milliseconds on a clock that only moves forward (CLOCK_MONOTONIC); origin unspecified.
  virtual int64_t monotonicMs() const noexcept = 0;
};

class SystemClock final : public Clock {
 public:
  static const SystemClock& instance() noexcept {
    static const SystemClock clock;
    return clock;
  }
  int64_t unixSeconds() const noexcept override {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t unixMs() const noexcept override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t monotonicMs() const noexcept override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

// A clock that only moves when told to. Starts at 2023-11-14T22:13:20Z (1,700,000,000 s) and
// monotonic 0 unless given other values. advanceMs() moves both clocks; setUnixMs() moves only
// the wall clock (like an administrator or NTP setting the time), which is how tests check that
// timeouts use the monotonic clock.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_ms = int64_t{1'700'000'000} * 1000, int64_t monotonic_ms = 0)
      : unix_ms_(unix_ms), monotonic_ms_(monotonic_ms) {}

  int64_t unixSeconds() const noexcept override {
    const int64_t ms = unixMs();
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);  // floor, also before 1970
  }
  int64_t unixMs() const noexcept override { return unix_ms_.load(std::memory_order_acquire); }
  int64_t monotonicMs() const noexcept override {
    return monotonic_ms_.load(std::memory_order_acquire);
  }

  // Moves both clocks forward by `ms` (>= 0; negative values are ignored: time does not run
  // backwards on a monotonic clock).
  void advanceMs(int64_t ms) noexcept {
    if (ms <= 0) return;
    unix_ms_.fetch_add(ms, std::memory_order_acq_rel);
    monotonic_ms_.fetch_add(ms, std::memory_order_acq_rel);
  }
  void advanceSeconds(int64_t s) noexcept { advanceMs(s * 1000); }
  // Sets only the wall clock (it may go backwards); the monotonic clock does not move.
  void setUnixMs(int64_t ms) noexcept { unix_ms_.store(ms, std::memory_order_release); }
  void setUnixSeconds(int64_t s) noexcept { setUnixMs(s * 1000); }

 private:
  std::atomic<int64_t> unix_ms_;
  std::atomic<int64_t> monotonic_ms_;
};

}  // namespace safegate
