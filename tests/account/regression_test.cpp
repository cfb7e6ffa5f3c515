// Regression attribution (DESIGN §6.7–6.10): the worked example of
// docs/attribution.md, known answers on simulated meters, conservation, the
// error bars, and the fallbacks to the proportional rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "account/attribute_fixture_util.h"
#include "smaragdine/account.h"
#include "smaragdine/simulate.h"

namespace smaragdine {
namespace {

using testing::AttributeFixture;
using testing::SelfJ;
using testing::TotalJ;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kUs = 1'000;

// docs/attribution.md's worked example: one CPU lane, 40 steps of 1 ms, a
// counter read at every millisecond. In step s, MatMul runs for a_s µs from
// the step's start and Add for b_s µs right after it; the rest of the
// millisecond is idle. True power: 5 W static, MatMul +10 W, Add +30 W.
struct WorkedExample {
  static constexpr double kStaticW = 5, kMatMulW = 10, kAddW = 30;
  static constexpr int kSteps = 40;
  AttributeFixture f;
  double matmul_s = 0, add_s = 0, idle_s = 0;

  WorkedExample() {
    const uint32_t lane = f.AddLane("CPU:0");
    std::vector<std::pair<int64_t, double>> points{{0, 0.0}};
    double energy_j = 0;
    for (int s = 0; s < kSteps; ++s) {
      const int64_t t0 = s * kMs;
      const int64_t a = (100 + (s * 53) % 300) * kUs;
      const int64_t b = (100 + (s * 97) % 300) * kUs;
      f.Op(lane, "model/MatMul", t0, t0 + a, Phase::kForward, s);
      f.Op(lane, "model/Add", t0 + a, t0 + a + b, Phase::kForward, s);
      f.trace.steps.push_back({"step " + std::to_string(s), t0, t0 + kMs});
      matmul_s += a * 1e-9;
      add_s += b * 1e-9;
      // The window ends with the last event: the last step's idle tail is outside it.
      if (s + 1 < kSteps) idle_s += (kMs - a - b) * 1e-9;
      energy_j += kStaticW * 1e-3 + kMatMulW * a * 1e-9 + kAddW * b * 1e-9;
      points.push_back({t0 + kMs, energy_j});
    }
    f.Domain("cpu:0/package", "CPU:0", points);
  }
};

TEST(RegressionTest, WorkedExampleRecoversEachOpsOwnPower) {
  WorkedExample w;
  AttributeOptions o;
  o.method = AttributionMethod::kRegression;
  Profile p = w.f.Run(o);
  // Each op: its own power plus the static power while it is the only leaf.
  EXPECT_NEAR(SelfJ(p, "model/MatMul"), (w.kStaticW + w.kMatMulW) * w.matmul_s, 1e-9);
  EXPECT_NEAR(SelfJ(p, "model/Add"), (w.kStaticW + w.kAddW) * w.add_s, 1e-9);
  EXPECT_NEAR(p.domains[0].idle_j, w.kStaticW * w.idle_s, 1e-9);
  EXPECT_EQ(p.meta.method.rfind("regression", 0), 0u) << p.meta.method;
  // The fit is exact, so the error bars are (almost) nothing.
  const int64_t add = p.Find("model/Add");
  ASSERT_GE(add, 0);
  ASSERT_EQ(p.nodes[add].total_ci95_j.size(), 1u);
  EXPECT_LT(p.nodes[add].total_ci95_j[0], 1e-6);
}

TEST(RegressionTest, WorkedExampleProportionalGivesTheIntervalAverage) {
  WorkedExample w;
  AttributeOptions o;
  o.method = AttributionMethod::kProportional;
  Profile p = w.f.Run(o);
  // Every leaf gets its millisecond's average power: Add (the hungriest) too
  // little, idle too much. The numbers docs/attribution.md quotes.
  // Per step: E = 5 mJ + 10 W·a + 30 W·b, MatMul gets E·a/1 ms, Add E·b/1 ms.
  EXPECT_NEAR(TotalJ(p, "model/Add"), 0.159299, 1e-6);     // truth 0.3521 J
  EXPECT_NEAR(TotalJ(p, "model/MatMul"), 0.146101, 1e-6);  // truth 0.1446 J
  EXPECT_NEAR(p.domains[0].idle_j, 0.286794, 1e-6);         // truth 0.0998 J
  EXPECT_TRUE(p.nodes[p.Find("model/Add")].total_ci95_j.empty());
  EXPECT_EQ(p.meta.method.rfind("proportional", 0), 0u);
  EXPECT_TRUE(p.meta.method_reason.empty());
}

TEST(RegressionTest, AutoChoosesTheFitAndSaysWhy) {
  WorkedExample w;
  AttributeOptions o;
  o.method = AttributionMethod::kAuto;
  Profile p = w.f.Run(o);
  EXPECT_EQ(p.meta.method.rfind("regression", 0), 0u);
  EXPECT_NE(p.meta.method_reason.find("auto"), std::string::npos);
  EXPECT_NE(p.meta.meter.find("cpu:0/package"), std::string::npos);
}

// Conservation and non-negativity on every node, for any method.
void ExpectConserved(const Profile& p) {
  for (size_t d = 0; d < p.domains.size(); ++d) {
    double nodes_j = 0;
    for (const ProfileNode& n : p.nodes) {
      EXPECT_GE(n.self_j[d], 0) << n.path;
      nodes_j += n.self_j[d];
    }
    const ProfileDomain& pd = p.domains[d];
    EXPECT_NEAR(nodes_j + pd.idle_j + pd.other_j, pd.measured_j, 1e-9 * pd.measured_j) << pd.name;
  }
}

TEST(RegressionTest, TooFewReadingsFallBackToProportionalWithAReason) {
  AttributeFixture f;
  const uint32_t lane = f.AddLane("CPU:0");
  f.Op(lane, "m/A", 0, 600, Phase::kForward);
  f.Op(lane, "m/B", 600, 1000, Phase::kForward);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0.0}, {500, 5.0}, {1000, 8.0}});
  AttributeOptions proportional;
  proportional.method = AttributionMethod::kProportional;
  const Profile expected = f.Run(proportional);
  for (AttributionMethod m : {AttributionMethod::kAuto, AttributionMethod::kRegression}) {
    AttributeOptions o;
    o.method = m;
    Profile p = f.Run(o);
    EXPECT_EQ(p.meta.method.rfind("proportional", 0), 0u);
    EXPECT_NE(p.meta.method_reason.find("2 equations"), std::string::npos) << p.meta.method_reason;
    EXPECT_EQ(SelfJ(p, "m/A"), SelfJ(expected, "m/A"));
    EXPECT_EQ(SelfJ(p, "m/B"), SelfJ(expected, "m/B"));
    ExpectConserved(p);
  }
  AttributeOptions o;
  o.method = AttributionMethod::kRegression;
  EXPECT_EQ(f.Run(o).diagnostics.counts().count("account.regression_fallback"), 1u);
}

