// Tests of the RAPL MSR source against fake /dev/cpu/N/msr files (sparse regular
// files with 8-byte values at the register offsets).
#include <cerrno>
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/sources/rapl_msr.h"
#include "sources/fake_tree_util.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::FakeTree;

constexpr uint64_t kIntelUnit = 0xA0E03;     // ESU 0x0E: 2^-14 J (61 µJ), as on most Intel parts
constexpr uint64_t kAmdUnit = 0x000A1003;    // ESU 0x10: 2^-16 J (15.3 µJ), as on Zen

TEST(MsrTest, DecodesEnergyUnitFromBits12To8) {
  EXPECT_DOUBLE_EQ(MsrEnergyUnitJ(kIntelUnit), 1.0 / 16384);
  EXPECT_DOUBLE_EQ(MsrEnergyUnitJ(kAmdUnit), 1.0 / 65536);
  EXPECT_DOUBLE_EQ(MsrEnergyUnitJ(0x0), 1.0);
  EXPECT_TRUE(IntelDramFixedUnit(6, 0x55));   // Skylake-SP
  EXPECT_TRUE(IntelDramFixedUnit(6, 0x3F));   // Haswell-EP
  EXPECT_FALSE(IntelDramFixedUnit(6, 0x8E));  // Kaby Lake client
  EXPECT_FALSE(IntelDramFixedUnit(0x19, 0x55));
}

// A 2-socket Skylake-SP: CPUs 0,1 on package 0, CPUs 2,3 on package 1.
void AddIntelServer(FakeTree& tree) {
  tree.SetCpuInfo("GenuineIntel", 6, 85);
  for (int cpu = 0; cpu < 4; ++cpu) tree.AddCpu(cpu, cpu / 2);
  for (int cpu : {0, 2}) {
    tree.WriteMsr(cpu, kMsrIntelPowerUnit, kIntelUnit);
    // High bits above the 32-bit counter are reserved: they must be ignored.
    tree.WriteMsr(cpu, kMsrIntelPkgEnergy, 0xABCD000000001000ull);
    tree.WriteMsr(cpu, kMsrIntelPp0Energy, 0x800);
    tree.WriteMsr(cpu, kMsrIntelDramEnergy, 0x300);
    // PP1 reads 0 on server parts; PSYS lies past the end of the fake file, which
    // reads short like a faulting rdmsr (EIO).
    tree.WriteMsr(cpu, kMsrIntelPp1Energy, 0);
  }
}

TEST(MsrTest, IntelServerOffersReadableDomainsPerPackage) {
  FakeTree tree;
  AddIntelServer(tree);
  auto src = MakeRaplMsrSource(tree.Options(), testing::KernfsIo());
  EXPECT_EQ(src->Name(), "rapl-msr");
  EXPECT_EQ(src->Preference(), 30);
  std::vector<DomainProbe> probes = src->Probe();
  std::vector<std::string> readable, absent;
  for (const DomainProbe& p : probes) (p.readable ? readable : absent).push_back(p.info.name);
  EXPECT_THAT(readable, ::testing::ElementsAre("cpu:0/package", "cpu:0/core", "cpu:0/dram",
                                               "cpu:1/package", "cpu:1/core", "cpu:1/dram"));
  EXPECT_THAT(absent, ::testing::ElementsAre("cpu:0/uncore", "cpu:0/psys", "cpu:1/uncore"));
  EXPECT_EQ(probes[0].info.device, "CPU:0");
  EXPECT_DOUBLE_EQ(probes[0].info.resolution_j, 1.0 / 16384);
  EXPECT_DOUBLE_EQ(probes[3].info.resolution_j, 1.0 / 65536);  // DRAM: Skylake-SP fixed unit
  EXPECT_EQ(probes[2].reason, "not present on this CPU (MSR 0x641 reads 0)");
  EXPECT_THAT(probes[4].reason, HasSubstr("not supported by this CPU (MSR 0x64d"));
  EXPECT_EQ(probes[5].location, tree.Path("dev/cpu/2/msr") + " register 0x611");
}

