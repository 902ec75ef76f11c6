#include "common/logger.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace safegate {
namespace {

bool needsQuoting(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void appendValue(std::string& out, std::string_view v) {
  if (!needsQuoting(v)) {
    out.append(v);
    return;
  }
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Keys are chosen by programmers, but keep the format parseable whatever they pass.
void appendKey(std::string& out, std::string_view k) {
  if (k.empty()) {
    out += '_';
    return;
  }
  for (char c : k) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out += ok ? c : '_';
  }
}

void appendTimestamp(std::string& out) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // generous: the compiler cannot bound tm's int fields
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  out += buf;
}

void writeAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a logging failure
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

LogField::LogField(std::string_view k, double v) : key(k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  value = buf;
}

std::string_view logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::optional<LogLevel> parseLogLevel(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return std::nullopt;
}

Logger& Logger::global() {
  static Logger logger;
  return logger;
}

void Logger::setLevel(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
LogLevel Logger::level() const { return level_.load(std::memory_order_relaxed); }
void Logger::setTimestamps(bool on) { timestamps_.store(on, std::memory_order_relaxed); }

void Logger::setSink(Sink sink) {
  std::lock_guard<std::mutex> lock(mutex_);
  sink_ = std::move(sink);
}

std::string Logger::format(LogLevel level, std::string_view component, std::string_view message,
                           std::initializer_list<LogField> fields) {
  std::string line;
  line.reserve(96);
  line += "level=";
  line += logLevelName(level);
  line += " component=";
  appendValue(line, component);
  line += " msg=";
  appendValue(line, message);
  for (const LogField& f : fields) {
    line += ' ';
    appendKey(line, f.key);
    line += '=';
    appendValue(line, f.value);
  }
  line += '\n';
  return line;
}

void Logger::log(LogLevel level, std::string_view component, std::string_view message,
                 std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  std::string line;
  if (timestamps_.load(std::memory_order_relaxed)) appendTimestamp(line);
  line += format(level, component, message, fields);
  std::lock_guard<std::mutex> lock(mutex_);
  if (sink_) {
    sink_(line);
  } else {
    writeAll(STDERR_FILENO, line);
  }
}

}  // namespace safegate
