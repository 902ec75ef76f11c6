// Fuzz target: a block-page translation file (ui-helper/block_page.h, Translation::parse) and
// the page rendered with it. A file that fails has said why; one that parses renders a page
// whose values are all escaped (no '<' from the file reaches the markup).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ui-helper/block_page.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  safegate::DiagnosticSink sink;
  safegate::ui::Translation t;
  if (!safegate::ui::Translation::parse(text, "xx.toml", t, sink)) {
    if (!sink.hasErrors()) abort();
    return 0;
  }
  // The same file with every '<' in its values made harmless must give a page with exactly as
  // many '<' as this one: the values add no markup.
  safegate::ui::Translation plain = t;
  for (auto& [key, value] : plain.text) {
    for (char& c : value) {
      if (c == '<') c = '_';
    }
  }
  for (char& c : plain.name) {
    if (c == '<') c = '_';
  }
  safegate::ui::Translations none;
  safegate::ui::BlockFacts facts{"a.example", true, "gambling", "9-12", false};
  const std::string page = safegate::ui::renderBlockPage(none, t, facts, {});
  const std::string expected = safegate::ui::renderBlockPage(none, plain, facts, {});
  if (std::count(page.begin(), page.end(), '<') !=
      std::count(expected.begin(), expected.end(), '<')) {
    abort();
  }
  return 0;
}
