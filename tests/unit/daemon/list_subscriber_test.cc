// ListSubscriber against a real HTTPS server on 127.0.0.1: what is in force changes only when a
// new version downloaded whole and passed the gate; every failure keeps the last good copy and
// says why.
#include "daemon/lists/list_subscriber.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/https_test_server.h"
#include "tests/support/minisign_vectors.h"

namespace safegate {
namespace {

using testing::HttpsTestServer;
using testing::TestPki;

constexpr int64_t kNow = int64_t{1'800'000'000} * 1000;
constexpr int64_t kDay = int64_t{86'400'000};

class ListSubscriberTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    pki_ = new TestPki(dir_->path());
    ASSERT_TRUE(pki_->ok());
    std::filesystem::create_directory(dir_->path() / "files");
    server_ = new HttpsTestServer();
    ASSERT_TRUE(server_->start(*pki_, "server", false, (dir_->path() / "files").string()));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete pki_;
    delete dir_;
  }
  void SetUp() override { protected_.add("www.ox.ac.uk"); }
  static void publish(const std::string& name, const std::string& text) {
    std::ofstream(dir_->path() / "files" / name, std::ios::binary | std::ios::trunc) << text;
  }
  static std::string names(int n, const std::string& extra = {}) {
    std::string s = "# list\n" + extra;
    for (int i = 0; i < n; ++i) s += "site" + std::to_string(i) + ".example\n";
    return s;
  }
  SubscriptionSpec spec(const std::string& name, const std::string& path) {
    SubscriptionSpec s;
    s.name = name;
    s.url = server_->url(path);
    s.update_interval_ms = kDay;
    return s;
  }
  RefreshResult refresh(const SubscriptionSpec& s, int64_t now = kNow) {
    HttpClient client(listClientOptions(pki_->caFile(), 1 << 20, 3000));
    return ListSubscriber(store_, protected_).refresh(client, s, now);
  }
  std::string copy(const std::string& name) {
    std::ifstream in(store_.copyPath(name));
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  testing::TempDir state_;
  ListStore store_{state_.path() / "lists"};
  ProtectedNames protected_;
  static inline testing::TempDir* dir_ = nullptr;
  static inline TestPki* pki_ = nullptr;
  static inline HttpsTestServer* server_ = nullptr;
};

TEST_F(ListSubscriberTest, NewVersionIsKeptAndAnUnchangedOneCostsA304) {
  publish("one.txt", names(100));
  auto first = refresh(spec("one", "/files/one.txt"));
  EXPECT_EQ(first.outcome, RefreshOutcome::kUpdated) << first.record.last_error;
  EXPECT_EQ(copy("one"), names(100));
  EXPECT_EQ(first.record.entries, 100u);
  EXPECT_EQ(first.record.next_refresh_unix_ms, kNow + kDay);
  auto second = refresh(spec("one", "/files/one.txt"), kNow + kDay);
  EXPECT_EQ(second.outcome, RefreshOutcome::kUnchanged) << second.record.last_error;
  EXPECT_EQ(second.record.last_success_unix_ms, kNow + kDay);
  EXPECT_EQ(second.record.next_refresh_unix_ms, kNow + 2 * kDay);
}

TEST_F(ListSubscriberTest, FailedDownloadsKeepTheLastGoodCopyAndRetrySooner) {
  publish("two.txt", names(100));
  ASSERT_EQ(refresh(spec("two", "/files/two.txt")).outcome, RefreshOutcome::kUpdated);
  for (const char* path : {"/files/gone.txt", "/status/500", "/gzip-truncated/two.txt"}) {
    publish("two.txt", names(150));  // a newer version exists, but this download fails
    auto r = refresh(spec("two", path), kNow + 1000);
    EXPECT_EQ(r.outcome, RefreshOutcome::kFailed) << path;
    EXPECT_FALSE(r.record.last_error.empty()) << path;
    EXPECT_EQ(r.record.next_refresh_unix_ms, kNow + 1000 + 30 * 60 * 1000) << path;
    EXPECT_EQ(copy("two"), names(100)) << path;
  }
  auto record = store_.load("two");
  ASSERT_TRUE(record.isOk() && record->has_value());
  EXPECT_TRUE((*record)->good.has_value());
}

TEST_F(ListSubscriberTest, AVersionThatShrankPastTheGateIsRefused) {
  publish("three.txt", names(1000));
  ASSERT_EQ(refresh(spec("three", "/files/three.txt")).outcome, RefreshOutcome::kUpdated);
  publish("three.txt", names(300));  // the host published a third of the list
  auto r = refresh(spec("three", "/files/three.txt"), kNow + kDay);
  EXPECT_EQ(r.outcome, RefreshOutcome::kRefused);
  EXPECT_NE(r.record.last_error.find("300 entries against 1000"), std::string::npos)
      << r.record.last_error;
  EXPECT_EQ(copy("three"), names(1000));
  EXPECT_EQ(r.record.entries, 1000u);
}

TEST_F(ListSubscriberTest, EntriesThatWouldBlockAProtectedSiteAreQuarantinedNotApplied) {
  publish("four.txt", names(50, "ac.uk\n"));
  auto r = refresh(spec("four", "/files/four.txt"));
  ASSERT_EQ(r.outcome, RefreshOutcome::kUpdated) << r.record.last_error;
  ASSERT_EQ(r.record.quarantined.size(), 1u);
  EXPECT_EQ(r.record.quarantined[0].name, "ac.uk");
  EXPECT_EQ(r.record.quarantined[0].protects, "www.ox.ac.uk");
  EXPECT_EQ(copy("four"), names(50));  // the line is gone from what compiles
  EXPECT_EQ(r.record.entries, 50u);
}

namespace mv = testing::minisign;

TEST_F(ListSubscriberTest, ASignedListIsKeptWithItsSignerAndTrustedComment) {
  publish("signed.txt", std::string(mv::kList));
  publish("signed.txt.minisig", std::string(mv::kSignatureA));
  auto s = spec("signed", "/files/signed.txt");
  s.public_key = *parseMinisignPublicKey(mv::kPublicKeyA);
  auto r = refresh(s);
  ASSERT_EQ(r.outcome, RefreshOutcome::kUpdated) << r.record.last_error;
  ASSERT_TRUE(r.record.good);
  EXPECT_EQ(r.record.good->signed_by, "636FCDFC1415EF43");
  EXPECT_EQ(r.record.good->signed_comment, "timestamp:1796000000\tfile:list.txt\thashed");
  EXPECT_EQ(copy("signed"), mv::kList);
  // The record survives a reload from disk, signer included, and a 304 keeps it.
  auto loaded = store_.load("signed");
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ((**loaded).good->signed_by, "636FCDFC1415EF43");
  EXPECT_EQ(refresh(s, kNow + kDay).outcome, RefreshOutcome::kUnchanged);
}

TEST_F(ListSubscriberTest, MissingWrongKeyAndBadSignaturesKeepTheLastGoodCopy) {
  publish("guarded.txt", std::string(mv::kList));
  publish("guarded.txt.minisig", std::string(mv::kLegacySignatureA));
  auto s = spec("guarded", "/files/guarded.txt");
  s.public_key = *parseMinisignPublicKey(mv::kPublicKeyA);
  ASSERT_EQ(refresh(s).outcome, RefreshOutcome::kUpdated);

  struct Case {
    std::string list, signature, expect;
  } cases[] = {
      // the list was altered after signing: a name added
      {std::string(mv::kList) + "wikipedia.org\n", std::string(mv::kSignatureA),
       "signature does not match the list"},
      // signed, but by another key
      {std::string(mv::kList) + "\n", std::string(mv::kSignatureB), "key ID 01E0D6DA16B09D4D"},
      // the server returns an error page where the signature should be
      {std::string(mv::kList) + "\n\n", "<html>oops</html>", "not minisign's format"},
      // a hostile server streams an endless "signature": cut off at 16 KiB, not read whole
      {std::string(mv::kList) + "\n\n\n", std::string(1 << 20, '\n'),
       "response larger than 16384 bytes"},
  };
  int64_t now = kNow;
  for (const auto& c : cases) {
    now += kDay;
    publish("guarded.txt", c.list);
    publish("guarded.txt.minisig", c.signature);
    auto r = refresh(s, now);
    EXPECT_EQ(r.outcome, RefreshOutcome::kFailed) << c.expect;
    EXPECT_NE(r.record.last_error.find(c.expect), std::string::npos) << r.record.last_error;
    EXPECT_NE(r.record.last_error.find("guarded.txt.minisig"), std::string::npos);
    EXPECT_EQ(copy("guarded"), mv::kList);  // still the signed version
  }
  // No signature published at all.
  std::filesystem::remove(dir_->path() / "files" / "guarded.txt.minisig");
  publish("guarded.txt", names(10));
  auto r = refresh(s, now + kDay);
  EXPECT_EQ(r.outcome, RefreshOutcome::kFailed);
  EXPECT_NE(r.record.last_error.find("HTTP 404"), std::string::npos) << r.record.last_error;
  EXPECT_EQ(copy("guarded"), mv::kList);
}

TEST_F(ListSubscriberTest, AnUnsignedCopyIsDownloadedAgainOnceAKeyIsRequired) {
  publish("later.txt", std::string(mv::kList));
  auto s = spec("later", "/files/later.txt");
  ASSERT_EQ(refresh(s).outcome, RefreshOutcome::kUpdated);  // unsigned subscription
  // The operator adds public_key: the held copy is not signed, so no 304 may keep it; without
  // a signature the refresh fails, with one it is the same content, now signed.
  s.public_key = *parseMinisignPublicKey(mv::kPublicKeyA);
  auto unsigned_again = refresh(s, kNow + kDay);
  EXPECT_EQ(unsigned_again.outcome, RefreshOutcome::kFailed);
  publish("later.txt.minisig", std::string(mv::kSignatureA));
  auto r = refresh(s, kNow + 2 * kDay);
  ASSERT_NE(r.outcome, RefreshOutcome::kFailed) << r.record.last_error;
  ASSERT_TRUE(r.record.good);
  EXPECT_EQ(r.record.good->signed_by, "636FCDFC1415EF43");
}

}  // namespace
}  // namespace safegate
