// Ranks (issue 13): a job's processes on one machine, each with its own lanes,
// share the machine's domains once; every node carries its per-rank figures,
// and those add up to the node's own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "account/attribute_fixture_util.h"
#include "account/process_share.h"
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


// CPU-time samples every T for a launcher (pid 999) and the two ranks (pids
// 1000, 1001): each T, rank 0 uses 60 ms, rank 1 20 ms, the launcher 20 ms,
// and the machine is busy with nothing else.
CpuTimeLog JobCpuTime(int samples) {
  CpuTimeLog c;
  const int64_t ms = 1'000'000;
  CpuTimeLog::Process launcher{999, {}, {}, 0}, r0{1000, {}, {}, 999}, r1{1001, {}, {}, 999};
  for (int k = 0; k < samples; ++k) {
    c.t_ns.push_back(k * T);
    c.tree_ns.push_back(k * 100 * ms);
    c.machine_busy_ns.push_back(k * 100 * ms);
    for (auto [proc, per_t] : {std::pair{&launcher, 20}, {&r0, 60}, {&r1, 20}}) {
      proc->sample.push_back(static_cast<uint32_t>(k));
      proc->cpu_ns.push_back(k * per_t * ms);
    }
  }
  c.processes = {launcher, r0, r1};
  c.threads = 3;
  return c;
}

// Both ranks run operators the whole time on one package (10 J per T).
struct BusyRanks : TwoRanks {
  BusyRanks() {
    log = EnergyLog{};
    log.path = "run";
    Restart();
    Domain("package-0", "CPU:0", {{0, 0}, {T, 10}, {2 * T, 20}, {3 * T, 30}, {4 * T, 40}});
    log.cpu_time = JobCpuTime(5);
    Op(cpu0, "net/fc1/aten::mm", 0, 4 * T);
    Op(cpu1, "net/fc1/aten::mm", 0, 4 * T);
  }
  // A trace of the two ranks' processes with a CPU lane each, and no events.
  void Restart() {
    trace = Trace{};
    trace.dialect = "test";
    trace.time_base = TimeBase::kMonotonic;
    for (int r = 0; r < 2; ++r) {
      Process p;
      p.pid = 1000 + r;
      p.rank = r;
      p.world_size = 2;
      trace.processes.push_back(p);
    }
    cpu0 = Lane("CPU:0", 0);
    cpu1 = Lane("CPU:0", 1);
  }
};

TEST(RanksTest, TheTreesPartOfTheCpuIsDividedByEachRanksOwnCpuTime) {
  BusyRanks f;
  AttributeOptions o;
  o.method = AttributionMethod::kProportional;
  Profile p = f.Run(o);
  const ProfileNode& root = p.nodes[0];
  const ProfileDomain& pkg = p.domains[0];
  // 40 J, all the tree's: rank 0 gets 60 %, rank 1 20 %; the launcher's 20 %
  // goes to whatever runs, both ranks' operators, 4 J each.
  EXPECT_NEAR(pkg.other_j, 0, 1e-9);
  EXPECT_NEAR(root.process_total_j[0], 24 + 4, 1e-9);
  EXPECT_NEAR(root.process_total_j[1], 8 + 4, 1e-9);
  EXPECT_NEAR(root.total_j[0] + pkg.idle_j + pkg.other_j, pkg.measured_j, 1e-9);
  EXPECT_NE(pkg.share.find("own CPU time"), std::string::npos) << pkg.share;
  EXPECT_FALSE(p.diagnostics.Count("account.ranks_without_cpu_time"));
}

TEST(RanksTest, RanksTheCpuTimeLogDoesNotKnowShareByTheirOperatorsAndSaySo) {
  BusyRanks f;
  for (Process& pr : f.trace.processes) pr.pid += 5000;  // e.g. another PID namespace
  AttributeOptions o;
  o.method = AttributionMethod::kProportional;
  Profile p = f.Run(o);
  EXPECT_NEAR(p.nodes[0].process_total_j[0], 20, 1e-9);
  EXPECT_NEAR(p.nodes[0].process_total_j[1], 20, 1e-9);
  EXPECT_EQ(p.diagnostics.Count("account.ranks_without_cpu_time"), 1);
}

