// Helpers shared by the trace tests: data paths and golden comparison.
#include "trace/trace_test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/io.h"

namespace smaragdine::testing {

std::string DataPath(const std::string& rel) { return std::string(SMARAGDINE_TEST_DATA) + "/" + rel; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ExpectGolden(const std::string& golden_rel, const std::string& actual) {
  std::string path = std::string(SMARAGDINE_GOLDEN_DIR) + "/" + golden_rel;
  const char* update = std::getenv("SMARAGDINE_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    ASSERT_TRUE(WriteFileAtomic(path, actual).ok()) << path;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "missing golden " << path
                         << " (regenerate with SMARAGDINE_UPDATE_GOLDEN=1)";
  std::string expected = ReadText(path);
  // EXPECT_EQ on multi-megabyte strings prints too much: report the first difference.
  if (expected == actual) return;
  size_t line = 1, i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) {
    if (expected[i] == '\n') ++line;
    ++i;
  }
  auto line_at = [](const std::string& s, size_t pos) {
    size_t b = s.rfind('\n', pos == 0 ? 0 : pos - 1);
    b = b == std::string::npos ? 0 : b + 1;
    size_t e = s.find('\n', pos);
    return s.substr(b, e == std::string::npos ? std::string::npos : e - b);
  };
  ADD_FAILURE() << golden_rel << " differs at line " << line << "\nexpected: "
                << line_at(expected, i) << "\nactual:   " << line_at(actual, i)
                << "\n(regenerate with SMARAGDINE_UPDATE_GOLDEN=1 and review the diff)";
}

std::string CopyToTemp(const std::string& path, const std::string& name) {
  const auto to = std::filesystem::temp_directory_path() /
                  ("smaragdine_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::copy_file(path, to, std::filesystem::copy_options::overwrite_existing);
  return to.string();
}

}  // namespace smaragdine::testing
