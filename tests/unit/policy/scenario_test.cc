// Runs every tests/scenarios/*.toml (config + files + exceptions + timed requests -> expected
// decisions); see tests/scenarios/README.md. One parameterised test, one instance per file.
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <filesystem>

#include "filters/domain_name.h"
#include "policy/policy_engine.h"
#include "policy/time_zone.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

namespace fs = std::filesystem;

// "YYYY-MM-DDTHH:MM:SSZ" -> unix seconds.
int64_t parseUtc(const std::string& s) {
  int y, mo, d, h, mi, se;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &se) != 6) {
    ADD_FAILURE() << "bad time " << s;
    return 0;
  }
  return static_cast<int64_t>(daysFromCivil(y, mo, d)) * 86400 + h * 3600 + mi * 60 + se;
}

std::vector<fs::path> scenarioFiles() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(testing::sourceDir() / "tests/scenarios")) {
    if (e.path().extension() == ".toml") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ScenarioTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(ScenarioTest, DecisionsMatchExpectations) {
  const fs::path file = GetParam();
  toml::table sc = toml::parse_file(file.string());
  testing::TempDir dir;
  if (const auto* files = sc["files"].as_table()) {
    for (auto&& [name, content] : *files) {
      dir.write(std::string(name.str()), content.value<std::string>().value_or(""));
    }
  }
  const fs::path config =
      dir.write("safegate.toml", sc["config"].value<std::string>().value_or(""));
  DiagnosticSink sink;
  auto loaded = PolicyEngine::load(config, sink);
  ASSERT_TRUE(loaded) << sink.toString();

  std::vector<TemporaryException> ex;
  if (const auto* arr = sc["exceptions"].as_array()) {
    for (const auto& n : *arr) {
      const auto& t = *n.as_table();
      TemporaryException e;
      const std::string kind = t["kind"].value_or(std::string("name"));
      e.kind = kind == "pause"      ? TemporaryException::Kind::kPause
               : kind == "category" ? TemporaryException::Kind::kCategory
                                    : TemporaryException::Kind::kName;
      e.scope = t["scope"].value_or(std::string("client")) == "group"
                    ? TemporaryException::Scope::kGroup
                    : TemporaryException::Scope::kClient;
      if (auto c = t["client"].value<std::string>()) e.client = *IpAddress::parse(*c);
      e.group = t["group"].value_or(std::string());
      e.name = t["name"].value_or(std::string());
      e.category = t["category"].value_or(std::string());
      e.created_unix_seconds = parseUtc(t["from"].value_or(std::string()));
      e.until_unix_seconds = parseUtc(t["until"].value_or(std::string()));
      e.granted_by = t["granted_by"].value_or(std::string());
      ex.push_back(std::move(e));
    }
  }
  ExceptionTablePtr table = std::make_shared<ExceptionTable>();
  for (auto& e : ex) {
    auto next = table->withAdded(std::move(e));
    ASSERT_TRUE(next) << next.status().toString();
    table = *next;
  }

  const auto* steps = sc["steps"].as_array();
  ASSERT_TRUE(steps && !steps->empty()) << file << " has no [[steps]]";
  size_t i = 0;
  for (const auto& n : *steps) {
    const auto& t = *n.as_table();
    ++i;
    const std::string raw = t["name"].value_or(std::string());
    auto canonical = normalizeDomain(raw, NameSyntax::kHostname);
    ASSERT_TRUE(canonical) << raw;
    RequestFacts facts;
    facts.client = *IpAddress::parse(t["client"].value_or(std::string("0.0.0.0")));
    if (auto mac = t["mac"].value<std::string>()) facts.mac = MacAddress::parse(*mac);
    const std::string proto = t["protocol"].value_or(std::string("dns"));
    facts.protocol = proto == "tls"    ? Protocol::kTls
                     : proto == "http" ? Protocol::kHttp
                     : proto == "quic" ? Protocol::kQuic
                                       : Protocol::kDns;
    facts.name = *canonical;
    const std::string path = t["path"].value_or(std::string());  // plain HTTP only
    facts.http_path = path;
    facts.unix_time_seconds = parseUtc(t["at"].value_or(std::string("2026-11-23T12:00:00Z")));
    const Decision d = loaded->snapshot->decide(facts, table.get());
    const std::string where = file.filename().string() + " step " + std::to_string(i) + " (" + raw +
                              "): " + renderReason(d);
    EXPECT_EQ(verdictName(d.verdict), t["verdict"].value_or(std::string())) << where;
    if (auto v = t["group"].value<std::string>()) {
      EXPECT_EQ(d.group, *v) << where;
    }
    if (auto v = t["category"].value<std::string>()) {
      EXPECT_EQ(d.category, *v) << where;
    }
    if (auto v = t["decided_by"].value<std::string>()) {
      EXPECT_EQ(decisionReasonName(d.reason), *v) << where;
    }
    if (auto v = t["rule"].value<std::string>()) {
      EXPECT_EQ(d.rule, *v) << where;
    }
    if (auto v = t["alert"].value<bool>()) {
      EXPECT_EQ(d.alert, *v) << where;
    }
    if (auto v = t["confidential"].value<bool>()) {
      EXPECT_EQ(d.confidential, *v) << where;
      if (*v) {
        EXPECT_TRUE(d.rule.empty()) << where;
        EXPECT_TRUE(d.source_file.empty()) << where;
      }
    }
    if (auto v = t["rewrite_target"].value<std::string>()) {
      EXPECT_EQ(d.rewrite_target, *v) << where;
    }
    if (auto v = t["block_answer"].value<std::string>()) {
      const char* names[] = {"nxdomain", "nodata", "null", "block-page", "refused"};
      EXPECT_EQ(names[static_cast<int>(d.block_answer)], *v) << where;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest, ::testing::ValuesIn(scenarioFiles()),
                         [](const ::testing::TestParamInfo<fs::path>& info) {
                           std::string n = info.param.stem().string();
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace safegate::policy
