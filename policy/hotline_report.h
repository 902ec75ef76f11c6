// Hotline reports: the URL-only report safegate sends to a hotline (IWF, NCMEC, an INHOPE
// member) when an operator opted in ([hotline] enabled), and the checks before it is queued.
//
// A report carries the location (URL or host), the suspected content type, when it was reported
// and by whom (a role, never a person), an optional note and the operator's deployment id and
// contact — and nothing about the child: no client address, MAC, pseudonym or browsing history.
// The JSON shape is docs/hotline-report.schema.json (`additionalProperties: false`, so a field
// that would identify a child cannot slip in), explained in docs/hotline.md.
//
// Pure functions on values; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace safegate {

// Who made the report: a role, never a name.
enum class ReporterRole : uint8_t { kAdmin, kStaff, kChild, kParent };
std::string_view reporterRoleName(ReporterRole r);  // "admin", "staff", "child", "parent"
std::optional<ReporterRole> parseReporterRole(std::string_view s);

// The categories a hotline takes, by safegate category name ("child-abuse", "terrorism").
std::vector<std::string> hotlineCategories();

// A reported location, checked and normalised: scheme http/https (default http for a bare
// host), user-info dropped, host as an A-label, at most 2048 bytes.
struct ReportedLocation {
  std::string url;   // "http://example.test/path?q" as it will be sent
  std::string host;  // "example.test" (A-label) or an IP literal
};
Result<ReportedLocation> parseReportedLocation(std::string_view text);

struct HotlineReportInput {
  ReportedLocation location;
  std::string category;  // one of hotlineCategories()
  ReporterRole reporter = ReporterRole::kAdmin;
  std::string note;  // optional, at most 1000 bytes
  int64_t reported_unix_seconds = 0;
  std::string report_id;  // the outbox idempotency key (32 hex digits)
  std::string deployment_id;
  std::string operator_contact;
};

// The JSON body of the report (docs/hotline-report.schema.json). kInvalidArgument for an
// unknown category or an over-long note.
Result<std::string> buildHotlineReport(const HotlineReportInput& in);

}  // namespace safegate