TEST(RanksTest, ARankThatUsesCpuWithoutOperatorsLeavesItsPartIdle) {
  BusyRanks f;
  // Rank 1's operators stop at 2T, yet it keeps its 20 % of the CPU time.
  f.Restart();
  f.Op(f.cpu0, "net/fc1/aten::mm", 0, 4 * T);
  f.Op(f.cpu1, "net/fc1/aten::mm", 0, 2 * T);
  f.Op(f.cpu1, "net/tail", 4 * T - 1, 4 * T);  // keeps the window [0, 4T)
  AttributeOptions o;
  o.method = AttributionMethod::kProportional;
  Profile p = f.Run(o);
  const ProfileDomain& pkg = p.domains[0];
  // Rank 0: 24 J own + the launcher's 8 J: 1 J each T while both run (2 J),
  // 2 J each T alone (4 J) → 30 J; rank 1's own part after
  // 2T (4 J) finds none of its operators running: (idle).
  EXPECT_NEAR(p.nodes[0].process_total_j[0], 24 + 2 + 4, 1e-3);
  EXPECT_NEAR(pkg.idle_j, 4, 1e-3);
  EXPECT_NEAR(p.nodes[0].total_j[0] + pkg.idle_j + pkg.other_j, pkg.measured_j, 1e-9);
}

// A job whose rank 0 (1000) feeds itself through a DataLoader worker (1002),
// which runs a helper process of its own (1003), while the launcher (999)
// runs one (1004) that no rank started. Each T: launcher 5 ms, its helper 5
// ms, rank 0 20 ms, its worker 40 ms, the worker's helper 10 ms, rank 1 20
// ms, and the machine is busy with nothing else. `parent_rows`: whether
// cputime.csv said who started whom (files written before it did not).
CpuTimeLog JobWithWorkersCpuTime(int samples, bool parent_rows) {
  struct Proc {
    int64_t pid, parent_pid, ms_per_t;
  };
  const Proc procs[] = {{999, 0, 5},     {1000, 999, 20}, {1001, 999, 20},
                        {1002, 1000, 40}, {1003, 1002, 10}, {1004, 999, 5}};
  CpuTimeLog c;
  const int64_t ms = 1'000'000;
  for (const Proc& p : procs)
    c.processes.push_back(CpuTimeLog::Process{p.pid, {}, {}, parent_rows ? p.parent_pid : 0});
  for (int k = 0; k < samples; ++k) {
    c.t_ns.push_back(k * T);
    c.tree_ns.push_back(k * 100 * ms);
    c.machine_busy_ns.push_back(k * 100 * ms);
    for (size_t q = 0; q < c.processes.size(); ++q) {
      c.processes[q].sample.push_back(static_cast<uint32_t>(k));
      c.processes[q].cpu_ns.push_back(k * procs[q].ms_per_t * ms);
    }
  }
  c.threads = static_cast<int64_t>(c.processes.size());
  return c;
}

TEST(RanksTest, ARanksWorkersCpuTimeCountsAsTheRanks) {
  BusyRanks f;
  f.log.cpu_time = JobWithWorkersCpuTime(5, true);
  AttributeOptions o;
  o.method = AttributionMethod::kProportional;
  Profile p = f.Run(o);
  const ProfileNode& root = p.nodes[0];
  const ProfileDomain& pkg = p.domains[0];
  // 40 J, all the tree's. Rank 0 with its worker and the worker's helper:
  // 70 % (28 J); rank 1: 20 % (8 J); the launcher and its own helper, 10 %,
  // go to whatever runs: both ranks' operators, 2 J each.
  EXPECT_NEAR(pkg.other_j, 0, 1e-9);
  EXPECT_NEAR(root.process_total_j[0], 28 + 2, 1e-9);
  EXPECT_NEAR(root.process_total_j[1], 8 + 2, 1e-9);
  EXPECT_NEAR(root.process_total_j[0] + root.process_total_j[1] + pkg.idle_j + pkg.other_j,
              pkg.measured_j, 1e-9);
  EXPECT_NEAR(pkg.measured_j, 40, 1e-9);
  EXPECT_FALSE(p.diagnostics.Count("account.ranks_without_cpu_time"));
}

