// UTC time as text for messages that leave the machine (alerts, reports, e-mail) and CLI
// output. Pure functions; safe from any thread (gmtime_r).
#pragma once

#include <cstdint>
#include <string>

namespace safegate {

// strftime(3) of a Unix time in UTC, e.g. formatUtc(t, "%a, %d %b %Y %H:%M:%S +0000").
std::string formatUtc(int64_t unix_seconds, const char* strftime_format);
// RFC 3339 / ISO 8601 in UTC to the second: "2026-12-05T14:03:11Z".
inline std::string isoUtc(int64_t unix_seconds) {
  return formatUtc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace safegate
