#include "common/result.h"

#include <cstring>

namespace safegate {

std::string SourceLocation::toString() const {
  if (file.empty()) return {};
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  return out;
}

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::kNote: return "note";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "error";
}

std::string Diagnostic::toString() const {
  std::string out = where.toString();
  if (!out.empty()) out += ": ";
  out += severityName(severity);
  out += ": ";
  out += message;
  return out;
}

void DiagnosticSink::add(Severity s, SourceLocation where, std::string message) {
  if (s == Severity::kError) ++errors_;
  if (s == Severity::kWarning) ++warnings_;
  diagnostics_.push_back(Diagnostic{s, std::move(where), std::move(message)});
}

void DiagnosticSink::append(const DiagnosticSink& other) {
  for (const auto& d : other.all()) add(d.severity, d.where, d.message);
}

std::string DiagnosticSink::toString() const {
  std::string out;
  for (const auto& d : diagnostics_) {
    out += d.toString();
    out += '\n';
  }
  return out;
}

std::string_view statusCodeName(StatusCode c) {
  switch (c) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid-argument";
    case StatusCode::kNotFound: return "not-found";
    case StatusCode::kAlreadyExists: return "already-exists";
    case StatusCode::kOutOfRange: return "out-of-range";
    case StatusCode::kResourceExhausted: return "resource-exhausted";
    case StatusCode::kFailedPrecondition: return "failed-precondition";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kIoError: return "io-error";
    case StatusCode::kInternal: return "internal";
  }
  return "internal";
}

Status Status::fromErrno(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Status(StatusCode::kIoError, std::move(msg));
}

std::string Status::toString() const {
  if (isOk()) return "ok";
  std::string out = where_.toString();
  if (!out.empty()) out += ": ";
  out += statusCodeName(code_);
  out += ": ";
  out += message_;
  return out;
}

}  // namespace safegate
