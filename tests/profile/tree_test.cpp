// The profile's tree arithmetic (src/profile/tree.h) and the lane-metering
// rule: one roll-up, nodes from a NodeTable, step statistics, and the
// timeline's record of which lanes each domain metered.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "profile/tree.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

TEST(ProfileTreeTest, RollUpVisitsEveryChildBeforeItsParent) {
  // root ← a ← a/b, root ← c; parents before children, as NodeTable keeps them.
  const std::vector<int64_t> parent = {-1, 0, 1, 0};
  std::vector<double> total_j = {1, 2, 4, 8};
  std::vector<size_t> order;
  tree::RollUp(
      parent.size(), [&](size_t n) { return parent[n]; },
      [&](size_t p, size_t n) {
        order.push_back(n);
        total_j[p] += total_j[n];
      });
  EXPECT_EQ(order, (std::vector<size_t>{3, 2, 1}));
  EXPECT_EQ(total_j, (std::vector<double>{15, 6, 4, 8}));
}

TEST(ProfileTreeTest, NodesFromTableBuildPathsAsNodeTableDoes) {
  NodeTable table;
  const NodeId op = table.InternPath("bert/encoder//layer_0/MatMul", NodeKind::kOp);
  table.InternPath("bert/pooler", NodeKind::kScope);
  auto nodes = tree::NodesFromTable(table, 2);
  ASSERT_TRUE(nodes.ok()) << nodes.error().ToString();
  ASSERT_EQ(nodes->size(), table.size());
  EXPECT_EQ((*nodes)[0].parent, -1);
  EXPECT_EQ((*nodes)[0].path, "");
  for (NodeId n = 1; n < table.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ((*nodes)[n].path, table.Path(n));
    EXPECT_EQ((*nodes)[n].name, table.Name(n));
    EXPECT_EQ((*nodes)[n].parent, int64_t{table.Parent(n)});
    EXPECT_EQ((*nodes)[n].self_j.size(), 2u);
    EXPECT_EQ((*nodes)[n].phases[0].total_j.size(), 2u);
  }
  EXPECT_EQ((*nodes)[op].kind, NodeKind::kOp);
  EXPECT_EQ((*nodes)[op].path, "bert/encoder/layer_0/MatMul");
}

TEST(ProfileTreeTest, PhaseTotalsAreSelfPlusChildren) {
  NodeTable table;
  table.InternPath("a/b", NodeKind::kOp);
  table.InternPath("a/c", NodeKind::kOp);
  auto nodes = tree::NodesFromTable(table, 1);
  ASSERT_TRUE(nodes.ok());
  const int fwd = static_cast<int>(Phase::kForward);
  (*nodes)[table.Find("a")].phases[fwd].self_j[0] = 1;
  (*nodes)[table.Find("a/b")].phases[fwd].self_j[0] = 2;
  (*nodes)[table.Find("a/c")].phases[fwd].self_j[0] = 4;
  tree::RollUpPhaseTotals(*nodes);
  EXPECT_EQ((*nodes)[0].phases[fwd].total_j[0], 7);
  EXPECT_EQ((*nodes)[table.Find("a")].phases[fwd].total_j[0], 7);
  EXPECT_EQ((*nodes)[table.Find("a/c")].phases[fwd].total_j[0], 4);
}

