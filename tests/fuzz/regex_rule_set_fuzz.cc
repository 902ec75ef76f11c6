// Fuzz target for RegexRuleSet: the input's first lines are patterns (until an empty line), the
// rest are subject texts. Building must never crash whatever the patterns, and match() must
// agree with the per-rule fallback (same rule wins).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "filters/regex_rule_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= in.size() && lines.size() < 64) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    lines.push_back(in.substr(start, end - start));
    start = end + 1;
  }
  safegate::RegexRuleSetOptions o;
  o.max_mem_bytes = 8 << 20;  // keep fuzzing fast; exercises the small-budget paths
  o.max_pattern_length = 256;
  o.max_program_size = 500;
  o.probe = false;
  o.slow_match_sample_interval = 0;
  o.reject_severity = safegate::Severity::kWarning;
  safegate::RegexRuleSet::Builder b(o);
  safegate::DiagnosticSink sink;
  size_t i = 0;
  for (; i < lines.size() && !lines[i].empty() && i < 16; ++i) {
    b.add(lines[i], safegate::SourceLocation{"fuzz", static_cast<uint32_t>(i + 1), 0},
          static_cast<uint32_t>(i), sink);
  }
  auto set = b.build(sink);
  if (!set) return 0;
  for (; i < lines.size(); ++i) {
    auto a = (*set)->match(lines[i]);
    if (a != (*set)->matchEachRule(lines[i])) std::abort();
    if (a && a->index >= (*set)->size()) std::abort();
  }
  return 0;
}
