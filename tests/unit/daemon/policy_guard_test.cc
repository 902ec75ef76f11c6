#include "daemon/policy_guard.h"

#include <gtest/gtest.h>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

TEST(PolicyGuardTest, RefusesAGroupThatLosesEveryListAndNamesIt) {
  const std::vector<GroupFiltering> before = {{"kids", 12}, {"staff", 1}, {"guests", 0}};
  // Fewer lists is a normal edit; a group that never had any may stay empty.
  EXPECT_TRUE(checkFilteringKept(before, {{"kids", 3}, {"staff", 1}, {"guests", 0}}));
  Status s = checkFilteringKept(before, {{"kids", 0}, {"staff", 1}, {"guests", 0}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("\"kids\" (12 lists and rules, none now)"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("--allow-empty-policy"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("staff"), std::string::npos) << s.message();
  // A removed group counts as losing its filtering (its clients fall to another group).
  s = checkFilteringKept(before, {{"unknown", 0}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("\"kids\" (12 lists and rules, group removed)"), std::string::npos);
  EXPECT_NE(s.message().find("\"staff\""), std::string::npos);
  // Nothing before (first start): nothing to lose.
  EXPECT_TRUE(checkFilteringKept({}, {{"unknown", 0}}));
}

TEST(PolicyGuardTest, SummaryRoundTripsAndADamagedFileIsIgnoredWithAReason) {
  testing::TempDir dir;
  const auto path = dir.path() / "policy-summary.json";
  std::string problem;
  EXPECT_FALSE(loadPolicySummary(path, problem));
  EXPECT_TRUE(problem.empty());
  ASSERT_TRUE(savePolicySummary(path, {{"kids", 12}, {"staff", 1}}));
  auto back = loadPolicySummary(path, problem);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 2u);
  EXPECT_TRUE(checkFilteringKept(*back, {{"kids", 1}, {"staff", 1}}));
  EXPECT_FALSE(checkFilteringKept(*back, {{"kids", 0}, {"staff", 1}}));
  dir.write("policy-summary.json", "{\"groups\": [tru");
  EXPECT_FALSE(loadPolicySummary(path, problem));
  EXPECT_NE(problem.find("not a policy summary"), std::string::npos) << problem;
}

}  // namespace
}  // namespace safegate
