#include "daemon/policy_guard.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/atomic_file.h"

namespace safegate {

Status checkFilteringKept(const std::vector<GroupFiltering>& before,
                          const std::vector<GroupFiltering>& after) {
  std::string lost;
  for (const GroupFiltering& old_group : before) {
    if (old_group.sources == 0) continue;
    size_t now = 0;
    bool present = false;
    for (const GroupFiltering& g : after) {
      if (g.group == old_group.group) {
        present = true;
        now = g.sources;
      }
    }
    if (now > 0) continue;
    if (!lost.empty()) lost += ", ";
    lost += "\"" + old_group.group + "\" (" + std::to_string(old_group.sources) +
            " lists and rules, " + (present ? "none now" : "group removed") + ")";
  }
  if (lost.empty()) return Status::ok();
  return Status::invalid(
      "the new configuration would stop filtering for group(s) " + lost +
      " — a truncated or emptied config file? The running policy is kept. If this is intended, "
      "apply it with `safegatectl reload --allow-empty-policy` (or start safegated with "
      "--allow-empty-policy)");
}

std::optional<std::vector<GroupFiltering>> loadPolicySummary(const std::filesystem::path& path,
                                                             std::string& problem) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("groups") || !doc["groups"].is_object()) {
    problem = path.string() + ": not a policy summary (ignored; it is rewritten after this start)";
    return std::nullopt;
  }
  std::vector<GroupFiltering> out;
  for (const auto& [name, count] : doc["groups"].items()) {
    if (!count.is_number_unsigned()) continue;
    out.push_back({name, count.get<size_t>()});
  }
  return out;
}

Status savePolicySummary(const std::filesystem::path& path,
                         const std::vector<GroupFiltering>& groups) {
  nlohmann::json by_group = nlohmann::json::object();
  for (const GroupFiltering& g : groups) by_group[g.group] = g.sources;
  nlohmann::json doc = {{"version", 1}, {"groups", by_group}};
  return writeFileAtomically(path, doc.dump(1) + "\n", 0640);
}

}  // namespace safegate
