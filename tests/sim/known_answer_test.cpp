// Known-answer tests: the accounting pipeline against the simulator's exact truth.
//
// With readings on every slice boundary (sample period = update period, op
// boundaries on the sampling grid, no jitter), §6 attribution is exact up to
// the counter's quantisation: a node's error is at most unit × (total
// variation of its share) / 2, which the simulator computes per node. That is
// the tolerance here, plus 1e-9 relative for floating point.
#include <cmath>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/sim_util.h"

namespace smaragdine {
namespace {

using simtest::AccountFromFiles;
using simtest::AccountInMemory;
using simtest::DomainIndex;

// Every path of the truth and all their prefixes.
std::set<std::string> TruthPaths(const SimTruth& t) {
  std::set<std::string> out;
  for (const auto& [path, n] : t.nodes) {
    for (size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1))
      out.insert(path.substr(0, pos));
    out.insert(path);
  }
  return out;
}

void ExpectMatchesTruth(const Profile& p, const SimResult& sim) {
  const SimTruth& t = sim.truth;
  ASSERT_TRUE(t.aligned) << "the scenario's readings are not on the slice grid";
  for (size_t d = 0; d < t.domains.size(); ++d) {
    SCOPED_TRACE(t.domains[d]);
    int pd = DomainIndex(p, t.domains[d]);
    ASSERT_GE(pd, 0) << "domain missing from the profile";
    const double eps = 1e-9 * t.measured_j[d];
    EXPECT_NEAR(p.domains[pd].measured_j, t.measured_j[d], t.measured_tolerance_j[d] + eps);
    EXPECT_NEAR(p.domains[pd].idle_j, t.idle_j[d], t.idle_tolerance_j[d] + eps) << "(idle)";
    for (const std::string& path : TruthPaths(t)) {
      int64_t id = p.Find(path);
      ASSERT_GE(id, 0) << "node missing from the profile: " << path;
      const ProfileNode& n = p.nodes[id];
      auto it = t.nodes.find(path);
      double self_tol = it == t.nodes.end() ? 0.0 : it->second.tolerance_j[d];
      EXPECT_NEAR(n.self_j[pd], t.SelfJ(path, d), self_tol + eps) << "self of " << path;
      EXPECT_NEAR(n.total_j[pd], t.TotalJ(path, d), t.TotalToleranceJ(path, d) + eps)
          << "total of " << path;
      if (it != t.nodes.end()) EXPECT_EQ(n.calls, it->second.calls) << path;
    }
    // No energy on a node the program does not have (e.g. a step marker).
    for (const ProfileNode& n : p.nodes) {
      if (n.path.empty() || n.self_j[pd] <= eps) continue;
      EXPECT_TRUE(t.nodes.count(n.path)) << "unexpected energy on " << n.path << ": "
                                         << n.self_j[pd] << " J";
    }
  }
}

TEST(KnownAnswerTest, SequentialScenarioMatchesTruthPerOpModuleAndIdle) {
  SimResult sim = Simulate(*ScenarioPreset("sequential"));
  auto p = AccountInMemory(sim);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ExpectMatchesTruth(*p, sim);
}

TEST(KnownAnswerTest, SequentialScenarioThroughFilesMatchesTruth) {
  // The same through trace.pt.trace.json + run/ on disk (WriteRunDirectory, ReadEnergy).
  SimResult sim = Simulate(*ScenarioPreset("sequential"));
  auto p = AccountFromFiles(sim, simtest::TempDir("sequential_files"));
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ExpectMatchesTruth(*p, sim);
}

TEST(KnownAnswerTest, ConcurrentScenarioSplitsSlicesAsTheTruthDoes) {
  SimResult sim = Simulate(*ScenarioPreset("concurrent"));
  auto p = AccountInMemory(sim);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ExpectMatchesTruth(*p, sim);
  EXPECT_EQ(p->domains.size(), 2u);  // package and dram
}

TEST(KnownAnswerTest, NestedScenarioGivesScopesTheirGapsAndTotals) {
  SimResult sim = Simulate(*ScenarioPreset("nested"));
  auto p = AccountInMemory(sim);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ExpectMatchesTruth(*p, sim);
  // The scopes are innermost in the gaps between their ops: they own energy.
  EXPECT_GT(sim.truth.SelfJ("model/layer_0/attention", 0), 0);
}

TEST(KnownAnswerTest, ExactCounterGivesExactAnswerOnManySeeds) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimScenario sc = *ScenarioPreset(seed % 2 ? "nested" : "concurrent");
    sc.seed = seed;
    sc.counter_unit_j = 0;
    SimResult sim = Simulate(sc);
    auto p = AccountInMemory(sim);
    ASSERT_TRUE(p.ok()) << p.error().ToString();
    SCOPED_TRACE(seed);
    ExpectMatchesTruth(*p, sim);
  }
}

