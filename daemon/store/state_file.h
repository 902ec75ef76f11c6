// Small JSON state files safegated writes whole and reads back at start (exceptions.json,
// requests.json): the shared parts of reading them — where a syntax error is, and setting a
// damaged file aside so that nothing in it is lost and the next save does not overwrite it.
// Control plane; allocates; no shared state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace safegate {

// `text` (the content of `file`) parsed; when it is not JSON, reports "`what` is not valid JSON:
// reason" at the line and column where parsing stopped and returns a discarded value.
nlohmann::json parseStateFile(const std::string& text, const std::filesystem::path& file,
                              std::string_view what, DiagnosticSink& diags);

// One entry's key as a string (a missing optional key reads as "") or an integer (missing
// optional: 0; an unsigned value past INT64_MAX is refused), else an error naming the key.
Result<std::string> recordText(const nlohmann::json& entry, const char* key, bool required);
Result<int64_t> recordInteger(const nlohmann::json& entry, const char* key, bool required);

// Renames `file` to `<file>.corrupt-<now>` and warns that `kept` valid entries (`noun`, e.g.
// "exception(s)") were restored; an error when the rename fails. Returns the new name, or ""
// when it could not be moved.
std::filesystem::path setDamagedFileAside(const std::filesystem::path& file,
                                          int64_t now_unix_seconds, size_t kept,
                                          std::string_view noun, DiagnosticSink& diags);

}  // namespace safegate
