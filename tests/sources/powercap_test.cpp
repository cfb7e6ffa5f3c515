// Tests of the RAPL powercap source against fake /sys trees with the kernel's file contents.
#include <unistd.h>

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/sources/rapl_powercap.h"
#include "sources/fake_tree_util.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::FakeTree;

std::vector<std::string> Names(const std::vector<DomainProbe>& probes) {
  std::vector<std::string> names;
  for (const DomainProbe& p : probes) names.push_back(p.info.name);
  return names;
}

// A 2-socket Xeon as Linux shows it, with the MMIO interface duplicating package 0.
void AddTwoSocketTree(FakeTree& tree) {
  tree.AddPowercapZone("intel-rapl:0", "package-0", 1000000);
  tree.AddPowercapZone("intel-rapl:0:0", "core", 400000);
  tree.AddPowercapZone("intel-rapl:0:1", "uncore", 50000);
  tree.AddPowercapZone("intel-rapl:0:2", "dram", 200000, 65532610987);
  tree.AddPowercapZone("intel-rapl:1", "package-1", 2000000);
  tree.AddPowercapZone("intel-rapl:1:0", "core", 800000);
  tree.AddPowercapZone("intel-rapl:1:1", "dram", 300000, 65532610987);
  tree.AddPowercapZone("intel-rapl-mmio:0", "package-0", 999999);
  tree.Write("sys/class/powercap/intel-rapl/enabled", "1\n");  // the control type: no zone
}

TEST(PowercapTest, EnumeratesTwoSocketTreeAndDropsMmioDuplicate) {
  FakeTree tree;
  AddTwoSocketTree(tree);
  auto src = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo());
  EXPECT_EQ(src->Name(), "rapl-powercap");
  EXPECT_EQ(src->Preference(), 20);
  EXPECT_EQ(src->Rate(), RateClass::kFast);
  std::vector<DomainProbe> probes = src->Probe();
  EXPECT_THAT(Names(probes),
              ::testing::ElementsAre("cpu:0/package", "cpu:0/core", "cpu:0/uncore", "cpu:0/dram",
                                     "cpu:1/package", "cpu:1/core", "cpu:1/dram"));
  for (const DomainProbe& p : probes) {
    EXPECT_TRUE(p.readable) << p.info.name << ": " << p.reason;
    EXPECT_EQ(p.info.source, "rapl-powercap");
    EXPECT_EQ(p.info.quantity, Quantity::kEnergy);
    EXPECT_DOUBLE_EQ(p.info.resolution_j, 1e-6);
  }
  EXPECT_EQ(probes[0].info.device, "CPU:0");
  EXPECT_EQ(probes[5].info.device, "CPU:1");
  // The package-0 counter is read through the MSR-backed zone, not the MMIO one.
  EXPECT_EQ(probes[0].location, tree.Path("sys/class/powercap/intel-rapl:0/energy_uj"));
  EXPECT_EQ(probes[6].location, tree.Path("sys/class/powercap/intel-rapl:1:1/energy_uj"));
}

TEST(PowercapTest, MmioZoneIsKeptWhenItIsTheOnlyInterface) {
  FakeTree tree;
  tree.AddPowercapZone("intel-rapl-mmio:0", "package-0", 5);
  auto probes = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo())->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].info.name, "cpu:0/package");
  EXPECT_EQ(probes[0].location, tree.Path("sys/class/powercap/intel-rapl-mmio:0/energy_uj"));
}

TEST(PowercapTest, ZoneIdsAreHexAndDomainsComeFromNames) {
  FakeTree tree;
  tree.AddPowercapZone("intel-rapl:a", "package-10", 1);
  tree.AddPowercapZone("intel-rapl:a:0", "dram", 1);
  tree.AddPowercapZone("intel-rapl:2", "package-2", 1);
  tree.AddPowercapZone("intel-rapl:3", "psys", 1);
  auto probes = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo())->Probe();
  // Sorted by the hex id: 2, 3, a.
  EXPECT_THAT(Names(probes), ::testing::ElementsAre("cpu:2/package", "cpu:0/psys",
                                                    "cpu:10/package", "cpu:10/dram"));
  EXPECT_EQ(probes[3].info.device, "CPU:10");
}

TEST(PowercapTest, DieZonesNameTheDie) {
  EXPECT_EQ(PowercapDomainName("package-1-die-0", ""), "cpu:1/package-die-0");
  EXPECT_EQ(PowercapDomainName("dram", "package-1-die-1"), "cpu:1/dram-die-1");
  EXPECT_EQ(PowercapDomainName("uncore", "package-3"), "cpu:3/uncore");
  EXPECT_EQ(PowercapDomainName("core", "psys"), std::nullopt);
}

