// DecisionText: a Decision as every tool shows it — the control socket's "decide" answer,
// `safegatectl explain` and `safegatectl replay` render it here and nowhere else, so the three
// cannot disagree on what a confidential decision hides or how a source is written.
//
// Control plane (allocates). The strings are copies: a DecisionText outlives the snapshot whose
// Decision it describes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "policy/decision.h"

namespace safegate {

struct DecisionText {
  std::string verdict;     // verdictName()
  std::string decided_by;  // decisionReasonName(): the precedence step that decided
  std::string group;
  std::string category;
  std::string rule;          // "" for a confidential decision
  std::string source;        // "file:line" ("file" when the line is unknown); "" when confidential
  std::string reason;        // renderReason(): one sentence for people
  std::string block_answer;  // blockAnswerName(); "" unless the verdict is block
  std::string rewrite_target;  // "" unless the verdict is rewrite
  bool alert = false;
  bool log = false;
  bool confidential = false;
  uint64_t exception_id = 0;
};

// `rule_as_written`, when not empty, is shown instead of d.rule (explain reads the line from
// the list file, so "||ads.example^" rather than the matched suffix). Ignored when confidential.
DecisionText describeDecision(const Decision& d, std::string_view rule_as_written = {});

// The JSON every tool prints for one decided name: "name", then the fields above
// ("block_answer" only for a block, "rewrite_target" only for a rewrite, "exception_id" only
// when an exception decided).
nlohmann::json decisionJson(std::string_view name, const DecisionText& t);

}  // namespace safegate
