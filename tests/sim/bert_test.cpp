// The BERT-like training scenario: its traces read back in both dialects with
// forward, backward and optimizer phases, and its truth is keyed by the paths
// the readers build.
#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "sim/sim_util.h"

namespace smaragdine {
namespace {

using simtest::AccountInMemory;

SimScenario Bert(const char* preset, int steps = 3) {
  SimScenario sc = *ScenarioPreset(preset);
  sc.steps = steps;
  return sc;
}

// Paths per phase among a trace's op events.
std::set<std::string> OpPaths(const Trace& t, Phase phase) {
  std::set<std::string> out;
  for (const Event& e : t.events)
    if (t.nodes.Kind(e.node) != NodeKind::kScope && e.phase == phase)
      out.insert(t.nodes.Path(e.node));
  return out;
}

// `backward_fn`: the name of the linear op's backward function where the
// dialect gives backward functions a node of their own under the forward op
// (PyTorch); "" where backward lands on the forward op's own path (TF1).
void ExpectForwardBackwardOptimizer(const SimResult& sim, const std::string& linear,
                                    const std::string& optimizer_prefix,
                                    const std::string& backward_fn) {
  auto t = ParseTrace(sim.trace_name, sim.trace_text, TraceReadOptions{});
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  const std::set<std::string> fwd = OpPaths(*t, Phase::kForward);
  const std::set<std::string> bwd = OpPaths(*t, Phase::kBackward);
  const std::set<std::string> opt = OpPaths(*t, Phase::kOptimizer);
  EXPECT_TRUE(fwd.count(linear)) << linear;
  const bool own_node = !backward_fn.empty();
  EXPECT_TRUE(bwd.count(own_node ? linear + "/" + backward_fn : linear)) << linear;
  // Every backward op lands on (TF1) or right under (PyTorch, as a node named
  // after its backward function) a forward op: none is left where it ran.
  for (const std::string& p : bwd)
    EXPECT_TRUE(fwd.count(own_node ? p.substr(0, p.rfind('/')) : p))
        << "backward without forward: " << p;
  EXPECT_EQ(bwd.size(), fwd.size());
  ASSERT_FALSE(opt.empty());
  for (const std::string& p : opt) EXPECT_EQ(p.rfind(optimizer_prefix, 0), 0u) << p;
  EXPECT_EQ(t->diagnostics.Count("pytorch.backward_op_without_forward_op"), 0);
}

TEST(BertScenarioTest, PytorchTraceHasBackwardOnTheForwardOpsPaths) {
  SimResult sim = Simulate(Bert("bert-rapl"));
  EXPECT_EQ(sim.trace_name, "trace.pt.trace.json");
  EXPECT_NE(sim.trace_text.find("\"autograd::engine::evaluate_function: AddmmBackward0\""),
            std::string::npos);
  ExpectForwardBackwardOptimizer(sim, "bert/encoder/layer_3/attention/self/query/aten::linear",
                                 "Optimizer.step#SGD.step/", "AddmmBackward0");
  auto t = ParseTrace(sim.trace_name, sim.trace_text, TraceReadOptions{});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->steps.size(), 3u);
}

TEST(BertScenarioTest, Tf1TraceHasGradientOpsOnTheForwardOpsPaths) {
  SimResult sim = Simulate(Bert("bert-rapl-tf1"));
  EXPECT_EQ(sim.trace_name, "trace.json");
  EXPECT_NE(sim.trace_text.find(
                "\"gradients/bert/encoder/layer_0/attention/self/query/MatMul_grad/MatMul_1\""),
            std::string::npos);
  ExpectForwardBackwardOptimizer(sim, "bert/encoder/layer_3/attention/self/query/MatMul",
                                 "GradientDescent/update_", "");
}

TEST(BertScenarioTest, OpsLastTwentyToFiveHundredMicrosecondsMedianAboutOneHundred) {
  for (const char* preset : {"bert-rapl", "bert-rapl-tf1"}) {
    SimResult sim = Simulate(Bert(preset, 2));
    auto t = ParseTrace(sim.trace_name, sim.trace_text, TraceReadOptions{});
    ASSERT_TRUE(t.ok());
    std::vector<int64_t> ns;
    for (const Event& e : t->events)
      if (t->nodes.Kind(e.node) != NodeKind::kScope) ns.push_back(e.end_ns - e.start_ns);
    std::sort(ns.begin(), ns.end());
    SCOPED_TRACE(preset);
    EXPECT_GE(ns.front(), 10'000);  // a TF1 gradient may be half of a 20 µs op
    EXPECT_LE(ns.back(), 500'000);
    const int64_t median = ns[ns.size() / 2];
    EXPECT_GE(median, 70'000);
    EXPECT_LE(median, 130'000);
  }
}

// Every truth path is a profile node with the truth's calls per phase, and
// conservation holds, for every BERT preset (proportional attribution).
void ExpectTruthPathsInProfile(const SimResult& sim) {
  auto p = AccountInMemory(sim);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_TRUE(sim.truth.HasPhases());
  for (const auto& [path, n] : sim.truth.nodes) {
    int64_t id = p->Find(path);
    ASSERT_GE(id, 0) << "truth path missing from the profile: " << path;
    const ProfileNode& pn = p->nodes[id];
    EXPECT_EQ(pn.calls, n.calls) << path;
    for (int ph = 0; ph < kPhaseCount; ++ph)
      EXPECT_EQ(pn.phases[ph].calls, n.phase_calls[ph]) << path << " " << ToString(Phase(ph));
  }
  for (size_t d = 0; d < p->domains.size(); ++d) {
    double sum = p->domains[d].idle_j;
    for (const ProfileNode& n : p->nodes) sum += n.self_j[d];
    EXPECT_NEAR(sum, p->domains[d].measured_j, 1e-9 * p->domains[d].measured_j);
  }
  for (size_t d = 0; d < sim.truth.domains.size(); ++d) {
    double self = sim.truth.idle_j[d], phys = sim.truth.idle_j[d];
    for (const auto& [path, n] : sim.truth.nodes) {
      self += n.self_j[d];
      phys += n.physical_j[d];
    }
    EXPECT_NEAR(self, sim.truth.measured_j[d], 1e-9 * sim.truth.measured_j[d]);
    EXPECT_NEAR(phys, sim.truth.measured_j[d], 1e-9 * sim.truth.measured_j[d]);
  }
}

TEST(BertScenarioTest, EveryTruthPathIsInTheProfileOfEveryBertPreset) {
  for (const char* preset :
       {"bert-rapl", "bert-rapl-tf1", "bert-rapl-concurrent", "bert-nvml", "bert-nvml-1s"}) {
    SCOPED_TRACE(preset);
    SimScenario sc = Bert(preset, 4);
    sc.scope_spread = 0.4;
    sc.call_noise = 0.1;
    sc.dram_idle_w = 2;
    ExpectTruthPathsInProfile(Simulate(sc));
  }
}

TEST(BertScenarioTest, TruthIsExactWhenTheMeterReadsOnTheOpGrid) {
  // Readings every µs on the µs grid of the ops, exact counter: §6 attribution
  // must give the truth to rounding, in both dialects, scopes and phases included.
  for (const char* preset : {"bert-rapl", "bert-rapl-tf1", "bert-rapl-concurrent"}) {
    SCOPED_TRACE(preset);
    SimScenario sc = Bert(preset, 2);
    sc.layers = 2;
    sc.update_period_ns = sc.sample_period_ns = 1000;
    sc.update_phase_ns = 0;
    sc.jitter = 0;
    sc.counter_unit_j = 0;
    sc.scope_spread = 0.3;
    SimResult sim = Simulate(sc);
    ASSERT_TRUE(sim.truth.aligned);
    auto p = AccountInMemory(sim);
    ASSERT_TRUE(p.ok()) << p.error().ToString();
    const double eps = 1e-9 * sim.truth.measured_j[0];
    EXPECT_NEAR(p->domains[0].measured_j, sim.truth.measured_j[0], eps);
    EXPECT_NEAR(p->domains[0].idle_j, sim.truth.idle_j[0], eps);
    for (const auto& [path, n] : sim.truth.nodes) {
      int64_t id = p->Find(path);
      ASSERT_GE(id, 0) << path;
      const ProfileNode& pn = p->nodes[id];
      EXPECT_NEAR(pn.self_j[0], n.self_j[0], eps) << path;
      EXPECT_NEAR(pn.total_j[0], sim.truth.TotalJ(path, 0), eps) << path;
      for (int ph = 0; ph < kPhaseCount; ++ph)
        EXPECT_NEAR(pn.phases[ph].self_j[0], n.phase_self_j[ph][0], eps)
            << path << " " << ToString(Phase(ph));
    }
  }
}

TEST(BertScenarioTest, BothDialectsOfOneSeedAreOneProgram) {
  // Only the names differ: the same power curve gives the same readings.
  SimResult pt = Simulate(Bert("bert-rapl", 2));
  SimResult tf = Simulate(Bert("bert-rapl-tf1", 2));
  ASSERT_GT(pt.readings.size(), 10u);
  const size_t n = std::min(pt.readings.size(), tf.readings.size());
  for (size_t k = 0; k < n; ++k) {
    EXPECT_EQ(pt.readings[k].t_ns, tf.readings[k].t_ns) << k;
    EXPECT_EQ(pt.readings[k].value, tf.readings[k].value) << k;
  }
  // Op paths map one to one (aten::linear ↔ MatMul, …), with the same
  // physical energy, forward and backward. (Module totals differ by the idle
  // share PyTorch's scope spans own in the gaps.)
  const std::string scope = "bert/encoder/layer_1/intermediate/dense/";
  // PyTorch's backward is a node of its own under the forward op.
  const SimTruthNode& a_fwd = pt.truth.nodes.at(scope + "aten::linear");
  const SimTruthNode& a_bwd = pt.truth.nodes.at(scope + "aten::linear/AddmmBackward0");
  const SimTruthNode& b = tf.truth.nodes.at(scope + "MatMul");
  for (Phase ph : {Phase::kForward, Phase::kBackward}) {
    const int i = static_cast<int>(ph);
    const SimTruthNode& a = ph == Phase::kForward ? a_fwd : a_bwd;
    EXPECT_GT(a.phase_physical_j[i][0], 0);
    EXPECT_NEAR(a.phase_physical_j[i][0], b.phase_physical_j[i][0], 1e-9 * pt.truth.measured_j[0])
        << ToString(ph);
  }
  EXPECT_EQ(a_bwd.phase_calls[1] * 2, b.phase_calls[1]);  // TF1: MatMul_grad/MatMul and MatMul_1
}

TEST(BertScenarioTest, DataLoaderLaneRunsBesideTheModel) {
  SimResult sim = Simulate(Bert("bert-rapl-concurrent", 2));
  auto t = ParseTrace(sim.trace_name, sim.trace_text, TraceReadOptions{});
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->lanes.size(), 2u);
  // Some data-loader op overlaps a model op in time.
  std::vector<std::pair<int64_t, int64_t>> loader, model;
  for (const Event& e : t->events) {
    if (t->nodes.Kind(e.node) == NodeKind::kScope) continue;
    const std::string path = t->nodes.Path(e.node);
    (path.rfind("data_loader/", 0) == 0 ? loader : model).push_back({e.start_ns, e.end_ns});
  }
  ASSERT_FALSE(loader.empty());
  int overlaps = 0;
  for (auto [a, b] : loader)
    for (auto [c, d] : model) overlaps += a < d && c < b;
  EXPECT_GT(overlaps, 0);
  EXPECT_GT(sim.truth.TotalJ("data_loader", 0), 0);
}

TEST(BertScenarioTest, TruthJsonHasPhasesForTraining) {
  SimResult sim = Simulate(Bert("bert-rapl", 1));
  std::string json = TruthToJson(sim.truth);
  EXPECT_NE(json.find("\"phases\": {\"forward\": {\"calls\": 1,"), std::string::npos);
  EXPECT_NE(json.find("\"backward\": {\"calls\": 1,"), std::string::npos);
  EXPECT_NE(json.find("\"optimizer\": {\"calls\":"), std::string::npos);
  // The older programs have one phase: their truth.json reads as before.
  EXPECT_EQ(TruthToJson(Simulate(*ScenarioPreset("nested")).truth).find("\"phases\""),
            std::string::npos);
}

}  // namespace
}  // namespace smaragdine
