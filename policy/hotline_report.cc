#include "policy/hotline_report.h"

#include <nlohmann/json.hpp>

#include "common/ip_address.h"
#include "common/utc_time.h"
#include "filters/domain_name.h"

namespace safegate {
namespace {

constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxNoteBytes = 1000;

// safegate category -> the content type the report names (IWF/INHOPE report forms ask what the
// content is; these are the two kinds of licensed list safegate loads).
struct HotlineCategory {
  std::string_view category;
  std::string_view content_type;
};
constexpr HotlineCategory kHotlineCategories[] = {
    {"child-abuse", "child-sexual-abuse-material"},
    {"terrorism", "terrorist-content"},
};

}  // namespace

std::string_view reporterRoleName(ReporterRole r) {
  switch (r) {
    case ReporterRole::kAdmin: return "admin";
    case ReporterRole::kStaff: return "staff";
    case ReporterRole::kChild: return "child";
    case ReporterRole::kParent: return "parent";
  }
  return "admin";
}

std::optional<ReporterRole> parseReporterRole(std::string_view s) {
  for (ReporterRole r :
       {ReporterRole::kAdmin, ReporterRole::kStaff, ReporterRole::kChild, ReporterRole::kParent}) {
    if (reporterRoleName(r) == s) return r;
  }
  return std::nullopt;
}

std::vector<std::string> hotlineCategories() {
  std::vector<std::string> out;
  for (const auto& c : kHotlineCategories) out.emplace_back(c.category);
  return out;
}

Result<ReportedLocation> parseReportedLocation(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return Status::invalid("no URL or host given");
  if (text.size() > kMaxUrlBytes) {
    return Status::invalid("the URL is longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Status::invalid("the URL contains a space or a control character");
    }
  }
  std::string scheme = "http";
  std::string_view rest = text;
  if (const size_t sep = text.find("://"); sep != std::string_view::npos) {
    scheme = std::string(text.substr(0, sep));
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "http" && scheme != "https") {
      return Status::invalid("\"" + scheme + "\" URLs cannot be reported; use http:// or https://");
    }
    rest = text.substr(sep + 3);
  }
  const size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  // The fragment never reaches a server; the report names what a server serves.
  std::string path = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
  if (const size_t hash = path.find('#'); hash != std::string::npos) path.erase(hash);
  if (path.empty() || path.front() != '/') path.insert(0, "/");
  // user:password@ never leaves the machine.
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return Status::invalid("unterminated IPv6 literal");
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!IpAddress::parse(host))
      return Status::invalid("\"" + std::string(host) + "\" is not IPv6");
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon);
    host = host.substr(0, colon);
  }
  if (!port.empty()) {
    if (port.front() != ':' || port.size() < 2 || port.size() > 6) {
      return Status::invalid("\"" + std::string(authority) + "\" has no valid port");
    }
    for (char c : port.substr(1)) {
      if (c < '0' || c > '9')
        return Status::invalid("\"" + std::string(authority) + "\" has no valid port");
    }
  }
  ReportedLocation out;
  if (auto ip = IpAddress::parse(host)) {
    out.host = ip->toString();
  } else {
    auto name = normalizeDomain(host, NameSyntax::kHostname);
    if (!name) return Status::invalid("\"" + std::string(host) + "\": " + name.status().message());
    out.host = *name;
  }
  const bool v6 = out.host.find(':') != std::string::npos;
  out.url = scheme + "://" + (v6 ? "[" + out.host + "]" : out.host) + std::string(port) + path;
  return out;
}

Result<std::string> buildHotlineReport(const HotlineReportInput& in) {
  const HotlineCategory* category = nullptr;
  for (const auto& c : kHotlineCategories) {
    if (c.category == in.category) category = &c;
  }
  if (!category) {
    std::string names;
    for (const auto& c : kHotlineCategories)
      names += (names.empty() ? "" : ", ") + std::string(c.category);
    return Status::invalid("category \"" + in.category + "\" is not one a hotline takes (" + names +
                           ")");
  }
  if (in.note.size() > kMaxNoteBytes) {
    return Status::invalid("the note is longer than " + std::to_string(kMaxNoteBytes) + " bytes");
  }
  // Field names follow what hotline report forms ask for: the location (NCMEC's
  // webPageIncident is a URL), what the content is, when it was seen, who reports. Nothing in
  // here can identify the child whose device met the page.
  nlohmann::json j{
      {"schema_version", 1},
      {"report_id", in.report_id},
      {"reported_at", isoUtc(in.reported_unix_seconds)},
      {"incident_type", "webPageIncident"},
      {"url", in.location.url},
      {"host", in.location.host},
      {"suspected_content", category->content_type},
      {"reporter_role", reporterRoleName(in.reporter)},
      {"source",
       {{"product", "safegate"},
        {"version", "0.1.0"},
        {"deployment_id", in.deployment_id},
        {"operator_contact", in.operator_contact}}},
  };
  if (!in.note.empty()) j["note"] = in.note;
  // Invalid UTF-8 in a note is replaced rather than refused: the report still goes out.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace safegate
