// Attribution paths chosen by the shape of the trace: few lanes (a linear
// scan for the next change) or many (a heap), and combos looked up per step,
// including step ids the trace has no Step for. Answers worked out on paper.
#include <gtest/gtest.h>

#include <string>

#include "smaragdine/account.h"

namespace smaragdine {
namespace {

EnergyLog OneJoulePerNs(int64_t end_ns) {
  EnergyLog log;
  log.path = "test-log";
  log.domains.push_back({"cpu:0/package", "CPU:0", "test", Quantity::kEnergy});
  EnergySeries s;
  s.t_ns = {0, end_ns};
  s.energy_j = {0, static_cast<double>(end_ns)};
  log.series.push_back(s);
  return log;
}

// n lanes; lane i runs op "m/L<i>" over [0, 100 + i). While k lanes run,
// each gets 1/k J per ns: lane i receives 100/n for [0, 100), then 1/(n-1-j)
// for each 1 ns slice [100 + j, 101 + j) with j < i.
void ExpectStaggeredLanes(int n) {
  Trace trace;
  trace.dialect = "test";
  trace.time_base = TimeBase::kMonotonic;
  for (int i = 0; i < n; ++i) {
    trace.lanes.push_back({"CPU:0", "lane " + std::to_string(i)});
    NodeId node = trace.nodes.InternPath("m/L" + std::to_string(i), NodeKind::kOp);
    trace.events.push_back({0, 100 + i, node, static_cast<uint32_t>(i), -1, Phase::kForward});
  }
  auto p = Attribute(trace, OneJoulePerNs(1000), AttributeOptions{});
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  for (int i = 0; i < n; ++i) {
    double expected = 100.0 / n;
    for (int j = 0; j < i; ++j) expected += 1.0 / (n - 1 - j);
    const int64_t id = p->Find("m/L" + std::to_string(i));
    ASSERT_GE(id, 0);
    EXPECT_NEAR(p->nodes[id].self_j[0], expected, 1e-9) << n << " lanes, lane " << i;
  }
  EXPECT_NEAR(p->domains[0].measured_j, 100 + n - 1, 1e-9);
  EXPECT_NEAR(p->domains[0].idle_j, 0, 1e-9);
}

TEST(AttributionLanesTest, FewLanesSplitEachSliceEqually) { ExpectStaggeredLanes(12); }

TEST(AttributionLanesTest, ManyLanesSplitEachSliceEqually) { ExpectStaggeredLanes(40); }

TEST(AttributionStepsTest, EventsOfOneNodeInManyStepsKeepTheirCallsAndEnergy) {
  // One node called in step 0, outside any step (-1), and with step ids the
  // trace has no Step for (5 and 7): every call counts, all energy lands on
  // the node, and the per-step statistics see only the real step.
  Trace trace;
  trace.dialect = "test";
  trace.time_base = TimeBase::kMonotonic;
  trace.lanes.push_back({"CPU:0", "lane 0"});
  trace.steps.push_back({"step 0", 0, 100});
  NodeId op = trace.nodes.InternPath("m/op", NodeKind::kOp);
  trace.events.push_back({0, 100, op, 0, 0, Phase::kForward});
  trace.events.push_back({100, 200, op, 0, -1, Phase::kForward});
  trace.events.push_back({200, 300, op, 0, 5, Phase::kBackward});
  trace.events.push_back({300, 400, op, 0, 7, Phase::kForward});
  trace.events.push_back({400, 500, op, 0, 5, Phase::kBackward});
  auto p = Attribute(trace, OneJoulePerNs(500), AttributeOptions{});
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  const ProfileNode& n = p->nodes[p->Find("m/op")];
  EXPECT_EQ(n.calls, 5);
  EXPECT_NEAR(n.self_j[0], 500, 1e-9);
  EXPECT_EQ(n.phases[static_cast<int>(Phase::kBackward)].calls, 2);
  EXPECT_NEAR(n.phases[static_cast<int>(Phase::kBackward)].self_j[0], 200, 1e-9);
  EXPECT_EQ(n.phases[static_cast<int>(Phase::kForward)].calls, 3);
  EXPECT_EQ(p->meta.steps, 1);
  EXPECT_EQ(n.steps.n, 1);
  EXPECT_NEAR(n.steps.mean_j, 100, 1e-9);  // step 0 only
}

TEST(AttributionStepsTest, ManyStepsOfManyNodesEachKeepTheirOwnEnergy) {
  // 300 steps of 40 ops (more than a step table's first size, so the tables
  // grow): op k of step s runs 1 ns per (k + 1), so each op's energy over the
  // steps is exact, and the step mean of the scope is the step's length.
  Trace trace;
  trace.dialect = "test";
  trace.time_base = TimeBase::kMonotonic;
  trace.lanes.push_back({"CPU:0", "lane 0"});
  constexpr int kSteps = 300, kOps = 40;
  int64_t t = 0;
  for (int s = 0; s < kSteps; ++s) {
    const int64_t step_start = t;
    for (int k = 0; k < kOps; ++k) {
      NodeId op = trace.nodes.InternPath("m/op" + std::to_string(k), NodeKind::kOp);
      trace.events.push_back({t, t + k + 1, op, 0, s, Phase::kForward});
      t += k + 1;
    }
    trace.steps.push_back({"step " + std::to_string(s), step_start, t});
  }
  auto p = Attribute(trace, OneJoulePerNs(t), AttributeOptions{});
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  for (int k = 0; k < kOps; ++k) {
    const ProfileNode& n = p->nodes[p->Find("m/op" + std::to_string(k))];
    EXPECT_EQ(n.calls, kSteps);
    EXPECT_NEAR(n.self_j[0], kSteps * (k + 1.0), 1e-6);
    EXPECT_NEAR(n.steps.mean_j, k + 1.0, 1e-9);
    EXPECT_NEAR(n.steps.std_j, 0, 1e-9);
  }
  EXPECT_NEAR(p->nodes[p->Find("m")].steps.mean_j, kOps * (kOps + 1) / 2.0, 1e-9);
}

}  // namespace
}  // namespace smaragdine
