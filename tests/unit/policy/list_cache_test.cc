#include "policy/list_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "filters/sha256.h"
#include "policy/policy_engine.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

namespace fs = std::filesystem;

// Lists that exercise everything a residue must carry: comments, a skipped line, an address,
// a hosts line with a bad name next to a good one, pattern / modifier / regex rules,
// exceptions, $important, and a $badfilter in one list disabling a plain name of another.
constexpr std::string_view kAdult =
    "# adult starter\n"
    "adult.example\n"
    "www.more-adult.example\n"
    "bad_name!\n"
    "203.0.113.5\n"
    "x.example\n"
    "badfiltered.example\n";
constexpr std::string_view kAds =
    "! adblock list\n"
    "||ads.example^\n"
    "@@||ok.ads.example^\n"
    "||tracker.example^$important\n"
    "/^regex-[0-9]+\\.example$/\n"
    "||aaaa-only.example^$dnstype=AAAA\n"
    "||badfiltered.example^$badfilter\n"
    "||x.example/page.html\n"
    "||*.wild.example^\n";
constexpr std::string_view kHosts =
    "0.0.0.0 h1.example h2.example\n"
    "0.0.0.0 good.example bad..name\n"
    "127.0.0.1 localhost\n";

constexpr const char* kConfig = R"TOML(
[policy]
default_group = "kids"
[[lists]]
name = "adult"
category = "pornography"
sources = ["adult.txt"]
[[lists]]
name = "ads"
category = "custom"
sources = ["ads.txt", "hosts.txt"]
[[groups]]
name = "kids"
profile = "strict"
categories = { custom = "block" }
)TOML";

std::string sha256Of(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return Sha256::hex(*h.finish());
}

struct Probe {
  std::string name;
  uint16_t type = 1;
};

// Everything about a decision that depends on the lists.
std::string describe(const Decision& d) {
  return std::string(verdictName(d.verdict)) + " " + std::to_string(static_cast<int>(d.reason)) +
         " " + std::string(d.category) + " " + std::string(d.rule) + " " +
         std::string(d.source_file) + ":" + std::to_string(d.source_line);
}

class ListCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("adult.txt", kAdult);
    dir_.write("ads.txt", kAds);
    dir_.write("hosts.txt", kHosts);
    config_path_ = dir_.write("c.toml", kConfig);
    cache_dir_ = dir_.path() / "state" / "compiled";
  }

  struct Compiled {
    PolicySnapshotPtr snap;
    std::vector<std::string> diagnostics;
  };
  Compiled compile(bool use_cache, bool write = true) {
    DiagnosticSink sink;
    auto cfg = loadConfig(config_path_, sink);
    EXPECT_TRUE(cfg) << sink.toString();
    CompileOptions o;
    if (use_cache) o.list_cache_dir = cache_dir_;
    o.write_list_cache = write;
    auto snap = PolicySnapshot::compile(*cfg, sink, o);
    EXPECT_TRUE(snap) << sink.toString();
    Compiled c;
    c.snap = snap ? *snap : nullptr;
    for (const auto& d : sink.all()) c.diagnostics.push_back(d.toString());
    return c;
  }

  std::vector<std::string> answers(const PolicySnapshot& snap) {
    const Probe probes[] = {
        {"adult.example"},          {"www.adult.example"},   {"more-adult.example"},
        {"www.more-adult.example"}, {"ads.example"},         {"ok.ads.example"},
        {"tracker.example"},        {"regex-42.example"},    {"aaaa-only.example"},
        {"aaaa-only.example", 28},  {"badfiltered.example"}, {"x.example"},
        {"a.wild.example"},         {"wild.example"},        {"h2.example"},
        {"good.example"},           {"localhost"},           {"unlisted.example"}};
    std::vector<std::string> out;
    for (const Probe& p : probes) {
      RequestFacts f;
      f.client = *IpAddress::parse("10.0.0.2");
      f.name = p.name;
      f.dns_type = p.type;
      f.unix_time_seconds = 1795434000;
      out.push_back(p.name + "/" + std::to_string(p.type) + ": " + describe(snap.decide(f)));
    }
    out.push_back("203.0.113.5: " +
                  std::to_string(snap.destinationCategories(*IpAddress::parse("203.0.113.5"))));
    out.push_back("entries " + std::to_string(snap.stats().list_entries) + ", patterns " +
                  std::to_string(snap.stats().pattern_rules) + ", addresses " +
                  std::to_string(snap.stats().address_entries));
    return out;
  }

  std::vector<fs::path> entries() const {  // the entry directories (not .lock)
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(cache_dir_, ec)) {
      if (d.is_directory()) out.push_back(d.path());
    }
    return out;
  }

  testing::TempDir dir_;
  fs::path config_path_;
  fs::path cache_dir_;
};

