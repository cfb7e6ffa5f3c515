// The issue-3 end-to-end check: `smaragdine record` runs a real PyTorch training script that
// writes a torch.profiler trace, then `account` and `report` turn it into a breakdown.
// Only the CPU-time model is available (sysfs and /dev point at an empty directory, NVML at
// a missing file), so the figures are MODELED on every machine, CI included.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr const char* kPython = "/usr/bin/python3";

std::string Script() {
  return std::string(SMARAGDINE_TEST_DATA) + "/../record_torch/train_small.py";
}

// Sum over every node's self energy in one phase: each joule counted once.
double PhaseSelfJ(const Profile& p, Phase phase) {
  double s = 0;
  for (const ProfileNode& n : p.nodes) {
    s += PhaseFigures::SumOf(n.phases[static_cast<int>(phase)].self_j);
  }
  return s;
}

TEST(RecordTorchTest, RecordAccountReportOnARealTorchProfilerScript) {
  TempDir tmp;
  const auto t0 = std::chrono::steady_clock::now();
  // CI installs Debian's python3-torch; a machine without it must not pass silently.
  testing::Ran probe = testing::Run({kPython, "-c", "import torch"}, tmp.path());
  ASSERT_EQ(probe.status, 0) << kPython << " cannot import torch (" << probe.err
                             << "): run scripts/install-deps.sh, which installs python3-torch";

  const std::string empty = tmp.path() + "/empty";
  std::filesystem::create_directories(empty);
  const std::string run = tmp.path() + "/run";
  testing::Ran rec = testing::Run(
      {SMARAGDINE_BINARY, "record", "-o", run, "--sysfs-root", empty, "--dev-root", empty,
       "--nvml-library", tmp.path() + "/no-libnvidia-ml.so.1", "--", kPython, Script()},
      tmp.path());
  ASSERT_EQ(rec.status, 0) << rec.err;
  EXPECT_THAT(rec.err, HasSubstr("MODELED"));

  // The script's anchor puts the profiler's time 0 while the script ran.
  const std::string anchor = testing::ReadText(run + "/trace_start_ns");
  ASSERT_FALSE(anchor.empty()) << "train_small.py wrote no " << run << "/trace_start_ns";
  const int64_t trace_start_ns = std::stoll(anchor);
  auto log = ReadEnergy(run, EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_TRUE(log->started_ns && log->ended_ns);
  EXPECT_GT(trace_start_ns, *log->started_ns);
  EXPECT_LT(trace_start_ns, *log->ended_ns);

  const std::string profile_path = run + "/profile.json";
  testing::Ran acc = testing::Run(
      {SMARAGDINE_BINARY, "account", "--energy", run, "--trace", run + "/trace.json",
       "--trace-start-ns", std::to_string(trace_start_ns), "-o", profile_path},
      tmp.path());
  ASSERT_EQ(acc.status, 0) << acc.err << acc.out;

  auto p = ReadProfileJson(profile_path);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->meta.dialect, "pytorch-legacy");
  EXPECT_EQ(p->meta.steps, 3);
  ASSERT_EQ(p->domains.size(), 1u);
  EXPECT_TRUE(p->domains[0].modeled);
  EXPECT_EQ(p->domains[0].source, "model");

  // The record_function scopes, with the aten ops of the layers under them.
  for (const char* scope : {"encoder", "head"}) {
    SCOPED_TRACE(scope);
    const int64_t i = p->Find(scope);
    ASSERT_GE(i, 0);
    EXPECT_EQ(p->nodes[i].kind, NodeKind::kScope);
    EXPECT_EQ(p->nodes[i].calls, 3);  // once per step
    EXPECT_GT(p->nodes[i].TotalJ(), 0.0);
    const int64_t linear = p->Find(std::string(scope) + "/aten::linear");
    ASSERT_GE(linear, 0);
    EXPECT_EQ(p->nodes[linear].kind, NodeKind::kOp);
    EXPECT_GT(p->nodes[linear].TotalJ(), 0.0);
    EXPECT_GE(p->Find(std::string(scope) + "/aten::linear/aten::addmm"), 0);
  }
  // Two layers in the encoder, one in the head: the encoder does ~100× the head's work.
  EXPECT_GT(p->nodes[p->Find("encoder")].TotalJ(), p->nodes[p->Find("head")].TotalJ());
  EXPECT_GT(PhaseSelfJ(*p, Phase::kForward), 0.0);
  EXPECT_GT(PhaseSelfJ(*p, Phase::kBackward), 0.0);

  // Conservation: every joule measured in the window is on a node or idle.
  for (size_t d = 0; d < p->domains.size(); ++d) {
    const double measured_j = p->domains[d].measured_j;
    EXPECT_GT(measured_j, 0.0);
    EXPECT_NEAR(p->nodes[0].total_j[d] + p->domains[d].idle_j, measured_j, 1e-9 * measured_j);
  }

  testing::Ran rep = testing::Run({SMARAGDINE_BINARY, "report", profile_path}, tmp.path());
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_THAT(rep.out, HasSubstr("MODELED"));
  EXPECT_THAT(rep.out, HasSubstr("encoder"));
  EXPECT_THAT(rep.out, HasSubstr("head"));
  EXPECT_THAT(rep.out, HasSubstr("aten::addmm"));

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("wall_s", std::to_string(seconds));
  // ~5 s on a busy 2-core machine (most of it importing torch); a hang or a much slower
  // script shows here before CI's timeout does.
  EXPECT_LT(seconds, 60.0) << "took " << seconds << " s; meant to take < 20 s";
}

}  // namespace
}  // namespace smaragdine
