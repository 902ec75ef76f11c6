// [outbox] and [hotline]: defaults keep everything on the machine; an enabled hotline needs an
// https:// endpoint.
#include <gtest/gtest.h>

#include "policy/config.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

TEST(ConfigOutboxTest, HotlineIsOffAndTheOutboxLivesInTheStateDirByDefault) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", "[daemon]\nstate_dir = \"state\"\n"), sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_FALSE(cfg->daemon.hotline.enabled);
  EXPECT_EQ(cfg->daemon.outbox.path, dir.path() / "state/outbox.sqlite");
  EXPECT_EQ(cfg->daemon.outbox.max_messages, 10000);
  EXPECT_EQ(cfg->daemon.outbox.max_age_hours, 168);
}

TEST(ConfigOutboxTest, EnabledHotlineIsReadWithPathsResolvedAgainstTheConfig) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", R"([hotline]
enabled = true
endpoint = "https://reports.hotline.example/v1"
ca_file = "hotline-ca.pem"
token_file = "hotline.token"
pin_sha256 = "sha256//jtrjKyhdWuB2daO2VgoUTudHeCg683u6Gf0vlaUFzWo="
deployment_id = "school-42"
)"),
                        sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_TRUE(cfg->daemon.hotline.enabled);
  EXPECT_EQ(cfg->daemon.hotline.ca_file, dir.path() / "hotline-ca.pem");
  EXPECT_EQ(cfg->daemon.hotline.token_file, dir.path() / "hotline.token");
  EXPECT_EQ(cfg->daemon.hotline.deployment_id, "school-42");
}

TEST(ConfigOutboxTest, PlainHttpEndpointBadPinAndMissingEndpointAreErrors) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", R"([hotline]
enabled = true
endpoint = "http://reports.hotline.example/v1"
pin_sha256 = "md5//abc"
)"),
                        sink);
  ASSERT_FALSE(cfg);
  const std::string all = sink.toString();
  EXPECT_NE(all.find("c.toml:3:12: error: hotline.endpoint: \"http://reports.hotline.example/v1\" "
                     "is not an https:// URL"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("hotline.pin_sha256:"), std::string::npos) << all;

  DiagnosticSink sink2;
  auto missing = loadConfig(dir.write("d.toml", "[hotline]\nenabled = true\n"), sink2);
  ASSERT_FALSE(missing);
  EXPECT_NE(sink2.toString().find("hotline.endpoint is empty"), std::string::npos)
      << sink2.toString();
}

TEST(ConfigOutboxTest, AlertDestinationsAreReadAndIncompleteOnesAreErrors) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", R"([[alerts]]
name = "dsl"
kind = "email"
smtp_url = "smtp://mail.school.example:587"
from = "safegate@school.example"
to = ["dsl@school.example"]
actions = ["alert-allow"]
categories = ["self-harm"]
[[alerts]]
name = "district"
kind = "syslog"
syslog_address = "collector.example:6514"
actions = ["block", "monitor", "alert-block"]
[[alerts]]
name = "it"
kind = "webhook"
url = "https://it.example/hook"
actions = []
[[alerts]]
name = "it-and-requests"
kind = "webhook"
url = "https://it.example/hook2"
actions = ["block"]
request_notices = true
)"),
                        sink);
  ASSERT_TRUE(cfg) << sink.toString();
  ASSERT_EQ(cfg->daemon.alerts.size(), 4u);
  // Children's requests: on for a destination that takes alerts, off for one that takes none
  // unless it says so.
  EXPECT_TRUE(cfg->daemon.alerts[0].request_notices);
  EXPECT_TRUE(cfg->daemon.alerts[1].request_notices);
  EXPECT_FALSE(cfg->daemon.alerts[2].request_notices);
  EXPECT_TRUE(cfg->daemon.alerts[3].request_notices);
  EXPECT_EQ(cfg->daemon.alerts[0].kind, AlertKind::kEmail);
  EXPECT_FALSE(cfg->daemon.alerts[0].on_block);
  EXPECT_TRUE(cfg->daemon.alerts[0].on_allow);
  EXPECT_EQ(cfg->daemon.alerts[1].syslog_host, "collector.example");
  EXPECT_EQ(cfg->daemon.alerts[1].syslog_port, 6514);
  EXPECT_TRUE(cfg->daemon.alerts[1].on_every_block);  // incident export
  EXPECT_TRUE(cfg->daemon.alerts[1].on_every_monitor);
  EXPECT_TRUE(cfg->daemon.alerts[1].on_block);
  EXPECT_FALSE(cfg->daemon.alerts[1].on_allow);
  EXPECT_FALSE(cfg->daemon.alerts[0].on_every_block);

  DiagnosticSink bad;
  auto broken = loadConfig(dir.write("d.toml", R"([[alerts]]
name = "x"
kind = "email"
smtp_url = "http://mail.example"
categories = ["selfharm"]
actions = ["blocked"]
[[alerts]]
name = "x"
kind = "webhook"
)"),
                           bad);
  ASSERT_FALSE(broken);
  const std::string all = bad.toString();
  for (const char* want : {"alerts[0]: smtp_url must be", "alerts[0]: to needs at least one",
                           "unknown category \"selfharm\"", "alerts[1].name: \"x\" is used twice",
                           "alerts[1]: url is required",
                           "\"blocked\" is not alert-block, alert-allow, block or monitor"}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
  }
}

}  // namespace
}  // namespace safegate::policy
