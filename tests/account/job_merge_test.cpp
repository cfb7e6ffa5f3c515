// MergeProfiles (issue 13, items 3 and 5): a job of several machines, each
// accounted where it ran on its own clock, merged into one job profile whose
// per-machine figures are each conserved and whose ranks are all there.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "account/attribute_fixture_util.h"
#include "smaragdine/account.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

constexpr int64_t T = 100'000'000;  // 100 ms

// Machine m of a job with `machines` × 2 ranks: ranks 2m and 2m + 1 share its
// package; its clock starts at its own offset (never compared with another's).
Profile MachineProfile(int m, int machines, bool ranked = true) {
  testing::AttributeFixture f("run");
  const int64_t t0 = (m + 1) * 7'000 * T;  // each machine's own clock
  uint32_t lanes[2];
  for (int r = 0; r < 2; ++r) {
    Process p;
    p.pid = 100 + r;
    p.rank = ranked ? 2 * m + r : -1;
    p.world_size = ranked ? 2 * machines : -1;
    p.host = fmt::format("node-{}", m);
    f.trace.processes.push_back(p);
    lanes[r] = f.AddLane("CPU:0");
    f.trace.lanes[lanes[r]].process = r;
  }
  f.Op(lanes[0], "net/fc1/aten::mm", t0, t0 + T);
  f.Op(lanes[0], "net/fc2/aten::mm", t0 + T, t0 + 2 * T);
  f.Op(lanes[1], "net/fc1/aten::mm", t0, t0 + (2 + m) * T);  // later machines, slower rank
  f.Domain("package-0", "CPU:0",
           {{t0, 0}, {t0 + T, 10.0 + m}, {t0 + 2 * T, 20.0 + m}, {t0 + 4 * T, 50.0 + m}});
  Profile p = f.Run();
  p.meta.host = fmt::format("node-{}", m);
  return p;
}

std::string TempPath(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  return fmt::format("{}/{}-{}", tmp && *tmp ? tmp : "/tmp", getpid(), name);
}

std::vector<std::string> WriteJob(int machines, bool ranked = true) {
  std::vector<std::string> paths;
  for (int m = 0; m < machines; ++m) {
    paths.push_back(TempPath(fmt::format("node-{}.json", m)));
    EXPECT_TRUE(WriteProfileJson(MachineProfile(m, machines, ranked), paths.back()).ok());
  }
  return paths;
}

void RemoveAll(const std::vector<std::string>& paths) {
  for (const std::string& p : paths) std::remove(p.c_str());
}

TEST(JobMergeTest, ThreeMachinesOfTwoRanksEachConserveEnergyPerMachine) {
  const std::vector<std::string> inputs = WriteJob(3);
  auto job = MergeProfiles(inputs, {});
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  ASSERT_EQ(job->machines.size(), 3u);
  ASSERT_EQ(job->processes.size(), 6u);
  ASSERT_EQ(job->domains.size(), 1u);
  const size_t nd = 1;
  double machines_measured = 0;
  for (size_t m = 0; m < 3; ++m) {
    const ProfileMachine& mach = job->machines[m];
    EXPECT_EQ(mach.host, fmt::format("node-{}", m));
    ASSERT_EQ(mach.processes.size(), 2u);
    // This machine's ranks + its (idle) + its (other) = its measured energy.
    double ranks_j = 0;
    for (uint32_t q : mach.processes) {
      EXPECT_EQ(job->processes[q].host, mach.host);
      ranks_j += job->nodes[0].process_total_j[q * nd];
    }
    const ProfileDomain& d = mach.domains[0];
    EXPECT_NEAR(ranks_j + d.idle_j + d.other_j, d.measured_j, 1e-9) << mach.host;
    // Each machine's figures are the ones it had on its own.
    const Profile alone = MachineProfile(static_cast<int>(m), 3);
    EXPECT_NEAR(d.measured_j, alone.domains[0].measured_j, 1e-9);
    machines_measured += d.measured_j;
  }
  // The job's domain is the machines' sum, and conserved as a whole.
  EXPECT_NEAR(job->domains[0].measured_j, machines_measured, 1e-9);
  EXPECT_NEAR(job->nodes[0].total_j[0] + job->domains[0].idle_j + job->domains[0].other_j,
              job->domains[0].measured_j, 1e-9);
  // Every node's per-rank figures add up to it.
  for (const ProfileNode& n : job->nodes) {
    double s = 0;
    for (size_t q = 0; q < 6; ++q) s += n.process_total_j[q];
    EXPECT_NEAR(s, n.total_j[0], 1e-9) << n.path;
  }
  // Ranks keep their numbers and their busy time: rank 5 (machine 2, slow) ran fc1 for 4 T.
  const int64_t fc1 = job->Find("net/fc1");
  ASSERT_GE(fc1, 0);
  EXPECT_EQ(job->processes[5].rank, 5);
  EXPECT_EQ(job->nodes[fc1].process_time_ns[5], 4 * T);
  RemoveAll(inputs);
}