TEST(ProfileTreeTest, StepStatsCountAStepWithoutEnergyAsZeroAndSkipUncountedSteps) {
  NodeTable table;
  const NodeId a = table.InternPath("a", NodeKind::kOp);
  const NodeId b = table.InternPath("b", NodeKind::kOp);
  auto nodes = tree::NodesFromTable(table, 1);
  ASSERT_TRUE(nodes.ok());
  // a: 1 J in step 0, 3 J in step 1; b: 2 J in step 1 only; step 2 not counted.
  std::vector<tree::StepPart> parts = {{1, a, 3}, {0, a, 1}, {1, b, 2}, {2, a, 100}};
  tree::FillStepStats(parts, {true, true, false}, 2, *nodes);
  EXPECT_EQ((*nodes)[a].steps.n, 2);
  EXPECT_DOUBLE_EQ((*nodes)[a].steps.mean_j, 2);
  EXPECT_DOUBLE_EQ((*nodes)[b].steps.mean_j, 1);
  EXPECT_DOUBLE_EQ((*nodes)[0].steps.mean_j, 3);  // root: 1 J, then 5 J
  EXPECT_NEAR((*nodes)[0].steps.std_j, 2.8284271247461903, 1e-12);
  EXPECT_NEAR((*nodes)[0].steps.ci95_j, tree::StudentT975(1) * 2.8284271247461903 / std::sqrt(2.0),
              1e-9);
}

// The step statistics as they were first written: every part sorted by
// (step, node), then each step's parts added up their ancestors in that order.
std::vector<StepStats> ReferenceStepStats(std::vector<tree::StepPart> parts,
                                          const std::vector<bool>& counted, int64_t steps_n,
                                          const std::vector<ProfileNode>& nodes) {
  std::sort(parts.begin(), parts.end(), [](const tree::StepPart& a, const tree::StepPart& b) {
    return a.step != b.step ? a.step < b.step : a.node < b.node;
  });
  std::vector<long double> sum(nodes.size(), 0), sum_sq(nodes.size(), 0);
  for (size_t p = 0; p < parts.size();) {
    std::vector<long double> inclusive(nodes.size(), 0);
    std::vector<bool> touched(nodes.size(), false);
    size_t q = p;
    for (; q < parts.size() && parts[q].step == parts[p].step; ++q) {
      if (!counted[parts[q].step]) continue;
      for (int64_t n = parts[q].node; n >= 0; n = nodes[n].parent) {
        inclusive[n] += parts[q].j;
        touched[n] = true;
      }
    }
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (!touched[n]) continue;
      sum[n] += inclusive[n];
      sum_sq[n] += inclusive[n] * inclusive[n];
    }
    p = q;
  }
  std::vector<StepStats> out(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    const long double mean = sum[n] / steps_n;
    out[n].mean_j = static_cast<double>(mean);
    out[n].std_j = static_cast<double>(std::sqrt(
        std::max<long double>(0, (sum_sq[n] - steps_n * mean * mean) / (steps_n - 1))));
  }
  return out;
}

// Parts of 40 steps (every fourth not counted) over a three-level tree, in a
// shuffled order, with (`ties`) or without two parts of one node in one step.
std::vector<tree::StepPart> ShuffledParts(const std::vector<NodeId>& leaves, bool ties,
                                          std::mt19937& rng) {
  std::vector<tree::StepPart> parts;
  std::uniform_real_distribution<double> joules(0.001, 3.0);
  for (int32_t step = 0; step < 40; ++step)
    for (NodeId leaf : leaves) {
      parts.push_back({step, leaf, joules(rng)});
      if (ties && rng() % 3 == 0) parts.push_back({step, leaf, joules(rng)});
    }
  std::shuffle(parts.begin(), parts.end(), rng);
  return parts;
}

TEST(ProfileTreeTest, StepStatsWithoutTiesHaveTheBitsOfTheSortedSummation) {
  NodeTable table;
  std::vector<NodeId> leaves;
  for (const char* path : {"m/l0/mm", "m/l0/add", "m/l1/mm", "m/l1/add", "m/head", "opt/sgd"})
    leaves.push_back(table.InternPath(path, NodeKind::kOp));
  leaves.push_back(table.Find("m/l0"));  // a scope with self energy of its own
  std::vector<bool> counted(40);
  for (size_t s = 0; s < counted.size(); ++s) counted[s] = s % 4 != 3;
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    auto nodes = tree::NodesFromTable(table, 1);
    ASSERT_TRUE(nodes.ok());
    std::vector<tree::StepPart> parts = ShuffledParts(leaves, false, rng);
    const std::vector<StepStats> want = ReferenceStepStats(parts, counted, 30, *nodes);
    tree::FillStepStats(parts, counted, 30, *nodes);
    for (size_t n = 0; n < nodes->size(); ++n) {
      EXPECT_EQ((*nodes)[n].steps.n, 30);
      EXPECT_EQ((*nodes)[n].steps.mean_j, want[n].mean_j) << "node " << n << " round " << round;
      EXPECT_EQ((*nodes)[n].steps.std_j, want[n].std_j) << "node " << n << " round " << round;
    }
  }
}

