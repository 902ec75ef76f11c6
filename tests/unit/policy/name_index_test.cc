#include "policy/name_index.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/support/name_index_image.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

struct Hit {
  uint16_t list;
  uint32_t line;
  std::string suffix;
};

std::vector<Hit> matches(const NameIndex& idx, std::string_view name) {
  std::vector<Hit> hits;
  idx.forEachMatch(name, [&](const NameRef& r, std::string_view suffix) {
    hits.push_back({r.list, r.line, std::string(suffix)});
  });
  return hits;
}

std::string randomName(std::mt19937_64& rng, size_t i) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  const size_t len = 4 + rng() % 12;
  for (size_t k = 0; k < len; ++k) s += kChars[rng() % 36];
  return s + "-" + std::to_string(i) + ".test";
}

TEST(NameIndex, EveryAddedNameIsFoundAndOtherNamesAreNot) {
  // Enough entries for long probe runs at the 0.8 load factor, so the ordered layout's early
  // stop (first larger fingerprint) is exercised on hits and misses alike.
  std::mt19937_64 rng(7);
  std::vector<std::string> names;
  NameIndex::Builder b;
  for (size_t i = 0; i < 200000; ++i) {
    names.push_back(randomName(rng, i));
    b.add(names.back(), DomainMatchKind::kSubtree, 1, static_cast<uint32_t>(i + 1), 0);
  }
  const NameIndex idx = b.build();
  EXPECT_EQ(idx.entries(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const auto hits = matches(idx, "www." + names[i]);
    ASSERT_EQ(hits.size(), 1u) << names[i];
    EXPECT_EQ(hits[0].line, i + 1);
    EXPECT_EQ(hits[0].suffix, names[i]);
  }
  for (size_t i = 0; i < 200000; ++i) {
    EXPECT_TRUE(matches(idx, "absent-" + std::to_string(i) + ".test").empty());
  }
  // Memory: about 20 bytes per entry (0.8 load, 16-byte slots), rounded to 2 MiB pages.
  EXPECT_LE(idx.memoryBytes(), names.size() * 20 + (size_t{2} << 20) + 4096);
}

TEST(NameIndex, ANameInSeveralListsYieldsEveryListMostSpecificSuffixFirst) {
  NameIndex::Builder b;
  b.add("example.com", DomainMatchKind::kSubtree, 1, 10, 0);
  b.add("example.com", DomainMatchKind::kSubtree, 2, 20, NameRef::kAllow);
  b.add("ads.example.com", DomainMatchKind::kExact, 3, 30, 0);
  b.add("cdn.example.com", DomainMatchKind::kSubdomainsOnly, 4, 40, 0);
  const NameIndex idx = b.build();

  auto hits = matches(idx, "ads.example.com");
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].list, 3);
  EXPECT_EQ(hits[0].suffix, "ads.example.com");
  EXPECT_EQ(hits[1].suffix, "example.com");
  EXPECT_EQ(hits[2].suffix, "example.com");
  EXPECT_NE(hits[1].list, hits[2].list);

  // An exact entry does not cover subdomains; a subdomains-only entry not the name itself.
  EXPECT_EQ(matches(idx, "x.ads.example.com").size(), 2u);
  EXPECT_EQ(matches(idx, "cdn.example.com").size(), 2u);
  EXPECT_EQ(matches(idx, "a.cdn.example.com").size(), 3u);
  EXPECT_TRUE(matches(idx, "example.org").empty());
}

TEST(NameIndex, AnEmptyIndexMatchesNothing) {
  NameIndex::Builder b;
  const NameIndex idx = b.build();
  EXPECT_TRUE(matches(idx, "example.com").empty());
  EXPECT_EQ(idx.entries(), 0u);
}

