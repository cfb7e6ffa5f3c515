// fake_tree_util.h — fake /sys, /dev and /proc trees for the source tests.
//
// A FakeTree is a temporary directory holding sys/, dev/ and proc/ with the
// files the kernel would show, in the kernel's text formats; it is removed
// when the FakeTree goes away. KernfsIo() makes held-open files behave like
// kernfs (a removed file reads ENODEV) and lets a test deny paths the way
// file modes do for a non-root user (tests run as root in CI).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "energy/sources/sysfs_util.h"
#include "smaragdine/sources.h"

namespace smaragdine::testing {

class FakeTree {
 public:
  FakeTree();
  ~FakeTree();
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  const std::string& root() const { return root_; }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }
  SourceOptions Options() const;

  // Writes `text` to root/rel (directories made as needed).
  void Write(const std::string& rel, const std::string& text);
  void Remove(const std::string& rel);
  void Chmod(const std::string& rel, unsigned mode);

  // sys/class/powercap/<entry>/{name,energy_uj,max_energy_range_uj}, as the kernel prints them.
  void AddPowercapZone(const std::string& entry, const std::string& name, uint64_t energy_uj,
                       uint64_t max_energy_range_uj = 262143328850);
  void SetEnergyUj(const std::string& entry, uint64_t energy_uj);
  // sys/devices/system/cpu/cpuN/topology/physical_package_id
  void AddCpu(int cpu, int package);
  // proc/cpuinfo with one processor block.
  void SetCpuInfo(const std::string& vendor, int family, int model);
  // dev/cpu/N/msr: a sparse regular file; `value` is written at offset `reg`.
  void WriteMsr(int cpu, uint64_t reg, uint64_t value);

 private:
  std::string root_;
};

// A SysIo whose pread fails with ENODEV on a file that was unlinked (what
// kernfs does when a zone goes away) and whose open fails with EACCES for
// paths in DeniedPaths() (what a 0400 file does to a non-root user).
// Its clock is FakeNowNs() when that is non-zero, else CLOCK_MONOTONIC.
SysIo KernfsIo();
int64_t& FakeNowNs();
std::vector<std::string>& DeniedPaths();

}  // namespace smaragdine::testing
