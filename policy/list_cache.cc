#include "policy/list_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>

#include "common/atomic_file.h"
#include "common/fd.h"
#include "common/read_file.h"
#include "filters/sha256.h"

namespace safegate::policy {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kManifestMagic = "safegate-list-cache 2";
constexpr size_t kMaxResidueBytes = 256u << 20;  // ListReadOptions::max_file_bytes

// One mapping per image per process: snapshots of the same lists share it.
std::mutex& sharedMutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::weak_ptr<const NameIndex>>& sharedImages() {
  static std::map<std::string, std::weak_ptr<const NameIndex>> images;
  return images;
}

void remember(const std::string& path, const std::shared_ptr<const NameIndex>& names) {
  std::lock_guard<std::mutex> lock(sharedMutex());
  auto& images = sharedImages();
  std::erase_if(images, [](const auto& kv) { return kv.second.expired(); });
  images[path] = names;
}

std::shared_ptr<const NameIndex> recall(const std::string& path) {
  std::lock_guard<std::mutex> lock(sharedMutex());
  auto& images = sharedImages();
  auto it = images.find(path);
  return it == images.end() ? nullptr : it->second.lock();
}

// Length-prefixed, so no two input sets hash the same bytes.
void field(Sha256& h, std::string_view s) {
  const std::string len = std::to_string(s.size()) + ":";
  h.update(len);
  h.update(s);
}

bool isHexDigest(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string sha256Hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  auto sum = h.finish();
  return sum ? Sha256::hex(*sum) : std::string();
}

std::string fileIdentity(const struct stat& st) {
  return std::to_string(st.st_dev) + "/" + std::to_string(st.st_ino) + "/" +
         std::to_string(st.st_mode) + "/" + std::to_string(st.st_size) + "/" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
}

// One store() at a time per process: a reload from the control socket and one from a signal
// or a list update may compile at once.
std::mutex& storeMutex() {
  static std::mutex m;
  return m;
}

// flock(2) on DIR/.lock: one writer at a time across processes (the daemon and its
// --compile-lists child, two reloads' children). Released when the Fd closes.
Result<Fd> lockDir(const fs::path& dir) {
  const fs::path path = dir / ".lock";
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::fromErrno("open " + path.string(), errno);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return Status::fromErrno("flock " + path.string(), errno);
  }
  return fd;
}

std::string residueName(size_t i) { return "residue-" + std::to_string(i); }

}  // namespace

Result<std::string> ListCache::keyOf(const std::vector<ListCacheInput>& inputs) {
  Sha256 h;
  field(h, kManifestMagic);
  field(h, std::to_string(NameIndex::kImageVersion));
  field(h, std::to_string(kListSemanticsVersion));
  struct stat exe {};
  if (::stat("/proc/self/exe", &exe) == 0) field(h, fileIdentity(exe));
  field(h, std::to_string(inputs.size()));
  for (const ListCacheInput& in : inputs) {
    struct stat st {};
    if (::stat(in.path.c_str(), &st) != 0) return Status::fromErrno("stat " + in.path, errno);
    field(h, in.list_name);
    field(h, in.category);
    field(h, listFormatName(in.format));
    field(h, in.path);
    field(h, fileIdentity(st));
  }
  auto sum = h.finish();
  if (!sum) return Status::internal("SHA-256 of the list cache key failed");
  return Sha256::hex(*sum);
}

Result<ListCache::Entry> ListCache::load(const std::string& key, size_t list_files) const {
  const fs::path entry_dir = dir_ / key;
  const fs::path manifest_path = entry_dir / "manifest";
  auto manifest = readWholeFile(manifest_path, 1u << 20);
  if (!manifest) {
    std::error_code ec;
    if (!fs::is_directory(entry_dir, ec)) return Status::notFound(entry_dir.string() + ": none");
    return manifest.status();  // kNotFound too when the entry has no manifest
  }
  auto files = parseListCacheManifest(*manifest, key, list_files);
  if (!files) return Status::invalid(manifest_path.string() + ": " + files.status().message());
  Entry e;
  for (size_t i = 0; i < list_files; ++i) {
    const fs::path residue_path = entry_dir / residueName(i);
    auto residue = readWholeFile(residue_path, kMaxResidueBytes);
    if (!residue) return residue.status();
    if (sha256Hex(*residue) != (*files)[i].residue_sha256) {
      return Status::invalid(residue_path.string() + ": checksum mismatch (damaged or edited)");
    }
    e.formats.push_back((*files)[i].format);
    e.residues.push_back(std::move(*residue));
  }
  const fs::path image = entry_dir / "names.idx";
  e.names = recall(image.string());
  if (!e.names) {
    auto mapped = NameIndex::mapImage(image);
    if (!mapped) {
      std::error_code ec;
      if (!fs::exists(image, ec)) return Status::notFound(image.string() + ": missing");
      return mapped.status();
    }
    if (mapped->listCount() > list_files) {
      return Status::invalid(image.string() + ": names " + std::to_string(mapped->listCount()) +
                             " list files, the policy has " + std::to_string(list_files));
    }
    e.names = std::make_shared<const NameIndex>(std::move(*mapped));
    remember(image.string(), e.names);
  }
  return e;
}

