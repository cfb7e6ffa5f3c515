// perf_power.h — RAPL energy through the perf "power" PMU.
//
// The PMU type, event codes and scales come from
// <sysfs>/bus/event_source/devices/power; one counter per package CPU in its
// `cpumask` is opened with perf_event_open and read as a 64-bit count × scale
// (joules; the kernel widens the 32-bit hardware counter, so it never wraps).
// A session opens a package's events as one group (PERF_FORMAT_GROUP) and
// reads them with one `read` per package and pass; an event the kernel will
// not add to the group is a group of its own. The syscalls go through
// PerfSyscalls so tests replace them.
//
//   auto src = MakePerfPowerSource(options, PerfSyscalls{});
//   SMG_ASSIGN_OR_RETURN(auto session, src->Open({"cpu:0/package"}));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>

#include "energy/sources/sysfs_sources.h"

namespace smaragdine {

struct PerfSyscalls {
  // perf_event_open(attr{type, config, size, read_format}, pid = -1, cpu, group_fd,
  // FD_CLOEXEC): an fd, or -1 with errno set. group_fd −1 opens a group leader;
  // read_format PERF_FORMAT_GROUP makes a read of the leader return
  // {nr, value of each member in the order opened, the leader first}.
  int (*event_open)(uint32_t type, uint64_t config, int cpu, int group_fd, uint64_t read_format);
  ssize_t (*read)(int fd, void* buf, size_t n);
  int (*close)(int fd);
  PerfSyscalls();  // the real calls
};

// The factory with its syscalls behind `sys` (tests); MakePerfPowerSource uses PerfSyscalls{}.
std::unique_ptr<EnergySource> MakePerfPowerSource(const SourceOptions& options,
                                                  const PerfSyscalls& sys);

}  // namespace smaragdine