TEST(RanksTest, WithoutParentRowsWorkersCountWithTheRestAsBefore) {
  BusyRanks f;
  f.log.cpu_time = JobWithWorkersCpuTime(5, false);
  AttributeOptions o;
  o.method = AttributionMethod::kProportional;
  Profile p = f.Run(o);
  // Each rank its own 20 % (8 J); the other 60 % (24 J) to both ranks' operators.
  EXPECT_NEAR(p.nodes[0].process_total_j[0], 8 + 12, 1e-9);
  EXPECT_NEAR(p.nodes[0].process_total_j[1], 8 + 12, 1e-9);
}

// Each process counts with its nearest listed ancestor, itself included.
TEST(RanksTest, ProcessesCountWithTheirNearestListedAncestor) {
  CpuTimeLog c = JobWithWorkersCpuTime(3, true);
  auto cpu_ms_at_end = [&](const std::vector<int64_t>& pids) {
    std::vector<int64_t> out;
    for (const CpuTimeLog::Process& p : CpuTimeOfListedSubtrees(c, pids))
      out.push_back(p.CpuNsAt(2) / 1'000'000);
    return out;
  };
  // Two T: the ranks; rank 0 with its worker and the worker's helper.
  EXPECT_THAT(cpu_ms_at_end({1000, 1001}), ::testing::ElementsAre(140, 40));
  // The worker listed too: it keeps its helper, and rank 0 keeps only its own.
  EXPECT_THAT(cpu_ms_at_end({1000, 1001, 1002}), ::testing::ElementsAre(40, 40, 100));
  // The launcher listed: everything but what listed ranks started; an unknown pid: nothing.
  EXPECT_THAT(cpu_ms_at_end({999, 1000, 7}), ::testing::ElementsAre(60, 140, 0));
  EXPECT_EQ(CpuTimeOfListedSubtrees(c, {1002})[0].parent_pid, 1000);
  // Links that loop (PIDs the kernel reused) end nowhere instead of going round.
  c.processes[0].parent_pid = 1003;  // 999's parent is its own descendant's child
  EXPECT_THAT(cpu_ms_at_end({1001}), ::testing::ElementsAre(40));
  // Listed, 1003 ends every chain: the loop passes through it.
  EXPECT_THAT(cpu_ms_at_end({1003}), ::testing::ElementsAre(200));
}

