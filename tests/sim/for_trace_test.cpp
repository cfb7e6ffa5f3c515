// `simulate --for-trace`: energy for a trace that was read, not generated.
#include <gtest/gtest.h>

#include "sim/sim_util.h"

namespace smaragdine {
namespace {

Result<Profile> Account(Trace trace, const SimResult& sim) {
  SMG_ASSIGN_OR_RETURN(EnergyLog log, SimulatedEnergyLog(sim));
  SMG_RETURN_IF_ERROR(AlignTrace(trace, log, AlignOptions{}));
  return Attribute(trace, log, simtest::ProportionalOptions());
}

TEST(ForTraceTest, EnergyForAGridAlignedTraceMatchesItsTruthPerNode) {
  // A simulated trace has its op boundaries on a 100 µs grid: read back
  // without jitter at 10 kHz, the generated log is exact up to the unit.
  SimResult program = Simulate(*ScenarioPreset("nested"));
  auto trace = ParseTrace(program.trace_name, program.trace_text, TraceReadOptions{});
  ASSERT_TRUE(trace.ok()) << trace.error().ToString();
  TraceEnergyOptions options;
  options.sample_period_ns = 100'000;
  options.cpu_update_period_ns = 100'000;
  options.margin_ns = 1'000'000;
  options.jitter = 0;
  auto sim = SimulateEnergyForTrace(*trace, options);
  ASSERT_TRUE(sim.ok()) << sim.error().ToString();
  ASSERT_TRUE(sim->truth.aligned);
  auto p = Account(*trace, *sim);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ASSERT_EQ(p->domains.size(), 1u);
  EXPECT_EQ(p->domains[0].name, "cpu:0/package");
  const SimTruth& t = sim->truth;
  const double eps = 1e-9 * t.measured_j[0];
  EXPECT_NEAR(p->domains[0].measured_j, t.measured_j[0], t.measured_tolerance_j[0] + eps);
  EXPECT_NEAR(p->domains[0].idle_j, t.idle_j[0], t.idle_tolerance_j[0] + eps);
  for (const auto& [path, n] : t.nodes) {
    int64_t id = p->Find(path);
    ASSERT_GE(id, 0) << path;
    EXPECT_NEAR(p->nodes[id].self_j[0], n.self_j[0], n.tolerance_j[0] + eps) << path;
  }
}

TEST(ForTraceTest, RealGpuTraceGetsCpuAndGpuDomainsAndConserves) {
  auto trace = ReadTraces(
      {std::string(SMARAGDINE_TEST_DATA) + "/fixtures/pt2_bert-small_h100_inference.pt.trace.json.gz"},
      TraceReadOptions{});
  ASSERT_TRUE(trace.ok()) << trace.error().ToString();
  auto sim = SimulateEnergyForTrace(*trace, TraceEnergyOptions{});
  ASSERT_TRUE(sim.ok()) << sim.error().ToString();
  ASSERT_EQ(sim->truth.domains.size(), 2u);
  EXPECT_EQ(sim->truth.domains[0], "cpu:0/package");
  EXPECT_EQ(sim->truth.domains[1], "gpu:0");
  // GEMM kernels draw more than the GPU's idle: its kernels carry energy.
  double gpu_ops = 0;
  for (const auto& [path, n] : sim->truth.nodes) gpu_ops += n.self_j[1];
  EXPECT_GT(gpu_ops, 0);
  auto p = Account(*trace, *sim);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  for (size_t d = 0; d < p->domains.size(); ++d) {
    double sum = p->domains[d].idle_j;
    for (const ProfileNode& n : p->nodes) sum += n.self_j[d];
    EXPECT_NEAR(sum, p->domains[d].measured_j, 1e-9 * p->domains[d].measured_j);
    EXPECT_GT(p->domains[d].measured_j, 0);
  }
}

TEST(ForTraceTest, EmptyTraceIsBadInput) {
  Trace empty;
  empty.sources = {"empty.json"};
  auto sim = SimulateEnergyForTrace(empty, TraceEnergyOptions{});
  ASSERT_FALSE(sim.ok());
  EXPECT_EQ(sim.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(sim.error().file, "empty.json");
}

}  // namespace
}  // namespace smaragdine
