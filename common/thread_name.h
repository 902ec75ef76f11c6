// setThreadName: names the calling thread (visible in `top -H`, `ps -L`, /proc/PID/task/*/comm
// and perf), so an operator can tell a DNS worker from the incident writer. Linux limits the
// name to 15 bytes; longer names are cut. Best effort: a failure changes nothing else.
// Thread-safety: affects only the calling thread.
#pragma once

#include <pthread.h>

#include <cstring>
#include <string_view>

namespace safegate {

inline void setThreadName(std::string_view name) noexcept {
  char buf[16];
  const size_t n = name.size() < sizeof(buf) - 1 ? name.size() : sizeof(buf) - 1;
  std::memcpy(buf, name.data(), n);
  buf[n] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace safegate
