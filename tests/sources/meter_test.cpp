// What each source says its meter is (DomainInfo::meter and
// update_interval_ns, which `record` writes to run.json): RAPL counters through
// powercap and the MSRs, hwmon counters, averages and readings, the model.
// (perf is in perf_test.cpp beside its fake syscalls; NVML in tests/nvml.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/sources/hwmon.h"
#include "energy/sources/model.h"
#include "energy/sources/rapl_msr.h"
#include "energy/sources/rapl_powercap.h"
#include "sources/fake_tree_util.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::FakeTree;

TEST(MeterTest, PowercapZoneIsARaplCounterWithANominalMillisecond) {
  FakeTree tree;
  tree.AddPowercapZone("intel-rapl:0", "package-0", 1000000);
  auto src = MakeRaplPowercapSource(tree.Options(), testing::KernfsIo());
  auto probes = src->Probe();
  ASSERT_EQ(probes.size(), 1u);
  const DomainInfo& d = probes[0].info;
  EXPECT_EQ(d.meter.kind, MeterKind::kCounter);
  EXPECT_EQ(d.meter.field, "energy_uj");
  EXPECT_EQ(d.meter.window_ns, 0);
  EXPECT_EQ(d.update_interval_ns, 1'000'000);
  EXPECT_THAT(d.meter.note, HasSubstr("1 ms nominal"));
  // The session's domains, which record writes to run.json, say the same.
  auto session = src->Open({"cpu:0/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  EXPECT_EQ((*session)->domains()[0].meter.field, "energy_uj");
  EXPECT_EQ((*session)->domains()[0].update_interval_ns, 1'000'000);
}

TEST(MeterTest, MsrTimeUnitIsReadFromBits19To16) {
  EXPECT_EQ(MsrTimeUnitNs(0xA0E03), 976'563);  // TU 10: 1/1024 s
  EXPECT_EQ(MsrTimeUnitNs(0x000A1003), 976'563);
  EXPECT_EQ(MsrTimeUnitNs(0x00000000), 1'000'000'000);
  EXPECT_EQ(MsrTimeUnitNs(0x000F0000), 30'518);  // TU 15: 1/32768 s
  EXPECT_EQ(MsrEnergyFieldName(kMsrIntelPkgEnergy), "MSR_PKG_ENERGY_STATUS 0x611");
  EXPECT_EQ(MsrEnergyFieldName(kMsrIntelDramEnergy), "MSR_DRAM_ENERGY_STATUS 0x619");
  EXPECT_EQ(MsrEnergyFieldName(kMsrAmdPkgEnergy), "MSR_PKG_ENERGY_STAT 0xc001029b");
}

TEST(MeterTest, MsrDomainNamesItsRegisterAndTheTimeUnitItRead) {
  FakeTree tree;
  tree.SetCpuInfo("GenuineIntel", 6, 85);
  tree.AddCpu(0, 0);
  tree.WriteMsr(0, kMsrIntelPowerUnit, 0xA0E03);
  tree.WriteMsr(0, kMsrIntelPkgEnergy, 0x1000);
  tree.WriteMsr(0, kMsrIntelDramEnergy, 0x300);
  auto src = MakeRaplMsrSource(tree.Options(), testing::KernfsIo());
  auto probes = src->Probe();
  ASSERT_FALSE(probes.empty());
  ASSERT_TRUE(probes[0].readable) << probes[0].reason;
  const DomainInfo& pkg = probes[0].info;
  EXPECT_EQ(pkg.meter.kind, MeterKind::kCounter);
  EXPECT_EQ(pkg.meter.field, "MSR_PKG_ENERGY_STATUS 0x611");
  // The period stays the SDM's ~1 ms; the time unit read goes in the note.
  EXPECT_EQ(pkg.update_interval_ns, 1'000'000);
  EXPECT_THAT(pkg.meter.note, HasSubstr("time unit 976.6 µs"));
  auto session = src->Open({"cpu:0/dram"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  EXPECT_EQ((*session)->domains()[0].meter.field, "MSR_DRAM_ENERGY_STATUS 0x619");
  EXPECT_THAT((*session)->domains()[0].meter.note, HasSubstr("time unit 976.6 µs"));
}

TEST(MeterTest, HwmonFilesMapToCounterAverageAndInstantWithTheirIntervals) {
  FakeTree tree;
  // An ACPI power meter with its averaging interval and the chip's update interval (ms).
  tree.Write("sys/class/hwmon/hwmon0/name", "power_meter\n");
  tree.Write("sys/class/hwmon/hwmon0/power1_average", "180500000\n");
  tree.Write("sys/class/hwmon/hwmon0/power1_average_interval", "1000\n");
  tree.Write("sys/class/hwmon/hwmon0/update_interval", "500\n");
  // amd_energy: counters, no intervals.
  tree.Write("sys/class/hwmon/hwmon1/name", "amd_energy\n");
  tree.Write("sys/class/hwmon/hwmon1/energy1_input", "5000000\n");
  tree.Write("sys/class/hwmon/hwmon1/energy1_label", "Esocket0\n");
  // A power reading without an average beside it.
  tree.Write("sys/class/hwmon/hwmon2/name", "amdgpu\n");
  tree.Write("sys/class/hwmon/hwmon2/power1_input", "20000000\n");
  // An average whose interval the driver does not show.
  tree.Write("sys/class/hwmon/hwmon3/name", "nvme\n");
  tree.Write("sys/class/hwmon/hwmon3/power1_average", "3000000\n");
  auto probes = MakeHwmonSource(tree.Options(), testing::KernfsIo())->Probe();
  ASSERT_EQ(probes.size(), 4u);

  const DomainInfo& avg = probes[0].info;
  EXPECT_EQ(avg.name, "hwmon:power_meter/power1");
  EXPECT_EQ(avg.meter.kind, MeterKind::kWindowedPower);
  EXPECT_EQ(avg.meter.field, "power1_average");
  EXPECT_EQ(avg.meter.window_ns, 1'000'000'000);
  EXPECT_EQ(avg.update_interval_ns, 500'000'000);
  EXPECT_THAT(avg.meter.note, HasSubstr("from power1_average_interval"));

  const DomainInfo& counter = probes[1].info;
  EXPECT_EQ(counter.name, "cpu:0/package");
  EXPECT_EQ(counter.meter.kind, MeterKind::kCounter);
  EXPECT_EQ(counter.meter.field, "energy1_input");
  EXPECT_EQ(counter.update_interval_ns, 0) << "unknown stays 0";
  EXPECT_THAT(counter.meter.note, HasSubstr("update period unknown"));

  const DomainInfo& instant = probes[2].info;
  EXPECT_EQ(instant.meter.kind, MeterKind::kInstantPower);
  EXPECT_EQ(instant.meter.field, "power1_input");

  const DomainInfo& no_window = probes[3].info;
  EXPECT_EQ(no_window.meter.kind, MeterKind::kWindowedPower);
  EXPECT_EQ(no_window.meter.window_ns, 0);
  EXPECT_THAT(no_window.meter.note, HasSubstr("unknown (no power1_average_interval)"));
}

TEST(MeterTest, ModelHasNoMeterAndSaysModeled) {
  FakeTree tree;
  auto probes = MakeModelSource(tree.Options(), [] { return int64_t{0}; })->Probe();
  ASSERT_EQ(probes.size(), 1u);
  const DomainInfo& d = probes[0].info;
  EXPECT_EQ(d.meter.kind, MeterKind::kUnknown);
  EXPECT_EQ(d.update_interval_ns, 0);
  EXPECT_THAT(d.meter.note, HasSubstr("modeled"));
}

}  // namespace
}  // namespace smaragdine
