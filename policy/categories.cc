#include "policy/categories.h"

namespace safegate::policy {

std::string_view actionName(Action a) {
  switch (a) {
    case Action::kAllow: return "allow";
    case Action::kMonitor: return "monitor";
    case Action::kAlertAllow: return "alert-allow";
    case Action::kBlock: return "block";
    case Action::kAlertBlock: return "alert-block";
  }
  return "allow";
}

std::optional<Action> parseAction(std::string_view t) {
  if (t == "allow") return Action::kAllow;
  if (t == "monitor") return Action::kMonitor;
  if (t == "alert-allow") return Action::kAlertAllow;
  if (t == "block") return Action::kBlock;
  if (t == "alert-block" || t == "alert") return Action::kAlertBlock;
  return std::nullopt;
}

std::vector<std::string> actionNames() {
  return {"allow", "monitor", "alert-allow", "block", "alert-block", "alert"};
}

std::string_view categoryKindName(CategoryKind k) {
  switch (k) {
    case CategoryKind::kContent: return "content";
    case CategoryKind::kAllowType: return "allow-type";
    case CategoryKind::kIllegal: return "illegal";
  }
  return "content";
}

std::string_view youtubeModeName(YoutubeMode m) {
  switch (m) {
    case YoutubeMode::kOff: return "off";
    case YoutubeMode::kModerate: return "moderate";
    case YoutubeMode::kStrict: return "strict";
  }
  return "off";
}

namespace {

constexpr CategoryInfo kCategories[] = {
    {"discrimination", CategoryKind::kContent,
     "Promotes unjust or prejudicial treatment of people with protected characteristics "
     "(UKSIC)."},
    {"drugs", CategoryKind::kContent,
     "Displays or promotes the illegal use of drugs or substances (UKSIC drugs / substance "
     "abuse)."},
    {"extremism", CategoryKind::kContent,
     "Promotes terrorism and terrorist ideologies, violence or intolerance (UKSIC)."},
    {"gambling", CategoryKind::kContent, "Enables gambling (UKSIC)."},
    {"malware", CategoryKind::kContent,
     "Malware and hacking: promotes the compromising of systems, phishing, malicious "
     "downloads (UKSIC malware / hacking)."},
    {"pornography", CategoryKind::kContent, "Displays sexual acts or explicit images (UKSIC)."},
    {"piracy", CategoryKind::kContent,
     "Piracy and copyright theft: illegal provision of copyrighted material (UKSIC)."},
    {"self-harm", CategoryKind::kContent,
     "Promotes or displays deliberate self-harm, including suicide and eating disorders "
     "(UKSIC)."},
    {"violence", CategoryKind::kContent,
     "Displays or promotes the use of physical force intended to hurt or kill (UKSIC)."},
    {"circumvention", CategoryKind::kContent,
     "Bypass methods: web proxies, VPN services, DNS-over-HTTPS/TLS resolvers (UKSIC "
     "filtering definitions: circumvention must be detected and blocked)."},
    {"social", CategoryKind::kContent, "Social networks and messaging."},
    {"games", CategoryKind::kContent, "Online games and game stores."},
    {"dating", CategoryKind::kContent, "Dating and hook-up services."},
    {"streaming", CategoryKind::kContent, "Video and audio streaming."},
    {"unsafe-search", CategoryKind::kContent,
     "Search engines that cannot be forced into safe mode."},
    {"custom", CategoryKind::kContent,
     "Lists an administrator adds that fit no standard category (allowed unless a group "
     "says otherwise)."},
    {"education", CategoryKind::kAllowType,
     "Schools, universities and learning resources; protects against over-blocking."},
    {"press", CategoryKind::kAllowType, "News and press; protects against over-blocking."},
    {"sex-education", CategoryKind::kAllowType,
     "Sex and relationships education; protects against over-blocking."},
    {"health", CategoryKind::kAllowType,
     "Health services and advice (including mental health); protects against over-blocking."},
    {"child-abuse", CategoryKind::kIllegal,
     "Licensed child sexual abuse list (e.g. IWF). Always blocked; never overridable; entries "
     "never shown."},
    {"terrorism", CategoryKind::kIllegal,
     "Licensed police-assessed list of unlawful terrorist content. Always blocked; never "
     "overridable; entries never shown."},
};

using A = Action;
constexpr std::pair<std::string_view, Action> kUnder9[] = {
    {"discrimination", A::kBlock}, {"drugs", A::kBlock},
    {"extremism", A::kAlertBlock}, {"gambling", A::kBlock},
    {"malware", A::kBlock},        {"pornography", A::kBlock},
    {"piracy", A::kBlock},         {"self-harm", A::kAlertBlock},
    {"violence", A::kBlock},       {"circumvention", A::kAlertBlock},
    {"social", A::kBlock},         {"games", A::kBlock},
    {"dating", A::kBlock},         {"streaming", A::kBlock},
    {"unsafe-search", A::kBlock},
};
constexpr std::pair<std::string_view, Action> k9To12[] = {
    {"discrimination", A::kBlock}, {"drugs", A::kBlock},
    {"extremism", A::kAlertBlock}, {"gambling", A::kBlock},
    {"malware", A::kBlock},        {"pornography", A::kBlock},
    {"piracy", A::kBlock},         {"self-harm", A::kAlertBlock},
    {"violence", A::kBlock},       {"circumvention", A::kAlertBlock},
    {"social", A::kBlock},         {"games", A::kMonitor},
    {"dating", A::kBlock},         {"unsafe-search", A::kBlock},
};
constexpr std::pair<std::string_view, Action> k13To17[] = {
    {"discrimination", A::kBlock}, {"drugs", A::kBlock},
    {"extremism", A::kAlertBlock}, {"gambling", A::kBlock},
    {"malware", A::kBlock},        {"pornography", A::kBlock},
    {"piracy", A::kBlock},         {"self-harm", A::kAlertBlock},
    {"violence", A::kBlock},       {"circumvention", A::kAlertBlock},
    {"dating", A::kBlock},         {"unsafe-search", A::kBlock},
};
constexpr std::pair<std::string_view, Action> kStaff[] = {
    {"discrimination", A::kMonitor}, {"drugs", A::kMonitor},        {"extremism", A::kAlertAllow},
    {"gambling", A::kBlock},         {"malware", A::kBlock},        {"pornography", A::kBlock},
    {"piracy", A::kBlock},           {"self-harm", A::kAlertAllow}, {"violence", A::kMonitor},
    {"circumvention", A::kMonitor},
};
constexpr std::pair<std::string_view, Action> kGuests[] = {
    {"discrimination", A::kBlock}, {"drugs", A::kBlock},     {"extremism", A::kBlock},
    {"gambling", A::kBlock},       {"malware", A::kBlock},   {"pornography", A::kBlock},
    {"piracy", A::kBlock},         {"self-harm", A::kBlock}, {"violence", A::kBlock},
    {"circumvention", A::kBlock},  {"dating", A::kBlock},    {"unsafe-search", A::kBlock},
};
constexpr std::pair<std::string_view, Action> kOpen[] = {
    {"malware", A::kBlock},
};

constexpr ProfilePreset kPresets[] = {
    {"strict", "Unknown devices by default: every content category blocked, safe search on.",
     A::kAllow, true, YoutubeMode::kStrict, kUnder9},
    {"under-9", "Young children: every content category blocked, strict YouTube.", A::kAllow, true,
     YoutubeMode::kStrict, kUnder9},
    {"9-12", "Juniors: social and dating blocked, games monitored, strict YouTube.", A::kAllow,
     true, YoutubeMode::kStrict, k9To12},
    {"13-17",
     "Teenagers: harmful categories blocked, social/games/streaming allowed, "
     "moderate YouTube.",
     A::kAllow, true, YoutubeMode::kModerate, k13To17},
    {"staff",
     "Adults at work: illegal and harmful categories blocked, sensitive research "
     "allowed but alerted, safe search on.",
     A::kAllow, true, YoutubeMode::kOff, kStaff},
    {"guests", "Visitors: harmful categories blocked, safe search on.", A::kAllow, true,
     YoutubeMode::kModerate, kGuests},
    {"open", "Adults at home: only malware blocked (illegal lists are always blocked).", A::kAllow,
     false, YoutubeMode::kOff, kOpen},
};

}  // namespace

std::span<const CategoryInfo> standardCategories() { return kCategories; }

const CategoryInfo* findCategory(std::string_view name) {
  for (const auto& c : kCategories) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<std::string> categoryNames() {
  std::vector<std::string> out;
  for (const auto& c : kCategories) out.emplace_back(c.name);
  return out;
}

std::span<const ProfilePreset> profilePresets() { return kPresets; }

const ProfilePreset* findProfile(std::string_view name) {
  for (const auto& p : kPresets) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::vector<std::string> profileNames() {
  std::vector<std::string> out;
  for (const auto& p : kPresets) out.emplace_back(p.name);
  return out;
}

}  // namespace safegate::policy
