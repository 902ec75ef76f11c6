// Fuzz target for the dashboard's incident search (ui-helper/dashboard_pages.h): the fields of
// the search form (one per input line: group, device, category, from, to, alerts) become one
// control request or an error naming the field; the query string percent-decodes back to the
// same fields; the incident page's markup is the template's alone; the CSV export reads back as
// RFC 4180 with the same values and no cell a spreadsheet would run as a formula.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "ui-helper/dashboard_pages.h"

namespace {

std::string decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safegate::ui;
  if (size > 4096) return 0;
  std::vector<std::string> f(6);
  size_t field = 0;
  for (size_t i = 0; i < size && field < f.size(); ++i) {
    if (data[i] == '\n') {
      ++field;
    } else {
      f[field] += static_cast<char>(data[i]);
    }
  }
  IncidentSearch s;
  s.group = f[0];
  s.client = f[1];
  s.category = f[2];
  s.since = f[3];
  s.until = f[4];
  s.alerts = f[5] == "1";
  auto r = incidentRequest(s, 50);
  if (r) {
    if ((*r)["cmd"] != "incidents") std::abort();
    if (!s.group.empty() && (*r)["group"] != s.group) std::abort();
    if (r->contains("since_ms") && r->contains("until_ms") &&
        (*r)["until_ms"].get<int64_t>() <= (*r)["since_ms"].get<int64_t>()) {
      std::abort();
    }
  } else if (r.status().message().empty()) {
    std::abort();
  }
  // The query: only unreserved characters, '%', '=' and '&'; each value decodes back.
  const std::string q = searchQuery(s);
  for (char c : q) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                    c == '_' || c == '~' || c == '%' || c == '=' || c == '&';
    if (!ok) std::abort();
  }
  size_t at = 0;
  while (at < q.size()) {
    const size_t end = std::min(q.find('&', at), q.size());
    const std::string item = q.substr(at, end - at);
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq), value = decode(item.substr(eq + 1));
    if ((key == "group" && value != s.group) || (key == "client" && value != s.client) ||
        (key == "category" && value != s.category)) {
      std::abort();
    }
    at = end + 1;
  }
  // The page: markup comes from the template only. With every '<', '>' and '"' in the fields
  // replaced by 'x', the page has as many of each as before (an escaped one is an entity).
  const Session lead{"id", "csrf", "lee", Role::kLead, "h", 0, 0};
  // One incident made of the search's own fields.
  const auto rowsOf = [](const IncidentSearch& q) {
    return nlohmann::json::array({{{"id", 1},
                                   {"time_ms", 0},
                                   {"client", q.client},
                                   {"group", q.group},
                                   {"name", q.category},
                                   {"category", q.category},
                                   {"verdict", "block"}}});
  };
  const auto page = [&](const IncidentSearch& q) {
    return renderIncidents(lead, q, {q.group}, rowsOf(q), {}, q.since);
  };
  IncidentSearch plain = s;
  for (std::string* v : {&plain.group, &plain.client, &plain.category, &plain.since}) {
    std::replace_if(
        v->begin(), v->end(), [](char c) { return c == '<' || c == '>' || c == '"'; }, 'x');
  }
  const std::string with = page(s), without = page(plain);
  for (char c : {'<', '>', '"'}) {
    if (std::count(with.begin(), with.end(), c) != std::count(without.begin(), without.end(), c)) {
      std::abort();
    }
  }
  // The CSV, read back as RFC 4180: two records of eight cells, none a spreadsheet would run.
  const std::string csv = incidentsCsv(rowsOf(s));
  std::vector<std::vector<std::string>> records(1);
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < csv.size(); ++i) {
    const char c = csv[i];
    if (quoted) {
      if (c == '"' && i + 1 < csv.size() && csv[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',' || (c == '\r' && i + 1 < csv.size() && csv[i + 1] == '\n')) {
      records.back().push_back(cell);
      cell.clear();
      if (c == '\r') {
        ++i;
        records.emplace_back();
      }
    } else {
      cell += c;
    }
  }
  if (quoted || !cell.empty() || records.size() != 3 || !records.back().empty()) std::abort();
  for (size_t r = 0; r < 2; ++r) {
    if (records[r].size() != 8) std::abort();
    for (const std::string& v : records[r]) {
      if (!v.empty() && std::string_view("=+-@\t\r").find(v[0]) != std::string_view::npos) {
        std::abort();
      }
    }
  }
  if (records[1][1] != s.client && records[1][1] != "'" + s.client) std::abort();
  return 0;
}
