// No std::regex in the sources (issue 17, item 5): libstdc++'s std::regex
// backtracks and recurses once per character, so a long name or path crashed
// `report --map` (stack overflow) and a pathological pattern took hours. Every
// pattern smaragdine runs is RE2's (linear time, bounded stack). This test
// keeps it so: a std::regex anywhere under src/ fails it, naming the file.
// (Tests may use std::regex on their own short strings.)
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace smaragdine {
namespace {

TEST(HostileSourcesTest, NoStdRegexInTheSources) {
  const std::filesystem::path src =
      std::filesystem::path(SMARAGDINE_TEST_DATA) / ".." / ".." / "src";
  ASSERT_TRUE(std::filesystem::is_directory(src)) << src;
  std::vector<std::string> using_regex;
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src)) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
    ++files;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    if (s.find("#include <regex>") != std::string::npos ||
        s.find("std::regex") != std::string::npos)
      using_regex.push_back(std::filesystem::relative(entry.path(), src).string());
  }
  EXPECT_GT(files, 100u);
  EXPECT_THAT(using_regex, ::testing::IsEmpty())
      << "use RE2 (re2/re2.h, as src/report/fold.cpp does), not std::regex";
}

}  // namespace
}  // namespace smaragdine
