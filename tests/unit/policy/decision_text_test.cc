// The one renderer of a Decision (policy/decision_text.h) and the one incident rule
// (isIncident in policy/decision.h) that every front end uses.
#include "policy/decision_text.h"

#include <gtest/gtest.h>

namespace safegate {
namespace {

Decision listBlock() {
  Decision d;
  d.verdict = Verdict::kBlock;
  d.reason = DecisionReason::kCategory;
  d.log = true;
  d.group = "year7";
  d.category = "gambling";
  d.rule = "casino.example";
  d.source_file = "lists/gambling.txt";
  d.source_line = 12;
  d.block_answer = BlockAnswer::kBlockPage;
  return d;
}

TEST(DecisionTextTest, ListBlockShowsRuleSourceAndTheConfigSpellingOfItsAnswer) {
  const DecisionText t = describeDecision(listBlock());
  EXPECT_EQ(t.verdict, "block");
  EXPECT_EQ(t.decided_by, "category");
  EXPECT_EQ(t.rule, "casino.example");
  EXPECT_EQ(t.source, "lists/gambling.txt:12");
  EXPECT_EQ(t.block_answer, "block-page");  // what groups[].block_answer accepts
  EXPECT_NE(t.reason.find("rule \"casino.example\" at lists/gambling.txt:12"), std::string::npos)
      << t.reason;
  const nlohmann::json j = decisionJson("www.casino.example", t);
  EXPECT_EQ(j["name"], "www.casino.example");
  EXPECT_EQ(j["block_answer"], "block-page");
  EXPECT_FALSE(j.contains("rewrite_target"));
  EXPECT_FALSE(j.contains("exception_id"));
}

TEST(DecisionTextTest, RuleAsWrittenReplacesTheMatchedSuffixInRuleAndReason) {
  const DecisionText t = describeDecision(listBlock(), "||casino.example^");
  EXPECT_EQ(t.rule, "||casino.example^");
  EXPECT_NE(t.reason.find("||casino.example^"), std::string::npos) << t.reason;
}

TEST(DecisionTextTest, ConfidentialDecisionShowsNeitherRuleNorSourceAnywhere) {
  Decision d = listBlock();
  d.reason = DecisionReason::kIllegalList;
  d.category = "child-abuse";
  d.confidential = true;
  d.alert = true;
  const DecisionText t = describeDecision(d, "||casino.example^");
  EXPECT_TRUE(t.rule.empty());
  EXPECT_TRUE(t.source.empty());
  EXPECT_EQ(t.reason.find("casino"), std::string::npos) << t.reason;
  EXPECT_EQ(t.reason.find("gambling.txt"), std::string::npos) << t.reason;
  const std::string json = decisionJson("x.example", t).dump();
  EXPECT_EQ(json.find("casino"), std::string::npos) << json;
  EXPECT_EQ(json.find("gambling.txt"), std::string::npos) << json;
  EXPECT_TRUE(t.confidential);
}

TEST(DecisionTextTest, AllowHasNoBlockAnswerAndRewriteNamesItsTarget) {
  Decision allow;
  allow.group = "staff";
  EXPECT_TRUE(describeDecision(allow).block_answer.empty());
  EXPECT_FALSE(decisionJson("a.example", describeDecision(allow)).contains("block_answer"));
  Decision rewrite;
  rewrite.verdict = Verdict::kRewrite;
  rewrite.reason = DecisionReason::kSafeSearch;
  rewrite.rewrite_target = "forcesafesearch.google.com";
  EXPECT_EQ(decisionJson("www.google.com", describeDecision(rewrite))["rewrite_target"],
            "forcesafesearch.google.com");
}

TEST(DecisionTextTest, InlineSettingIsExplainedBySetting) {
  Decision d;
  d.verdict = Verdict::kBlock;
  d.reason = DecisionReason::kInlineSetting;
  d.log = true;
  d.group = "year7";
  d.category = "ech";
  d.rule = "ech = \"block\"";
  const DecisionText t = describeDecision(d);
  EXPECT_EQ(t.decided_by, "inline-setting");
  EXPECT_EQ(t.reason, "blocked: ech setting of group year7 (rule \"ech = \"block\"\")");
}

TEST(IsIncidentTest, BlocksMonitorsLogsAndAlertsAreIncidentsButNotBypassDefaults) {
  Decision d;
  EXPECT_FALSE(isIncident(d));  // a plain allow
  d.verdict = Verdict::kRewrite;
  EXPECT_FALSE(isIncident(d));  // safe search
  d.verdict = Verdict::kBlock;
  EXPECT_TRUE(isIncident(d));
  d.verdict = Verdict::kMonitor;
  EXPECT_TRUE(isIncident(d));
  d.verdict = Verdict::kBlock;
  d.reason = DecisionReason::kBypassDefault;  // canary / DDR: says nothing about the child
  EXPECT_FALSE(isIncident(d));
  Decision logged;
  logged.log = true;
  EXPECT_TRUE(isIncident(logged));
  Decision alerted;
  alerted.alert = true;
  EXPECT_TRUE(isIncident(alerted));
}

}  // namespace
}  // namespace safegate
