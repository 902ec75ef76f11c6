#include "daemon/lists/list_gate.h"

#include <algorithm>

namespace safegate {

Status checkListGate(const ListGateOptions& options, const ListStats& fresh,
                     std::optional<size_t> held_entries) {
  auto refused = [](std::string why) {
    return Status(StatusCode::kFailedPrecondition, std::move(why));
  };
  if (fresh.entries < options.min_entries) {
    return refused("only " + std::to_string(fresh.entries) + " entries, fewer than the minimum " +
                   std::to_string(options.min_entries));
  }
  const size_t used_lines = fresh.entries + fresh.skipped;
  if (used_lines > 0 && fresh.skipped * 100 > used_lines * options.max_skipped_percent) {
    return refused(std::to_string(fresh.skipped) + " of " + std::to_string(used_lines) +
                   " lines unusable, more than " + std::to_string(options.max_skipped_percent) +
                   " % (not the list format expected?)");
  }
  if (held_entries && *held_entries > 0 &&
      fresh.entries * 100 < *held_entries * (100 - std::min(options.max_shrink_percent, 100u))) {
    return refused(std::to_string(fresh.entries) + " entries against " +
                   std::to_string(*held_entries) + " in the version held: shrank by more than " +
                   std::to_string(options.max_shrink_percent) + " %");
  }
  return Status::ok();
}

void ProtectedNames::add(std::string_view name) {
  if (name.empty()) return;
  names_.emplace(name);
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
    ancestors_.emplace(name.substr(dot + 1));
  }
}

bool ProtectedNames::blocks(std::string_view name, DomainMatchKind kind,
                            std::string* example) const {
  const std::string key(name);
  const bool is_name = names_.contains(key);
  const bool is_ancestor = ancestors_.contains(key);
  bool hit = false;
  switch (kind) {
    case DomainMatchKind::kExact: hit = is_name; break;
    case DomainMatchKind::kSubtree: hit = is_name || is_ancestor; break;
    case DomainMatchKind::kSubdomainsOnly: hit = is_ancestor; break;
  }
  if (hit && example) {
    if ((kind != DomainMatchKind::kSubdomainsOnly) && is_name) {
      *example = key;
    } else {
      const std::string suffix = "." + key;
      for (const auto& n : names_) {
        if (n.size() > suffix.size() && n.ends_with(suffix)) {
          *example = n;
          break;
        }
      }
    }
  }
  return hit;
}

std::vector<QuarantinedEntry> quarantineProtected(ParsedList& list, const ProtectedNames& names) {
  std::vector<QuarantinedEntry> out;
  if (names.size() == 0) return out;
  auto keep = std::remove_if(list.names.begin(), list.names.end(), [&](const auto& e) {
    if (e.action != RuleAction::kBlock) return false;
    const std::string_view name(list.name_blob.data() + e.name_offset, e.name_length);
    std::string example;
    if (!names.blocks(name, e.kind, &example)) return false;
    out.push_back({e.line, std::string(name), std::move(example)});
    return true;
  });
  list.names.erase(keep, list.names.end());
  // Name rules that apply to every client and query type; rules narrowed by modifiers
  // ($client, $dnstype, $denyallow, ...) and patterns are left to the over-blocking report.
  auto keep_rules = std::remove_if(list.rules.begin(), list.rules.end(), [&](const auto& r) {
    if (r.action != RuleAction::kBlock || r.target != AdblockRule::Target::kName ||
        !r.modifier_key.empty() || r.has_dnsrewrite) {
      return false;
    }
    std::string example;
    if (!names.blocks(r.name, r.kind, &example)) return false;
    out.push_back({r.line, r.name, std::move(example)});
    return true;
  });
  list.rules.erase(keep_rules, list.rules.end());
  list.stats.entries -= out.size();
  std::sort(out.begin(), out.end(),
            [](const QuarantinedEntry& a, const QuarantinedEntry& b) { return a.line < b.line; });
  return out;
}

}  // namespace safegate
