// safegatectl commands on dashboard accounts (ui-helper/accounts.h, docs/dashboard.md):
//
//   safegatectl user add NAME --role viewer|lead|admin [--password-stdin] [--config FILE | --file
//   F] safegatectl user remove NAME [--config FILE | --file F] safegatectl user list [--config FILE
//   | --file F]
//
// The file is ui.users_file of the config (default /etc/safegate/safegate.toml), rewritten whole
// and atomically (mode 0640; when run as root, given the owner and group of its folder, so
// safegate-ui running as the safegate user can read it). `add` replaces the password and role
// of an existing account. The password is typed twice without echo, or read as one line from
// standard input with --password-stdin (for scripts); at least 10 characters.
// Exit codes: 0 done; 1 refused (bad name or role, short password, unknown account); 2 the
// config or the file cannot be read or written.
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "common/atomic_file.h"
#include "policy/config.h"
#include "ui-helper/accounts.h"
#include "ui-helper/commands.h"

namespace safegate::ui {
namespace {

constexpr size_t kMinPasswordLength = 10;

struct UserOptions {
  std::string config = "/etc/safegate/safegate.toml";
  std::string file;
};

std::optional<std::filesystem::path> usersFile(const UserOptions& o) {
  if (!o.file.empty()) return std::filesystem::path(o.file);
  DiagnosticSink sink;
  auto cfg = policy::loadConfig(o.config, sink);
  if (!cfg) {
    for (const auto& d : sink.all()) std::cerr << d.toString() << "\n";
    return std::nullopt;
  }
  return cfg->daemon.ui.users_file;
}

// The accounts in the file (none when it does not exist yet); nullopt after printing why.
std::optional<std::vector<Account>> readAccounts(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::vector<Account>{};
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "safegatectl: cannot read " << file.string() << "\n";
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  DiagnosticSink sink;
  auto accounts = parseAccounts(text.str(), file.string(), sink);
  for (const auto& d : sink.all()) std::cerr << d.toString() << "\n";
  if (sink.hasErrors()) {
    // Rewriting would drop the lines it could not read: fix them first.
    std::cerr << "safegatectl: " << file.string()
              << " has lines this safegatectl cannot read; fix or remove them first\n";
    return std::nullopt;
  }
  return accounts;
}

bool writeAccounts(const std::filesystem::path& file, const std::vector<Account>& accounts) {
  if (Status s = writeFileAtomically(file, formatAccounts(accounts), 0640); !s) {
    std::cerr << "safegatectl: cannot write " << file.string() << ": " << s.message() << "\n";
    return false;
  }
  struct stat dir {};
  // lchown: the folder's owner could have put a symbolic link there since the rename, and
  // root must not hand its target (/etc/shadow) over.
  if (geteuid() == 0 && ::stat(file.parent_path().c_str(), &dir) == 0 &&
      ::lchown(file.c_str(), dir.st_uid, dir.st_gid) != 0) {
    std::cerr << "safegatectl: warning: cannot give " << file.string()
              << " to its folder's owner: " << std::strerror(errno) << "\n";
  }
  return true;
}

std::optional<std::string> readPassword(bool from_stdin) {
  std::string first;
  if (from_stdin || !isatty(STDIN_FILENO)) {
    if (!from_stdin) {
      std::cerr << "safegatectl: standard input is not a terminal; use --password-stdin\n";
      return std::nullopt;
    }
    std::getline(std::cin, first);
    return first;
  }
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string second;
  std::cerr << "Password: " << std::flush;
  std::getline(std::cin, first);
  std::cerr << "\nAgain: " << std::flush;
  std::getline(std::cin, second);
  std::cerr << "\n";
  tcsetattr(STDIN_FILENO, TCSANOW, &old);
  if (first != second) {
    std::cerr << "safegatectl: the passwords differ\n";
    return std::nullopt;
  }
  return first;
}

}  // namespace

void registerUserCommands(CLI::App& app) {
  auto o = std::make_shared<UserOptions>();
  CLI::App* user = app.add_subcommand("user", "Dashboard accounts (docs/dashboard.md)");
  user->require_subcommand(1);
  auto common = [o](CLI::App* cmd) {
    cmd->add_option("--config", o->config, "Config whose ui.users_file to edit");
    cmd->add_option("--file", o->file, "Edit this accounts file instead");
  };

  struct AddArgs {
    std::string name, role;
    bool password_stdin = false;
  };
  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = user->add_subcommand("add", "Add an account, or set its password and role");
  common(add);
  add->add_option("NAME", add_args->name, "Account name")->required();
  add->add_option("--role", add_args->role, "viewer, lead (decides requests) or admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "lead", "admin"}));
  add->add_flag("--password-stdin", add_args->password_stdin,
                "Read the password as one line from standard input");
  add->callback([o, add_args] {
    exitCode() = 1;
    if (Status s = checkAccountName(add_args->name); !s) {
      std::cerr << "safegatectl: " << s.message() << "\n";
      return;
    }
    auto file = usersFile(*o);
    if (!file) {
      exitCode() = 2;
      return;
    }
    auto accounts = readAccounts(*file);
    if (!accounts) {
      exitCode() = 2;
      return;
    }
    auto password = readPassword(add_args->password_stdin);
    if (!password) return;
    if (password->size() < kMinPasswordLength) {
      std::cerr << "safegatectl: a password needs at least " << kMinPasswordLength
                << " characters\n";
      return;
    }
    auto hash = hashPassword(*password);
    if (!hash) {
      std::cerr << "safegatectl: " << hash.status().message() << "\n";
      return;
    }
    const Role role = *parseRole(add_args->role);
    bool replaced = false;
    for (Account& a : *accounts) {
      if (a.name == add_args->name) {
        a.role = role;
        a.hash = *hash;
        replaced = true;
      }
    }
    if (!replaced) accounts->push_back({add_args->name, role, *hash});
    if (!writeAccounts(*file, *accounts)) {
      exitCode() = 2;
      return;
    }
    std::cout << (replaced ? "updated " : "added ") << add_args->name << " (" << add_args->role
              << ") in " << file->string() << "\n";
    exitCode() = 0;
  });

  auto remove_name = std::make_shared<std::string>();
  CLI::App* remove = user->add_subcommand("remove", "Remove an account");
  common(remove);
  remove->add_option("NAME", *remove_name, "Account name")->required();
  remove->callback([o, remove_name] {
    auto file = usersFile(*o);
    auto accounts = file ? readAccounts(*file) : std::nullopt;
    if (!accounts) {
      exitCode() = 2;
      return;
    }
    const size_t before = accounts->size();
    std::erase_if(*accounts, [&](const Account& a) { return a.name == *remove_name; });
    if (accounts->size() == before) {
      std::cerr << "safegatectl: no account \"" << *remove_name << "\" in " << file->string()
                << "\n";
      exitCode() = 1;
      return;
    }
    exitCode() = writeAccounts(*file, *accounts) ? 0 : 2;
    if (exitCode() == 0) std::cout << "removed " << *remove_name << "\n";
  });

  CLI::App* list = user->add_subcommand("list", "List the accounts and their roles");
  common(list);
  list->callback([o] {
    auto file = usersFile(*o);
    auto accounts = file ? readAccounts(*file) : std::nullopt;
    if (!accounts) {
      exitCode() = 2;
      return;
    }
    for (const Account& a : *accounts) std::cout << a.name << " " << roleName(a.role) << "\n";
    if (accounts->empty()) std::cout << "(none)\n";
    exitCode() = 0;
  });
}

}  // namespace safegate::ui
