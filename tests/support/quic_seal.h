// Test helpers that build QUIC client Initials with chosen frames (RFC 9001 §5): for the
// filters' QUIC tests and the inline inspector's.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "filters/quic_initial.h"

namespace safegate {

// Seals a client Initial the way a client does (RFC 9001 §5), for crafting test packets with
// chosen frames: long header, 1-byte packet number, payload padded so the sample exists.
// Empty if the keys cannot be derived.
inline std::vector<uint8_t> sealInitial(QuicInitialDecryptor& d, uint32_t version,
                                        const std::vector<uint8_t>& key_dcid, uint8_t pn,
                                        std::vector<uint8_t> frames,
                                        std::vector<uint8_t> header_dcid = {}) {
  QuicInitialKeys keys;
  if (d.deriveClientKeys(version, key_dcid, &keys) != QuicStatus::kOk) return {};
  const std::vector<uint8_t>& dcid = header_dcid.empty() ? key_dcid : header_dcid;
  while (frames.size() < 20) frames.push_back(0);  // PADDING
  uint8_t type = version == kQuicVersion2 ? 1 : 0;
  std::vector<uint8_t> h = {uint8_t(0xc0 | type << 4), uint8_t(version >> 24),
                            uint8_t(version >> 16), uint8_t(version >> 8), uint8_t(version)};
  h.push_back(uint8_t(dcid.size()));
  h.insert(h.end(), dcid.begin(), dcid.end());
  h.push_back(0);  // SCID length
  h.push_back(0);  // token length
  size_t length = 1 + frames.size() + 16;
  h.push_back(uint8_t(0x40 | length >> 8));
  h.push_back(uint8_t(length));
  size_t pn_offset = h.size();
  h.push_back(pn);
  std::array<uint8_t, 12> nonce = keys.iv;
  nonce[11] ^= pn;
  std::vector<uint8_t> out = h;
  out.resize(h.size() + frames.size() + 16);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0;
  EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), nullptr, keys.key.data(), nonce.data());
  EVP_EncryptUpdate(c, nullptr, &n, h.data(), int(h.size()));
  EVP_EncryptUpdate(c, out.data() + h.size(), &n, frames.data(), int(frames.size()));
  EVP_EncryptFinal_ex(c, out.data() + h.size() + n, &n);
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + h.size() + frames.size());
  EVP_CIPHER_CTX_free(c);
  uint8_t mask[32];
  EVP_CIPHER_CTX* e = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(e, EVP_aes_128_ecb(), nullptr, keys.hp.data(), nullptr);
  EVP_CIPHER_CTX_set_padding(e, 0);
  EVP_EncryptUpdate(e, mask, &n, out.data() + pn_offset + 4, 16);
  EVP_CIPHER_CTX_free(e);
  out[0] ^= mask[0] & 0x0f;
  out[pn_offset] ^= mask[1];
  return out;
}

// A CRYPTO frame (RFC 9000 §19.6) with 4-octet varints.
inline std::vector<uint8_t> cryptoFrame(uint64_t offset, std::span<const uint8_t> data) {
  std::vector<uint8_t> f = {0x06};
  auto varint = [&](uint64_t v) {
    f.push_back(uint8_t(0x80 | v >> 24));
    f.push_back(uint8_t(v >> 16));
    f.push_back(uint8_t(v >> 8));
    f.push_back(uint8_t(v));
  };
  varint(offset);
  varint(data.size());
  f.insert(f.end(), data.begin(), data.end());
  return f;
}

}  // namespace safegate
