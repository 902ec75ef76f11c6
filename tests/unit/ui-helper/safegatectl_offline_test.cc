// The offline safegatectl commands, driven as the real binary:
// check-config exit codes and path:line:col diagnostics, explain's JSON lines, stdin batch,
// --at, --list, and config-reference.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/outbox_store.h"
#include "tests/support/shared_data.h"

namespace safegate::ui {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

fs::path safegatectl() { return testing::binaryDir() / "ui-helper" / "safegatectl"; }

CommandResult runSafegatectl(const std::string& args) {
  CommandResult r;
  const std::string cmd = "'" + safegatectl().string() + "' " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<nlohmann::json> jsonLines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  }
  return v;
}

class SafegatectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(safegatectl()))
        << "build the safegatectl target first: " << safegatectl();
  }
  testing::TempDir dir_;
};

TEST_F(SafegatectlTest, CheckConfigAcceptsEveryShippedExample) {
  for (const char* e : {"home", "primary-school", "secondary-school", "default"}) {
    const CommandResult r =
        runSafegatectl("check-config '" +
                       (testing::sourceDir() / "examples" / e / "safegate.toml").string() + "'");
    EXPECT_EQ(r.exit_code, 0) << e << "\n" << r.out;
    EXPECT_NE(r.out.find(": ok ("), std::string::npos) << r.out;
  }
}

TEST_F(SafegatectlTest, CheckConfigPrintsEveryDiagnosticWithLocationAndFails) {
  const fs::path cfg =
      dir_.write("bad.toml", "[dns]\nworkerz = 2\n[[groups]]\nname = \"a\"\nprofile = \"13-18\"\n");
  const CommandResult r = runSafegatectl("check-config '" + cfg.string() + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(
      r.out.find(cfg.string() +
                 ":2:1: error: dns.workerz: unknown key \"workerz\"; did you mean \"workers\"?"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(cfg.string() + ":5:11: error: groups[0].profile:"), std::string::npos)
      << r.out;
}

// A valid config whose list has lines safegate skips still passes, and says which lines and
// why (file:line), as explain does — an administrator should not learn it from a miss.
TEST_F(SafegatectlTest, CheckConfigShowsSkippedListLinesAndStillPasses) {
  const fs::path list = dir_.write("l.txt", "good.example\nbad name\nhttps://x.example/ads.gif\n");
  const fs::path cfg = dir_.write(
      "c.toml", "[[lists]]\nname = \"l\"\ncategory = \"gambling\"\nsources = [\"l.txt\"]\n");
  const CommandResult r = runSafegatectl("check-config '" + cfg.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find(list.string() + ":2: warning: skipped \"bad name\""), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(list.string() + ":3: warning: skipped \"https://x.example/ads.gif\""),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(": ok ("), std::string::npos) << r.out;
}

TEST_F(SafegatectlTest, ExplainJsonHasTheContractFieldsForNamesFromStdin) {
  dir_.write("adult.txt", "0.0.0.0 adult.example\n");
  const fs::path cfg = dir_.write("c.toml", R"([[lists]]
name = "adult"
category = "pornography"
sources = ["adult.txt"]
[[groups]]
name = "kids"
profile = "under-9"
[[clients]]
name = "tablet"
group = "kids"
addresses = ["192.168.1.20"]
)");
  const fs::path names =
      dir_.write("names.txt", "www.adult.example\n# comment\n\nexample.org\nwww.google.com\n");
  const CommandResult r = runSafegatectl("explain --config '" + cfg.string() +
                                         "' --client 192.168.1.20 --at 2026-11-23T12:00:00Z "
                                         "--json < '" +
                                         names.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto lines = jsonLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (const auto& j : lines) {
    for (const char* k : {"name", "verdict", "group", "category", "rule", "source", "reason"}) {
      EXPECT_TRUE(j.contains(k)) << k << " missing in " << j.dump();
    }
  }
  EXPECT_EQ(lines[0]["verdict"], "block");
  EXPECT_EQ(lines[0]["group"], "kids");
  EXPECT_EQ(lines[0]["category"], "pornography");
  EXPECT_EQ(lines[0]["rule"], "0.0.0.0 adult.example");
  EXPECT_EQ(lines[0]["source"], (dir_.path() / "adult.txt").string() + ":1");
  EXPECT_EQ(lines[1]["verdict"], "allow");
  EXPECT_EQ(lines[2]["verdict"], "rewrite");
  EXPECT_EQ(lines[2]["rewrite_target"], "forcesafesearch.google.com");
}

TEST_F(SafegatectlTest, ExplainWithListsJudgesNamesAgainstThoseListsAlone) {
  const fs::path a = dir_.write("a.txt", "||ads.example^\n@@||ok.ads.example^\n");
  const fs::path b = dir_.write("b.txt", "0.0.0.0 tracker.example\n");
  const CommandResult r =
      runSafegatectl("explain --list '" + a.string() + "' --list '" + b.string() +
                     "' --json x.ads.example ok.ads.example tracker.example other.example");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto lines = jsonLines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0]["verdict"], "block");
  EXPECT_EQ(lines[0]["rule"], "||ads.example^");
  EXPECT_EQ(lines[1]["verdict"], "allow");
  EXPECT_EQ(lines[1]["rule"], "@@||ok.ads.example^");
  EXPECT_EQ(lines[2]["verdict"], "block");
  EXPECT_EQ(lines[3]["verdict"], "allow");
}

TEST_F(SafegatectlTest, ExplainReportsAnInvalidNameAndExplainsTheRest) {
  const fs::path a = dir_.write("a.txt", "bad.example\n");
  const CommandResult r =
      runSafegatectl("explain --list '" + a.string() + "' 'no spaces.example' bad.example");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("bad.example: block"), std::string::npos) << r.out;
}

