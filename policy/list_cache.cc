#include "policy/list_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>

#include "common/atomic_file.h"
#include "common/read_file.h"
#include "filters/sha256.h"

namespace safegate::policy {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kManifestMagic = "safegate-list-cache 1";
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

bool isKey(const std::string& name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string residueName(size_t i) { return "residue-" + std::to_string(i); }

}  // namespace

Result<std::string> ListCache::keyOf(const std::vector<ListCacheInput>& inputs) {
  Sha256 h;
  field(h, kManifestMagic);
  field(h, std::to_string(NameIndex::kImageVersion));
  field(h, std::to_string(kListSemanticsVersion));
  field(h, std::to_string(inputs.size()));
  for (const ListCacheInput& in : inputs) {
    struct stat st {};
    if (::stat(in.path.c_str(), &st) != 0) return Status::fromErrno("stat " + in.path, errno);
    field(h, in.list_name);
    field(h, in.category);
    field(h, listFormatName(in.format));
    field(h, in.path);
    field(h, std::to_string(st.st_dev) + "/" + std::to_string(st.st_ino) + "/" +
                 std::to_string(st.st_size) + "/" + std::to_string(st.st_mtim.tv_sec) + "." +
                 std::to_string(st.st_mtim.tv_nsec));
  }
  auto sum = h.finish();
  if (!sum) return Status::internal("SHA-256 of the list cache key failed");
  return Sha256::hex(*sum);
}

Result<ListCache::Entry> ListCache::load(const std::string& key, size_t list_files) const {
  const fs::path entry_dir = dir_ / key;
  const fs::path manifest_path = entry_dir / "manifest";
  auto manifest = readWholeFile(manifest_path, 1u << 20);
  if (!manifest) return manifest.status();  // kNotFound: no entry yet
  auto formats = parseListCacheManifest(*manifest, key, list_files);
  if (!formats) return Status::invalid(manifest_path.string() + ": " + formats.status().message());
  Entry e;
  e.formats = std::move(*formats);
  for (size_t i = 0; i < list_files; ++i) {
    auto residue = readWholeFile(entry_dir / residueName(i), kMaxResidueBytes);
    if (!residue) return residue.status();
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

Result<std::shared_ptr<const NameIndex>> ListCache::store(
    const std::string& key, const NameIndex& names, const std::vector<std::string>& residues,
    const std::vector<ListFormat>& formats) const {
  if (!isKey(key) || residues.size() != formats.size()) {
    return Status::invalid("list cache: bad key or residues");
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::io("create " + dir_.string() + ": " + ec.message());
  ::chmod(dir_.c_str(), 0700);
  const fs::path tmp = dir_ / (".tmp-" + key + "-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directory(tmp, ec);
  if (ec) return Status::io("create " + tmp.string() + ": " + ec.message());
  auto fail = [&](Status s) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return s;
  };
  for (size_t i = 0; i < residues.size(); ++i) {
    if (Status s = writeFileAtomically(tmp / residueName(i), residues[i], 0600); !s) {
      return fail(s);
    }
  }
  if (Status s = names.writeImage(tmp / "names.idx", 0600); !s) return fail(s);
  // The manifest last: load() treats an entry without one as absent.
  const std::string manifest = renderListCacheManifest(key, formats);
  if (Status s = writeFileAtomically(tmp / "manifest", manifest, 0600); !s) return fail(s);
  const fs::path entry_dir = dir_ / key;
  fs::remove_all(entry_dir, ec);  // a damaged entry of the same key
  if (::rename(tmp.c_str(), entry_dir.c_str()) != 0) {
    return fail(Status::fromErrno("rename to " + entry_dir.string(), errno));
  }
  // Every other entry (and temporary directories a crash left) is garbage now.
  std::vector<fs::path> garbage;
  for (const auto& d : fs::directory_iterator(dir_, ec)) {
    const std::string name = d.path().filename().string();
    if (name != key && (isKey(name) || name.starts_with(".tmp-"))) garbage.push_back(d.path());
  }
  for (const auto& g : garbage) fs::remove_all(g, ec);
  auto mapped = NameIndex::mapImage(entry_dir / "names.idx");
  if (!mapped) return mapped.status();
  auto shared = std::make_shared<const NameIndex>(std::move(*mapped));
  remember((entry_dir / "names.idx").string(), shared);
  return shared;
}

std::string renderListCacheManifest(std::string_view key, const std::vector<ListFormat>& formats) {
  std::string out = std::string(kManifestMagic) + "\nkey " + std::string(key) + "\nfiles " +
                    std::to_string(formats.size()) + "\n";
  for (size_t i = 0; i < formats.size(); ++i) {
    out += "format " + std::to_string(i) + " " + std::string(listFormatName(formats[i])) + "\n";
  }
  return out;
}

Result<std::vector<ListFormat>> parseListCacheManifest(std::string_view text, std::string_view key,
                                                       size_t list_files) {
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return Status::invalid("not ended by a newline (truncated?)");
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3 || lines[0] != kManifestMagic) {
    return Status::invalid("not a list cache manifest");
  }
  if (lines[1] != "key " + std::string(key)) return Status::invalid("made for another key");
  if (lines[2] != "files " + std::to_string(list_files) || lines.size() != 3 + list_files) {
    return Status::invalid("made for another number of list files");
  }
  std::vector<ListFormat> formats;
  for (size_t i = 0; i < list_files; ++i) {
    const std::string prefix = "format " + std::to_string(i) + " ";
    const std::string_view line = lines[3 + i];
    auto format = line.starts_with(prefix) ? parseListFormat(line.substr(prefix.size()))
                                           : std::optional<ListFormat>();
    if (!format || *format == ListFormat::kAuto) {
      return Status::invalid("line " + std::to_string(4 + i) + ": not a list file's format");
    }
    formats.push_back(*format);
  }
  return formats;
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
  return out;
}

}  // namespace safegate::policy
