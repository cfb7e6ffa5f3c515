// The simulator on its own: its truth and readings must be right before they
// can judge the accounting.
#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "sim/model.h"
#include "smaragdine/simulate.h"

namespace smaragdine {
namespace {

double SumSelf(const SimTruth& t, size_t d) {
  double s = 0;
  for (const auto& [path, n] : t.nodes) s += n.self_j[d];
  return s;
}

TEST(SimulatorTest, TruthConservesEnergyOnEveryPreset) {
  for (const std::string& name : ScenarioPresetNames()) {
    SimScenario sc = *ScenarioPreset(name);
    sc.steps = std::min(sc.steps, 40);  // the long NVML presets: the length changes nothing here
    SimResult sim = Simulate(sc);
    for (size_t d = 0; d < sim.truth.domains.size(); ++d) {
      EXPECT_NEAR(SumSelf(sim.truth, d) + sim.truth.idle_j[d], sim.truth.measured_j[d],
                  1e-9 * sim.truth.measured_j[d])
          << name << " " << sim.truth.domains[d];
      EXPECT_GT(sim.truth.measured_j[d], 0) << name;
    }
  }
}

TEST(SimulatorTest, SequentialOpEnergyIsIdlePlusDynamicPowerTimesDuration) {
  // One lane, no scopes: each op's §6 share is the whole device power while it runs.
  SimScenario sc = *ScenarioPreset("sequential");
  sc.threads = 1;
  sc.nesting = 0;
  SimResult sim = Simulate(sc);
  for (const auto& [path, n] : sim.truth.nodes) {
    EXPECT_FALSE(n.scope);
    EXPECT_NEAR(n.self_j[0], n.physical_j[0], 1e-12 * sim.truth.measured_j[0]) << path;
    EXPECT_GE(n.self_j[0], sc.cpu_idle_w * n.time_ns * 1e-9 * (1 - 1e-12)) << path;
  }
}

TEST(SimulatorTest, SameOpNameDrawsSamePowerEverywhere) {
  SimScenario sc = *ScenarioPreset("sequential");
  sc.threads = 1;
  sc.nesting = 3;
  sc.dialect = "tf1";  // no scope events: every node is an op
  SimResult sim = Simulate(sc);
  // Power while an op runs = energy / time; ops of one name have one power.
  std::map<std::string, double> power_of_name;
  for (const auto& [path, n] : sim.truth.nodes) {
    std::string name = path.substr(path.rfind('/') + 1);
    double p = n.self_j[0] / (n.time_ns * 1e-9);
    auto [it, fresh] = power_of_name.emplace(name, p);
    if (!fresh) EXPECT_NEAR(it->second, p, 1e-9 * p) << path;
    EXPECT_GE(p, sc.cpu_idle_w + sc.dyn_min_w - 1e-9);
    EXPECT_LE(p, sc.cpu_idle_w + sc.dyn_max_w + 1e-9);
  }
  EXPECT_GT(power_of_name.size(), 1u);
}

TEST(SimulatorTest, ReadingsAreQuantisedCumulativeAndCoverTheWindow) {
  SimScenario sc = *ScenarioPreset("quantised");
  SimResult sim = Simulate(sc);
  const double unit = sc.counter_unit_j;
  std::vector<double> last(sim.meta.domains.size(), -1);
  std::vector<int64_t> last_t(sim.meta.domains.size(), INT64_MIN);
  for (const RawReading& r : sim.readings) {
    double k = r.value / unit;
    EXPECT_NEAR(k, std::round(k), 1e-6) << r.t_ns;
    EXPECT_GE(r.value, last[r.domain]);
    EXPECT_GT(r.t_ns, last_t[r.domain]);
    last[r.domain] = r.value;
    last_t[r.domain] = r.t_ns;
  }
  EXPECT_EQ(sim.readings.front().value, 0.0);
  EXPECT_LT(sim.readings.front().t_ns, sim.truth.window_start_ns);
  EXPECT_GT(sim.readings.back().t_ns, sim.truth.window_end_ns);
  // The counter's last value is all the energy of the recording, window and margins.
  EXPECT_GT(last[0], sim.truth.measured_j[0]);
}

TEST(SimulatorTest, ReadingsChangeOnlyEveryUpdatePeriod) {
  SimScenario sc = *ScenarioPreset("sequential");
  sc.sample_period_ns = 100'000;
  sc.update_period_ns = 1'000'000;
  sc.quantum_ns = 1000;
  SimResult sim = Simulate(sc);
  // 10 samples per update: at most one change in every 10 consecutive readings.
  int changes = 0, readings = 0;
  double prev = 0;
  for (const RawReading& r : sim.readings) {
    if (r.value != prev) ++changes;
    prev = r.value;
    ++readings;
  }
  EXPECT_LE(changes, readings / 10 + 1);
  EXPECT_GE(changes, readings / 10 - 1);
}

TEST(SimulatorTest, SameSeedSameFilesOtherSeedOtherFiles) {
  SimScenario sc = *ScenarioPreset("concurrent");
  SimResult a = Simulate(sc), b = Simulate(sc);
  EXPECT_EQ(a.trace_text, b.trace_text);
  EXPECT_EQ(TruthToJson(a.truth), TruthToJson(b.truth));
  sc.seed = 2;
  SimResult c = Simulate(sc);
  EXPECT_NE(a.trace_text, c.trace_text);
}

TEST(SimulatorTest, PytorchTraceHasStepsScopesAndOpsInMicroseconds) {
  SimResult sim = Simulate(*ScenarioPreset("nested"));
  EXPECT_NE(sim.trace_text.find("\"ProfilerStep#0\""), std::string::npos);
  EXPECT_NE(sim.trace_text.find("\"cat\": \"user_annotation\", \"name\": \"attention\""),
            std::string::npos);
  EXPECT_NE(sim.trace_text.find("\"cat\": \"cpu_op\""), std::string::npos);
  // realtime µs with ns decimals: 1.7e18 ns → 1700001000…  µs.
  EXPECT_NE(sim.trace_text.find("\"ts\": 17000010"), std::string::npos);
  EXPECT_EQ(sim.trace_name, "trace.pt.trace.json");
}

TEST(SimulatorTest, Tf1TraceNamesFullPathsInArgs) {
  SimResult sim = Simulate(*ScenarioPreset("tf1"));
  EXPECT_EQ(sim.trace_name, "trace.json");
  EXPECT_NE(sim.trace_text.find("\"args\": {\"name\": \"model/layer_0/attention/"),
            std::string::npos);
  EXPECT_NE(sim.trace_text.find("device:CPU:0 Compute"), std::string::npos);
  for (const auto& [path, n] : sim.truth.nodes) EXPECT_FALSE(n.scope) << path;
}

TEST(SimulatorTest, ConcurrentLanesSplitTheSlice) {
  // Two lanes, both running: each op gets half of idle + both dynamic powers.
  SimScenario sc = *ScenarioPreset("concurrent");
  sc.threads = 2;
  sc.dram_idle_w = 0;
  sc.nesting = 0;
  sc.gap_max_ns = 0;
  sc.steps = 1;
  sc.ops_per_step = 1;
  sc.op_min_ns = sc.op_max_ns = 1'000'000;
  sc.distinct_ops = 1;  // both run MatMul
  SimResult sim = Simulate(sc);
  ASSERT_EQ(sim.truth.nodes.size(), 1u);
  const SimTruthNode& n = sim.truth.nodes.begin()->second;
  EXPECT_EQ(n.calls, 2);
  EXPECT_NEAR(n.self_j[0], sim.truth.measured_j[0], 1e-12);
  EXPECT_NEAR(sim.truth.idle_j[0], 0.0, 1e-15);
  // Total variation of its share: 0 → 1 → 0, so the unit bound is one unit.
  EXPECT_NEAR(n.tolerance_j[0], sc.counter_unit_j, 1e-18);
}

TEST(SimulatorTest, UnknownPresetIsAUsageErrorNamingThePresets) {
  auto r = ScenarioPreset("bogus");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUsage);
  EXPECT_NE(r.error().message.find("sequential"), std::string::npos);
}

TEST(SimulatorTest, TruthJsonHoldsEveryScopeWithTotals) {
  SimResult sim = Simulate(*ScenarioPreset("tf1"));
  std::string json = TruthToJson(sim.truth);
  EXPECT_NE(json.find("\"model/layer_0\": {\"kind\": \"scope\""), std::string::npos);
  EXPECT_NE(json.find("\"measured_j\""), std::string::npos);
  EXPECT_NEAR(sim.truth.TotalJ("model", 0) + sim.truth.idle_j[0], sim.truth.measured_j[0],
              1e-9 * sim.truth.measured_j[0]);
}

}  // namespace
}  // namespace smaragdine