TEST_F(ListCacheTest, AStartFromTheCacheDecidesAndWarnsExactlyAsFromTheText) {
  const Compiled text = compile(false);
  ASSERT_TRUE(text.snap);
  EXPECT_FALSE(text.snap->stats().names_from_cache);
  EXPECT_FALSE(fs::exists(cache_dir_));

  const Compiled first = compile(true);  // reads the text, stores the entry
  ASSERT_TRUE(first.snap);
  EXPECT_FALSE(first.snap->stats().names_from_cache);
  EXPECT_TRUE(first.snap->stats().names_mapped);
  ASSERT_EQ(entries().size(), 1u);

  const Compiled second = compile(true);  // maps the image, parses the residues
  ASSERT_TRUE(second.snap);
  EXPECT_TRUE(second.snap->stats().names_from_cache);
  EXPECT_TRUE(second.snap->stats().names_mapped);

  const auto expected = answers(*text.snap);
  // The probes mean something: blocks, exceptions, the badfilter and the dnstype all show.
  EXPECT_NE(expected[0].find("block"), std::string::npos) << expected[0];
  EXPECT_NE(expected[5].find("allow"), std::string::npos) << expected[5];
  EXPECT_NE(expected[8].find("allow"), std::string::npos) << expected[8];
  EXPECT_NE(expected[9].find("block"), std::string::npos) << expected[9];
  EXPECT_NE(expected[10].find("allow"), std::string::npos) << expected[10];
  EXPECT_NE(expected[18], "203.0.113.5: 0") << "the address entry";
  EXPECT_EQ(answers(*first.snap), expected);
  EXPECT_EQ(answers(*second.snap), expected);
  // The skipped lines (adult.txt:4, hosts.txt:2) are reported from the cache as from the text.
  EXPECT_EQ(first.diagnostics, text.diagnostics);
  EXPECT_EQ(second.diagnostics, text.diagnostics);
  bool skipped_reported = false;
  for (const auto& d : text.diagnostics)
    skipped_reported |= d.find("adult.txt:4") != std::string::npos;
  EXPECT_TRUE(skipped_reported) << ::testing::PrintToString(text.diagnostics);
}

TEST_F(ListCacheTest, ResiduesKeepLineNumbersAndDropOnlyPlainNames) {
  compile(true);
  ASSERT_EQ(entries().size(), 1u);
  const fs::path entry = entries()[0];
  // adult.txt: the comment, the skipped line and the address stay; plain names go.
  EXPECT_EQ(testing::readFile(entry / "residue-0"),
            "# adult starter\n\n\nbad_name!\n203.0.113.5\n\n\n");
  const std::string ads = testing::readFile(entry / "residue-1");
  EXPECT_EQ(ads.find("||ads.example^"), std::string::npos);
  EXPECT_EQ(ads.find("@@||ok.ads.example^"), std::string::npos) << "a plain exception is a name";
  EXPECT_NE(ads.find("$badfilter"), std::string::npos);
  EXPECT_NE(ads.find("$dnstype=AAAA"), std::string::npos);
  EXPECT_EQ(std::count(ads.begin(), ads.end(), '\n'), 9);
  // hosts.txt: the line with a bad name is kept for its warning; a line that yields nothing
  // (localhost) stays as it is.
  EXPECT_EQ(testing::readFile(entry / "residue-2"),
            "\n0.0.0.0 good.example bad..name\n127.0.0.1 localhost\n");
  const std::string manifest = testing::readFile(entry / "manifest");
  EXPECT_NE(manifest.find("file 0 domains " + sha256Of(testing::readFile(entry / "residue-0")) +
                          "\nfile 1 adblock "),
            std::string::npos)
      << manifest;
}

