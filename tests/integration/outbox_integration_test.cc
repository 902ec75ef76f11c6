// The real safegated delivering hotline reports queued by the real safegatectl to a real HTTPS
// receiver on 127.0.0.1 (tests/support/https_test_server.py, which dedupes by Idempotency-Key
// as a hotline does): the bearer token and key arrive, a too-open token file stops the start,
// and a kill -9 in the middle of a delivery still ends with exactly one report at the receiver.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "common/outbox_store.h"
#include "daemon/reports/outbox_delivery.h"
#include "tests/integration/child_process.h"
#include "tests/support/https_test_server.h"
#include "tests/support/minisign_vectors.h"
#include "tests/support/shared_data.h"
#include "ui-helper/control_client.h"

namespace safegate {
namespace {

using testing::ChildProcess;
using testing::HttpsTestServer;
using testing::run;
using testing::TempDir;
using testing::TestPki;

std::string env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

class OutboxIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    safegated_ = env("SAFEGATED");
    ctl_ = env("SAFEGATECTL");
    ASSERT_FALSE(safegated_.empty()) << "SAFEGATED not set (run through ctest)";
    ASSERT_FALSE(ctl_.empty()) << "SAFEGATECTL not set (run through ctest)";
    pki_ = std::make_unique<TestPki>(dir_.path() / "pki");
    ASSERT_TRUE(pki_->ok());
    ASSERT_TRUE(server_.start(*pki_, "server"));
    token_ = dir_.write("hotline.token", "tok-123\n");
    ::chmod(token_.c_str(), 0600);
  }
  void TearDown() override { daemon_.kill(SIGKILL); }

