#include "policy/config.h"

#include <gtest/gtest.h>

#include "policy/config_schema.h"
#include "policy/policy_engine.h"
#include "policy/suggest.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

std::string allDiagnostics(const DiagnosticSink& s) { return s.toString(); }

TEST(ConfigTest, EmptyFileGivesDocumentedDefaults) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", ""), sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_EQ(cfg->daemon.dns.listen, std::vector<std::string>{"127.0.0.1:5353"});
  EXPECT_EQ(cfg->daemon.dns.block_ttl_seconds, 60);
  EXPECT_FALSE(cfg->daemon.database.full_query_log);
  EXPECT_TRUE(cfg->daemon.privacy.pseudonymize_clients);
  EXPECT_EQ(cfg->daemon.state_dir, "/var/lib/safegate");
  EXPECT_EQ(cfg->daemon.database.path, "/var/lib/safegate/incidents.sqlite");
  EXPECT_EQ(cfg->daemon.control.mode, 0660u);
  EXPECT_EQ(cfg->daemon.control.admin_group, "");
  EXPECT_EQ(cfg->daemon.control.max_exception_minutes, 10080);
  ASSERT_EQ(cfg->groups.size(), 1u);
  EXPECT_EQ(cfg->groups[0].name, "unknown");
  EXPECT_EQ(cfg->groups[0].profile, "strict");
}

TEST(ConfigTest, DaemonSettingsAreReadAndPathsResolvedAgainstStateDir) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", R"(
[daemon]
state_dir = "state"
[dns]
listen = ["127.0.0.1:5300", "[::1]:5300"]
upstreams = ["127.0.0.1:53"]
workers = 2
cache_entries = 0
[database]
path = "x.db"
full_query_log = true
[inline]
enabled = true
queues = [3, 4]
fail_open = false
)"),
                        sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_EQ(cfg->daemon.state_dir, dir.path() / "state");
  EXPECT_EQ(cfg->daemon.database.path, dir.path() / "state/x.db");
  EXPECT_EQ(cfg->daemon.dns.listen.size(), 2u);
  EXPECT_EQ(cfg->daemon.dns.workers, 2);
  EXPECT_EQ(cfg->daemon.dns.cache_entries, 0);
  EXPECT_TRUE(cfg->daemon.database.full_query_log);
  EXPECT_TRUE(cfg->daemon.inline_mode.enabled);
  EXPECT_EQ(cfg->daemon.inline_mode.queues, (std::vector<uint16_t>{3, 4}));
  EXPECT_FALSE(cfg->daemon.inline_mode.fail_open);
  EXPECT_FALSE(cfg->groups[0].fail_open);  // groups inherit inline.fail_open
}

TEST(ConfigTest, AStateDirOverrideMovesEverythingResolvedAgainstIt) {
  // safegated --state-dir: the subscription copies must follow it too, or the refresher
  // downloads into one directory and the policy reads another.
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", R"(
[daemon]
state_dir = "state"
[database]
path = "x.db"
[[lists]]
name = "adult"
category = "pornography"
sources = ["https://lists.example/adult.txt"]
)"),
                        sink, dir.path() / "other");
  ASSERT_TRUE(cfg) << sink.toString();
  const auto other = dir.path() / "other";
  EXPECT_EQ(cfg->daemon.state_dir, other);
  EXPECT_EQ(cfg->daemon.database.path, other / "x.db");
  EXPECT_EQ(cfg->daemon.outbox.path.parent_path(), other);
  EXPECT_EQ(cfg->daemon.control.socket.parent_path(), other);
  ASSERT_TRUE(cfg->lists.at(0).subscription);
  EXPECT_EQ(cfg->lists[0].subscription->copy, other / "lists" / "adult.list");

  // Absolute paths under the configured state_dir move too; those elsewhere stay.
  const auto state = dir.path() / "state";
  DiagnosticSink sink2;
  auto abs =
      loadConfig(dir.write("d.toml", "[daemon]\nstate_dir = \"state\"\n[database]\npath = \"" +
                                         (state / "db" / "x.db").string() +
                                         "\"\n[privacy]\nsecret_file = \"/etc/sg-secret\"\n"),
                 sink2, other);
  ASSERT_TRUE(abs) << sink2.toString();
  EXPECT_EQ(abs->daemon.database.path, other / "db" / "x.db");
  EXPECT_EQ(abs->daemon.privacy.secret_file, "/etc/sg-secret");
}

