#include "daemon/store/incident_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/logger.h"
#include "common/sqlite_db.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using safegate::testing::TempDir;

IncidentStoreOptions optionsIn(const TempDir& dir) {
  IncidentStoreOptions o;
  o.database_path = dir.path() / "incidents.db";
  o.secret_file = dir.path() / "secret";
  o.batch_ms = 20;
  o.queue_capacity = 64;
  return o;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Events are stamped "now" by default: older ones would fall to retention (30 days).
IncidentEvent blockedEvent(std::string_view name, std::string_view category, bool confidential,
                           int64_t ts_ms = nowMs()) {
  RequestFacts f;
  f.client = *IpAddress::parse("192.168.1.20");
  f.name = name;
  f.dns_type = 1;
  Decision d;
  d.verdict = Verdict::kBlock;
  d.log = true;
  d.reason = DecisionReason::kCategory;
  d.group = "kids";
  d.category = category;
  d.rule = name;
  d.source_file = "lists/gambling.txt";
  d.source_line = 7;
  d.confidential = confidential;
  return IncidentEvent::fromDecision(f, d, ts_ms);
}

// Waits (bounded) until the writer reports `n` written rows.
bool waitWritten(IncidentStore& s, uint64_t n) {
  for (int i = 0; i < 500; ++i) {
    if (s.stats().written >= n) return true;
    s.flushSoon();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(IncidentStoreTest, WritesBlockedRequestWithEveryField) {
  TempDir dir;
  auto store = IncidentStore::open(optionsIn(dir));
  ASSERT_TRUE(store) << store.status().toString();
  (*store)->start();
  ASSERT_TRUE((*store)->record(blockedEvent("casino.example", "gambling", false)));
  ASSERT_TRUE(waitWritten(**store, 1));
  (*store)->stop();

  auto rows = queryIncidents(dir.path() / "incidents.db", IncidentFilter{});
  ASSERT_TRUE(rows) << rows.status().toString();
  ASSERT_EQ(rows->rows.size(), 1u);
  const StoredIncident& r = rows->rows.front();
  EXPECT_EQ(r.name, "casino.example");
  EXPECT_EQ(r.group, "kids");
  EXPECT_EQ(r.category, "gambling");
  EXPECT_EQ(r.verdict, "block");
  EXPECT_EQ(r.rule, "casino.example");
  EXPECT_EQ(r.source, "lists/gambling.txt:7");
  EXPECT_EQ(r.qtype, 1);
  EXPECT_EQ(r.protocol, "dns");
  EXPECT_GT(r.unix_ms, nowMs() - 60'000);
  // Pseudonymised: never the address itself.
  EXPECT_EQ(r.client.rfind("c-", 0), 0u);
  EXPECT_EQ(r.client.find("192.168"), std::string::npos);
}

TEST(IncidentStoreTest, ConfidentialCategoryStoresCategoryOnly) {
  TempDir dir;
  auto store = IncidentStore::open(optionsIn(dir));
  ASSERT_TRUE(store);
  (*store)->start();
  (*store)->record(blockedEvent("secret-entry.example", "child-abuse", true));
  ASSERT_TRUE(waitWritten(**store, 1));
  (*store)->stop();
  auto db = SqliteDb::open((dir.path() / "incidents.db").string(), {});
  ASSERT_TRUE(db);
  auto n = db->queryInt(
      "SELECT COUNT(*) FROM incidents WHERE name IS NULL AND rule IS NULL AND source IS NULL "
      "AND category='child-abuse'");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->value_or(0), 1);
  auto leaked = db->queryInt("SELECT COUNT(*) FROM incidents WHERE name LIKE '%secret-entry%'");
  EXPECT_EQ(leaked->value_or(-1), 0);
}

TEST(IncidentStoreTest, CountsPerHourGroupAndCategory) {
  TempDir dir;
  auto store = IncidentStore::open(optionsIn(dir));
  ASSERT_TRUE(store);
  (*store)->start();
  const int64_t hour_start = nowMs() / 3'600'000 * 3'600'000;
  for (int i = 0; i < 3; ++i) {
    (*store)->record(blockedEvent("a.example", "gambling", false, hour_start + i));
  }
  (*store)->record(blockedEvent("b.example", "gambling", false, hour_start + 3'600'000));
  ASSERT_TRUE(waitWritten(**store, 4));
  (*store)->stop();
  auto db = SqliteDb::open((dir.path() / "incidents.db").string(), {});
  auto rows = db->queryInt("SELECT COUNT(*) FROM hourly_counts");
  EXPECT_EQ(rows->value_or(0), 2);
  auto first = db->queryInt("SELECT count FROM hourly_counts ORDER BY hour LIMIT 1");
  EXPECT_EQ(first->value_or(0), 3);
}

TEST(IncidentStoreTest, FullQueueDropsAndCountsWithoutBlocking) {
  TempDir dir;
  auto o = optionsIn(dir);
  o.queue_capacity = 8;
  auto store = IncidentStore::open(o);
  ASSERT_TRUE(store);
  // Writer not started: nothing drains the queue.
  size_t accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += (*store)->record(blockedEvent("x.example", "g", false));
  EXPECT_EQ(accepted, 8u);
  EXPECT_EQ((*store)->stats().dropped_queue_full, 12u);
}

TEST(IncidentStoreTest, LockedDatabaseKeepsEventsUntilTheLockGoes) {
  TempDir dir;
  auto store = IncidentStore::open(optionsIn(dir));
  ASSERT_TRUE(store);
  // Another connection (as another process would) holds the write lock.
  auto locker = SqliteDb::open((dir.path() / "incidents.db").string(), {});
  ASSERT_TRUE(locker);
  ASSERT_TRUE(locker->exec("BEGIN IMMEDIATE"));
  (*store)->start();
  (*store)->record(blockedEvent("locked.example", "gambling", false));
  for (int i = 0; i < 200 && (*store)->stats().busy_retries < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE((*store)->stats().busy_retries, 2u);
  EXPECT_EQ((*store)->stats().written, 0u);
  ASSERT_TRUE(locker->exec("COMMIT"));
  ASSERT_TRUE(waitWritten(**store, 1));
  (*store)->stop();
  EXPECT_EQ((*store)->stats().dropped_queue_full, 0u);
}

// Fills the file system `dir` is on with one file; returns its path. Removing it frees the space.
std::filesystem::path fillDisk(const std::filesystem::path& dir) {
  const auto filler = dir / "filler";
  int fd = open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  std::string block(64 * 1024, 'x');
  while (write(fd, block.data(), block.size()) > 0) {
  }
  block.resize(512);  // the last few bytes too
  while (write(fd, block.data(), block.size()) > 0) {
  }
  close(fd);
  return filler;
}

template <typename Pred>
bool waitFor(Pred pred, IncidentStore& s) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    s.flushSoon();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

size_t countLines(const std::vector<std::string>& lines, std::string_view needle) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

// A full disk is logged once with its reason (not per batch), shown by
// health(), logged again when it recovers, and incidents thrown away at exit are counted in
// the log. A real full file system: a small tmpfs in a private mount namespace (root only; CI
// runs as root).
TEST(IncidentStoreTest, FullDiskIsLoggedOnceShownInHealthAndRecovers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  ASSERT_EQ(unshare(CLONE_NEWNS), 0) << strerror(errno);
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << strerror(errno);
  TempDir dir;
  ASSERT_EQ(mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=4m"), 0) << strerror(errno);
  std::mutex m;
  std::vector<std::string> lines;
  Logger::global().setSink([&](std::string_view line) {
    std::lock_guard<std::mutex> lock(m);
    lines.emplace_back(line);
  });
  auto logged = [&](std::string_view needle) {
    std::lock_guard<std::mutex> lock(m);
    return countLines(lines, needle);
  };

  IncidentStoreOptions o = optionsIn(dir);
  o.queue_capacity = 4096;
  auto store = IncidentStore::open(o);
  ASSERT_TRUE(store) << store.status().toString();
  IncidentStore& s = **store;
  s.start();
  ASSERT_TRUE(s.record(blockedEvent("first.example", "gambling", false)));
  ASSERT_TRUE(waitWritten(s, 1));
  EXPECT_TRUE(s.health().ok);

  auto filler = fillDisk(dir.path());
  // Rows until the WAL needs a page the disk does not have.
  std::string name(200, 'a');
  for (int i = 0; i < 2000 && s.health().ok; ++i) {
    name[i % name.size()] = static_cast<char>('a' + i % 26);
    s.record(blockedEvent(name + ".example", "gambling", false));
    if (i % 20 == 0) {
      s.flushSoon();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ASSERT_TRUE(waitFor([&] { return !s.health().ok; }, s));
  const IncidentStoreHealth h = s.health();
  EXPECT_GT(h.failing_since_ms, 0);
  EXPECT_NE(h.last_error.find("full"), std::string::npos) << h.last_error;
  // The writer keeps retrying every batch_ms; the log says it once.
  const uint64_t errors = s.stats().write_errors;
  ASSERT_TRUE(waitFor([&] { return s.stats().write_errors >= errors + 5; }, s));
  EXPECT_EQ(logged("cannot write to the incident database"), 1u);
  EXPECT_EQ(logged("still failing"), 0u);  // at most one summary a minute

  std::filesystem::remove(filler);
  ASSERT_TRUE(waitFor([&] { return s.health().ok; }, s)) << s.health().last_error;
  EXPECT_EQ(logged("incident database writable again"), 1u);
  EXPECT_EQ(s.stats().pending, 0u);

  // Full again at shutdown: what cannot be written is counted in the log, not silently lost.
  filler = fillDisk(dir.path());
  for (int i = 0; i < 300; ++i) s.record(blockedEvent(name + "-late.example", "gambling", false));
  s.stop();
  EXPECT_EQ(logged("incidents lost at shutdown"), 1u);
  Logger::global().setSink(nullptr);
  std::filesystem::remove(filler);
  umount2(dir.path().c_str(), MNT_DETACH);
}

TEST(IncidentStoreTest, RetentionDeletesOldRowsInChunks) {
  TempDir dir;
  auto o = optionsIn(dir);
  o.retention_days = 1;
  o.retention_chunk_rows = 2;
  o.retention_interval_ms = 0;
  auto store = IncidentStore::open(o);
  ASSERT_TRUE(store);
  (*store)->start();
  for (int i = 0; i < 5; ++i) (*store)->record(blockedEvent("old.example", "g", false, 1000 + i));
  ASSERT_TRUE(waitWritten(**store, 5));
  for (int i = 0; i < 500 && (*store)->stats().retention_deleted < 5; ++i) {
    (*store)->flushSoon();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*store)->stop();
  EXPECT_EQ((*store)->stats().retention_deleted, 5u);
  auto rows = queryIncidents(o.database_path, IncidentFilter{});
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->rows.empty());
}

TEST(IncidentStoreTest, SchemaVersionIsSetAndReopenIsIdempotent) {
  TempDir dir;
  { ASSERT_TRUE(IncidentStore::open(optionsIn(dir))); }
  { ASSERT_TRUE(IncidentStore::open(optionsIn(dir))); }
  auto db = SqliteDb::open((dir.path() / "incidents.db").string(), {});
  EXPECT_EQ(*db->userVersion(), kIncidentSchemaVersion);
}

TEST(IncidentStoreTest, RefusesDatabaseFromNewerVersion) {
  TempDir dir;
  {
    auto db = SqliteDb::open((dir.path() / "incidents.db").string(), {});
    ASSERT_TRUE(db->setUserVersion(kIncidentSchemaVersion + 1));
  }
  auto store = IncidentStore::open(optionsIn(dir));
  ASSERT_FALSE(store);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

TEST(PseudonymizerTest, SecretFileIsCreatedWithMode0600AndReused) {
  TempDir dir;
  auto p1 = Pseudonymizer::loadOrCreate(dir.path() / "secret");
  ASSERT_TRUE(p1) << p1.status().toString();
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto p2 = Pseudonymizer::loadOrCreate(dir.path() / "secret");
  ASSERT_TRUE(p2);
  EXPECT_EQ(p1->pseudonym("ip:192.0.2.1"), p2->pseudonym("ip:192.0.2.1"));
}

TEST(PseudonymizerTest, DifferentSecretsGiveDifferentPseudonyms) {
  std::array<uint8_t, 32> k1{}, k2{};
  k2[0] = 1;
  auto a = Pseudonymizer::withKey(k1).pseudonym("ip:192.0.2.1");
  auto b = Pseudonymizer::withKey(k2).pseudonym("ip:192.0.2.1");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 18u);
  EXPECT_NE(a, Pseudonymizer::withKey(k1).pseudonym("ip:192.0.2.2"));
}

TEST(PseudonymizerTest, RefusesSecretReadableByOthers) {
  TempDir dir;
  auto path = dir.write("secret", std::string(32, 'x'));
  ::chmod(path.c_str(), 0644);
  auto p = Pseudonymizer::loadOrCreate(path);
  ASSERT_FALSE(p);
  EXPECT_NE(p.status().message().find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace safegate