// The parts SplitTreeByProcess makes add up to the series they divide, on
// random CPU-time logs (shares above 1 from jitter included), and a process
// the log does not know gets nothing.
TEST(RanksPropertyTest, PartsOfTheTreeAddUpToIt) {
  std::mt19937_64 rng(1313);
  for (int round = 0; round < 300; ++round) {
    EnergySeries tree;
    double e = 0;
    for (int64_t t = static_cast<int64_t>(rng() % 50) * 1'000'000; t < 2 * 1'000'000'000LL;
         t += (1 + static_cast<int64_t>(rng() % 40)) * 1'000'000) {
      tree.t_ns.push_back(t);
      tree.energy_j.push_back(e);
      e += std::uniform_real_distribution<double>(0, 3)(rng);
    }
    CpuTimeLog c;
    const int procs = 1 + static_cast<int>(rng() % 4);
    c.processes.resize(static_cast<size_t>(procs));
    for (int q = 0; q < procs; ++q) c.processes[static_cast<size_t>(q)].pid = 100 + q;
    int64_t tree_ns = 0;
    std::vector<int64_t> own(static_cast<size_t>(procs), 0);
    for (int64_t t = static_cast<int64_t>(rng() % 100) * 1'000'000; t < 2'200'000'000LL;
         t += (10 + static_cast<int64_t>(rng() % 30)) * 1'000'000) {
      const uint32_t k = static_cast<uint32_t>(c.t_ns.size());
      c.t_ns.push_back(t);
      c.tree_ns.push_back(tree_ns);
      c.machine_busy_ns.push_back(tree_ns);
      for (int q = 0; q < procs; ++q) {
        auto& pr = c.processes[static_cast<size_t>(q)];
        pr.sample.push_back(k);
        pr.cpu_ns.push_back(own[static_cast<size_t>(q)]);
        own[static_cast<size_t>(q)] += static_cast<int64_t>(rng() % 20) * 1'000'000;
      }
      tree_ns += static_cast<int64_t>(rng() % 50) * 1'000'000;  // sometimes < the processes'
    }
    std::vector<int64_t> pids = {100, 7};  // 7 is unknown
    for (int q = 1; q < procs; ++q) pids.push_back(100 + q);
    const std::vector<EnergySeries> parts = SplitTreeByProcess(tree, c, pids);
    ASSERT_EQ(parts.size(), pids.size() + 1);
    for (int64_t t : tree.t_ns) {
      double sum = 0;
      for (const EnergySeries& part : parts) {
        ASSERT_GE(part.EnergyAt(t), -1e-12);
        sum += part.EnergyAt(t);
      }
      ASSERT_NEAR(sum, tree.EnergyAt(t), 1e-9 * std::max(1.0, e)) << "round " << round;
    }
    EXPECT_EQ(parts[1].TotalJ(), 0);
  }
}


// CUDA_VISIBLE_DEVICES=2,3 when recorded: the program's cuda:1 is the
// machine's GPU 3, whose NVML domain is GPU:3; GPU:1's energy is no
// operator's (another job's GPU, or an idle one).
TEST(RanksTest, TheRunsCudaVisibleDevicesMapTheTracesGpusToTheMachines) {
  testing::AttributeFixture f("run");
  const uint32_t cpu = f.AddLane("CPU:0");
  const uint32_t gpu = f.AddLane("GPU:1");
  f.Op(cpu, "net/fc/aten::mm", 0, T);
  f.Op(gpu, "net/fc/aten::mm/gemm", 0, T);
  f.Domain("nvml:gpu3", "GPU:3", {{0, 0}, {T, 30}});
  f.Domain("nvml:gpu1", "GPU:1", {{0, 0}, {T, 50}});
  AccountOptions o;
  o.attribute.method = AttributionMethod::kProportional;
  Result<Profile> plain = Account(f.trace, f.log, o);
  ASSERT_TRUE(plain.ok()) << plain.error().ToString();
  EXPECT_NEAR(testing::SelfJ(*plain, "net/fc/aten::mm/gemm", 1), 50, 1e-9);  // taken as numbered

  f.log.launch.cuda_visible_devices = "2,3";
  Result<Profile> p = Account(f.trace, f.log, o);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_NEAR(testing::SelfJ(*p, "net/fc/aten::mm/gemm", 0), 30, 1e-9);
  EXPECT_NEAR(testing::SelfJ(*p, "net/fc/aten::mm/gemm", 1), 0, 1e-9);
  EXPECT_NEAR(p->domains[1].idle_j, 50, 1e-9);
  EXPECT_NE(p->meta.alignment.find("GPU:1 as GPU:3 (CUDA_VISIBLE_DEVICES=2,3 when recorded)"),
            std::string::npos)
      << p->meta.alignment;

  // Named by UUID: nothing to map by, so left as numbered, with a warning.
  f.log.launch.cuda_visible_devices = "GPU-8f6e0f1a-1b2c-4d5e-9f00-112233445566";
  p = Account(f.trace, f.log, o);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_NEAR(testing::SelfJ(*p, "net/fc/aten::mm/gemm", 1), 50, 1e-9);
  EXPECT_EQ(p->diagnostics.Count("account.gpus_not_renumbered"), 1);
}

}  // namespace
}  // namespace smaragdine
