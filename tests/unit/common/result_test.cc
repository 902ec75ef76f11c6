#include "common/result.h"

#include <gtest/gtest.h>

namespace safegate {
namespace {

TEST(DiagnosticTest, PrintsPathLineColumnSeverityAndMessage) {
  Diagnostic d{Severity::kError, {"/etc/safegate/safegate.toml", 42, 11}, "unknown key"};
  EXPECT_EQ(d.toString(), "/etc/safegate/safegate.toml:42:11: error: unknown key");
}

TEST(DiagnosticTest, OmitsUnknownColumnAndLocation) {
  EXPECT_EQ((Diagnostic{Severity::kWarning, {"a.txt", 3, 0}, "skipped"}).toString(),
            "a.txt:3: warning: skipped");
  EXPECT_EQ((Diagnostic{Severity::kError, {}, "boom"}).toString(), "error: boom");
}

TEST(DiagnosticSinkTest, CountsErrorsAndWarningsSeparately) {
  DiagnosticSink sink;
  sink.error({"f", 1, 1}, "e1");
  sink.warning({"f", 2, 0}, "w1");
  sink.error({"f", 3, 2}, "e2");
  EXPECT_EQ(sink.errorCount(), 2u);
  EXPECT_EQ(sink.warningCount(), 1u);
  EXPECT_EQ(sink.toString(), "f:1:1: error: e1\nf:2: warning: w1\nf:3:2: error: e2\n");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.isOk());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().isOk());

  Result<int> bad(Status::invalid("nope", {"x.toml", 1, 2}));
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().toString(), "x.toml:1:2: invalid-argument: nope");
}

TEST(ResultTest, OkStatusWithoutValueBecomesInternalError) {
  Result<int> r{Status::ok()};
  EXPECT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace safegate