TEST(PowercapTest, SessionReportsJoulesSinceOpen) {
  FakeTree tree;
  AddTwoSocketTree(tree);
  auto src = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo());
  auto session = src->Open({"cpu:1/package", "cpu:0/dram"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  EXPECT_EQ((*session)->domains()[0].name, "cpu:1/package");
  tree.SetEnergyUj("intel-rapl:1", 2000000 + 3500000);  // +3.5 J
  tree.SetEnergyUj("intel-rapl:0:2", 200000 + 250000);  // +0.25 J
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_DOUBLE_EQ(values[0], 3.5);
  EXPECT_DOUBLE_EQ(values[1], 0.25);
  EXPECT_TRUE(diag.empty());
}

TEST(PowercapTest, UnwrapsCounterThatWrapsDuringSession) {
  FakeTree tree;
  const uint64_t range = 262143328850;
  tree.AddPowercapZone("intel-rapl:0", "package-0", range - 1000000, range);
  auto session = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo())
                     ->Open({"cpu:0/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  std::vector<double> values;
  Diagnostics diag;
  tree.SetEnergyUj("intel-rapl:0", range - 400000);  // +0.6 J, no wrap yet
  (*session)->Read(values, diag);
  EXPECT_DOUBLE_EQ(values[0], 0.6);
  tree.SetEnergyUj("intel-rapl:0", 500000);  // wrapped: 0.4 J to the top, then 0.5 J
  (*session)->Read(values, diag);
  EXPECT_NEAR(values[0], 1.5, 1e-9);
  EXPECT_EQ(diag.Count("sources.counter_wrapped"), 1);
  EXPECT_EQ(diag.Count("sources.interval_too_long"), 0);
}

TEST(PowercapTest, IntervalTooLongToUnwrapIsNaNWithDiagnostic) {
  FakeTree tree;
  // A 20 J range: at 2 kW it could wrap in 10 ms, so a 30 ms interval is not certain.
  tree.AddPowercapZone("intel-rapl:0", "package-0", 1000, 20000000);
  testing::FakeNowNs() = 1'000'000'000;
  auto session = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo())
                     ->Open({"cpu:0/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  testing::FakeNowNs() += 30'000'000;
  tree.SetEnergyUj("intel-rapl:0", 501000);
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  EXPECT_TRUE(std::isnan(values[0]));
  EXPECT_EQ(diag.Count("sources.interval_too_long"), 1);
  // It goes on from the new value: the next (short) interval counts again.
  tree.SetEnergyUj("intel-rapl:0", 751000);
  testing::FakeNowNs() += 9'000'000;  // 9 ms: below the 10 ms bound
  (*session)->Read(values, diag);
  testing::FakeNowNs() = 0;
  EXPECT_DOUBLE_EQ(values[0], 0.25);
  EXPECT_EQ(diag.Count("sources.interval_too_long"), 1);
}

TEST(PowercapTest, VanishedFileStopsThatDomainOnly) {
  FakeTree tree;
  AddTwoSocketTree(tree);
  auto session = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo())
                     ->Open({"cpu:0/package", "cpu:0/dram"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  tree.Remove("sys/class/powercap/intel-rapl:0:2/energy_uj");
  tree.SetEnergyUj("intel-rapl:0", 3000000);
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  EXPECT_DOUBLE_EQ(values[0], 2.0);
  EXPECT_TRUE(std::isnan(values[1]));
  EXPECT_EQ(diag.Count("sources.read_failed"), 1);
  ASSERT_EQ(diag.warnings().size(), 1u);
  EXPECT_THAT(diag.warnings()[0], HasSubstr("cpu:0/dram"));
  EXPECT_THAT(diag.warnings()[0], HasSubstr("ENODEV"));
  // The file comes back: the domain stays stopped, and is not counted again.
  tree.SetEnergyUj("intel-rapl:0:2", 900000);
  tree.SetEnergyUj("intel-rapl:0", 4000000);
  (*session)->Read(values, diag);
  EXPECT_DOUBLE_EQ(values[0], 3.0);
  EXPECT_TRUE(std::isnan(values[1]));
  EXPECT_EQ(diag.Count("sources.read_failed"), 1);
}

void ExpectCveReasonAndFix(const DomainProbe& p, const std::string& path) {
  EXPECT_FALSE(p.readable);
  EXPECT_EQ(p.reason, "permission denied (energy_uj is root-only since CVE-2020-8694)");
  EXPECT_THAT(p.fix, HasSubstr("sudo chmod a+r " + path));
  EXPECT_THAT(p.fix, HasSubstr("/etc/udev/rules.d/90-smaragdine-rapl.rules"));
  EXPECT_THAT(p.fix, HasSubstr("SUBSYSTEM==\"powercap\", ACTION==\"add\", "
                               "RUN+=\"/bin/chmod a+r /sys%p/energy_uj\""));
}

TEST(PowercapTest, RootOnlyEnergyFileExplainsCveAndFix) {
  FakeTree tree;
  AddTwoSocketTree(tree);
  const std::string path = tree.Path("sys/class/powercap/intel-rapl:1/energy_uj");
  testing::DeniedPaths() = {path};
  auto probes = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo())->Probe();
  testing::DeniedPaths().clear();
  ASSERT_EQ(probes.size(), 7u);
  EXPECT_TRUE(probes[0].readable);
  ExpectCveReasonAndFix(probes[4], path);
  EXPECT_EQ(probes[4].info.name, "cpu:1/package");
}

TEST(PowercapTest, RootOnlyEnergyFileByModeWhenNotRoot) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores file modes; the seam test covers this";
  FakeTree tree;
  tree.AddPowercapZone("intel-rapl:0", "package-0", 1);
  tree.Chmod("sys/class/powercap/intel-rapl:0/energy_uj", 0000);
  auto probes = MakeRaplPowercapSource(tree.Options())->Probe();
  ASSERT_EQ(probes.size(), 1u);
  ExpectCveReasonAndFix(probes[0], tree.Path("sys/class/powercap/intel-rapl:0/energy_uj"));
}

TEST(PowercapTest, NoPowercapZonesSaysWhichModuleToLoad) {
  FakeTree tree;
  auto src = MakeRaplPowercapSource(tree.Options());
  auto probes = src->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_EQ(probes[0].info.name, "cpu:0/package");
  EXPECT_EQ(probes[0].reason,
            "no RAPL powercap zones (intel_rapl_common / intel_rapl_msr not loaded, or not "
            "supported by this CPU/VM)");
  EXPECT_EQ(probes[0].fix, "sudo modprobe intel_rapl_msr");
  auto session = src->Open({"cpu:0/package"});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code, ErrorCode::kNothingMeasurable);
}

}  // namespace
}  // namespace smaragdine
