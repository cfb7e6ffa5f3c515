// hostile_util.h — `record` runs for the hostile tests: only the CPU-time model
// (sysfs and /dev point at an empty directory, NVML at a missing file), in a
// directory that `nobody` can reach (for the --user tests).
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {

class HostileRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // `nobody` must reach the run directory: TempDir makes it 0700.
    ::chmod(tmp_.path().c_str(), 0711);
    std::filesystem::create_directories(empty_root());
    run_ = tmp_.path() + "/run";
  }
  std::string empty_root() const { return tmp_.path() + "/empty"; }
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

  testing::TempDir tmp_;
  std::string run_;
};

}  // namespace smaragdine
