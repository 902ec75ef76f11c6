// Logger: small structured logging for the control plane — one line per event, in logfmt
// (key=value) so journald, grep and log shippers can all read it:
//
//   2026-11-23T12:00:00.123Z level=warning component=lists msg="list skipped lines"
//   file=/var/lib/safegate/lists/adult.txt skipped=12
//
// Values containing spaces, '=', '"' or control characters are quoted with \" \\ \n \t and
// \xNN escapes, so one event is always exactly one line and a hostile string (a host name from
// a packet, a list line) cannot forge another line.
//
// Never used on the data plane per packet or per query: formatting allocates and
// writing takes a lock. Counters are how the data plane reports.
//
// Thread-safety: every method may be called from any thread. Each event is formatted on the
// caller's stack and written with a single write(2) while holding the logger's mutex, so lines
// from different threads never interleave. The global logger writes to stderr (what systemd
// captures); tests install a sink to capture lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace safegate {

enum class LogLevel : uint8_t { kDebug = 0, kInfo, kWarning, kError };

std::string_view logLevelName(LogLevel level);
// "debug", "info", "warning"/"warn", "error" (case-insensitive); nullopt otherwise.
std::optional<LogLevel> parseLogLevel(std::string_view text);

// One key=value pair. Values of the usual types convert implicitly: {"port", 53},
// {"addr", ip.toString()}, {"ok", true}.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  LogField(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, long v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, long long v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, unsigned long v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, unsigned long long v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, double v);

  std::string_view key;
  std::string value;
};

class Logger {
 public:
  using Sink = std::function<void(std::string_view line)>;  // line includes the final '\n'

  Logger() = default;
  // The process-wide logger (stderr, level info, timestamps on).
  static Logger& global();

  void setLevel(LogLevel level);
  LogLevel level() const;
  bool enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }
  // Timestamps off is useful under systemd (journald stamps lines itself) and in tests.
  void setTimestamps(bool on);
  // Replaces where lines go (nullptr = back to stderr). The sink is called under the logger's
  // mutex, one complete line at a time.
  void setSink(Sink sink);

  void log(LogLevel level, std::string_view component, std::string_view message,
           std::initializer_list<LogField> fields = {});

  void debug(std::string_view component, std::string_view message,
             std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kDebug, component, message, fields);
  }
  void info(std::string_view component, std::string_view message,
            std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kInfo, component, message, fields);
  }
  void warning(std::string_view component, std::string_view message,
               std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kWarning, component, message, fields);
  }
  void error(std::string_view component, std::string_view message,
             std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kError, component, message, fields);
  }

  // The line log() would write, without the timestamp (exposed for tests and for tools that
  // print events themselves).
  static std::string format(LogLevel level, std::string_view component, std::string_view message,
                            std::initializer_list<LogField> fields);

 private:
  std::atomic<LogLevel> level_{LogLevel::kInfo};
  std::atomic<bool> timestamps_{true};
  std::mutex mutex_;  // guards sink_ and serialises writes
  Sink sink_;
};

// Shorthands for the global logger.
inline void logInfo(std::string_view component, std::string_view message,
                    std::initializer_list<LogField> fields = {}) {
  Logger::global().info(component, message, fields);
}
inline void logWarning(std::string_view component, std::string_view message,
                       std::initializer_list<LogField> fields = {}) {
  Logger::global().warning(component, message, fields);
}
inline void logError(std::string_view component, std::string_view message,
                     std::initializer_list<LogField> fields = {}) {
  Logger::global().error(component, message, fields);
}

}  // namespace safegate
