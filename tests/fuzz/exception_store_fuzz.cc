// Fuzz target for loading exceptions.json (daemon/control/exception_store.h): whatever the file
// holds, load() returns a usable table, every error names the file, a damaged file is moved aside
// (not lost), and the table it restored survives save() and load() unchanged with no diagnostic
// (what the daemon writes it must read back).
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/control/exception_store.h"
#include "tests/fuzz/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

void clearDir(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return 0;
  const fs::path dir = fuzzScratchDir();
  const fs::path file = dir / "exceptions.json";
  clearDir(dir);
  {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  constexpr int64_t kNow = 1'795'430'000;
  const safegate::ExceptionStore store(file);
  safegate::DiagnosticSink diags;
  const auto loaded = store.load(kNow, diags);
  if (!loaded.table) std::abort();
  for (const auto& d : diags.all()) {
    if (d.where.file != file.string()) std::abort();
  }
  if (diags.hasErrors() != !loaded.moved_aside.empty()) std::abort();
  if (!loaded.moved_aside.empty() && !fs::exists(loaded.moved_aside)) std::abort();
  for (const auto& e : loaded.table->entries()) {
    if (e.until_unix_seconds <= kNow) std::abort();    // expired entries are dropped
    if (e.id >= loaded.table->nextId()) std::abort();  // a new exception never reuses an id
  }

  clearDir(dir);
  if (!store.save(*loaded.table)) std::abort();
  safegate::DiagnosticSink again_diags;
  const auto again = store.load(kNow, again_diags);
  if (!again_diags.all().empty() || !again.moved_aside.empty()) std::abort();
  if (again.table->nextId() != loaded.table->nextId()) std::abort();
  const auto& a = loaded.table->entries();
  const auto& b = again.table->entries();
  if (a.size() != b.size()) std::abort();
  for (size_t i = 0; i < a.size(); ++i) {
    if (safegate::exceptionToJson(a[i]) != safegate::exceptionToJson(b[i])) std::abort();
  }
  return 0;
}