TEST_F(ListCacheTest, AChangedListGetsANewEntryAndTheOldOneIsRemoved) {
  compile(true);
  const auto before = entries();
  ASSERT_EQ(before.size(), 1u);
  // Replaced by rename, as an editor, a package or a subscription download does.
  dir_.write("adult.next", std::string(kAdult) + "newly-listed.example\n");
  fs::rename(dir_.path() / "adult.next", dir_.path() / "adult.txt");
  const Compiled changed = compile(true);
  ASSERT_TRUE(changed.snap);
  EXPECT_FALSE(changed.snap->stats().names_from_cache);
  ASSERT_EQ(entries().size(), 2u) << "store() removes nothing";
  // What the daemon does once the new policy is in force (a refused reload never gets here).
  ListCache(cache_dir_).removeOthers(changed.snap->listCacheKey());
  const auto after = entries();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], before[0]);
  EXPECT_EQ(after[0].filename(), changed.snap->listCacheKey());
  RequestFacts f;
  f.client = *IpAddress::parse("10.0.0.2");
  f.name = "newly-listed.example";
  EXPECT_EQ(changed.snap->decide(f).verdict, Verdict::kBlock);
  const Compiled again = compile(true);
  EXPECT_TRUE(again.snap->stats().names_from_cache);
  EXPECT_EQ(again.snap->decide(f).verdict, Verdict::kBlock);
}

TEST_F(ListCacheTest, ListCacheCurrentSaysWhetherTheListsNeedCompiling) {
  DiagnosticSink sink;
  auto cfg = loadConfig(config_path_, sink);
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(PolicySnapshot::listCacheCurrent(*cfg, cache_dir_));
  compile(true);
  EXPECT_TRUE(PolicySnapshot::listCacheCurrent(*cfg, cache_dir_));
  dir_.write("ads.next", std::string(kAds) + "||more-ads.example^\n");
  fs::rename(dir_.path() / "ads.next", dir_.path() / "ads.txt");
  EXPECT_FALSE(PolicySnapshot::listCacheCurrent(*cfg, cache_dir_));
}

TEST_F(ListCacheTest, ADamagedEntryIsReportedReadFromTheTextAndRewritten) {
  const Compiled text = compile(false);
  compile(true);
  const fs::path image = entries().at(0) / "names.idx";
  {
    std::fstream f(image, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 20);
    char c = 0;
    f.read(&c, 1);
    f.seekp(4096 + 20);
    c = static_cast<char>(c ^ 0x40);
    f.write(&c, 1);
  }
  const Compiled damaged = compile(true);
  ASSERT_TRUE(damaged.snap);
  EXPECT_FALSE(damaged.snap->stats().names_from_cache);
  ASSERT_EQ(damaged.diagnostics.size(), text.diagnostics.size() + 1);
  bool told = false;
  for (const auto& d : damaged.diagnostics) {
    told |= d.find("compiled lists refused") != std::string::npos &&
            d.find("checksum mismatch") != std::string::npos;
  }
  EXPECT_TRUE(told) << ::testing::PrintToString(damaged.diagnostics);
  EXPECT_EQ(answers(*damaged.snap), answers(*text.snap));
  EXPECT_TRUE(compile(true).snap->stats().names_from_cache) << "rewritten";
}

TEST_F(ListCacheTest, AReadOnlyUserWritesNothingAndAMissingEntryIsNotAWarning) {
  const Compiled text = compile(false);
  const Compiled reader = compile(true, /*write=*/false);
  ASSERT_TRUE(reader.snap);
  EXPECT_FALSE(fs::exists(cache_dir_));
  EXPECT_EQ(reader.diagnostics, text.diagnostics);
  EXPECT_FALSE(reader.snap->stats().names_mapped);
}

