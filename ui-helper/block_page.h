// The block page: what a child sees instead of a blocked site (docs/block-page.md).
//
// Words come from translation files, one `<language>.toml` per language in a folder a school
// can extend (ui-helper/translations/: the six UN languages). Each has its own name, its
// direction (Arabic is right-to-left), the page's sentences in three age bands — `young`
// (profile under-9), `junior` (9-12) and `teen` (13-17, staff and every other profile) — and
// the category names. Translations::load() checks every file against en.toml, the reference:
// a missing sentence or category is an error naming the file, line and key, so a page never
// shows a blank. A school's own folder (ui.translations_dir) is read over the installed one:
// its fr.toml need only hold the sentences it rewords, a new language's missing sentences are
// shown in English (with a warning naming them), so an upgrade that adds a sentence never
// stops a school's block page.
//
// The language is the visitor's choice (`?lang=`), else the best match of Accept-Language
// (RFC 9110 §12.5.4, basic filtering of RFC 4647 §3.3.1), else English. The page never shows
// the name or rule of a decision from a licensed illegal-content list (`confidential`).
// Everything shown is HTML-escaped; the page has no script.
// Pure functions and an immutable catalogue: safe from any thread once loaded.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace safegate::ui {

enum class AgeBand : uint8_t { kYoung, kJunior, kTeen };
// "under-9" -> young, "9-12" -> junior, anything else -> teen.
AgeBand ageBandForProfile(std::string_view profile);

// The sentences of one age band, in the order the page shows them.
inline constexpr const char* kBandKeys[] = {"title", "intro",  "category", "recorded",
                                            "ask",   "report", "help"};
// Top-level sentences every language has besides its bands.
inline constexpr const char* kPageKeys[] = {"not_blocked", "choose_language", "site"};
// The [form] table: the ask-for-access / wrong-block / may-be-illegal form and the pages after
// it.
inline constexpr const char* kFormKeys[] = {
    "heading",    "reason_label", "ask_button",  "report_button", "illegal_button",
    "sent_title", "sent_access",  "sent_report", "sent_illegal",  "already",
    "too_many",   "expired",      "failed",      "back"};

struct Translation {
  std::string code;                         // file name without .toml: "en", "ar", "zh"
  std::string name;                         // the language's own name: "English", "العربية"
  bool rtl = false;                         // direction = "rtl"
  bool direction_set = false;               // the file says "direction"
  std::map<std::string, std::string> text;  // "teen.title", "page.site", "categories.gambling"

  // The sentence, or "" when the key is unknown (load() makes sure the reference keys exist).
  const std::string& get(const std::string& key) const;

  // One translation file's text (its code is the file name's stem); problems go to `sink`
  // with the file, line and key. False on any error. Does not check completeness (load() does).
  static bool parse(std::string_view toml_text, const std::filesystem::path& file, Translation& out,
                    DiagnosticSink& sink);
};

class Translations {
 public:
  // Reads every *.toml in `dir`; en.toml must be there. Problems go to `sink` with file and
  // line; any error fails the load.
  static Result<Translations> load(const std::filesystem::path& dir, DiagnosticSink& sink);
  // The installed folder (complete, as above), then every *.toml of `custom` over it: a
  // language both have takes the custom file's sentences, keeping the installed ones it does
  // not mention; a new language starts from English, and each sentence it lacks is named in a
  // warning. A file that cannot be read, or a sentence without its {name} / {category}, is an
  // error. `custom` empty or the same folder: load(installed).
  static Result<Translations> load(const std::filesystem::path& installed,
                                   const std::filesystem::path& custom, DiagnosticSink& sink);

  // The language to show: `requested` (?lang=) when available, else the best Accept-Language
  // match, else "en".
  const Translation& pick(std::string_view requested, std::string_view accept_language) const;
  const std::vector<Translation>& all() const { return languages_; }

 private:
  // The sentences every language must have: the page's, the form's, the bands', and each
  // category en.toml names.
  static std::set<std::string> requiredKeys(const Translation& en);
  // Errors for a language without its own name, or a sentence without its placeholder.
  static void checkLanguage(const Translation& t, const std::filesystem::path& file,
                            DiagnosticSink& sink);
  const Translation* find(std::string_view code) const;

  std::vector<Translation> languages_;  // sorted by code
};

// Accept-Language as (primary language subtag lower-cased or "*", weight), highest weight
// first, ties in header order; weights of 0 ("not acceptable") and malformed items dropped.
std::vector<std::pair<std::string, double>> parseAcceptLanguage(std::string_view header);

std::string htmlEscape(std::string_view text);

// What the page is about, from the daemon's explain answer.
struct BlockFacts {
  std::string name;      // the host the browser asked for ("" = unknown)
  bool blocked = false;  // the running policy blocks it for this client now
  std::string category;  // "gambling"; "" = none
  std::string profile;   // the client's group profile: picks the age band
  bool confidential = false;
};

struct HelpLink {
  std::string label;
  std::string url;  // https://, http:// or tel: (checked by the config)
};

// The whole HTML document. `form_token` non-empty: the page carries the form that asks for
// access or reports a wrong block (posted back to the same URL; never for a confidential
// decision or an unknown name); `offer_illegal_report` adds its third button, "this page may be
// against the law" (only with the hotline on, docs/access-requests.md).
std::string renderBlockPage(const Translations& all, const Translation& lang,
                            const BlockFacts& facts, const std::vector<HelpLink>& help,
                            const std::string& form_token = {}, bool offer_illegal_report = false);

// What became of a submitted form.
enum class FormOutcome : uint8_t {
  kSentAccess,      // a new access request
  kSentReport,      // a new wrong-block report
  kSentIllegal,     // a may-be-illegal report filed (or the page is known already)
  kAlreadyPending,  // the same question is still waiting
  kTooMany,         // this client's hourly limit (or the pending list is full)
  kExpired,         // the token is stale or forged: reload the page
  kFailed,          // the daemon could not be asked or refused
  kNotBlocked,      // nothing to ask: the name is not blocked now
};
// The page shown after the form; `back` is the URL of the block page to return to.
std::string renderFormResult(const Translation& lang, FormOutcome outcome, const std::string& back,
                             const std::vector<HelpLink>& help, AgeBand band);

}  // namespace safegate::ui
