#include "filters/stream_reassembler.h"

#include <gtest/gtest.h>

#include <string>

namespace safegate {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string text(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }

TEST(StreamReassemblerTest, AddBeforeStartIsRejected) {
  ReassemblyBuffer<64> r;
  EXPECT_FALSE(r.started());
  EXPECT_EQ(r.add(1, bytes("abc")), ReassemblyStatus::kNotStarted);
}

TEST(StreamReassemblerTest, InOrderSegmentsAdvance) {
  ReassemblyBuffer<64> r;
  r.start(1000);
  EXPECT_EQ(r.add(1000, bytes("GET ")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(r.add(1004, bytes("/ HTTP")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(text(r.contiguous()), "GET / HTTP");
  EXPECT_FALSE(r.hasGap());
  EXPECT_FALSE(r.failed());
}

TEST(StreamReassemblerTest, GapWaitsThenFills) {
  ReassemblyBuffer<64> r;
  r.start(1);
  EXPECT_EQ(r.add(1, bytes("ab")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(r.add(5, bytes("ef")), ReassemblyStatus::kBuffered);
  EXPECT_EQ(r.add(9, bytes("ij")), ReassemblyStatus::kBuffered);
  EXPECT_EQ(text(r.contiguous()), "ab");
  EXPECT_TRUE(r.hasGap());
  EXPECT_EQ(r.add(3, bytes("cd")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(text(r.contiguous()), "abcdef");
  EXPECT_EQ(r.add(7, bytes("gh")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(text(r.contiguous()), "abcdefghij");
  EXPECT_FALSE(r.hasGap());
}

TEST(StreamReassemblerTest, OverlappingOutOfOrderRangesMerge) {
  ReassemblyBuffer<64> r;
  r.start(0);
  EXPECT_EQ(r.add(10, bytes("klm")), ReassemblyStatus::kBuffered);
  EXPECT_EQ(r.add(5, bytes("fghij")), ReassemblyStatus::kBuffered);   // adjacent
  EXPECT_EQ(r.add(8, bytes("ijklmn")), ReassemblyStatus::kBuffered);  // overlaps both
  EXPECT_EQ(r.add(0, bytes("abcde")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(text(r.contiguous()), "abcdefghijklmn");
}

TEST(StreamReassemblerTest, RetransmissionIsDuplicate) {
  ReassemblyBuffer<64> r;
  r.start(100);
  r.add(100, bytes("hello"));
  r.add(110, bytes("xyz"));
  EXPECT_EQ(r.add(100, bytes("hello")), ReassemblyStatus::kDuplicate);
  EXPECT_EQ(r.add(102, bytes("ll")), ReassemblyStatus::kDuplicate);
  EXPECT_EQ(r.add(110, bytes("xyz")), ReassemblyStatus::kDuplicate);
  EXPECT_EQ(r.add(100, {}), ReassemblyStatus::kDuplicate);
  // A retransmission that overlaps and extends is accepted.
  EXPECT_EQ(r.add(103, bytes("lo wo")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(text(r.contiguous()), "hello wo");
}

TEST(StreamReassemblerTest, OverlapWithDifferentBytesIsAStickyConflict) {
  ReassemblyBuffer<64> r;
  r.start(0);
  r.add(0, bytes("Host: allowed.example"));
  EXPECT_EQ(r.add(6, bytes("blocked")), ReassemblyStatus::kConflict);
  EXPECT_TRUE(r.failed());
  EXPECT_EQ(r.failure(), ReassemblyStatus::kConflict);
  EXPECT_EQ(r.add(21, bytes("\r\n")), ReassemblyStatus::kConflict);
  // The octets first received are unchanged.
  EXPECT_EQ(text(r.contiguous()), "Host: allowed.example");
}

TEST(StreamReassemblerTest, ConflictWithBufferedRangeIsDetected) {
  ReassemblyBuffer<64> r;
  r.start(0);
  r.add(10, bytes("abc"));
  EXPECT_EQ(r.add(9, bytes("xaXc")), ReassemblyStatus::kConflict);
}

TEST(StreamReassemblerTest, BytesBeforeTheStartAreTrimmed) {
  ReassemblyBuffer<64> r;
  r.start(50);
  EXPECT_EQ(r.add(45, bytes("SYNxx")), ReassemblyStatus::kDuplicate);
  EXPECT_EQ(r.add(47, bytes("xxxabc")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(text(r.contiguous()), "abc");
}

TEST(StreamReassemblerTest, SequenceNumbersWrapAround) {
  ReassemblyBuffer<64> r;
  r.start(0xFFFFFFFE);
  EXPECT_EQ(r.add(0xFFFFFFFE, bytes("ab")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(r.add(2, bytes("ef")), ReassemblyStatus::kBuffered);
  EXPECT_EQ(r.add(0, bytes("cd")), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(text(r.contiguous()), "abcdef");
}

TEST(StreamReassemblerTest, DataBeyondCapIsOverCapButKeepsWhatFits) {
  ReassemblyBuffer<8> r;
  r.start(0);
  EXPECT_EQ(r.add(0, bytes("abcdefghij")), ReassemblyStatus::kOverCap);
  EXPECT_EQ(text(r.contiguous()), "abcdefgh");
  EXPECT_EQ(r.failure(), ReassemblyStatus::kOverCap);
  ReassemblyBuffer<8> far;
  far.start(0);
  EXPECT_EQ(far.add(100, bytes("x")), ReassemblyStatus::kOverCap);
  EXPECT_EQ(far.add(0x80000000u, bytes("x")), ReassemblyStatus::kDuplicate);  // "before" start
}

TEST(StreamReassemblerTest, TooManyGapsGivesUp) {
  ReassemblyBuffer<1024> r;
  r.start(0);
  for (size_t i = 0; i < StreamReassembler::kMaxRanges; ++i) {
    ASSERT_EQ(r.add(static_cast<uint32_t>(10 + i * 10), bytes("x")), ReassemblyStatus::kBuffered);
  }
  EXPECT_EQ(r.add(500, bytes("x")), ReassemblyStatus::kTooManyGaps);
  EXPECT_EQ(r.add(0, bytes("a")), ReassemblyStatus::kTooManyGaps);
}

TEST(StreamReassemblerTest, StartResetsEverything) {
  ReassemblyBuffer<8> r;
  r.start(0);
  r.add(0, bytes("abcdefghij"));
  r.start(10);
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(r.contiguous().size(), 0u);
  EXPECT_EQ(r.add(10, bytes("z")), ReassemblyStatus::kAdvanced);
}

TEST(StreamReassemblerTest, ReverseOrderSegmentsAssembleCompletely) {
  std::string msg;
  for (int i = 0; i < 15; ++i) msg += static_cast<char>('a' + i);
  ReassemblyBuffer<64> r;
  r.start(7);
  for (int i = 14; i >= 1; --i) {
    ASSERT_EQ(r.add(7 + i, bytes(std::string_view(msg).substr(i, 1))), ReassemblyStatus::kBuffered);
  }
  EXPECT_EQ(r.add(7, bytes(std::string_view(msg).substr(0, 1))), ReassemblyStatus::kAdvanced);
  EXPECT_EQ(text(r.contiguous()), msg);
}

TEST(StreamReassemblerTest, StatusNames) {
  EXPECT_EQ(reassemblyStatusName(ReassemblyStatus::kConflict), "conflict");
  EXPECT_EQ(reassemblyStatusName(ReassemblyStatus::kOverCap), "over-cap");
}

}  // namespace
}  // namespace safegate
