// InlineEngine::queueOptions: which NFQUEUE numbers safegated binds and the kernel's fail-open
// flag of each, from a real config file — the flag decides what a full queue does, so a
// fail-closed group's queue must never get it once the queues are split per group.
#include "daemon/inline/inline_engine.h"

#include <gtest/gtest.h>

#include "policy/config.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

std::vector<NfqueueOptions> optionsFor(const std::string& inline_section) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg =
      policy::loadConfig(dir.write("c.toml", "[inline]\nenabled = true\n" + inline_section), sink);
  EXPECT_TRUE(cfg.isOk()) << sink.toString();
  if (!cfg.isOk()) return {};
  return InlineEngine::queueOptions(cfg->daemon.inline_mode);
}

TEST(InlineEngineTest, WithoutFailClosedQueuesEveryQueueFollowsInlineFailOpen) {
  auto open = optionsFor("queues = [0, 1]\n");
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].queue, 0);
  EXPECT_EQ(open[1].queue, 1);
  EXPECT_TRUE(open[0].fail_open);
  EXPECT_TRUE(open[1].fail_open);

  auto closed = optionsFor("queues = [4]\nfail_open = false\n");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_FALSE(closed[0].fail_open);
}

TEST(InlineEngineTest, FailClosedQueuesAreBoundWithoutTheFailOpenFlagAndTheOthersWithIt) {
  // inline.fail_open = false is only the groups' default here: the fail-open queues carry the
  // fail-open groups' sources, so they get the flag whatever the default says.
  auto q = optionsFor("queues = [0, 1]\nfail_closed_queues = [2, 3]\nfail_open = false\n");
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[0].queue, 0);
  EXPECT_TRUE(q[0].fail_open);
  EXPECT_EQ(q[1].queue, 1);
  EXPECT_TRUE(q[1].fail_open);
  EXPECT_EQ(q[2].queue, 2);
  EXPECT_FALSE(q[2].fail_open);
  EXPECT_EQ(q[3].queue, 3);
  EXPECT_FALSE(q[3].fail_open);
}

TEST(InlineEngineTest, AQueueInBothListsIsAConfigErrorWithItsLocation) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto path = dir.write("c.toml", "[inline]\nqueues = [0, 1]\nfail_closed_queues = [1]\n");
  auto cfg = policy::loadConfig(path, sink);
  EXPECT_FALSE(cfg.isOk());
  const std::string text = sink.toString();
  EXPECT_NE(text.find("c.toml:3:"), std::string::npos) << text;
  EXPECT_NE(text.find("queue 1 is also in inline.queues"), std::string::npos) << text;
}

}  // namespace
}  // namespace safegate
