// /metrics rendering (ui-helper/metrics.h): counters and gauges named from the daemon's stats
// and status, per-upstream samples grouped under one TYPE line, large counts exact, text
// fields skipped, and only safegate_up 0 when the daemon could not be asked.
#include "ui-helper/metrics.h"

#include <gtest/gtest.h>

namespace safegate::ui {
namespace {

using nlohmann::json;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(MetricsTest, CountersGaugesAndLabelsFromStatsAndStatus) {
  const json stats = {{"dns", {{"queries_udp", 12345678901234ull}, {"in_flight", 3}}},
                      {"outbox", {{"delivered", 2}, {"last_error", "timeout"}}}};
  const json status = {
      {"health", "ok: incident database writable"},
      {"uptime_seconds", 1.5},
      {"policy", {{"list_entries", 42}, {"names_mapped", true}}},
      {"encrypted_upstreams",
       json::array(
           {{{"upstream", "tls://9.9.9.9:853#dns.quad9.net"}, {"queries", 5}, {"failures", 1}},
            {{"upstream", "https://1.1.1.1:443/dns-query"}, {"queries", 7}, {"failures", 0}}})}};
  const std::string text = renderPrometheus(stats, status);
  EXPECT_NE(text.find("safegate_up 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("safegate_healthy 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE safegate_dns_queries_udp_total counter\n"
                      "safegate_dns_queries_udp_total 12345678901234\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE safegate_dns_in_flight gauge\nsafegate_dns_in_flight 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("safegate_uptime_seconds 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("safegate_policy_list_entries 42\n"), std::string::npos);
  EXPECT_NE(
      text.find("# TYPE safegate_policy_names_mapped gauge\nsafegate_policy_names_mapped 1\n"),
      std::string::npos);  // a yes/no state is a gauge
  EXPECT_EQ(text.find("last_error"), std::string::npos);
  // Both upstreams' samples follow their family's one TYPE line.
  EXPECT_EQ(count(text, "# TYPE safegate_encrypted_upstream_queries_total counter"), 1u);
  EXPECT_NE(text.find("safegate_encrypted_upstream_queries_total{upstream=\"tls://9.9.9.9:853#dns."
                      "quad9.net\"} 5\nsafegate_encrypted_upstream_queries_total{upstream=\"https:"
                      "//1.1.1.1:443/dns-query\"} 7\n"),
            std::string::npos)
      << text;
}

TEST(MetricsTest, IncidentsByCategoryAreOneLabelledCounter) {
  const json stats = {
      {"incidents_by_category",
       json::array({{{"category", "gambling"}, {"verdict", "block"}, {"count", 7}},
                    {{"category", "say \"hi\""}, {"verdict", "monitor"}, {"count", 1}},
                    {{"category", "x"}}})}};
  const std::string text = renderPrometheus(stats, json::object());
  EXPECT_EQ(count(text, "# TYPE safegate_incidents_by_category_total counter"), 1u) << text;
  EXPECT_NE(
      text.find("safegate_incidents_by_category_total{category=\"gambling\",verdict=\"block\"} 7\n"
                "safegate_incidents_by_category_total{category=\"say \\\"hi\\\"\",verdict="
                "\"monitor\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_EQ(count(text, "category=\"x\""), 0u) << "a row without a count is left out";
}

TEST(MetricsTest, ADaemonThatDidNotAnswerIsOnlyUpZero) {
  const std::string text = renderPrometheus(nullptr, nullptr);
  EXPECT_NE(text.find("safegate_up 0\n"), std::string::npos);
  EXPECT_EQ(count(text, "\nsafegate_"), 1u) << text;
}

}  // namespace
}  // namespace safegate::ui
