// The main() of every test executable: GoogleTest's, plus a private temporary
// directory per test process.
//
// Many tests write fixed names under ::testing::TempDir() ("report_cli_1",
// "demo"). ctest runs each test in its own process, and two ctest runs (two
// checkouts on one machine, or `ctest -j`) would otherwise share /tmp and
// overwrite each other's files. GoogleTest's TempDir() honours $TEST_TMPDIR,
// so each process gets a fresh directory there, removed at exit. A child
// process a test starts (the record tests run this binary again) inherits the
// parent's directory and leaves its removal to the parent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

int main(int argc, char** argv) {
  std::string owned_dir;
  const char* given = std::getenv("TEST_TMPDIR");
  if (given == nullptr || given[0] == '\0') {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") +
                          "/smaragdine-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror(("cannot create a temporary directory from " + pattern).c_str());
      return 1;
    }
    owned_dir = pattern;
    setenv("TEST_TMPDIR", owned_dir.c_str(), 1);
  }
  ::testing::InitGoogleMock(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  if (!owned_dir.empty()) {
    std::error_code ec;  // a file a test left open or read-only must not fail the run
    std::filesystem::remove_all(owned_dir, ec);
  }
  return rc;
}
