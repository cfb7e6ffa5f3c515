// A simulated 3-machine × 2-rank job (issue 13): each machine accounted on its
// own from its files, then merged. Per machine, the ranks' energy plus (idle)
// equals what that machine's meter measured, and equals the simulator's exact
// figure; a missing machine fails the merge with exit 2's error, or merges
// with a warning under --allow-partial.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/sim_util.h"
#include "smaragdine/account.h"
#include "smaragdine/profile.h"
#include "smaragdine/simulate.h"

namespace smaragdine {
namespace {

namespace fs = std::filesystem;

SimScenario JobScenario() {
  SimScenario sc = *ScenarioPreset("concurrent");
  sc.steps = 3;
  return sc;
}

// account for one machine's directory: its run/ and all its ranks' traces.
Result<Profile> AccountMachine(const std::string& dir) {
  std::vector<std::string> traces;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.path().filename().string().starts_with("rank-")) traces.push_back(e.path().string());
  std::sort(traces.begin(), traces.end());
  AccountOptions o;
  o.attribute = simtest::ProportionalOptions();
  return AccountRun(dir + "/run", traces, o);
}

TEST(SimJobTest, EachMachineRanksCarryTheirRankAndTheirMachinesClock) {
  auto job = SimulateJob(JobScenario(), SimJobShape{3, 2});
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  ASSERT_EQ(job->size(), 3u);
  for (size_t m = 0; m < 3; ++m) {
    ASSERT_EQ((*job)[m].rank_traces.size(), 2u);
    EXPECT_EQ((*job)[m].rank_traces[1].first, "rank-" + std::to_string(2 * m + 1) + ".pt.trace.json");
    EXPECT_NE((*job)[m].rank_traces[0].second.find("\"world_size\": 6"), std::string::npos);
  }
  // Machines' clocks are far apart: their monotonic windows do not even overlap.
  EXPECT_GT((*job)[1].sim.truth.window_start_ns, (*job)[0].sim.truth.window_end_ns);
}

TEST(SimJobTest, AccountedPerMachineAndMergedEveryMachineIsConserved) {
  const std::string dir = simtest::TempDir("sim-job");
  auto job = SimulateJob(JobScenario(), SimJobShape{3, 2});
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE(WriteSimulatedJob(*job, dir).ok());
  std::vector<std::string> profiles;
  for (size_t m = 0; m < job->size(); ++m) {
    const std::string node_dir = dir + "/" + (*job)[m].host;
    auto p = AccountMachine(node_dir);
    ASSERT_TRUE(p.ok()) << p.error().ToString();
    ASSERT_EQ(p->processes.size(), 2u);
    EXPECT_EQ(p->processes[0].rank, static_cast<int32_t>(2 * m));
    EXPECT_EQ(p->meta.host, (*job)[m].host);
    // This machine's measured energy is the simulator's exact one.
    const SimTruth& truth = (*job)[m].sim.truth;
    for (size_t d = 0; d < p->domains.size(); ++d)
      EXPECT_NEAR(p->domains[d].measured_j, truth.measured_j[d],
                  truth.measured_tolerance_j[d] + 1e-9)
          << (*job)[m].host << " " << p->domains[d].name;
    profiles.push_back(node_dir + "/profile.json");
    ASSERT_TRUE(WriteProfileJson(*p, profiles.back()).ok());
  }
  auto merged = MergeProfiles(profiles, {});
  ASSERT_TRUE(merged.ok()) << merged.error().ToString();
  ASSERT_EQ(merged->machines.size(), 3u);
  ASSERT_EQ(merged->processes.size(), 6u);
  const size_t nd = merged->domains.size();
  double all_measured = 0;
  for (size_t m = 0; m < 3; ++m) {
    const ProfileMachine& mach = merged->machines[m];
    for (const ProfileDomain& d : mach.domains) {
      size_t jd = 0;
      while (merged->domains[jd].name != d.name) ++jd;
      double ranks_j = 0;
      for (uint32_t q : mach.processes) ranks_j += merged->nodes[0].process_total_j[q * nd + jd];
      // Per machine: its ranks + its idle + its other processes = its measured energy.
      EXPECT_NEAR(ranks_j + d.idle_j + d.other_j, d.measured_j, 1e-9 * std::max(1.0, d.measured_j))
          << mach.host << " " << d.name;
      all_measured += d.measured_j;
    }
  }
  EXPECT_NEAR(merged->MeasuredJ(), all_measured, 1e-9 * all_measured);

  // A machine's profile missing: an error naming the ranks, or a warning.
  const std::vector<std::string> two = {profiles[0], profiles[2]};
  auto partial = MergeProfiles(two, {});
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.error().ToString().find("no input has ranks 2-3"), std::string::npos)
      << partial.error().ToString();
  MergeOptions allow;
  allow.allow_partial = true;
  partial = MergeProfiles(two, allow);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->machines.size(), 2u);
  EXPECT_EQ(partial->diagnostics.Count("merge.rank_missing"), 2);
}

TEST(SimJobTest, ShapesAndProgramsItCannotMakeAreUsageErrors) {
  EXPECT_FALSE(SimulateJob(JobScenario(), SimJobShape{0, 2}).ok());
  EXPECT_FALSE(SimulateJob(JobScenario(), SimJobShape{2, 65}).ok());
  SimScenario bert = *ScenarioPreset("bert-rapl");
  auto r = SimulateJob(bert, SimJobShape{2, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUsage);
}

}  // namespace
}  // namespace smaragdine
