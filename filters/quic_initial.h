// QUIC Initial packets: header-protection removal and decryption (RFC 9001 §5, RFC 9369 for
// QUIC v2), frame parsing (RFC 9000 §12.4, §19) and assembly of the CRYPTO stream that carries
// the TLS ClientHello, possibly spread over several Initials and arriving out of order.
//
// Provides:
//   - QuicInitialDecryptor: derives the client Initial keys from a Destination Connection ID
//     (HKDF-SHA256 with the version's salt and labels) and opens one Initial packet: removes
//     header protection (AES-128-ECB), decrypts and authenticates the payload (AES-128-GCM).
//     It owns its OpenSSL contexts, which are created once and reused for every packet
//     (one decryptor per worker thread; not thread-safe, not copyable).
//   - QuicCryptoAssembler: a fixed-capacity buffer that places CRYPTO frame data by offset,
//     tracks which ranges arrived and reports when the first handshake message (the
//     ClientHello) is complete. No allocation: the buffer is inline (kCapacity bytes), so
//     flows that need one should take it from a preallocated pool. A TCP stream's first
//     octets are the same problem (octets at offsets, overlaps that must agree), so the
//     inline inspector and filters/dns_tcp_stream.h reassemble TCP with it too, turning
//     sequence numbers into offsets (the stream's first octet, ISN + 1, is offset 0).
//   - parseInitialFrames(): walks the frames of a decrypted Initial payload; only PADDING,
//     PING, ACK, CRYPTO and CONNECTION_CLOSE (0x1c) are allowed in an Initial (RFC 9000 §12.4
//     Table 3); anything else makes the packet malformed.
//   - QuicInitialInspector: the convenience used by the packet path and by replay: feeds a
//     whole UDP payload (coalesced packets included, RFC 9000 §12.2) into a per-flow
//     QuicFlowState and says when the ClientHello is complete.
//
// Data plane: everything here is noexcept and allocation-free after construction; malformed
// input is an ordinary result value. Returned spans point into the caller's buffers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "common/result.h"

namespace safegate {

inline constexpr uint32_t kQuicVersion1 = 0x00000001;     // RFC 9000
inline constexpr uint32_t kQuicVersion2 = 0x6b3343cf;     // RFC 9369 §3.1
inline constexpr size_t kQuicMaxConnectionIdLength = 20;  // RFC 9000 §17.2

enum class QuicStatus : uint8_t {
  kOk = 0,
  kNotLongHeader,       // short header or not QUIC at all (fixed bit clear)
  kNotInitial,          // a long-header packet of another type (0-RTT, Handshake, Retry)
  kVersionNegotiation,  // version 0 (RFC 9000 §17.2.1)
  kUnsupportedVersion,  // neither v1 nor v2: cannot derive keys
  kTruncated,           // a length field points past the end of the datagram
  kMalformed,           // a field is out of range (connection ID > 20 bytes, bad frame ...)
  kDecryptFailed,       // AEAD tag mismatch: wrong keys (not a client Initial) or corruption
  kForbiddenFrame,      // a frame type that must not appear in an Initial
  kCryptoOverflow,      // CRYPTO data beyond the assembler's byte cap
  kTooFragmented,       // more disjoint CRYPTO ranges than the assembler tracks
  kCryptoConflict,      // retransmitted CRYPTO bytes differ from the ones already held
  kInternalError,       // OpenSSL refused an operation (should not happen)
};

std::string_view quicStatusName(QuicStatus s) noexcept;

// The client's Initial keys for one connection (RFC 9001 §5.2, RFC 9369 §3.3).
struct QuicInitialKeys {
  std::array<uint8_t, 16> key{};
  std::array<uint8_t, 12> iv{};
  std::array<uint8_t, 16> hp{};
};

// The parsed, decrypted Initial packet. Spans into the datagram (IDs, token) and into the
// caller's scratch buffer (payload).
struct QuicInitialPacket {
  uint32_t version = 0;
  std::span<const uint8_t> dcid;
  std::span<const uint8_t> scid;
  std::span<const uint8_t> token;
  uint64_t packet_number = 0;  // truncated packet number (Initials start at 0; RFC 9000 §17.1)
  std::span<const uint8_t> payload;  // decrypted frames
};

class QuicInitialDecryptor {
 public:
  // Fetches the algorithms and creates the contexts; fails only if OpenSSL lacks them.
  static Result<std::unique_ptr<QuicInitialDecryptor>> create();
  ~QuicInitialDecryptor();
  QuicInitialDecryptor(const QuicInitialDecryptor&) = delete;
  QuicInitialDecryptor& operator=(const QuicInitialDecryptor&) = delete;

  // Derives the client Initial key, IV and header-protection key for `version` from the
  // client's first Destination Connection ID. A one-entry cache makes repeated Initials of the
  // same connection cheap.
  QuicStatus deriveClientKeys(uint32_t version, std::span<const uint8_t> dcid,
                              QuicInitialKeys* out) noexcept;

