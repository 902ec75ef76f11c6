#include "common/utc_time.h"

#include <ctime>

namespace safegate {

std::string formatUtc(int64_t unix_seconds, const char* strftime_format) {
  const time_t t = static_cast<time_t>(unix_seconds);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[96];
  const size_t n = std::strftime(buf, sizeof buf, strftime_format, &parts);
  return std::string(buf, n);
}

}  // namespace safegate