void ListCache::removeOthers(const std::string& keep) const {
  std::lock_guard<std::mutex> serial(storeMutex());
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return;
  auto lock = lockDir(dir_);
  if (!lock) return;
  std::vector<fs::path> garbage;
  fs::directory_iterator it(dir_, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == keep) continue;
    // A snapshot still mapping a removed entry keeps its pages until it lets go.
    if (name.starts_with(".tmp-") || isHexDigest(name)) garbage.push_back(it->path());
  }
  for (const auto& g : garbage) fs::remove_all(g, ec);
}

Result<std::shared_ptr<const NameIndex>> ListCache::store(
    const std::string& key, const NameIndex& names, const std::vector<std::string>& residues,
    const std::vector<ListFormat>& formats) const {
  if (!isHexDigest(key) || residues.size() != formats.size()) {
    return Status::invalid("list cache: bad key or residues");
  }
  std::lock_guard<std::mutex> serial(storeMutex());
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::io("create " + dir_.string() + ": " + ec.message());
  ::chmod(dir_.c_str(), 0700);
  auto lock = lockDir(dir_);
  if (!lock) return lock.status();
  std::string tmp_template = (dir_ / ".tmp-XXXXXX").string();
  if (!::mkdtemp(tmp_template.data())) {
    return Status::fromErrno("create a directory in " + dir_.string(), errno);
  }
  const fs::path tmp = tmp_template;
  auto fail = [&](Status s) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return s;
  };
  std::vector<ListCacheFile> files;
  for (size_t i = 0; i < residues.size(); ++i) {
    if (Status s = writeFileAtomically(tmp / residueName(i), residues[i], 0600); !s) {
      return fail(s);
    }
    files.push_back(ListCacheFile{formats[i], sha256Hex(residues[i])});
  }
  if (Status s = names.writeImage(tmp / "names.idx", 0600); !s) return fail(s);
  // The manifest last: load() treats an entry without one as absent.
  const std::string manifest = renderListCacheManifest(key, files);
  if (Status s = writeFileAtomically(tmp / "manifest", manifest, 0600); !s) return fail(s);
  const fs::path entry_dir = dir_ / key;
  fs::remove_all(entry_dir, ec);  // a damaged entry of the same key
  if (::rename(tmp.c_str(), entry_dir.c_str()) != 0) {
    return fail(Status::fromErrno("rename to " + entry_dir.string(), errno));
  }
  auto mapped = NameIndex::mapImage(entry_dir / "names.idx");
  if (!mapped) return mapped.status();
  auto shared = std::make_shared<const NameIndex>(std::move(*mapped));
  remember((entry_dir / "names.idx").string(), shared);
  return shared;
}

std::string renderListCacheManifest(std::string_view key, const std::vector<ListCacheFile>& files) {
  std::string out = std::string(kManifestMagic) + "\nkey " + std::string(key) + "\nfiles " +
                    std::to_string(files.size()) + "\n";
  for (size_t i = 0; i < files.size(); ++i) {
    out += "file " + std::to_string(i) + " " + std::string(listFormatName(files[i].format)) + " " +
           files[i].residue_sha256 + "\n";
  }
  return out;
}

Result<std::vector<ListCacheFile>> parseListCacheManifest(std::string_view text,
                                                          std::string_view key, size_t list_files) {
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return Status::invalid("not ended by a newline (truncated?)");
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3 || lines[0] != kManifestMagic) {
    return Status::invalid("not a list cache manifest of this version");
  }
  if (lines[1] != "key " + std::string(key)) return Status::invalid("made for another key");
  if (lines[2] != "files " + std::to_string(list_files) || lines.size() != 3 + list_files) {
    return Status::invalid("made for another number of list files");
  }
  std::vector<ListCacheFile> files;
  for (size_t i = 0; i < list_files; ++i) {
    const std::string prefix = "file " + std::to_string(i) + " ";
    std::string_view line = lines[3 + i];
    const std::string bad = "line " + std::to_string(4 + i) + ": not a list file's entry";
    if (!line.starts_with(prefix)) return Status::invalid(bad);
    line.remove_prefix(prefix.size());
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) return Status::invalid(bad);
    auto format = parseListFormat(line.substr(0, space));
    const std::string_view sum = line.substr(space + 1);
    if (!format || *format == ListFormat::kAuto || !isHexDigest(sum)) return Status::invalid(bad);
    files.push_back(ListCacheFile{*format, std::string(sum)});
  }
  return files;
}

std::string blankLines(std::string_view text, std::vector<uint32_t> lines) {
  std::sort(lines.begin(), lines.end());
  std::string out;
  out.reserve(text.size());
  uint32_t number = 1;
  auto next = lines.begin();
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const size_t len = nl == std::string_view::npos ? text.size() : nl;
    while (next != lines.end() && *next < number) ++next;
    if (next == lines.end() || *next != number) out.append(text.substr(0, len));
    if (nl == std::string_view::npos) break;
    out.push_back('\n');
    text.remove_prefix(nl + 1);
    ++number;
  }
  out.shrink_to_fit();  // kept until the compile stores it: mostly newlines
  return out;
}

}  // namespace safegate::policy
