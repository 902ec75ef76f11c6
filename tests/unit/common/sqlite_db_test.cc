#include "common/sqlite_db.h"

#include <gtest/gtest.h>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

TEST(SqliteDbTest, EmptyTextIsBoundAsEmptyStringNotNull) {
  testing::TempDir dir;
  auto db = SqliteDb::open((dir.path() / "t.sqlite").string(), SqliteOpenOptions{});
  ASSERT_TRUE(db.isOk()) << db.status().toString();
  ASSERT_TRUE(db->exec("CREATE TABLE t (v TEXT NOT NULL)").isOk());
  auto insert = db->prepare("INSERT INTO t (v) VALUES (?1)");
  ASSERT_TRUE(insert.isOk());
  insert->bindText(1, std::string_view{});  // data() is null for a default string_view
  EXPECT_EQ(insert->step(), SqliteCode::kDone) << insert->lastError();
  EXPECT_EQ(db->queryInt("SELECT count(*) FROM t WHERE v = ''").value(), 1);
}

}  // namespace
}  // namespace safegate
