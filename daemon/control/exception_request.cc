#include "daemon/control/exception_request.h"

#include <cmath>
#include <limits>
#include <string>

#include "filters/domain_name.h"

namespace safegate {
namespace {

std::string text(const nlohmann::json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

Status setKind(const ControlRequest& req, policy::TemporaryException& e) {
  using Kind = policy::TemporaryException::Kind;
  const std::string kind = req.command == "pause" ? "pause" : text(req.args, "kind");
  if (kind == "pause") {
    e.kind = Kind::kPause;
  } else if (kind == "name") {
    e.kind = Kind::kName;
    auto canonical = normalizeDomain(text(req.args, "name"), NameSyntax::kHostname);
    if (!canonical) return Status::invalid("\"name\": " + canonical.status().message());
    e.name = *canonical;
  } else if (kind == "category") {
    e.kind = Kind::kCategory;
    e.category = text(req.args, "category");
  } else {
    return Status::invalid("\"kind\" must be \"name\", \"category\" or \"pause\"");
  }
  return Status::ok();
}

Status setScope(const nlohmann::json& args, policy::TemporaryException& e) {
  using Scope = policy::TemporaryException::Scope;
  if (!text(args, "client").empty()) {
    auto ip = IpAddress::parse(text(args, "client"));
    if (!ip) return Status::invalid("\"client\" is not an IP address");
    e.scope = Scope::kClient;
    e.client = *ip;
  } else if (!text(args, "group").empty()) {
    e.scope = Scope::kGroup;
    e.group = text(args, "group");
  } else {
    return Status::invalid("an exception needs \"client\" or \"group\"");
  }
  return Status::ok();
}

// The end (unix seconds, exclusive) from "minutes" or "until", within max_minutes of now.
Result<int64_t> exceptionEnd(const nlohmann::json& args, int64_t now, int64_t max_minutes) {
  const bool has_minutes = args.contains("minutes");
  const bool has_until = args.contains("until");
  if (has_minutes && has_until) return Status::invalid("give \"minutes\" or \"until\", not both");
  const std::string limit =
      std::to_string(max_minutes) + " minutes (control.max_exception_minutes)";
  if (has_minutes) {
    const nlohmann::json& m = args["minutes"];
    if (!m.is_number()) return Status::invalid("\"minutes\" must be a number");
    const double minutes = m.get<double>();
    if (!std::isfinite(minutes) || minutes <= 0) {
      return Status::invalid("\"minutes\" must be more than 0 (got " + m.dump() + ")");
    }
    // Checked before the conversion: a double beyond int64 range has no defined cast.
    if (minutes > static_cast<double>(max_minutes)) {
      return Status::invalid("\"minutes\" is " + m.dump() + "; the most is " + limit);
    }
    // Rounded up: a fraction of a second must not make an exception that ends as it starts.
    return now + static_cast<int64_t>(std::ceil(minutes * 60.0));
  }
  if (has_until) {
    const nlohmann::json& u = args["until"];
    if (!u.is_number_integer()) return Status::invalid("\"until\" must be unix seconds (integer)");
    // A value above INT64_MAX arrives unsigned; get<int64_t>() would wrap it to the past.
    if (u.is_number_unsigned() &&
        u.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::invalid("\"until\" is more than " + limit + " ahead");
    }
    const int64_t until = u.get<int64_t>();
    if (until <= now) {
      return Status::invalid("\"until\" (" + std::to_string(until) +
                             ") is not in the future (now " + std::to_string(now) + ")");
    }
    if (until - now > max_minutes * 60) {
      return Status::invalid("\"until\" is more than " + limit + " ahead");
    }
    return until;
  }
  return Status::invalid("an exception needs \"minutes\" or \"until\" (unix seconds)");
}

}  // namespace

Result<std::string> grantedByFromRequest(const ControlRequest& req) {
  std::string by = req.peer.user.empty() ? "uid " + std::to_string(req.peer.uid) : req.peer.user;
  const std::string claimed = text(req.args, "granted_by");
  if (claimed.empty() || claimed == by) return by;
  if (claimed.size() > kMaxGrantedForBytes) {
    return Status::invalid("\"granted_by\" is longer than " + std::to_string(kMaxGrantedForBytes) +
                           " bytes");
  }
  for (unsigned char c : claimed) {
    if (c < 0x20 || c == 0x7f) return Status::invalid("\"granted_by\" has a control character");
  }
  return by + " for " + claimed;
}

Result<policy::TemporaryException> exceptionFromRequest(const ControlRequest& req,
                                                        int64_t now_unix_seconds,
                                                        int64_t max_minutes) {
  policy::TemporaryException e;
  if (Status s = setKind(req, e); !s) return s;
  if (Status s = setScope(req.args, e); !s) return s;
  auto until = exceptionEnd(req.args, now_unix_seconds, max_minutes);
  if (!until) return until.status();
  auto by = grantedByFromRequest(req);
  if (!by) return by.status();
  e.created_unix_seconds = now_unix_seconds;
  e.until_unix_seconds = *until;
  e.granted_by = std::move(*by);
  e.note = text(req.args, "note");
  return e;
}

}  // namespace safegate
