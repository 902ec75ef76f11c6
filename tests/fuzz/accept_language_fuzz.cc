// Fuzz target: the Accept-Language header (ui-helper/block_page.h). Whatever it says, the
// result is a bounded list of lower-case primary subtags (or "*") with weights in (0, 1],
// heaviest first, and the block page picks a language that exists.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ui-helper/block_page.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  const auto ranges = safegate::ui::parseAcceptLanguage(header);
  if (ranges.size() > 32) abort();
  for (size_t i = 0; i < ranges.size(); ++i) {
    const auto& [range, q] = ranges[i];
    if (!(q > 0.0 && q <= 1.0)) abort();
    if (i > 0 && ranges[i - 1].second < q) abort();
    if (range.empty() || range.size() > 8) abort();
    for (char c : range) {
      if (range != "*" && (c < 'a' || c > 'z')) abort();
    }
  }
  return 0;
}
