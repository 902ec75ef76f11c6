// Dashboard accounts, sessions, the sign-in throttle and the audit log (ui-helper/accounts.h,
// ui-helper/dashboard.h). End to end over HTTPS: integration.dashboard.
#include "ui-helper/dashboard.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/shared_data.h"
#include "ui-helper/accounts.h"
#include "ui-helper/web_util.h"

namespace safegate::ui {
namespace {

constexpr int64_t kNow = 1'795'430'000;

TEST(DashboardTest, PasswordsAreScryptHashedWithTheirOwnSalt) {
  auto a = hashPassword("correct horse battery", 10);
  auto b = hashPassword("correct horse battery", 10);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->starts_with("$scrypt$ln=10,r=8,p=1$"));
  EXPECT_NE(*a, *b);  // a random salt each time
  EXPECT_TRUE(verifyPassword("correct horse battery", *a));
  EXPECT_FALSE(verifyPassword("correct horse batterY", *a));
  EXPECT_FALSE(verifyPassword("", *a));
  EXPECT_FALSE(hashPassword("x", 9));
  // The default cost is what safegatectl writes.
  auto d = hashPassword("correct horse battery");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->starts_with("$scrypt$ln=15,r=8,p=1$"));
  EXPECT_TRUE(verifyPassword("correct horse battery", *d));
}

TEST(DashboardTest, AMalformedOrTooCostlyHashNeverMatches) {
  const std::string good = *hashPassword("pw", 10);
  std::string cheap = good;
  cheap.replace(cheap.find("ln=10"), 5, "ln=9");
  for (const std::string& bad :
       {std::string(), std::string("$scrypt$"), std::string("plain"), cheap,
        std::string("$scrypt$ln=20,r=16,p=1$00112233445566778899aabbccddeeff$") +
            std::string(64, '0'),  // 4 GiB of memory: refused before it is tried
        std::string("$scrypt$ln=10,r=8$00112233445566778899aabbccddeeff$") + std::string(64, '0'),
        good.substr(0, good.size() - 2)}) {
    EXPECT_FALSE(verifyPassword("pw", bad)) << bad;
  }
}

TEST(DashboardTest, TheAccountsFileIsCheckedLineByLine) {
  const std::string hash = *hashPassword("pw", 10);
  const std::string text = "# accounts\n\nalice:lead:" + hash + "\nBob:admin:" + hash +
                           "\ncarol:owner:" + hash + "\ndave:viewer:nohash\nalice:admin:" + hash +
                           "\nerin:admin:" + hash + "\r\njustaname\n";
  DiagnosticSink sink;
  auto accounts = parseAccounts(text, "/etc/safegate/ui-users", sink);
  ASSERT_EQ(accounts.size(), 2u);
  EXPECT_EQ(accounts[0].name, "alice");
  EXPECT_EQ(accounts[0].role, Role::kLead);
  EXPECT_EQ(accounts[1].name, "erin");
  const std::string all = sink.toString();
  EXPECT_NE(all.find("ui-users:4:1: error: an account name is 1 to 32"), std::string::npos) << all;
  EXPECT_NE(all.find(":5:1: error: role of \"carol\" must be viewer, lead or admin"),
            std::string::npos);
  EXPECT_NE(all.find(":6:1: error: password hash of \"dave\""), std::string::npos);
  EXPECT_NE(all.find(":7:1: error: account \"alice\" appears twice"), std::string::npos);
  EXPECT_NE(all.find(":9:1: error: expected name:role:hash"), std::string::npos);
  // What formatAccounts writes, parseAccounts reads back.
  DiagnosticSink again;
  auto back = parseAccounts(formatAccounts(accounts), "f", again);
  EXPECT_FALSE(again.hasErrors());
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].hash, accounts[1].hash);
}

TEST(DashboardTest, ACsrfTokenMatchesOnlyWhenEqualAndNotEmpty) {
  EXPECT_TRUE(sameSecret("5f3a", "5f3a"));
  EXPECT_FALSE(sameSecret("5f3b", "5f3a"));
  EXPECT_FALSE(sameSecret("5f3a0", "5f3a"));  // a longer guess does not match on a prefix
  EXPECT_FALSE(sameSecret("5f3", "5f3a"));
  EXPECT_FALSE(sameSecret("", ""));  // a session without a token accepts nothing
}

TEST(DashboardTest, SessionsEndWhenIdleOrOld) {
  SessionStore store(/*idle_seconds=*/600, /*max_seconds=*/3600);
  const Session s = store.create("alice", Role::kLead, "h", kNow);
  EXPECT_EQ(s.id.size(), 64u);
  EXPECT_EQ(s.csrf.size(), 64u);
  EXPECT_NE(s.id, s.csrf);
  EXPECT_FALSE(store.find("nope", kNow));
  ASSERT_TRUE(store.find(s.id, kNow + 590));
  ASSERT_TRUE(store.find(s.id, kNow + 1180));   // each use restarts the idle clock
  EXPECT_FALSE(store.find(s.id, kNow + 1781));  // idle too long
  const Session t = store.create("bob", Role::kAdmin, "h", kNow);
  for (int64_t at = kNow + 500; at < kNow + 3600; at += 500) ASSERT_TRUE(store.find(t.id, at));
  EXPECT_FALSE(store.find(t.id, kNow + 3601));  // signed in too long ago
  const Session u = store.create("carol", Role::kViewer, "h", kNow);
  store.remove(u.id);
  EXPECT_FALSE(store.find(u.id, kNow));
}

