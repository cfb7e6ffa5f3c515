// Ranks (issue 13): a job's processes on one machine, each with its own lanes,
// share the machine's domains once; every node carries its per-rank figures,
// and those add up to the node's own.
#include <gtest/gtest.h>

#include <cmath>

#include "account/attribute_fixture_util.h"
#include "smaragdine/account.h"
#include "smaragdine/report.h"

namespace smaragdine {
namespace {

constexpr int64_t T = 100'000'000;  // 100 ms

struct TwoRanks : testing::AttributeFixture {
  uint32_t cpu0, cpu1, gpu1;
  TwoRanks() : AttributeFixture("run") {
    for (int r = 0; r < 2; ++r) {
      Process p;
      p.pid = 1000 + r;
      p.rank = r;
      p.world_size = 2;
      p.local_rank = r;
      p.host = "node-a";
      trace.processes.push_back(p);
    }
    cpu0 = Lane("CPU:0", 0);
    cpu1 = Lane("CPU:0", 1);
    gpu1 = Lane("GPU:1", 1);
    // Both ranks run the same model; rank 1 is slower and also uses its GPU.
    Op(cpu0, "net/fc1/aten::mm", 0, T);
    Op(cpu0, "net/fc2/aten::mm", T, 2 * T);
    Op(cpu1, "net/fc1/aten::mm", 0, 2 * T);
    Op(cpu1, "net/fc2/aten::mm", 2 * T, 3 * T);
    Op(gpu1, "net/fc2/aten::mm/gemm_kernel", 2 * T, 3 * T);
    Domain("package-0", "CPU:0", {{0, 0}, {T, 10}, {2 * T, 20}, {3 * T, 30}, {4 * T, 40}});
    Domain("gpu1", "GPU:1", {{0, 0}, {4 * T, 80}});
  }
  uint32_t Lane(const std::string& device, int32_t process) {
    const uint32_t l = AddLane(device);
    trace.lanes[l].process = process;
    return l;
  }
};

// Sum over processes of a node's per-process total in domain d.
double SumOverProcesses(const Profile& p, const ProfileNode& n, size_t d) {
  const size_t nd = p.domains.size();
  double s = 0;
  for (size_t r = 0; r < p.processes.size(); ++r) s += n.process_total_j[r * nd + d];
  return s;
}

const ProfileNode& NodeAt(const Profile& p, const std::string& path) {
  const int64_t i = p.Find(path);
  EXPECT_GE(i, 0) << path;
  return p.nodes[static_cast<size_t>(std::max<int64_t>(i, 0))];
}

TEST(RanksTest, EveryNodeHasPerRankFiguresThatAddUpToItsOwn) {
  TwoRanks f;
  Profile p = f.Run();
  ASSERT_EQ(p.processes.size(), 2u);
  EXPECT_EQ(p.processes[1].Label(), "rank 1");
  for (const ProfileNode& n : p.nodes) {
    ASSERT_EQ(n.process_total_j.size(), 2 * p.domains.size()) << n.path;
    for (size_t d = 0; d < p.domains.size(); ++d)
      EXPECT_NEAR(SumOverProcesses(p, n, d), n.total_j[d], 1e-9) << n.path << " domain " << d;
    EXPECT_EQ(n.process_calls[0] + n.process_calls[1], n.calls) << n.path;
  }
  // fc1 ran 1 T on rank 0 and 2 T on rank 1: its busy time per rank says so.
  const ProfileNode& fc1 = NodeAt(p, "net/fc1");
  EXPECT_EQ(fc1.process_time_ns[0], T);
  EXPECT_EQ(fc1.process_time_ns[1], 2 * T);
}

TEST(RanksTest, TheSharedPackageIsCountedOnceAmongTheRanks) {
  TwoRanks f;
  Profile p = f.Run();
  const ProfileDomain& pkg = p.domains[0];
  const ProfileNode& root = p.nodes[0];
  // [0, 2T): both ranks active, 10 J per T split evenly; [2T, 3T): rank 1
  // alone (rank 0 is done); [3T, 4T): nobody, so (idle) — outside the window.
  EXPECT_NEAR(root.process_total_j[0 * 2 + 0], 10, 1e-9);       // rank 0: 5 + 5
  EXPECT_NEAR(root.process_total_j[1 * 2 + 0], 10 + 10, 1e-9);  // rank 1: 5 + 5 + 10
  // Per-rank energies plus (idle) plus (other processes) are the package's measured energy:
  // not twice the package, as two ranks each reading it would report.
  EXPECT_NEAR(root.process_total_j[0] + root.process_total_j[2] + pkg.idle_j + pkg.other_j,
              pkg.measured_j, 1e-9);
  EXPECT_NEAR(pkg.measured_j, 30, 1e-9);
}

TEST(RanksTest, AGpuDomainGoesToTheRankThatUsedThatGpu) {
  TwoRanks f;
  Profile p = f.Run();
  const ProfileNode& kernel = NodeAt(p, "net/fc2/aten::mm/gemm_kernel");
  const size_t nd = p.domains.size();
  EXPECT_EQ(kernel.process_total_j[0 * nd + 1], 0);
  EXPECT_NEAR(kernel.process_total_j[1 * nd + 1], kernel.total_j[1], 1e-12);
  EXPECT_GT(kernel.total_j[1], 0);
}

TEST(RanksTest, OneProcessThatNoLauncherNumberedKeepsNoPerProcessFigures) {
  testing::AttributeFixture f("run");
  Process only;
  only.pid = 42;
  f.trace.processes.push_back(only);
  const uint32_t l = f.AddLane("CPU:0");
  f.trace.lanes[l].process = 0;
  f.Op(l, "m/A", 0, T);
  f.Domain("package-0", "CPU:0", {{0, 0}, {T, 5}});
  Profile p = f.Run();
  EXPECT_TRUE(p.processes.empty());
  EXPECT_TRUE(p.nodes[0].process_total_j.empty());
}

TEST(RanksTest, FoldingMergesPerRankFiguresWithTheNodes) {
  TwoRanks f;
  Profile p = f.Run();
  // fc1 and fc2 folded into one "fc*" node: its per-rank energy is theirs together.
  Profile folded = MergeNodesByPath(p, [](const std::string& path) {
    std::string out = path;
    for (const char* from : {"fc1", "fc2"}) {
      const size_t at = out.find(from);
      if (at != std::string::npos) out.replace(at, 3, "fc*");
    }
    return out;
  });
  ASSERT_EQ(folded.processes.size(), 2u);
  const ProfileNode& fc = NodeAt(folded, "net/fc*");
  const size_t nd = folded.domains.size();
  for (size_t r = 0; r < 2; ++r)
    for (size_t d = 0; d < nd; ++d)
      EXPECT_NEAR(fc.process_total_j[r * nd + d],
                  NodeAt(p, "net/fc1").process_total_j[r * nd + d] +
                      NodeAt(p, "net/fc2").process_total_j[r * nd + d],
                  1e-9);
  // Rank 1's time: fc1 2 T, fc2 1 T on its thread plus 1 T of its kernel on the GPU lane.
  EXPECT_EQ(fc.process_time_ns[1], 4 * T);
  for (const ProfileNode& n : folded.nodes)
    for (size_t d = 0; d < nd; ++d)
      EXPECT_NEAR(SumOverProcesses(folded, n, d), n.total_j[d], 1e-9) << n.path;
}

}  // namespace
}  // namespace smaragdine
