// Properties on many random scenarios: conservation and no negative energy.
#include <cmath>

#include <gtest/gtest.h>

#include "sim/model.h"
#include "sim/sim_util.h"

namespace smaragdine {
namespace {

// A tiny random scenario: every knob the simulator has, drawn from `rng`.
SimScenario RandomScenario(uint64_t seed) {
  sim::Rng rng(seed ^ 0xC0FFEE);
  SimScenario sc;
  sc.seed = seed;
  sc.dialect = rng.Next() % 3 == 0 ? "tf1" : "pytorch";
  sc.threads = static_cast<int>(rng.Range(1, 3));
  sc.steps = static_cast<int>(rng.Range(1, 2));
  sc.ops_per_step = static_cast<int>(rng.Range(1, 5));
  sc.concurrent = rng.Next() % 2 == 0;
  sc.nesting = static_cast<int>(rng.Range(0, 3));
  sc.distinct_ops = static_cast<int>(rng.Range(1, 6));
  sc.quantum_ns = 1000 * rng.Range(1, 50);
  sc.op_min_ns = 1000 * rng.Range(1, 500);
  sc.op_max_ns = sc.op_min_ns + 1000 * rng.Range(0, 2000);
  sc.gap_max_ns = 1000 * rng.Range(0, 300);
  sc.step_gap_ns = 1000 * rng.Range(0, 1000);
  sc.cpu_idle_w = rng.Uniform() * 30;
  sc.dram_idle_w = rng.Next() % 2 ? 0 : 0.5 + rng.Uniform() * 5;
  sc.dyn_min_w = rng.Uniform() * 10;
  sc.dyn_max_w = sc.dyn_min_w + rng.Uniform() * 50;
  const double units[] = {0, 1e-6, 61e-6, 1e-3, 0.05};
  sc.counter_unit_j = units[rng.Next() % 5];
  sc.sample_period_ns = 1000 * rng.Range(10, 5000);
  sc.update_period_ns = rng.Next() % 2 ? sc.sample_period_ns : 1000 * rng.Range(10, 20000);
  sc.jitter = rng.Next() % 2 ? 0 : rng.Uniform() * 0.9;
  sc.shuffle_events = rng.Next() % 4 == 0;
  // The meter and power knobs, drawn after the rest so the scenarios above
  // stay what they were.
  if (rng.Next() % 2) sc.update_phase_ns = rng.Range(0, 2 * sc.update_period_ns);
  else if (rng.Next() % 4 == 0) sc.update_phase_ns = std::nullopt;
  switch (rng.Next() % 6) {
    case 0:
      sc.meter = MeterKind::kWindowedPower;
      sc.window_ns = 1000 * rng.Range(1, 20000);
      sc.power_unit_w = rng.Next() % 2 ? 0 : 1e-3;
      break;
    case 1:
      sc.meter = MeterKind::kInstantPower;
      break;
    default:
      break;
  }
  sc.scope_spread = rng.Next() % 3 == 0 ? rng.Uniform() * 0.95 : 0;
  sc.call_noise = rng.Next() % 3 == 0 ? rng.Uniform() * 0.95 : 0;
  if (rng.Next() % 50 == 0) {
    sc.program = "bert";
    sc.layers = 1;
    sc.optimizer_step = rng.Next() % 2 == 0;
  }
  return sc;
}

TEST(ConservationTest, HoldsOnTenThousandRandomScenarios) {
  constexpr int kScenarios = 10'000;
  int failures = 0;
  for (uint64_t seed = 1; seed <= kScenarios && failures < 5; ++seed) {
    SimScenario sc = RandomScenario(seed);
    SimResult sim = Simulate(sc);
    auto p = simtest::AccountInMemory(sim);
    if (!p.ok()) {
      ADD_FAILURE() << "seed " << seed << ": " << p.error().ToString();
      ++failures;
      continue;
    }
    for (size_t d = 0; d < p->domains.size(); ++d) {
      const ProfileDomain& dom = p->domains[d];
      double sum = dom.idle_j;
      bool negative = dom.idle_j < 0 || dom.measured_j < 0;
      for (const ProfileNode& n : p->nodes) {
        sum += n.self_j[d];
        negative = negative || n.self_j[d] < 0 || n.total_j[d] < 0;
      }
      const bool conserved = std::fabs(sum - dom.measured_j) <= 1e-9 * std::fabs(dom.measured_j);
      if (!conserved || negative) {
        ADD_FAILURE() << "seed " << seed << " domain " << dom.name << ": nodes + (idle) = " << sum
                      << " J, measured " << dom.measured_j << " J"
                      << (negative ? ", negative energy" : "");
        ++failures;
      }
    }
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace smaragdine
