#include "daemon/privileges.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "daemon/dns/dns_proxy.h"

namespace safegate {

namespace {

struct CapabilityName {
  Capability flag;
  cap_value_t value;
  const char* name;
};
constexpr CapabilityName kCapabilities[] = {
    {kCapNetBindService, CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"},
    {kCapNetAdmin, CAP_NET_ADMIN, "CAP_NET_ADMIN"},
    {kCapNetRaw, CAP_NET_RAW, "CAP_NET_RAW"},
};

struct Account {
  uid_t uid;
  gid_t gid;
  std::string name;
};

Result<Account> lookUp(const std::string& user) {
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found);
  if (rc != 0) return Status::fromErrno("daemon.user: looking up \"" + user + "\"", rc);
  if (!found) {
    return Status::invalid("daemon.user: no user \"" + user +
                           "\" on this system (create it: useradd --system --no-create-home "
                           "--shell /usr/sbin/nologin " +
                           user + ")");
  }
  return Account{pw.pw_uid, pw.pw_gid, pw.pw_name};
}

// Gives every root-owned entry below the open directory `dirfd` to `to`: through directory
// descriptors, never following a symlink (symlinks and files with other hard links keep their
// owner).
Status giveTree(int dirfd, const std::string& shown, const Account& to, int depth) {
  if (depth > 8) return Status::invalid(shown + ": nested too deep for a state directory");
  const int listfd = ::dup(dirfd);
  DIR* dir = listfd < 0 ? nullptr : ::fdopendir(listfd);
  if (!dir) {
    if (listfd >= 0) ::close(listfd);
    return Status::fromErrno("read " + shown, errno);
  }
  Status result;
  while (dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = shown + "/" + name;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    if (st.st_uid != 0 || S_ISLNK(st.st_mode)) continue;
    if (S_ISDIR(st.st_mode)) {
      const int sub =
          ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        result = Status::fromErrno("open " + path, errno);
        break;
      }
      result = giveTree(sub, path, to, depth + 1);
      ::close(sub);
      if (!result) break;
    } else if (!(S_ISREG(st.st_mode) && st.st_nlink == 1) && !S_ISSOCK(st.st_mode)) {
      continue;
    }
    if (::fchownat(dirfd, name.c_str(), to.uid, to.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      result = Status::fromErrno("chown " + path + " to " + to.name, errno);
      break;
    }
  }
  ::closedir(dir);
  return result;
}

// Hands the state directory to the daemon's user once: while it is still root's (a new install,
// or one that ran as root before). Later root starts find it the user's and touch nothing in
// it, so a compromised daemon cannot plant a link for root to follow; during the hand-over
// only root can write there. A directory that is not the daemon's own (anything in it that
// safegate does not write, everyone may write to it, another user owns it) is refused rather
// than given away: daemon.state_dir = "/etc" must not hand /etc to the daemon.
Status giveStateDirectory(const policy::DaemonSettings& s, const Account& to) {
  const std::filesystem::path& dir = s.state_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io("create state_dir " + dir.string() + ": " + ec.message());
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::fromErrno("open state_dir " + dir.string(), errno);
  struct stat st {};
  Status result;
  if (::fstat(fd, &st) != 0) {
    result = Status::fromErrno("stat state_dir " + dir.string(), errno);
  } else if (st.st_uid == to.uid) {
    // Handed over already.
  } else if (st.st_uid != 0) {
    result = Status::invalid("state_dir " + dir.string() + " belongs to uid " +
                             std::to_string(st.st_uid) + ", neither root nor " + to.name);
  } else if ((st.st_mode & S_IWOTH) != 0 || dir == dir.root_path()) {
    result = Status::invalid("state_dir " + dir.string() +
                             " is not a directory of safegate's own; use one such as "
                             "/var/lib/safegate");
  } else {
    // The names safegate writes there (database, secret and socket only when they live in it).
    std::vector<std::string> known = {"compiled", "lists", "exceptions.json", "policy-summary.json",
                                      "firewall-failmode"};
    for (const auto& p :
         {s.database.path, s.privacy.secret_file, s.control.socket, s.outbox.path}) {
      if (!p.empty() && p.parent_path() == dir) known.push_back(p.filename().string());
    }
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      bool ours = false;
      for (const auto& k : known) ours = ours || name.rfind(k, 0) == 0;
      if (!ours) {
        result = Status::invalid("state_dir " + dir.string() + " holds \"" + name +
                                 "\", which safegate did not write; point daemon.state_dir at "
                                 "a directory of its own before switching to " +
                                 to.name);
        break;
      }
    }
    if (result) result = giveTree(fd, dir.string(), to, 0);
    if (result && ::fchown(fd, to.uid, to.gid) != 0) {
      result = Status::fromErrno("chown " + dir.string() + " to " + to.name, errno);
    }
    if (result && ::fchmod(fd, 0750) != 0)
      result = Status::fromErrno("chmod " + dir.string(), errno);
  }
  ::close(fd);
  return result;
}

// The xtables lock readable by the daemon's group (header comment); created like iptables
// would create it.
Status shareXtablesLock(gid_t gid) {
  const std::string path = xtablesLockPath();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::fromErrno("open " + path, errno);
  struct stat st {};
  Status s;
  if (::fstat(fd, &st) != 0) {
    s = Status::fromErrno("stat " + path, errno);
  } else if (st.st_gid != gid && ::fchown(fd, st.st_uid, gid) != 0) {
    s = Status::fromErrno("chgrp " + path, errno);
  } else if ((st.st_mode & 0040) == 0 && ::fchmod(fd, (st.st_mode & 07777) | 0040) != 0) {
    s = Status::fromErrno("chmod g+r " + path, errno);
  }
  ::close(fd);
  return s;
}

Status setCapabilities(const CapabilityNeeds& needs) {
  cap_t current = cap_get_proc();
  if (!current) return Status::fromErrno("cap_get_proc", errno);
  cap_t wanted = cap_init();
  std::vector<cap_value_t> keep, inherit;
  for (const auto& c : kCapabilities) {
    cap_flag_value_t permitted = CAP_CLEAR;
    cap_get_flag(current, c.value, CAP_PERMITTED, &permitted);
    // One the process never had (a non-root run binding port 53) cannot be kept; the bind
    // then fails with its own message.
    if (permitted != CAP_SET) continue;
    if (needs.keep & c.flag) keep.push_back(c.value);
    if (needs.inherit & c.flag) inherit.push_back(c.value);
  }
  cap_free(current);
  Status s;
  const int nk = static_cast<int>(keep.size()), ni = static_cast<int>(inherit.size());
  if ((nk > 0 && (cap_set_flag(wanted, CAP_PERMITTED, nk, keep.data(), CAP_SET) != 0 ||
                  cap_set_flag(wanted, CAP_EFFECTIVE, nk, keep.data(), CAP_SET) != 0)) ||
      (ni > 0 && cap_set_flag(wanted, CAP_INHERITABLE, ni, inherit.data(), CAP_SET) != 0) ||
      cap_set_proc(wanted) != 0) {
    s = Status::fromErrno("setting capabilities", errno);
  }
  cap_free(wanted);
  if (!s) return s;
  // Ambient capabilities survive execve for a non-root user; only the ones inherited.
  if (cap_reset_ambient() != 0 && errno != EINVAL) {
    return Status::fromErrno("clearing ambient capabilities", errno);
  }
  for (cap_value_t v : inherit) {
    if (cap_set_ambient(v, CAP_SET) != 0) {
      return Status::fromErrno("raising an ambient capability", errno);
    }
  }
  return Status::ok();
}

// Both ways in end here: root cannot be regained, and no capability beyond `needs` is held in
// any set (a libcap or kernel surprise stops the start instead of running privileged).
Status checkUnprivileged(const CapabilityNeeds& needs) {
  if (::setuid(0) == 0 || ::geteuid() == 0) {
    return Status::internal("root could be regained after dropping privileges");
  }
  cap_t held = cap_get_proc();
  if (!held) return Status::fromErrno("cap_get_proc", errno);
  std::string extra;
  for (cap_value_t v = 0; v <= CAP_LAST_CAP; ++v) {
    bool wanted = false;
    for (const auto& c : kCapabilities) wanted = wanted || (c.value == v && (needs.keep & c.flag));
    if (wanted) continue;
    for (cap_flag_t set : {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE}) {
      cap_flag_value_t on = CAP_CLEAR;
      if (cap_get_flag(held, v, set, &on) == 0 && on == CAP_SET) {
        char* name = cap_to_name(v);
        extra = name ? name : std::to_string(v);
        cap_free(name);
        break;
      }
    }
    if (!extra.empty()) break;
  }
  cap_free(held);
  if (!extra.empty()) return Status::internal("capability " + extra + " still held after the drop");
  return Status::ok();
}

// The directories the daemon writes after the switch, checked as the new user so a missing
// permission is named at start, not at the first incident.
Status checkWritable(const policy::DaemonSettings& s) {
  if (::access(s.config_file.c_str(), R_OK) != 0) {
    return Status::fromErrno("the config " + s.config_file.string() +
                                 " is not readable by the daemon's user (reloads read it)",
                             errno);
  }
  std::set<std::filesystem::path> dirs = {s.state_dir, s.database.path.parent_path(),
                                          s.control.socket.parent_path()};
  if (!s.outbox.path.empty()) dirs.insert(s.outbox.path.parent_path());
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) continue;  // created later, with its own error
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      return Status::fromErrno(dir.string() + " is not writable by the daemon's user", errno);
    }
  }
  return Status::ok();
}

}  // namespace

