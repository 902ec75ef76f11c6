#include "filters/http2_request.h"

#include <nghttp2/nghttp2.h>

#include <cstring>

namespace safegate {

namespace {

// Frame types and flags (RFC 9113 §6).
constexpr uint8_t kData = 0x0;
constexpr uint8_t kHeaders = 0x1;
constexpr uint8_t kPriority = 0x2;
constexpr uint8_t kSettings = 0x4;
constexpr uint8_t kPushPromise = 0x5;
constexpr uint8_t kContinuation = 0x9;
constexpr uint8_t kFlagEndHeaders = 0x4;
constexpr uint8_t kFlagPadded = 0x8;
constexpr uint8_t kFlagPriority = 0x20;
constexpr size_t kFrameHeader = 9;
constexpr size_t kMaxFrameSize = 16384;  // SETTINGS_MAX_FRAME_SIZE before the server says more
// The dynamic table a server's decoder could allow (its SETTINGS_HEADER_TABLE_SIZE is not seen
// here): generous, so a table size update a lenient server accepts is accepted here too.
constexpr size_t kMaxTableSize = 65536;
constexpr size_t kAlign = 16;

// --- a bump arena behind nghttp2_mem: the newest block can be freed or grown in place ---

using Arena = Http2Scratch::Arena;

size_t roundUp(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// Each block is preceded by kAlign octets holding its size (for realloc's copy).
void* arenaMalloc(size_t size, void* user) {
  auto* a = static_cast<Arena*>(user);
  if (size > a->size) return nullptr;
  const size_t need = kAlign + roundUp(size == 0 ? 1 : size);
  if (a->size - a->used < need) return nullptr;
  uint8_t* block = a->base + a->used;
  std::memcpy(block, &size, sizeof size);
  a->last = a->used;
  a->used += need;
  return block + kAlign;
}

size_t blockSize(const void* p) {
  size_t size = 0;
  std::memcpy(&size, static_cast<const uint8_t*>(p) - kAlign, sizeof size);
  return size;
}

bool isNewest(const Arena* a, const void* p) {
  return static_cast<const uint8_t*>(p) - kAlign == a->base + a->last && a->used > a->last;
}

void arenaFree(void* p, void* user) {
  auto* a = static_cast<Arena*>(user);
  if (p != nullptr && isNewest(a, p)) a->used = a->last;  // older blocks wait for the reset
}

void* arenaCalloc(size_t n, size_t size, void* user) {
  if (size != 0 && n > SIZE_MAX / size) return nullptr;
  void* p = arenaMalloc(n * size, user);
  if (p != nullptr) std::memset(p, 0, n * size);
  return p;
}

void* arenaRealloc(void* p, size_t size, void* user) {
  auto* a = static_cast<Arena*>(user);
  if (p == nullptr) return arenaMalloc(size, user);
  if (size == 0) {
    arenaFree(p, user);
    return nullptr;
  }
  if (isNewest(a, p)) {
    const size_t need = kAlign + roundUp(size);
    if (size <= a->size && a->size - a->last >= need) {
      std::memcpy(a->base + a->last, &size, sizeof size);
      a->used = a->last + need;
      return p;
    }
    return nullptr;
  }
  void* q = arenaMalloc(size, user);
  if (q == nullptr) return nullptr;
  const size_t old = blockSize(p);
  std::memcpy(q, p, old < size ? old : size);
  return q;
}

uint32_t rd24(const uint8_t* p) { return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2]; }
uint32_t rd31(const uint8_t* p) {
  return ((uint32_t{p[0]} & 0x7f) << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool hasUpper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

bool namesDnsMessage(std::string_view value) {
  // "application/dns-message", possibly among other media types or with parameters.
  constexpr std::string_view kType = "application/dns-message";
  for (size_t i = 0; i + kType.size() <= value.size(); ++i) {
    bool same = true;
    for (size_t j = 0; j < kType.size() && same; ++j) {
      char c = value[i + j];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      same = c == kType[j];
    }
    if (same) return true;
  }
  return false;
}

// Collects the request's fields from the inflater's output into the scratch's field buffer.
class FieldSink {
 public:
  explicit FieldSink(std::span<char> buffer, Http2Request& out) : buf_(buffer), out_(out) {}

  // False when the request is malformed.
  bool field(std::string_view name, std::string_view value) {
    if (name.empty() || hasUpper(name)) return false;  // §8.2.1: lower-case names only
    if (name.front() == ':') {
      if (regular_seen_) return false;  // §8.3: pseudo-headers come first
      if (name == ":method") return once(method_seen_, value, out_.method);
      if (name == ":scheme") return once(scheme_seen_, value, out_.scheme);
      if (name == ":path") return once(path_seen_, value, out_.path);
      if (name == ":authority") return once(authority_seen_, value, authority_);
      if (name == ":protocol") return once(protocol_seen_, value, protocol_);  // RFC 8441
      return false;
    }
    regular_seen_ = true;
    if (name == "host") {
      if (host_seen_) return false;  // two Host fields: a server must not guess
      return once(host_seen_, value, host_);
    }
    if (name == "content-type" || name == "accept") {
      if (namesDnsMessage(value)) out_.dns_message = true;
    }
    return true;
  }

  // The checks once the block is complete; fills the hosts.
  Http2ParseStatus finish() {
    if (!method_seen_) return Http2ParseStatus::kMalformed;
    const bool connect = out_.method == "CONNECT" && !protocol_seen_;
    if (connect ? (scheme_seen_ || path_seen_ || !authority_seen_)
                : (!scheme_seen_ || !path_seen_ || out_.path.empty())) {
      return Http2ParseStatus::kMalformed;  // §8.3.1, §8.5
    }
    if (authority_seen_ && !parseHttpAuthority(authority_, out_.authority, out_.ambiguity)) {
      return Http2ParseStatus::kMalformed;
    }
    if (host_seen_ && !parseHttpAuthority(host_, out_.header_host, out_.ambiguity)) {
      return Http2ParseStatus::kMalformed;
    }
    out_.host = authority_seen_ ? out_.authority : out_.header_host;
    if (out_.host.empty()) return Http2ParseStatus::kMalformed;
    if (authority_seen_ && host_seen_ &&
        (!httpHostsEqual(out_.authority.name, out_.header_host.name) ||
         out_.authority.port != out_.header_host.port)) {
      out_.ambiguity |= http_ambiguity::kHostMismatch;
      return Http2ParseStatus::kAmbiguous;
    }
    return Http2ParseStatus::kComplete;
  }

 private:
  bool once(bool& seen, std::string_view value, std::string_view& into) {
    if (seen) return false;
    seen = true;
    if (buf_.size() - used_ < value.size()) return false;  // longer than any server reads
    std::memcpy(buf_.data() + used_, value.data(), value.size());
    into = std::string_view(buf_.data() + used_, value.size());
    used_ += value.size();
    return true;
  }

  std::span<char> buf_;
  size_t used_ = 0;
  Http2Request& out_;
  std::string_view authority_, host_, protocol_;
  bool method_seen_ = false, scheme_seen_ = false, path_seen_ = false;
  bool authority_seen_ = false, protocol_seen_ = false, host_seen_ = false;
  bool regular_seen_ = false;
};

// Owns one inflater for one parse; its memory comes from the scratch's arena.
class Inflater {
 public:
  explicit Inflater(Arena& arena) : arena_(arena) {
    arena_.used = 0;
    arena_.last = 0;
    mem_ = nghttp2_mem{&arena_, arenaMalloc, arenaFree, arenaCalloc, arenaRealloc};
    if (nghttp2_hd_inflate_new2(&inflater_, &mem_) != 0) inflater_ = nullptr;
    if (inflater_ != nullptr &&
        nghttp2_hd_inflate_change_table_size(inflater_, kMaxTableSize) != 0) {
      nghttp2_hd_inflate_del(inflater_);
      inflater_ = nullptr;
    }
  }
  ~Inflater() {
    if (inflater_ != nullptr) nghttp2_hd_inflate_del(inflater_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  bool ok() const { return inflater_ != nullptr; }

  // Feeds one fragment of the header block; false when the inflater or the sink refuses it.
  bool feed(std::span<const uint8_t> fragment, bool final, FieldSink& sink) {
    const uint8_t* in = fragment.data();
    size_t left = fragment.size();
    for (;;) {
      nghttp2_nv nv{};
      int flags = 0;
      const ssize_t n = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, final ? 1 : 0);
      if (n < 0) return false;
      in += n;
      left -= static_cast<size_t>(n);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        if (!sink.field({reinterpret_cast<const char*>(nv.name), nv.namelen},
                        {reinterpret_cast<const char*>(nv.value), nv.valuelen})) {
          return false;
        }
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inflater_);
        return true;
      }
      if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) return !final;
    }
  }

 private:
  Arena& arena_;
  nghttp2_mem mem_{};
  nghttp2_hd_inflater* inflater_ = nullptr;
};

}  // namespace

Http2Scratch::Http2Scratch()
    : arena_bytes_(std::make_unique<uint8_t[]>(kArenaBytes)),
      fields_(std::make_unique<char[]>(kFieldBytes)) {
  arena_.base = arena_bytes_.get();
  arena_.size = kArenaBytes;
}

Http2Scratch::~Http2Scratch() = default;

bool startsLikeHttp2(std::span<const uint8_t> stream) noexcept {
  if (stream.size() < 3) return false;
  const size_t n = stream.size() < kHttp2Preface.size() ? stream.size() : kHttp2Preface.size();
  return std::memcmp(stream.data(), kHttp2Preface.data(), n) == 0;
}

std::string_view http2ParseStatusName(Http2ParseStatus s) {
  switch (s) {
    case Http2ParseStatus::kComplete: return "complete";
    case Http2ParseStatus::kNeedMore: return "need-more";
    case Http2ParseStatus::kAmbiguous: return "ambiguous";
    case Http2ParseStatus::kMalformed: return "malformed";
    case Http2ParseStatus::kNotHttp2: return "not-http2";
  }
  return "unknown";
}

Http2ParseStatus parseHttp2Request(std::span<const uint8_t> stream, Http2Scratch& scratch,
                                   Http2Request& out) noexcept {
  out = {};
  const size_t preface = kHttp2Preface.size();
  if (stream.size() < preface) {
    if (stream.empty()) return Http2ParseStatus::kNeedMore;
    return std::memcmp(stream.data(), kHttp2Preface.data(), stream.size()) == 0
               ? Http2ParseStatus::kNeedMore
               : Http2ParseStatus::kNotHttp2;
  }
  if (std::memcmp(stream.data(), kHttp2Preface.data(), preface) != 0) {
    return Http2ParseStatus::kNotHttp2;
  }
  // Walk the frames first: the header block is decoded only once all of it is here, so a
  // partial stream costs no inflater work.
  size_t pos = preface;
  bool first = true;
  size_t block_start = 0;  // offset of the HEADERS frame
  for (;;) {
    if (stream.size() - pos < kFrameHeader) return Http2ParseStatus::kNeedMore;
    const uint8_t* h = stream.data() + pos;
    const size_t length = rd24(h);
    const uint8_t type = h[3];
    const uint32_t stream_id = rd31(h + 5);
    if (length > kMaxFrameSize) return Http2ParseStatus::kMalformed;
    if (stream.size() - pos - kFrameHeader < length) return Http2ParseStatus::kNeedMore;
    if (first && type != kSettings) return Http2ParseStatus::kMalformed;  // §3.4
    first = false;
    if (block_start != 0) {
      // Inside a header block: only CONTINUATION of the same stream (§6.10).
      const uint32_t block_stream = rd31(stream.data() + block_start + 5);
      if (type != kContinuation || stream_id != block_stream) return Http2ParseStatus::kMalformed;
      if (h[4] & kFlagEndHeaders) break;
    } else if (type == kHeaders) {
      if (stream_id == 0 || (stream_id & 1) == 0) return Http2ParseStatus::kMalformed;
      block_start = pos;
      if (h[4] & kFlagEndHeaders) break;
    } else if (type == kSettings) {
      if (stream_id != 0 || length % 6 != 0) return Http2ParseStatus::kMalformed;  // §6.5
    } else if (type == kData || type == kPushPromise || type == kContinuation) {
      return Http2ParseStatus::kMalformed;  // no open stream for them yet
    } else if (type == kPriority && (stream_id == 0 || length != 5)) {
      return Http2ParseStatus::kMalformed;  // §6.3
    }
    pos += kFrameHeader + length;
  }
  // The block: HEADERS (padding and priority fields stripped, §6.2) then its CONTINUATIONs.
  Inflater inflater(scratch.arena());
  if (!inflater.ok()) return Http2ParseStatus::kMalformed;
  FieldSink sink(scratch.fields(), out);
  out.stream_id = rd31(stream.data() + block_start + 5);
  size_t at = block_start;
  for (;;) {
    const uint8_t* h = stream.data() + at;
    const size_t length = rd24(h);
    const uint8_t flags = h[4];
    std::span<const uint8_t> payload = stream.subspan(at + kFrameHeader, length);
    if (h[3] == kHeaders) {
      size_t pad = 0;
      if (flags & kFlagPadded) {
        if (payload.empty()) return Http2ParseStatus::kMalformed;
        pad = payload[0];
        payload = payload.subspan(1);
      }
      if (flags & kFlagPriority) {
        if (payload.size() < 5) return Http2ParseStatus::kMalformed;
        payload = payload.subspan(5);
      }
      if (pad > payload.size()) return Http2ParseStatus::kMalformed;  // §6.2: PROTOCOL_ERROR
      payload = payload.first(payload.size() - pad);
    }
    const bool final = (flags & kFlagEndHeaders) != 0;
    if (!inflater.feed(payload, final, sink)) return Http2ParseStatus::kMalformed;
    if (final) break;
    at += kFrameHeader + length;
  }
  return sink.finish();
}

}  // namespace safegate
