// The config schema: ONE definition per key (type, default, validator, help, live-reloadable
// or restart-only), used by the loader (policy/config.h), by `safegatectl check-config`, and
// to generate docs/config-reference.md (`safegatectl config-reference`).
//
// Paths name keys with "[]" for elements of arrays of tables and "*" for free-form keys of a
// map table, e.g. "groups[].schedules[].schedule", "groups[].categories.*".
//
// The schema table is constant; every function here is safe from any thread.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace safegate::policy {

enum class KeyType : uint8_t {
  kString,
  kInteger,
  kBoolean,
  kStringList,
  kIntegerList,
  kTable,       // a [table] with schema-defined keys
  kTableArray,  // [[array.of.tables]]
  kStringMap,   // a table of free-form keys to strings (e.g. category = "action")
};
std::string_view keyTypeName(KeyType t);

// Whether a change takes effect on reload (SIGHUP / `safegatectl reload`) or needs a restart.
enum class Reload : uint8_t { kLive, kRestart };

// Returns "" when the value is acceptable, else the message (without the key path).
using Validator = std::string (*)(const toml::node& value);

struct KeyDef {
  std::string_view path;
  KeyType type;
  // The default as a TOML value ("60", "\"nxdomain\"", "[\"127.0.0.1:5353\"]"); a text in
  // parentheses describes a computed default ("(from the profile)"); "" = required.
  std::string_view default_value;
  Reload reload;
  std::string_view help;
  Validator validate = nullptr;
  std::span<const std::string_view> choices = {};  // allowed strings, if an enumeration
  int64_t min = INT64_MIN;
  int64_t max = INT64_MAX;

  bool required() const {
    return default_value.empty() && type != KeyType::kTable && type != KeyType::kTableArray &&
           type != KeyType::kStringMap;
  }
};

std::span<const KeyDef> schemaKeys();
// The definition for a pattern path ("dns.listen", "groups[].name"); nullptr if none.
const KeyDef* findKeyDef(std::string_view pattern);

// Checks every key of a (merged) config tree against the schema: unknown keys (with "did you
// mean"), types, enumerations, ranges, validators, required keys. Reports each problem as
// "file:line:col: error: key.path: message" into `sink`; never stops at the first.
void validateAgainstSchema(const toml::table& root, DiagnosticSink& sink);

// docs/config-reference.md, generated from the schema (Markdown).
std::string generateConfigReference();

}  // namespace safegate::policy
