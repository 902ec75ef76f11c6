// Rewrites the checksum of a compiled name-index image (policy/name_index.h) after a test or
// fuzz target changed its bytes, so that what mapImage() checks after the checksum (header,
// size, structure) is what gets exercised.
#pragma once

#include <algorithm>
#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace safegate::testing {

// Offset of the 16-byte checksum in the header: magic, version, byte order, five 64-bit fields.
inline constexpr size_t kNameIndexChecksumAt = 56;

// XXH3-128 over the whole image with the checksum field zero, written into that field.
// Images shorter than the 4 KiB header page are left alone.
inline void resealNameIndexImage(std::string& image) {
  if (image.size() < 4096) return;
  std::fill_n(image.begin() + kNameIndexChecksumAt, 16, '\0');
  XXH128_canonical_t sum;
  XXH128_canonicalFromHash(&sum, XXH3_128bits(image.data(), image.size()));
  std::copy_n(sum.digest, 16, image.begin() + kNameIndexChecksumAt);
}

}  // namespace safegate::testing
