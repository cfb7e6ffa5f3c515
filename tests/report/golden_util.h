// golden_util.h — compare report output with tests/golden/report/<name>.
//
// SMARAGDINE_UPDATE_GOLDEN=1 rewrites the golden file instead of comparing;
// read the diff of the regenerated file before committing it.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace smaragdine::testing {

inline void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(SMARAGDINE_GOLDEN_DIR) + "/report/" + name;
  const char* update = std::getenv("SMARAGDINE_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "missing golden file " << path
                         << " (run with SMARAGDINE_UPDATE_GOLDEN=1 to create it)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual) << "output differs from " << path;
}

}  // namespace smaragdine::testing
