// Policy guard: a start or reload must not silently turn filtering off.
//
// A truncated or emptied config (an editor that crashed, a half-copied file, a config
// management run that wrote nothing) parses fine — every key has a default — and would leave
// the children's groups with no lists at all. So before a policy is applied, each group's
// amount of filtering (PolicySnapshot::filteringByGroup) is compared with the policy it
// replaces: a group that had lists or rules and would have none — or disappears — refuses the
// change, naming the groups, unless the operator says it is on purpose (--allow-empty-policy).
//
// Across restarts the comparison uses state_dir/policy-summary.json, written after every start
// and reload that was applied (group names and counts only: no client data), so a start with a
// truncated file is refused too. A first start (no summary) is never refused.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "common/result.h"
#include "policy/policy_engine.h"

namespace safegate {

using GroupFiltering = policy::PolicySnapshot::GroupFiltering;

// ok, or an error naming every group that would lose all of its filtering and what to do.
Status checkFilteringKept(const std::vector<GroupFiltering>& before,
                          const std::vector<GroupFiltering>& after);

// The summary file: nullopt when there is none; an unreadable or damaged file is reported in
// `problem` and treated as absent (it never stops the start).
std::optional<std::vector<GroupFiltering>> loadPolicySummary(const std::filesystem::path& path,
                                                             std::string& problem);
Status savePolicySummary(const std::filesystem::path& path,
                         const std::vector<GroupFiltering>& groups);

}  // namespace safegate
