// Fuzz target for the HTTP/1.x request head parser (filters/http_request.h).
//
// The input is the start of a client stream. It is parsed whole and at a few prefix lengths;
// every view must lie inside the input, a complete head must end inside it, and a prefix of
// a stream can never be "complete" with a different head than the whole stream gives.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "filters/http_request.h"

namespace {

using namespace safegate;

[[noreturn]] void fail() { __builtin_trap(); }

void checkInside(std::string_view v, std::span<const uint8_t> in) {
  if (v.empty()) return;
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  if (p < in.data() || p + v.size() > in.data() + in.size()) fail();
}

HttpParseStatus parseChecked(std::span<const uint8_t> in, HttpRequest& r) {
  const HttpParseStatus s = parseHttpRequest(in, r);
  for (std::string_view v : {r.method, r.target, r.version, r.path, r.host.name, r.target_host.name,
                             r.header_host.name, r.other_header_host.name}) {
    checkInside(v, in);
  }
  if (s == HttpParseStatus::kComplete || s == HttpParseStatus::kAmbiguous) {
    if (r.head_length == 0 || r.head_length > in.size()) fail();
    if (s == HttpParseStatus::kComplete && r.ambiguity != 0) fail();
    if (s == HttpParseStatus::kAmbiguous && r.ambiguity == 0) fail();
  }
  if ((s == HttpParseStatus::kMalformed) != (r.malformation != HttpMalformation::kNone)) fail();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  HttpRequest whole;
  const HttpParseStatus s = parseChecked(in, whole);
  if (s == HttpParseStatus::kComplete || s == HttpParseStatus::kAmbiguous) {
    // The head alone gives the same answer as the head plus whatever follows it.
    HttpRequest head;
    if (parseChecked(in.first(whole.head_length), head) != s) fail();
    if (head.host.name != whole.host.name) fail();
  }
  for (size_t cut : {size / 2, size / 3, size > 0 ? size - 1 : 0}) {
    HttpRequest part;
    (void)parseChecked(in.first(cut), part);
  }
  return 0;
}
