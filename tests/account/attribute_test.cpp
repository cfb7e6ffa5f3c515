// Attribution on hand-built traces and energy series whose answers can be
// worked out on paper.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "account/attribute_fixture_util.h"
#include "smaragdine/account.h"

namespace smaragdine {
namespace {

using Fixture = testing::AttributeFixture;
using testing::SelfJ;
using testing::TotalJ;

TEST(AttributionTest, SplitsSliceEquallyAmongConcurrentOps) {
  Fixture f;
  uint32_t a = f.AddLane("CPU:0"), b = f.AddLane("CPU:0");
  f.Op(a, "m/A", 0, 100);
  f.Op(b, "m/B", 50, 150);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {200, 200}});  // 1 J per ns
  Profile p = f.Run();
  // Window [0, 150): A alone 50, shared 50 (half each), B alone 50.
  EXPECT_DOUBLE_EQ(SelfJ(p, "m/A"), 75);
  EXPECT_DOUBLE_EQ(SelfJ(p, "m/B"), 75);
  EXPECT_DOUBLE_EQ(TotalJ(p, "m"), 150);
  EXPECT_DOUBLE_EQ(p.domains[0].measured_j, 150);
  EXPECT_DOUBLE_EQ(p.domains[0].idle_j, 0);
  EXPECT_EQ(p.meta.window_start_ns, 0);
  EXPECT_EQ(p.meta.window_end_ns, 150);
}

TEST(AttributionTest, NestedEventGetsItsSpanAndParentKeepsTheRest) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  f.trace.events.push_back({0, 100, f.trace.nodes.InternPath("enc", NodeKind::kScope), l, -1,
                            Phase::kForward});
  f.Op(l, "enc/linear", 20, 60);
  f.Op(l, "enc/linear/addmm", 30, 50);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {100, 1000}});
  Profile p = f.Run();
  EXPECT_DOUBLE_EQ(SelfJ(p, "enc"), 600);
  EXPECT_DOUBLE_EQ(SelfJ(p, "enc/linear"), 200);
  EXPECT_DOUBLE_EQ(SelfJ(p, "enc/linear/addmm"), 200);
  EXPECT_DOUBLE_EQ(TotalJ(p, "enc/linear"), 400);
  EXPECT_DOUBLE_EQ(TotalJ(p, "enc"), 1000);
  EXPECT_EQ(p.nodes[p.Find("enc")].time_ns, 100);
  EXPECT_EQ(p.nodes[p.Find("enc/linear")].calls, 1);
}

TEST(AttributionTest, TimeIsTheBusyTimeOfTheSubtreeOverLanes) {
  Fixture f;
  uint32_t cpu = f.AddLane("CPU:0"), gpu = f.AddLane("GPU:0");
  // TF-style: a name scope whose ops run one after another, with a gap.
  f.Op(cpu, "scope/a", 0, 10);
  f.Op(cpu, "scope/b", 20, 30);
  // PyTorch-style: an op with a nested op, and a kernel it launched on the GPU.
  f.Op(cpu, "linear", 40, 60);
  f.Op(cpu, "linear/addmm", 45, 55);
  f.Op(gpu, "linear/addmm/gemm", 50, 80);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {100, 100}});
  Profile p = f.Run();
  EXPECT_EQ(p.nodes[p.Find("scope")].time_ns, 20);
  EXPECT_EQ(p.nodes[p.Find("linear/addmm")].time_ns, 10 + 30);
  EXPECT_EQ(p.nodes[p.Find("linear")].time_ns, 20 + 30);
  EXPECT_EQ(p.nodes[0].time_ns, 40 + 30);
  EXPECT_EQ(p.nodes[p.Find("linear")].phases[static_cast<int>(Phase::kForward)].time_ns, 50);
}

TEST(AttributionTest, GapsBetweenOpsGoToIdle) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  f.Op(l, "a", 0, 10);
  f.Op(l, "b", 20, 30);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {30, 3}});
  Profile p = f.Run();
  EXPECT_DOUBLE_EQ(SelfJ(p, "a"), 1);
  EXPECT_DOUBLE_EQ(SelfJ(p, "b"), 1);
  EXPECT_DOUBLE_EQ(p.domains[0].idle_j, 1);
}

TEST(AttributionTest, PowerIsConstantOnlyBetweenReadings) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  f.Op(l, "x", 5, 15);
  f.Op(l, "y", 0, 5);
  f.Op(l, "z", 15, 20);
  // 1 J/ns in [0,10), 2 J/ns in [10,20).
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {10, 10}, {20, 30}});
  Profile p = f.Run();
  EXPECT_DOUBLE_EQ(SelfJ(p, "x"), 5 + 10);
  EXPECT_DOUBLE_EQ(SelfJ(p, "y"), 5);
  EXPECT_DOUBLE_EQ(SelfJ(p, "z"), 10);
}

