// FlowTable: the keyed slot hash and the per-client share of reassembly buffers.
#include "daemon/inline/flow_table.h"

#include <gtest/gtest.h>

#include <string>

namespace safegate {
namespace {

FlowKey key(const std::string& client, uint16_t port) {
  return FlowKey{*IpAddress::parse(client), *IpAddress::parse("192.0.2.1"), port, 443, 6};
}

// The slot hash had a constant seed, so a client could compute 5-tuples that
// share one 16-slot probe window. Each table now draws its own key.
TEST(FlowTableTest, SlotHashIsKeyedPerTable) {
  auto a = FlowTable::create(65536, 4, 4, 30000);
  auto b = FlowTable::create(65536, 4, 4, 30000);
  ASSERT_TRUE(a.isOk() && b.isOk());
  size_t differ = 0;
  for (uint16_t port = 1000; port < 1064; ++port) {
    if ((*a)->slotOf(key("10.0.0.5", port)) != (*b)->slotOf(key("10.0.0.5", port))) ++differ;
  }
  EXPECT_GT(differ, 60u);  // equal by chance with probability 1/65536 each
}

TEST(FlowTableTest, ClientAtItsShareGivesUpItsOwnOldestBuffer) {
  auto t = std::move(FlowTable::create(1024, 16, 3, 30000)).value();
  bool inserted = false;
  std::vector<FlowEntry*> mine;
  for (uint16_t p = 0; p < 3; ++p) {
    FlowEntry* e = t->findOrInsert(key("10.0.0.66", p), 100 + p, &inserted);
    ASSERT_NE(t->attachBuffer(e, 100 + p), nullptr);
    mine.push_back(e);
  }
  FlowEntry* other = t->findOrInsert(key("10.0.0.5", 1), 200, &inserted);
  ASSERT_NE(t->attachBuffer(other, 200), nullptr);
  FlowEntry* fourth = t->findOrInsert(key("10.0.0.66", 9), 300, &inserted);
  ASSERT_NE(t->attachBuffer(fourth, 300), nullptr);
  EXPECT_EQ(mine[0]->buffer, -1);  // the oldest of its own
  EXPECT_EQ(mine[0]->loss, BufferLoss::kEvicted);
  EXPECT_GE(mine[1]->buffer, 0);
  EXPECT_GE(other->buffer, 0);  // never another client's
  EXPECT_EQ(t->buffersHeldBy(*IpAddress::parse("10.0.0.66")), 3u);
  EXPECT_EQ(t->stats().client_share_evicted, 1u);
}

TEST(FlowTableTest, ShareCountsSurviveManyClientsComingAndGoing) {
  // Exercises the per-client count table's deletions (backward shift) with many clients.
  auto t = std::move(FlowTable::create(65536, 512, 2, 30000)).value();
  bool inserted = false;
  std::vector<FlowEntry*> entries;
  for (int c = 0; c < 400; ++c) {
    std::string client = "10.1." + std::to_string(c / 200) + "." + std::to_string(c % 200 + 1);
    FlowEntry* e = t->findOrInsert(key(client, 1), 1, &inserted);
    ASSERT_NE(t->attachBuffer(e, 1), nullptr);
    entries.push_back(e);
  }
  for (size_t i = 0; i < entries.size(); i += 2) t->erase(entries[i]);
  EXPECT_EQ(t->buffersFree(), 512u - 200u);
  // Each remaining client still holds one and may take exactly one more before evicting.
  for (size_t i = 1; i < entries.size(); i += 2) {
    const IpAddress& client = entries[i]->key.client;
    FlowEntry* e =
        t->findOrInsert(FlowKey{client, *IpAddress::parse("192.0.2.1"), 2, 443, 6}, 2, &inserted);
    ASSERT_NE(t->attachBuffer(e, 2), nullptr);
  }
  EXPECT_EQ(t->stats().client_share_evicted, 0u);
  FlowEntry* third = t->findOrInsert(
      FlowKey{entries[1]->key.client, *IpAddress::parse("192.0.2.1"), 3, 443, 6}, 3, &inserted);
  ASSERT_NE(t->attachBuffer(third, 3), nullptr);
  EXPECT_EQ(t->stats().client_share_evicted, 1u);
  EXPECT_EQ(entries[1]->loss, BufferLoss::kEvicted);
}

}  // namespace
}  // namespace safegate