TEST(JobMergeTest, TheJobProfileReadsBackWithItsMachinesAndRanks) {
  const std::vector<std::string> inputs = WriteJob(2);
  auto job = MergeProfiles(inputs, {});
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  const std::string out = TempPath("job.json");
  ASSERT_TRUE(WriteProfileJson(*job, out).ok());
  auto back = ReadProfileJson(out);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->machines.size(), 2u);
  ASSERT_EQ(back->processes.size(), 4u);
  EXPECT_EQ(back->processes[3].Label(), "rank 3");
  EXPECT_EQ(back->processes[3].host, "node-1");
  EXPECT_EQ(ProfileToJson(*back), ProfileToJson(*job));
  RemoveAll(inputs);
  std::remove(out.c_str());
}

TEST(JobMergeTest, AMissingMachineIsAnErrorNamingItsRanksOrAWarningWithAllowPartial) {
  std::vector<std::string> inputs = WriteJob(3);
  std::remove(inputs[2].c_str());
  // The shell's runs/*/profile.json would simply not list it: the world size says it is missing.
  const std::vector<std::string> present = {inputs[0], inputs[1]};
  auto job = MergeProfiles(present, {});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.error().code, ErrorCode::kBadInput);
  EXPECT_NE(job.error().ToString().find("no input has ranks 4-5; the 2 inputs hold ranks 0-3"),
            std::string::npos)
      << job.error().ToString();
  EXPECT_TRUE(job.error().file.empty()) << "no input is at fault: " << job.error().file;

  MergeOptions partial;
  partial.allow_partial = true;
  job = MergeProfiles(present, partial);
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  EXPECT_EQ(job->processes.size(), 4u);
  EXPECT_EQ(job->diagnostics.Count("merge.rank_missing"), 2);

  // Named on the command line but gone: an error naming the file, or left out.
  job = MergeProfiles(inputs, {});
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.error().ToString().find(inputs[2]), std::string::npos) << job.error().ToString();
  job = MergeProfiles(inputs, partial);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->diagnostics.Count("merge.input_left_out"), 1);
  RemoveAll(inputs);
}

TEST(JobMergeTest, ACorruptInputAndARankGivenTwiceAreRefused) {
  std::vector<std::string> inputs = WriteJob(2);
  std::ofstream(inputs[1], std::ios::trunc) << "{\"format\": \"smaragdine-profile/1\", \"nodes\": [";
  auto job = MergeProfiles(inputs, {});
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.error().ToString().find(inputs[1]), std::string::npos);

  const std::vector<std::string> twice = {inputs[0], TempPath("copy.json")};
  ASSERT_TRUE(WriteProfileJson(MachineProfile(0, 2), twice[1]).ok());
  job = MergeProfiles(twice, {});
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.error().ToString().find("rank 0"), std::string::npos) << job.error().ToString();
  RemoveAll(inputs);
  std::remove(twice[1].c_str());
}

TEST(JobMergeTest, AnInputRefusedForADuplicateRankLeavesNoRankBehind) {
  std::vector<std::string> inputs = WriteJob(3);
  // Machine 2 claims ranks 4 and 2; machine 1 has 2 already: machine 2 is left
  // out whole, so both its ranks are missing, 4 and 5 (not 5 alone).
  Profile bad = MachineProfile(2, 3);
  bad.processes[1].rank = 2;
  ASSERT_TRUE(WriteProfileJson(bad, inputs[2]).ok());
  MergeOptions partial;
  partial.allow_partial = true;
  auto job = MergeProfiles(inputs, partial);
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  EXPECT_EQ(job->diagnostics.Count("merge.rank_missing"), 2);
  EXPECT_EQ(job->diagnostics.Count("merge.input_left_out"), 1);
  // One profile naming a rank twice is refused on its own.
  bad.processes[1].rank = 4;
  bad.processes[0].rank = 4;
  ASSERT_TRUE(WriteProfileJson(bad, inputs[2]).ok());
  auto twice = MergeProfiles({inputs[2]}, {});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().ToString().find("names rank 4 twice"), std::string::npos)
      << twice.error().ToString();
  RemoveAll(inputs);
}

TEST(JobMergeTest, MachinesWithoutRanksEachCountAsOneProcess) {
  // One-process machine profiles (no launcher): the profile has no per-process
  // figures, so each machine is one process of the job.
  std::vector<std::string> inputs;
  for (int m = 0; m < 2; ++m) {
    testing::AttributeFixture f("run");
    const uint32_t l = f.AddLane("CPU:0");
    f.Op(l, "net/fc1/aten::mm", 0, T);
    f.Domain("package-0", "CPU:0", {{0, 0}, {T, 3.0 + m}});
    Profile p = f.Run();
    p.meta.host = fmt::format("solo-{}", m);
    inputs.push_back(TempPath(fmt::format("solo-{}.json", m)));
    ASSERT_TRUE(WriteProfileJson(p, inputs.back()).ok());
  }
  auto job = MergeProfiles(inputs, {});
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  ASSERT_EQ(job->processes.size(), 2u);
  EXPECT_EQ(job->processes[1].host, "solo-1");
  EXPECT_NEAR(job->nodes[0].process_total_j[1], 4.0, 1e-9);
  EXPECT_NEAR(job->nodes[0].total_j[0], 7.0, 1e-9);
  RemoveAll(inputs);
}

}  // namespace
}  // namespace smaragdine
