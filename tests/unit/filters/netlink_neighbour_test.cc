#include "filters/netlink_neighbour.h"

#include <gtest/gtest.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

namespace safegate {
namespace {

// Builds rtnetlink dump buffers by hand, the way the kernel lays them out (host byte order,
// every message and attribute padded to 4 octets).
class Dump {
 public:
  Dump& neighbour(uint8_t family, uint16_t state, std::vector<uint8_t> dst,
                  std::vector<uint8_t> lladdr, int32_t ifindex = 2) {
    const size_t start = begin(RTM_NEWNEIGH);
    ndmsg nd{};
    nd.ndm_family = family;
    nd.ndm_ifindex = ifindex;
    nd.ndm_state = state;
    append(&nd, sizeof(nd));
    attribute(NDA_DST, dst);
    if (!lladdr.empty()) attribute(NDA_LLADDR, lladdr);
    attribute(NDA_PROBES, {1, 0, 0, 0});  // an attribute the parser does not use
    end(start);
    return *this;
  }
  Dump& done() {
    const size_t start = begin(NLMSG_DONE);
    const int32_t zero = 0;
    append(&zero, sizeof(zero));
    end(start);
    return *this;
  }
  Dump& error(int32_t negative_errno) {
    const size_t start = begin(NLMSG_ERROR);
    nlmsgerr e{};
    e.error = negative_errno;
    append(&e, sizeof(e));
    end(start);
    return *this;
  }
  std::vector<uint8_t> bytes;

 private:
  size_t begin(uint16_t type) {
    const size_t start = bytes.size();
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = NLM_F_MULTI;
    h.nlmsg_seq = 1;
    append(&h, sizeof(h));
    return start;
  }
  void end(size_t start) {
    const uint32_t len = static_cast<uint32_t>(bytes.size() - start);
    std::memcpy(bytes.data() + start, &len, sizeof(len));
    pad();
  }
  void attribute(uint16_t type, const std::vector<uint8_t>& data) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<uint16_t>(sizeof(a) + data.size());
    append(&a, sizeof(a));
    append(data.data(), data.size());
    pad();
  }
  void append(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
  void pad() {
    while (bytes.size() % 4) bytes.push_back(0);
  }
};

std::vector<uint8_t> v6(const char* text) {
  auto a = IpAddress::parse(text);
  return {a->bytes().begin(), a->bytes().end()};
}
const std::vector<uint8_t> kMac = {0x02, 0, 0, 0, 0, 0x05};

TEST(NetlinkNeighbourTest, KeepsUsableIpv6NeighboursWithTheirMac) {
  Dump d;
  d.neighbour(AF_INET6, NUD_REACHABLE, v6("2001:db8::5"), kMac, 7)
      .neighbour(AF_INET6, NUD_PERMANENT, v6("fe80::1"), {0x02, 0, 0, 0, 0, 0x06})
      .done();
  std::vector<NeighbourEntry> out;
  NeighbourParseResult r = parseNeighbourMessages(d.bytes, out);
  EXPECT_EQ(r.status, NeighbourParseStatus::kDone);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].address, *IpAddress::parse("2001:db8::5"));
  EXPECT_EQ(out[0].mac.toString(), "02:00:00:00:00:05");
  EXPECT_EQ(out[0].ifindex, 7);
  EXPECT_EQ(out[1].address, *IpAddress::parse("fe80::1"));
  EXPECT_EQ(r.messages, 3u);
}

TEST(NetlinkNeighbourTest, AcceptsEveryUsableStateAndSkipsTheOthers) {
  Dump d;
  for (uint16_t state : {NUD_STALE, NUD_DELAY, NUD_PROBE}) {
    d.neighbour(AF_INET6, state, v6("2001:db8::1"), kMac);
  }
  for (uint16_t state : {NUD_INCOMPLETE, NUD_FAILED, NUD_NOARP, NUD_NONE}) {
    d.neighbour(AF_INET6, state, v6("2001:db8::2"), kMac);
  }
  std::vector<NeighbourEntry> out;
  NeighbourParseResult r = parseNeighbourMessages(d.bytes, out);
  EXPECT_EQ(r.status, NeighbourParseStatus::kMore);  // no NLMSG_DONE yet: read on
  EXPECT_EQ(r.accepted, 3u);
  EXPECT_EQ(r.skipped, 4u);
}

TEST(NetlinkNeighbourTest, SkipsEntriesWithoutAUsableLinkLayerAddress) {
  Dump d;
  d.neighbour(AF_INET6, NUD_REACHABLE, v6("2001:db8::1"), {})                     // no NDA_LLADDR
      .neighbour(AF_INET6, NUD_REACHABLE, v6("2001:db8::2"), {0, 0, 0, 0, 0, 0})  // all zero
      .neighbour(AF_INET6, NUD_REACHABLE, v6("2001:db8::3"), {1, 2, 3, 4})        // not 6 octets
      .neighbour(AF_INET6, NUD_REACHABLE, {192, 0, 2, 1}, kMac)  // dst size != family
      .done();
  std::vector<NeighbourEntry> out;
  NeighbourParseResult r = parseNeighbourMessages(d.bytes, out);
  EXPECT_EQ(r.status, NeighbourParseStatus::kDone);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r.skipped, 4u);
}