TEST(ConfigTest, TheUisFilesLiveInUiStateDirUnlessAStateDirOverrideHoldsEverything) {
  testing::TempDir dir;
  const std::string text = R"(
[daemon]
state_dir = "state"
[ui]
state_dir = "ui-state"
audit_log = "/var/log/sg-audit.log"
)";
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", text), sink);
  ASSERT_TRUE(cfg) << sink.toString();
  const auto ui = dir.path() / "ui-state";
  EXPECT_EQ(cfg->daemon.ui.state_dir, ui);
  EXPECT_EQ(cfg->daemon.ui.users_file, ui / "ui-users");
  EXPECT_EQ(cfg->daemon.ui.dashboard_cert, ui / "dashboard.crt");
  EXPECT_EQ(cfg->daemon.ui.dashboard_key, ui / "dashboard.key");
  EXPECT_EQ(cfg->daemon.ui.audit_log, "/var/log/sg-audit.log");  // absolute stays
  EXPECT_EQ(cfg->daemon.database.path.parent_path(), dir.path() / "state");

  // Without ui.state_dir, the daemon's; with --state-dir, the override (a test instance never
  // writes into the production UI folder).
  DiagnosticSink sink2;
  auto plain = loadConfig(dir.write("d.toml", "[daemon]\nstate_dir = \"state\"\n"), sink2);
  ASSERT_TRUE(plain) << sink2.toString();
  EXPECT_EQ(plain->daemon.ui.users_file, dir.path() / "state" / "ui-users");
  DiagnosticSink sink3;
  auto moved = loadConfig(dir.path() / "c.toml", sink3, dir.path() / "other");
  ASSERT_TRUE(moved) << sink3.toString();
  EXPECT_EQ(moved->daemon.ui.state_dir, dir.path() / "other");
  EXPECT_EQ(moved->daemon.ui.users_file, dir.path() / "other" / "ui-users");
}

TEST(ConfigTest, ControlRolesAndExceptionBoundAreReadAndRangeChecked) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", R"(
[control]
admin_group = "sg-admin"
max_exception_minutes = 120
)"),
                        sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_EQ(cfg->daemon.control.admin_group, "sg-admin");
  EXPECT_EQ(cfg->daemon.control.max_exception_minutes, 120);
  DiagnosticSink bad;
  EXPECT_FALSE(loadConfig(dir.write("bad.toml", "[control]\nmax_exception_minutes = 0\n"), bad));
  EXPECT_NE(bad.toString().find("max_exception_minutes"), std::string::npos) << bad.toString();
}

// A reload names each restart-only key that changed by comparing these; they come from the
// schema's `restart` marks, so a new restart-only key cannot be forgotten.
TEST(ConfigTest, RestartOnlyValuesCoverEverySchemaKeyMarkedRestart) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", R"(
[dns]
listen = ["127.0.0.1:53"]
block_ttl_seconds = 5
workers = 2
[[alerts]]
name = "district"
kind = "syslog"
syslog_address = "collector.example:6514"
)"),
                        sink);
  ASSERT_TRUE(cfg) << sink.toString();
  const auto& v = cfg->restart_only_values;
  EXPECT_EQ(v.at("dns.listen"), "[ '127.0.0.1:53' ]");
  EXPECT_EQ(v.at("dns.workers"), "2");
  EXPECT_EQ(v.at("dns.rate_limit_qps"), "200");  // absent: its default
  EXPECT_EQ(v.at("alerts[0].syslog_address"), "'collector.example:6514'");
  EXPECT_FALSE(v.contains("dns.block_ttl_seconds"));  // live
  for (const KeyDef& d : schemaKeys()) {
    if (d.reload != Reload::kRestart || d.type == KeyType::kTable ||
        d.type == KeyType::kTableArray || d.path.find('[') != std::string_view::npos) {
      continue;
    }
    EXPECT_TRUE(v.contains(std::string(d.path))) << d.path;
  }
}

