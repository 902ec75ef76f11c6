// The block page's words and language choice (ui-helper/block_page.h): the bundled six UN
// languages load complete, Accept-Language is weighed as RFC 9110 says, the age band follows
// the group's profile, a licensed list's name never appears, and every shown value is escaped.
// End to end with safegated: integration.block_page.
#include "ui-helper/block_page.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/support/shared_data.h"
#include "ui-helper/form_token.h"

namespace safegate::ui {
namespace {

const std::filesystem::path kBundled = SAFEGATE_SOURCE_DIR "/ui-helper/translations";

Translations bundled() {
  DiagnosticSink sink;
  auto t = Translations::load(kBundled, sink);
  EXPECT_TRUE(t) << sink.toString();
  EXPECT_EQ(sink.warningCount(), 0u) << sink.toString();  // the shipped six are complete
  return t ? std::move(*t) : Translations();
}

TEST(BlockPageTest, TheSixUnLanguagesLoadCompleteAndArabicIsRightToLeft) {
  const Translations all = bundled();
  std::vector<std::string> codes;
  for (const Translation& t : all.all()) codes.push_back(t.code);
  EXPECT_EQ(codes, (std::vector<std::string>{"ar", "en", "es", "fr", "ru", "zh"}));
  for (const Translation& t : all.all()) {
    EXPECT_EQ(t.rtl, t.code == "ar") << t.code;
    EXPECT_FALSE(t.get("young.title").empty()) << t.code;
    EXPECT_FALSE(t.get("categories.gambling").empty()) << t.code;
  }
}

TEST(BlockPageTest, AcceptLanguageIsOrderedByWeightThenPosition) {
  const auto l = parseAcceptLanguage("de-DE, fr;q=0.5, zh-Hant-TW;q=0.9, en;q=0.5, *;q=0.1");
  const std::vector<std::pair<std::string, double>> want = {
      {"de", 1.0}, {"zh", 0.9}, {"fr", 0.5}, {"en", 0.5}, {"*", 0.1}};
  EXPECT_EQ(l, want);
  // q=0 means "not acceptable"; malformed items are skipped, not fatal.
  EXPECT_EQ(parseAcceptLanguage("ru;q=0, es;q=abc, x1, ;q=1, fr;q=2, ar ; q=0.3"),
            (std::vector<std::pair<std::string, double>>{{"ar", 0.3}}));
  EXPECT_TRUE(parseAcceptLanguage("").empty());
  EXPECT_TRUE(parseAcceptLanguage("-x, -;q=0.5").empty());  // no primary subtag (found by fuzzing)
}

TEST(BlockPageTest, TheLanguageIsTheChoiceThenTheBrowsersThenEnglish) {
  const Translations all = bundled();
  EXPECT_EQ(all.pick("", "de, fr;q=0.8, ar;q=0.9").code, "ar");
  EXPECT_EQ(all.pick("ES", "fr").code, "es");  // ?lang= wins, any case
  EXPECT_EQ(all.pick("xx", "zh-CN").code, "zh");
  EXPECT_EQ(all.pick("", "de, *;q=0.5, fr;q=0.1").code, "en");  // "*" before fr: the default
  EXPECT_EQ(all.pick("", "").code, "en");
}

TEST(BlockPageTest, TheAgeBandFollowsTheProfile) {
  EXPECT_EQ(ageBandForProfile("under-9"), AgeBand::kYoung);
  EXPECT_EQ(ageBandForProfile("9-12"), AgeBand::kJunior);
  EXPECT_EQ(ageBandForProfile("13-17"), AgeBand::kTeen);
  EXPECT_EQ(ageBandForProfile("staff"), AgeBand::kTeen);
  const Translations all = bundled();
  BlockFacts f{"games.example", true, "games", "9-12", false};
  const std::string junior = renderBlockPage(all, all.pick("en", ""), f, {});
  EXPECT_NE(junior.find("<h1>This page is blocked</h1>"), std::string::npos);
  EXPECT_NE(junior.find("because it is about games."), std::string::npos);
}

TEST(BlockPageTest, ALicensedListsNameIsNeverShown) {
  const Translations all = bundled();
  for (const Translation& lang : all.all()) {
    BlockFacts f{"secret.example", true, "child-abuse", "13-17", true};
    const std::string page = renderBlockPage(all, lang, f, {});
    EXPECT_EQ(page.find("secret.example"), std::string::npos) << lang.code;
    EXPECT_NE(page.find(lang.get("categories.child-abuse")), std::string::npos) << lang.code;
  }
}

TEST(BlockPageTest, EverythingShownIsEscaped) {
  const Translations all = bundled();
  BlockFacts f{"<script>x</script>.example", true, "\"><b>", "13-17", false};
  const std::string page =
      renderBlockPage(all, all.pick("en", ""), f, {{"<i>Help</i>", "https://h.example/?a=1&b=\""}});
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_EQ(page.find("<i>"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;x&lt;/script&gt;.example"), std::string::npos);
  EXPECT_NE(page.find("href=\"https://h.example/?a=1&amp;b=&quot;\""), std::string::npos);
  // An unknown category is worded generically, not echoed.
  EXPECT_NE(page.find("a topic this filter blocks"), std::string::npos);
}

TEST(BlockPageTest, AnIncompleteOrBrokenTranslationIsRefusedWithFileAndKey) {
  testing::TempDir dir;
  for (const auto& e : std::filesystem::directory_iterator(kBundled)) {
    std::filesystem::copy_file(e.path(), dir.path() / e.path().filename());
  }
  {
    std::ofstream de(dir.path() / "de.toml");
    de << "language = \"Deutsch\"\ndirection = \"sideways\"\n[young]\ntitle = 3\n";
  }
  DiagnosticSink sink;
  EXPECT_FALSE(Translations::load(dir.path(), sink));
  const std::string text = sink.toString();
  EXPECT_NE(text.find("de.toml:2:"), std::string::npos) << text;
  EXPECT_NE(text.find("\"direction\" is \"ltr\" or \"rtl\""), std::string::npos) << text;
  EXPECT_NE(text.find("de.toml:4:"), std::string::npos) << text;
  EXPECT_NE(text.find("\"young.title\" must be a string"), std::string::npos) << text;

  std::filesystem::remove(dir.path() / "de.toml");
  {
    std::ofstream bad(dir.path() / "es.toml");
    bad << "language = \"Español\"\n[teen\n";
  }
  DiagnosticSink sink2;
  EXPECT_FALSE(Translations::load(dir.path(), sink2));
  EXPECT_NE(sink2.toString().find("es.toml:2:"), std::string::npos) << sink2.toString();
}

TEST(BlockPageTest, ASchoolsFolderRewordsSomeSentencesAndKeepsTheInstalledRest) {
  testing::TempDir own;
  {
    std::ofstream fr(own.path() / "fr.toml");  // no "language": the installed one's is kept
    fr << "[junior]\nhelp = \"Parle à Mme Dubois, salle 12.\"\n"
       << "[teen]\ntitle = \"\"\n";  // an empty sentence never blanks the installed one
  }
  DiagnosticSink sink;
  auto all = Translations::load(kBundled, own.path(), sink);
  ASSERT_TRUE(all) << sink.toString();
  EXPECT_EQ(sink.all().size(), 0u) << sink.toString();
  const Translation& fr = all->pick("fr", "");
  const Translations installed = bundled();
  const Translation& installed_fr = installed.pick("fr", "");
  EXPECT_EQ(fr.get("junior.help"), "Parle à Mme Dubois, salle 12.");
  EXPECT_EQ(fr.get("teen.help"), installed_fr.get("teen.help"));
  EXPECT_EQ(fr.get("teen.title"), installed_fr.get("teen.title"));
  EXPECT_FALSE(fr.get("teen.title").empty());
  EXPECT_EQ(fr.name, installed_fr.name);
  EXPECT_EQ(all->all().size(), 6u);
}

TEST(BlockPageTest, ANewLanguageMissingSentencesShowsThemInEnglishAndSaysWhich) {
  testing::TempDir own;
  DiagnosticSink reference_sink;
  auto reference = Translations::load(kBundled, reference_sink);
  ASSERT_TRUE(reference);
  const Translation& en = reference->pick("en", "");
  {
    // A German file written before the form's may-be-illegal button existed, with one typo.
    std::ofstream de(own.path() / "de.toml");
    de << "language = \"Deutsch\"\n";
    for (const auto& [key, text] : en.text) {
      if (key == "form.illegal_button" || key == "form.sent_illegal") continue;
      // Dotted keys ("junior.title = ..."); the page's own sentences are top-level keys.
      const std::string toml_key = key.starts_with("page.") ? key.substr(5) : key;
      const char* placeholder = key.ends_with(".category") ? "{category}"
                                : key == "page.site"       ? "{name}"
                                                           : "";
      de << toml_key << " = \"DE " << placeholder << "\"\n";
    }
    de << "form.ilegal_button = \"Illegal\"\n";
  }
  DiagnosticSink sink;
  auto all = Translations::load(kBundled, own.path(), sink);
  ASSERT_TRUE(all) << sink.toString();
  EXPECT_EQ(all->all().size(), 7u);
  const Translation& de = all->pick("", "de-AT, en;q=0.5");
  EXPECT_EQ(de.code, "de");
  EXPECT_EQ(de.name, "Deutsch");
  EXPECT_FALSE(de.rtl);
  EXPECT_EQ(de.get("form.illegal_button"), en.get("form.illegal_button"));
  EXPECT_EQ(de.get("junior.title"), "DE ");
  const std::string text = sink.toString();
  EXPECT_EQ(sink.errorCount(), 0u) << text;
  EXPECT_NE(text.find("de.toml: warning: 2 sentences not translated, shown in English: "
                      "form.illegal_button, form.sent_illegal"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\"form.ilegal_button\" is not a sentence the page shows"), std::string::npos)
      << text;
}

TEST(BlockPageTest, ANewLanguageWithoutItsNameOrPlaceholdersIsRefused) {
  testing::TempDir own;
  {
    std::ofstream de(own.path() / "de.toml");
    de << "[junior]\ncategory = \"Gesperrt\"\n";  // no language, no {category}
  }
  DiagnosticSink sink;
  EXPECT_FALSE(Translations::load(kBundled, own.path(), sink));
  const std::string text = sink.toString();
  EXPECT_NE(text.find("de.toml: error: \"language\" (the language's own name) is missing"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\"junior.category\" must contain {category}"), std::string::npos) << text;
}

TEST(BlockPageTest, TheFormIsOfferedOnlyWithATokenAndNeverForALicensedList) {
  const Translations all = bundled();
  BlockFacts facts{"casino.test", true, "gambling", "9-12", false};
  const std::string with = renderBlockPage(all, all.pick("", ""), facts, {}, "123.abc\"<");
  EXPECT_NE(with.find("<form method=\"post\""), std::string::npos);
  EXPECT_NE(with.find("name=\"token\" value=\"123.abc&quot;&lt;\""), std::string::npos);
  EXPECT_NE(with.find("<label for=\"reason\">"), std::string::npos);
  EXPECT_NE(with.find("value=\"wrong-block\">It is blocked by mistake</button>"),
            std::string::npos);
  EXPECT_EQ(with.find("suspected-illegal"), std::string::npos) << "hotline off: no third button";
  const std::string third = renderBlockPage(all, all.pick("fr", ""), facts, {}, "1.a", true);
  EXPECT_NE(third.find("<button type=\"submit\" name=\"kind\" value=\"suspected-illegal\">"
                       "Prévenir un adulte : cette page est peut-être illégale</button>"),
            std::string::npos);
  for (const char* code : {"ar", "en", "es", "fr", "ru", "zh"}) {
    const std::string sent =
        renderFormResult(all.pick(code, ""), FormOutcome::kSentIllegal, "?", {}, AgeBand::kTeen);
    EXPECT_NE(sent.find(htmlEscape(all.pick(code, "").get("form.sent_illegal"))), std::string::npos)
        << code;
  }
  EXPECT_EQ(renderBlockPage(all, all.pick("", ""), facts, {}).find("<form"), std::string::npos);
  facts.confidential = true;
  EXPECT_EQ(renderBlockPage(all, all.pick("", ""), facts, {}, "1.a").find("<form"),
            std::string::npos);
  facts = BlockFacts{"casino.test", false, "", "", false};
  EXPECT_EQ(renderBlockPage(all, all.pick("", ""), facts, {}, "1.a").find("<form"),
            std::string::npos);
}

TEST(BlockPageTest, EachFormOutcomeHasItsOwnWordsInEveryLanguage) {
  const Translations all = bundled();
  for (const Translation& lang : all.all()) {
    std::set<std::string> pages;
    for (FormOutcome o : {FormOutcome::kSentAccess, FormOutcome::kSentReport,
                          FormOutcome::kAlreadyPending, FormOutcome::kTooMany,
                          FormOutcome::kExpired, FormOutcome::kFailed, FormOutcome::kNotBlocked}) {
      const std::string page = renderFormResult(lang, o, "?lang=" + lang.code, {}, AgeBand::kTeen);
      EXPECT_NE(page.find("<a href=\"?lang=" + lang.code + "\">"), std::string::npos) << lang.code;
      EXPECT_NE(page.find(lang.rtl ? "dir=\"rtl\"" : "dir=\"ltr\""), std::string::npos);
      pages.insert(page);
    }
    EXPECT_EQ(pages.size(), 7u) << lang.code;
  }
}

TEST(BlockPageTest, AFormTokenIsGoodForOneClientAndHostForTwoHours) {
  FormTokens::Key key{};
  key[0] = 1;
  const FormTokens tokens(key);
  const int64_t now = 1'795'430'000;
  const std::string t = tokens.issue("10.0.0.5", "casino.test", now);
  EXPECT_TRUE(tokens.verify(t, "10.0.0.5", "casino.test", now));
  EXPECT_TRUE(tokens.verify(t, "10.0.0.5", "casino.test", now + 7200));
  EXPECT_FALSE(tokens.verify(t, "10.0.0.5", "casino.test", now + 7201));
  EXPECT_FALSE(tokens.verify(t, "10.0.0.5", "casino.test", now - 61));  // from the future
  EXPECT_FALSE(tokens.verify(t, "10.0.0.6", "casino.test", now));
  EXPECT_FALSE(tokens.verify(t, "10.0.0.5", "poker.test", now));
  // Another key (a restarted helper) knows none of the old tokens.
  EXPECT_FALSE(FormTokens().verify(t, "10.0.0.5", "casino.test", now));
  // The time is part of what is signed.
  std::string later = t;
  later[later.find('.') - 1] = later[later.find('.') - 1] == '9' ? '8' : '9';
  EXPECT_FALSE(tokens.verify(later, "10.0.0.5", "casino.test", now));
  for (const char* bad :
       {"", ".", "abc", "1795430000.", "1795430000", "-1.00", "99999999999999999999999.00"}) {
    EXPECT_FALSE(tokens.verify(bad, "10.0.0.5", "casino.test", now)) << bad;
  }
}

}  // namespace
}  // namespace safegate::ui
