// Status, Result<T> and Diagnostic: how the control plane reports failure.
//
// Provides:
//   - SourceLocation: file:line:col of a config or list construct (line/col 1-based, 0 = unknown).
//   - Diagnostic: one located message with a severity, printed as
//     "path:line:col: error: message" (the format safegatectl check-config promises).
//   - Status: ok, or an error code plus message plus optional location.
//   - Result<T>: a T or a Status (like absl::StatusOr); never throws.
//
// Data-plane code does not use these (it returns small enums / std::optional); control-plane
// code (config, reload, lists, DB, sockets, CLI) returns them instead of throwing.
// All types are values: copyable, no shared state, safe to use from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace safegate {

struct SourceLocation {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;

  bool known() const { return !file.empty(); }
  // "file:line:col", "file:line" or "file" depending on what is known; "" when nothing is.
  std::string toString() const;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

enum class Severity : uint8_t { kNote, kWarning, kError };

std::string_view severityName(Severity s);

struct Diagnostic {
  Severity severity = Severity::kError;
  SourceLocation where;
  std::string message;

  // "path:line:col: error: message" (or "error: message" without a location).
  std::string toString() const;
};

// Collects diagnostics while parsing so that one run reports every problem (Unbound's
// "keep going" style). Not thread-safe; one per parse.
class DiagnosticSink {
 public:
  void add(Severity s, SourceLocation where, std::string message);
  void error(SourceLocation where, std::string message) {
    add(Severity::kError, std::move(where), std::move(message));
  }
  void warning(SourceLocation where, std::string message) {
    add(Severity::kWarning, std::move(where), std::move(message));
  }
  void append(const DiagnosticSink& other);

  const std::vector<Diagnostic>& all() const { return diagnostics_; }
  size_t errorCount() const { return errors_; }
  size_t warningCount() const { return warnings_; }
  bool hasErrors() const { return errors_ > 0; }
  // Every diagnostic, one per line, in the order reported.
  std::string toString() const;

 private:
  std::vector<Diagnostic> diagnostics_;
  size_t errors_ = 0;
  size_t warnings_ = 0;
};

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,  // bad input from a user: config, list, request
  kNotFound,
  kAlreadyExists,
  kOutOfRange,
  kResourceExhausted,  // a cap was hit (size, memory, queue)
  kFailedPrecondition,
  kUnavailable,  // a peer or resource is down; retrying may help
  kIoError,
  kInternal,
};

std::string_view statusCodeName(StatusCode c);

class Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message, SourceLocation where = {})
      : code_(code), message_(std::move(message)), where_(std::move(where)) {}

  static Status ok() { return Status(); }
  static Status invalid(std::string msg, SourceLocation where = {}) {
    return Status(StatusCode::kInvalidArgument, std::move(msg), std::move(where));
  }
  static Status notFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status io(std::string msg) { return Status(StatusCode::kIoError, std::move(msg)); }
  static Status exhausted(std::string msg) {
    return Status(StatusCode::kResourceExhausted, std::move(msg));
  }
  static Status unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }
  // An I/O error from errno, e.g. Status::fromErrno("open /etc/x", errno).
  static Status fromErrno(std::string_view what, int err);

  bool isOk() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const SourceLocation& where() const { return where_; }
  // "file:line:col: invalid-argument: message" or "invalid-argument: message"; "ok".
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  SourceLocation where_;
};

// A value or the Status explaining why there is none. Constructing from an ok Status is a
// programming error and is turned into kInternal.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).isOk()) v_ = Status::internal("Result built from an ok Status");
  }

  bool isOk() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return isOk(); }

  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The error; Status::ok() when there is a value.
  Status status() const { return isOk() ? Status() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace safegate
