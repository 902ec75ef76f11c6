#include "daemon/store/state_file.h"

#include <tuple>

namespace safegate {

namespace {

// 1-based line and column of byte offset `at` in `text`.
SourceLocation locate(const std::filesystem::path& file, const std::string& text, size_t at) {
  SourceLocation where{file.string(), 1, 1};
  for (size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++where.line;
      where.column = 1;
    } else {
      ++where.column;
    }
  }
  return where;
}

}  // namespace

nlohmann::json parseStateFile(const std::string& text, const std::filesystem::path& file,
                              std::string_view what, DiagnosticSink& diags) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) return doc;
  // Parse again with exceptions only to learn where it failed (control plane, rare).
  size_t at = 0;
  std::string why = "not valid JSON";
  try {
    std::ignore = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    at = e.byte > 0 ? e.byte - 1 : 0;
    why = e.what();
  } catch (const nlohmann::json::exception& e) {
    // Not only syntax: a number too large for any type is out_of_range (found by the
    // exception_store fuzzer; it escaped and ended the daemon).
    why = e.what();
  }
  diags.error(locate(file, text, at), std::string(what) + " is not valid JSON: " + why);
  return doc;
}

std::filesystem::path setDamagedFileAside(const std::filesystem::path& file, int64_t now,
                                          size_t kept, std::string_view noun,
                                          DiagnosticSink& diags) {
  std::filesystem::path aside = file;
  aside += ".corrupt-" + std::to_string(now);
  std::error_code ec;
  std::filesystem::rename(file, aside, ec);
  if (ec) {
    diags.error({file.string()}, "cannot move the damaged file aside: " + ec.message());
    return {};
  }
  diags.warning({file.string()}, "damaged file kept as " + aside.string() + "; " +
                                     std::to_string(kept) + " valid " + std::string(noun) +
                                     " restored");
  return aside;
}

Result<std::string> recordText(const nlohmann::json& entry, const char* key, bool required) {
  auto it = entry.find(key);
  if (it == entry.end()) {
    if (required) return Status::invalid(std::string("missing \"") + key + "\"");
    return std::string();
  }
  if (!it->is_string()) return Status::invalid(std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

Result<int64_t> recordInteger(const nlohmann::json& entry, const char* key, bool required) {
  auto it = entry.find(key);
  if (it == entry.end()) {
    if (required) return Status::invalid(std::string("missing \"") + key + "\"");
    return int64_t{0};
  }
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})) {
    return Status::invalid(std::string("\"") + key + "\" must be an integer");
  }
  return it->get<int64_t>();
}

}  // namespace safegate
