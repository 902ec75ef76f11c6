// Sha256: a streaming SHA-256 (OpenSSL EVP; SHA-NI makes it ~1.5 GB/s here) for the
// checksums of compiled images and the keys of their cache entries.
//
//   Sha256 h;
//   h.update(header);
//   h.update(table);
//   std::optional<std::array<uint8_t, 32>> digest = h.finish();  // nullopt if OpenSSL failed
//
// Thread-safety: one object per thread. finish() ends the object's use.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace safegate {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  std::optional<std::array<uint8_t, 32>> finish();

  // Lower-case hex of a digest.
  static std::string hex(const std::array<uint8_t, 32>& digest);

 private:
  void* ctx_;  // EVP_MD_CTX
  bool ok_;
};

}  // namespace safegate
