#include "daemon/store/pseudonymizer.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/hex.h"
#include "common/random.h"

namespace safegate {

namespace {
Status readExact(int fd, uint8_t* out, size_t n, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, out + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::fromErrno("read " + path, errno);
    if (r == 0) return Status::invalid(path + ": secret file is shorter than 32 bytes");
    got += static_cast<size_t>(r);
  }
  return Status::ok();
}
}  // namespace

Result<Pseudonymizer> Pseudonymizer::loadOrCreate(const std::filesystem::path& secret_file) {
  Pseudonymizer p;
  const std::string path = secret_file.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return Status::fromErrno("stat " + path, e);
    }
    if (st.st_mode & 077) {
      ::close(fd);
      return Status::invalid(path + ": secret file must not be readable by group or others " +
                             "(chmod 600 it)");
    }
    Status s = readExact(fd, p.key_.data(), p.key_.size(), path);
    ::close(fd);
    if (!s) return s;
    return p;
  }
  if (errno != ENOENT) return Status::fromErrno("open " + path, errno);
  // First start: create with O_EXCL so two starting daemons cannot write different secrets.
  if (Status s = fillRandom(p.key_); !s) return s;
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return loadOrCreate(secret_file);
    return Status::fromErrno("create " + path, errno);
  }
  ::fchmod(fd, 0600);  // regardless of umask
  ssize_t w = ::write(fd, p.key_.data(), p.key_.size());
  int e = errno;
  if (w != static_cast<ssize_t>(p.key_.size()) || ::fsync(fd) != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return Status::fromErrno("write " + path, e ? e : EIO);
  }
  ::close(fd);
  return p;
}

Pseudonymizer Pseudonymizer::withKey(std::span<const uint8_t> key) {
  Pseudonymizer p;
  std::copy_n(key.begin(), std::min(key.size(), p.key_.size()), p.key_.begin());
  return p;
}

std::string Pseudonymizer::pseudonym(std::string_view identity) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(identity.data()), identity.size(), mac, &mac_len);
  return "c-" + hexEncode(std::span<const unsigned char>(mac, std::min(mac_len, 8u)));
}

}  // namespace safegate
