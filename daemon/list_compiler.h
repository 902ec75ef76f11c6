// Compiling big lists outside the daemon (issue 12): reading 5M list lines peaks at ~4.4x the
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

#include "common/result.h"

namespace safegate {

// Runs `/proc/self/exe --compile-lists --config CONFIG [--state-dir DIR]` with signals
// unblocked, stdin/stdout/stderr on /dev/null, and waits. OK when it exited 0.
Status compileListsInChild(const std::filesystem::path& config,
                           const std::filesystem::path& state_dir_override);

// The child's side, called by main() for --compile-lists: lowest CPU priority (DNS keeps the
// cores during a reload), load + compile with the cache written. Returns the exit code.
int compileListsOnly(const std::filesystem::path& config,
                     const std::filesystem::path& state_dir_override);

}  // namespace safegate
