// fetchList against a real HTTPS server on 127.0.0.1 (tests/support/https_test_server.py with
// --files): a first download with its version, a 304 for an unchanged list, the HTTP errors a
// list host gives, the size cap, a truncated gzip body, redirects, a pinned digest, a server
// that hangs and one whose certificate does not verify. Nothing here may return bytes that are
// not the whole list.
#include "daemon/lists/list_fetcher.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/https_test_server.h"

namespace safegate {
namespace {

using testing::HttpsTestServer;
using testing::TestPki;

constexpr int64_t kNow = int64_t{1'800'000'000} * 1000;

class ListFetcherTest : public ::testing::Test {
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
  static void publish(const std::string& name, const std::string& text) {
    std::ofstream(dir_->path() / "files" / name, std::ios::binary | std::ios::trunc) << text;
  }
  static std::string manyNames(int n) {
    std::string s = "# a list\n";
    for (int i = 0; i < n; ++i) s += "site" + std::to_string(i) + ".example\n";
    return s;
  }
  Result<ListFetchResult> fetch(const std::string& path, const ListVersion* held = nullptr,
                                uint64_t max_bytes = 1 << 20, int timeout_ms = 5000,
                                const std::string& sha256 = {}) {
    HttpClient client(listClientOptions(pki_->caFile(), max_bytes, timeout_ms));
    return fetchList(client, {server_->url(path), sha256, held}, kNow);
  }

  static inline testing::TempDir* dir_ = nullptr;
  static inline TestPki* pki_ = nullptr;
  static inline HttpsTestServer* server_ = nullptr;
};

TEST_F(ListFetcherTest, FirstDownloadCarriesItsVersionAndAnUnchangedListIsA304) {
  const std::string text = manyNames(100);
  publish("a.txt", text);
  auto first = fetch("/files/a.txt");
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_FALSE(first->not_modified);
  EXPECT_EQ(first->body, text);
  EXPECT_EQ(first->version.sha256, sha256Hex(text));
  EXPECT_EQ(first->version.etag, "\"" + sha256Hex(text) + "\"");
  EXPECT_FALSE(first->version.last_modified.empty());
  EXPECT_EQ(first->version.bytes, text.size());

  auto again = fetch("/files/a.txt", &first->version);
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  EXPECT_TRUE(again->not_modified);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(again->version.sha256, first->version.sha256);

  publish("a.txt", manyNames(101));
  auto changed = fetch("/files/a.txt", &first->version);
  ASSERT_TRUE(changed.isOk()) << changed.status().toString();
  EXPECT_FALSE(changed->not_modified);
  EXPECT_EQ(changed->body, manyNames(101));
}

TEST_F(ListFetcherTest, HttpErrorsAreErrorsThatNameTheUrlAndStatus) {
  auto missing = fetch("/files/nothing-here.txt");
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("/files/nothing-here.txt: HTTP 404"), std::string::npos)
      << missing.status().toString();
  auto broken = fetch("/status/500");
  ASSERT_FALSE(broken.isOk());
  EXPECT_NE(broken.status().message().find("HTTP 500"), std::string::npos);
  // A token in the query never reaches the error (it goes to `safegatectl lists`, the log and
  // list notices to alert destinations).
  auto tokened = fetch("/files/nothing-here.txt?token=s3cret");
  ASSERT_FALSE(tokened.isOk());
  EXPECT_EQ(tokened.status().message().find("s3cret"), std::string::npos)
      << tokened.status().toString();
  EXPECT_NE(tokened.status().message().find("/files/nothing-here.txt: HTTP 404"),
            std::string::npos);
}

TEST(ListFetcherUrlTest, UrlsInMessagesLoseTheirQueryFragmentAndCredentials) {
  EXPECT_EQ(redactedUrl("https://lists.example/a.txt?key=1#x"), "https://lists.example/a.txt");
  EXPECT_EQ(redactedUrl("https://user:pw@lists.example/a.txt"), "https://lists.example/a.txt");
  EXPECT_EQ(redactedUrl("https://user:pw@lists.example"), "https://lists.example");
  EXPECT_EQ(redactedUrl("https://lists.example/p@th/a.txt"), "https://lists.example/p@th/a.txt");
  EXPECT_EQ(redactedUrl("https://lists.example/a.txt"), "https://lists.example/a.txt");
}

TEST_F(ListFetcherTest, ListOverItsSizeCapIsRefusedWhileStreaming) {
  publish("big.txt", manyNames(5000));
  auto r = fetch("/files/big.txt", nullptr, /*max_bytes=*/10'000);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("larger than 10000 bytes"), std::string::npos)
      << r.status().toString();
}

TEST_F(ListFetcherTest, GzipIsDecodedAndATruncatedGzipBodyIsAnError) {
  const std::string text = manyNames(2000);
  publish("z.txt", text);
  auto whole = fetch("/gzip/z.txt");
  ASSERT_TRUE(whole.isOk()) << whole.status().toString();
  EXPECT_EQ(whole->body, text);
  // The size cap applies to the decoded list (a small gzip cannot expand past it).
  auto capped = fetch("/gzip/z.txt", nullptr, /*max_bytes=*/text.size() - 1);
  ASSERT_FALSE(capped.isOk());
  EXPECT_NE(capped.status().message().find("bytes decoded"), std::string::npos)
      << capped.status().toString();
  // libcurl's own decoder returned the first half of this as if it were the list.
  auto cut = fetch("/gzip-truncated/z.txt");
  ASSERT_FALSE(cut.isOk()) << "a truncated list must never be used";
  EXPECT_NE(cut.status().message().find("truncated download"), std::string::npos)
      << cut.status().toString();
}

TEST_F(ListFetcherTest, RedirectsAreFollowedUpToThree) {
  publish("r.txt", manyNames(10));
  auto ok = fetch("/redirect/2/r.txt");
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->body, manyNames(10));
  EXPECT_FALSE(fetch("/redirect/5/r.txt").isOk());
}

TEST_F(ListFetcherTest, PinnedDigestRefusesOtherContent) {
  publish("p.txt", manyNames(10));
  auto good = fetch("/files/p.txt", nullptr, 1 << 20, 5000, sha256Hex(manyNames(10)));
  EXPECT_TRUE(good.isOk()) << good.status().toString();
  auto bad = fetch("/files/p.txt", nullptr, 1 << 20, 5000, sha256Hex("something else"));
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("lists[].sha256"), std::string::npos);
}

TEST_F(ListFetcherTest, HangingServerTimesOutAndAnEmptyListIsRefused) {
  auto slow = fetch("/hang", nullptr, 1 << 20, /*timeout_ms=*/1000);
  ASSERT_FALSE(slow.isOk());
  EXPECT_NE(slow.status().message().find("timed out"), std::string::npos)
      << slow.status().toString();
  publish("empty.txt", "");
  auto empty = fetch("/files/empty.txt");
  ASSERT_FALSE(empty.isOk());
  EXPECT_NE(empty.status().message().find("empty list"), std::string::npos);
}

TEST_F(ListFetcherTest, ServerWithAnotherCasCertificateGetsNoTrust) {
  HttpClient client(listClientOptions(pki_->otherCaFile(), 1 << 20, 5000));
  publish("t.txt", manyNames(3));
  auto r = fetchList(client, {server_->url("/files/t.txt"), {}, nullptr}, kNow);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(client.failure(), HttpFailure::kTls);
}

TEST(ListFetcherUrlTest, SignatureUrlIsNextToTheListEvenWithAQueryOrAtTheRoot) {
  EXPECT_EQ(signatureUrl("https://l.example/a/list.txt"), "https://l.example/a/list.txt.minisig");
  EXPECT_EQ(signatureUrl("https://l.example/list.txt?v=2"),
            "https://l.example/list.txt.minisig?v=2");
  EXPECT_EQ(signatureUrl("https://l.example/list#x"), "https://l.example/list.minisig#x");
  EXPECT_EQ(signatureUrl("https://l.example"), "https://l.example/.minisig");
  EXPECT_EQ(signatureUrl("https://l.example?x=1"), "https://l.example/.minisig?x=1");
}

}  // namespace
}  // namespace safegate
