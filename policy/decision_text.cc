#include "policy/decision_text.h"

namespace safegate {

DecisionText describeDecision(const Decision& d, std::string_view rule_as_written) {
  DecisionText t;
  t.verdict = verdictName(d.verdict);
  t.decided_by = decisionReasonName(d.reason);
  t.group = d.group;
  t.category = d.category;
  t.confidential = d.confidential;
  t.alert = d.alert;
  t.log = d.log;
  t.exception_id = d.exception_id;
  if (d.verdict == Verdict::kBlock) t.block_answer = blockAnswerName(d.block_answer);
  if (d.verdict == Verdict::kRewrite) t.rewrite_target = d.rewrite_target;
  if (d.confidential) {
    t.reason = renderReason(d);  // renderReason never names a confidential entry
    return t;
  }
  t.rule = rule_as_written.empty() ? std::string(d.rule) : std::string(rule_as_written);
  if (!d.source_file.empty()) {
    t.source = d.source_file;
    if (d.source_line > 0) t.source += ":" + std::to_string(d.source_line);
  }
  Decision shown = d;
  shown.rule = t.rule;  // the reason quotes the rule as it is shown
  t.reason = renderReason(shown);
  return t;
}

nlohmann::json decisionJson(std::string_view name, const DecisionText& t) {
  nlohmann::json j{{"name", std::string(name)},
                   {"verdict", t.verdict},
                   {"decided_by", t.decided_by},
                   {"group", t.group},
                   {"category", t.category},
                   {"rule", t.rule},
                   {"source", t.source},
                   {"reason", t.reason},
                   {"alert", t.alert},
                   {"log", t.log},
                   {"confidential", t.confidential}};
  if (!t.block_answer.empty()) j["block_answer"] = t.block_answer;
  if (!t.rewrite_target.empty()) j["rewrite_target"] = t.rewrite_target;
  if (t.exception_id != 0) j["exception_id"] = t.exception_id;
  return j;
}

}  // namespace safegate
