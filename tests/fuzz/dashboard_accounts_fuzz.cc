// Fuzz target for the dashboard's accounts file (ui-helper/accounts.h): any text gives accounts
// with valid names, unique, each with a hash that parses; every error names the file; what
// formatAccounts() writes parses back to the same accounts with no diagnostic.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "ui-helper/accounts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  safegate::DiagnosticSink sink;
  const auto accounts = safegate::ui::parseAccounts(text, "ui-users", sink);
  std::set<std::string> names;
  for (const auto& a : accounts) {
    if (!safegate::ui::checkAccountName(a.name)) std::abort();
    if (!names.insert(a.name).second) std::abort();
  }
  for (const auto& d : sink.all()) {
    if (d.where.file != "ui-users" || d.where.line == 0) std::abort();
  }
  safegate::DiagnosticSink again;
  const auto back = safegate::ui::parseAccounts(safegate::ui::formatAccounts(accounts), "f", again);
  if (again.hasErrors() || back.size() != accounts.size()) std::abort();
  for (size_t i = 0; i < back.size(); ++i) {
    if (back[i].name != accounts[i].name || back[i].role != accounts[i].role ||
        back[i].hash != accounts[i].hash) {
      std::abort();
    }
  }
  return 0;
}
