// hostile_util.h — `record` runs for the hostile tests: only the CPU-time model
// (sysfs and /dev point at an empty directory, NVML at a missing file), in a
// directory that `nobody` can reach (for the --user tests).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {

// Runs args[0] with standard output and standard error going to the files given
// (a device such as a full one works); what went to a regular file is read back.
inline testing::Ran RunRedirected(const std::vector<std::string>& args,
                                  const std::string& stdout_path,
                                  const std::string& stderr_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  testing::Ran r;
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0)
    r.status = testing::Wait(pid);
  posix_spawn_file_actions_destroy(&fa);
  auto regular = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  };
  if (regular(stdout_path)) r.out = testing::ReadText(stdout_path);
  if (regular(stderr_path)) r.err = testing::ReadText(stderr_path);
  return r;
}

// A character device like /dev/null (1:3) or /dev/full (1:7) in `dir` when root
// may make one; otherwise the system's (which only root could have replaced).
inline std::string CharDevice(const std::string& dir, const char* name, unsigned minor_id) {
  const std::string path = dir + "/" + name;
  if (::mknod(path.c_str(), S_IFCHR | 0666, makedev(1, minor_id)) == 0) return path;
  return std::string("/dev/") + name;
}

class HostileRecordTest : public testing::ModelOnlyRecordTest {
 protected:
  void SetUp() override {
    ModelOnlyRecordTest::SetUp();
    // `nobody` must reach the run directory: TempDir makes it 0700.
    ::chmod(tmp_.path().c_str(), 0711);
  }
};

}  // namespace smaragdine
