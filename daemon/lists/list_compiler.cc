#include "daemon/lists/list_compiler.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy_engine.h"

extern char** environ;

namespace safegate {

std::vector<std::string> compilerEnvironment(char* const* env) {
  constexpr std::string_view kKey = "GLIBC_TUNABLES=";
  constexpr std::string_view kHugeTlb = "glibc.malloc.hugetlb";
  std::vector<std::string> out;
  bool tunables = false;
  for (char* const* e = env; e && *e; ++e) {
    std::string entry = *e;
    if (entry.starts_with(kKey)) {
      tunables = true;
      if (entry.find(kHugeTlb) == std::string::npos) {
        if (entry.size() > kKey.size()) entry += ':';
        entry += std::string(kHugeTlb) + "=1";
      }
    }
    out.push_back(std::move(entry));
  }
  if (!tunables) out.push_back(std::string(kKey) + std::string(kHugeTlb) + "=1");
  return out;
}

Status compileListsInChild(const std::filesystem::path& config,
                           const std::filesystem::path& state_dir_override) {
  std::vector<std::string> args = {"safegated", "--compile-lists", "--config", config.string()};
  if (!state_dir_override.empty()) {
    args.push_back("--state-dir");
    args.push_back(state_dir_override.string());
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // the daemon blocks signals for its signalfd
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  for (int fd : {0, 1, 2}) {
    posix_spawn_file_actions_addopen(&files, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  std::vector<std::string> env = compilerEnvironment(environ);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &files, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::fromErrno("start safegated --compile-lists", rc);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::fromErrno("waitpid safegated --compile-lists", errno);
  }
  if (WIFSIGNALED(status)) {
    return Status::unavailable("safegated --compile-lists was killed by signal " +
                               std::to_string(WTERMSIG(status)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::invalid("safegated --compile-lists exited with " +
                           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
  return Status::ok();
}

int compileListsOnly(const std::filesystem::path& config,
                     const std::filesystem::path& state_dir_override) {
  setpriority(PRIO_PROCESS, 0, 19);
  // Lists unchanged since the entry was stored: nothing to compile (the daemon checks the
  // entry itself when it maps it).
  DiagnosticSink probe;
  if (auto config_only = policy::loadConfig(config, probe, state_dir_override);
      config_only && policy::PolicySnapshot::listCacheCurrent(
                         *config_only, config_only->daemon.state_dir / "compiled")) {
    return 0;
  }
  DiagnosticSink sink;
  policy::LoadOptions options;
  options.state_dir_override = state_dir_override;
  options.read_list_cache = true;
  options.write_list_cache = true;
  auto loaded = policy::PolicyEngine::load(config, sink, options);
  if (!loaded) {
    fprintf(stderr, "%s", sink.toString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace safegate
