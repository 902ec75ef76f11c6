// Fuzz target for the TOML config loader (policy/config.h loadConfig(), then
// PolicySnapshot::compile() on what loads): any file gives a Config exactly when no error was
// reported, every diagnostic that names a file names the config (nothing else exists in its
// folder), and a loaded config compiles or says why.
//
// The input is written to safegate.toml in a private folder; what follows a line
// "# --- included.toml ---" goes to included.toml beside it, so includes (and the merge of
// included tables) are fuzzed too. Inputs that mention /dev, /proc or
// /sys are skipped: an include of /dev/zero or a FIFO would read forever, which is the
// administrator's own doing (the config is root's) and not what this target looks for.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "policy/config.h"
#include "policy/policy_engine.h"
#include "tests/fuzz/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

// Lists and rule files are read by compile(); only files in the scratch folder are allowed.
bool readsOnlyScratch(const safegate::policy::Config& config) {
  auto inside = [](const fs::path& p) { return p.parent_path() == fuzzScratchDir(); };
  for (const auto& l : config.lists) {
    for (const auto& s : l.sources) {
      if (!inside(s)) return false;
    }
  }
  for (const auto& r : config.rules) {
    for (const auto& s : r.sources) {
      if (!inside(s)) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::string_view special : {"/dev", "/proc", "/sys"}) {
    if (text.find(special) != std::string_view::npos) return 0;
  }
  const fs::path file = fuzzScratchDir() / "safegate.toml";
  const fs::path included = fuzzScratchDir() / "included.toml";
  constexpr std::string_view kSplit = "\n# --- included.toml ---\n";
  const size_t split = text.find(kSplit);
  auto write = [](const fs::path& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  };
  write(file, text.substr(0, split));
  std::error_code ec;
  fs::remove(included, ec);
  if (split != std::string_view::npos) write(included, text.substr(split + kSplit.size()));
  safegate::DiagnosticSink sink;
  auto config = safegate::policy::loadConfig(file, sink);
  if (config.isOk() == sink.hasErrors()) std::abort();
  for (const auto& d : sink.all()) {
    if (d.message.empty()) std::abort();
    // A missing include is reported at its include line, in the config itself.
    if (d.where.known() && d.where.file != file.string() && !fs::exists(d.where.file)) {
      std::abort();
    }
  }
  (void)sink.toString();
  if (!config.isOk() || !readsOnlyScratch(*config)) return 0;
  safegate::DiagnosticSink compile_sink;
  auto snapshot = safegate::policy::PolicySnapshot::compile(*config, compile_sink);
  if (snapshot.isOk() == compile_sink.hasErrors()) std::abort();
  return 0;
}
