#include "ui-helper/block_page.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace safegate::ui {

namespace {

constexpr const char* kBands[] = {"young", "junior", "teen"};

std::string_view bandName(AgeBand b) { return kBands[static_cast<size_t>(b)]; }

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

SourceLocation where(const std::filesystem::path& file, const toml::node* node) {
  SourceLocation at;
  at.file = file.string();
  if (node != nullptr) {
    at.line = static_cast<uint32_t>(node->source().begin.line);
    at.column = static_cast<uint32_t>(node->source().begin.column);
  }
  return at;
}

}  // namespace

bool Translation::parse(std::string_view toml_text, const std::filesystem::path& file,
                        Translation& out, DiagnosticSink& sink) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text, file.string());
  } catch (const toml::parse_error& e) {
    SourceLocation at = where(file, nullptr);
    at.line = static_cast<uint32_t>(e.source().begin.line);
    at.column = static_cast<uint32_t>(e.source().begin.column);
    sink.error(at, std::string(e.description()));
    return false;
  }
  out.code = file.stem().string();
  const size_t errors_before = sink.errorCount();
  auto text = [&](const toml::node* n, const std::string& key) {
    if (n == nullptr) return;
    if (auto v = n->value<std::string>()) {
      out.text[key] = *v;
    } else {
      sink.error(where(file, n), "\"" + key + "\" must be a string");
    }
  };
  // "language" is required of a whole language (checkLanguage); a school's file rewording a
  // few sentences of an installed one may leave it out.
  if (const toml::node* n = doc.get("language")) {
    if (auto v = n->value<std::string>()) {
      out.name = *v;
    } else {
      sink.error(where(file, n), "\"language\" must be a string");
    }
  }
  if (const toml::node* n = doc.get("direction")) {
    const std::string direction = n->value_or(std::string());
    if (direction != "ltr" && direction != "rtl") {
      sink.error(where(file, n), "\"direction\" is \"ltr\" or \"rtl\"");
    }
    out.rtl = direction == "rtl";
    out.direction_set = true;
  }
  for (const char* key : kPageKeys) text(doc.get(key), std::string("page.") + key);
  for (const char* band : kBands) {
    if (const toml::table* t = doc[band].as_table()) {
      for (const auto& [k, v] : *t) text(&v, std::string(band) + "." + std::string(k.str()));
    }
  }
  if (const toml::table* t = doc["categories"].as_table()) {
    for (const auto& [k, v] : *t) text(&v, "categories." + std::string(k.str()));
  }
  if (const toml::table* t = doc["form"].as_table()) {
    for (const auto& [k, v] : *t) text(&v, "form." + std::string(k.str()));
  }
  return sink.errorCount() == errors_before;
}

AgeBand ageBandForProfile(std::string_view profile) {
  if (profile == "under-9") return AgeBand::kYoung;
  if (profile == "9-12") return AgeBand::kJunior;
  return AgeBand::kTeen;
}

const std::string& Translation::get(const std::string& key) const {
  static const std::string kEmpty;
  auto it = text.find(key);
  return it == text.end() ? kEmpty : it->second;
}

namespace {

// Every *.toml in `dir`, parsed, in file-name order; false when the folder cannot be read or a
// file has errors (all reported).
bool readFolder(const std::filesystem::path& dir, std::vector<Translation>& out,
                DiagnosticSink& sink) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".toml") files.push_back(e.path());
  }
  if (ec) {
    sink.error(where(dir, nullptr), "cannot read the translations folder: " + ec.message());
    return false;
  }
  std::sort(files.begin(), files.end());
  bool ok = true;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in.is_open()) {
      sink.error(where(f, nullptr), "cannot read the file");
      ok = false;
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    Translation t;
    if (Translation::parse(text.str(), f, t, sink)) {
      out.push_back(std::move(t));
    } else {
      ok = false;
    }
  }
  return ok;
}

}  // namespace

std::set<std::string> Translations::requiredKeys(const Translation& en) {
  std::set<std::string> required;
  for (const char* key : kPageKeys) required.insert(std::string("page.") + key);
  for (const char* key : kFormKeys) required.insert(std::string("form.") + key);
  for (const char* band : kBands) {
    for (const char* key : kBandKeys) required.insert(std::string(band) + "." + key);
  }
  for (const auto& [k, v] : en.text) {
    if (k.starts_with("categories.")) required.insert(k);
  }
  required.insert("categories.other");
  return required;
}

