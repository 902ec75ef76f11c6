// Fuzz target for loading requests.json (daemon/control/access_requests.h): whatever the file
// holds, load() ends with a usable book, every diagnostic names the file, a damaged file is moved
// aside rather than lost, ids are unique and below next_id, and what the daemon saves it reads back
// unchanged with no diagnostic.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "daemon/control/access_requests.h"
#include "tests/fuzz/scratch_dir.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return 0;
  const fs::path dir = fuzzScratchDir();
  for (const auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
  const fs::path file = dir / "requests.json";
  {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  constexpr int64_t kNow = 1'795'430'000;
  const safegate::RequestStore store(file);
  safegate::RequestBook book;
  safegate::DiagnosticSink diags;
  store.load(book, diags, kNow);
  for (const auto& d : diags.all()) {
    if (d.where.file != file.string()) std::abort();
  }
  if (diags.hasErrors() && fs::exists(file)) std::abort();  // set aside, never left to be lost
  std::set<uint64_t> ids;
  for (const auto& r : book.entries()) {
    if (!ids.insert(r.id).second || r.id >= book.nextId()) std::abort();
  }

  for (const auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
  if (!store.save(book)) std::abort();
  safegate::RequestBook again;
  safegate::DiagnosticSink again_diags;
  store.load(again, again_diags, kNow);
  if (!again_diags.all().empty()) std::abort();
  if (again.nextId() != book.nextId() || again.entries().size() != book.entries().size()) {
    std::abort();
  }
  for (size_t i = 0; i < book.entries().size(); ++i) {
    if (safegate::requestToJson(book.entries()[i]) != safegate::requestToJson(again.entries()[i])) {
      std::abort();
    }
  }
  return 0;
}
