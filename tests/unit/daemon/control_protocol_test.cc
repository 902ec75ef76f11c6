#include "daemon/control/control_protocol.h"

#include <gtest/gtest.h>

namespace safegate {
namespace {

TEST(ControlProtocolTest, ParsesCommandIdAndArguments) {
  auto r = parseControlRequest(R"({"v":1,"id":"a7","cmd":"incidents","limit":5})");
  ASSERT_TRUE(r) << r.status().toString();
  EXPECT_EQ(r->command, "incidents");
  EXPECT_EQ(r->id, "a7");
  EXPECT_EQ(r->args["limit"], 5);
}

TEST(ControlProtocolTest, MissingVersionMeansVersionOne) {
  auto r = parseControlRequest(R"({"cmd":"status"})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->id.is_null());
}

TEST(ControlProtocolTest, RefusesNewerVersionNamingTheSupportedOne) {
  auto r = parseControlRequest(R"({"v":2,"cmd":"status"})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("speaks version 1"), std::string::npos);
}

// The version was narrowed to int before the check (the control_protocol fuzz target checks it).
TEST(ControlProtocolTest, RefusesVersionsThatWouldWrapToOne) {
  for (const char* line :
       {R"({"v":4294967297,"cmd":"status"})", R"({"v":-4294967295,"cmd":"status"})",
        R"({"v":18446744073709551615,"cmd":"status"})"}) {
    auto r = parseControlRequest(line);
    ASSERT_FALSE(r) << line;
    EXPECT_NE(r.status().message().find("speaks version 1"), std::string::npos) << line;
  }
}

TEST(ControlProtocolTest, RejectsBadJsonNonObjectsAndMissingCommand) {
  EXPECT_FALSE(parseControlRequest("{not json"));
  EXPECT_FALSE(parseControlRequest("[1,2]"));
  EXPECT_FALSE(parseControlRequest(R"({"v":1})"));
  EXPECT_FALSE(parseControlRequest(R"({"cmd":7})"));
  EXPECT_FALSE(parseControlRequest(R"({"v":"1","cmd":"status"})"));
}

TEST(ControlProtocolTest, RejectsOverlongLines) {
  std::string line = R"({"cmd":"status","pad":")" + std::string(kMaxControlLineBytes, 'x') + "\"}";
  EXPECT_FALSE(parseControlRequest(line));
}

TEST(ControlProtocolTest, ResponsesAreOneLineWithVersionAndId) {
  std::string ok = controlOk(3, {{"x", 1}});
  EXPECT_EQ(ok, "{\"id\":3,\"ok\":true,\"result\":{\"x\":1},\"v\":1}\n");
  std::string err = controlError("q", "bad", {"a.toml:1:2: error: x", "a.toml:3:1: error: y"});
  EXPECT_EQ(err.back(), '\n');
  EXPECT_EQ(err.find('\n'), err.size() - 1);
  auto j = nlohmann::json::parse(err);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["diagnostics"].size(), 2u);
}

}  // namespace
}  // namespace safegate
