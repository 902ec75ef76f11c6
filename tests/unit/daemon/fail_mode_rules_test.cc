// FailModeRules: groups[].fail rendered as the SAFEGATE_FAILMODE chain (in groupFor()'s match
// order), written to the state directory and loaded with the restore command — here a real
// script standing in for iptables-restore that records what it was given.
#include "daemon/inline/fail_mode_rules.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "daemon/compiled_policy.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using testing::TempDir;

constexpr const char* kConfig = R"(
[policy]
default_group = "kids"

[[groups]]
name = "kids"
profile = "open"
fail = "%KIDS%"

[[groups]]
name = "parents"
profile = "open"
fail = "open"

[[groups]]
name = "strict"
profile = "open"
fail = "closed"

[[clients]]
name = "parent-laptop"
group = "parents"
addresses = ["10.0.0.0/24", "fd00::/64"]
macs = ["02:00:00:00:00:01"]

[[clients]]
name = "tablet"
group = "strict"
addresses = ["10.0.0.9/32"]
)";

policy::PolicySnapshotPtr compile(const TempDir& dir, std::string_view kids_fail) {
  std::string text = kConfig;
  text.replace(text.find("%KIDS%"), 6, kids_fail);
  dir.write("safegate.toml", text);
  DiagnosticSink sink;
  auto loaded = policy::PolicyEngine::load(dir.path() / "safegate.toml", sink);
  EXPECT_TRUE(loaded.isOk()) << sink.toString();
  return loaded.isOk() ? loaded->snapshot : nullptr;
}

std::string rulesOnly(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end - pos);
    if (line.starts_with("-A ")) out += line + "\n";
    pos = end == std::string::npos ? text.size() : end + 1;
  }
  return out;
}

TEST(FailModeRulesTest, FailClosedDefaultGroupQueuesEveryoneButTheFailOpenSources) {
  TempDir dir;
  auto snap = compile(dir, "closed");
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(rulesOnly(renderFailModeRules(*snap, 4)),
            "-A SAFEGATE_FAILMODE -m mac --mac-source 02:00:00:00:00:01 -j RETURN\n"
            "-A SAFEGATE_FAILMODE -s 10.0.0.9/32 -j SAFEGATE_FAILCLOSED\n"
            "-A SAFEGATE_FAILMODE -s 10.0.0.0/24 -j RETURN\n"
            "-A SAFEGATE_FAILMODE -j SAFEGATE_FAILCLOSED\n");
  EXPECT_EQ(rulesOnly(renderFailModeRules(*snap, 6)),
            "-A SAFEGATE_FAILMODE -m mac --mac-source 02:00:00:00:00:01 -j RETURN\n"
            "-A SAFEGATE_FAILMODE -s fd00::/64 -j RETURN\n"
            "-A SAFEGATE_FAILMODE -j SAFEGATE_FAILCLOSED\n");
  const std::string full = renderFailModeRules(*snap, 4);
  EXPECT_NE(full.find("*mangle\n:SAFEGATE_FAILMODE - [0:0]\n"), std::string::npos);
  EXPECT_TRUE(full.ends_with("COMMIT\n"));
}

TEST(FailModeRulesTest, FailOpenDefaultGroupListsOnlyTheFailClosedSources) {
  TempDir dir;
  auto snap = compile(dir, "open");
  ASSERT_NE(snap, nullptr);
  // The tablet (strict, closed) sits inside the parents' /24 (open): it must come first; the
  // RETURNs after the last fail-closed rule are left out.
  EXPECT_EQ(rulesOnly(renderFailModeRules(*snap, 4)),
            "-A SAFEGATE_FAILMODE -m mac --mac-source 02:00:00:00:00:01 -j RETURN\n"
            "-A SAFEGATE_FAILMODE -s 10.0.0.9/32 -j SAFEGATE_FAILCLOSED\n");
  EXPECT_EQ(rulesOnly(renderFailModeRules(*snap, 6)), "");
}

TEST(FailModeRulesTest, WritesTheFilesLoadsThemAndFollowsReloads) {
  TempDir dir;
  auto snap = compile(dir, "closed");
  ASSERT_NE(snap, nullptr);
  // Stand-in for iptables-restore: records its arguments and the file it was given.
  auto fake = dir.write("fake-restore.sh", "#!/bin/sh\necho \"$1 $2\" >\"" + dir.path().string() +
                                               "/args\"\ncat \"$3\" >>\"" + dir.path().string() +
                                               "/loaded\"\n");
  chmod(fake.c_str(), 0755);
  PolicyHolder holder;
  holder.publish(
      std::make_shared<CompiledPolicyView>(snap, std::make_shared<policy::ExceptionTable>()));
  FailModeRules::Options o;
  o.state_dir = dir.path();
  o.restore4 = fake.string();
  o.restore6 = "none";
  o.poll_ms = 10;
  auto rules = FailModeRules::start(o, holder);
  auto waitFor = [&](auto pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  };
  ASSERT_TRUE(waitFor([&] { return rules->statusJson()["generation"] == holder.generation(); }));
  EXPECT_EQ(rules->statusJson()["applied"], true) << rules->statusJson().dump();
  EXPECT_EQ(testing::readFile(dir.path() / "args"), "--noflush --wait=5\n");
  EXPECT_EQ(testing::readFile(dir.path() / "loaded"), renderFailModeRules(*snap, 4));
  EXPECT_EQ(testing::readFile(dir.path() / "firewall-failmode.v6"), renderFailModeRules(*snap, 6));

  // A reload with the default group fail-open: the rules follow without a restart.
  auto reloaded = compile(dir, "open");
  holder.publish(
      std::make_shared<CompiledPolicyView>(reloaded, std::make_shared<policy::ExceptionTable>()));
  ASSERT_TRUE(waitFor([&] { return rules->statusJson()["generation"] == holder.generation(); }));
  EXPECT_EQ(testing::readFile(dir.path() / "firewall-failmode.v4"),
            renderFailModeRules(*reloaded, 4));
  EXPECT_NE(testing::readFile(dir.path() / "loaded").find(renderFailModeRules(*reloaded, 4)),
            std::string::npos);
  rules->stop();
}

TEST(FailModeRulesTest, AFailingRestoreIsReportedNotFatal) {
  TempDir dir;
  auto snap = compile(dir, "closed");
  ASSERT_NE(snap, nullptr);
  PolicyHolder holder;
  holder.publish(
      std::make_shared<CompiledPolicyView>(snap, std::make_shared<policy::ExceptionTable>()));
  FailModeRules::Options o;
  o.state_dir = dir.path();
  o.restore4 = "false";  // exits 1
  o.restore6 = "none";
  o.poll_ms = 10;
  auto rules = FailModeRules::start(o, holder);
  rules->stop();
  Status s = rules->syncOnce();
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(rules->statusJson()["applied"], false);
  EXPECT_NE(rules->statusJson()["error"].get<std::string>().find("safegate-firewall.sh"),
            std::string::npos);
  // The files are written all the same: the firewall script loads them on "apply".
  EXPECT_EQ(testing::readFile(dir.path() / "firewall-failmode.v4"), renderFailModeRules(*snap, 4));
}

}  // namespace
}  // namespace safegate
