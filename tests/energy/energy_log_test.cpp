// The small pieces of energy_log.h: names, device guesses, EnergyAt.
#include <gtest/gtest.h>

#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

TEST(EnergyLogTest, QuantityAndClockNames) {
  EXPECT_STREQ(ToString(Quantity::kEnergy), "energy");
  EXPECT_STREQ(ToString(Quantity::kPower), "power");
  EXPECT_STREQ(ToString(Clock::kMonotonic), "CLOCK_MONOTONIC");
  EXPECT_STREQ(ToString(Clock::kRealtime), "CLOCK_REALTIME");
}

TEST(EnergyLogTest, GuessesDevicesFromDomainNames) {
  EXPECT_EQ(GuessDevice("cpu:0/package"), "CPU:0");
  EXPECT_EQ(GuessDevice("cpu:1/dram"), "CPU:1");
  EXPECT_EQ(GuessDevice("cpu:0"), "CPU:0");
  EXPECT_EQ(GuessDevice("gpu:0"), "GPU:0");
  EXPECT_EQ(GuessDevice("gpu:12/board"), "GPU:12");
  EXPECT_EQ(GuessDevice("GPU:2"), "GPU:2");
  EXPECT_EQ(GuessDevice("gpu:03"), "GPU:3");
  for (const char* unknown : {"wall", "", "cpu:", "cpu:x", "gpu:1abc", "cpu:0x1", "npu:0",
                              "cpu", "gpu:99999999999999999999", "xcpu:0"}) {
    EXPECT_EQ(GuessDevice(unknown), "") << unknown;
  }
}

TEST(EnergyLogTest, EnergyAtInterpolatesInsideAndClampsOutside) {
  EnergySeries s{{1000, 2000, 4000}, {0.0, 1.0, 5.0}};
  EXPECT_EQ(s.EnergyAt(0), 0.0);
  EXPECT_EQ(s.EnergyAt(1000), 0.0);
  EXPECT_DOUBLE_EQ(s.EnergyAt(1500), 0.5);
  EXPECT_EQ(s.EnergyAt(2000), 1.0);
  EXPECT_DOUBLE_EQ(s.EnergyAt(3000), 3.0);
  EXPECT_EQ(s.EnergyAt(4000), 5.0);
  EXPECT_EQ(s.EnergyAt(99999), 5.0);
  EXPECT_EQ(EnergySeries{}.EnergyAt(5), 0.0);
}

TEST(EnergyLogTest, EnergyAtKeepsPrecisionAtEpochTimes) {
  // Epoch nanoseconds do not fit a double exactly; the offset inside the interval does.
  const int64_t t0 = 1'700'000'000'123'456'789;
  EnergySeries s{{t0, t0 + 3}, {0.0, 3.0}};
  EXPECT_DOUBLE_EQ(s.EnergyAt(t0 + 1), 1.0);
  EXPECT_DOUBLE_EQ(s.EnergyAt(t0 + 2), 2.0);
}

}  // namespace
}  // namespace smaragdine
