// Tests of the perf power PMU source: the PMU's sysfs files are a fake tree,
// perf_event_open and read go through a fake PerfSyscalls. No power PMU on the
// development machine: the group reads are checked against this fake only.
#include <linux/perf_event.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/sources/perf_power.h"
#include "sources/fake_tree_util.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::FakeTree;

constexpr double kScale = 2.3283064365386962890625e-10;  // 2^-32 J, as the kernel prints it

// The fake kernel: counters per (config, cpu); fds handed out from 100. As
// perf does, a group member must be on its leader's CPU, and a read of a leader
// opened with PERF_FORMAT_GROUP returns {nr, leader, members in opening order}
// (ENOSPC when the buffer is too small).
struct FakePerf {
  struct Fd {
    std::pair<uint64_t, int> counter;  // (config, cpu)
    int leader = -1;                   // the group's leader fd; −1: leads its own
    uint64_t read_format = 0;
  };
  static inline std::map<std::pair<uint64_t, int>, uint64_t> counters;
  static inline std::map<int, Fd> open_fds;
  static inline int next_fd = 100;
  static inline int open_errno = 0;
  static inline uint32_t expected_type = 0;
  static inline bool refuse_groups = false;  // a kernel that will not group these events
  static inline int reads = 0;

  static int Open(uint32_t type, uint64_t config, int cpu, int group_fd, uint64_t read_format) {
    if (open_errno != 0) {
      errno = open_errno;
      return -1;
    }
    if (type != expected_type || counters.count({config, cpu}) == 0) {
      errno = ENOENT;
      return -1;
    }
    if (group_fd != -1) {
      auto leader = open_fds.find(group_fd);
      if (refuse_groups || leader == open_fds.end() || leader->second.leader != -1 ||
          leader->second.counter.second != cpu) {
        errno = EINVAL;
        return -1;
      }
    }
    open_fds[next_fd] = Fd{{config, cpu}, group_fd, read_format};
    return next_fd++;
  }
  static ssize_t Read(int fd, void* buf, size_t n) {
    ++reads;
    auto it = open_fds.find(fd);
    if (it == open_fds.end()) {
      errno = EBADF;
      return -1;
    }
    std::vector<uint64_t> out;
    if (it->second.read_format & PERF_FORMAT_GROUP) {
      out.push_back(0);
      for (const auto& [f, e] : open_fds)  // std::map: in opening order
        if (f == fd || e.leader == fd) out.push_back(counters[e.counter]);
      out[0] = out.size() - 1;
    } else {
      out.push_back(counters[it->second.counter]);
    }
    if (n < out.size() * 8) {
      errno = ENOSPC;
      return -1;
    }
    std::memcpy(buf, out.data(), out.size() * 8);
    return static_cast<ssize_t>(out.size() * 8);
  }
  static int Close(int fd) { return open_fds.erase(fd) == 1 ? 0 : -1; }

  static PerfSyscalls Syscalls() {
    PerfSyscalls sys;
    sys.event_open = &Open;
    sys.read = &Read;
    sys.close = &Close;
    return sys;
  }
  static void Reset() {
    counters.clear();
    open_fds.clear();
    next_fd = 100;
    open_errno = 0;
    expected_type = 0;
    refuse_groups = false;
    reads = 0;
  }
};

// The power PMU of a 2-socket machine as Linux shows it (CPUs 0 and 28 lead the packages).
void AddPowerPmu(FakeTree& tree) {
  const std::string pmu = "sys/bus/event_source/devices/power/";
  tree.Write(pmu + "type", "31\n");
  tree.Write(pmu + "cpumask", "0,28\n");
  tree.Write(pmu + "events/energy-pkg", "event=0x02\n");
  tree.Write(pmu + "events/energy-pkg.scale", "2.3283064365386962890625e-10\n");
  tree.Write(pmu + "events/energy-pkg.unit", "Joules\n");
  tree.Write(pmu + "events/energy-ram", "event=0x03\n");
  tree.Write(pmu + "events/energy-ram.scale", "2.3283064365386962890625e-10\n");
  tree.Write(pmu + "events/energy-ram.unit", "Joules\n");
  tree.AddCpu(0, 0);
  tree.AddCpu(28, 1);
  FakePerf::Reset();
  FakePerf::expected_type = 31;
  FakePerf::counters[{0x02, 0}] = 1ull << 40;
  FakePerf::counters[{0x02, 28}] = 5;
  FakePerf::counters[{0x03, 0}] = 0;
  FakePerf::counters[{0x03, 28}] = 0;
}