TEST(AttributionTest, GpuDomainGoesOnlyToItsOwnGpuLanes) {
  Fixture f;
  uint32_t cpu = f.AddLane("CPU:0"), gpu0 = f.AddLane("GPU:0"), gpu1 = f.AddLane("GPU:1");
  f.Op(cpu, "m/launch", 0, 100);
  f.Op(gpu0, "m/launch/gemm", 0, 50);
  f.Op(gpu1, "m/launch/other", 0, 100);
  f.Domain("gpu:0", "GPU:0", {{0, 0}, {100, 100}});
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {100, 10}});
  Profile p = f.Run();
  EXPECT_DOUBLE_EQ(SelfJ(p, "m/launch/gemm", 0), 50);
  EXPECT_DOUBLE_EQ(SelfJ(p, "m/launch/other", 0), 0);
  EXPECT_DOUBLE_EQ(p.domains[0].idle_j, 50);
  EXPECT_DOUBLE_EQ(SelfJ(p, "m/launch", 1), 10);
  EXPECT_DOUBLE_EQ(SelfJ(p, "m/launch/gemm", 1), 0);
}

TEST(AttributionTest, DomainWithoutLanesIsReportedAsIdleWithAWarning) {
  Fixture f;
  uint32_t cpu = f.AddLane("CPU:0");
  f.Op(cpu, "a", 0, 100);
  f.Domain("gpu:3", "GPU:3", {{0, 0}, {100, 7}});
  Profile p = f.Run();
  ASSERT_EQ(p.domains.size(), 1u);
  EXPECT_DOUBLE_EQ(p.domains[0].measured_j, 7);
  EXPECT_DOUBLE_EQ(p.domains[0].idle_j, 7);
  bool warned = false;
  for (const auto& w : p.diagnostics.warnings()) warned |= w.find("gpu:3") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(AttributionTest, PartialOverlapIsClippedToTheParentAndCounted) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  f.Op(l, "p", 0, 50);
  f.Op(l, "q", 40, 100);  // starts inside p but ends after it: clipped to [40, 50)
  f.Op(l, "r", 60, 100);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {100, 100}});
  Profile p = f.Run();
  EXPECT_EQ(p.diagnostics.Count("account.partial_overlap_clipped"), 1);
  EXPECT_DOUBLE_EQ(SelfJ(p, "p"), 40);
  EXPECT_DOUBLE_EQ(SelfJ(p, "q"), 10);
  EXPECT_DOUBLE_EQ(SelfJ(p, "r"), 40);
  EXPECT_DOUBLE_EQ(p.domains[0].idle_j, 10);
}

TEST(AttributionTest, StepStatisticsUseStudentT) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  // Three steps of 10 ns; op energies 1, 2, 3 J at 1, 2, 3 J/10ns... use power per step.
  for (int s = 0; s < 3; ++s) {
    f.trace.steps.push_back({"step " + std::to_string(s), s * 10, s * 10 + 10});
    f.Op(l, "layer/op", s * 10, s * 10 + 10, Phase::kForward, s);
  }
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {10, 1}, {20, 3}, {30, 6}});
  Profile p = f.Run();
  const StepStats& st = p.nodes[p.Find("layer")].steps;
  EXPECT_EQ(st.n, 3);
  EXPECT_DOUBLE_EQ(st.mean_j, 2);
  EXPECT_NEAR(st.std_j, 1, 1e-12);
  EXPECT_NEAR(st.ci95_j, 4.303 / std::sqrt(3.0), 1e-9);
  EXPECT_EQ(p.meta.steps, 3);
}

TEST(AttributionTest, PhasesAreKeptApartAndRolledUp) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  f.Op(l, "m/dense/MatMul", 0, 10, Phase::kForward);
  f.Op(l, "m/dense/MatMul", 10, 30, Phase::kBackward);
  f.Op(l, "opt/update", 30, 40, Phase::kOptimizer);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {40, 40}});
  Profile p = f.Run();
  const ProfileNode& m = p.nodes[p.Find("m")];
  EXPECT_DOUBLE_EQ(m.phases[static_cast<int>(Phase::kForward)].total_j[0], 10);
  EXPECT_DOUBLE_EQ(m.phases[static_cast<int>(Phase::kBackward)].total_j[0], 20);
  EXPECT_DOUBLE_EQ(m.phases[static_cast<int>(Phase::kOptimizer)].total_j[0], 0);
  const ProfileNode& root = p.nodes[0];
  EXPECT_DOUBLE_EQ(root.phases[static_cast<int>(Phase::kOptimizer)].total_j[0], 10);
  EXPECT_EQ(p.nodes[p.Find("m/dense/MatMul")].calls, 2);
  EXPECT_EQ(p.nodes[p.Find("m/dense/MatMul")].phases[1].calls, 1);
}

