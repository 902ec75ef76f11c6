#include "ui-helper/metrics.h"

#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace safegate::ui {

namespace {

// Fields that are levels, not counts since start.
bool isGauge(const std::string& name) {
  static const std::set<std::string> kGauges = {
      "in_flight",    "tcp_connections", "pending",        "queued",
      "dead",         "exceptions",      "uptime_seconds", "policy_generation",
      "list_entries", "regex_rules",     "groups",         "memory_bytes",
      "flows",        "workers"};
  return kGauges.count(name) != 0;
}

std::string metricName(std::string text) {
  for (char& c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) c = '_';
  }
  return text;
}

std::string labelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// Samples grouped by family (the format wants a family's samples together, its TYPE first),
// families in first-seen order.
class Writer {
 public:
  // `level`: a gauge whatever the field is called (a yes/no state).
  void sample(const std::string& family_in, const std::string& field, const std::string& value,
              const std::string& labels = {}, bool level = false) {
    const bool gauge = level || isGauge(field);
    std::string family = "safegate_" + metricName(family_in);
    if (!gauge) family += "_total";
    auto [it, fresh] = index_.emplace(family, families_.size());
    if (fresh) families_.push_back({family, gauge, {}});
    families_[it->second].samples.push_back(family + (labels.empty() ? "" : "{" + labels + "}") +
                                            " " + value + "\n");
  }
  std::string str(std::string head) const {
    for (const Family& f : families_) {
      head += "# TYPE " + f.name + (f.gauge ? " gauge\n" : " counter\n");
      for (const std::string& line : f.samples) head += line;
    }
    return head;
  }

 private:
  struct Family {
    std::string name;
    bool gauge = false;
    std::vector<std::string> samples;
  };
  std::vector<Family> families_;
  std::map<std::string, size_t> index_;
};

std::string number(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  std::ostringstream out;
  out.precision(17);
  out << v.get<double>();
  return out.str();
}

// Every numeric leaf of `obj` under `prefix` (nested objects joined with '_').
void flatten(Writer& w, const std::string& prefix, const nlohmann::json& obj,
             const std::string& labels = {}) {
  if (!obj.is_object()) return;
  for (const auto& [key, value] : obj.items()) {
    if (value.is_object()) {
      flatten(w, prefix + "_" + key, value, labels);
    } else if (value.is_number() || value.is_boolean()) {
      w.sample(prefix + "_" + key, key, number(value), labels, value.is_boolean());
    }
  }
}

}  // namespace

std::string renderPrometheus(const nlohmann::json& stats, const nlohmann::json& status) {
  const bool up = stats.is_object() && status.is_object();
  std::string head =
      "# HELP safegate_up Whether safegated answered safegate-ui's stats and status questions.\n"
      "# TYPE safegate_up gauge\n";
  head += std::string("safegate_up ") + (up ? "1" : "0") + "\n";
  if (!up) return head;
  const std::string health = status.value("health", std::string());
  head +=
      "# HELP safegate_healthy 1 when the incident database is writable (status health).\n"
      "# TYPE safegate_healthy gauge\n";
  head += std::string("safegate_healthy ") + (health.rfind("ok", 0) == 0 ? "1" : "0") + "\n";

  Writer w;
  for (const char* key : {"uptime_seconds", "policy_generation", "exceptions", "workers", "reloads",
                          "failed_reloads"}) {
    if (auto it = status.find(key); it != status.end() && it->is_number()) {
      w.sample(key, key, number(*it));
    }
  }
  if (auto it = status.find("policy"); it != status.end()) flatten(w, "policy", *it);
  if (auto it = status.find("inline"); it != status.end()) flatten(w, "inline", *it);
  if (auto it = status.find("encrypted_upstreams"); it != status.end() && it->is_array()) {
    for (const auto& u : *it) {
      if (!u.is_object()) continue;
      const std::string label =
          "upstream=\"" + labelValue(u.value("upstream", std::string())) + "\"";
      nlohmann::json counts = u;
      counts.erase("upstream");
      flatten(w, "encrypted_upstream", counts, label);
    }
  }
  for (const auto& [section, values] : stats.items()) flatten(w, section, values);
  // Blocks (and other logged verdicts) by category: one labelled counter.
  if (auto it = stats.find("incidents_by_category"); it != stats.end() && it->is_array()) {
    for (const auto& c : *it) {
      if (!c.is_object() || !c.contains("count") || !c["count"].is_number()) continue;
      w.sample("incidents_by_category", "incidents_by_category", number(c["count"]),
               "category=\"" + labelValue(c.value("category", std::string())) + "\",verdict=\"" +
                   labelValue(c.value("verdict", std::string())) + "\"");
    }
  }
  return w.str(std::move(head));
}

}  // namespace safegate::ui
