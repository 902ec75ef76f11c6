#include "filters/quic_initial.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>

#include "common/byte_reader.h"

namespace safegate {

namespace {

// RFC 9001 §5.2.
constexpr uint8_t kSaltV1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
// RFC 9369 §3.3.1.
constexpr uint8_t kSaltV2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};

constexpr size_t kTagBytes = 16;     // AEAD_AES_128_GCM tag
constexpr size_t kSampleBytes = 16;  // header-protection sample (RFC 9001 §5.4.2)

struct VersionParams {
  const uint8_t* salt;
  std::string_view key_label;
  std::string_view iv_label;
  std::string_view hp_label;
  uint8_t initial_type;  // long-header type bits of an Initial
  uint8_t retry_type;
};

std::optional<VersionParams> versionParams(uint32_t version) noexcept {
  if (version == kQuicVersion1) {
    return VersionParams{kSaltV1, "quic key", "quic iv", "quic hp", 0, 3};
  }
  if (version == kQuicVersion2) {
    // RFC 9369 §3.2: Initial=0b01, 0-RTT=0b10, Handshake=0b11, Retry=0b00; §3.3.2 labels.
    return VersionParams{kSaltV2, "quicv2 key", "quicv2 iv", "quicv2 hp", 1, 0};
  }
  return std::nullopt;
}

}  // namespace

