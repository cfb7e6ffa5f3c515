// The simulated meters (DESIGN §6.7): a counter on a phase-shifted update
// grid, a windowed power meter, an instantaneous one, and the power knobs
// (scope spread, call noise) the regression is measured against.
#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "sim/model.h"
#include "sim/sim_util.h"
#include "smaragdine/simulate.h"

namespace smaragdine {
namespace {

// A hand-built power curve from t = 0: 10 W until 10 ms, 50 W until 30 ms, then 20 W.
sim::PowerCurve HandCurve() {
  sim::PowerCurve c;
  c.t_ns = {0, 10'000'000, 30'000'000};
  c.power_w = {10, 50, 20};
  c.cum_j = {0, 0.1, 1.1};
  return c;
}

constexpr int64_t kMs = 1'000'000;

TEST(MeterTest, WindowedReadingIsTheWindowAverageOfAHandBuiltCurve) {
  const sim::PowerCurve c = HandCurve();
  sim::DomainSpec d{"gpu:0", "GPU:0", 10, 20 * kMs, 0};
  d.meter = MeterKind::kWindowedPower;
  d.phase_ns = 5 * kMs;  // updates at 5, 25, 45, … ms
  d.window_ns = 20 * kMs;
  // Read at 27 ms: the update at 25 ms averaged [5, 25] ms = 5 ms of 10 W and 15 ms of 50 W.
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 27 * kMs), (5 * 10 + 15 * 50) / 20.0);
  // The same value until the next update, which averages [25, 45] ms.
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 44 * kMs), 40.0);
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 45 * kMs), (5 * 50 + 15 * 20) / 20.0);
  // Before the log starts the device drew its first power: [-15, 5] ms is all 10 W.
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 12 * kMs), 10.0);
  // Floored to whole watts: 27.5 W reads 27 W.
  d.unit_w = 1;
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 50 * kMs), 27.0);

  // Instantaneous: the power at the last update.
  d.meter = MeterKind::kInstantPower;
  d.unit_w = 0;
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 27 * kMs), 50.0);
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 24 * kMs), 10.0);  // update at 5 ms

  // Through the sampler: every 10 ms from 0 to 60 ms, no jitter.
  d.meter = MeterKind::kWindowedPower;
  std::vector<RawReading> r = sim::SampleReadings({c}, {d}, 0, 60 * kMs, 10 * kMs, 0, 1);
  ASSERT_EQ(r.size(), 7u);
  const double expected[] = {10, 10, 10, 40, 40, 27.5, 27.5};
  for (size_t k = 0; k < r.size(); ++k) {
    EXPECT_EQ(r[k].t_ns, static_cast<int64_t>(k) * 10 * kMs);
    EXPECT_DOUBLE_EQ(r[k].value, expected[k]) << k;
  }
}

TEST(MeterTest, QuantisedCounterWithAPhaseCountsWholeUnitsFromItsFirstUpdate) {
  const sim::PowerCurve c = HandCurve();
  sim::DomainSpec d{"cpu:0/package", "CPU:0", 10, 20 * kMs, 0.3};
  d.phase_ns = 5 * kMs;  // updates at -15, 5, 25, 45, … ms
  // The first reading shows the update at -15 ms (E = -0.15 J, 10 W before the
  // log); the counter counts whole 0.3 J units from there.
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 0), 0.0);
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 4 * kMs), 0.0);
  EXPECT_DOUBLE_EQ(sim::MeterReading(c, d, 0, 5 * kMs), 0.0);  // 0.2 J since: no unit yet
  // At 25 ms: 0.85 + 0.15 = 1.0 J since, three units.
  EXPECT_NEAR(sim::MeterReading(c, d, 0, 27 * kMs), 0.9, 1e-12);
  // At 45 ms: 1.4 + 0.15 = 1.55 J since, five units.
  EXPECT_NEAR(sim::MeterReading(c, d, 0, 47 * kMs), 1.5, 1e-12);
}

// A scenario read every 100 µs by a counter updating every 1 ms.
SimScenario FineReadCoarseCounter() {
  SimScenario sc = *ScenarioPreset("sequential");
  sc.quantum_ns = 1000;
  sc.sample_period_ns = 100'000;
  sc.update_period_ns = 1'000'000;
  sc.counter_unit_j = 0;  // exact: idle power alone moves it at every update
  return sc;
}

