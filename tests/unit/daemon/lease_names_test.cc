#include "daemon/lease_names.h"

#include <gtest/gtest.h>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

TEST(LeaseNamesTest, NamesByAddressThenByMacAndOnlyUnexpiredLeases) {
  testing::TempDir dir;
  const auto v4 = dir.write("dhcp.leases",
                            "2000 aa:bb:cc:00:00:01 10.0.0.5 sams-tablet *\n"
                            "500 aa:bb:cc:00:00:02 10.0.0.6 gone *\n");
  LeaseNames names({v4});
  std::vector<std::string> problems;
  EXPECT_TRUE(names.refresh(1000, problems));
  EXPECT_TRUE(problems.empty());
  const auto map = names.names();
  EXPECT_EQ(map->find(ip("10.0.0.5"), std::nullopt), "sams-tablet");
  EXPECT_EQ(map->find(ip("10.0.0.6"), std::nullopt), "") << "expired at 500";
  // The tablet's IPv6 address has no lease, but its MAC has.
  EXPECT_EQ(map->find(ip("fd00::5"), MacAddress::parse("aa:bb:cc:00:00:01")), "sams-tablet");
  EXPECT_FALSE(names.refresh(1000, problems)) << "nothing changed";
  EXPECT_EQ(names.names(), map) << "the same snapshot stays published";
  EXPECT_TRUE(names.refresh(3000, problems)) << "the tablet's lease expired";
  EXPECT_EQ(names.names()->find(ip("10.0.0.5"), std::nullopt), "");
}

TEST(LeaseNamesTest, AnUnreadableFileKeepsItsLastNamesAndIsReportedOnce) {
  testing::TempDir dir;
  const auto file = dir.write("dhcp.leases", "0 aa:bb:cc:00:00:01 10.0.0.5 sams-tablet *\n");
  LeaseNames names({file, dir.path() / "missing.leases"});
  std::vector<std::string> problems;
  EXPECT_TRUE(names.refresh(0, problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("missing.leases: cannot read"), std::string::npos) << problems[0];
  std::filesystem::remove(file);
  problems.clear();
  EXPECT_FALSE(names.refresh(0, problems)) << "the last good read of the removed file stays";
  ASSERT_EQ(problems.size(), 1u) << "only the newly failing file";
  EXPECT_EQ(names.names()->find(ip("10.0.0.5"), std::nullopt), "sams-tablet");
  problems.clear();
  EXPECT_FALSE(names.refresh(0, problems));
  EXPECT_TRUE(problems.empty()) << "reported once";
  dir.write("dhcp.leases", "0 aa:bb:cc:00:00:01 10.0.0.5 renamed *\n");
  EXPECT_TRUE(names.refresh(0, problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("readable again"), std::string::npos);
  EXPECT_EQ(names.names()->find(ip("10.0.0.5"), std::nullopt), "renamed");
}

}  // namespace
}  // namespace safegate
