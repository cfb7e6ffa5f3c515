#include "report/cli_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace smaragdine::testing {

CliRun RunSmaragdine(const std::string& args) { return RunBinary(SMARAGDINE_BINARY, args); }

CliRun RunBinary(const std::string& binary, const std::string& args) {
  // Tests may run in parallel processes, each counting from 1: the test's
  // name keeps their files apart.
  static int counter = 0;
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string base = ::testing::TempDir() + "/report_cli_" +
                           (test ? test->name() : "none") + "_" + std::to_string(++counter);
  const std::string cmd = binary + " " + args + " >" + base + ".out 2>" + base + ".err";
  const int rc = std::system(cmd.c_str());
  CliRun r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = Slurp(base + ".out");
  r.err = Slurp(base + ".err");
  return r;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace smaragdine::testing
