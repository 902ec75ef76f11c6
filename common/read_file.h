// readWholeFile: the contents of a small file (a config file, an include, a TZif zone file),
// with errors that say why — a directory, a missing file or a read error is a Status, never an
// exception from a stream buffer (libstdc++'s filebuf throws from underflow() when read(2)
// fails, e.g. EISDIR, and an istreambuf_iterator does not catch it).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "common/result.h"

namespace safegate {

// kNotFound when the file does not exist; kInvalidArgument for a directory or a file larger
// than `max_bytes`; kIoError otherwise. Messages name the path.
Result<std::string> readWholeFile(const std::filesystem::path& path, size_t max_bytes);

}  // namespace safegate