TEST(MsrTest, IntelSessionConvertsCountsWithEachDomainsUnitAndUnwraps32Bits) {
  FakeTree tree;
  AddIntelServer(tree);
  tree.WriteMsr(2, kMsrIntelPkgEnergy, 0xFFFFF000);  // near the 32-bit top
  auto src = MakeRaplMsrSource(tree.Options(), testing::KernfsIo());
  src->Probe();
  auto session = src->Open({"cpu:0/package", "cpu:0/dram", "cpu:1/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  tree.WriteMsr(0, kMsrIntelPkgEnergy, 0xABCD000000001000ull + 16384 * 3);  // 3 J
  tree.WriteMsr(0, kMsrIntelDramEnergy, 0x300 + 65536);                      // 1 J at 15.3 µJ
  tree.WriteMsr(2, kMsrIntelPkgEnergy, 0x1000);  // wrapped: 0x1000 + 0x1000 counts
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  EXPECT_DOUBLE_EQ(values[0], 3.0);
  EXPECT_DOUBLE_EQ(values[1], 1.0);
  EXPECT_DOUBLE_EQ(values[2], 0x2000 / 16384.0);
  EXPECT_EQ(diag.Count("sources.counter_wrapped"), 1);
}

TEST(MsrTest, AmdZenReadsPackageCounterAtItsHighAddress) {
  FakeTree tree;
  tree.SetCpuInfo("AuthenticAMD", 25, 1);  // family 19h
  tree.AddCpu(0, 0);
  tree.AddCpu(1, 0);
  tree.WriteMsr(0, kMsrAmdPowerUnit, kAmdUnit);
  tree.WriteMsr(0, kMsrAmdPkgEnergy, 123456);  // offset ~3 GB in a sparse file
  auto src = MakeRaplMsrSource(tree.Options(), testing::KernfsIo());
  auto probes = src->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].info.name, "cpu:0/package");
  EXPECT_TRUE(probes[0].readable) << probes[0].reason;
  EXPECT_DOUBLE_EQ(probes[0].info.resolution_j, 1.0 / 65536);
  auto session = src->Open({"cpu:0/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  tree.WriteMsr(0, kMsrAmdPkgEnergy, 123456 + 65536 * 2);
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  EXPECT_DOUBLE_EQ(values[0], 2.0);
}

TEST(MsrTest, MissingMsrDeviceSaysModprobe) {
  FakeTree tree;
  tree.SetCpuInfo("GenuineIntel", 6, 85);
  tree.AddCpu(0, 0);
  auto probes = MakeRaplMsrSource(tree.Options(), testing::KernfsIo())->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_THAT(probes[0].reason, HasSubstr("msr module not loaded"));
  EXPECT_EQ(probes[0].fix, "sudo modprobe msr");
}

TEST(MsrTest, DeniedMsrDeviceSaysRootOrCapSysRawio) {
  FakeTree tree;
  AddIntelServer(tree);
  testing::DeniedPaths() = {tree.Path("dev/cpu/0/msr"), tree.Path("dev/cpu/2/msr")};
  auto probes = MakeRaplMsrSource(tree.Options(), testing::KernfsIo())->Probe();
  testing::DeniedPaths().clear();
  ASSERT_EQ(probes.size(), 2u);
  for (const DomainProbe& p : probes) {
    EXPECT_FALSE(p.readable);
    EXPECT_EQ(p.reason, "needs root or CAP_SYS_RAWIO");
    EXPECT_EQ(p.fix, "run as root or `sudo setcap cap_sys_rawio=ep $(which smaragdine)`");
  }
}

ssize_t EioOnPp0(int fd, void* buf, size_t n, off_t offset) {
  if (offset == kMsrIntelPp0Energy) {
    errno = EIO;  // what the msr driver returns when rdmsr faults
    return -1;
  }
  return ::pread(fd, buf, n, offset);
}

TEST(MsrTest, RegisterThatFaultsIsUnsupportedDomain) {
  FakeTree tree;
  AddIntelServer(tree);
  SysIo io = testing::KernfsIo();
  io.pread = &EioOnPp0;
  auto probes = MakeRaplMsrSource(tree.Options(), io)->Probe();
  ASSERT_GE(probes.size(), 2u);
  EXPECT_EQ(probes[1].info.name, "cpu:0/core");
  EXPECT_FALSE(probes[1].readable);
  EXPECT_THAT(probes[1].reason, HasSubstr("not supported by this CPU (MSR 0x639"));
  EXPECT_TRUE(probes[0].readable);
}

TEST(MsrTest, UnknownVendorIsExplained) {
  FakeTree tree;
  tree.SetCpuInfo("CentaurHauls", 6, 15);
  tree.AddCpu(0, 0);
  auto probes = MakeRaplMsrSource(tree.Options(), testing::KernfsIo())->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_THAT(probes[0].reason, HasSubstr("only for Intel and AMD family 17h+"));
  EXPECT_THAT(probes[0].reason, HasSubstr("CentaurHauls"));
}

}  // namespace
}  // namespace smaragdine
