#include "common/man_page.h"

#include <gtest/gtest.h>

namespace safegate {
namespace {

ManPage page() {
  ManPage p;
  p.name = "safegated";
  p.summary = "child-safety DNS filter";
  p.synopsis = "safegated --config FILE";
  p.description = "First paragraph, line one.\n\n.starts with a dot\n\n    indented example -x";
  p.options = {{"--config, -c", "FILE", "The config (required)."}, {"--man", "", "Prints it."}};
  p.extra = {{"Files", "/etc/safegate/safegate.toml: the config."}};
  p.see_also = {"safegatectl(8)", "plain"};
  return p;
}

TEST(ManPageTest, HasTheSectionsInManOrder) {
  const std::string roff = renderManPage(page(), "1.2.3");
  const size_t th = roff.find(".TH SAFEGATED 8 \"\" \"safegate 1.2.3\" \"safegate\"\n");
  const size_t name = roff.find(".SH NAME\nsafegated \\- child\\-safety DNS filter\n");
  const size_t synopsis = roff.find(".SH SYNOPSIS\n");
  const size_t options = roff.find(".SH OPTIONS\n");
  const size_t files = roff.find(".SH FILES\n");
  const size_t see = roff.find(".SH SEE ALSO\n\\fBsafegatectl\\fR(8),\nplain\n");
  ASSERT_NE(th, std::string::npos) << roff;
  ASSERT_NE(name, std::string::npos) << roff;
  ASSERT_NE(see, std::string::npos) << roff;
  EXPECT_LT(th, name);
  EXPECT_LT(name, synopsis);
  EXPECT_LT(synopsis, options);
  EXPECT_LT(options, files);
  EXPECT_LT(files, see);
}

TEST(ManPageTest, OptionsAreTaggedParagraphsWithBoldFlagsAndItalicValues) {
  const std::string roff = renderManPage(page(), "1");
  EXPECT_NE(roff.find(".TP\n\\fB\\-\\-config, \\-c\\fR \\fIFILE\\fR\nThe config (required).\n"),
            std::string::npos)
      << roff;
  EXPECT_NE(roff.find(".TP\n\\fB\\-\\-man\\fR\nPrints it.\n"), std::string::npos) << roff;
}

TEST(ManPageTest, TextCannotStartARequestAndKeepsExamplesAsTyped) {
  const std::string roff = renderManPage(page(), "1");
  EXPECT_NE(roff.find(".PP\n\\&.starts with a dot\n"), std::string::npos) << roff;
  EXPECT_EQ(roff.find("\n.starts"), std::string::npos) << roff;
  EXPECT_NE(roff.find(".nf\n    indented example \\-x\n.fi\n"), std::string::npos) << roff;
}

TEST(ManPageTest, SubCommandsGetTheirOwnSubsections) {
  ManPage p = page();
  p.commands = {{"exceptions add [OPTIONS]", "Grant one.", {{"--minutes", "INT", "How long."}}}};
  const std::string roff = renderManPage(p, "1");
  EXPECT_NE(roff.find(".SH COMMANDS\n.SS exceptions add [OPTIONS]\n.PP\nGrant one.\n.RS\n.TP\n"
                      "\\fB\\-\\-minutes\\fR \\fIINT\\fR\nHow long.\n.RE\n"),
            std::string::npos)
      << roff;
}

}  // namespace
}  // namespace safegate
