// Test helpers for locating third-party data (../shared/data) and making temp dirs.
//
// sharedDataPath("pcaps/...") returns the path, or std::nullopt when ../shared/data is absent.
// SAFEGATE_SHARED_DATA (env) overrides the location. Use the macro:
//
//   auto p = SAFEGATE_SHARED_DATA_OR_SKIP("hagezi-2022/...");
//
// which GTEST_SKIPs when the data is missing, or FAILs when SAFEGATE_REQUIRE_SHARED_DATA=1
// (set by CI), so a fresh checkout without ../shared passes while CI cannot silently skip.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace safegate::testing {

std::filesystem::path sharedDataRoot();
std::optional<std::filesystem::path> sharedDataPath(std::string_view relative);
bool sharedDataRequired();
// The repository root (for tests/data, examples, etc.).
std::filesystem::path sourceDir();
// The CMake build dir (where safegated / safegatectl are built).
std::filesystem::path binaryDir();

// A fresh directory under $TMPDIR, removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::filesystem::path write(std::string_view name, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

// Whole file as a string; empty on failure.
std::string readFile(const std::filesystem::path& p);

}  // namespace safegate::testing

#define SAFEGATE_SHARED_DATA_OR_SKIP(rel)                                                  \
  ({                                                                                       \
    auto sg_p_ = ::safegate::testing::sharedDataPath(rel);                                 \
    if (!sg_p_) {                                                                          \
      if (::safegate::testing::sharedDataRequired()) {                                     \
        GTEST_FAIL() << "shared data missing (SAFEGATE_REQUIRE_SHARED_DATA=1): " << (rel); \
      }                                                                                    \
      GTEST_SKIP() << "shared data not found: " << (rel)                                   \
                   << " (set SAFEGATE_SHARED_DATA or check out ../shared)";                \
    }                                                                                      \
    *sg_p_;                                                                                \
  })
