// Fuzz target for the list cache manifest (policy/list_cache.h): whatever a file in
// state_dir/compiled holds, parseListCacheManifest() refuses it with a reason or returns formats
// (and residue checksums) that render back to exactly the text it accepted (so nothing it accepts
// is ambiguous).
//
// Input: the first byte picks how many list files the policy has (0-7); the rest is the
// manifest, checked against a fixed key.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/list_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr std::string_view kKey =
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const size_t files = data[0] % 8;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parsed = safegate::policy::parseListCacheManifest(text, kKey, files);
  if (!parsed) {
    if (parsed.status().message().empty()) abort();
    return 0;
  }
  if (parsed->size() != files) abort();
  if (safegate::policy::renderListCacheManifest(kKey, *parsed) != text) abort();
  return 0;
}