TEST(MeterTest, CounterChangesExactlyOnThePhaseShiftedUpdateGrid) {
  for (int64_t phase : {0, 1, 337'000, 999'999}) {
    SCOPED_TRACE(phase);
    SimScenario sc = FineReadCoarseCounter();
    sc.update_phase_ns = phase;
    SimResult sim = Simulate(sc);
    EXPECT_EQ(sim.update_phase_ns, phase);
    const int64_t origin = *sim.meta.started_ns + phase;
    auto update_count = [&](int64_t t) {  // updates at or before t since the origin
      return sim::RoundDown(t - origin, sc.update_period_ns) / sc.update_period_ns;
    };
    int64_t prev_t = INT64_MIN;
    double prev = 0;
    int changes = 0;
    for (const RawReading& r : sim.readings) {
      if (prev_t != INT64_MIN) {
        const bool updated = update_count(r.t_ns) != update_count(prev_t);
        EXPECT_EQ(r.value != prev, updated) << "reading at " << r.t_ns;
        changes += updated;
      }
      prev_t = r.t_ns;
      prev = r.value;
    }
    EXPECT_GT(changes, 10);
    // The meter model says where the grid is.
    const DomainInfo& d = sim.meta.domains[0];
    EXPECT_EQ(d.meter.kind, MeterKind::kCounter);
    EXPECT_EQ(d.meter.field, "simulated counter");
    EXPECT_EQ(d.update_interval_ns, sc.update_period_ns);
    EXPECT_NE(d.meter.note.find(std::to_string(origin)), std::string::npos) << d.meter.note;
  }
}

TEST(MeterTest, RandomPhaseIsDrawnPerSeedInsideThePeriod) {
  SimScenario sc = FineReadCoarseCounter();
  sc.update_phase_ns = std::nullopt;
  std::set<int64_t> phases;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    sc.seed = seed;
    SimResult a = Simulate(sc), b = Simulate(sc);
    EXPECT_EQ(a.update_phase_ns, b.update_phase_ns);
    EXPECT_GE(a.update_phase_ns, 0);
    EXPECT_LT(a.update_phase_ns, sc.update_period_ns);
    phases.insert(a.update_phase_ns);
  }
  EXPECT_GE(phases.size(), 18u);
  // The phase moves the meter, not the program.
  sc.seed = 3;
  SimResult random = Simulate(sc);
  sc.update_phase_ns = 0;
  SimResult zero = Simulate(sc);
  EXPECT_EQ(random.trace_text, zero.trace_text);
  EXPECT_EQ(TruthToJson(random.truth), TruthToJson(zero.truth));
  EXPECT_FALSE(random.truth.aligned);
}

TEST(MeterTest, WindowedScenarioWritesPowerReadingsAndItsMeterModel) {
  SimScenario sc = *ScenarioPreset("bert-nvml");
  sc.steps = 30;
  SimResult sim = Simulate(sc);
  const DomainInfo& d = sim.meta.domains[0];
  EXPECT_EQ(d.quantity, Quantity::kPower);
  EXPECT_EQ(d.meter.kind, MeterKind::kWindowedPower);
  EXPECT_EQ(d.meter.window_ns, 25'000'000);
  EXPECT_EQ(d.update_interval_ns, 100'000'000);
  EXPECT_FALSE(sim.truth.aligned);
  // Whole milliwatts, never below idle, changing only on the 100 ms grid.
  const int64_t origin = *sim.meta.started_ns + sim.update_phase_ns;
  int64_t prev_t = INT64_MIN;
  double prev = -1;
  for (const RawReading& r : sim.readings) {
    EXPECT_NEAR(r.value * 1000, std::round(r.value * 1000), 1e-6);
    EXPECT_GE(r.value, sc.cpu_idle_w - 1e-3);
    if (prev_t != INT64_MIN && r.value != prev)
      EXPECT_NE(sim::RoundDown(r.t_ns - origin, sc.update_period_ns),
                sim::RoundDown(prev_t - origin, sc.update_period_ns))
          << r.t_ns;
    prev_t = r.t_ns;
    prev = r.value;
  }
  // Through files: energy.csv's power_w column and run.json's meter come back.
  std::string dir = simtest::TempDir("windowed");
  ASSERT_TRUE(WriteSimulation(sim, dir).ok());
  auto log = ReadEnergy(dir + "/run", EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->domains[0].quantity, Quantity::kPower);
  EXPECT_EQ(log->domains[0].meter.kind, MeterKind::kWindowedPower);
  EXPECT_EQ(log->domains[0].meter.window_ns, 25'000'000);
  EXPECT_EQ(log->series[0].power_w.size(), sim.readings.size());
  auto mem = SimulatedEnergyLog(sim);
  ASSERT_TRUE(mem.ok()) << mem.error().ToString();
  EXPECT_EQ(mem->domains[0].quantity, Quantity::kPower);
  EXPECT_DOUBLE_EQ(mem->series[0].TotalJ(), log->series[0].TotalJ());
  // Attributed (proportionally), every joule is still somewhere.
  auto p = simtest::AccountInMemory(sim);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  double sum = p->domains[0].idle_j;
  for (const ProfileNode& n : p->nodes) sum += n.self_j[0];
  EXPECT_NEAR(sum, p->domains[0].measured_j, 1e-9 * p->domains[0].measured_j);
}