TEST(RegressionTest, MeterWithOneReadingIsLeftOutNotFitted) {
  AttributeFixture f;
  const uint32_t lane = f.AddLane("CPU:0");
  f.Op(lane, "m/A", 0, 1000, Phase::kForward);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0.0}, {1000, 2.0}});
  f.Domain("cpu:0/dram", "CPU:0", {{500, 0.0}});
  AttributeOptions o;
  o.method = AttributionMethod::kRegression;
  Profile p = f.Run(o);
  EXPECT_EQ(SelfJ(p, "m/A"), 2.0);
  ExpectConserved(p);
}

TEST(RegressionTest, ReadingsThatNeverVaryFallBack) {
  // A counter rising by the same joules each interval while the ops change:
  // the classes cannot be told apart from static power, and nothing is fitted.
  AttributeFixture f;
  const uint32_t lane = f.AddLane("CPU:0");
  std::vector<std::pair<int64_t, double>> points;
  for (int i = 0; i <= 60; ++i) {
    points.push_back({i * kMs, i * 0.01});
    if (i < 60) f.Op(lane, i % 2 ? "m/A" : "m/B", i * kMs + 100 * kUs, i * kMs + 900 * kUs);
  }
  f.Domain("cpu:0/package", "CPU:0", points);
  AttributeOptions o;
  o.method = AttributionMethod::kAuto;
  Profile p = f.Run(o);
  ExpectConserved(p);
  for (const ProfileNode& n : p.nodes) EXPECT_TRUE(std::isfinite(n.TotalJ()));
  EXPECT_EQ(p.meta.method.rfind("proportional", 0), 0u);
  EXPECT_NE(p.meta.method_reason.find("never vary"), std::string::npos) << p.meta.method_reason;
  // The window runs from the first op's start to the last one's end at 10 W.
  EXPECT_NEAR(p.domains[0].measured_j, 0.598, 1e-9);
}

// Known answers on a simulated coarse counter (DESIGN §9's accuracy scenario).
struct Errors {
  std::vector<double> module, op;
  int64_t covered = 0, with_ci = 0;
  std::vector<double> ci_width;
  static double Median(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
};

Errors Measure(const SimScenario& sc, AttributionMethod method, Profile* out = nullptr) {
  Errors e;
  SimResult sim = Simulate(sc);
  auto trace = ParseTrace(sim.trace_name, sim.trace_text, TraceReadOptions{});
  EXPECT_TRUE(trace.ok());
  auto log = SimulatedEnergyLog(sim);
  EXPECT_TRUE(log.ok());
  if (!trace.ok() || !log.ok()) return e;
  EXPECT_TRUE(AlignTrace(*trace, *log, AlignOptions{}).ok());
  AttributeOptions o;
  o.method = method;
  auto p = Attribute(*trace, *log, o);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().ToString());
  if (!p.ok()) return e;
  ExpectConserved(*p);
  const double measured = sim.truth.measured_j[0];
  for (const ProfileNode& n : p->nodes) {
    if (n.path.empty()) continue;
    auto it = sim.truth.nodes.find(n.path);
    if (it != sim.truth.nodes.end() && !it->second.scope) {
      const double phys = it->second.physical_j[0];
      if (phys >= 0.01 * measured) e.op.push_back(std::fabs(n.self_j[0] - phys) / phys);
    } else {
      const double phys = sim.truth.TotalPhysicalJ(n.path, 0);
      if (phys <= 0) continue;
      e.module.push_back(std::fabs(n.total_j[0] - phys) / phys);
      if (!n.total_ci95_j.empty()) {
        ++e.with_ci;
        e.covered += std::fabs(n.total_j[0] - phys) <= n.total_ci95_j[0];
        e.ci_width.push_back(n.total_ci95_j[0] / phys);
      }
    }
  }
  if (out) *out = std::move(*p);
  return e;
}