TEST(ConfigTest, UnusedMaxPacketsPerFlowIsAcceptedWithAWarning) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", "[inline]\nmax_packets_per_flow = 8\n"), sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_EQ(sink.warningCount(), 1u);
  EXPECT_NE(sink.toString().find("c.toml:2:24: warning: inline.max_packets_per_flow is no longer"),
            std::string::npos)
      << sink.toString();
}

// An https:// source is a subscription compiled from its kept copy under
// state_dir/lists; a file:// URL is a file; plain http:// and a second subscription per list
// are errors; before the first download the list compiles empty, with a warning.
TEST(ConfigTest, HttpsSourcesAreSubscriptionsCompiledFromTheirKeptCopy) {
  testing::TempDir dir;
  dir.write("local.txt", "local.example\n");
  const std::string state = (dir.path() / "state").string();
  const auto path = dir.write("c.toml", "[daemon]\nstate_dir = \"" + state +
                                            "\"\n[[lists]]\nname = \"ut1-adult\"\n"
                                            "category = \"pornography\"\nsources = [\"file://" +
                                            (dir.path() / "local.txt").string() +
                                            "\", \"https://lists.example/adult.txt\"]\n"
                                            "update_interval_hours = 6\nmax_shrink_percent = 20\n");
  DiagnosticSink sink;
  auto cfg = loadConfig(path, sink);
  ASSERT_TRUE(cfg) << sink.toString();
  const ListSpec& l = cfg->lists.at(0);
  ASSERT_EQ(l.sources.size(), 1u);
  EXPECT_EQ(l.sources[0], dir.path() / "local.txt");
  ASSERT_TRUE(l.subscription);
  EXPECT_EQ(l.subscription->url, "https://lists.example/adult.txt");
  EXPECT_EQ(l.subscription->copy, dir.path() / "state" / "lists" / "ut1-adult.list");
  EXPECT_EQ(l.subscription->update_interval_hours, 6);
  EXPECT_EQ(l.subscription->max_shrink_percent, 20);
  EXPECT_EQ(l.subscription->max_bytes, 268435456);

  DiagnosticSink before;
  auto empty = PolicySnapshot::compile(*cfg, before);
  ASSERT_TRUE(empty) << before.toString();
  EXPECT_EQ((*empty)->stats().list_entries, 1u);
  EXPECT_NE(before.toString().find("not downloaded yet"), std::string::npos) << before.toString();

  std::filesystem::create_directories(dir.path() / "state" / "lists");
  dir.write("state/lists/ut1-adult.list", "a.example\nb.example\n");
  DiagnosticSink after;
  auto full = PolicySnapshot::compile(*cfg, after);
  ASSERT_TRUE(full) << after.toString();
  EXPECT_EQ((*full)->stats().list_entries, 3u);
  EXPECT_EQ(after.warningCount(), 0u) << after.toString();

  DiagnosticSink bad;
  EXPECT_FALSE(loadConfig(dir.write("bad.toml",
                                    "[[lists]]\nname = \"x\"\ncategory = "
                                    "\"gambling\"\nsources = [\"http://a/b.txt\", "
                                    "\"https://a/1\", \"https://a/2\"]\n"),
                          bad));
  EXPECT_NE(bad.toString().find("plain http:// lists can be altered"), std::string::npos)
      << bad.toString();
  EXPECT_NE(bad.toString().find("one https:// subscription per list"), std::string::npos)
      << bad.toString();
}

