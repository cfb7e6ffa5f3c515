// Tests of the hwmon source against fake /sys/class/hwmon trees.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/sources/hwmon.h"
#include "sources/fake_tree_util.h"

namespace smaragdine {
namespace {

using testing::FakeTree;

// Two AMD GPUs, the amd_energy driver and an ACPI power meter, as Linux shows them.
void AddHwmonTree(FakeTree& tree) {
  tree.Write("sys/class/hwmon/hwmon0/name", "amdgpu\n");
  tree.Write("sys/class/hwmon/hwmon0/power1_average", "35000000\n");  // µW
  tree.Write("sys/class/hwmon/hwmon0/power1_input", "36000000\n");
  tree.Write("sys/class/hwmon/hwmon0/power1_label", "PPT\n");
  tree.Write("sys/class/hwmon/hwmon0/temp1_input", "45000\n");
  tree.Write("sys/class/hwmon/hwmon1/name", "amd_energy\n");
  tree.Write("sys/class/hwmon/hwmon1/energy1_input", "1000000\n");  // µJ
  tree.Write("sys/class/hwmon/hwmon1/energy1_label", "Ecore000\n");
  tree.Write("sys/class/hwmon/hwmon1/energy2_input", "5000000\n");
  tree.Write("sys/class/hwmon/hwmon1/energy2_label", "Esocket0\n");
  tree.Write("sys/class/hwmon/hwmon2/name", "power_meter\n");
  tree.Write("sys/class/hwmon/hwmon2/power1_average", "180500000\n");
  tree.Write("sys/class/hwmon/hwmon10/name", "amdgpu\n");
  tree.Write("sys/class/hwmon/hwmon10/power1_input", "20000000\n");
}

TEST(HwmonTest, MapsChipsToDomainsByDocumentedRule) {
  FakeTree tree;
  AddHwmonTree(tree);
  auto src = MakeHwmonSource(tree.Options(), testing::KernfsIo());
  EXPECT_EQ(src->Name(), "hwmon");
  EXPECT_EQ(src->Rate(), RateClass::kSlow);
  EXPECT_EQ(src->Preference(), 40);
  auto probes = src->Probe();
  ASSERT_EQ(probes.size(), 5u);
  EXPECT_EQ(probes[0].info.name, "gpu:0");
  EXPECT_EQ(probes[0].info.device, "GPU:0");
  EXPECT_EQ(probes[0].info.quantity, Quantity::kPower);
  // power1_average is preferred over power1_input.
  EXPECT_EQ(probes[0].location, tree.Path("sys/class/hwmon/hwmon0/power1_average"));
  EXPECT_EQ(probes[1].info.name, "hwmon:amd_energy/Ecore000");
  EXPECT_EQ(probes[1].info.device, "");
  EXPECT_EQ(probes[2].info.name, "cpu:0/package");
  EXPECT_EQ(probes[2].info.device, "CPU:0");
  EXPECT_EQ(probes[2].info.quantity, Quantity::kEnergy);
  EXPECT_EQ(probes[3].info.name, "hwmon:power_meter/power1");
  // hwmon10 sorts after hwmon2 and is the second amdgpu chip.
  EXPECT_EQ(probes[4].info.name, "gpu:1");
  EXPECT_EQ(probes[4].info.device, "GPU:1");
  for (const DomainProbe& p : probes) EXPECT_TRUE(p.readable) << p.reason;
}

TEST(HwmonTest, SessionReadsEnergyInJoulesAndPowerInWatts) {
  FakeTree tree;
  AddHwmonTree(tree);
  auto session = MakeHwmonSource(tree.Options(), testing::KernfsIo())
                     ->Open({"cpu:0/package", "gpu:0", "hwmon:power_meter/power1"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  tree.Write("sys/class/hwmon/hwmon1/energy2_input", "7500000\n");
  tree.Write("sys/class/hwmon/hwmon0/power1_average", "41250000\n");
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  EXPECT_DOUBLE_EQ(values[0], 2.5);
  EXPECT_DOUBLE_EQ(values[1], 41.25);
  EXPECT_DOUBLE_EQ(values[2], 180.5);
  EXPECT_TRUE(diag.empty());
}

TEST(HwmonTest, EnergyThatDecreasesIsNaNWithDiagnostic) {
  FakeTree tree;
  AddHwmonTree(tree);
  auto session = MakeHwmonSource(tree.Options(), testing::KernfsIo())->Open({"cpu:0/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  tree.Write("sys/class/hwmon/hwmon1/energy2_input", "100\n");  // wrapped at an unknown range
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  EXPECT_TRUE(std::isnan(values[0]));
  EXPECT_EQ(diag.Count("sources.counter_decreased"), 1);
  tree.Write("sys/class/hwmon/hwmon1/energy2_input", "1000100\n");  // goes on from there
  (*session)->Read(values, diag);
  EXPECT_DOUBLE_EQ(values[0], 1.0);
}

TEST(HwmonTest, VanishedSensorStopsThatDomainOnly) {
  FakeTree tree;
  AddHwmonTree(tree);
  auto session =
      MakeHwmonSource(tree.Options(), testing::KernfsIo())->Open({"gpu:1", "cpu:0/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  tree.Remove("sys/class/hwmon/hwmon10/power1_input");  // the GPU was unbound
  std::vector<double> values;
  Diagnostics diag;
  (*session)->Read(values, diag);
  EXPECT_TRUE(std::isnan(values[0]));
  EXPECT_DOUBLE_EQ(values[1], 0.0);
  EXPECT_EQ(diag.Count("sources.read_failed"), 1);
}

TEST(HwmonTest, UnreadableSensorSaysChmod) {
  FakeTree tree;
  AddHwmonTree(tree);
  const std::string path = tree.Path("sys/class/hwmon/hwmon2/power1_average");
  testing::DeniedPaths() = {path};
  auto probes = MakeHwmonSource(tree.Options(), testing::KernfsIo())->Probe();
  testing::DeniedPaths().clear();
  ASSERT_EQ(probes.size(), 5u);
  EXPECT_FALSE(probes[3].readable);
  EXPECT_EQ(probes[3].reason, "permission denied (Permission denied (EACCES))");
  EXPECT_EQ(probes[3].fix, "run as root, or: sudo chmod a+r " + path);
}

}  // namespace
}  // namespace smaragdine
