// safegatectl man: this tool's manual page (roff), generated from the CLI11 definitions the
// parser itself uses, so the installed safegatectl(8) lists exactly the commands and options
// the binary accepts (the build runs it; packaging installs the result).
#include <iostream>

#include "common/man_page.h"
#include "ui-helper/commands.h"

#ifndef SAFEGATE_VERSION
#define SAFEGATE_VERSION "dev"
#endif

namespace safegate::ui {

namespace {

// "-j,--json" -> "-j, --json"; a value name from the option's type unless it is a flag.
ManOption manOption(const CLI::Option& o) {
  ManOption m;
  std::string names = o.get_name(false, true);
  for (size_t p = names.find(','); p != std::string::npos; p = names.find(',', p + 2)) {
    names.insert(p + 1, " ");
  }
  m.flags = names;
  if (o.get_type_size() != 0) m.value = o.get_type_name();
  m.help = o.get_description();
  return m;
}

void addCommands(const CLI::App& app, const std::string& prefix, std::vector<ManCommand>& out) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    ManCommand c;
    c.usage = prefix + sub->get_name();
    c.help = sub->get_description();
    bool has_options = false;
    std::string positionals;
    for (const CLI::Option* o : sub->get_options()) {
      if (o == sub->get_help_ptr()) continue;
      if (!o->nonpositional()) {
        const std::string name = o->get_name(true);
        positionals += " " + (o->get_required() ? name : "[" + name + "]");
        continue;
      }
      has_options = true;
      c.options.push_back(manOption(*o));
    }
    if (has_options) c.usage += " [OPTIONS]";
    c.usage += positionals;
    const bool leaf = sub->get_subcommands([](const CLI::App*) { return true; }).empty();
    if (leaf || has_options || !positionals.empty()) out.push_back(std::move(c));
    addCommands(*sub, prefix + sub->get_name() + " ", out);
  }
}

ManPage manPage(const CLI::App& app) {
  ManPage page;
  page.name = "safegatectl";
  page.summary = "check, explain and control the safegate child-safety filter";
  page.synopsis = "safegatectl COMMAND [OPTIONS] [ARGUMENTS]";
  page.description =
      "safegatectl is the administrator's tool for safegated(8). The offline commands "
      "(check-config, config-reference, explain, replay) read config files and captures "
      "directly (replay runs safegated --replay, the daemon's own inline path); the others talk to "
      "a running safegated over its control socket "
      "(/run/safegate/control.sock where the package puts it, else "
      "/var/lib/safegate/control.sock; --socket or --config to change it). Changing state "
      "(exceptions, pauses, reloads) needs membership of control.admin_group, root or the "
      "daemon's user.\n\n"
      "Exit status: 0 on success, 1 when the command failed (an invalid config, a refused "
      "request), 2 on a usage error.";
  addCommands(app, "", page.commands);
  page.extra.push_back({"Examples",
                        "    safegatectl check-config /etc/safegate/safegate.toml\n"
                        "    safegatectl explain --config /etc/safegate/safegate.toml "
                        "--client 10.0.0.23 example.com\n"
                        "    safegatectl exceptions add --client 10.0.0.23 --name "
                        "example.com --minutes 60"});
  page.see_also = {"safegated(8)"};
  return page;
}

}  // namespace

void registerManCommand(CLI::App& app) {
  CLI::App* man = app.add_subcommand("man", "Print this tool's manual page (roff)");
  man->callback([&app] {
    std::cout << renderManPage(manPage(app), SAFEGATE_VERSION);
    exitCode() = 0;
  });
}

}  // namespace safegate::ui
