// exceptionFromRequest: bounded durations and granted_by from the peer.
#include "daemon/control/exception_request.h"

#include <gtest/gtest.h>

namespace safegate {
namespace {

constexpr int64_t kNow = 1795429000;
constexpr int64_t kMaxMinutes = 10080;

ControlRequest request(const std::string& line, const std::string& user = "alice") {
  auto r = parseControlRequest(line);
  EXPECT_TRUE(r) << line;
  ControlRequest req = r ? *r : ControlRequest{};
  req.peer.uid = 1001;
  req.peer.user = user;
  return req;
}

// The error for a pause of the given duration arguments ("" when it is accepted).
std::string pauseError(const std::string& duration) {
  auto e = exceptionFromRequest(request(R"({"cmd":"pause","group":"kids",)" + duration + "}"), kNow,
                                kMaxMinutes);
  return e ? "" : e.status().message();
}

TEST(ExceptionRequestTest, MinutesBecomeAnEndTimeFromNow) {
  auto e = exceptionFromRequest(
      request(R"({"cmd":"exceptions.add","kind":"name","name":"Casino.Test","client":"10.0.0.2",)"
              R"("minutes":30,"note":"reward"})"),
      kNow, kMaxMinutes);
  ASSERT_TRUE(e) << e.status().toString();
  EXPECT_EQ(e->kind, policy::TemporaryException::Kind::kName);
  EXPECT_EQ(e->name, "casino.test");
  EXPECT_EQ(e->created_unix_seconds, kNow);
  EXPECT_EQ(e->until_unix_seconds, kNow + 1800);
  EXPECT_EQ(e->note, "reward");
}

TEST(ExceptionRequestTest, AcceptsTheMaximumAndAFractionOfAMinuteRoundedUp) {
  EXPECT_EQ(pauseError(R"("minutes":10080)"), "");
  auto e = exceptionFromRequest(request(R"({"cmd":"pause","group":"kids","minutes":0.001})"), kNow,
                                kMaxMinutes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->until_unix_seconds, kNow + 1);
}

// A huge `minutes` used to be cast double→int64 unchecked (undefined behaviour): 1e7 minutes
// (19 years) was granted, 1e300 wrapped.
TEST(ExceptionRequestTest, RefusesMinutesBeyondTheConfiguredMaximum) {
  for (const char* minutes : {"10080.5", "10000000", "1e300", "1.7976931348623157e308"}) {
    std::string err = pauseError(std::string(R"("minutes":)") + minutes);
    EXPECT_NE(err.find("the most is 10080 minutes (control.max_exception_minutes)"),
              std::string::npos)
        << minutes << ": " << err;
  }
}

TEST(ExceptionRequestTest, RefusesZeroNegativeAndNonNumericMinutes) {
  for (const char* minutes : {"0", "-5", "-1e300", "-0.0"}) {
    std::string err = pauseError(std::string(R"("minutes":)") + minutes);
    EXPECT_NE(err.find("\"minutes\" must be more than 0"), std::string::npos)
        << minutes << ": " << err;
  }
  EXPECT_NE(pauseError(R"("minutes":"30")").find("must be a number"), std::string::npos);
}

TEST(ExceptionRequestTest, UntilMustBeInTheFutureAndWithinTheMaximum) {
  EXPECT_EQ(pauseError(R"("until":)" + std::to_string(kNow + 60)), "");
  EXPECT_EQ(pauseError(R"("until":)" + std::to_string(kNow + kMaxMinutes * 60)), "");
  EXPECT_NE(pauseError(R"("until":)" + std::to_string(kNow)).find("is not in the future"),
            std::string::npos);
  EXPECT_NE(pauseError(R"("until":-1)").find("is not in the future"), std::string::npos);
  for (const std::string& until :
       {std::to_string(kNow + kMaxMinutes * 60 + 1), std::string("9223372036854775807"),
        // Above INT64_MAX: get<int64_t>() would wrap it to a time in the past.
        std::string("18446744073709551615")}) {
    std::string err = pauseError(R"("until":)" + until);
    EXPECT_NE(err.find("is more than 10080 minutes (control.max_exception_minutes) ahead"),
              std::string::npos)
        << until << ": " << err;
  }
  EXPECT_NE(pauseError(R"("until":1795430000.5)").find("unix seconds (integer)"),
            std::string::npos);
}

TEST(ExceptionRequestTest, RefusesBothMinutesAndUntilOrNeither) {
  EXPECT_NE(pauseError(R"("minutes":5,"until":)" + std::to_string(kNow + 60)).find("not both"),
            std::string::npos);
  EXPECT_NE(pauseError(R"("note":"x")").find("needs \"minutes\" or \"until\""), std::string::npos);
}

TEST(ExceptionRequestTest, GrantedByIsThePeerNotTheRequest) {
  auto e = exceptionFromRequest(request(R"({"cmd":"pause","group":"kids","minutes":5})"), kNow,
                                kMaxMinutes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->granted_by, "alice");
  // A claim is recorded after the real peer, so it cannot pass for someone else.
  e = exceptionFromRequest(
      request(R"({"cmd":"pause","group":"kids","minutes":5,"granted_by":"headteacher"})"), kNow,
      kMaxMinutes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->granted_by, "alice for headteacher");
  e = exceptionFromRequest(
      request(R"({"cmd":"pause","group":"kids","minutes":5,"granted_by":"bob"})", "root"), kNow,
      kMaxMinutes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->granted_by, "root for bob");  // `sudo safegatectl pause` by bob
  e = exceptionFromRequest(
      request(R"({"cmd":"pause","group":"kids","minutes":5,"granted_by":"alice"})"), kNow,
      kMaxMinutes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->granted_by, "alice");
}

TEST(ExceptionRequestTest, APeerWithoutAUserNameIsNamedByUid) {
  auto e = exceptionFromRequest(request(R"({"cmd":"pause","group":"kids","minutes":5})", ""), kNow,
                                kMaxMinutes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->granted_by, "uid 1001");
}

TEST(ExceptionRequestTest, RefusesAnOverlongOrControlCharacterClaim) {
  auto e = exceptionFromRequest(request(R"({"cmd":"pause","group":"kids","minutes":5,)"
                                        R"("granted_by":")" +
                                        std::string(65, 'x') + "\"}"),
                                kNow, kMaxMinutes);
  EXPECT_FALSE(e);
  e = exceptionFromRequest(
      request(R"({"cmd":"pause","group":"kids","minutes":5,"granted_by":"a\nb"})"), kNow,
      kMaxMinutes);
  EXPECT_FALSE(e);
}

TEST(ExceptionRequestTest, KindAndScopeErrorsAreExplained) {
  auto e = exceptionFromRequest(request(R"({"cmd":"exceptions.add","kind":"x","group":"g",)"
                                        R"("minutes":5})"),
                                kNow, kMaxMinutes);
  ASSERT_FALSE(e);
  EXPECT_NE(e.status().message().find("\"kind\" must be"), std::string::npos);
  e = exceptionFromRequest(request(R"({"cmd":"pause","minutes":5})"), kNow, kMaxMinutes);
  ASSERT_FALSE(e);
  EXPECT_NE(e.status().message().find("needs \"client\" or \"group\""), std::string::npos);
  e = exceptionFromRequest(request(R"({"cmd":"pause","client":"10.0.0.300","minutes":5})"), kNow,
                           kMaxMinutes);
  ASSERT_FALSE(e);
  EXPECT_NE(e.status().message().find("\"client\" is not an IP address"), std::string::npos);
}

}  // namespace
}  // namespace safegate
