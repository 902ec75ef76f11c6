// Fuzz target for compiled name-index images (policy/name_index.h): whatever a file
// in state_dir holds, NameIndex::mapImage() either refuses it with a reason or maps an index
// whose lookups stay inside the mapping (ASan would see a probe or a run leave it).
//
// The input is an image. The checksum would stop almost every mutation, so when the first byte
// is odd the target writes the correct checksum into the header first ("reseals" it): then the
// header, size and structure checks are what the fuzzer reaches.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "policy/name_index.h"
#include "tests/fuzz/scratch_dir.h"
#include "tests/support/name_index_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string image(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) safegate::testing::resealNameIndexImage(image);
  const auto path = fuzzScratchDir() / "names.idx";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << image;
  auto idx = safegate::policy::NameIndex::mapImage(path);
  if (!idx) {
    if (idx.status().message().find("names.idx") == std::string::npos) std::abort();
    return 0;
  }
  size_t visits = 0;
  for (const char* name : {"example.com", "www.example.com", "a.b.c.d.e.f", "com", "x"}) {
    idx->forEachMatch(name, [&](const safegate::policy::NameRef& r, std::string_view suffix) {
      if (r.list >= idx->listCount()) std::abort();  // checked by mapImage()
      visits += r.line + suffix.size();
    });
  }
  if (visits == 0xdeadbeef) std::abort();  // keep the lookups
  return 0;
}
