// dns.listen accepts port 0 ("any free port"); upstreams still need a real port.
#include <gtest/gtest.h>

#include "policy/config.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

TEST(ConfigListenTest, ListenPortZeroMeansAFreePortAndIsAccepted) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg =
      loadConfig(dir.write("c.toml", "[dns]\nlisten = [\"127.0.0.1:0\", \"[::1]:0\"]\n"), sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_EQ(cfg->daemon.dns.listen, (std::vector<std::string>{"127.0.0.1:0", "[::1]:0"}));
}

TEST(ConfigListenTest, UpstreamPortZeroIsStillAnErrorWithItsLocation) {
  testing::TempDir dir;
  DiagnosticSink sink;
  const auto path = dir.write("c.toml", "[dns]\nupstreams = [\"192.0.2.1:0\"]\n");
  ASSERT_FALSE(loadConfig(path, sink));
  EXPECT_NE(sink.toString().find(path.string() +
                                 ":2:14: error: dns.upstreams[0]: \"192.0.2.1:0\": port is "
                                 "not 1..65535"),
            std::string::npos)
      << sink.toString();
}

TEST(ConfigListenTest, ListenPortAbove65535IsStillAnError) {
  testing::TempDir dir;
  DiagnosticSink sink;
  ASSERT_FALSE(loadConfig(dir.write("c.toml", "[dns]\nlisten = [\"127.0.0.1:65536\"]\n"), sink));
  EXPECT_NE(sink.toString().find("port of \"127.0.0.1:65536\" is not 0..65535"), std::string::npos)
      << sink.toString();
}

}  // namespace
}  // namespace safegate::policy
