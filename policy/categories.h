// The standard category set and the group profile presets.
//
// Categories follow the UK Safer Internet Centre "appropriate filtering" definitions
// (discrimination, drugs, extremism, gambling, malware/hacking, pornography, piracy,
// self-harm, violence), plus circumvention, social, games, dating, streaming and unsafe-search
// for homes and schools; four allow-type categories (education, press, sex-education, health)
// whose lists protect against over-blocking; and two special categories for licensed
// illegal-content lists (child-abuse, terrorism) that are always blocked, can never be
// overridden and whose entries are never shown (docs/categories.md).
//
// Everything here is constant data; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace safegate::policy {

// What a group does with a category. Ordered by strength: when a name is in several
// categories the strongest action wins (kAlertBlock > kBlock > kAlertAllow > kMonitor >
// kAllow).
enum class Action : uint8_t { kAllow, kMonitor, kAlertAllow, kBlock, kAlertBlock };
std::string_view actionName(Action a);  // "allow", "monitor", "alert-allow", "block", "alert-block"
std::optional<Action> parseAction(std::string_view text);
// Config spellings accepted by parseAction(), for help and "did you mean".
std::vector<std::string> actionNames();

enum class CategoryKind : uint8_t {
  kContent,    // an action per group decides
  kAllowType,  // lists that protect against over-blocking (precedence step "allow-type lists")
  kIllegal,    // licensed child-abuse / terrorism lists: always blocked, confidential
};
std::string_view categoryKindName(CategoryKind k);

struct CategoryInfo {
  std::string_view name;
  CategoryKind kind;
  std::string_view description;
};

// Every standard category, content first, then allow-type, then illegal.
std::span<const CategoryInfo> standardCategories();
const CategoryInfo* findCategory(std::string_view name);
std::vector<std::string> categoryNames();

// Safe-search settings of a group (CNAME rewrites, see policy/safe_search.h).
enum class YoutubeMode : uint8_t { kOff, kModerate, kStrict };
std::string_view youtubeModeName(YoutubeMode m);

// A group profile preset: an action for every content category, the action when nothing
// matches, and safe-search defaults.
struct ProfilePreset {
  std::string_view name;
  std::string_view description;
  Action default_action;
  bool safe_search;  // Google, Bing, DuckDuckGo
  YoutubeMode youtube;
  // (category name, action); content categories not named are allowed.
  std::span<const std::pair<std::string_view, Action>> actions;
};
std::span<const ProfilePreset> profilePresets();
const ProfilePreset* findProfile(std::string_view name);
std::vector<std::string> profileNames();

}  // namespace safegate::policy
