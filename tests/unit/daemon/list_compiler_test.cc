// The list compiler child's environment (daemon/lists/list_compiler.h).
#include "daemon/lists/list_compiler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace safegate {
namespace {

std::vector<std::string> envOf(std::vector<std::string> entries) {
  std::vector<char*> env;
  for (auto& e : entries) env.push_back(e.data());
  env.push_back(nullptr);
  return compilerEnvironment(env.data());
}

TEST(CompilerEnvironmentTest, AddsHugePagesForMallocAndKeepsEverythingElse) {
  EXPECT_EQ(envOf({"PATH=/usr/bin", "LANG=C"}),
            (std::vector<std::string>{"PATH=/usr/bin", "LANG=C",
                                      "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}));
}

TEST(CompilerEnvironmentTest, AppendsToTheOperatorsTunables) {
  EXPECT_EQ(envOf({"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "PATH=/bin"}),
            (std::vector<std::string>{
                "GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", "PATH=/bin"}));
  EXPECT_EQ(envOf({"GLIBC_TUNABLES="}),
            (std::vector<std::string>{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}));
}

TEST(CompilerEnvironmentTest, LeavesAnOperatorsHugeTlbChoiceAlone) {
  EXPECT_EQ(envOf({"GLIBC_TUNABLES=glibc.malloc.hugetlb=0"}),
            (std::vector<std::string>{"GLIBC_TUNABLES=glibc.malloc.hugetlb=0"}));
  EXPECT_EQ(compilerEnvironment(nullptr),
            (std::vector<std::string>{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}));
}

}  // namespace
}  // namespace safegate
