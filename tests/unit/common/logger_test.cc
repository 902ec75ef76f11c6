#include "common/logger.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace safegate {
namespace {

struct Captured {
  std::vector<std::string> lines;
  Logger::Sink sink() {
    return [this](std::string_view l) { lines.emplace_back(l); };
  }
};

TEST(LoggerTest, WritesOneLogfmtLinePerEvent) {
  Logger log;
  Captured c;
  log.setSink(c.sink());
  log.setTimestamps(false);
  log.warning("lists", "list skipped lines",
              {{"file", "/var/lib/safegate/adult.txt"}, {"skipped", 12}, {"ok", false}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0],
            "level=warning component=lists msg=\"list skipped lines\" "
            "file=/var/lib/safegate/adult.txt skipped=12 ok=false\n");
}

TEST(LoggerTest, QuotesAndEscapesHostileValuesSoTheyCannotForgeLines) {
  Logger log;
  Captured c;
  log.setSink(c.sink());
  log.setTimestamps(false);
  log.error("dns", "bad name",
            {{"qname", "evil\nlevel=info msg=\"fake\""}, {"empty", ""}, {"bad key", "x\x01y"}});
  ASSERT_EQ(c.lines.size(), 1u);
  const std::string& l = c.lines[0];
  EXPECT_EQ(l.find('\n'), l.size() - 1);  // exactly one line
  EXPECT_NE(l.find(R"(qname="evil\nlevel=info msg=\"fake\"")"), std::string::npos) << l;
  EXPECT_NE(l.find(R"(empty="")"), std::string::npos) << l;
  EXPECT_NE(l.find(R"(bad_key="x\x01y")"), std::string::npos) << l;
}

TEST(LoggerTest, DropsEventsBelowTheLevel) {
  Logger log;
  Captured c;
  log.setSink(c.sink());
  log.setLevel(LogLevel::kWarning);
  log.info("x", "hidden");
  log.debug("x", "hidden");
  log.warning("x", "shown");
  EXPECT_EQ(c.lines.size(), 1u);
  EXPECT_FALSE(log.enabled(LogLevel::kInfo));
  EXPECT_TRUE(log.enabled(LogLevel::kError));
}

TEST(LoggerTest, PrefixesAnIso8601UtcTimestampByDefault) {
  Logger log;
  Captured c;
  log.setSink(c.sink());
  log.info("daemon", "started", {{"pid", 42}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      c.lines[0],
      std::regex(
          R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info component=daemon msg=started pid=42\n)")))
      << c.lines[0];
}

TEST(LoggerTest, ParsesLevelNames) {
  EXPECT_EQ(parseLogLevel("WARN"), LogLevel::kWarning);
  EXPECT_EQ(parseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(parseLogLevel("Error"), LogLevel::kError);
  EXPECT_EQ(parseLogLevel("verbose"), std::nullopt);
  EXPECT_EQ(logLevelName(LogLevel::kInfo), "info");
}

TEST(LoggerTest, LinesFromManyThreadsNeverInterleave) {
  Logger log;
  Captured c;
  log.setSink(c.sink());
  log.setTimestamps(false);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 500; ++i) log.info("worker", "tick", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(c.lines.size(), 2000u);
  const std::regex shape(R"(level=info component=worker msg=tick thread=\d i=\d+\n)");
  for (const auto& l : c.lines) ASSERT_TRUE(std::regex_match(l, shape)) << l;
}

}  // namespace
}  // namespace safegate
