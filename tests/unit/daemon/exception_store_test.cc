#include "daemon/control/exception_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using policy::ExceptionTable;
using policy::TemporaryException;
using testing::readFile;
using testing::TempDir;

constexpr int64_t kNow = 1'795'430'000;

TemporaryException nameException(const char* client, const char* name, int64_t until) {
  TemporaryException e;
  e.kind = TemporaryException::Kind::kName;
  e.scope = TemporaryException::Scope::kClient;
  e.client = *IpAddress::parse(client);
  e.name = name;
  e.created_unix_seconds = kNow - 60;
  e.until_unix_seconds = until;
  e.granted_by = "teacher";
  e.note = "reward: \"homework\" done";
  return e;
}

TemporaryException groupPause(const char* group, int64_t until) {
  TemporaryException e;
  e.kind = TemporaryException::Kind::kPause;
  e.scope = TemporaryException::Scope::kGroup;
  e.group = group;
  e.created_unix_seconds = kNow - 60;
  e.until_unix_seconds = until;
  e.granted_by = "admin";
  return e;
}

policy::ExceptionTablePtr tableWith(std::vector<TemporaryException> list) {
  policy::ExceptionTablePtr t = std::make_shared<ExceptionTable>();
  for (auto& e : list) t = *t->withAdded(std::move(e));
  return t;
}

std::vector<std::string> messages(const DiagnosticSink& d) {
  std::vector<std::string> out;
  for (const auto& x : d.all()) out.push_back(x.toString());
  return out;
}

TEST(ExceptionStoreTest, SavedExceptionsLoadBackWithTheirIdsAndFields) {
  TempDir dir;
  ExceptionStore store(dir.path() / "exceptions.json");
  auto t = tableWith(
      {nameException("192.168.1.20", "youtube.com", kNow + 3600), groupPause("staff", kNow + 600)});
  t = *t->withRemoved(1);  // ids are not reused after a restart: next_id is stored
  ASSERT_TRUE(store.save(*t));

  DiagnosticSink diags;
  ExceptionStore::Loaded loaded = store.load(kNow, diags);
  EXPECT_TRUE(diags.all().empty()) << ::testing::PrintToString(messages(diags));
  ASSERT_EQ(loaded.table->entries().size(), 1u);
  const TemporaryException& p = loaded.table->entries()[0];
  EXPECT_EQ(p.id, 2u);
  EXPECT_EQ(p.kind, TemporaryException::Kind::kPause);
  EXPECT_EQ(p.group, "staff");
  EXPECT_EQ(p.until_unix_seconds, kNow + 600);
  EXPECT_EQ(p.granted_by, "admin");
  EXPECT_EQ(loaded.table->nextId(), 3u);

  t = tableWith({nameException("2001:db8::7", "youtube.com", kNow + 3600)});
  ASSERT_TRUE(store.save(*t));
  loaded = store.load(kNow, diags);
  ASSERT_EQ(loaded.table->entries().size(), 1u);
  const TemporaryException& n = loaded.table->entries()[0];
  EXPECT_EQ(n.client, *IpAddress::parse("2001:db8::7"));
  EXPECT_EQ(n.name, "youtube.com");
  EXPECT_EQ(n.note, "reward: \"homework\" done");
  EXPECT_EQ(n.created_unix_seconds, kNow - 60);
}

TEST(ExceptionStoreTest, NoFileYetIsAnEmptyTableWithoutComplaint) {
  TempDir dir;
  DiagnosticSink diags;
  auto loaded = ExceptionStore(dir.path() / "exceptions.json").load(kNow, diags);
  EXPECT_TRUE(loaded.table->empty());
  EXPECT_TRUE(diags.all().empty());
}

TEST(ExceptionStoreTest, ExceptionsThatExpiredWhileStoppedAreDropped) {
  TempDir dir;
  ExceptionStore store(dir.path() / "exceptions.json");
  ASSERT_TRUE(store.save(*tableWith({nameException("192.168.1.20", "a.example", kNow + 10),
                                     nameException("192.168.1.21", "b.example", kNow)})));
  DiagnosticSink diags;
  auto loaded = store.load(kNow, diags);
  ASSERT_EQ(loaded.table->entries().size(), 1u);
  EXPECT_EQ(loaded.table->entries()[0].name, "a.example");
  EXPECT_EQ(loaded.expired_dropped, 1u);
  EXPECT_TRUE(diags.all().empty());
}