  std::filesystem::path config(const std::string& path) {
    return dir_.write("safegate.toml",
                      "[daemon]\nstate_dir = \"" + (dir_.path() / "state").string() +
                          "\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n"
                          "[hotline]\nenabled = true\nendpoint = \"" +
                          server_.url(path) + "\"\nca_file = \"" + pki_->caFile() +
                          "\"\ntoken_file = \"" + token_.string() +
                          "\"\ndeployment_id = \"school-42\"\n");
  }
  bool startDaemon(const std::filesystem::path& cfg) {
    if (!daemon_.start({safegated_, "--config", cfg.string()}, log().string())) return false;
    return daemon_.waitForLine("safegated: ready", 15000).has_value();
  }
  std::filesystem::path log() const { return dir_.path() / "safegated.log"; }
  // Starts the daemon on `cfg` and waits for the reload that follows its first list download
  // (readiness from the log, woken by inotify). Returns the DNS port, "" on failure.
  std::string startAndWaitForListUpdate(const std::filesystem::path& cfg) {
    const std::string port = startForDns(cfg);
    if (port.empty() || !testing::waitForFileText(log(), "reload after a list update applied")) {
      return "";
    }
    return port;
  }
  // A config whose group "kids" (the default) has games.test blocked, plus `tail`.
  std::filesystem::path gamesConfig(const std::string& tail) {
    dir_.write("games.txt", "games.test\n");
    return dir_.write(
        "safegate.toml",
        "[daemon]\nstate_dir = \"" + (dir_.path() / "state").string() +
            "\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n"
            "[policy]\ndefault_group = \"kids\"\n"
            "[[lists]]\nname = \"games\"\ncategory = \"games\"\nsources = [\"games.txt\"]\n"
            "[[groups]]\nname = \"kids\"\nprofile = \"9-12\"\n"
            "[groups.categories]\ngames = \"block\"\n" +
            tail);
  }
  // Starts the daemon on `cfg`; the DNS port of its ready line, "" on failure.
  std::string startForDns(const std::filesystem::path& cfg) {
    if (!daemon_.start({safegated_, "--config", cfg.string()}, log().string())) return "";
    auto line = daemon_.waitForLine("safegated: ready", 15000);
    std::smatch m;
    if (!line || !std::regex_search(*line, m, std::regex("dns=127\\.0\\.0\\.1:(\\d+)"))) {
      return "";
    }
    return m[1];
  }
  std::string dig(const std::string& port, const std::string& name) {
    return run("dig @127.0.0.1 -p " + port + " +time=3 +tries=1 " + name + " 2>&1");
  }
  // The requests that reached `path`, waiting (bounded) for the first.
  std::vector<nlohmann::json> postsTo(const std::string& path) {
    std::vector<nlohmann::json> got;
    for (int i = 0; i < 1500 && got.empty(); ++i) {
      for (const auto& r : server_.requests()) {
        if (r["path"] == path) got.push_back(r);
      }
      if (got.empty()) usleep(20'000);
    }
    return got;
  }
  std::string report(const std::filesystem::path& cfg) {
    return run(ctl_ + " report http://bad.test/page --category child-abuse --json --config '" +
               cfg.string() + "' 2>&1");
  }
  // Requests carrying `key`, waiting (bounded) until at least `n` have arrived.
  std::vector<nlohmann::json> requestsWithKey(const std::string& key, size_t n) {
    std::vector<nlohmann::json> got;
    for (int i = 0; i < 1500; ++i) {
      got.clear();
      for (const auto& r : server_.requests()) {
        if (r["headers"].value("idempotency-key", "") == key) got.push_back(r);
      }
      if (got.size() >= n) break;
      usleep(20'000);
    }
    return got;
  }
  OutboxState stateOf(int64_t id) {
    auto s = OutboxStore::open((dir_.path() / "state/outbox.sqlite").string(), OutboxOptions{});
    if (!s) return OutboxState::kPending;
    auto m = s->find(id);
    return m && m.value() ? m.value()->state : OutboxState::kPending;
  }

  TempDir dir_;
  std::string safegated_, ctl_;
  std::unique_ptr<TestPki> pki_;
  HttpsTestServer server_;
  ChildProcess daemon_;
  std::filesystem::path token_;
};

TEST_F(OutboxIntegrationTest, QueuedReportIsDeliveredWithTokenKeyAndDeployment) {
  const auto cfg = config("/ok");
  ASSERT_TRUE(startDaemon(cfg)) << testing::readFile(log());
  const std::string out = report(cfg);
  auto result = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(result.is_object() && result.value("queued", false)) << out;
  const std::string key = result["report_id"];
  auto got = requestsWithKey(key, 1);
  ASSERT_EQ(got.size(), 1u) << testing::readFile(log());
  EXPECT_EQ(got[0]["headers"]["authorization"], "Bearer tok-123");
  EXPECT_EQ(got[0]["headers"]["x-safegate-deployment"], "school-42");
  auto body = nlohmann::json::parse(got[0]["body"].get<std::string>());
  EXPECT_EQ(body["url"], "http://bad.test/page");
  // What actually arrived is what docs/hotline-report.schema.json promises.
  const auto sent = dir_.write("sent.jsonl", got[0]["body"].get<std::string>() + "\n");
  const std::string verdict =
      run("/usr/bin/python3 '" +
          (testing::sourceDir() / "tests/support/validate_json_schema.py").string() + "' '" +
          (testing::sourceDir() / "docs/hotline-report.schema.json").string() + "' < '" +
          sent.string() + "' 2>&1 && echo schema-ok");
  EXPECT_NE(verdict.find("schema-ok"), std::string::npos) << verdict;
  for (int i = 0; i < 500 && stateOf(result["id"]) != OutboxState::kDelivered; ++i) usleep(20'000);
  EXPECT_EQ(stateOf(result["id"]), OutboxState::kDelivered);

  // The operator sees it in `safegatectl status` and `stats`.
  const std::string sock = (dir_.path() / "state/control.sock").string();
  auto status =
      nlohmann::json::parse(run(ctl_ + " status --json --socket '" + sock + "'"), nullptr, false);
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["outbox"]["delivered"], 1);
  EXPECT_EQ(status["outbox"]["pending"], 0);
  auto stats =
      nlohmann::json::parse(run(ctl_ + " stats --json --socket '" + sock + "'"), nullptr, false);
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(stats["outbox"]["delivered"], 1);
}

TEST_F(OutboxIntegrationTest, TokenFileReadableByOthersStopsTheStartWithTheReason) {
  ::chmod(token_.c_str(), 0644);
  const auto cfg = config("/ok");
  ASSERT_TRUE(daemon_.start({safegated_, "--config", cfg.string()}, log().string()));
  EXPECT_NE(daemon_.wait(), 0);
  const std::string err = testing::readFile(log());
  EXPECT_NE(err.find("hotline.token_file"), std::string::npos) << err;
  EXPECT_NE(err.find("mode 0644"), std::string::npos) << err;
}

TEST_F(OutboxIntegrationTest, KillDuringADeliveryStillLeavesExactlyOneReportAtTheReceiver) {
  // The receiver records the report at once and answers only after 3 s: safegated is killed
  // while it waits, so the report is still pending in the outbox when it comes back.
  const auto cfg = config("/slow-ok/3");
  ASSERT_TRUE(startDaemon(cfg)) << testing::readFile(log());
  auto result = nlohmann::json::parse(report(cfg), nullptr, false);
  ASSERT_TRUE(result.is_object() && result.value("queued", false));
  const std::string key = result["report_id"];
  ASSERT_EQ(requestsWithKey(key, 1).size(), 1u) << testing::readFile(log());
  daemon_.kill(SIGKILL);
  EXPECT_EQ(stateOf(result["id"]), OutboxState::kPending);

  ASSERT_TRUE(startDaemon(cfg)) << testing::readFile(log());
  auto got = requestsWithKey(key, 2);
  ASSERT_EQ(got.size(), 2u) << testing::readFile(log());
  EXPECT_FALSE(got[0]["duplicate"].get<bool>());
  EXPECT_TRUE(got[1]["duplicate"].get<bool>());  // the receiver dropped the resend
  for (int i = 0; i < 500 && stateOf(result["id"]) != OutboxState::kDelivered; ++i) usleep(20'000);
  EXPECT_EQ(stateOf(result["id"]), OutboxState::kDelivered);
}

TEST_F(OutboxIntegrationTest, AlertingIncidentFromARealDigReachesTheLeadsSignedWebhook) {
  dir_.write("selfharm.txt", "selfharm.test\n");
  const auto secret = dir_.write("webhook.secret", "shared-with-the-receiver\n");
  ::chmod(secret.c_str(), 0600);
  const auto cfg = dir_.write(
      "safegate.toml",
      "[daemon]\nstate_dir = \"" + (dir_.path() / "state").string() +
          "\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n"
          "[policy]\ndefault_group = \"kids\"\n"
          "[[lists]]\nname = \"selfharm\"\ncategory = \"self-harm\"\nsources = [\"selfharm.txt\"]\n"
          "[[groups]]\nname = \"kids\"\nprofile = \"9-12\"\n"
          "[groups.categories]\n\"self-harm\" = \"alert-block\"\n"
          "[[alerts]]\nname = \"lead\"\nkind = \"webhook\"\nurl = \"" +
          server_.url("/ok") + "\"\nca_file = \"" + pki_->caFile() + "\"\nsecret_file = \"" +
          secret.string() + "\"\nbatch_seconds = 0\n");
  const std::string port = startForDns(cfg);
  ASSERT_FALSE(port.empty()) << testing::readFile(log());
  const std::string answer = dig(port, "selfharm.test");
  ASSERT_NE(answer.find("NXDOMAIN"), std::string::npos) << answer;

  auto got = postsTo("/ok");
  ASSERT_EQ(got.size(), 1u) << testing::readFile(log());
  ASSERT_TRUE(got[0]["headers"].contains("x-safegate-signature")) << got[0].dump();
  const std::string body = got[0]["body"];
  EXPECT_EQ(got[0]["headers"]["x-safegate-signature"],
            "sha256=" + hmacSha256Hex("shared-with-the-receiver", body));
  auto j = nlohmann::json::parse(body);
  ASSERT_EQ(j["alerts"].size(), 1u);
  EXPECT_EQ(j["alerts"][0]["category"], "self-harm");
  EXPECT_EQ(j["alerts"][0]["action"], "alert-block");
  EXPECT_EQ(j["alerts"][0]["name"], "selfharm.test");
  EXPECT_EQ(j["alerts"][0]["device_named"], false);  // a pseudonym, never the address
  EXPECT_EQ(body.find("127.0.0.1"), std::string::npos) << body;
}

// Incident export (actions = ["block"]): a plain block from a real dig reaches the district's
// collector, naming the device as its [[clients]] entry does.
TEST_F(OutboxIntegrationTest, EveryBlockIsExportedToADestinationThatAsksForIt) {
  const auto cfg = gamesConfig(
      "[[clients]]\nname = \"Sam's tablet\"\ngroup = \"kids\"\naddresses = [\"127.0.0.1\"]\n"
      "[[alerts]]\nname = \"district\"\nkind = \"webhook\"\nurl = \"" +
      server_.url("/ok") + "\"\nca_file = \"" + pki_->caFile() +
      "\"\nactions = [\"block\"]\nbatch_seconds = 0\nrate_limit_minutes = 0\n");
  const std::string port = startForDns(cfg);
  ASSERT_FALSE(port.empty()) << testing::readFile(log());
  const std::string answer = dig(port, "games.test");
  ASSERT_NE(answer.find("NXDOMAIN"), std::string::npos) << answer;

  auto got = postsTo("/ok");
  ASSERT_EQ(got.size(), 1u) << testing::readFile(log());
  auto j = nlohmann::json::parse(got[0]["body"].get<std::string>());
  ASSERT_EQ(j["alerts"].size(), 1u) << j.dump();
  EXPECT_EQ(j["alerts"][0]["action"], "block");
  EXPECT_EQ(j["alerts"][0]["category"], "games");
  EXPECT_EQ(j["alerts"][0]["name"], "games.test");
  EXPECT_EQ(j["alerts"][0]["device"], "Sam's tablet");
  EXPECT_EQ(j["alerts"][0]["device_named"], true);
}

// A child's access request (as the block page files it) reaches the lead's webhook at once: the
// page and the device's pseudonym, never the address or the child's words.
TEST_F(OutboxIntegrationTest, AChildsAccessRequestIsToldToTheLeadsWebhook) {
  const auto cfg =
      gamesConfig("[[alerts]]\nname = \"lead\"\nkind = \"webhook\"\nurl = \"" + server_.url("/ok") +
                  "\"\nca_file = \"" + pki_->caFile() + "\"\nbatch_seconds = 3600\n");
  ASSERT_TRUE(startDaemon(cfg)) << testing::readFile(log());
  auto added = ui::controlCall((dir_.path() / "state/control.sock").string(),
                               {{"v", 1},
                                {"id", 1},
                                {"cmd", "requests.add"},
                                {"client", "127.0.0.1"},
                                {"kind", "access"},
                                {"name", "games.test"},
                                {"reason", "homework about board games"}});
  ASSERT_TRUE(added && added->ok) << (added ? added->error : added.status().message());
  ASSERT_EQ(added->result["status"], "added") << added->result.dump();

  auto got = postsTo("/ok");
  ASSERT_EQ(got.size(), 1u) << testing::readFile(log());
  const std::string body = got[0]["body"];
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["type"], "safegate.request");
  EXPECT_EQ(j["kind"], "access");
  EXPECT_EQ(j["request"], added->result["request"]["id"]);
  EXPECT_EQ(j["name"], "games.test");
  EXPECT_EQ(j["category"], "games");
  EXPECT_EQ(j["group"], "kids");
  EXPECT_EQ(j["device_named"], false);
  EXPECT_EQ(j["reason_given"], true);
  EXPECT_EQ(body.find("127.0.0.1"), std::string::npos) << body;
  EXPECT_EQ(body.find("board games"), std::string::npos) << body;
}

// A list subscribed over HTTPS. The daemon is ready before the download (start-up
// never waits for the network), downloads in the background, keeps the copy under
// state_dir/lists, reloads, and a real dig is then blocked; `safegatectl lists` shows it.
TEST_F(OutboxIntegrationTest, SubscribedListIsDownloadedKeptAndEnforced) {
  std::filesystem::create_directory(dir_.path() / "files");
  dir_.write("files/gambling.txt", "# a subscribed list\ncasino.test\npoker.test\n");
  HttpsTestServer lists;
  ASSERT_TRUE(lists.start(*pki_, "server", false, (dir_.path() / "files").string()));
  const auto cfg =
      dir_.write("safegate.toml",
                 "[daemon]\nstate_dir = \"" + (dir_.path() / "state").string() +
                     "\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n"
                     "[policy]\ndefault_group = \"kids\"\n"
                     "[[lists]]\nname = \"gambling\"\ncategory = \"gambling\"\nsources = [\"" +
                     lists.url("/files/gambling.txt") + "\"]\nca_file = \"" + pki_->caFile() +
                     "\"\n[[groups]]\nname = \"kids\"\nprofile = \"9-12\"\n");
  const std::string port = startAndWaitForListUpdate(cfg);
  ASSERT_FALSE(port.empty()) << testing::readFile(log());
  const std::string answer = run("dig @127.0.0.1 -p " + port + " +time=3 +tries=1 poker.test 2>&1");
  EXPECT_NE(answer.find("NXDOMAIN"), std::string::npos) << answer;
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "state/lists/gambling.list"));