TEST(PerfTest, OffersEachEventOnEachPackageCpu) {
  FakeTree tree;
  AddPowerPmu(tree);
  auto src = MakePerfPowerSource(tree.Options(), FakePerf::Syscalls());
  EXPECT_EQ(src->Name(), "perf");
  EXPECT_EQ(src->Preference(), 10);
  std::vector<DomainProbe> probes = src->Probe();
  ASSERT_EQ(probes.size(), 4u);
  EXPECT_EQ(probes[0].info.name, "cpu:0/package");
  EXPECT_EQ(probes[1].info.name, "cpu:1/package");
  EXPECT_EQ(probes[2].info.name, "cpu:0/dram");
  EXPECT_EQ(probes[3].info.name, "cpu:1/dram");
  EXPECT_EQ(probes[1].info.device, "CPU:1");
  EXPECT_EQ(probes[1].location, "perf power/energy-pkg/ on CPU 28");
  for (const DomainProbe& p : probes) {
    EXPECT_TRUE(p.readable) << p.reason;
    EXPECT_DOUBLE_EQ(p.info.resolution_j, kScale);
    // The kernel reads RAPL's counter: kind counter, RAPL's nominal period.
    EXPECT_EQ(p.info.meter.kind, MeterKind::kCounter);
    EXPECT_EQ(p.info.update_interval_ns, 1'000'000);
  }
  EXPECT_EQ(probes[1].info.meter.field, "perf power/energy-pkg/");
  EXPECT_EQ(probes[2].info.meter.field, "perf power/energy-ram/");
  EXPECT_TRUE(FakePerf::open_fds.empty());  // Probe closes what it opened
}

