// record_test_util.h — temporary directories and running the smaragdine binary in tests.
#pragma once

#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

#include "smaragdine/energy_log.h"

namespace smaragdine::testing {

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "smg-rec-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A started process whose stdout and stderr go to files in `dir`.
struct Spawned {
  pid_t pid = -1;
  std::string out_path, err_path;
};

inline Spawned Spawn(const std::vector<std::string>& args, const std::string& dir) {
  Spawned s;
  s.out_path = dir + "/stdout.txt";
  s.err_path = dir + "/stderr.txt";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, s.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, s.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  // Default SIGINT/SIGTERM even if the test runner ignores them: the signal tests need them.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (posix_spawn(&s.pid, argv[0], &fa, &attr, argv.data(), environ) != 0) s.pid = -1;
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return s;
}

// Exit status as a shell shows it: the code, or 128 + the signal.
inline int Wait(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct Ran {
  int status = -1;
  std::string out, err;
};

// Runs args[0] with args to completion; `dir` holds its stdout/stderr files.
inline Ran Run(const std::vector<std::string>& args, const std::string& dir) {
  Spawned s = Spawn(args, dir);
  Ran r;
  if (s.pid < 0) return r;
  r.status = Wait(s.pid);
  r.out = ReadText(s.out_path);
  r.err = ReadText(s.err_path);
  return r;
}

// Polls until `path` exists (or the timeout passes).
inline bool WaitForFile(const std::string& path, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// `smaragdine record` with only the CPU-time model (sysfs and /dev point at an
// empty directory, NVML at a missing file, so no hardware counter is found even
// on a machine that has them), into TempDir/run.
class ModelOnlyRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(empty_root());
    run_ = tmp_.path() + "/run";
  }
  std::string empty_root() const { return tmp_.path() + "/empty"; }
  // record's command line for CMD, with `extra` options before the `--`.
  std::vector<std::string> Record(const std::vector<std::string>& cmd,
                                  const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> a = {SMARAGDINE_BINARY, "record",        "-o",
                                  run_,              "--sysfs-root",  empty_root(),
                                  "--dev-root",      empty_root(),    "--nvml-library",
                                  tmp_.path() + "/no-libnvidia-ml.so.1"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back("--");
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
  }
  Result<EnergyLog> ReadRun() const { return ReadEnergy(run_, EnergyImportOptions{}); }

  TempDir tmp_;
  std::string run_;
};

}  // namespace smaragdine::testing