  const std::string shown = run(ctl_ + " lists --json --socket '" +
                                (dir_.path() / "state/control.sock").string() + "' 2>&1");
  auto row = nlohmann::json::parse(shown, nullptr, false);
  ASSERT_TRUE(row.is_object()) << shown;
  EXPECT_EQ(row["name"], "gambling");
  EXPECT_EQ(row["entries"], 2);
  EXPECT_EQ(row["last_error"], "");
  EXPECT_FALSE(row["version"].get<std::string>().empty()) << shown;
}

// A subscription that cannot be downloaded is told to the IT contact's webhook (a list
// notice, docs/alerts.md) — the destination takes no incident alerts (actions = []).
TEST_F(OutboxIntegrationTest, AListThatCannotBeDownloadedIsToldToTheAlertDestination) {
  std::filesystem::create_directory(dir_.path() / "files");
  HttpsTestServer lists;
  ASSERT_TRUE(lists.start(*pki_, "server", false, (dir_.path() / "files").string()));
  const auto cfg = dir_.write(
      "safegate.toml",
      "[daemon]\nstate_dir = \"" + (dir_.path() / "state").string() +
          "\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n"
          "[[lists]]\nname = \"gambling\"\ncategory = \"gambling\"\nsources = [\"" +
          lists.url("/files/missing.txt") + "\"]\nca_file = \"" + pki_->caFile() +
          "\"\n[[alerts]]\nname = \"it\"\nkind = \"webhook\"\nurl = \"" + server_.url("/ok") +
          "\"\nca_file = \"" + pki_->caFile() + "\"\nactions = []\n");
  ASSERT_TRUE(startDaemon(cfg)) << testing::readFile(log());
  auto got = postsTo("/ok");
  ASSERT_EQ(got.size(), 1u) << testing::readFile(log());
  auto j = nlohmann::json::parse(got[0]["body"].get<std::string>());
  EXPECT_EQ(j["type"], "safegate.list");
  EXPECT_EQ(j["list"], "gambling");
  EXPECT_EQ(j["event"], "failed");
  EXPECT_EQ(j["in_force"], false);
  EXPECT_NE(j["error"].get<std::string>().find("404"), std::string::npos) << j.dump();
}