TEST(KnownAnswerTest, Tf1ScenarioThroughTheTf1ReaderMatchesTruth) {
  SimResult sim = Simulate(*ScenarioPreset("tf1"));
  auto p = AccountFromFiles(sim, simtest::TempDir("tf1"));
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ExpectMatchesTruth(*p, sim);
}

TEST(KnownAnswerTest, Tf1AndPytorchOfOneProgramGiveTheSameOps) {
  // No gaps inside a step: scopes are never innermost, so the PyTorch trace
  // (with scope events) and the TF1 trace (without) describe one answer.
  SimScenario sc = *ScenarioPreset("nested");
  sc.gap_max_ns = 0;
  SimResult pt = Simulate(sc);
  sc.dialect = "tf1";
  SimResult tf = Simulate(sc);
  auto a = AccountInMemory(pt);
  auto b = AccountInMemory(tf);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  for (const auto& [path, n] : tf.truth.nodes) {
    int64_t ia = a->Find(path), ib = b->Find(path);
    ASSERT_GE(ia, 0) << path;
    ASSERT_GE(ib, 0) << path;
    EXPECT_NEAR(a->nodes[ia].total_j[0], b->nodes[ib].total_j[0],
                1e-9 * pt.truth.measured_j[0] + 2 * n.tolerance_j[0])
        << path;
  }
  EXPECT_NEAR(a->domains[0].idle_j, b->domains[0].idle_j, 1e-9 * pt.truth.measured_j[0]);
}

TEST(KnownAnswerTest, ShuffledTraceGivesTheSameProfile) {
  for (const char* preset : {"nested", "concurrent", "tf1"}) {
    SCOPED_TRACE(preset);
    SimScenario sc = *ScenarioPreset(preset);
    SimResult ordered = Simulate(sc);
    sc.shuffle_events = true;
    SimResult shuffled = Simulate(sc);
    ASSERT_NE(ordered.trace_text, shuffled.trace_text);
    auto a = AccountInMemory(ordered);
    auto b = AccountInMemory(shuffled);
    ASSERT_TRUE(a.ok()) << a.error().ToString();
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    ASSERT_EQ(a->nodes.size(), b->nodes.size());
    for (const ProfileNode& n : a->nodes) {
      int64_t j = b->Find(n.path);
      ASSERT_GE(j, 0) << n.path;
      const ProfileNode& m = b->nodes[j];
      EXPECT_EQ(n.calls, m.calls) << n.path;
      EXPECT_EQ(n.time_ns, m.time_ns) << n.path;
      for (size_t d = 0; d < n.total_j.size(); ++d) {
        EXPECT_NEAR(n.self_j[d], m.self_j[d], 1e-12 * a->domains[d].measured_j) << n.path;
        EXPECT_NEAR(n.total_j[d], m.total_j[d], 1e-12 * a->domains[d].measured_j) << n.path;
      }
    }
    for (size_t d = 0; d < a->domains.size(); ++d)
      EXPECT_NEAR(a->domains[d].idle_j, b->domains[d].idle_j, 1e-12 * a->domains[d].measured_j);
  }
}

}  // namespace
}  // namespace smaragdine