TEST(DashboardTest, FiveWrongPasswordsLockTheNameForAQuarterHour) {
  LoginThrottle t;
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(t.failed("alice", "10.0.0.9", kNow + i));
  EXPECT_EQ(t.lockedFor("alice", "10.0.0.9", kNow + 4), 0);
  EXPECT_TRUE(t.failed("alice", "10.0.0.9", kNow + 4));
  EXPECT_EQ(t.lockedFor("alice", "10.0.0.9", kNow + 4), 900);
  EXPECT_EQ(t.lockedFor("alice", "10.0.0.7", kNow + 4), 900);  // from anywhere
  EXPECT_EQ(t.lockedFor("bob", "10.0.0.7", kNow + 4), 0);
  t.succeeded("alice", kNow + 5);  // a right password does not lift a lock
  EXPECT_GT(t.lockedFor("alice", "10.0.0.7", kNow + 5), 0);
  EXPECT_EQ(t.lockedFor("alice", "10.0.0.7", kNow + 904), 0);
  // Failures older than the window do not add up.
  LoginThrottle slow;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(slow.failed("bob", "10.0.0.9", kNow + i * 901));
}

TEST(DashboardTest, OneAddressGuessingManyNamesIsLockedToo) {
  LoginThrottle t;
  bool locked = false;
  for (int i = 0; i < LoginThrottle::kMaxPerAddress; ++i) {
    locked = t.failed("user" + std::to_string(i), "10.0.0.66", kNow);
  }
  EXPECT_TRUE(locked);
  EXPECT_EQ(t.lockedFor("someone-else", "10.0.0.66", kNow), 900);
  EXPECT_EQ(t.lockedFor("someone-else", "10.0.0.67", kNow), 0);
}

TEST(DashboardTest, AFloodOfMadeUpNamesNeverLiftsALock) {
  LoginThrottle t;
  for (int i = 0; i < LoginThrottle::kMaxPerName; ++i) t.failed("alice", "10.0.0.9", kNow);
  ASSERT_GT(t.lockedFor("alice", "10.0.0.9", kNow), 0);
  // Many addresses, each trying a new name once: the maps stay bounded, alice stays locked.
  for (size_t i = 0; i < 3 * LoginThrottle::kMaxRecords; ++i) {
    t.failed("guess" + std::to_string(i),
             "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250), kNow + 1);
  }
  EXPECT_GT(t.lockedFor("alice", "10.0.0.9", kNow + 2), 0);
  // Nor does it wash out a real account's recent failures while one-shot names can go.
  LoginThrottle u;
  for (int i = 0; i < LoginThrottle::kMaxPerName - 1; ++i) u.failed("bob", "10.0.0.9", kNow);
  for (size_t i = 0; i < 2 * LoginThrottle::kMaxRecords; ++i) {
    u.failed("guess" + std::to_string(i),
             "10.2." + std::to_string(i / 250) + "." + std::to_string(i % 250), kNow + 1);
  }
  EXPECT_TRUE(u.failed("bob", "10.0.0.9", kNow + 2));  // the fifth failure still locks
}

TEST(DashboardTest, ASuccessfulSignInAfterALockStartsAfresh) {
  LoginThrottle t;
  for (int i = 0; i < LoginThrottle::kMaxPerName; ++i) t.failed("alice", "10.0.0.9", kNow);
  ASSERT_EQ(t.lockedFor("alice", "10.0.0.9", kNow + 900), 0);
  t.succeeded("alice", kNow + 900);
  for (int i = 0; i < LoginThrottle::kMaxPerName - 1; ++i) {
    EXPECT_FALSE(t.failed("alice", "10.0.0.9", kNow + 901));
  }
}

TEST(DashboardTest, TheAuditLogAppendsJsonLinesPrivately) {
  testing::TempDir dir;
  AuditLog log(dir.path() / "audit.log");
  ASSERT_TRUE(log.append("alice", "10.0.0.9", "login", "lead", kNow));
  ASSERT_TRUE(log.append("alice", "10.0.0.9", "approve", "request 3 a.test \"x\"\n", kNow + 1));
  struct stat st {};
  ASSERT_EQ(::stat(log.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  const auto recent = log.recent(10);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0]["action"], "approve");  // newest first
  EXPECT_EQ(recent[0]["detail"], "request 3 a.test \"x\"\n");
  EXPECT_EQ(recent[1]["time"], "2026-11-23T10:33:20Z");
  EXPECT_EQ(log.recent(1).size(), 1u);
}

}  // namespace
}  // namespace safegate::ui