TEST(AttributionTest, BaselineSplitsStaticFromDynamic) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  f.Op(l, "a", 0, 10);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {20, 60}});  // 3 J/ns
  AttributeOptions o;
  o.baseline_w["cpu:0/package"] = 1e9;  // 1 J/ns
  Profile p = f.Run(o);
  EXPECT_DOUBLE_EQ(SelfJ(p, "a"), 30);
  EXPECT_DOUBLE_EQ(p.nodes[p.Find("a")].total_static_j[0], 10);
  EXPECT_DOUBLE_EQ(p.domains[0].static_j, 10);  // window is the trace's [0,10)
  EXPECT_DOUBLE_EQ(p.domains[0].baseline_w, 1e9);
}

TEST(AttributionTest, WindowIsTheOverlapOfTraceAndEnergy) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  f.Op(l, "early", 0, 100);
  f.Op(l, "late", 100, 200);
  f.Domain("cpu:0/package", "CPU:0", {{50, 0}, {150, 100}});
  Profile p = f.Run();
  EXPECT_DOUBLE_EQ(SelfJ(p, "early"), 50);
  EXPECT_DOUBLE_EQ(SelfJ(p, "late"), 50);
  EXPECT_EQ(p.nodes[p.Find("early")].time_ns, 50);
  EXPECT_FALSE(p.diagnostics.warnings().empty());
}

TEST(AttributionTest, NoOverlapIsAnErrorNotAZero) {
  Fixture f;
  uint32_t l = f.AddLane("CPU:0");
  f.Op(l, "a", 0, 100);
  f.Domain("cpu:0/package", "CPU:0", {{200, 0}, {300, 100}});
  auto p = Attribute(f.trace, f.log, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kNothingMeasurable);
}

// Conservation and non-negativity on many random traces with nesting,
// concurrency, partial overlaps, gaps and uneven readings.
TEST(AttributionPropertyTest, ConservesEnergyOnRandomInputs) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 3000; ++round) {
    Fixture f;
    std::uniform_int_distribution<int> lanes_d(1, 4), events_d(0, 30), len_d(0, 50);
    int lanes = lanes_d(rng);
    for (int i = 0; i < lanes; ++i) f.AddLane(i == 3 ? "GPU:0" : "CPU:0");
    int n = events_d(rng) + 1;
    for (int i = 0; i < n; ++i) {
      int lane = static_cast<int>(rng() % lanes);
      int64_t start = static_cast<int64_t>(rng() % 400);
      int64_t end = start + len_d(rng);
      f.Op(lane, "s" + std::to_string(rng() % 3) + "/op" + std::to_string(rng() % 5), start, end,
           static_cast<Phase>(rng() % 4), static_cast<int32_t>(rng() % 3) - 1);
    }
    for (int s = 0; s < 2; ++s) f.trace.steps.push_back({"s", s * 200, s * 200 + 200});
    for (const char* dev : {"CPU:0", "GPU:0"}) {
      std::vector<std::pair<int64_t, double>> pts;
      int64_t t = static_cast<int64_t>(rng() % 100) - 50;
      double e = 0;
      while (t < 500) {
        pts.push_back({t, e});
        t += 1 + static_cast<int64_t>(rng() % 60);
        e += (rng() % 4 == 0) ? 0.0 : std::uniform_real_distribution<double>(0, 5)(rng);
      }
      f.Domain(std::string(dev) == "CPU:0" ? "cpu:0/package" : "gpu:0", dev, pts);
    }
    AttributeOptions o;
    if (round % 2) o.baseline_w["cpu:0/package"] = 5e7;
    auto p = Attribute(f.trace, f.log, o);
    if (!p.ok()) {
      // Only "nothing measurable" is a legitimate outcome (events all zero-length, say).
      ASSERT_EQ(p.error().code, ErrorCode::kNothingMeasurable) << p.error().ToString();
      continue;
    }
    for (size_t d = 0; d < p->domains.size(); ++d) {
      double sum = p->domains[d].idle_j;
      for (const auto& node : p->nodes) {
        ASSERT_GE(node.self_j[d], 0);
        ASSERT_GE(node.total_j[d], node.self_j[d] - 1e-12);
        sum += node.self_j[d];
      }
      ASSERT_NEAR(sum, p->domains[d].measured_j, 1e-9 * std::max(1.0, p->domains[d].measured_j));
      ASSERT_NEAR(p->nodes[0].total_j[d] + p->domains[d].idle_j, p->domains[d].measured_j,
                  1e-9 * std::max(1.0, p->domains[d].measured_j));
    }
  }
}

}  // namespace
}  // namespace smaragdine
