// ManPage: a manual page as data, rendered to roff (man(7) macros). safegated builds one from its
// option table (daemon/main.cc), safegatectl from its CLI11 definitions (ui-helper/cmd_man.cc), so
// the installed pages (`safegated --man`, `safegatectl man`, run by the build) always list the
// options the binaries accept.
//
// Pure function of its input; no I/O.
#pragma once

#include <string>
#include <vector>

namespace safegate {

struct ManOption {
  std::string flags;  // "--config, -c"
  std::string value;  // "FILE", or "" for a flag
  std::string help;
};

struct ManCommand {   // a sub-command (safegatectl)
  std::string usage;  // "check-config FILE"
  std::string help;
  std::vector<ManOption> options;
};

struct ManSection {  // free text: paragraphs separated by blank lines
  std::string title;
  std::string text;
};

struct ManPage {
  std::string name;     // "safegated"
  int section = 8;      // 8: system administration
  std::string summary;  // NAME line: "safegated - ..."
  std::string synopsis;
  std::string description;
  std::vector<ManOption> options;
  std::vector<ManCommand> commands;
  std::vector<ManSection> extra;  // after OPTIONS/COMMANDS: SIGNALS, FILES, ...
  std::vector<std::string> see_also;
};

// The page as roff: text escaped so no line starts a request and '-' and '\' print as typed.
std::string renderManPage(const ManPage& page, const std::string& version);

}  // namespace safegate