std::string_view quicStatusName(QuicStatus s) noexcept {
  switch (s) {
    case QuicStatus::kOk: return "ok";
    case QuicStatus::kNotLongHeader: return "not-long-header";
    case QuicStatus::kNotInitial: return "not-initial";
    case QuicStatus::kVersionNegotiation: return "version-negotiation";
    case QuicStatus::kUnsupportedVersion: return "unsupported-version";
    case QuicStatus::kTruncated: return "truncated";
    case QuicStatus::kMalformed: return "malformed";
    case QuicStatus::kDecryptFailed: return "decrypt-failed";
    case QuicStatus::kForbiddenFrame: return "forbidden-frame";
    case QuicStatus::kCryptoOverflow: return "crypto-overflow";
    case QuicStatus::kTooFragmented: return "too-fragmented";
    case QuicStatus::kCryptoConflict: return "crypto-conflict";
    case QuicStatus::kInternalError: return "internal-error";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Decryptor

struct QuicInitialDecryptor::Impl {
  EVP_MAC* hmac = nullptr;
  EVP_MAC_CTX* hmac_ctx = nullptr;
  EVP_CIPHER* ecb = nullptr;
  EVP_CIPHER* gcm = nullptr;
  EVP_CIPHER_CTX* ecb_ctx = nullptr;
  EVP_CIPHER_CTX* gcm_ctx = nullptr;

  // One-entry key cache: the Initials of one connection share their keys.
  bool cache_valid = false;
  uint32_t cache_version = 0;
  uint8_t cache_dcid_length = 0;
  std::array<uint8_t, kQuicMaxConnectionIdLength> cache_dcid{};
  QuicInitialKeys cache_keys;

  ~Impl() {
    EVP_CIPHER_CTX_free(gcm_ctx);
    EVP_CIPHER_CTX_free(ecb_ctx);
    EVP_CIPHER_free(gcm);
    EVP_CIPHER_free(ecb);
    EVP_MAC_CTX_free(hmac_ctx);
    EVP_MAC_free(hmac);
  }

  // HMAC-SHA256(key, parts...) -> out[32].
  bool hmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> a,
                  std::span<const uint8_t> b, std::span<const uint8_t> c,
                  uint8_t out[32]) noexcept {
    if (EVP_MAC_init(hmac_ctx, key.data(), key.size(), nullptr) != 1) return false;
    for (auto part : {a, b, c}) {
      if (!part.empty() && EVP_MAC_update(hmac_ctx, part.data(), part.size()) != 1) return false;
    }
    size_t out_len = 0;
    return EVP_MAC_final(hmac_ctx, out, &out_len, 32) == 1 && out_len == 32;
  }

  // HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, for lengths <= 32 (one HKDF
  // block, RFC 5869 §2.3): T(1) = HMAC(secret, HkdfLabel || 0x01).
  bool expandLabel(const uint8_t secret[32], std::string_view label, uint8_t* out,
                   size_t length) noexcept {
    constexpr std::string_view kPrefix = "tls13 ";
    uint8_t info[2 + 1 + 255 + 1 + 1];
    size_t n = 0;
    size_t label_len = kPrefix.size() + label.size();
    if (length > 32 || label_len > 255) return false;
    info[n++] = static_cast<uint8_t>(length >> 8);
    info[n++] = static_cast<uint8_t>(length);
    info[n++] = static_cast<uint8_t>(label_len);
    std::memcpy(info + n, kPrefix.data(), kPrefix.size());
    n += kPrefix.size();
    std::memcpy(info + n, label.data(), label.size());
    n += label.size();
    info[n++] = 0;  // empty context
    info[n++] = 1;  // HKDF block counter
    uint8_t block[32];
    if (!hmacSha256({secret, 32}, {info, n}, {}, {}, block)) return false;
    std::memcpy(out, block, length);
    return true;
  }
};

QuicInitialDecryptor::QuicInitialDecryptor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QuicInitialDecryptor::~QuicInitialDecryptor() = default;

Result<std::unique_ptr<QuicInitialDecryptor>> QuicInitialDecryptor::create() {
  auto impl = std::make_unique<Impl>();
  impl->hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (impl->hmac == nullptr) return Status::internal("OpenSSL: HMAC not available");
  impl->hmac_ctx = EVP_MAC_CTX_new(impl->hmac);
  if (impl->hmac_ctx == nullptr) return Status::internal("OpenSSL: cannot create HMAC context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(impl->hmac_ctx, params) != 1) {
    return Status::internal("OpenSSL: HMAC-SHA256 not available");
  }
  impl->ecb = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
  impl->gcm = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  if (impl->ecb == nullptr || impl->gcm == nullptr) {
    return Status::internal("OpenSSL: AES-128-ECB/GCM not available");
  }
  impl->ecb_ctx = EVP_CIPHER_CTX_new();
  impl->gcm_ctx = EVP_CIPHER_CTX_new();
  if (impl->ecb_ctx == nullptr || impl->gcm_ctx == nullptr) {
    return Status::internal("OpenSSL: cannot create cipher contexts");
  }
  // Bind the ciphers once; per packet only the key (and IV) change, which reuses the context.
  if (EVP_EncryptInit_ex2(impl->ecb_ctx, impl->ecb, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(impl->ecb_ctx, 0) != 1 ||
      EVP_DecryptInit_ex2(impl->gcm_ctx, impl->gcm, nullptr, nullptr, nullptr) != 1) {
    return Status::internal("OpenSSL: cannot initialise cipher contexts");
  }
  return std::unique_ptr<QuicInitialDecryptor>(new QuicInitialDecryptor(std::move(impl)));
}

QuicStatus QuicInitialDecryptor::deriveClientKeys(uint32_t version, std::span<const uint8_t> dcid,
                                                  QuicInitialKeys* out) noexcept {
  auto params = versionParams(version);
  if (!params) return QuicStatus::kUnsupportedVersion;
  if (dcid.size() > kQuicMaxConnectionIdLength) return QuicStatus::kMalformed;
  Impl& m = *impl_;
  if (m.cache_valid && m.cache_version == version && m.cache_dcid_length == dcid.size() &&
      std::equal(dcid.begin(), dcid.end(), m.cache_dcid.begin())) {
    *out = m.cache_keys;
    return QuicStatus::kOk;
  }
  // initial_secret = HKDF-Extract(salt, DCID); client secret = Expand-Label("client in", 32).
  uint8_t initial_secret[32];
  uint8_t client_secret[32];
  if (!m.hmacSha256({params->salt, 20}, dcid, {}, {}, initial_secret) ||
      !m.expandLabel(initial_secret, "client in", client_secret, 32) ||
      !m.expandLabel(client_secret, params->key_label, out->key.data(), out->key.size()) ||
      !m.expandLabel(client_secret, params->iv_label, out->iv.data(), out->iv.size()) ||
      !m.expandLabel(client_secret, params->hp_label, out->hp.data(), out->hp.size())) {
    m.cache_valid = false;
    return QuicStatus::kInternalError;
  }
  m.cache_valid = true;
  m.cache_version = version;
  m.cache_dcid_length = static_cast<uint8_t>(dcid.size());
  std::copy(dcid.begin(), dcid.end(), m.cache_dcid.begin());
  m.cache_keys = *out;
  return QuicStatus::kOk;
}

QuicStatus QuicInitialDecryptor::openInitial(std::span<const uint8_t> datagram,
                                             std::span<const uint8_t> key_dcid,
                                             std::span<uint8_t> scratch, QuicInitialPacket* out,
                                             size_t* packet_size) noexcept {
  *packet_size = datagram.size();
  ByteReader r(datagram);
  auto first = r.u8();
  if (!first) return QuicStatus::kTruncated;
  if ((*first & 0x80) == 0) return QuicStatus::kNotLongHeader;
  auto version = r.u32();
  if (!version) return QuicStatus::kTruncated;
  auto dcid_len = r.u8();
  if (!dcid_len) return QuicStatus::kTruncated;
  if (*version != 0 && *dcid_len > kQuicMaxConnectionIdLength) return QuicStatus::kMalformed;
  auto dcid = r.bytes(*dcid_len);
  if (!dcid) return QuicStatus::kTruncated;
  auto scid_len = r.u8();
  if (!scid_len) return QuicStatus::kTruncated;
  if (*version != 0 && *scid_len > kQuicMaxConnectionIdLength) return QuicStatus::kMalformed;
  auto scid = r.bytes(*scid_len);
  if (!scid) return QuicStatus::kTruncated;
  if (*version == 0) return QuicStatus::kVersionNegotiation;  // fills the datagram
  auto params = versionParams(*version);
  if (!params) return QuicStatus::kUnsupportedVersion;  // layout unknown: rest of datagram

  uint8_t type = (*first >> 4) & 0x03;
  if (type == params->retry_type) return QuicStatus::kNotInitial;  // no Length field
  std::span<const uint8_t> token;
  if (type == params->initial_type) {
    auto token_len = r.quicVarint();
    if (!token_len) return QuicStatus::kTruncated;
    auto t = r.bytes(*token_len);
    if (!t) return QuicStatus::kTruncated;
    token = *t;
  }
  auto length = r.quicVarint();
  if (!length) return QuicStatus::kTruncated;
  size_t pn_offset = r.position();
  if (*length > r.remaining()) return QuicStatus::kTruncated;
  *packet_size = pn_offset + *length;
  if (type != params->initial_type) return QuicStatus::kNotInitial;

  // Header protection (RFC 9001 §5.4.2): the sample starts 4 bytes after the packet-number
  // offset, whatever the packet-number length; the payload then holds at least the tag.
  if (*length < 4 + kSampleBytes) return QuicStatus::kTruncated;
  if (scratch.size() < *packet_size) return QuicStatus::kInternalError;

  QuicInitialKeys keys;
  QuicStatus ks = deriveClientKeys(*version, key_dcid.empty() ? *dcid : key_dcid, &keys);
  if (ks != QuicStatus::kOk) return ks;
  Impl& m = *impl_;

  uint8_t mask[kSampleBytes + 16];
  int mask_len = 0;
  if (EVP_EncryptInit_ex2(m.ecb_ctx, nullptr, keys.hp.data(), nullptr, nullptr) != 1 ||
      EVP_EncryptUpdate(m.ecb_ctx, mask, &mask_len, datagram.data() + pn_offset + 4,
                        kSampleBytes) != 1 ||
      mask_len != static_cast<int>(kSampleBytes)) {
    return QuicStatus::kInternalError;
  }
  // The unprotected header is the AAD; build it in scratch ahead of the plaintext.
  uint8_t* header = scratch.data();
  std::memcpy(header, datagram.data(), pn_offset);
  header[0] = static_cast<uint8_t>(*first ^ (mask[0] & 0x0f));  // long header: low 4 bits
  size_t pn_len = (header[0] & 0x03) + 1;
  uint64_t pn = 0;
  for (size_t i = 0; i < pn_len; ++i) {
    header[pn_offset + i] = static_cast<uint8_t>(datagram[pn_offset + i] ^ mask[1 + i]);
    pn = (pn << 8) | header[pn_offset + i];
  }
  size_t header_len = pn_offset + pn_len;
  size_t cipher_len = *packet_size - header_len - kTagBytes;  // >= 0: length >= 20 >= pn+16

  // Nonce = IV xor packet number, left-padded (RFC 9001 §5.3).
  std::array<uint8_t, 12> nonce = keys.iv;
  for (size_t i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(pn >> (8 * i));

  uint8_t* plain = scratch.data() + header_len;
  int n = 0;
  int final_len = 0;
  if (EVP_DecryptInit_ex2(m.gcm_ctx, nullptr, keys.key.data(), nonce.data(), nullptr) != 1 ||
      EVP_DecryptUpdate(m.gcm_ctx, nullptr, &n, header, static_cast<int>(header_len)) != 1 ||
      EVP_DecryptUpdate(m.gcm_ctx, plain, &n, datagram.data() + header_len,
                        static_cast<int>(cipher_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(m.gcm_ctx, EVP_CTRL_AEAD_SET_TAG, kTagBytes,
                          const_cast<uint8_t*>(datagram.data() + *packet_size - kTagBytes)) != 1) {
    return QuicStatus::kInternalError;
  }
  if (EVP_DecryptFinal_ex(m.gcm_ctx, plain + n, &final_len) != 1) {
    return QuicStatus::kDecryptFailed;
  }
  out->version = *version;
  out->dcid = *dcid;
  out->scid = *scid;
  out->token = token;
  out->packet_number = pn;
  out->payload = std::span<const uint8_t>(plain, cipher_len);
  return QuicStatus::kOk;
}

// ---------------------------------------------------------------------------------------------
// CRYPTO assembly

QuicStatus QuicCryptoAssembler::add(uint64_t offset, std::span<const uint8_t> data) noexcept {
  if (data.empty()) return QuicStatus::kOk;
  if (offset > kCapacity || data.size() > kCapacity - offset) return QuicStatus::kCryptoOverflow;
  auto begin = static_cast<uint32_t>(offset);
  auto end = static_cast<uint32_t>(offset + data.size());

  // Ranges [first, last) touch or overlap the new one; they merge with it.
  size_t first = 0;
  while (first < range_count_ && ranges_[first].end < begin) ++first;
  size_t last = first;
  while (last < range_count_ && ranges_[last].begin <= end) ++last;

  // Bytes already held must match (a retransmission carries the same stream bytes; a
  // difference is an attempt to show the filter one ClientHello and the server another).
  for (size_t i = first; i < last; ++i) {
    uint32_t lo = std::max(begin, ranges_[i].begin);
    uint32_t hi = std::min(end, ranges_[i].end);
    if (lo < hi && std::memcmp(buffer_.data() + lo, data.data() + (lo - begin), hi - lo) != 0) {
      return QuicStatus::kCryptoConflict;
    }
  }
  if (first == last) {
    if (range_count_ == kMaxRanges) return QuicStatus::kTooFragmented;
    for (size_t i = range_count_; i > first; --i) ranges_[i] = ranges_[i - 1];
    ranges_[first] = Range{begin, end};
    ++range_count_;
  } else {
    Range merged{std::min(begin, ranges_[first].begin), std::max(end, ranges_[last - 1].end)};
    ranges_[first] = merged;
    size_t removed = last - first - 1;
    for (size_t i = first + 1; i + removed < range_count_; ++i) ranges_[i] = ranges_[i + removed];
    range_count_ -= removed;
  }
  std::memcpy(buffer_.data() + begin, data.data(), data.size());
  return QuicStatus::kOk;
}

size_t QuicCryptoAssembler::contiguousBytes() const noexcept {
  if (range_count_ == 0 || ranges_[0].begin != 0) return 0;
  return ranges_[0].end;
}

std::optional<std::span<const uint8_t>> QuicCryptoAssembler::firstHandshakeMessage()
    const noexcept {
  size_t have = contiguousBytes();
  if (have < 4) return std::nullopt;
  size_t total = 4 + ((size_t{buffer_[1]} << 16) | (size_t{buffer_[2]} << 8) | buffer_[3]);
  if (total > kCapacity || have < total) return std::nullopt;
  return std::span<const uint8_t>(buffer_.data(), total);
}

bool QuicCryptoAssembler::exceedsCapacity() const noexcept {
  if (contiguousBytes() < 4) return false;
  size_t total = 4 + ((size_t{buffer_[1]} << 16) | (size_t{buffer_[2]} << 8) | buffer_[3]);
  return total > kCapacity;
}

// ---------------------------------------------------------------------------------------------
// Frames

QuicStatus parseInitialFrames(std::span<const uint8_t> payload, QuicCryptoAssembler& assembler,
                              QuicFrameSummary* summary) noexcept {
  QuicFrameSummary local;
  QuicFrameSummary& s = summary != nullptr ? *summary : local;
  ByteReader r(payload);
  if (payload.empty()) return QuicStatus::kMalformed;  // RFC 9000 §12.4: at least one frame
  while (!r.empty()) {
    auto type = r.quicVarint();
    if (!type) return QuicStatus::kTruncated;
    switch (*type) {
      case 0x00:  // PADDING
        ++s.padding_bytes;
        break;
      case 0x01:  // PING
        ++s.ping_frames;
        break;
      case 0x02:    // ACK
      case 0x03: {  // ACK with ECN counts (RFC 9000 §19.3)
        auto largest = r.quicVarint();
        auto delay = largest ? r.quicVarint() : std::nullopt;
        auto count = delay ? r.quicVarint() : std::nullopt;
        auto first_range = count ? r.quicVarint() : std::nullopt;
        if (!first_range) return QuicStatus::kTruncated;
        for (uint64_t i = 0; i < *count; ++i) {
          if (!r.quicVarint() || !r.quicVarint()) return QuicStatus::kTruncated;
        }
        if (*type == 0x03) {
          for (int i = 0; i < 3; ++i) {
            if (!r.quicVarint()) return QuicStatus::kTruncated;
          }
        }
        ++s.ack_frames;
        break;
      }
      case 0x06: {  // CRYPTO (RFC 9000 §19.6)
        auto offset = r.quicVarint();
        auto length = offset ? r.quicVarint() : std::nullopt;
        if (!length) return QuicStatus::kTruncated;
        auto data = r.bytes(*length);
        if (!data) return QuicStatus::kTruncated;
        QuicStatus st = assembler.add(*offset, *data);
        if (st != QuicStatus::kOk) return st;
        ++s.crypto_frames;
        break;
      }
      case 0x1c: {  // CONNECTION_CLOSE (transport), allowed in Initial
        auto code = r.quicVarint();
        auto frame_type = code ? r.quicVarint() : std::nullopt;
        auto reason_len = frame_type ? r.quicVarint() : std::nullopt;
        if (!reason_len || !r.skip(*reason_len)) return QuicStatus::kTruncated;
        s.connection_close = true;
        break;
      }
      default: return QuicStatus::kForbiddenFrame;
    }
  }
  return QuicStatus::kOk;
}

// ---------------------------------------------------------------------------------------------
// Inspector

Result<std::unique_ptr<QuicInitialInspector>> QuicInitialInspector::create() {
  auto decryptor = QuicInitialDecryptor::create();
  if (!decryptor.isOk()) return decryptor.status();
  std::unique_ptr<QuicInitialInspector> inspector(new QuicInitialInspector());
  inspector->decryptor_ = std::move(decryptor).value();
  inspector->scratch_ = std::make_unique<std::array<uint8_t, kScratchBytes>>();
  return inspector;
}

QuicFeedResult QuicInitialInspector::feed(std::span<const uint8_t> udp_payload,
                                          QuicFlowState& flow) noexcept {
  QuicFeedResult result;
  size_t pos = 0;
  bool any_long_header = false;
  while (pos < udp_payload.size()) {
    auto rest = udp_payload.subspan(pos);
    // Coalesced packets end with the datagram; some stacks pad the datagram with zero bytes
    // after the last packet (RFC 9000 §12.2 allows discarding them).
    if (rest[0] == 0 && any_long_header) break;
    QuicInitialPacket packet;
    size_t size = 0;
    QuicStatus st = decryptor_->openInitial(rest, flow.keyDcid(), *scratch_, &packet, &size);
    if (st == QuicStatus::kDecryptFailed && flow.key_dcid_length != 0) {
      // After a Retry the client derives new Initial keys from the Retry's connection ID
      // (RFC 9001 §5.2), which is the DCID of its later Initials.
      st = decryptor_->openInitial(rest, {}, *scratch_, &packet, &size);
      if (st == QuicStatus::kOk) {
        flow.key_dcid_length = static_cast<uint8_t>(packet.dcid.size());
        std::copy(packet.dcid.begin(), packet.dcid.end(), flow.key_dcid.begin());
        flow.crypto.reset();  // the ClientHello is sent again from offset 0
      }
    }
    if (st == QuicStatus::kNotLongHeader) {
      if (!any_long_header && result.status == QuicStatus::kOk) result.status = st;
      break;  // a short-header packet is always last in a datagram
    }
    any_long_header = true;
    if (st == QuicStatus::kOk) {
      if (flow.key_dcid_length == 0) {
        flow.version = packet.version;
        flow.key_dcid_length = static_cast<uint8_t>(packet.dcid.size());
        std::copy(packet.dcid.begin(), packet.dcid.end(), flow.key_dcid.begin());
      }
      ++result.initials_opened;
      ++flow.initials_opened;
      QuicStatus fs = parseInitialFrames(packet.payload, flow.crypto);
      if (fs != QuicStatus::kOk && result.status == QuicStatus::kOk) result.status = fs;
    } else if (st != QuicStatus::kNotInitial && result.status == QuicStatus::kOk) {
      result.status = st;
    }
    if (size == 0) break;
    pos += size;
  }
  result.client_hello_complete = flow.crypto.firstHandshakeMessage().has_value();
  return result;
}

bool looksLikeQuicInitial(std::span<const uint8_t> udp_payload) noexcept {
  ByteReader r(udp_payload);
  auto first = r.u8();
  auto version = r.u32();
  if (!first || !version || (*first & 0x80) == 0) return false;
  auto params = versionParams(*version);
  return params && ((*first >> 4) & 0x03) == params->initial_type;
}

}  // namespace safegate