void Translations::checkLanguage(const Translation& t, const std::filesystem::path& file,
                                 DiagnosticSink& sink) {
  if (t.name.empty()) {
    sink.error(where(file, nullptr), "\"language\" (the language's own name) is missing");
  }
  for (const char* band : kBands) {
    if (t.get(std::string(band) + ".category").find("{category}") == std::string::npos) {
      sink.error(where(file, nullptr),
                 std::string("\"") + band + ".category\" must contain {category}");
    }
  }
  if (t.get("page.site").find("{name}") == std::string::npos) {
    sink.error(where(file, nullptr), "\"site\" must contain {name}");
  }
}

const Translation* Translations::find(std::string_view code) const {
  for (const Translation& t : languages_) {
    if (t.code == code) return &t;
  }
  return nullptr;
}

Result<Translations> Translations::load(const std::filesystem::path& dir, DiagnosticSink& sink) {
  Translations out;
  readFolder(dir, out.languages_, sink);  // errors are counted in `sink` and end the load below
  const Translation* en = out.find("en");
  if (en == nullptr) {
    sink.error(where(dir / "en.toml", nullptr),
               "en.toml is missing: it is the reference every language is checked against");
    return Status::invalid("translations: no en.toml in " + dir.string());
  }
  // Every language has every sentence the reference has, and the reference has every
  // sentence the page shows.
  const std::set<std::string> required = requiredKeys(*en);
  for (const Translation& t : out.languages_) {
    const std::filesystem::path file = dir / (t.code + ".toml");
    for (const std::string& key : required) {
      if (t.get(key).empty()) sink.error(where(file, nullptr), "no text for \"" + key + "\"");
    }
    checkLanguage(t, file, sink);
  }
  if (sink.hasErrors()) return Status::invalid("translations in " + dir.string() + " have errors");
  return out;
}

Result<Translations> Translations::load(const std::filesystem::path& installed,
                                        const std::filesystem::path& custom, DiagnosticSink& sink) {
  std::error_code ec;
  if (custom.empty() || std::filesystem::equivalent(installed, custom, ec)) {
    return load(installed, sink);
  }
  auto base = load(installed, sink);
  if (!base) return base.status();
  std::vector<Translation> own;
  if (!readFolder(custom, own, sink)) {
    return Status::invalid("translations in " + custom.string() + " have errors");
  }
  const Translation en = *base->find("en");  // a copy: languages_ grows below
  const std::set<std::string> required = requiredKeys(en);
  Translations out = std::move(*base);
  for (Translation& o : own) {
    const std::filesystem::path file = custom / (o.code + ".toml");
    auto same = std::find_if(out.languages_.begin(), out.languages_.end(),
                             [&](const Translation& t) { return t.code == o.code; });
    const bool installed_language = same != out.languages_.end();
    // An installed language keeps the sentences the school's file does not reword; a new one
    // starts from English, and says which sentences are still English.
    Translation merged = installed_language ? *same : en;
    if (!installed_language) {
      merged.code = o.code;
      merged.name.clear();
      merged.rtl = false;
      std::string missing;
      size_t count = 0;
      for (const std::string& key : required) {
        if (!o.get(key).empty()) continue;
        if (count++ < 8) missing += (missing.empty() ? "" : ", ") + key;
      }
      if (count > 0) {
        sink.warning(where(file, nullptr), std::to_string(count) + " sentence" +
                                               (count == 1 ? "" : "s") +
                                               " not translated, shown in English: " + missing +
                                               (count > 8 ? ", ..." : ""));
      }
    }
    for (auto& [key, text] : o.text) {
      if (text.empty()) continue;  // counted as missing above: the installed or English text stays
      if (!en.text.contains(key) && !key.starts_with("categories.")) {
        sink.warning(where(file, nullptr),
                     "\"" + key + "\" is not a sentence the page shows (a typo?); ignored");
        continue;
      }
      merged.text[key] = std::move(text);
    }
    if (!o.name.empty()) merged.name = o.name;
    if (o.direction_set) merged.rtl = o.rtl;
    checkLanguage(merged, file, sink);
    if (installed_language) {
      *same = std::move(merged);
    } else {
      out.languages_.push_back(std::move(merged));
    }
  }
  std::sort(out.languages_.begin(), out.languages_.end(),
            [](const Translation& a, const Translation& b) { return a.code < b.code; });
  if (sink.hasErrors()) {
    return Status::invalid("translations in " + custom.string() + " have errors");
  }
  return out;
}

const Translation& Translations::pick(std::string_view requested,
                                      std::string_view accept_language) const {
  if (const Translation* t = find(lower(std::string(requested)))) return *t;
  for (const auto& [range, weight] : parseAcceptLanguage(accept_language)) {
    if (range == "*") break;  // anything: the default below
    if (const Translation* t = find(range)) return *t;
  }
  return *find("en");
}

