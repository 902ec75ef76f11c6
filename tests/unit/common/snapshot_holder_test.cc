#include "common/snapshot_holder.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace safegate {
namespace {

// A snapshot big enough that a torn copy would show: every field must equal `version`.
struct Policy {
  explicit Policy(uint64_t v) : version(v) { fields.fill(v); }
  uint64_t version;
  std::array<uint64_t, 64> fields{};
  std::string name = "policy";
  bool consistent() const {
    for (uint64_t f : fields) {
      if (f != version) return false;
    }
    return name == "policy";
  }
};

TEST(SnapshotHolderTest, ReaderSeesInitialSnapshotAndThenEachPublishedOne) {
  SnapshotHolder<Policy> holder(std::make_shared<const Policy>(1));
  auto reader = holder.reader();
  EXPECT_EQ(reader.current()->version, 1u);
  EXPECT_EQ(holder.generation(), 0u);
  holder.publish(std::make_shared<const Policy>(2));
  EXPECT_EQ(holder.generation(), 1u);
  EXPECT_EQ(reader.current()->version, 2u);
  EXPECT_EQ(reader.generation(), 1u);
  EXPECT_EQ(holder.get()->version, 2u);
}

TEST(SnapshotHolderTest, ReaderDoesNotRefreshWhenNothingWasPublished) {
  SnapshotHolder<Policy> holder(std::make_shared<const Policy>(1));
  auto reader = holder.reader();
  const uint64_t after_construction = reader.refreshCount();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(reader.current()->version, 1u);
  EXPECT_EQ(reader.refreshCount(), after_construction);
  holder.publish(std::make_shared<const Policy>(2));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(reader.current()->version, 2u);
  EXPECT_EQ(reader.refreshCount(), after_construction + 1);
}

TEST(SnapshotHolderTest, EmptyHolderGivesNullUntilFirstPublish) {
  SnapshotHolder<Policy> holder;
  auto reader = holder.reader();
  EXPECT_EQ(reader.current(), nullptr);
  holder.publish(std::make_shared<const Policy>(7));
  ASSERT_NE(reader.current(), nullptr);
  EXPECT_EQ(reader.current()->version, 7u);
}

TEST(SnapshotHolderTest, OldSnapshotDiesWhenItsLastReaderRefreshes) {
  auto first = std::make_shared<const Policy>(1);
  std::weak_ptr<const Policy> watch = first;
  SnapshotHolder<Policy> holder(std::move(first));
  auto reader = holder.reader();
  ASSERT_EQ(reader.current()->version, 1u);
  holder.publish(std::make_shared<const Policy>(2));
  EXPECT_FALSE(watch.expired());  // the reader still holds it: its request may be in flight
  ASSERT_EQ(reader.current()->version, 2u);
  EXPECT_TRUE(watch.expired());
}

// Several readers hammer current() while a writer publishes; every snapshot a reader sees is
// complete (all fields agree) and versions never go backwards for one reader.
TEST(SnapshotHolderTest, ConcurrentReadersNeverObserveHalfAppliedOrOlderSnapshots) {
  SnapshotHolder<Policy> holder(std::make_shared<const Policy>(0));
  constexpr uint64_t kPublishes = 2000;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> torn{0};
  std::atomic<uint64_t> backwards{0};
  std::atomic<uint64_t> reads{0};
  std::atomic<int> reading{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      auto reader = holder.reader();
      uint64_t last = 0;
      uint64_t n = 0;
      (void)reader.current();
      reading.fetch_add(1);
      while (!stop.load(std::memory_order_relaxed)) {
        const auto& snap = reader.current();
        if (!snap->consistent()) torn.fetch_add(1);
        if (snap->version < last) backwards.fetch_add(1);
        last = snap->version;
        ++n;
      }
      // After the writer finished, one more call must see the final snapshot.
      if (reader.current()->version != kPublishes) backwards.fetch_add(1);
      reads.fetch_add(n);
    });
  }
  // Every reader is reading before the first publish: on a loaded machine a thread may
  // otherwise not run at all before the writer is done, and the test would prove nothing.
  while (reading.load() < 4) std::this_thread::yield();
  for (uint64_t v = 1; v <= kPublishes; ++v) {
    holder.publish(std::make_shared<const Policy>(v));
    if (v % 64 == 0) std::this_thread::yield();
  }
  stop.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_EQ(backwards.load(), 0u);
  EXPECT_EQ(reading.load(), 4);
  EXPECT_EQ(holder.generation(), kPublishes);
}

}  // namespace
}  // namespace safegate