// A minisign key is checked for its shape at load, so the daemon can always decode it.
TEST(ConfigTest, ListPublicKeyIsAMinisignKeyOrAnErrorWithWhere) {
  testing::TempDir dir;
  const std::string good = "RWRD7xUU/M1vYzs1SBzftAh24K4WWT/Z+vhMDhNp/ciIWB7QUz88e28o";
  auto config = [&](const std::string& key) {
    return "[[lists]]\nname = \"signed\"\ncategory = \"gambling\"\nsources = "
           "[\"https://lists.example/g.txt\"]\npublic_key = \"" +
           key + "\"\n";
  };
  DiagnosticSink ok;
  auto cfg = loadConfig(dir.write("ok.toml", config(good)), ok);
  ASSERT_TRUE(cfg) << ok.toString();
  EXPECT_EQ(cfg->lists.at(0).subscription->public_key, good);
  for (const char* bad : {"RWRD7xUU", "untrusted comment: minisign public key 636FCDFC1415EF43",
                          // right length, but the algorithm bytes are not "Ed"
                          "RWAD7xUU/M1vYzs1SBzftAh24K4WWT/Z+vhMDhNp/ciIWB7QUz88e28o",
                          "QWRD7xUU/M1vYzs1SBzftAh24K4WWT/Z+vhMDhNp/ciIWB7QUz88e28o"}) {
    DiagnosticSink sink;
    EXPECT_FALSE(loadConfig(dir.write("bad.toml", config(bad)), sink)) << bad;
    EXPECT_NE(sink.toString().find("bad.toml:5:"), std::string::npos) << sink.toString();
    EXPECT_NE(sink.toString().find("is not a minisign public key"), std::string::npos)
        << sink.toString();
  }
}

TEST(ConfigTest, ReportsEveryErrorInOneRunWithLocationsAndSuggestions) {
  testing::TempDir dir;
  DiagnosticSink sink;
  const auto path = dir.write("c.toml", R"([dns]
listen = ["127.0.0.1:70000"]
workerz = 2
block_ttl_seconds = "60"
[[schedules]]
name = "school-hours"
windows = ["mon-fri 08:30-15:30", "funday 10:00-11:00"]
[[groups]]
name = "year7"
profile = "9-12"
categories = { gamblin = "block", social = "blok" }
[[groups.schedules]]
schedule = "schol-hours"
[[clients]]
name = "x"
group = "year8"
addresses = ["10.0.0.1"]
)");
  auto cfg = loadConfig(path, sink);
  ASSERT_FALSE(cfg);
  const std::string all = allDiagnostics(sink);
  const std::string p = path.string();
  EXPECT_NE(all.find(p + ":2:11: error: dns.listen[0]: port of \"127.0.0.1:70000\""),
            std::string::npos)
      << all;
  EXPECT_NE(
      all.find(p + ":3:1: error: dns.workerz: unknown key \"workerz\"; did you mean \"workers\"?"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("dns.block_ttl_seconds: expected integer, found a string"), std::string::npos)
      << all;
  EXPECT_NE(all.find("schedules[0].windows[1]: unknown day \"funday\""), std::string::npos) << all;
  EXPECT_NE(all.find("unknown category \"gamblin\"; did you mean \"gambling\"?"), std::string::npos)
      << all;
  EXPECT_NE(all.find("\"blok\" is not one of"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean \"block\"?"), std::string::npos) << all;
  EXPECT_NE(all.find(":13:12: error: groups[0].schedules[0].schedule: unknown schedule "
                     "\"schol-hours\"; did you mean \"school-hours\"?"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("clients[0].group: unknown group \"year8\"; did you mean \"year7\"?"),
            std::string::npos)
      << all;
  EXPECT_EQ(sink.errorCount(), 8u) << all;
}

TEST(ConfigTest, IllegalCategoriesCannotBeAllowed) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", R"([[groups]]
name = "staff"
categories = { child-abuse = "allow" }
)"),
                        sink);
  ASSERT_FALSE(cfg);
  EXPECT_NE(sink.toString().find("always blocked"), std::string::npos) << sink.toString();
}

