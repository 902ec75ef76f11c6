// Pseudonymizer: stable, keyed pseudonyms for clients (docs/privacy.md).
//
// A client identity ("ip:192.0.2.7" or "mac:aa:bb:..") is stored in the incident database as
// "c-" + the first 16 hex digits of HMAC-SHA256(secret, identity): the same device keeps the
// same pseudonym, but without the per-install secret nobody can map a pseudonym back to an
// address by trying all of them (a plain hash of an IPv4 address is reversible in seconds).
// The secret is 32 random bytes in a file created with mode 0600 on first start.
// Thread-safety: pseudonym() is const and safe from any thread after construction.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace safegate {

class Pseudonymizer {
 public:
  // Reads the secret from `secret_file`, creating it (0600, 32 bytes from getrandom) if absent.
  // An existing file readable by group or others is refused: the secret is what protects the
  // pseudonyms.
  static Result<Pseudonymizer> loadOrCreate(const std::filesystem::path& secret_file);
  // For tests: a fixed key.
  static Pseudonymizer withKey(std::span<const uint8_t> key);

  std::string pseudonym(std::string_view identity) const;

 private:
  std::array<uint8_t, 32> key_{};
};

}  // namespace safegate
