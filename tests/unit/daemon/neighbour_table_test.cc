#include "daemon/neighbour_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>

namespace safegate {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
MacAddress mac(const char* text) { return *MacAddress::parse(text); }

NeighbourEntry entry(const char* address, const char* lladdr) {
  NeighbourEntry e;
  e.address = ip(address);
  e.mac = mac(lladdr);
  return e;
}

TEST(NeighbourMapTest, FindsIpv6NeighboursByBinarySearchAndIgnoresOthers) {
  NeighbourMap map;
  NeighbourTable::addIpv6(
      map, {entry("2001:db8::20", "02:00:00:00:00:20"), entry("fe80::1", "02:00:00:00:00:01"),
            entry("2001:db8::3", "02:00:00:00:00:03"),
            entry("192.0.2.1", "02:00:00:00:00:99")});  // v4: from ARP only
  ASSERT_EQ(map.v6.size(), 3u);
  EXPECT_TRUE(std::is_sorted(map.v6.begin(), map.v6.end()));
  EXPECT_EQ(map.find(ip("2001:db8::3")), mac("02:00:00:00:00:03"));
  EXPECT_EQ(map.find(ip("2001:db8::20")), mac("02:00:00:00:00:20"));
  EXPECT_EQ(map.find(ip("fe80::1")), mac("02:00:00:00:00:01"));
  EXPECT_FALSE(map.find(ip("2001:db8::4")));
  EXPECT_FALSE(map.find(ip("192.0.2.1")));
}

TEST(NeighbourMapTest, SameIpv6AddressOnTwoInterfacesKeepsOneEntry) {
  NeighbourMap map;
  NeighbourTable::addIpv6(
      map, {entry("fe80::1", "02:00:00:00:00:01"), entry("fe80::1", "02:00:00:00:00:02")});
  ASSERT_EQ(map.v6.size(), 1u);
  EXPECT_EQ(map.find(ip("fe80::1")), mac("02:00:00:00:00:01"));
}

TEST(NeighbourMapTest, Ipv4AndIpv6LookupsUseTheirOwnTables) {
  NeighbourMap map = NeighbourTable::parseProcArp(
      "IP address       HW type     Flags       HW address            Mask     Device\n"
      "192.168.1.20     0x1         0x2         aa:bb:cc:dd:ee:01     *        eth0\n");
  NeighbourTable::addIpv6(map, {entry("::ffff:192.168.1.20", "02:00:00:00:00:77")});
  EXPECT_EQ(map.find(ip("192.168.1.20")), mac("aa:bb:cc:dd:ee:01"));
}

// Runs `command` and fails the test with its output when it does not exit 0.
void mustRun(const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  ASSERT_EQ(rc, 0) << command;
}

// A network namespace this test creates (ip netns add) with a veth pair and a few IPv6
// neighbours, removed again at the end. The kernel's real RTM_GETNEIGH dump is read from a
// thread that has joined the namespace with setns(2) (which changes only that thread).
class NeighbourNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to create a network namespace (ip netns add); run as root";
    }
    name_ = "sgneigh" + std::to_string(getpid());
    mustRun("ip netns add " + name_);
    created_ = true;
    mustRun("ip -n " + name_ + " link add sgv0 type veth peer name sgv1");
    mustRun("ip -n " + name_ + " link set sgv0 up");
    const std::string add = "ip -n " + name_ + " -6 neigh add ";
    mustRun(add + "2001:db8::5 lladdr 02:00:00:00:00:05 dev sgv0 nud permanent");
    mustRun(add + "2001:db8::6 lladdr 02:00:00:00:00:06 dev sgv0 nud stale");
    mustRun(add + "2001:db8::7 lladdr 02:00:00:00:00:07 dev sgv0 nud noarp");  // not usable
    mustRun("ip -n " + name_ +
            " -4 neigh add 192.0.2.9 lladdr 02:00:00:00:00:09 dev sgv0 "
            "nud permanent");
  }
  void TearDown() override {
    if (created_) std::system(("ip netns del " + name_ + " >/dev/null 2>&1").c_str());
  }

  // Runs `fn` on a thread inside the namespace; false when setns failed.
  template <typename Fn>
  bool inNamespace(Fn fn) {
    bool joined = false;
    std::thread t([&] {
      const int fd = open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return;
      joined = setns(fd, CLONE_NEWNET) == 0;
      close(fd);
      if (joined) fn();
    });
    t.join();
    return joined;
  }

  std::string name_;
  bool created_ = false;
};

TEST_F(NeighbourNetnsTest, DumpsTheKernelsUsableIpv6Neighbours) {
  Result<std::vector<NeighbourEntry>> dump = Status::io("not run");
  ASSERT_TRUE(inNamespace([&] { dump = NeighbourTable::dumpKernelNeighbours(AF_INET6); }));
  ASSERT_TRUE(dump) << dump.status().toString();
  std::map<std::string, std::string> seen;
  for (const NeighbourEntry& e : *dump) seen[e.address.toString()] = e.mac.toString();
  EXPECT_EQ(seen["2001:db8::5"], "02:00:00:00:00:05");
  EXPECT_EQ(seen["2001:db8::6"], "02:00:00:00:00:06");
  EXPECT_EQ(seen.count("2001:db8::7"), 0u);  // NUD_NOARP: not a neighbour we identify by
  EXPECT_EQ(seen.count("192.0.2.9"), 0u);    // the dump asked for AF_INET6 only
}

TEST_F(NeighbourNetnsTest, RefreshPublishesIpv6NeighboursNextToTheArpTable) {
  const std::string arp = ::testing::TempDir() + "/arp-" + std::to_string(getpid());
  {
    std::ofstream f(arp);
    f << "IP address       HW type     Flags       HW address            Mask     Device\n"
         "192.168.1.20     0x1         0x2         aa:bb:cc:dd:ee:01     *        eth0\n";
  }
  NeighbourTable table(NeighbourTableOptions{arp, true});
  Result<size_t> n = Status::io("not run");
  ASSERT_TRUE(inNamespace([&] { n = table.refresh(); }));
  ASSERT_TRUE(n) << n.status().toString();
  EXPECT_EQ(*n, 3u);
  SnapshotHolder<NeighbourMap>::Reader reader(table.holder());
  const auto& map = reader.current();
  EXPECT_EQ(map->find(ip("2001:db8::5")), mac("02:00:00:00:00:05"));
  EXPECT_EQ(map->find(ip("2001:db8::6")), mac("02:00:00:00:00:06"));
  EXPECT_EQ(map->find(ip("192.168.1.20")), mac("aa:bb:cc:dd:ee:01"));
  EXPECT_FALSE(map->find(ip("2001:db8::7")));
  std::remove(arp.c_str());
}

TEST_F(NeighbourNetnsTest, MissingArpFileStillPublishesIpv6AndReportsThePath) {
  NeighbourTable table(NeighbourTableOptions{"/nonexistent/arp", true});
  Result<size_t> n = size_t{0};
  ASSERT_TRUE(inNamespace([&] { n = table.refresh(); }));
  ASSERT_FALSE(n);
  EXPECT_NE(n.status().message().find("/nonexistent/arp"), std::string::npos);
  SnapshotHolder<NeighbourMap>::Reader reader(table.holder());
  EXPECT_EQ(reader.current()->find(ip("2001:db8::5")), mac("02:00:00:00:00:05"));
}

}  // namespace
}  // namespace safegate
