#include "common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace safegate {
namespace {

Status writeAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::fromErrno("write", errno);
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

Status writeFileAtomically(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  return writeFileAtomically(path, std::span<const std::string_view>(&data, 1), mode);
}

Status writeFileAtomically(const std::filesystem::path& path,
                           std::span<const std::string_view> parts, mode_t mode) {
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::string tmp_name = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  int fd = mkostemp(tmp_name.data(), O_CLOEXEC);
  if (fd < 0) return Status::fromErrno("create temporary file in " + dir.string(), errno);
  Status s = fchmod(fd, mode) == 0 ? Status::ok() : Status::fromErrno("fchmod", errno);
  for (std::string_view data : parts) {
    if (s) s = writeAll(fd, data);
  }
  if (s && fsync(fd) != 0) s = Status::fromErrno("fsync " + tmp_name, errno);
  if (close(fd) != 0 && s) s = Status::fromErrno("close " + tmp_name, errno);
  if (s && ::rename(tmp_name.c_str(), path.c_str()) != 0) {
    s = Status::fromErrno("rename to " + path.string(), errno);
  }
  if (!s) {
    ::unlink(tmp_name.c_str());
    return s;
  }
  // The rename is durable only once the directory entry is on disk.
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Status::ok();
}

}  // namespace safegate