TEST_F(SafegatectlTest, ConfigReferenceMatchesTheCommittedDocument) {
  const CommandResult r = runSafegatectl("config-reference");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, testing::readFile(testing::sourceDir() / "docs/config-reference.md"));
}

// ---- report and outbox (docs/hotline.md, docs/outbox.md) ----

class SafegatectlOutboxTest : public SafegatectlTest {
 protected:
  // A config with a licensed child-abuse list and the hotline on (or off).
  fs::path config(bool hotline_enabled) {
    dir_.write("licensed.txt", "abuse-listed.test\n");
    std::string text = "[daemon]\nstate_dir = \"" + dir_.path().string() +
                       "\"\n[[lists]]\nname = \"licensed\"\ncategory = \"child-abuse\"\n"
                       "sources = [\"licensed.txt\"]\n";
    text += "[hotline]\nenabled = " + std::string(hotline_enabled ? "true" : "false") +
            "\nendpoint = \"https://hotline.example/report\"\ndeployment_id = \"school-42\"\n";
    return dir_.write("safegate.toml", text);
  }
  OutboxStore store() {
    auto s = OutboxStore::open((dir_.path() / "outbox.sqlite").string(), OutboxOptions{});
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return std::move(s.value());
  }
};

TEST_F(SafegatectlOutboxTest, ReportIsRefusedWhileTheHotlineIsOff) {
  const fs::path cfg = config(false);
  const CommandResult r = runSafegatectl(
      "report http://bad.test/x --category child-abuse --config '" + cfg.string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("the hotline is off"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_.path() / "outbox.sqlite"));
}

TEST_F(SafegatectlOutboxTest, ReportIsQueuedAsAHotlineMessageWithoutTheChild) {
  const fs::path cfg = config(true);
  const CommandResult r = runSafegatectl(
      "report 'http://bad.test/x?y=1' --category child-abuse --reporter staff "
      "--note 'seen in class' --json --config '" +
      cfg.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto result = jsonLines(r.out);
  ASSERT_EQ(result.size(), 1u) << r.out;
  EXPECT_EQ(result[0]["queued"], true);
  OutboxStore s = store();
  auto pending = s.list({OutboxState::kPending}, 10);
  ASSERT_EQ(pending->size(), 1u);
  const OutboxMessage& m = pending->front();
  EXPECT_EQ(m.kind, "hotline-report");
  EXPECT_EQ(m.destination, "hotline");
  EXPECT_EQ(m.idempotency_key, result[0]["report_id"]);
  auto body = nlohmann::json::parse(m.payload);
  EXPECT_EQ(body["url"], "http://bad.test/x?y=1");
  EXPECT_EQ(body["report_id"], m.idempotency_key);
  EXPECT_EQ(body["source"]["deployment_id"], "school-42");

  const CommandResult listed = runSafegatectl("outbox --config '" + cfg.string() + "'");
  EXPECT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_NE(listed.out.find("1 pending, 0 dead"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("hotline-report"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("bad.test"), std::string::npos) << "payload shown:\n" << listed.out;
}

TEST_F(SafegatectlOutboxTest, AddressAlreadyOnALicensedListIsNotSentAndNotEchoed) {
  const fs::path cfg = config(true);
  const CommandResult r = runSafegatectl(
      "report http://www.abuse-listed.test/p --category "
      "child-abuse --config '" +
      cfg.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("already on a licensed list"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("licensed.txt"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("abuse-listed"), std::string::npos) << r.out;
  EXPECT_EQ(store().counts()->pending, 0);
}

TEST_F(SafegatectlOutboxTest, ReportWithAnUnknownCategoryOrBadUrlQueuesNothing) {
  const fs::path cfg = config(true);
  EXPECT_EQ(
      runSafegatectl("report http://x.test/ --category gambling --config '" + cfg.string() + "'")
          .exit_code,
      1);
  EXPECT_EQ(
      runSafegatectl("report 'ftp://x.test/' --category terrorism --config '" + cfg.string() + "'")
          .exit_code,
      1);
  EXPECT_EQ(store().counts()->pending, 0);
}

TEST_F(SafegatectlOutboxTest, OutboxRetryRevivesADeadMessageAndRefusesUnknownIds) {
  const fs::path cfg = config(true);
  int64_t id = 0;
  {
    OutboxStore s = store();
    id = s.enqueue({"alert", "lead", {}, "{}", 0}, 1'700'000'000'000).value();
    ASSERT_TRUE(s.markDead(id, "HTTP 401: bad token", 1'700'000'000'000).isOk());
  }
  const CommandResult dead =
      runSafegatectl("outbox --json --state dead --config '" + cfg.string() + "'");
  ASSERT_EQ(dead.exit_code, 0) << dead.out;
  auto rows = jsonLines(dead.out);
  ASSERT_EQ(rows.size(), 1u) << dead.out;
  EXPECT_EQ(rows[0]["last_error"], "HTTP 401: bad token");
  const CommandResult r =
      runSafegatectl("outbox retry " + std::to_string(id) + " --config '" + cfg.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(store().find(id).value()->state, OutboxState::kPending);
  EXPECT_EQ(runSafegatectl("outbox retry 999 --config '" + cfg.string() + "'").exit_code, 1);
}

}  // namespace
}  // namespace safegate::ui