// lists[].public_key through the real daemon: the signed list is enforced; a list altered after
// signing is not, and `safegatectl lists` says why and by whom the other is signed.
TEST_F(OutboxIntegrationTest, OnlyListsWithAGoodSignatureAreEnforced) {
  namespace mv = testing::minisign;
  std::filesystem::create_directory(dir_.path() / "files");
  dir_.write("files/signed.txt", std::string(mv::kList));
  dir_.write("files/signed.txt.minisig", std::string(mv::kSignatureA));
  dir_.write("files/tampered.txt", std::string(mv::kList) + "tampered.test\n");
  dir_.write("files/tampered.txt.minisig", std::string(mv::kSignatureA));
  HttpsTestServer lists;
  ASSERT_TRUE(lists.start(*pki_, "server", false, (dir_.path() / "files").string()));
  auto list = [&](const std::string& name, const std::string& category) {
    return "[[lists]]\nname = \"" + name + "\"\ncategory = \"" + category + "\"\nsources = [\"" +
           lists.url("/files/" + name + ".txt") + "\"]\nca_file = \"" + pki_->caFile() +
           "\"\npublic_key = \"" + std::string(mv::kPublicKeyA) + "\"\n";
  };
  const auto cfg = dir_.write(
      "safegate.toml", "[daemon]\nstate_dir = \"" + (dir_.path() / "state").string() +
                           "\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n"
                           "[policy]\ndefault_group = \"kids\"\n" +
                           list("signed", "gambling") + list("tampered", "pornography") +
                           "[[groups]]\nname = \"kids\"\nprofile = \"9-12\"\n");
  // Both lists are tried in one pass, then the daemon reloads.
  const std::string port = startAndWaitForListUpdate(cfg);
  ASSERT_FALSE(port.empty()) << testing::readFile(log());
  const std::string dig = "dig @127.0.0.1 -p " + port + " +time=3 +tries=1 ";
  EXPECT_NE(run(dig + "signed-two.example 2>&1").find("NXDOMAIN"), std::string::npos);
  EXPECT_EQ(run(dig + "tampered.test 2>&1").find("NXDOMAIN"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "state/lists/tampered.list"));

  const std::string shown = run(ctl_ + " lists --json --socket '" +
                                (dir_.path() / "state/control.sock").string() + "' 2>&1");
  std::map<std::string, nlohmann::json> rows;
  std::istringstream in(shown);
  for (std::string row; std::getline(in, row);) {
    auto j = nlohmann::json::parse(row, nullptr, false);
    ASSERT_TRUE(j.is_object()) << shown;
    rows[j["name"]] = j;
  }
  ASSERT_EQ(rows.size(), 2u) << shown;
  EXPECT_EQ(rows["signed"]["signed_by"], "636FCDFC1415EF43");
  EXPECT_EQ(rows["signed"]["entries"], 3);
  EXPECT_NE(
      rows["tampered"]["last_error"].get<std::string>().find("signature does not match the list"),
      std::string::npos)
      << shown;
  EXPECT_EQ(rows["tampered"]["entries"], 0);
}

}  // namespace
}  // namespace safegate