TEST(ExceptionStoreTest, SaveReplacesTheFileAtomicallyWithMode0640AndNoLeftovers) {
  TempDir dir;
  ExceptionStore store(dir.path() / "exceptions.json");
  ASSERT_TRUE(store.save(*tableWith({groupPause("kids", kNow + 60)})));
  ASSERT_TRUE(store.save(*tableWith({groupPause("teens", kNow + 60)})));
  struct stat st {};
  ASSERT_EQ(stat(store.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);  // the temporary file was renamed, not left behind
  EXPECT_NE(readFile(store.path()).find("\"teens\""), std::string::npos);
}

TEST(ExceptionStoreTest, SaveReportsThePathWhenItCannotWrite) {
  TempDir dir;
  ExceptionStore store(dir.path() / "missing-dir" / "exceptions.json");
  Status s = store.save(ExceptionTable());
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("missing-dir"), std::string::npos) << s.toString();
}

TEST(ExceptionStoreTest, InvalidJsonIsReportedWithLineAndColumnAndKeptAside) {
  TempDir dir;
  const auto path =
      dir.write("exceptions.json", "{\"version\": 1,\n \"exceptions\": [ {\"id\": }\n");
  DiagnosticSink diags;
  auto loaded = ExceptionStore(path).load(kNow, diags);
  EXPECT_TRUE(loaded.table->empty());
  ASSERT_TRUE(diags.hasErrors());
  const std::string first = diags.all()[0].toString();
  EXPECT_EQ(first.rfind(path.string() + ":2:", 0), 0u) << first;
  EXPECT_NE(first.find("not valid JSON"), std::string::npos) << first;
  // Nothing lost: the damaged file is still there under another name, with its content.
  ASSERT_FALSE(loaded.moved_aside.empty());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_NE(readFile(loaded.moved_aside).find("\"id\": }"), std::string::npos);
}

// A number no JSON type can hold is out_of_range, not a parse_error: it escaped the handler
// and ended the daemon at start (found by the exception_store fuzzer).
TEST(ExceptionStoreTest, NumberTooLargeForAnyTypeIsReportedAndKeptAside) {
  TempDir dir;
  const auto path =
      dir.write("exceptions.json", "{\"version\": 1, \"next_id\": 1e99999, \"exceptions\": []}\n");
  DiagnosticSink diags;
  auto loaded = ExceptionStore(path).load(kNow, diags);
  EXPECT_TRUE(loaded.table->empty());
  ASSERT_TRUE(diags.hasErrors());
  EXPECT_NE(diags.all()[0].toString().find("not valid JSON"), std::string::npos)
      << diags.all()[0].toString();
  EXPECT_FALSE(loaded.moved_aside.empty());
}

TEST(ExceptionStoreTest, InvalidEntriesAreDroppedWithTheirReasonAndTheRestKept) {
  TempDir dir;
  const auto path = dir.write("exceptions.json", R"({"version": 1, "next_id": 9, "exceptions": [
    {"id": 1, "kind": "category", "group": "kids", "category": "child-abuse",
     "created": 1795429000, "until": 1795439000, "granted_by": "x", "note": ""},
    {"id": 2, "kind": "name", "client": "not-an-ip", "name": "a.example",
     "created": 1795429000, "until": 1795439000, "granted_by": "x", "note": ""},
    {"id": 3, "kind": "name", "client": "192.168.1.5", "name": "ok.example",
     "created": 1795429000, "until": 1795439000, "granted_by": "x", "note": ""}
  ]})");
  DiagnosticSink diags;
  auto loaded = ExceptionStore(path).load(kNow, diags);
  ASSERT_EQ(loaded.table->entries().size(), 1u);
  EXPECT_EQ(loaded.table->entries()[0].id, 3u);
  EXPECT_EQ(loaded.table->nextId(), 9u);
  const auto all = messages(diags);
  ASSERT_GE(all.size(), 2u);
  EXPECT_NE(all[0].find("exceptions[0]: \"child-abuse\" is a licensed illegal-content"),
            std::string::npos)
      << all[0];
  EXPECT_NE(all[1].find("exceptions[1]: \"client\" is not an IP address"), std::string::npos)
      << all[1];
  EXPECT_FALSE(loaded.moved_aside.empty());
}

TEST(ExceptionStoreTest, UnknownVersionIsRefusedWithoutGuessing) {
  TempDir dir;
  const auto path = dir.write("exceptions.json", R"({"version": 2, "exceptions": []})");
  DiagnosticSink diags;
  auto loaded = ExceptionStore(path).load(kNow, diags);
  EXPECT_TRUE(loaded.table->empty());
  ASSERT_TRUE(diags.hasErrors());
  EXPECT_NE(diags.all()[0].message.find("version 2 not supported"), std::string::npos);
}

}  // namespace
}  // namespace safegate
