#include "policy/hotline_report.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

HotlineReportInput sample() {
  HotlineReportInput in;
  in.location = *parseReportedLocation("http://example.test/a/b?c=1");
  in.category = "child-abuse";
  in.reporter = ReporterRole::kStaff;
  in.note = "seen on a pupil's screen in lesson 3";
  in.reported_unix_seconds = 1'700'000'000;
  in.report_id = "0123456789abcdef0123456789abcdef";
  in.deployment_id = "school-42";
  in.operator_contact = "dsl@school.example";
  return in;
}

// Every report goes through Debian's python3-jsonschema against docs/hotline-report.schema.json.
std::string schemaViolations(const std::string& documents) {
  testing::TempDir dir;
  const auto input = dir.write("reports.jsonl", documents);
  const std::string cmd =
      "/usr/bin/python3 '" +
      (testing::sourceDir() / "tests/support/validate_json_schema.py").string() + "' '" +
      (testing::sourceDir() / "docs/hotline-report.schema.json").string() + "' < '" +
      input.string() + "' 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return out.empty() ? "validator failed" : out;
}

TEST(HotlineReportTest, ReportCarriesTheLocationAndNothingAboutTheChild) {
  auto body = buildHotlineReport(sample());
  ASSERT_TRUE(body.isOk()) << body.status().toString();
  auto j = nlohmann::json::parse(body.value());
  EXPECT_EQ(j["url"], "http://example.test/a/b?c=1");
  EXPECT_EQ(j["host"], "example.test");
  EXPECT_EQ(j["suspected_content"], "child-sexual-abuse-material");
  EXPECT_EQ(j["incident_type"], "webPageIncident");
  EXPECT_EQ(j["reporter_role"], "staff");
  EXPECT_EQ(j["reported_at"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(j["source"]["deployment_id"], "school-42");
  for (const char* forbidden : {"client", "mac", "pseudonym", "address", "history", "group"}) {
    EXPECT_FALSE(j.contains(forbidden)) << forbidden;
  }
}

TEST(HotlineReportTest, EveryReportShapeValidatesAgainstThePublishedSchema) {
  std::string docs;
  HotlineReportInput in = sample();
  docs += buildHotlineReport(in).value() + "\n";
  in.note.clear();
  in.category = "terrorism";
  in.reporter = ReporterRole::kChild;
  in.location = *parseReportedLocation("https://[2001:db8::1]:8443/x");
  docs += buildHotlineReport(in).value() + "\n";
  in.location = *parseReportedLocation("bücher.example");
  in.note = std::string("bad utf-8 \xff\xfe here");
  docs += buildHotlineReport(in).value() + "\n";
  EXPECT_EQ(schemaViolations(docs), "");
}

TEST(HotlineReportTest, SchemaRejectsAReportThatNamesAClient) {
  auto j = nlohmann::json::parse(buildHotlineReport(sample()).value());
  j["client"] = "192.168.1.20";
  EXPECT_NE(schemaViolations(j.dump() + "\n").find("'client' was unexpected"), std::string::npos);
}

TEST(HotlineReportTest, OnlyHotlineCategoriesAndShortNotesAreAccepted) {
  HotlineReportInput in = sample();
  in.category = "gambling";
  auto r = buildHotlineReport(in);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("child-abuse, terrorism"), std::string::npos);
  in = sample();
  in.note.assign(1001, 'x');
  EXPECT_FALSE(buildHotlineReport(in).isOk());
}

TEST(ReportedLocationTest, NormalisesWhatAPersonPastes) {
  EXPECT_EQ(parseReportedLocation("example.test")->url, "http://example.test/");
  EXPECT_EQ(parseReportedLocation("  HTTPS://Example.TEST/Path#frag ")->url,
            "https://example.test/Path");
  EXPECT_EQ(parseReportedLocation("http://user:pw@example.test:8080/p?q")->url,
            "http://example.test:8080/p?q");
  EXPECT_EQ(parseReportedLocation("http://example.test?q=1")->url, "http://example.test/?q=1");
  EXPECT_EQ(parseReportedLocation("bücher.example/x")->host, "xn--bcher-kva.example");
  EXPECT_EQ(parseReportedLocation("http://192.0.2.7/x")->host, "192.0.2.7");
}

TEST(ReportedLocationTest, RefusesWhatCannotBeALocation) {
  for (const char* bad : {"", "ftp://example.test/", "http://exa mple.test/", "http://[::1/x",
                          "http://example.test:80a/", "http://ex_\x01.test/"}) {
    EXPECT_FALSE(parseReportedLocation(bad).isOk()) << bad;
  }
  EXPECT_FALSE(parseReportedLocation(std::string(3000, 'a')).isOk());
}

}  // namespace
}  // namespace safegate
