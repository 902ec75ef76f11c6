// Minisign signatures of subscribed lists: a list published with a minisign key is
// accepted only when the signature file next to it (URL + ".minisig") verifies against the
// public key in the config (lists[].public_key). Verified with OpenSSL's Ed25519; both of
// minisign's signature algorithms are accepted:
//
//   "ED"  the default since minisign 0.8: Ed25519 over BLAKE2b-512 of the file
//   "Ed"  legacy (minisign -l): Ed25519 over the file itself
//
// The signature file is four lines: an untrusted comment, the signature (base64 of algorithm,
// 8-byte key ID, 64-byte signature), a trusted comment, and the global signature (Ed25519 over
// the signature and the trusted comment). Both signatures must verify, as `minisign -V` does,
// so the trusted comment (minisign puts a timestamp and the file name there) can be shown.
//
// Thread-safety: free functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace safegate {

struct MinisignPublicKey {
  std::array<uint8_t, 8> key_id{};
  std::array<uint8_t, 32> key{};
};

// The key as minisign prints it ("RWQ..." , 56 base64 characters) or the text of a minisign
// .pub file (an untrusted comment line, then that key).
Result<MinisignPublicKey> parseMinisignPublicKey(std::string_view text);

// The key ID as minisign shows it (16 upper-case hex digits).
std::string minisignKeyIdHex(const std::array<uint8_t, 8>& key_id);

// A .minisig file is four short lines; anything bigger is refused before it is read (the
// download of the signature is capped at this size as well).
inline constexpr size_t kMaxMinisignFileBytes = 16 * 1024;

// Verifies `signature_file` (the .minisig text) over `data`. Returns the trusted comment.
// Errors say why: not minisign's format (and which line), another key ID, the signature does
// not match the data, or the trusted comment was altered.
Result<std::string> verifyMinisign(const MinisignPublicKey& key, std::string_view data,
                                   std::string_view signature_file);

}  // namespace safegate
