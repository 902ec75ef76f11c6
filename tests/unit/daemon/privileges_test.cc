#include "daemon/privileges.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <string>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

policy::DaemonSettings settingsListeningOn(std::vector<std::string> listen, bool inline_mode) {
  policy::DaemonSettings s;
  s.dns.listen = std::move(listen);
  s.inline_mode.enabled = inline_mode;
  return s;
}

TEST(RequiredCapabilitiesTest, DnsOnAHighPortNeedsNone) {
  const auto n = requiredCapabilities(settingsListeningOn({"127.0.0.1:5353", "[::1]:5353"}, false),
                                      /*fail_mode_commands=*/true);
  EXPECT_EQ(n.keep, 0u);
  EXPECT_EQ(n.inherit, 0u);
}

TEST(RequiredCapabilitiesTest, PortZeroIsAKernelChosenHighPort) {
  EXPECT_EQ(requiredCapabilities(settingsListeningOn({"127.0.0.1:0"}, false), true).keep, 0u);
}

TEST(RequiredCapabilitiesTest, AnyPortBelow1024NeedsTheBindCapabilityOnly) {
  EXPECT_EQ(
      requiredCapabilities(settingsListeningOn({"127.0.0.1:5353", "0.0.0.0:53"}, false), true).keep,
      static_cast<uint32_t>(kCapNetBindService));
  EXPECT_EQ(requiredCapabilities(settingsListeningOn({"[::]:1023"}, false), true).keep,
            static_cast<uint32_t>(kCapNetBindService));
  EXPECT_EQ(requiredCapabilities(settingsListeningOn({"[::]:1024"}, false), true).keep, 0u);
}

TEST(RequiredCapabilitiesTest, InlineKeepsQueueAndRawSocketCapabilitiesAndPassesThemOn) {
  auto n = requiredCapabilities(settingsListeningOn({"10.0.0.1:5353"}, true), true);
  EXPECT_EQ(n.keep, static_cast<uint32_t>(kCapNetAdmin | kCapNetRaw));
  EXPECT_EQ(n.inherit, static_cast<uint32_t>(kCapNetAdmin | kCapNetRaw));
  // SAFEGATE_IPTABLES_RESTORE=none: the rules are only written, nothing is passed on.
  n = requiredCapabilities(settingsListeningOn({"10.0.0.1:5353"}, true), false);
  EXPECT_EQ(n.keep, static_cast<uint32_t>(kCapNetAdmin | kCapNetRaw));
  EXPECT_EQ(n.inherit, 0u);
}

TEST(RequiredCapabilitiesTest, NamesAreTheKernelsInEnumOrder) {
  EXPECT_EQ(capabilityNames(kCapNetRaw | kCapNetBindService),
            (std::vector<std::string>{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}));
  EXPECT_TRUE(capabilityNames(0).empty());
}

// The words after `key=` on every line of the unit that sets it.
std::set<std::string> unitValues(const std::string& unit, const std::string& key) {
  std::set<std::string> out;
  std::istringstream in(unit);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) != 0) continue;
    std::istringstream words(line.substr(key.size() + 1));
    std::string w;
    while (words >> w) out.insert(w);
  }
  return out;
}

TEST(ShippedUnitTest, GrantsExactlyTheCapabilitiesTheCodeCanAskFor) {
  const std::string unit =
      testing::readFile(std::string(SAFEGATE_SOURCE_DIR) + "/packaging/systemd/safegated.service");
  ASSERT_FALSE(unit.empty());
  // The most a config can ask for: port 53 and inline mode with the fail-mode commands.
  const auto most = requiredCapabilities(settingsListeningOn({"0.0.0.0:53"}, true), true);
  const auto names = capabilityNames(most.keep);
  const std::set<std::string> expected(names.begin(), names.end());
  EXPECT_EQ(unitValues(unit, "AmbientCapabilities"), expected);
  EXPECT_EQ(unitValues(unit, "CapabilityBoundingSet"), expected);
  EXPECT_EQ(unitValues(unit, "User"), std::set<std::string>{"safegate"});
  // NFQUEUE and iptables talk netlink; DNS is INET/INET6; the control socket is AF_UNIX.
  EXPECT_EQ(unitValues(unit, "RestrictAddressFamilies"),
            (std::set<std::string>{"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}));
}

TEST(DropPrivilegesTest, AnUnknownUserIsRefusedWithTheCommandThatCreatesIt) {
  const uid_t before = geteuid();
  testing::TempDir dir;
  policy::DaemonSettings s = settingsListeningOn({"127.0.0.1:5353"}, false);
  s.user = "sg-no-such-user";
  s.state_dir = dir.path() / "state";
  const Status st = dropPrivileges(s, requiredCapabilities(s, false));
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("no user \"sg-no-such-user\""), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("useradd --system"), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(s.state_dir)) << "nothing changed before the lookup";
  EXPECT_EQ(geteuid(), before);
}

}  // namespace
}  // namespace safegate