TEST(PerfTest, SessionReadsCountTimesScaleSinceOpen) {
  FakeTree tree;
  AddPowerPmu(tree);
  auto src = MakePerfPowerSource(tree.Options(), FakePerf::Syscalls());
  auto session = src->Open({"cpu:1/package", "cpu:0/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  FakePerf::counters[{0x02, 28}] += 3ull << 32;   // 3 J
  FakePerf::counters[{0x02, 0}] += 1ull << 31;    // 0.5 J
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_DOUBLE_EQ(values[0], 3.0);
  EXPECT_DOUBLE_EQ(values[1], 0.5);
  EXPECT_TRUE(diag.empty());
  session->reset();
  EXPECT_TRUE(FakePerf::open_fds.empty());
}

TEST(PerfTest, FailedReadStopsThatPackageOnly) {
  FakeTree tree;
  AddPowerPmu(tree);
  auto session =
      MakePerfPowerSource(tree.Options(), FakePerf::Syscalls())->Open({"cpu:0/package",
                                                                       "cpu:1/dram"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  FakePerf::open_fds.erase(101);  // package 1's group (its dram event) goes bad
  FakePerf::counters[{0x02, 0}] += 1ull << 32;
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  EXPECT_DOUBLE_EQ(values[0], 1.0);
  EXPECT_TRUE(std::isnan(values[1]));
  EXPECT_EQ(diag.Count("sources.read_failed"), 1);
  ASSERT_EQ(diag.warnings().size(), 1u);
  EXPECT_THAT(diag.warnings()[0], HasSubstr("cpu:1/dram: reading the perf counter failed"));
  (*session)->Read(values, diag);
  EXPECT_EQ(diag.Count("sources.read_failed"), 1);  // counted once
}

// A package's events are one group: one read per package and pass, whatever
// order the domains were asked in.
TEST(PerfTest, OneReadPerPackageAndPass) {
  FakeTree tree;
  AddPowerPmu(tree);
  auto session = MakePerfPowerSource(tree.Options(), FakePerf::Syscalls())
                     ->Open({"cpu:0/dram", "cpu:1/package", "cpu:0/package", "cpu:1/dram"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  FakePerf::counters[{0x03, 0}] += 1ull << 32;   // 1 J
  FakePerf::counters[{0x02, 28}] += 2ull << 32;  // 2 J
  FakePerf::counters[{0x02, 0}] += 3ull << 32;   // 3 J
  FakePerf::counters[{0x03, 28}] += 1ull << 30;  // 0.25 J
  std::vector<double> values;
  Diagnostics diag;
  FakePerf::reads = 0;
  (*session)->Read(values, diag);
  EXPECT_EQ(FakePerf::reads, 2);
  ASSERT_EQ(values.size(), 4u);
  EXPECT_DOUBLE_EQ(values[0], 1.0);
  EXPECT_DOUBLE_EQ(values[1], 2.0);
  EXPECT_DOUBLE_EQ(values[2], 3.0);
  EXPECT_DOUBLE_EQ(values[3], 0.25);
  EXPECT_TRUE(diag.empty());
  // The group's whole read fails: each of its domains stops, with its own warning.
  FakePerf::open_fds.erase(100);  // package 0's leader (cpu:0/dram)
  (*session)->Read(values, diag);
  EXPECT_TRUE(std::isnan(values[0]));
  EXPECT_TRUE(std::isnan(values[2]));
  EXPECT_DOUBLE_EQ(values[1], 2.0);
  EXPECT_EQ(diag.Count("sources.read_failed"), 2);
  EXPECT_EQ(diag.warnings().size(), 2u);
  session->reset();
  EXPECT_TRUE(FakePerf::open_fds.empty());
}

// A kernel that will not group the events: each is a group of its own, read
// alone, and the values are the same.
TEST(PerfTest, UngroupableEventsAreReadOneByOne) {
  FakeTree tree;
  AddPowerPmu(tree);
  FakePerf::refuse_groups = true;
  auto session = MakePerfPowerSource(tree.Options(), FakePerf::Syscalls())
                     ->Open({"cpu:0/package", "cpu:0/dram"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  EXPECT_EQ(FakePerf::open_fds.size(), 2u);
  FakePerf::counters[{0x02, 0}] += 1ull << 32;
  FakePerf::counters[{0x03, 0}] += 1ull << 31;
  std::vector<double> values;
  Diagnostics diag;
  FakePerf::reads = 0;
  (*session)->Read(values, diag);
  EXPECT_EQ(FakePerf::reads, 2);
  EXPECT_DOUBLE_EQ(values[0], 1.0);
  EXPECT_DOUBLE_EQ(values[1], 0.5);
  EXPECT_TRUE(diag.empty());
}

TEST(PerfTest, DeniedOpenReportsParanoidLevelAndFix) {
  FakeTree tree;
  AddPowerPmu(tree);
  tree.Write("proc/sys/kernel/perf_event_paranoid", "2\n");
  FakePerf::open_errno = EACCES;
  auto probes = MakePerfPowerSource(tree.Options(), FakePerf::Syscalls())->Probe();
  FakePerf::open_errno = 0;
  ASSERT_EQ(probes.size(), 4u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_THAT(probes[0].reason, HasSubstr("kernel.perf_event_paranoid is 2"));
  EXPECT_THAT(probes[0].reason, HasSubstr("CAP_PERFMON"));
  EXPECT_THAT(probes[0].fix, HasSubstr("sudo sysctl kernel.perf_event_paranoid=0"));
  EXPECT_THAT(probes[0].fix, HasSubstr("cap_perfmon"));
}

TEST(PerfTest, NoPowerPmuIsExplained) {
  FakeTree tree;
  FakePerf::Reset();
  auto src = MakePerfPowerSource(tree.Options(), FakePerf::Syscalls());
  auto probes = src->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_THAT(probes[0].reason, HasSubstr("no perf power PMU"));
  auto session = src->Open({"cpu:0/package"});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code, ErrorCode::kNothingMeasurable);
  EXPECT_THAT(session.error().message, HasSubstr("no perf power PMU"));
}

TEST(PerfTest, EventTheCpuLacksIsUnsupported) {
  FakeTree tree;
  AddPowerPmu(tree);
  FakePerf::counters.erase({0x03, 28});  // the kernel refuses energy-ram on CPU 28
  auto probes = MakePerfPowerSource(tree.Options(), FakePerf::Syscalls())->Probe();
  ASSERT_EQ(probes.size(), 4u);
  EXPECT_TRUE(probes[2].readable);
  EXPECT_FALSE(probes[3].readable);
  EXPECT_THAT(probes[3].reason, HasSubstr("event not supported by this CPU"));
}

}  // namespace
}  // namespace smaragdine
