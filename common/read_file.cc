#include "common/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/fd.h"

namespace safegate {

Result<std::string> readWholeFile(const std::filesystem::path& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::notFound(path.string() + ": no such file");
    return Status::fromErrno("open " + path.string(), errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::fromErrno("stat " + path.string(), errno);
  if (S_ISDIR(st.st_mode)) return Status::invalid(path.string() + ": is a directory, not a file");
  std::string data;
  if (S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) <= max_bytes) {
    data.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::fromErrno("read " + path.string(), errno);
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      return Status::invalid(path.string() + ": larger than " + std::to_string(max_bytes) +
                             " bytes");
    }
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

}  // namespace safegate
