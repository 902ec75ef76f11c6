#include <gtest/gtest.h>

#include "daemon/daemon.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

class SystemResolversTest : public ::testing::Test {
 protected:
  std::filesystem::path resolvConf(const std::string& text) {
    return dir_.write("resolv.conf", text);
  }
  testing::TempDir dir_;
};

TEST_F(SystemResolversTest, ReadsNameserversAsAddressAndPort53) {
  const auto file = resolvConf(
      "# generated\nsearch lan\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
      "nameserver fe80::1%eth0\nnameserver not-an-address\noptions edns0\n");
  EXPECT_EQ(systemResolvers(file),
            (std::vector<std::string>{"192.0.2.53:53", "[2001:db8::53]:53"}));
}

TEST_F(SystemResolversTest, SkipsSafegatedsOwnListenersSoItNeverForwardsToItself) {
  // The gateway's resolv.conf points at safegated once it is installed.
  const auto file = resolvConf("nameserver 127.0.0.1\nnameserver ::1\nnameserver 192.0.2.53\n");
  EXPECT_EQ(systemResolvers(file, {"127.0.0.1:53", "[::1]:53"}),
            (std::vector<std::string>{"192.0.2.53:53"}));
  // Wildcard listeners take loopback queries too.
  EXPECT_EQ(systemResolvers(file, {"0.0.0.0:53", "[::]:53"}),
            (std::vector<std::string>{"192.0.2.53:53"}));
  // Another port is another server (a local unbound on 53 behind safegated on 5353).
  EXPECT_EQ(systemResolvers(file, {"127.0.0.1:5353"}),
            (std::vector<std::string>{"127.0.0.1:53", "[::1]:53", "192.0.2.53:53"}));
  // A listener on the LAN address does not hide the loopback resolver.
  EXPECT_EQ(systemResolvers(file, {"10.0.0.1:53"}),
            (std::vector<std::string>{"127.0.0.1:53", "[::1]:53", "192.0.2.53:53"}));
}

TEST_F(SystemResolversTest, OnlyItselfLeavesNone) {
  const auto file = resolvConf("nameserver 127.0.0.1\n");
  EXPECT_TRUE(systemResolvers(file, {"127.0.0.1:53"}).empty());
}

}  // namespace
}  // namespace safegate
