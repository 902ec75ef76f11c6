#include "common/random.h"

#include <sys/random.h>

#include <cerrno>

namespace safegate {

Status fillRandom(std::span<uint8_t> out) {
  size_t filled = 0;
  while (filled < out.size()) {
    ssize_t r = ::getrandom(out.data() + filled, out.size() - filled, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::fromErrno("getrandom", errno);
    }
    filled += static_cast<size_t>(r);
  }
  return Status::ok();
}

}  // namespace safegate