CapabilityNeeds requiredCapabilities(const policy::DaemonSettings& settings,
                                     bool fail_mode_commands) {
  CapabilityNeeds n;
  for (const std::string& l : settings.dns.listen) {
    auto a = SocketAddress::parse(l, 53);
    if (a && a->port() != 0 && a->port() < 1024) n.keep |= kCapNetBindService;
  }
  if (settings.inline_mode.enabled) {
    n.keep |= kCapNetAdmin | kCapNetRaw;
    if (fail_mode_commands) n.inherit |= kCapNetAdmin | kCapNetRaw;
  }
  return n;
}

std::vector<std::string> capabilityNames(uint32_t set) {
  std::vector<std::string> out;
  for (const auto& c : kCapabilities) {
    if (set & c.flag) out.emplace_back(c.name);
  }
  return out;
}

std::string xtablesLockPath() {
  const char* v = std::getenv("XTABLES_LOCKFILE");
  return v && *v ? v : "/run/xtables.lock";
}

Status dropPrivileges(const policy::DaemonSettings& settings, const CapabilityNeeds& needs) {
  const bool root = ::geteuid() == 0;
  if (root && settings.user.empty()) return Status::ok();  // stays root (docs/operations.md)
  if (!settings.user.empty()) {
    auto account = lookUp(settings.user);
    if (!account) return account.status();
    if (root) {
      if (Status s = giveStateDirectory(settings, *account); !s) return s;
      if (needs.inherit != 0) {
        if (Status s = shareXtablesLock(account->gid); !s) return s;
      }
      if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Status::fromErrno("keepcaps", errno);
      if (::initgroups(account->name.c_str(), account->gid) != 0) {
        return Status::fromErrno("initgroups " + account->name, errno);
      }
      if (::setgid(account->gid) != 0) return Status::fromErrno("setgid", errno);
      if (::setuid(account->uid) != 0) return Status::fromErrno("setuid", errno);
      ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    } else if (::geteuid() != account->uid) {
      return Status::invalid("daemon.user is \"" + settings.user + "\" but safegated runs as uid " +
                             std::to_string(::geteuid()) +
                             " and cannot switch (start it as root or as that user)");
    }
  }
  if (Status s = setCapabilities(needs); !s) return s;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::fromErrno("no_new_privs", errno);
  }
  if (Status s = checkUnprivileged(needs); !s) return s;
  return checkWritable(settings);
}

void dropAllCapabilities() {
  cap_t none = cap_init();
  if (none) {
    (void)cap_set_proc(none);
    cap_free(none);
  }
  (void)cap_reset_ambient();
}

}  // namespace safegate