TEST_F(ListCacheTest, SnapshotsOfTheSameListsShareOneMapping) {
  compile(true);
  const Compiled a = compile(true);
  const Compiled b = compile(true);
  ASSERT_TRUE(a.snap && b.snap);
  ListCache cache(cache_dir_);
  auto key = ListCache::keyOf(
      {{(dir_.path() / "adult.txt").string(), "adult", "pornography", ListFormat::kAuto}});
  ASSERT_TRUE(key);
  auto e1 = cache.load(entries().at(0).filename().string(), 3);
  auto e2 = cache.load(entries().at(0).filename().string(), 3);
  ASSERT_TRUE(e1 && e2) << e1.status().toString();
  EXPECT_EQ(e1->names.get(), e2->names.get());
  // Another key or another number of files is not this entry.
  EXPECT_EQ(cache.load(*key, 1).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(cache.load(entries().at(0).filename().string(), 2));
}

TEST_F(ListCacheTest, AnEditedResidueIsRefusedNotTrusted) {
  const Compiled text = compile(false);
  compile(true);
  // An edit that drops a rule would silently unblock it if the residue were trusted.
  const fs::path residue = entries().at(0) / "residue-1";
  std::string edited = testing::readFile(residue);
  edited.replace(edited.find("/^regex"), 1, "#");
  std::ofstream(residue, std::ios::trunc) << edited;
  const Compiled again = compile(true);
  ASSERT_TRUE(again.snap);
  EXPECT_FALSE(again.snap->stats().names_from_cache);
  bool told = false;
  for (const auto& d : again.diagnostics) {
    told |= d.find("residue-1: checksum mismatch") != std::string::npos;
  }
  EXPECT_TRUE(told) << ::testing::PrintToString(again.diagnostics);
  EXPECT_EQ(answers(*again.snap), answers(*text.snap));
}

TEST_F(ListCacheTest, AListThatBecameUnreadableIsAnErrorEvenWithACacheEntry) {
  if (::geteuid() == 0) {
    // root reads a mode-000 file anyway; what must hold is that a chmod changes the key.
    const auto before = ListCache::keyOf(
        {{(dir_.path() / "adult.txt").string(), "adult", "pornography", ListFormat::kAuto}});
    fs::permissions(dir_.path() / "adult.txt", fs::perms::none);
    const auto after = ListCache::keyOf(
        {{(dir_.path() / "adult.txt").string(), "adult", "pornography", ListFormat::kAuto}});
    ASSERT_TRUE(before && after);
    EXPECT_NE(*before, *after);
    return;
  }
  compile(true);
  fs::permissions(dir_.path() / "adult.txt", fs::perms::none);
  DiagnosticSink sink;
  auto cfg = loadConfig(config_path_, sink);
  ASSERT_TRUE(cfg);
  CompileOptions o;
  o.list_cache_dir = cache_dir_;
  o.write_list_cache = true;
  EXPECT_FALSE(PolicySnapshot::compile(*cfg, sink, o));
  EXPECT_NE(sink.toString().find("adult.txt"), std::string::npos) << sink.toString();
}

TEST_F(ListCacheTest, ACacheThatCannotBeWrittenIsAWarningAndTheStartGoesOn) {
  // A plain file where the cache directory should be: nothing can be created under it.
  fs::create_directories(cache_dir_.parent_path());
  std::ofstream(cache_dir_) << "not a directory";
  const Compiled text = compile(false);
  const Compiled c = compile(true);
  ASSERT_TRUE(c.snap);
  EXPECT_FALSE(c.snap->stats().names_mapped);
  ASSERT_EQ(c.diagnostics.size(), text.diagnostics.size() + 1);
  EXPECT_NE(c.diagnostics.back().find("compiled lists not saved"), std::string::npos)
      << c.diagnostics.back();
  EXPECT_EQ(answers(*c.snap), answers(*text.snap));
}

TEST_F(ListCacheTest, ManyWarningsAreSummarisedTheSameFromTheCache) {
  // Beyond max_reported_warnings (1000) lines are only counted; a hosts line with one good
  // and one bad name must keep its place in the residue so the count stays the same.
  std::string hosts;
  for (int i = 0; i < 1500; ++i) {
    hosts += "0.0.0.0 ok" + std::to_string(i) + ".example bad..name" + std::to_string(i) + "\n";
  }
  dir_.write("hosts.txt", hosts);
  const Compiled text = compile(false);
  compile(true);
  const Compiled cached = compile(true);
  ASSERT_TRUE(cached.snap && cached.snap->stats().names_from_cache);
  EXPECT_EQ(cached.diagnostics, text.diagnostics);
  EXPECT_EQ(cached.snap->stats().list_entries, text.snap->stats().list_entries);
}

TEST(ListCacheKey, DependsOnEveryInputAndOnTheFileBeingReplaced) {
  testing::TempDir dir;
  const std::string path = dir.write("l.txt", "a.example\n").string();
  const ListCacheInput base{path, "l", "pornography", ListFormat::kAuto};
  auto key = [](std::vector<ListCacheInput> in) { return *ListCache::keyOf(in); };
  const std::string k = key({base});
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(key({base}), k);
  auto changed = base;
  changed.list_name = "m";
  EXPECT_NE(key({changed}), k);
  changed = base;
  changed.category = "gambling";
  EXPECT_NE(key({changed}), k);
  changed = base;
  changed.format = ListFormat::kHosts;
  EXPECT_NE(key({changed}), k);
  EXPECT_NE(key({base, base}), k);
  dir.write("l.new", "a.example\n");
  fs::rename(dir.path() / "l.new", path);
  EXPECT_NE(key({base}), k) << "same content, but a new file";
  EXPECT_FALSE(ListCache::keyOf({{(dir.path() / "missing").string(), "l", "x", {}}}));
}

TEST(ListCacheManifest, RoundTripsAndRefusesAnythingElseWithTheReason) {
  const std::string key(64, 'a');
  const std::vector<ListCacheFile> files = {{ListFormat::kDomains, std::string(64, '1')},
                                            {ListFormat::kAdblock, std::string(64, 'f')}};
  const std::string text = renderListCacheManifest(key, files);
  auto parsed = parseListCacheManifest(text, key, 2);
  ASSERT_TRUE(parsed) << parsed.status().toString();
  EXPECT_EQ(*parsed, files);
  auto why = [&](std::string_view t, std::string_view k, size_t n) {
    auto r = parseListCacheManifest(t, k, n);
    return r ? std::string("accepted") : r.status().message();
  };
  EXPECT_EQ(why(text, std::string(64, 'b'), 2), "made for another key");
  EXPECT_EQ(why(text, key, 3), "made for another number of list files");
  EXPECT_EQ(why(text.substr(0, text.size() - 1), key, 2), "not ended by a newline (truncated?)");
  EXPECT_EQ(why("", key, 0), "not a list cache manifest of this version");
  EXPECT_EQ(why(renderListCacheManifest(key, {{ListFormat::kAuto, std::string(64, '1')}}), key, 1),
            "line 4: not a list file's entry");
  EXPECT_EQ(why(renderListCacheManifest(key, {{ListFormat::kHosts, "1234"}}), key, 1),
            "line 4: not a list file's entry");
}

TEST(BlankLines, EmptiesTheNamedLinesAndKeepsEveryNewline) {
  EXPECT_EQ(blankLines("a\nb\nc\n", {2}), "a\n\nc\n");
  EXPECT_EQ(blankLines("a\nb\nc", {3, 1}), "\nb\n");
  EXPECT_EQ(blankLines("a\r\nb\r\n", {1}), "\nb\r\n");
  EXPECT_EQ(blankLines("a\n", {7}), "a\n");
  EXPECT_EQ(blankLines("", {1}), "");
  EXPECT_EQ(blankLines("a\nb\n", {}), "a\nb\n");
}

}  // namespace
}  // namespace safegate::policy