  // Reads the long header at the start of `datagram` and sets *packet_size to the size of that
  // packet (so coalesced packets can be skipped) whenever the header itself is readable, even
  // when the packet is not an Initial. For an Initial, removes header protection and decrypts
  // into `scratch` (needs at least the packet size). `key_dcid`, when non-empty, is the
  // connection's original DCID to derive keys from (later Initials may carry another DCID,
  // RFC 9001 §5.2); otherwise the packet's own DCID is used.
  QuicStatus openInitial(std::span<const uint8_t> datagram, std::span<const uint8_t> key_dcid,
                         std::span<uint8_t> scratch, QuicInitialPacket* out,
                         size_t* packet_size) noexcept;

 private:
  struct Impl;
  explicit QuicInitialDecryptor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reassembles the CRYPTO stream at the Initial encryption level (or the start of a TCP stream)
// up to kCapacity bytes.
class QuicCryptoAssembler {
 public:
  static constexpr size_t kCapacity = 16384;  // a ClientHello with PQ key shares and ECH fits
  static constexpr size_t kMaxRanges = 32;

  void reset() noexcept { range_count_ = 0; }
  // Places `data` at stream offset `offset`. Overlaps must carry identical bytes.
  QuicStatus add(uint64_t offset, std::span<const uint8_t> data) noexcept;
  // Bytes available contiguously from offset 0.
  size_t contiguousBytes() const noexcept;
  // Those bytes (a view into the assembler; valid until the next add() or reset()).
  std::span<const uint8_t> contiguous() const noexcept {
    return {buffer_.data(), contiguousBytes()};
  }
  // The complete first handshake message (type, u24 length, body) once every byte of it has
  // arrived; std::nullopt until then (or if it could never fit in kCapacity).
  std::optional<std::span<const uint8_t>> firstHandshakeMessage() const noexcept;
  // True when the first message announces a length beyond the cap (it will never complete).
  bool exceedsCapacity() const noexcept;
  size_t rangeCount() const noexcept { return range_count_; }

 private:
  struct Range {
    uint32_t begin;
    uint32_t end;
  };
  std::array<Range, kMaxRanges> ranges_{};  // sorted, disjoint, non-adjacent
  size_t range_count_ = 0;
  std::array<uint8_t, kCapacity> buffer_;
};

// Counts of what a payload contained (for tests and counters).
struct QuicFrameSummary {
  uint32_t crypto_frames = 0;
  uint32_t ack_frames = 0;
  uint32_t ping_frames = 0;
  uint32_t padding_bytes = 0;
  bool connection_close = false;
};

// Walks the frames of a decrypted Initial payload, adding CRYPTO data to `assembler`.
QuicStatus parseInitialFrames(std::span<const uint8_t> payload, QuicCryptoAssembler& assembler,
                              QuicFrameSummary* summary = nullptr) noexcept;

// Per-flow QUIC state: the connection's original DCID (key material) and its CRYPTO stream.
struct QuicFlowState {
  uint32_t version = 0;
  uint8_t key_dcid_length = 0;
  std::array<uint8_t, kQuicMaxConnectionIdLength> key_dcid{};
  uint32_t initials_opened = 0;
  QuicCryptoAssembler crypto;

  void reset() noexcept {
    version = 0;
    key_dcid_length = 0;
    initials_opened = 0;
    crypto.reset();
  }
  std::span<const uint8_t> keyDcid() const noexcept { return {key_dcid.data(), key_dcid_length}; }
};

// What feeding one datagram produced.
struct QuicFeedResult {
  QuicStatus status = QuicStatus::kOk;  // first error met, or kOk
  uint32_t initials_opened = 0;         // Initials decrypted from this datagram
  bool client_hello_complete = false;
};

// One per worker: a decryptor plus a scratch buffer for plaintext.
class QuicInitialInspector {
 public:
  static constexpr size_t kScratchBytes = 65536;  // largest UDP payload

  static Result<std::unique_ptr<QuicInitialInspector>> create();

  // Opens every client Initial coalesced in `udp_payload` and adds its CRYPTO frames to
  // `flow`. Packets of other types are skipped. Once the ClientHello is complete,
  // flow.crypto.firstHandshakeMessage() returns it for the TLS parser.
  QuicFeedResult feed(std::span<const uint8_t> udp_payload, QuicFlowState& flow) noexcept;

  QuicInitialDecryptor& decryptor() noexcept { return *decryptor_; }

 private:
  QuicInitialInspector() = default;
  std::unique_ptr<QuicInitialDecryptor> decryptor_;
  std::unique_ptr<std::array<uint8_t, kScratchBytes>> scratch_;
};

// True if the first byte and version look like a QUIC long-header Initial of a version we can
// open (cheap pre-filter for the packet path).
bool looksLikeQuicInitial(std::span<const uint8_t> udp_payload) noexcept;

}  // namespace safegate