TEST(RegressionTest, CoarseCounterModulesWithinTwoPercentWhereProportionalIsNot) {
  SimScenario sc = *ScenarioPreset("accuracy");
  sc.steps = 200;
  sc.seed = 3;
  const Errors reg = Measure(sc, AttributionMethod::kRegression);
  const Errors prop = Measure(sc, AttributionMethod::kProportional);
  ASSERT_FALSE(reg.module.empty());
  EXPECT_LE(Errors::Median(reg.module), 0.02);
  EXPECT_LT(Errors::Median(reg.module), Errors::Median(prop.module));
  EXPECT_LT(Errors::Median(reg.op), Errors::Median(prop.op));
  EXPECT_GT(reg.with_ci, 0);
  EXPECT_EQ(prop.with_ci, 0);
}

// Property: whatever the meter and the program, the fit never breaks
// conservation or gives a node negative or non-finite energy.
TEST(RegressionTest, PropertyConservesOnRandomMetersAndPrograms) {
  const char* presets[] = {"accuracy", "concurrent", "nested", "bert-rapl", "bert-rapl-tf1",
                           "bert-rapl-concurrent"};
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SimScenario sc = *ScenarioPreset(presets[seed % 6]);
    sc.seed = seed;
    sc.steps = std::min(sc.steps, 12);
    sc.update_period_ns = int64_t{250'000} << (seed % 4);  // 0.25–2 ms
    sc.sample_period_ns = sc.update_period_ns * (1 + seed % 3) / 2;
    sc.jitter = 0.1 * static_cast<double>(seed % 5) / 4;
    SCOPED_TRACE(::testing::Message() << presets[seed % 6] << " seed " << seed);
    Profile p;
    Measure(sc, AttributionMethod::kRegression, &p);
    for (const ProfileNode& n : p.nodes)
      for (size_t d = 0; d < n.total_j.size(); ++d) {
        ASSERT_TRUE(std::isfinite(n.total_j[d])) << n.path;
        if (!n.total_ci95_j.empty()) ASSERT_GE(n.total_ci95_j[d], 0) << n.path;
      }
  }
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

double WithinShare(const std::vector<double>& v, double bar) {
  return v.empty() ? NAN
                   : static_cast<double>(std::count_if(v.begin(), v.end(),
                                                       [&](double e) { return e <= bar; })) /
                         static_cast<double>(v.size());
}

// DESIGN §9's accuracy bar on the BERT-like training run (4 layers, forward,
// backward and optimizer, 40 steps, ops of 20–500 µs) under a RAPL-like
// counter: 1 ms updates at a random phase, read at 1 kHz with 5 % jitter,
// 15.3 µJ unit.
class BertRaplTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BertRaplTest, MeetsTheAccuracyBar) {
  SimScenario sc = *ScenarioPreset(GetParam());
  sc.seed = 7;
  Profile p;
  const Errors reg = Measure(sc, AttributionMethod::kAuto, &p);
  EXPECT_EQ(p.meta.method.rfind("regression", 0), 0u) << p.meta.method_reason;
  ASSERT_GT(reg.module.size(), 20u);
  EXPECT_LE(Quantile(reg.module, 0.5), 0.02);
  EXPECT_LE(Quantile(reg.module, 0.95), 0.05);
  EXPECT_GE(WithinShare(reg.op, 0.05), 0.90);
  ASSERT_GT(reg.with_ci, 0);
  EXPECT_LE(Errors::Median(reg.ci_width), 0.05);
  const Errors prop = Measure(sc, AttributionMethod::kProportional);
  EXPECT_LT(Quantile(reg.module, 0.5), Quantile(prop.module, 0.5));
}

TEST_P(BertRaplTest, ErrorBarsCoverTheTruth) {
  SimScenario sc = *ScenarioPreset(GetParam());
  sc.seed = 7;
  const Errors reg = Measure(sc, AttributionMethod::kAuto);
  ASSERT_GT(reg.with_ci, 0);
  const double covered = static_cast<double>(reg.covered) / static_cast<double>(reg.with_ci);
  EXPECT_GE(covered, 0.80);
}

INSTANTIATE_TEST_SUITE_P(Presets, BertRaplTest,
                         ::testing::Values("bert-rapl", "bert-rapl-tf1", "bert-rapl-concurrent"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace smaragdine