std::vector<std::pair<std::string, double>> parseAcceptLanguage(std::string_view header) {
  std::vector<std::pair<std::string, double>> out;
  size_t start = 0;
  while (start <= header.size() && out.size() < 32) {
    size_t comma = header.find(',', start);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(start, comma - start);
    start = comma + 1;
    const size_t semi = item.find(';');
    std::string range = lower(trim(item.substr(0, semi)));
    double q = 1.0;
    if (semi != std::string_view::npos) {
      const std::string param = trim(item.substr(semi + 1));
      if (param.size() < 3 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') continue;
      char* end = nullptr;
      q = std::strtod(param.c_str() + 2, &end);
      if (end == param.c_str() + 2 || *end != '\0' || !(q >= 0.0 && q <= 1.0)) continue;
    }
    if (range.empty() || q == 0.0) continue;
    // The primary subtag: "zh-Hant-TW" -> "zh". Letters only, 1 to 8 (RFC 5646 §2.1).
    range = range.substr(0, range.find('-'));
    if (range.empty()) continue;  // "-x": no primary subtag
    if (range != "*" && (range.size() > 8 || !std::all_of(range.begin(), range.end(), [](char c) {
                           return c >= 'a' && c <= 'z';
                         }))) {
      continue;
    }
    out.emplace_back(std::move(range), q);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// `text` escaped, with {placeholder} replaced by `value` escaped.
std::string fill(const std::string& text, std::string_view placeholder, std::string_view value) {
  std::string out = htmlEscape(text);
  const size_t at = out.find(placeholder);
  if (at != std::string::npos) out.replace(at, placeholder.size(), htmlEscape(value));
  return out;
}

constexpr const char* kStyle =
    "body{margin:0;font-family:system-ui,sans-serif;font-size:1.15rem;line-height:1.6;"
    "color:#1b1b1b;background:#fdfcf7}"
    "main{max-width:38rem;margin:0 auto;padding:1.5rem}"
    "h1{font-size:1.8rem;line-height:1.3;color:#1d3f72}"
    "h2{font-size:1.2rem;margin-top:2rem}"
    ".site{font-weight:bold;overflow-wrap:anywhere}"
    "a{color:#0b4ea2}a:focus-visible{outline:3px solid #1b1b1b;outline-offset:2px}"
    "footer{max-width:38rem;margin:0 auto;padding:0 1.5rem 1.5rem}"
    "footer ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem 1.2rem}"
    "footer a{display:inline-block;padding:.3rem 0}"
    "form{margin-top:1.5rem}"
    "label{display:block;font-weight:bold;margin-bottom:.3rem}"
    "textarea{box-sizing:border-box;width:100%;font:inherit;padding:.5rem;"
    "border:2px solid #555;border-radius:4px}"
    ".buttons{display:flex;flex-wrap:wrap;gap:.8rem;margin-top:.8rem}"
    "button{font:inherit;padding:.6rem 1.1rem;border-radius:4px;border:2px solid #1d3f72;"
    "cursor:pointer;background:#fff;color:#1d3f72}"
    "button.primary{background:#1d3f72;color:#fff}"
    "button:focus-visible,textarea:focus-visible{outline:3px solid #1b1b1b;outline-offset:2px}";

// <head> and the start of <main>.
void openDocument(std::string& h, const Translation& lang, const std::string& title) {
  h += "<!DOCTYPE html>\n<html lang=\"" + htmlEscape(lang.code) + "\" dir=\"";
  h += lang.rtl ? "rtl" : "ltr";
  h += "\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta name=\"robots\" content=\"noindex\">\n<title>";
  h += htmlEscape(title);
  h += "</title>\n<style>";
  h += kStyle;
  h += "</style>\n</head>\n<body>\n<main>\n";
}

void helpLinks(std::string& h, const std::string& heading, const std::vector<HelpLink>& help) {
  if (help.empty()) return;
  h += "<h2 id=\"help\">" + htmlEscape(heading) + "</h2>\n<ul aria-labelledby=\"help\">\n";
  for (const HelpLink& link : help) {
    h += "<li><a href=\"" + htmlEscape(link.url) + "\">" + htmlEscape(link.label) + "</a></li>\n";
  }
  h += "</ul>\n";
}

}  // namespace

std::string renderBlockPage(const Translations& all, const Translation& lang,
                            const BlockFacts& facts, const std::vector<HelpLink>& help,
                            const std::string& form_token, bool offer_illegal_report) {
  const std::string band(bandName(ageBandForProfile(facts.profile)));
  auto t = [&](const char* key) -> const std::string& { return lang.get(band + "." + key); };
  std::string category = lang.get("categories." + facts.category);
  if (category.empty()) category = lang.get("categories.other");

  std::string h;
  h.reserve(6144);
  openDocument(h, lang, facts.blocked ? t("title") : lang.get("page.not_blocked"));
  if (!facts.blocked) {
    h += "<h1>" + htmlEscape(lang.get("page.not_blocked")) + "</h1>\n";
  } else {
    h += "<h1>" + htmlEscape(t("title")) + "</h1>\n";
    // A licensed list's entries are never shown, not even to the child who asked.
    if (!facts.name.empty() && !facts.confidential) {
      h += "<p class=\"site\">" + fill(lang.get("page.site"), "{name}", facts.name) + "</p>\n";
    }
    h += "<p>" + htmlEscape(t("intro")) + "</p>\n";
    h += "<p>" + fill(t("category"), "{category}", category) + "</p>\n";
    h += "<p>" + htmlEscape(t("recorded")) + "</p>\n";
    h += "<p>" + htmlEscape(t("ask")) + "</p>\n";
    h += "<p>" + htmlEscape(t("report")) + "</p>\n";
    if (!form_token.empty() && !facts.confidential && !facts.name.empty()) {
      // Posted to this same URL; the buttons say which of the two it is.
      h += "<form method=\"post\" aria-labelledby=\"ask\">\n<h2 id=\"ask\">" +
           htmlEscape(lang.get("form.heading")) + "</h2>\n";
      h += "<input type=\"hidden\" name=\"token\" value=\"" + htmlEscape(form_token) + "\">\n";
      h += "<input type=\"hidden\" name=\"lang\" value=\"" + htmlEscape(lang.code) + "\">\n";
      h += "<label for=\"reason\">" + htmlEscape(lang.get("form.reason_label")) + "</label>\n";
      h += "<textarea id=\"reason\" name=\"reason\" rows=\"3\" maxlength=\"500\"></textarea>\n";
      h += "<div class=\"buttons\">\n<button class=\"primary\" type=\"submit\" name=\"kind\" "
           "value=\"access\">" +
           htmlEscape(lang.get("form.ask_button")) + "</button>\n";
      h += "<button type=\"submit\" name=\"kind\" value=\"wrong-block\">" +
           htmlEscape(lang.get("form.report_button")) + "</button>\n";
      if (offer_illegal_report) {
        h += "<button type=\"submit\" name=\"kind\" value=\"suspected-illegal\">" +
             htmlEscape(lang.get("form.illegal_button")) + "</button>\n";
      }
      h += "</div>\n</form>\n";
    }
  }
  helpLinks(h, t("help"), help);
  h += "</main>\n<footer>\n<nav aria-label=\"" + htmlEscape(lang.get("page.choose_language")) +
       "\">\n<ul>\n";
  for (const Translation& other : all.all()) {
    const std::string code = htmlEscape(other.code);
    h += "<li><a href=\"?lang=" + code + "\" lang=\"" + code + "\" hreflang=\"" + code + "\"";
    if (other.code == lang.code) h += " aria-current=\"page\"";
    h += ">" + htmlEscape(other.name) + "</a></li>\n";
  }
  h += "</ul>\n</nav>\n</footer>\n</body>\n</html>\n";
  return h;
}

std::string renderFormResult(const Translation& lang, FormOutcome outcome, const std::string& back,
                             const std::vector<HelpLink>& help, AgeBand band) {
  const char* key = "failed";
  bool sent = false;
  switch (outcome) {
    case FormOutcome::kSentAccess:
      key = "sent_access";
      sent = true;
      break;
    case FormOutcome::kSentReport:
      key = "sent_report";
      sent = true;
      break;
    case FormOutcome::kSentIllegal:
      key = "sent_illegal";
      sent = true;
      break;
    case FormOutcome::kAlreadyPending: key = "already"; break;
    case FormOutcome::kTooMany: key = "too_many"; break;
    case FormOutcome::kExpired: key = "expired"; break;
    case FormOutcome::kFailed: key = "failed"; break;
    case FormOutcome::kNotBlocked: key = nullptr; break;
  }
  const std::string& message =
      key == nullptr ? lang.get("page.not_blocked") : lang.get(std::string("form.") + key);
  const std::string& title = sent ? lang.get("form.sent_title") : message;
  std::string h;
  h.reserve(3072);
  openDocument(h, lang, title);
  h += "<h1>" + htmlEscape(title) + "</h1>\n";
  if (sent) h += "<p>" + htmlEscape(message) + "</p>\n";
  h +=
      "<p><a href=\"" + htmlEscape(back) + "\">" + htmlEscape(lang.get("form.back")) + "</a></p>\n";
  helpLinks(h, lang.get(std::string(bandName(band)) + ".help"), help);
  h += "</main>\n</body>\n</html>\n";
  return h;
}

}  // namespace safegate::ui
