// Fuzz target for the first request of a cleartext HTTP/2 connection (filters/http2_request.h).
//
// The input is the client's stream after the connection preface (the target prepends it, so
// mutations spend their effort on frames and HPACK). It is parsed whole and at a few prefix
// lengths with one reused scratch: every view must lie in the scratch's field buffer, a
// complete request must name a host, and a prefix can never reach a different decision than
// "need more" or the one the whole stream gives.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "filters/http2_request.h"

namespace {

using namespace safegate;

[[noreturn]] void fail() { __builtin_trap(); }

void checkInside(std::string_view v, std::span<char> fields) {
  if (v.empty()) return;
  if (v.data() < fields.data() || v.data() + v.size() > fields.data() + fields.size()) fail();
}

Http2ParseStatus parseChecked(std::span<const uint8_t> in, Http2Scratch& scratch, Http2Request& r) {
  const Http2ParseStatus s = parseHttp2Request(in, scratch, r);
  for (std::string_view v :
       {r.method, r.scheme, r.path, r.authority.name, r.header_host.name, r.host.name}) {
    checkInside(v, scratch.fields());
  }
  if (s == Http2ParseStatus::kComplete || s == Http2ParseStatus::kAmbiguous) {
    if (r.host.empty() || r.method.empty() || r.stream_id == 0 || (r.stream_id & 1) == 0) fail();
    if ((s == Http2ParseStatus::kAmbiguous) !=
        ((r.ambiguity & http_ambiguity::kHostMismatch) != 0)) {
      fail();
    }
  }
  if (s == Http2ParseStatus::kNotHttp2) fail();  // every input starts with the preface
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Http2Scratch scratch;
  std::vector<uint8_t> stream(kHttp2Preface.begin(), kHttp2Preface.end());
  stream.insert(stream.end(), data, data + size);
  Http2Request whole;
  const Http2ParseStatus s = parseChecked(stream, scratch, whole);
  const std::string host(whole.host.name);
  for (size_t cut : {stream.size() / 3, stream.size() / 2, stream.size() - 1}) {
    if (cut < kHttp2Preface.size() || cut >= stream.size()) continue;
    Http2Request part;
    const Http2ParseStatus p =
        parseChecked(std::span<const uint8_t>(stream).first(cut), scratch, part);
    if (p == Http2ParseStatus::kNeedMore) continue;
    // A prefix decided: it ended a header block (or was malformed); the whole stream holds the
    // same frames up to there, so it decides the same way.
    if (p != s) fail();
    if ((p == Http2ParseStatus::kComplete || p == Http2ParseStatus::kAmbiguous) &&
        part.host.name != host) {
      fail();
    }
  }
  return 0;
}