// A compiled image answers exactly as the index it was written from, and shares nothing with
// it: the mapped index outlives the built one.
TEST(NameIndex, AnImageMapsToTheSameAnswersAsTheBuiltIndex) {
  testing::TempDir dir;
  std::mt19937_64 rng(11);
  std::vector<std::string> names;
  const auto image = dir.path() / "names.idx";
  {
    NameIndex::Builder b;
    for (size_t i = 0; i < 50000; ++i) {
      names.push_back(randomName(rng, i));
      b.add(names.back(), DomainMatchKind::kSubtree, static_cast<uint16_t>(i % 7),
            static_cast<uint32_t>(i + 1), i % 3 == 0 ? NameRef::kAllow : 0);
    }
    // Names in several lists (multi-list runs) and every kind.
    b.add(names[0], DomainMatchKind::kExact, 9, 900, NameRef::kImportant);
    b.add(names[0], DomainMatchKind::kSubdomainsOnly, 10, 1000, 0);
    b.add(names[1], DomainMatchKind::kSubtree, 11, 1100, 0);
    const NameIndex built = b.build();
    EXPECT_FALSE(built.mapped());
    ASSERT_TRUE(built.writeImage(image)) << image;
  }
  auto mapped = NameIndex::mapImage(image);
  ASSERT_TRUE(mapped) << mapped.status().toString();
  EXPECT_TRUE(mapped->mapped());
  EXPECT_EQ(mapped->entries(), names.size() + 3);
  for (size_t i = 0; i < names.size(); ++i) {
    const auto hits = matches(*mapped, "www." + names[i]);
    // names[0]: subtree and subdomains-only (its exact entry does not cover www.); names[1]:
    // two subtree entries.
    const size_t expected = i <= 1 ? 2 : 1;
    ASSERT_EQ(hits.size(), expected) << names[i];
    if (i > 1) {
      EXPECT_EQ(hits[0].line, i + 1);
    }
    EXPECT_TRUE(matches(*mapped, "absent-" + std::to_string(i) + ".test").empty());
  }
  EXPECT_EQ(matches(*mapped, names[0]).size(), 2u);  // subtree + exact, not subdomains-only
  EXPECT_EQ(mapped->memoryBytes(), std::filesystem::file_size(image) - 4096);
  EXPECT_EQ(mapped->listCount(), 12u);  // lists 0-6, 9, 10, 11: one more than the largest

  // A moved-from index matches nothing (it does not view the moved mapping).
  NameIndex taken = std::move(*mapped);
  EXPECT_EQ(matches(taken, names[5]).size(), 1u);
  EXPECT_TRUE(matches(*mapped, names[5]).empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(mapped->entries(), 0u);                 // NOLINT(bugprone-use-after-move)
}

TEST(NameIndex, AnEmptyIndexRoundTripsThroughAnImage) {
  testing::TempDir dir;
  NameIndex::Builder b;
  ASSERT_TRUE(b.build().writeImage(dir.path() / "empty.idx"));
  auto mapped = NameIndex::mapImage(dir.path() / "empty.idx");
  ASSERT_TRUE(mapped) << mapped.status().toString();
  EXPECT_TRUE(matches(*mapped, "example.com").empty());
}

// A damaged, truncated, foreign or newer image is an error that says what is wrong (the
// caller rebuilds from the text), never a crash or a wrong answer.
TEST(NameIndex, DamagedOrForeignImagesAreRefusedWithTheReason) {
  testing::TempDir dir;
  NameIndex::Builder b;
  for (int i = 0; i < 1000; ++i) {
    b.add("site" + std::to_string(i) + ".test", DomainMatchKind::kSubtree, 1, 1, 0);
  }
  b.add("site1.test", DomainMatchKind::kSubtree, 2, 1, 0);
  const auto good = dir.path() / "good.idx";
  ASSERT_TRUE(b.build().writeImage(good));
  const std::string bytes = testing::readFile(good);
  auto variant = [&](const std::string& name, std::string content) {
    const auto p = dir.path() / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    auto r = NameIndex::mapImage(p);
    return r ? std::string("mapped") : r.status().message();
  };
  struct Case {
    std::string name;
    std::string content;
    std::string says;
  };
  std::string flipped_slot = bytes;
  flipped_slot[4096 + 100] ^= 1;
  std::string flipped_ref = bytes;
  flipped_ref[bytes.size() - 3] ^= 1;
  std::string flipped_header = bytes;
  flipped_header[48] ^= 1;  // the entry count
  std::string magic = bytes;
  magic[0] = 'X';
  std::string newer = bytes;
  newer[8] = 3;  // format version 3
  std::string older = bytes;
  older[8] = 1;  // format 1 (a SHA-256 checksum), as an earlier safegate wrote it
  std::string order = bytes;
  order[12] = 0x01, order[13] = 0x02, order[14] = 0x03, order[15] = 0x04;
  const Case cases[] = {
      {"empty.idx", "", "shorter than its header"},
      {"truncated.idx", bytes.substr(0, bytes.size() - 8), "does not match its header"},
      {"longer.idx", bytes + "x", "does not match its header"},
      {"slot.idx", flipped_slot, "checksum mismatch"},
      {"ref.idx", flipped_ref, "checksum mismatch"},
      {"header.idx", flipped_header, "checksum mismatch"},
      {"magic.idx", magic, "wrong magic"},
      {"newer.idx", newer, "image format 3, this safegate reads 2"},
      {"older.idx", older, "image format 1, this safegate reads 2"},
      {"order.idx", order, "other byte order"},
  };
  for (const Case& c : cases) {
    const std::string got = variant(c.name, c.content);
    EXPECT_NE(got.find(c.says), std::string::npos) << c.name << ": " << got;
    if (c.name != "empty.idx") {
      EXPECT_NE(got.find(c.name), std::string::npos) << got;  // names the file
    }
  }
  EXPECT_EQ(variant("copy.idx", bytes), "mapped");

  // Damage that keeps a valid checksum (written by hand, or by a bug): the structure lookups
  // rely on is checked too, so a run or a probe can never leave the table.
  auto reseal = [](std::string b) {
    testing::resealNameIndexImage(b);
    return b;
  };
  EXPECT_EQ(variant("resealed.idx", reseal(bytes)), "mapped");  // the helper itself is right
  std::string run = bytes;
  size_t multi = 0;
  for (size_t at = 4096; at + 16 <= bytes.size() && !multi; at += 16) {
    if (static_cast<unsigned char>(bytes[at + 10]) == 0xff) multi = at;
  }
  ASSERT_NE(multi, 0u);
  run[multi + 12] = '\x7f';  // the run's first index, far past the runs
  EXPECT_NE(variant("run.idx", reseal(run)).find("a multi-list run lies outside the runs"),
            std::string::npos);
  std::string lists = bytes;
  lists[112] = 1;  // list count 1; the entries name lists 1 and 2
  EXPECT_NE(variant("lists.idx", reseal(lists)).find("names a list beyond its list count"),
            std::string::npos);
  std::string hash = bytes;
  hash[104] ^= 1;  // the probe fingerprint: as if another version of the name hash made it
  EXPECT_NE(variant("hash.idx", reseal(hash)).find("made with another name hash"),
            std::string::npos);
  std::string sentinel = bytes;
  const size_t last_slot = bytes.size() - 2 * 8 - 16;  // two refs after the slots
  sentinel[last_slot] = 1;
  EXPECT_NE(variant("sentinel.idx", reseal(sentinel)).find("table geometry is inconsistent"),
            std::string::npos);
  const auto fifo = dir.path() / "fifo.idx";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto from_fifo = NameIndex::mapImage(fifo);  // refused at once, never a hang
  ASSERT_FALSE(from_fifo);
  EXPECT_NE(from_fifo.status().message().find("not a regular file"), std::string::npos);
  auto missing = NameIndex::mapImage(dir.path() / "missing.idx");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("missing.idx"), std::string::npos);
}

}  // namespace
}  // namespace safegate::policy