TEST(MeterTest, InstantPowerMeterReadsThePowerAtEachUpdate) {
  SimScenario sc = FineReadCoarseCounter();
  sc.meter = MeterKind::kInstantPower;
  sc.update_phase_ns = 250'000;
  sc.threads = 1;
  sc.nesting = 0;
  sc.dialect = "tf1";
  SimResult sim = Simulate(sc);
  EXPECT_EQ(sim.meta.domains[0].meter.kind, MeterKind::kInstantPower);
  EXPECT_EQ(sim.meta.domains[0].quantity, Quantity::kPower);
  // One lane, no scopes: the power at any time is idle or idle + one op's draw,
  // which the truth gives as self / time of that op's node.
  std::set<double> powers = {sc.cpu_idle_w};
  for (const auto& [path, n] : sim.truth.nodes) powers.insert(n.self_j[0] / (n.time_ns * 1e-9));
  for (const RawReading& r : sim.readings) {
    bool known = false;
    for (double w : powers) known = known || std::fabs(w - r.value) < 1e-6 * w;
    EXPECT_TRUE(known) << r.value << " W at " << r.t_ns;
  }
}

// Power of each op node while it runs: one lane, no scopes, so self = physical = P · t.
std::map<std::string, double> NodePowerW(const SimResult& sim) {
  std::map<std::string, double> out;
  for (const auto& [path, n] : sim.truth.nodes) out[path] = n.self_j[0] / (n.time_ns * 1e-9);
  return out;
}

SimScenario OneLaneTf1() {
  SimScenario sc = *ScenarioPreset("sequential");
  sc.threads = 1;
  sc.nesting = 3;
  sc.dialect = "tf1";
  sc.steps = 4;
  return sc;
}

TEST(MeterTest, ScopeSpreadGivesOneOpNameDifferentPowersInDifferentScopes) {
  SimScenario sc = OneLaneTf1();
  sc.scope_spread = 0.5;
  SimResult sim = Simulate(sc);
  std::map<std::string, std::set<double>> by_name;
  for (const auto& [path, w] : NodePowerW(sim)) {
    double dyn = w - sc.cpu_idle_w;
    EXPECT_GE(dyn, sc.dyn_min_w * 0.5 - 1e-9) << path;
    EXPECT_LE(dyn, sc.dyn_max_w * 1.5 + 1e-9) << path;
    by_name[path.substr(path.rfind('/') + 1)].insert(std::round(w * 1e6));
  }
  size_t spread_names = 0;
  for (const auto& [name, ws] : by_name) spread_names += ws.size() > 1;
  EXPECT_GT(spread_names, 0u);
  // One power per path: every call of a node draws the same (no noise), so
  // its energy over time is exact; and the spread leaves the timeline alone.
  SimScenario plain = sc;
  plain.scope_spread = 0;
  EXPECT_EQ(Simulate(plain).trace_text, sim.trace_text);
}

TEST(MeterTest, CallNoiseVariesCallsAndThePhysicalTruthFollowsEachCall) {
  SimScenario sc = OneLaneTf1();
  SimResult plain = Simulate(sc);
  sc.call_noise = 0.3;
  SimResult noisy = Simulate(sc);
  EXPECT_EQ(plain.trace_text, noisy.trace_text);  // its own random stream
  const auto p0 = NodePowerW(plain), p1 = NodePowerW(noisy);
  int differ = 0;
  for (const auto& [path, w] : p0) {
    const double dyn0 = w - sc.cpu_idle_w, dyn1 = p1.at(path) - sc.cpu_idle_w;
    EXPECT_GE(dyn1, dyn0 * 0.7 - 1e-9) << path;
    EXPECT_LE(dyn1, dyn0 * 1.3 + 1e-9) << path;
    differ += std::fabs(dyn1 - dyn0) > 1e-9 * dyn0;
  }
  EXPECT_EQ(differ, static_cast<int>(p0.size()));
  // Physical energy (own draw + idle share) of all nodes plus (idle) is what
  // the device drew: it holds only if the truth used each call's own power.
  for (const SimResult* sim : {&plain, &noisy}) {
    double phys = sim->truth.idle_j[0];
    for (const auto& [path, n] : sim->truth.nodes) phys += n.physical_j[0];
    EXPECT_NEAR(phys, sim->truth.measured_j[0], 1e-9 * sim->truth.measured_j[0]);
  }
}

}  // namespace
}  // namespace smaragdine
