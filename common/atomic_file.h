// writeFileAtomically: replace a small state file so that a crash or power cut leaves either
// the old or the new content, never half of one: a temporary file in the same directory (with
// `mode`), fsync, rename over the old name, fsync of the directory.
// Used for state_dir files written whole (exceptions.json, policy-summary.json).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <span>
#include <string_view>

#include "common/result.h"

namespace safegate {

Status writeFileAtomically(const std::filesystem::path& path, std::string_view data, mode_t mode);
// The same for a file written in several pieces (a header and large tables) without first
// joining them in memory.
Status writeFileAtomically(const std::filesystem::path& path,
                           std::span<const std::string_view> parts, mode_t mode);

}  // namespace safegate
