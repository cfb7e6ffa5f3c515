// The profile's tree arithmetic (src/profile/tree.h) and the lane-metering
// rule: one roll-up, nodes from a NodeTable, step statistics, and the
// timeline's record of which lanes each domain metered.
#include <gtest/gtest.h>

#include <cmath>
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
