// parseHttp2Request(): the first request of a cleartext HTTP/2 connection with prior knowledge.
// The RFC 7541 Appendix C request examples (with and without Huffman) as the header block;
// blocks from nghttp2's deflater; every cut of the stream is kNeedMore, never a decision; what
// a conforming server must reject is kMalformed; :authority against Host is kAmbiguous.
#include "filters/http2_request.h"

#include <gtest/gtest.h>

#include "tests/support/http2_frames.h"

namespace safegate {
namespace {

using testing::append;
using testing::Bytes;
using testing::Fields;
using testing::getFields;
using testing::hpackBlock;
using testing::http2Frame;
using testing::http2Preface;
using testing::http2Request;
using testing::http2Settings;

Bytes hex(std::string_view h) {
  Bytes out;
  int hi = -1;
  for (char c : h) {
    if (c == ' ') continue;
    int v = (c >= '0' && c <= '9') ? c - '0' : (c - 'a' + 10);
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

Bytes withBlock(const Bytes& block, uint8_t flags = 0x5) {
  Bytes s = http2Preface();
  append(s, http2Settings());
  append(s, http2Frame(0x1, flags, 1, block));
  return s;
}

class Http2RequestTest : public ::testing::Test {
 protected:
  Http2ParseStatus parse(const Bytes& s) { return parseHttp2Request(s, scratch_, req_); }
  Http2Scratch scratch_;
  Http2Request req_;
};

TEST_F(Http2RequestTest, Rfc7541AppendixCFirstRequestWithoutAndWithHuffman) {
  // C.3.1: :method GET, :scheme http, :path /, :authority www.example.com (literal strings).
  ASSERT_EQ(parse(withBlock(hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"))),
            Http2ParseStatus::kComplete);
  EXPECT_EQ(req_.method, "GET");
  EXPECT_EQ(req_.scheme, "http");
  EXPECT_EQ(req_.path, "/");
  EXPECT_EQ(req_.host.name, "www.example.com");
  EXPECT_EQ(req_.stream_id, 1u);
  // C.4.1: the same request with the authority Huffman-coded.
  ASSERT_EQ(parse(withBlock(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"))),
            Http2ParseStatus::kComplete);
  EXPECT_EQ(req_.host.name, "www.example.com");
}

TEST_F(Http2RequestTest, ReadsAuthorityPortAndPathFromADeflatedBlock) {
  ASSERT_EQ(parse(http2Request(getFields("Casino.Test:8080", "/games?x=1"))),
            Http2ParseStatus::kComplete);
  EXPECT_EQ(req_.host.name, "Casino.Test");  // as sent; the caller normalises
  EXPECT_EQ(req_.host.port, 8080);
  EXPECT_EQ(req_.path, "/games?x=1");
  EXPECT_FALSE(req_.dns_message);
}

TEST_F(Http2RequestTest, EveryCutBeforeTheEndOfTheBlockNeedsMore) {
  const Bytes s = http2Request(getFields("casino.test"));
  for (size_t n = 0; n < s.size(); ++n) {
    EXPECT_EQ(parse(Bytes(s.begin(), s.begin() + n)), Http2ParseStatus::kNeedMore) << n;
  }
  EXPECT_EQ(parse(s), Http2ParseStatus::kComplete);
}

TEST_F(Http2RequestTest, HeaderBlockSplitOverContinuationWithPaddingAndPriority) {
  const Bytes block = hpackBlock(getFields("split.test", "/a"));
  // HEADERS: PADDED | PRIORITY, no END_HEADERS; pad length 3, 5 priority octets, first 4 octets.
  Bytes headers = {3, 0, 0, 0, 0, 16};
  headers.insert(headers.end(), block.begin(), block.begin() + 4);
  headers.insert(headers.end(), {0, 0, 0});
  Bytes s = http2Preface();
  append(s, http2Settings());
  append(s, http2Frame(0x1, 0x8 | 0x20, 1, headers));
  append(s, http2Frame(0x9, 0, 1, Bytes(block.begin() + 4, block.begin() + 6)));
  append(s, http2Frame(0x9, 0x4, 1, Bytes(block.begin() + 6, block.end())));
  ASSERT_EQ(parse(s), Http2ParseStatus::kComplete);
  EXPECT_EQ(req_.host.name, "split.test");
  EXPECT_EQ(req_.path, "/a");
}

TEST_F(Http2RequestTest, DynamicTableEntriesAddedInTheBlockAreResolved) {
  // A literal with incremental indexing (0x40: new name "x-a", value "1"), then the authority
  // as a literal with indexing and an indexed reference to it (index 62 = the newest entry).
  Bytes block = hex("8286 84");
  append(block, hex("41 0a"));  // :authority (static index 1), literal value of 10 octets
  for (char c : std::string("dyn.test:1")) block.push_back(static_cast<uint8_t>(c));
  ASSERT_EQ(parse(withBlock(block)), Http2ParseStatus::kComplete);
  EXPECT_EQ(req_.host.name, "dyn.test");
  EXPECT_EQ(req_.host.port, 1);
  append(block, hex("be"));  // index 62: the :authority entry again -> a second :authority
  EXPECT_EQ(parse(withBlock(block)), Http2ParseStatus::kMalformed);
}

TEST_F(Http2RequestTest, AuthorityAndHostThatDifferAreAmbiguousWithBoth) {
  Fields f = getFields("allowed.test");
  f.emplace_back("host", "casino.test");
  ASSERT_EQ(parse(http2Request(f)), Http2ParseStatus::kAmbiguous);
  EXPECT_EQ(req_.authority.name, "allowed.test");
  EXPECT_EQ(req_.header_host.name, "casino.test");
  EXPECT_EQ(req_.host.name, "allowed.test");
  f.back().second = "ALLOWED.test";
  EXPECT_EQ(parse(http2Request(f)), Http2ParseStatus::kComplete);
}

TEST_F(Http2RequestTest, HostFieldAloneNamesTheHost) {
  Fields f = {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "only.test"}};
  ASSERT_EQ(parse(http2Request(f)), Http2ParseStatus::kComplete);
  EXPECT_EQ(req_.host.name, "only.test");
}

TEST_F(Http2RequestTest, DnsOverHttpsInCleartextIsFlagged) {
  Fields post = {{":method", "POST"},
                 {":scheme", "http"},
                 {":authority", "doh.test"},
                 {":path", "/dns-query"},
                 {"accept", "application/dns-message"},
                 {"content-type", "application/dns-message"}};
  ASSERT_EQ(parse(http2Request(post)), Http2ParseStatus::kComplete);
  EXPECT_TRUE(req_.dns_message);
  Fields get = getFields("doh.test", "/q?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB");
  get.emplace_back("accept", "Application/DNS-Message");
  ASSERT_EQ(parse(http2Request(get)), Http2ParseStatus::kComplete);
  EXPECT_TRUE(req_.dns_message);
}

TEST_F(Http2RequestTest, WhatAServerMustRejectIsMalformed) {
  const Bytes ok_block = hpackBlock(getFields("x.test"));
  {  // the first frame is not SETTINGS
    Bytes s = http2Preface();
    append(s, http2Frame(0x1, 0x5, 1, ok_block));
    EXPECT_EQ(parse(s), Http2ParseStatus::kMalformed);
  }
  {  // another frame inside the header block
    Bytes s = http2Preface();
    append(s, http2Settings());
    append(s, http2Frame(0x1, 0x0, 1, ok_block));
    append(s, http2Frame(0x8, 0, 0, {0, 0, 0, 1}));
    EXPECT_EQ(parse(s), Http2ParseStatus::kMalformed);
  }
  {  // CONTINUATION of another stream
    Bytes s = http2Preface();
    append(s, http2Settings());
    append(s, http2Frame(0x1, 0x0, 1, ok_block));
    append(s, http2Frame(0x9, 0x4, 3, {}));
    EXPECT_EQ(parse(s), Http2ParseStatus::kMalformed);
  }
  {  // DATA before any request; HEADERS on an even stream; PUSH_PROMISE from a client
    for (auto frame : {http2Frame(0x0, 0, 1, {1}), http2Frame(0x1, 0x5, 2, ok_block),
                       http2Frame(0x5, 0x4, 1, {0, 0, 0, 2})}) {
      Bytes s = http2Preface();
      append(s, http2Settings());
      append(s, frame);
      EXPECT_EQ(parse(s), Http2ParseStatus::kMalformed);
    }
  }
  // padding longer than the frame
  EXPECT_EQ(parse(withBlock({200, 0x82}, 0x5 | 0x8)), Http2ParseStatus::kMalformed);
  // an index the tables do not have; a truncated literal
  EXPECT_EQ(parse(withBlock(hex("82 86 ff 7f"))), Http2ParseStatus::kMalformed);
  EXPECT_EQ(parse(withBlock(hex("82 86 84 41 0f 77"))), Http2ParseStatus::kMalformed);
  // pseudo-header after a regular field; unknown pseudo-header; upper-case name; no :method;
  // no :path; no host at all; userinfo in :authority; an invalid authority
  const std::vector<Fields> bad = {
      {{":method", "GET"},
       {"accept", "*/*"},
       {":scheme", "http"},
       {":path", "/"},
       {":authority", "a.test"}},
      {{":method", "GET"},
       {":scheme", "http"},
       {":path", "/"},
       {":authority", "a.test"},
       {":status", "200"}},
      {{":method", "GET"},
       {":scheme", "http"},
       {":path", "/"},
       {":authority", "a.test"},
       {"Accept", "*/*"}},
      {{":scheme", "http"}, {":path", "/"}, {":authority", "a.test"}},
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "a.test"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "u@a.test"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "a.test:99999"}},
  };
  for (const Fields& f : bad) EXPECT_EQ(parse(http2Request(f)), Http2ParseStatus::kMalformed);
}

TEST_F(Http2RequestTest, OtherStreamsAreNotHttp2AndShortPrefixesWait) {
  EXPECT_EQ(parse(Bytes{'G', 'E', 'T', ' '}), Http2ParseStatus::kNotHttp2);
  EXPECT_EQ(parse(Bytes{'P', 'R', 'I', ' ', '*'}), Http2ParseStatus::kNeedMore);
  Bytes h1 = http2Preface();
  h1[5] = 'x';
  EXPECT_EQ(parse(h1), Http2ParseStatus::kNotHttp2);
  EXPECT_TRUE(startsLikeHttp2(Bytes{'P', 'R', 'I'}));
  EXPECT_FALSE(startsLikeHttp2(Bytes{'P', 'R'}));  // could still be a PROPFIND
  EXPECT_FALSE(startsLikeHttp2(Bytes{'P', 'O', 'S', 'T'}));
}

TEST_F(Http2RequestTest, AHugeDynamicTableUpdateOrFieldIsRefusedNotAllocated) {
  // A table size update past what any server allows (2^24).
  EXPECT_EQ(parse(withBlock(hex("3fe1ffff07 8286 84"))), Http2ParseStatus::kMalformed);
  // A value longer than the field buffer.
  Fields f = getFields("big.test", "/" + std::string(40000, 'a'));
  Bytes block = hpackBlock(f);
  Bytes s = http2Preface();
  append(s, http2Settings());
  // Over several CONTINUATION frames (each within the maximum frame size).
  size_t at = 0;
  bool first = true;
  while (at < block.size()) {
    size_t n = std::min<size_t>(16000, block.size() - at);
    const bool last = at + n == block.size();
    append(s, http2Frame(first ? 0x1 : 0x9, last ? 0x4 : 0, 1,
                         Bytes(block.begin() + at, block.begin() + at + n)));
    first = false;
    at += n;
  }
  EXPECT_EQ(parse(s), Http2ParseStatus::kMalformed);
  // The scratch is reusable afterwards.
  EXPECT_EQ(parse(http2Request(getFields("after.test"))), Http2ParseStatus::kComplete);
  EXPECT_EQ(req_.host.name, "after.test");
}

}  // namespace
}  // namespace safegate
