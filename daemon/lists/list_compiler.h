// Compiling big lists outside the daemon: reading 5M list lines peaks at ~3.5x the
// finished index in memory. safegated therefore runs `safegated --compile-lists` (this binary,
// /proc/self/exe) before it loads a policy on start or reload: the child reads the list text,
// stores the compiled image under state_dir/compiled (policy/list_cache.h) and exits, taking
// its peak with it; the daemon then maps the image and parses only the residues, so its own
// memory during a reload stays near its steady state. If the child cannot run or fails (a bad
// config, a crash), the daemon compiles in its own process exactly as before — and reports
// the config's errors itself; the child's output is discarded.
//
// Thread-safety: compileListsInChild() blocks its caller until the child exits (seconds for
// millions of names); call it where the policy load would block anyway.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"

namespace safegate {

// The child's environment: `env` (the daemon's) with glibc.malloc.hugetlb=1 added to
// GLIBC_TUNABLES unless the operator set it. glibc then backs the compiler's big buffers (the
// list text, its parsed names, the index being sorted: hundreds of MiB for millions of names)
// with transparent huge pages: measured 3.3-3.7 s -> 1.9-2.0 s for 5M names, most of the
// difference being page faults (docs/performance.md). Other C libraries ignore the variable.
std::vector<std::string> compilerEnvironment(char* const* env);

// Runs `/proc/self/exe --compile-lists --config CONFIG [--state-dir DIR]` with signals
// unblocked, stdin/stdout/stderr on /dev/null and compilerEnvironment(), and waits. OK when it
// exited 0.
Status compileListsInChild(const std::filesystem::path& config,
                           const std::filesystem::path& state_dir_override);

// The child's side, called by main() for --compile-lists: lowest CPU priority (DNS keeps the
// cores during a reload), load + compile with the cache written. Returns the exit code.
int compileListsOnly(const std::filesystem::path& config,
                     const std::filesystem::path& state_dir_override);

}  // namespace safegate
