// ListStore: the last good copy of each subscribed list and its record, in a real directory.
#include "daemon/lists/list_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

ListRecord record(const std::string& name, const std::string& text) {
  ListRecord r;
  r.name = name;
  r.url = "https://lists.example/" + name + ".txt";
  ListVersion v;
  v.etag = "\"abc\"";
  v.last_modified = "Sat, 05 Dec 2026 10:00:00 GMT";
  v.sha256 = sha256Hex(text);
  v.bytes = text.size();
  v.fetched_unix_ms = 1'800'000'000'000;
  r.good = v;
  r.copy_sha256 = v.sha256;
  r.entries = 2;
  r.last_success_unix_ms = v.fetched_unix_ms;
  r.last_attempt_unix_ms = v.fetched_unix_ms;
  r.next_refresh_unix_ms = v.fetched_unix_ms + 86'400'000;
  r.quarantined = {{3, "ac.uk", "www.ox.ac.uk"}};
  return r;
}

TEST(ListStoreTest, GoodCopyAndRecordRoundTrip) {
  testing::TempDir dir;
  ListStore store(dir.path() / "lists");
  EXPECT_FALSE(store.load("adult").value().has_value());  // nothing yet, no error
  const std::string text = "a.example\nb.example\n";
  ASSERT_TRUE(store.saveGood(record("adult", text), text).isOk());
  auto loaded = store.load("adult");
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  ASSERT_TRUE(loaded->has_value());
  const ListRecord& r = **loaded;
  ASSERT_TRUE(r.good);
  EXPECT_EQ(r.good->etag, "\"abc\"");
  EXPECT_EQ(r.good->sha256, sha256Hex(text));
  EXPECT_EQ(r.entries, 2u);
  ASSERT_EQ(r.quarantined.size(), 1u);
  EXPECT_EQ(r.quarantined[0].protects, "www.ox.ac.uk");
  std::ifstream copy(store.copyPath("adult"));
  std::string got((std::istreambuf_iterator<char>(copy)), {});
  EXPECT_EQ(got, text);
}

// A crash between writing the copy and the record (or a hand edit) must not pair a record
// with a copy it does not describe.
TEST(ListStoreTest, CopyThatDoesNotMatchItsRecordIsNotTrusted) {
  testing::TempDir dir;
  ListStore store(dir.path());
  const std::string text = "a.example\nb.example\n";
  ASSERT_TRUE(store.saveGood(record("adult", text), text).isOk());
  std::ofstream(store.copyPath("adult"), std::ios::trunc) << "half";
  auto r = store.load("adult");
  ASSERT_TRUE(r.isOk());
  ASSERT_TRUE(r->has_value());
  EXPECT_FALSE((*r)->good.has_value());
  EXPECT_NE((*r)->last_error.find("does not match"), std::string::npos) << (*r)->last_error;
  std::filesystem::remove(store.copyPath("adult"));
  r = store.load("adult");
  ASSERT_TRUE(r.isOk());
  EXPECT_NE((*r)->last_error.find("missing"), std::string::npos) << (*r)->last_error;
}

TEST(ListStoreTest, UnsafeNamesAndDamagedRecordsAreErrors) {
  testing::TempDir dir;
  ListStore store(dir.path());
  EXPECT_FALSE(ListStore::validName("../etc/passwd"));
  EXPECT_FALSE(ListStore::validName(".hidden"));
  EXPECT_FALSE(ListStore::validName("a b"));
  EXPECT_TRUE(ListStore::validName("ut1-adult_v2.0"));
  EXPECT_FALSE(store.saveRecord(record("../x", "")).isOk());
  dir.write("broken.json", "{\"version\": 1, \"entries\": \"many\"}");
  auto r = store.load("broken");
  EXPECT_FALSE(r.isOk());
  dir.write("future.json", "{\"version\": 2}");
  EXPECT_FALSE(store.load("future").isOk());
  // Numbers that are not integers in range are errors naming the field, never converted
  // (a double cast to an integer out of range is undefined behaviour; found by fuzzing).
  for (const char* bad :
       {"{\"version\": 1888888888888880000140}", "{\"version\": 1.5}",
        "{\"version\": 1, \"entries\": -3}", "{\"version\": 1, \"next_refresh_unix_ms\": 1e300}",
        "{\"version\": 1, \"good\": {\"bytes\": \"12\"}}",
        "{\"version\": 1, \"quarantined\": [{\"line\": 4294967296}]}",
        "{\"version\": 1, \"quarantined\": [7]}"}) {
    dir.write("odd.json", bad);
    auto odd = store.load("odd");
    ASSERT_FALSE(odd.isOk()) << bad;
    EXPECT_NE(odd.status().message().find("odd.json"), std::string::npos) << bad;
  }
  dir.write("fine.json", "{\"version\": 1, \"entries\": 18446744073709551615}");
  EXPECT_TRUE(store.load("fine").isOk());  // the largest uint64 is a valid count
  // A record is the list its file is named after, whatever name it holds: the name is what
  // the next save writes under (noticed writing the list_download fuzz target).
  dir.write("mine.json", "{\"version\": 1, \"name\": \"../elsewhere\", \"entries\": 3}");
  auto mine = store.load("mine");
  ASSERT_TRUE(mine.isOk() && mine->has_value());
  EXPECT_EQ((**mine).name, "mine");
  EXPECT_TRUE(store.saveRecord(**mine).isOk());
}

}  // namespace
}  // namespace safegate