TEST(NetlinkNeighbourTest, ReadsIpv4NeighboursToo) {
  Dump d;
  d.neighbour(AF_INET, NUD_REACHABLE, {192, 168, 1, 20}, kMac).done();
  std::vector<NeighbourEntry> out;
  EXPECT_EQ(parseNeighbourMessages(d.bytes, out).status, NeighbourParseStatus::kDone);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].address, *IpAddress::parse("192.168.1.20"));
}

TEST(NetlinkNeighbourTest, ReportsTheKernelsErrorAsAPositiveErrno) {
  Dump d;
  d.error(-EPERM);
  std::vector<NeighbourEntry> out;
  NeighbourParseResult r = parseNeighbourMessages(d.bytes, out);
  EXPECT_EQ(r.status, NeighbourParseStatus::kError);
  EXPECT_EQ(r.error, EPERM);
}

// Found by the netlink_neighbour fuzz target under UBSan: -INT32_MIN overflows.
TEST(NetlinkNeighbourTest, AnErrorThatIsNoErrnoIsReportedAsEproto) {
  for (int32_t bad : {std::numeric_limits<int32_t>::min(), -4096, 5}) {
    Dump d;
    d.error(bad);
    std::vector<NeighbourEntry> out;
    NeighbourParseResult r = parseNeighbourMessages(d.bytes, out);
    EXPECT_EQ(r.status, NeighbourParseStatus::kError);
    EXPECT_EQ(r.error, EPROTO) << bad;
  }
}

TEST(NetlinkNeighbourTest, AnAcknowledgementIsNotAnError) {
  Dump d;
  d.error(0).neighbour(AF_INET6, NUD_REACHABLE, v6("2001:db8::9"), kMac).done();
  std::vector<NeighbourEntry> out;
  EXPECT_EQ(parseNeighbourMessages(d.bytes, out).status, NeighbourParseStatus::kDone);
  EXPECT_EQ(out.size(), 1u);
}

TEST(NetlinkNeighbourTest, MessageLengthPastTheBufferIsTruncatedAndKeepsEarlierEntries) {
  Dump d;
  d.neighbour(AF_INET6, NUD_REACHABLE, v6("2001:db8::1"), kMac);
  const size_t first = d.bytes.size();
  d.neighbour(AF_INET6, NUD_REACHABLE, v6("2001:db8::2"), kMac);
  std::vector<uint8_t> cut(d.bytes.begin(), d.bytes.end() - 8);
  std::vector<NeighbourEntry> out;
  NeighbourParseResult r = parseNeighbourMessages(cut, out);
  EXPECT_EQ(r.status, NeighbourParseStatus::kTruncated);
  EXPECT_EQ(out.size(), 1u);
  // A header shorter than 16 octets after a complete message.
  std::vector<uint8_t> stub(d.bytes.begin(), d.bytes.begin() + first + 10);
  out.clear();
  EXPECT_EQ(parseNeighbourMessages(stub, out).status, NeighbourParseStatus::kTruncated);
  EXPECT_EQ(out.size(), 1u);
}

TEST(NetlinkNeighbourTest, AttributeLengthBeyondItsMessageIsRejected) {
  Dump d;
  d.neighbour(AF_INET6, NUD_REACHABLE, v6("2001:db8::1"), kMac);
  // The first attribute (NDA_DST) starts after nlmsghdr (16) and ndmsg (12): claim 200 octets.
  const uint16_t bad = 200;
  std::memcpy(d.bytes.data() + 16 + 12, &bad, sizeof(bad));
  std::vector<NeighbourEntry> out;
  EXPECT_EQ(parseNeighbourMessages(d.bytes, out).status, NeighbourParseStatus::kTruncated);
  EXPECT_TRUE(out.empty());
  // And an attribute length below its own header.
  const uint16_t tiny = 2;
  std::memcpy(d.bytes.data() + 16 + 12, &tiny, sizeof(tiny));
  EXPECT_EQ(parseNeighbourMessages(d.bytes, out).status, NeighbourParseStatus::kTruncated);
}

TEST(NetlinkNeighbourTest, MessageShorterThanItsHeaderIsRejected) {
  Dump d;
  d.done();
  const uint32_t short_len = 8;
  std::memcpy(d.bytes.data(), &short_len, sizeof(short_len));
  std::vector<NeighbourEntry> out;
  EXPECT_EQ(parseNeighbourMessages(d.bytes, out).status, NeighbourParseStatus::kTruncated);
  EXPECT_EQ(parseNeighbourMessages({}, out).status, NeighbourParseStatus::kMore);
}

}  // namespace
}  // namespace safegate