TEST(ConfigTest, IncludesAreRelativeToTheIncludingFileAndMergeArrays) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "shared");
  dir.write("shared/groups.toml", "[[groups]]\nname = \"kids\"\n[dns]\nworkers = 3\n");
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("main.toml",
                                  "include = [\"shared/groups.toml\"]\n"
                                  "[[groups]]\nname = \"adults\"\nprofile = \"open\"\n"),
                        sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_EQ(cfg->daemon.dns.workers, 3);
  ASSERT_GE(cfg->groups.size(), 2u);
  EXPECT_EQ(cfg->files.size(), 2u);
}

// An include naming a directory is reported; reading it used to throw (EISDIR from the
// stream buffer) and take `safegatectl check-config` or a reloading daemon down.
TEST(ConfigTest, IncludeOfADirectoryAndARegionTimeZoneAreErrorsNotCrashes) {
  testing::TempDir dir;
  std::filesystem::create_directory(dir.path() / "conf.d");
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("main.toml", "include = [\"conf.d\"]\n"), sink);
  EXPECT_FALSE(cfg);
  EXPECT_NE(sink.toString().find("include: cannot read"), std::string::npos) << sink.toString();
  EXPECT_NE(sink.toString().find("is a directory"), std::string::npos) << sink.toString();
  DiagnosticSink tz;
  EXPECT_FALSE(loadConfig(dir.write("tz.toml", "[policy]\ntime_zone = \"Europe\"\n"), tz));
  EXPECT_NE(tz.toString().find("tz.toml:2:13: error: policy.time_zone:"), std::string::npos)
      << tz.toString();
}

TEST(ConfigTest, IncludeCycleIsReported) {
  testing::TempDir dir;
  dir.write("a.toml", "include = [\"b.toml\"]\n");
  dir.write("b.toml", "include = [\"a.toml\"]\n");
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.path() / "a.toml", sink);
  EXPECT_FALSE(cfg);
  EXPECT_NE(sink.toString().find("include: cycle"), std::string::npos) << sink.toString();
}

TEST(ConfigTest, KeySetInTwoFilesIsAnErrorNamingBoth) {
  testing::TempDir dir;
  dir.write("b.toml", "[dns]\nworkers = 3\n");
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("a.toml", "include = [\"b.toml\"]\n[dns]\nworkers = 2\n"), sink);
  EXPECT_FALSE(cfg);
  EXPECT_NE(sink.toString().find("dns.workers: already set at"), std::string::npos)
      << sink.toString();
}

TEST(ConfigTest, TomlSyntaxErrorHasFileLineColumn) {
  testing::TempDir dir;
  DiagnosticSink sink;
  const auto p = dir.write("c.toml", "[dns]\nworkers = = 2\n");
  EXPECT_FALSE(loadConfig(p, sink));
  ASSERT_EQ(sink.errorCount(), 1u);
  EXPECT_EQ(sink.all()[0].where.file, p.string());
  EXPECT_EQ(sink.all()[0].where.line, 2u);
}

TEST(ConfigSchemaTest, EveryDefaultParsesAsItsDeclaredType) {
  for (const auto& d : schemaKeys()) {
    if (d.default_value.empty() || d.default_value.front() == '(') continue;
    toml::table t;
    ASSERT_NO_THROW(t = toml::parse("v = " + std::string(d.default_value))) << d.path;
    const toml::node* n = t.get("v");
    switch (d.type) {
      case KeyType::kString: EXPECT_TRUE(n->is_string()) << d.path; break;
      case KeyType::kInteger: EXPECT_TRUE(n->is_integer()) << d.path; break;
      case KeyType::kBoolean: EXPECT_TRUE(n->is_boolean()) << d.path; break;
      case KeyType::kStringList:
      case KeyType::kIntegerList: EXPECT_TRUE(n->is_array()) << d.path; break;
      default: break;
    }
  }
}

TEST(SuggestTest, SuggestsCloseNamesOnly) {
  EXPECT_EQ(closestMatch("schol-hours", {"school-hours", "bedtime"}), "school-hours");
  EXPECT_EQ(closestMatch("xyz", {"school-hours", "bedtime"}), std::nullopt);
  EXPECT_EQ(editDistance("ab", "ba"), 1u);
}

}  // namespace
}  // namespace safegate::policy
