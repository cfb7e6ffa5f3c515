// Devices as domains and lanes name them (device.h), and the lane-metering
// rule that reads them: a CPU domain meters every CPU lane, a GPU domain the
// lanes of its own GPU.
#include <gtest/gtest.h>

#include "smaragdine/device.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

TEST(DeviceTest, KindAndIndexAreReadFromTheName) {
  EXPECT_EQ(ParseDevice("CPU:0").kind, DeviceKind::kCpu);
  EXPECT_EQ(ParseDevice("CPU:0").index, 0);
  EXPECT_EQ(ParseDevice("GPU:3").kind, DeviceKind::kGpu);
  EXPECT_EQ(ParseDevice("GPU:3").index, 3);
  // NVML's probe before it knows the GPU, and a bare kind: no index.
  EXPECT_EQ(ParseDevice("GPU:*").kind, DeviceKind::kGpu);
  EXPECT_EQ(ParseDevice("GPU:*").index, -1);
  EXPECT_EQ(ParseDevice("CPU").index, -1);
  EXPECT_EQ(ParseDevice("GPU:1x").index, -1);
  EXPECT_EQ(ParseDevice("GPU:-2").index, -1);
  EXPECT_EQ(ParseDevice("TPU:0").kind, DeviceKind::kOther);
  EXPECT_EQ(ParseDevice("").kind, DeviceKind::kOther);
  EXPECT_EQ(ParseDevice("gpu:0").kind, DeviceKind::kOther);  // domain names are not devices
  EXPECT_TRUE(IsCpuDevice("CPU:1"));
  EXPECT_FALSE(IsCpuDevice("GPU:1"));
  EXPECT_EQ(DeviceName(DeviceKind::kGpu, 7), "GPU:7");
  EXPECT_EQ(DeviceName(DeviceKind::kOther, 7), "");
}

TEST(DeviceTest, ACpuDomainMetersEveryCpuLaneAndAGpuDomainItsOwnGpu) {
  const Lane cpu0{"CPU:0", "thread 1"}, cpu1{"CPU:1", "thread 2"}, gpu0{"GPU:0", "stream 7"},
      gpu1{"GPU:1", "stream 7"};
  EXPECT_TRUE(DomainMetersLane("CPU:0", cpu0));
  EXPECT_TRUE(DomainMetersLane("CPU:0", cpu1));  // traces do not say which socket ran a thread
  EXPECT_FALSE(DomainMetersLane("CPU:0", gpu0));
  EXPECT_TRUE(DomainMetersLane("GPU:1", gpu1));
  EXPECT_FALSE(DomainMetersLane("GPU:1", gpu0));
  EXPECT_FALSE(DomainMetersLane("GPU:1", cpu0));
}

}  // namespace
}  // namespace smaragdine