TEST(ProfileTreeTest, StepStatsAddAStepsPartsInNodeOrderWhateverTheirOrderInTheInput) {
  // 2^65 J on the first node and 2 J on each of 4096 later ones: in node
  // order each 2 J is half a long double ulp of 2^65 and rounds away (to
  // even), so the root's step holds exactly 2^65 J; the 2 J parts added
  // first would make it 2^65 + 8192 J, which a double still tells apart.
  NodeTable table;
  const NodeId big = table.InternPath("big", NodeKind::kOp);
  std::vector<tree::StepPart> parts;
  for (int i = 0; i < 4096; ++i)
    parts.push_back({0, table.InternPath("small" + std::to_string(i), NodeKind::kOp), 2});
  parts.push_back({0, big, std::ldexp(1.0L, 65)});  // last in the input
  auto nodes = tree::NodesFromTable(table, 1);
  ASSERT_TRUE(nodes.ok());
  tree::FillStepStats(parts, {true}, 1, *nodes);
  EXPECT_EQ((*nodes)[0].steps.mean_j, std::ldexp(1.0, 65));
  EXPECT_EQ((*nodes)[big].steps.mean_j, std::ldexp(1.0, 65));
}

TEST(ProfileTreeTest, StepStatsAddEveryPartOfANodeThatHasSeveralInOneStep) {
  NodeTable table;
  const NodeId a = table.InternPath("a", NodeKind::kOp);
  const NodeId b = table.InternPath("a/b", NodeKind::kOp);
  auto nodes = tree::NodesFromTable(table, 1);
  ASSERT_TRUE(nodes.ok());
  // b: forward 1 J and backward 2 J in step 0 (two parts, one node), 6 J in
  // step 1; a: 1 J of its own in step 1.
  std::vector<tree::StepPart> parts = {{1, b, 6}, {0, b, 1}, {1, a, 1}, {0, b, 2}};
  tree::FillStepStats(parts, {true, true}, 2, *nodes);
  EXPECT_DOUBLE_EQ((*nodes)[b].steps.mean_j, 4.5);  // 3 J, then 6 J
  EXPECT_DOUBLE_EQ((*nodes)[a].steps.mean_j, 5);    // 3 J, then 7 J
  EXPECT_DOUBLE_EQ((*nodes)[0].steps.mean_j, 5);
  EXPECT_NEAR((*nodes)[a].steps.std_j, 2.8284271247461903, 1e-12);

  // Many, shuffled: the same figures as the sorted summation, up to rounding.
  std::vector<NodeId> leaves;
  for (const char* path : {"m/l0/mm", "m/l0/add", "m/l1/mm", "m/head"})
    leaves.push_back(table.InternPath(path, NodeKind::kOp));
  std::vector<bool> counted(40, true);
  std::mt19937 rng(11);
  auto many = tree::NodesFromTable(table, 1);
  ASSERT_TRUE(many.ok());
  std::vector<tree::StepPart> tied = ShuffledParts(leaves, true, rng);
  const std::vector<StepStats> want = ReferenceStepStats(tied, counted, 40, *many);
  tree::FillStepStats(tied, counted, 40, *many);
  for (size_t n = 0; n < many->size(); ++n) {
    EXPECT_NEAR((*many)[n].steps.mean_j, want[n].mean_j, 1e-12 * std::fabs(want[n].mean_j));
    EXPECT_NEAR((*many)[n].steps.std_j, want[n].std_j, 1e-9 * std::fabs(want[n].mean_j) + 1e-15);
  }
}

