// ListCache: the compiled name index of a policy's lists, kept under state_dir/compiled so that
// a start or reload whose lists have not changed maps it (policy/name_index.h images) instead
// of reading and indexing millions of lines of list text again.
//
// One entry per set of list files, a directory named by its key:
//
//   state_dir/compiled/<key>/names.idx     the NameIndex image of every plain name
//                            residue-<i>   list file i with every line whose only product
//                                          was plain names emptied (its newline kept)
//                            manifest      "safegate-list-cache 2", the key, then per list
//                                          file the format it was read with and the SHA-256
//                                          of its residue
//
// The residue is what the name index cannot hold: pattern and modifier rules, $badfilter
// rules, address entries, and every line that produced a warning (a skipped line, a summary),
// at its original line number. PolicySnapshot::compile() parses the residues exactly as it
// parses list text, ignores the plain names they still yield (the image has them) and so gets
// the same rules, addresses and diagnostics (file:line) as from the full text.
//
// The key is a SHA-256 over the cache format, the list reader's semantics version, the running
// binary's identity (device, inode, size, mtime of /proc/self/exe: an upgrade recompiles once)
// and, per list file in policy order, its list's name, category and configured format and the
// file's path, device, inode, mode, size, modification and change times (ns). A replaced file
// (a subscription download, an editor, a package upgrade) has a new inode; a chmod changes the
// change time, so a list that became unreadable is read — and refused — again. compile()
// re-checks the key after reading and stores nothing when a file changed meanwhile.
//
// Entries are written to a temporary directory and renamed into place, so a crash leaves a
// whole entry or none; writers take an flock on DIR/.lock (the daemon and its --compile-lists
// child are two processes). store() removes nothing: the daemon calls removeOthers() with the
// key of the policy it has just put in force, so a refused reload keeps the running one's
// entry (a snapshot still mapping a removed entry keeps its pages until it lets go). A damaged
// entry — image checksum or structure, a residue whose SHA-256 differs from the manifest, a bad
// manifest — is refused by load() with the reason and rebuilt by the next store().
//
// Snapshots of one process that load the same key share one mapped NameIndex, so a reload with
// unchanged lists costs no second copy.
//
// Thread-safety: all functions may be called from any thread; a process should have one
// writer per directory (safegated).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "filters/list_reader.h"
#include "policy/name_index.h"

namespace safegate::policy {

// Bump when the meaning of a list line changes (list_reader.h semantics, what compile() sends
// to the name index): every cached entry is then rebuilt from the text.
inline constexpr uint32_t kListSemanticsVersion = 1;

struct ListCacheInput {
  std::string path;       // the list file as compile() reads it
  std::string list_name;  // [[lists]] name
  std::string category;
  ListFormat format = ListFormat::kAuto;  // as configured
};

class ListCache {
 public:
  explicit ListCache(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  // The key of `inputs` as the files are now; an error when one cannot be stat'ed (compile()
  // then reads the text and reports it).
  static Result<std::string> keyOf(const std::vector<ListCacheInput>& inputs);

  struct Entry {
    std::shared_ptr<const NameIndex> names;
    std::vector<std::string> residues;  // by list file
    std::vector<ListFormat> formats;    // the format each file was read with
  };
  // The entry for `key` made from `list_files` files. kNotFound when there is none (or it was
  // removed while being read); another error, with the reason, when it is damaged.
  Result<Entry> load(const std::string& key, size_t list_files) const;

  // Writes the entry for `key`. Returns the stored image, mapped (the caller drops its built
  // copy for it).
  Result<std::shared_ptr<const NameIndex>> store(const std::string& key, const NameIndex& names,
                                                 const std::vector<std::string>& residues,
                                                 const std::vector<ListFormat>& formats) const;

  // Removes every entry but `keep`, and temporary directories a crash left. Best effort: errors are
  // ignored (the next call tries again).
  void removeOthers(const std::string& keep) const;

 private:
  std::filesystem::path dir_;
};

// The manifest of an entry: "safegate-list-cache 2", "key KEY", "files N", then
// "file I FORMAT SHA256" per list file (the format it was read with, never auto; the SHA-256
// of its residue in lower-case hex).
struct ListCacheFile {
  ListFormat format = ListFormat::kDomains;
  std::string residue_sha256;
  friend bool operator==(const ListCacheFile&, const ListCacheFile&) = default;
};
std::string renderListCacheManifest(std::string_view key, const std::vector<ListCacheFile>& files);
// Its parser: the files, or why the text is not the manifest of `key` with `list_files` files.
Result<std::vector<ListCacheFile>> parseListCacheManifest(std::string_view text,
                                                          std::string_view key, size_t list_files);

// `text` with the given 1-based `lines` emptied, each newline kept so that every other line
// keeps its number. `lines` need not be sorted; numbers beyond the text are ignored.
std::string blankLines(std::string_view text, std::vector<uint32_t> lines);

}  // namespace safegate::policy
