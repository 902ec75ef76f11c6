#include "policy/decision.h"

namespace safegate {

std::string_view verdictName(Verdict v) {
  switch (v) {
    case Verdict::kAllow: return "allow";
    case Verdict::kBlock: return "block";
    case Verdict::kRewrite: return "rewrite";
    case Verdict::kMonitor: return "monitor";
  }
  return "allow";
}

std::string_view blockAnswerName(BlockAnswer a) {
  switch (a) {
    case BlockAnswer::kNxdomain: return "nxdomain";
    case BlockAnswer::kNodata: return "nodata";
    case BlockAnswer::kNullAddress: return "null";
    case BlockAnswer::kBlockPage: return "block-page";
    case BlockAnswer::kRefused: return "refused";
  }
  return "nxdomain";
}

std::string_view decisionReasonName(DecisionReason r) {
  switch (r) {
    case DecisionReason::kIllegalList: return "illegal-list";
    case DecisionReason::kPauseException: return "pause-exception";
    case DecisionReason::kTemporaryException: return "temporary-exception";
    case DecisionReason::kAllowList: return "allow-list";
    case DecisionReason::kScheduleAllowOnly: return "schedule-allow-only";
    case DecisionReason::kBypassDefault: return "bypass-default";
    case DecisionReason::kSafeSearch: return "safe-search";
    case DecisionReason::kCategory: return "category";
    case DecisionReason::kRegexRule: return "regex-rule";
    case DecisionReason::kListException: return "list-exception";
    case DecisionReason::kDefault: return "default";
    case DecisionReason::kInlineSetting: return "inline-setting";
  }
  return "default";
}

std::string renderReason(const Decision& d) {
  const std::string group(d.group);
  const std::string category(d.category);
  std::string src;
  if (!d.confidential && !d.source_file.empty()) {
    src = std::string(d.source_file);
    if (d.source_line > 0) src += ":" + std::to_string(d.source_line);
  }
  const std::string rule = d.confidential ? std::string() : std::string(d.rule);
  auto with = [&](std::string s) {
    if (!rule.empty() || !src.empty()) {
      s += " (";
      if (!rule.empty()) s += "rule \"" + rule + "\"";
      if (!src.empty()) s += (rule.empty() ? "" : " at ") + src;
      s += ")";
    }
    return s;
  };
  auto verb = [&]() -> std::string {
    return d.verdict == Verdict::kBlock     ? "blocked"
           : d.verdict == Verdict::kMonitor ? "allowed and recorded"
                                            : "allowed";
  };
  switch (d.reason) {
    case DecisionReason::kIllegalList:
      return "blocked: " + category +
             " (licensed illegal-content list; always blocked, entry not shown) for group " + group;
    case DecisionReason::kPauseException:
      return "allowed: filtering paused for group " + group + " by " + std::string(d.granted_by);
    case DecisionReason::kTemporaryException:
      return "allowed: temporary exception granted by " + std::string(d.granted_by) +
             " for group " + group;
    case DecisionReason::kAllowList:
      return with("allowed: " + (category.empty() ? std::string("allow list") : category) +
                  " allow list for group " + group);
    case DecisionReason::kScheduleAllowOnly:
      return with("blocked: group " + group +
                  " is allow-list-only during this schedule and the name is not on its allow "
                  "list");
    case DecisionReason::kBypassDefault:
      return with("answered to keep the client on this resolver (bypass defaults)");
    case DecisionReason::kSafeSearch:
      return with("rewritten to " + std::string(d.rewrite_target) + " (safe search) for group " +
                  group);
    case DecisionReason::kCategory:
    case DecisionReason::kRegexRule: {
      std::string v = verb();
      if (d.alert) v += ", safeguarding alert";
      return with(v + ": " + (category.empty() ? std::string("group list") : category) +
                  (d.reason == DecisionReason::kRegexRule ? " regex rule" : "") + " for group " +
                  group);
    }
    case DecisionReason::kListException:
      return with("allowed: exception (@@) in the " + category + " list for group " + group);
    case DecisionReason::kDefault: return verb() + ": no rule matched; default of group " + group;
    case DecisionReason::kInlineSetting:
      return with(verb() + ": " + (category.empty() ? std::string("inline") : category) +
                  " setting of group " + group);
  }
  return {};
}

}  // namespace safegate