Profile TwoDeviceProfile() {
  Profile p;
  p.domains.resize(3);
  p.domains[0].name = "cpu:0/package";
  p.domains[0].device = "CPU:0";
  p.domains[1].name = "cpu:1/package";
  p.domains[1].device = "CPU:1";
  p.domains[2].name = "gpu:0";
  p.domains[2].device = "GPU:0";
  p.timeline.lanes = {{"CPU:0", "thread 1"}, {"GPU:0", "stream 7"}, {"GPU:1", "stream 8"}};
  return p;
}

TEST(LaneMeteringTest, CpuDomainsMeterEveryCpuLaneAndGpuDomainsTheirOwn) {
  const Profile p = TwoDeviceProfile();
  EXPECT_TRUE(DomainMetersLane("CPU:1", p.timeline.lanes[0]));  // the socket is not known
  EXPECT_FALSE(DomainMetersLane("CPU:0", p.timeline.lanes[1]));
  EXPECT_TRUE(DomainMetersLane("GPU:0", p.timeline.lanes[1]));
  EXPECT_FALSE(DomainMetersLane("GPU:0", p.timeline.lanes[2]));
  const auto lanes = MeteredLanes(p.domains, p.timeline.lanes);
  ASSERT_EQ(lanes.size(), 3u);
  EXPECT_EQ(lanes[0], (std::vector<uint32_t>{0}));
  EXPECT_EQ(lanes[1], (std::vector<uint32_t>{0}));
  EXPECT_EQ(lanes[2], (std::vector<uint32_t>{1}));
}

TEST(LaneMeteringTest, AReadTimelineCarriesTheLanesEachDomainMeteredAndWritesNothingNew) {
  Profile p = TwoDeviceProfile();
  p.nodes.resize(1);
  p.nodes[0].ZeroEnergies(3);
  p.timeline.power.resize(3);
  for (size_t d = 0; d < 3; ++d) p.timeline.power[d].domain = p.domains[d].name;
  const std::string text = ProfileToJson(p);
  EXPECT_EQ(text.find("domain_lanes"), std::string::npos);
  auto back = ParseProfileJson("p.json", text);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->timeline.domain_lanes, MeteredLanes(p.domains, p.timeline.lanes));
}

// Reports follow what attribution recorded, not the rule: a timeline whose
// record says the GPU domain metered no lane keeps no event for it.
TEST(LaneMeteringTest, DomainProfileKeepsTheEventsOfTheLanesTheRecordNames) {
  Profile p = TwoDeviceProfile();
  p.nodes.resize(2);
  for (ProfileNode& n : p.nodes) n.ZeroEnergies(3);
  p.nodes[1].parent = 0;
  p.nodes[1].path = p.nodes[1].name = "k";
  p.nodes[1].self_j = {1, 1, 2};
  p.timeline.events = {{0, 10, 1, 0, -1, Phase::kOther, 2.0},   // CPU lane: both CPU domains
                       {0, 10, 1, 1, -1, Phase::kOther, 2.0}};  // GPU:0 lane
  p.timeline.domain_lanes = MeteredLanes(p.domains, p.timeline.lanes);
  Profile cpu1 = DomainProfile(p, 1);
  ASSERT_EQ(cpu1.timeline.events.size(), 1u);
  EXPECT_DOUBLE_EQ(cpu1.timeline.events[0].self_j, 1.0);  // half: its node's share of the two
  EXPECT_EQ(cpu1.timeline.domain_lanes, (std::vector<std::vector<uint32_t>>{{0}}));
  EXPECT_EQ(DomainProfile(p, 2).timeline.events.size(), 1u);
  p.timeline.domain_lanes[2].clear();
  EXPECT_TRUE(DomainProfile(p, 2).timeline.events.empty());
}

}  // namespace
}  // namespace smaragdine
