#include "ui-helper/dashboard_pages.h"

#include <gtest/gtest.h>

#include <string>

namespace safegate::ui {
namespace {

constexpr int64_t kNow = 1'795'430'000;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(DashboardPagesTest, PagesEscapeWhatTheyShowAndHideWhatARoleMayNotDo) {
  Session viewer{"id", "csrf<", "vic", Role::kViewer, "h", kNow, kNow};
  Session lead = viewer;
  lead.role = Role::kLead;
  const nlohmann::json requests = nlohmann::json::array({{{"id", 4},
                                                          {"kind", "access"},
                                                          {"client", "10.0.0.5"},
                                                          {"name", "a.test"},
                                                          {"category", "games"},
                                                          {"group", "pupils"},
                                                          {"reason", "<script>x</script>"},
                                                          {"created", kNow},
                                                          {"state", "pending"}}});
  const std::string as_lead = renderRequests(lead, requests, "");
  EXPECT_NE(as_lead.find("&lt;script&gt;x&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(as_lead.find("<script>"), std::string::npos);
  EXPECT_NE(as_lead.find("value=\"approve\""), std::string::npos);
  EXPECT_NE(as_lead.find("name=\"csrf\" value=\"csrf&lt;\""), std::string::npos);
  EXPECT_EQ(renderRequests(viewer, requests, "").find("value=\"approve\""), std::string::npos);
  OverviewData d;
  d.incidents = nlohmann::json::array({{{"name", "x.test"}, {"client", "c-1"}}});
  EXPECT_NE(renderOverview(lead, d).find("x.test"), std::string::npos);
  EXPECT_EQ(renderOverview(viewer, d).find("x.test"), std::string::npos);
  EXPECT_EQ(renderOverview(lead, d).find("Audit log"), std::string::npos);
  EXPECT_EQ(renderOverview(viewer, d).find("href=\"/incidents\""), std::string::npos);
}

TEST(DashboardPagesTest, AMayBeIllegalReportIsForwardedOrClosedNotGivenMinutes) {
  Session lead{"id", "tok", "lee", Role::kLead, "h", kNow, kNow};
  const nlohmann::json requests = nlohmann::json::array({{{"id", 9},
                                                          {"kind", "suspected-illegal"},
                                                          {"client", "10.0.0.5"},
                                                          {"name", "bad.test"},
                                                          {"created", kNow},
                                                          {"state", "pending"}}});
  const std::string h = renderRequests(lead, requests, "");
  EXPECT_NE(h.find("<option value=\"child-abuse\">"), std::string::npos);
  EXPECT_NE(h.find(">Forward to the hotline</button>"), std::string::npos);
  EXPECT_NE(h.find(">Close without forwarding</button>"), std::string::npos);
  EXPECT_EQ(h.find("name=\"minutes\""), std::string::npos) << "no exception is granted";
  Session viewer = lead;
  viewer.role = Role::kViewer;
  EXPECT_EQ(renderRequests(viewer, requests, "").find("Forward"), std::string::npos);
}

TEST(DashboardPagesTest, AGroupIsRedForAlertsAmberForRequestsOrAnUnusualDayElseGreen) {
  EXPECT_EQ(groupState(0, 0, 1, 0), GroupState::kRed);
  EXPECT_EQ(groupState(500, 0, 1, 3), GroupState::kRed) << "an alert outranks everything";
  EXPECT_EQ(groupState(0, 0, 0, 1), GroupState::kAmber);
  // 70 blocks the week before: 10 a day. Twice that is the line.
  EXPECT_EQ(groupState(20, 70, 0, 0), GroupState::kGreen);
  EXPECT_EQ(groupState(21, 70, 0, 0), GroupState::kAmber);
  // A handful on a quiet network is not unusual.
  EXPECT_EQ(groupState(kAmberMinimumBlocks - 1, 0, 0, 0), GroupState::kGreen);
  EXPECT_EQ(groupState(kAmberMinimumBlocks, 0, 0, 0), GroupState::kAmber);
  EXPECT_EQ(groupStateName(GroupState::kAmber), "amber");
}

TEST(DashboardPagesTest, DaysAreStrictUtcDates) {
  EXPECT_EQ(*parseDay("2026-12-07"), 1'796'601'600);
  EXPECT_EQ(*parseDay("1970-01-01"), 0);
  for (const char* bad : {"", "2026-12-7", "2026-02-31", "2026-13-01", "20261207", "2026-12-07x",
                          "+026-12-07", "2026-1a-07"}) {
    EXPECT_FALSE(parseDay(bad)) << bad;
  }
}

TEST(DashboardPagesTest, ASearchBecomesOneControlRequestWithWholeDays) {
  IncidentSearch s;
  s.group = "pupils";
  s.client = "c-0a1b";
  s.category = "gambling";
  s.since = "2026-12-01";
  s.until = "2026-12-07";
  s.alerts = true;
  auto r = incidentRequest(s, 50);
  ASSERT_TRUE(r) << r.status().toString();
  EXPECT_EQ((*r)["cmd"], "incidents");
  EXPECT_EQ((*r)["group"], "pupils");
  EXPECT_EQ((*r)["client"], "c-0a1b");
  EXPECT_EQ((*r)["category"], "gambling");
  EXPECT_EQ((*r)["alerts"], true);
  EXPECT_EQ((*r)["since_ms"], int64_t{1'796'083'200} * 1000);
  EXPECT_EQ((*r)["until_ms"], int64_t{1'796'601'600 + 86400} * 1000) << "the To day is included";
  EXPECT_FALSE(r->contains("before_ms"));
  s.before_ms = 5;
  s.before_id = 9;
  EXPECT_EQ((*incidentRequest(s, 50))["before_id"], 9);

  s.since = "2026-12-08";
  EXPECT_NE(incidentRequest(s, 50).status().message().find("before From"), std::string::npos);
  s.since = "yesterday";
  EXPECT_NE(incidentRequest(s, 50).status().message().find("From: \"yesterday\""),
            std::string::npos);
  EXPECT_EQ(incidentRequest({}, 50)->size(), 2u) << "no filter: cmd and limit only";
}

TEST(DashboardPagesTest, TheSearchQueryIsPercentEncodedWithoutTheCursor) {
  IncidentSearch s;
  s.group = "year 7&8";
  s.client = "tablet=<1>";
  s.alerts = true;
  s.before_ms = 77;
  EXPECT_EQ(searchQuery(s), "group=year%207%268&client=tablet%3D%3C1%3E&alerts=1");
  EXPECT_EQ(searchQuery({}), "");
}

TEST(DashboardPagesTest, CsvQuotesWhatNeedsItAndDefusesFormulas) {
  const nlohmann::json rows = nlohmann::json::array({{{"time_ms", int64_t{kNow} * 1000},
                                                      {"client", "=HYPERLINK(\"x\")"},
                                                      {"group", "a,b"},
                                                      {"name", "line\nbreak"},
                                                      {"category", "-1"},
                                                      {"verdict", "block"},
                                                      {"alert", true},
                                                      {"protocol", "dns"}}});
  const std::string csv = incidentsCsv(rows);
  EXPECT_EQ(csv,
            "time_utc,device,group,name,category,verdict,alert,protocol\r\n"
            "2026-11-23T10:33:20Z,\"'=HYPERLINK(\"\"x\"\")\",\"a,b\",\"line\nbreak\",'-1,block,1,"
            "dns\r\n");
  EXPECT_EQ(incidentsCsv(nlohmann::json()),
            "time_utc,device,group,name,category,verdict,alert,"
            "protocol\r\n");
}

TEST(DashboardPagesTest, ChartsAreLabelledImagesWithTheirNumbersInATable) {
  const std::string chart =
      barChart("c1", "Blocks <by> category", {"games", "<adult>"}, {30, 10}, false);
  EXPECT_NE(chart.find("<svg role=\"img\" aria-labelledby=\"c1\""), std::string::npos);
  EXPECT_NE(chart.find("<figcaption id=\"c1\">Blocks &lt;by&gt; category</figcaption>"),
            std::string::npos);
  EXPECT_NE(chart.find("<th scope=\"row\">&lt;adult&gt;</th><td>10</td>"), std::string::npos);
  EXPECT_EQ(chart.find("<adult>"), std::string::npos);
  EXPECT_EQ(count(chart, "<rect"), 2u);
  // The longest bar is the largest value; the other in proportion.
  EXPECT_NE(chart.find("width=\"380\""), std::string::npos);
  EXPECT_NE(chart.find("width=\"126\""), std::string::npos);
  EXPECT_NE(barChart("c2", "Empty", {"a"}, {0}, true).find("No blocks."), std::string::npos);
  const std::string hours =
      barChart("c3", "Hours", std::vector<std::string>(24, "h"), std::vector<int64_t>(24, 1), true);
  EXPECT_EQ(count(hours, "<rect"), 24u);
  EXPECT_EQ(count(hours, "font-size=\"11\""), 8u) << "every third hour labelled";
}

TEST(DashboardPagesTest, TheOverviewShowsEachGroupsStateChartsListsAndTheOutbox) {
  Session lead{"id", "csrf", "lee", Role::kLead, "h", kNow, kNow};
  OverviewData d;
  const int64_t since = (kNow / 3600 - 23) * 3600;
  d.summary = {
      {"since_ms", since * 1000},
      {"blocks_by_hour", {{{"hour", since}, {"count", 4}}, {{"hour", since + 7200}, {"count", 2}}}},
      {"blocks_by_category", {{{"category", "gambling"}, {"count", 6}}}},
      {"groups",
       {{{"group", "pupils"}, {"blocks", 6}, {"blocks_before", 70}, {"alerts", 1}},
        {{"group", "staff"}, {"blocks", 1}, {"blocks_before", 7}, {"alerts", 0}}}}};
  d.pending_by_group = {{"guests", 2}};
  d.pending = 2;
  d.status = {{"health", "ok: incident database writable"},
              {"outbox", {{"pending", 3}, {"dead", 1}, {"delivered", 9}}}};
  d.lists = nlohmann::json::array({{{"name", "adult"},
                                    {"entries", 1200},
                                    {"last_success_unix_ms", int64_t{kNow} * 1000},
                                    {"next_refresh_unix_ms", int64_t{kNow + 3600} * 1000},
                                    {"last_error", "HTTP 404 <from> mirror"}}});
  const std::string h = renderOverview(lead, d);
  EXPECT_NE(h.find("<a href=\"/incidents?group=pupils\">pupils</a></th><td><span class=\"rag "
                   "rag-red\">Red</span>"),
            std::string::npos);
  EXPECT_NE(h.find("staff</a></th><td><span class=\"rag rag-green\">Green</span>"),
            std::string::npos);
  EXPECT_NE(h.find("guests</a></th><td><span class=\"rag rag-amber\">Amber</span>"),
            std::string::npos);
  EXPECT_EQ(count(h, "<rect"), 24u + 1u) << "24 hour bars (zeros included) and one category";
  EXPECT_NE(h.find("Reports to send <strong class=\"bad\">3</strong>1 given up, 9 delivered"),
            std::string::npos);
  EXPECT_NE(h.find("HTTP 404 &lt;from&gt; mirror"), std::string::npos);
  EXPECT_NE(h.find("<td>1200</td><td>2026-11-23T10:33:20Z</td>"), std::string::npos);

  Session viewer = lead;
  viewer.role = Role::kViewer;
  const std::string v = renderOverview(viewer, d);
  EXPECT_NE(v.find("<th scope=\"row\">pupils</th>"), std::string::npos) << "counts, no links";
  EXPECT_EQ(v.find("/incidents"), std::string::npos);
}

TEST(DashboardPagesTest, TheIncidentPageKeepsTheSearchInItsLinks) {
  Session lead{"id", "csrf", "lee", Role::kLead, "h", kNow, kNow};
  IncidentSearch s;
  s.group = "pupils";
  s.client = "\"><b>";
  const nlohmann::json rows = nlohmann::json::array({{{"id", 7},
                                                      {"time_ms", int64_t{kNow} * 1000},
                                                      {"client", "c-0a1b"},
                                                      {"group", "pupils"},
                                                      {"name", ""},
                                                      {"category", "csam"},
                                                      {"verdict", "block"},
                                                      {"alert", true}}});
  const std::string h =
      renderIncidents(lead, s, {"pupils", "staff"}, rows,
                      {{"before_ms", int64_t{kNow} * 1000}, {"before_id", 7}}, "");
  EXPECT_NE(h.find("<option selected>pupils</option>"), std::string::npos);
  EXPECT_NE(h.find("value=\"&quot;&gt;&lt;b&gt;\""), std::string::npos);
  EXPECT_EQ(h.find("<b>"), std::string::npos);
  EXPECT_NE(h.find("(not shown)"), std::string::npos) << "a confidential category has no name";
  EXPECT_NE(h.find("block, alert"), std::string::npos);
  EXPECT_NE(h.find("<a href=\"/device?client=c-0a1b\">c-0a1b</a>"), std::string::npos);
  EXPECT_NE(h.find("href=\"/incidents?group=pupils&amp;client=%22%3E%3Cb%3E&amp;before_ms=" +
                   std::to_string(int64_t{kNow} * 1000) + "&amp;before_id=7\">Older"),
            std::string::npos);
  EXPECT_NE(h.find("href=\"/incidents.csv?group=pupils&amp;client=%22%3E%3Cb%3E\" download"),
            std::string::npos);
  const std::string partial = renderIncidents(
      lead, s, {}, nlohmann::json::array(),
      {{"before_ms", 5000}, {"before_id", 3}, {"searched_back_to_ms", int64_t{kNow} * 1000}}, "");
  EXPECT_NE(partial.find("No match yet."), std::string::npos);
  EXPECT_NE(partial.find("back to 2026-11-23T10:33:20Z (UTC)"), std::string::npos);
  EXPECT_NE(partial.find("before_ms=5000&amp;before_id=3\">Search further back</a>"),
            std::string::npos);
  EXPECT_NE(renderIncidents(lead, {}, {}, nlohmann::json::array(), {}, "To is before From")
                .find("role=\"alert\">To is before From"),
            std::string::npos);
}

TEST(DashboardPagesTest, ADevicePageSumsItsWeekByDay) {
  Session lead{"id", "csrf", "lee", Role::kLead, "h", kNow, kNow};
  const int64_t day = kNow / 86400 * 86400 - 6 * 86400;
  const nlohmann::json summary = {
      {"since_ms", day * 1000},
      {"blocks_by_hour",
       {{{"hour", day + 3600}, {"count", 2}},
        {{"hour", day + 7200}, {"count", 3}},
        {{"hour", day + 6 * 86400}, {"count", 1}}}},
      {"blocks_by_category", {{{"category", "games"}, {"count", 6}}}},
      {"groups", {{{"group", "pupils"}, {"blocks", 6}, {"alerts", 0}}}}};
  const std::string h = renderDevice(lead, "c-0a1b", summary, nlohmann::json::array());
  EXPECT_NE(h.find("<title>Device c-0a1b - safegate</title>"), std::string::npos);
  EXPECT_EQ(count(h, "<rect"), 7u + 1u) << "seven day bars and one category";
  EXPECT_NE(h.find("</th><td>5</td>"), std::string::npos) << "the first day's hours summed";
  EXPECT_NE(h.find("Blocks <strong>6</strong>pupils"), std::string::npos);
}

TEST(DashboardPagesTest, ExceptionsCanBeEndedByALeadNotAViewer) {
  Session lead{"id", "tok", "lee", Role::kLead, "h", kNow, kNow};
  const nlohmann::json list = nlohmann::json::array({{{"id", 3},
                                                      {"kind", "allow"},
                                                      {"client", "10.0.0.5"},
                                                      {"name", "maths.test"},
                                                      {"until", kNow + 3600},
                                                      {"granted_by", "lee (dashboard)"},
                                                      {"note", "<homework>"}},
                                                     {{"id", 4},
                                                      {"kind", "pause"},
                                                      {"group", "pupils"},
                                                      {"until", kNow + 600},
                                                      {"granted_by", "root"},
                                                      {"note", ""}}});
  const std::string h = renderExceptions(lead, list, "");
  EXPECT_NE(h.find("<td>device 10.0.0.5</td><td>maths.test</td>"), std::string::npos);
  EXPECT_NE(h.find("<td>group pupils</td><td>everything</td>"), std::string::npos);
  EXPECT_NE(h.find("&lt;homework&gt;"), std::string::npos);
  EXPECT_EQ(count(h, "action=\"/exceptions/end\""), 2u);
  EXPECT_NE(h.find("name=\"csrf\" value=\"tok\""), std::string::npos);
  Session viewer = lead;
  viewer.role = Role::kViewer;
  EXPECT_EQ(renderExceptions(viewer, list, "").find("/exceptions/end"), std::string::npos);
  EXPECT_NE(renderExceptions(lead, nlohmann::json::array(), "").find("None in force."),
            std::string::npos);
}

}  // namespace
}  // namespace safegate::ui
