#include "tests/support/shared_data.h"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace safegate::testing {

std::filesystem::path sharedDataRoot() {
  if (const char* env = std::getenv("SAFEGATE_SHARED_DATA"); env && *env) return env;
  return SAFEGATE_DEFAULT_SHARED_DATA;
}

std::optional<std::filesystem::path> sharedDataPath(std::string_view relative) {
  std::filesystem::path p = sharedDataRoot() / std::filesystem::path(relative);
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return std::nullopt;
  return p;
}

bool sharedDataRequired() {
  const char* env = std::getenv("SAFEGATE_REQUIRE_SHARED_DATA");
  return env && std::string_view(env) == "1";
}

std::filesystem::path sourceDir() { return SAFEGATE_SOURCE_DIR; }
std::filesystem::path binaryDir() { return SAFEGATE_BINARY_DIR; }

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("safegate-test-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(candidate, ec)) {
      path_ = candidate;
      return;
    }
  }
  ADD_FAILURE() << "cannot create a temp dir under " << base;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(std::string_view name, std::string_view content) const {
  auto p = path_ / std::filesystem::path(name);
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return p;
}

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace safegate::testing
