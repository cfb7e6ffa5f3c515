// Recording: the library's run directory, sampling and run.json, as `record`
// and live sessions use it. The CPU-time model is forced, so these run on any
// machine (with or without readable counters) and sysfs is an empty directory.
#include "smaragdine/recording.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class RecordingTest : public ::testing::Test {
 protected:
  RecordingOptions Options() const {
    RecordingOptions o;
    o.dir = run_;
    o.sampling.forced_sources = {"model"};
    o.sampling.sources.roots.sysfs = tmp_.path() + "/no-sysfs";
    o.sampling.sources.roots.dev = tmp_.path() + "/no-dev";
    o.sampling.slow_period_ns = 5'000'000;
    o.command = {"test", "workload"};
    return o;
  }
  // Some CPU time for the model to see.
  static void Spin(int64_t ns) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
    volatile double x = 0;
    while (std::chrono::steady_clock::now() < end) x = x + 1;
  }

  testing::TempDir tmp_;
  std::string run_ = tmp_.path() + "/sub/run";
};

TEST_F(RecordingTest, WritesARunDirectoryThatReadsBackWithTheWorkloadInside) {
  auto rec = Recording::Start(Options());
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  EXPECT_EQ((*rec)->dir(), fs::absolute(run_).lexically_normal().string());
  ASSERT_FALSE((*rec)->meta().domains.empty());
  EXPECT_TRUE((*rec)->meta().started_ns.has_value());
  // Start() returns once every domain has a first reading.
  for (const DomainTally& t : (*rec)->Snapshot()) EXPECT_GT(t.readings, 0);
  // A run killed from here on is readable: run.json exists already.
  EXPECT_TRUE(fs::exists(run_ + "/run.json"));
  Spin(60'000'000);
  RecordingSummary s = (*rec)->Stop(3);
  EXPECT_TRUE(s.errors.empty()) << s.errors.front().ToString();
  EXPECT_EQ(s.meta.exit_code, 3);
  ASSERT_TRUE(s.meta.ended_ns && s.meta.started_ns);
  EXPECT_GT(*s.meta.ended_ns, *s.meta.started_ns);
  ASSERT_EQ(s.tallies.size(), s.meta.domains.size());
  EXPECT_GT(s.tallies[0].energy_j, 0);
  ASSERT_TRUE(s.cpu.has_value());
  EXPECT_GT(s.cpu->samples, 0);

  auto log = ReadRunDirectory(run_);
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 3);
  EXPECT_EQ(log->pid, getpid());
  EXPECT_EQ(log->command, (std::vector<std::string>{"test", "workload"}));
  EXPECT_FALSE(log->cpu_time.empty());
  ASSERT_FALSE(log->series.empty());
  // The readings cover the workload: from before started_ns to after ended_ns - a period.
  EXPECT_LE(log->series[0].StartNs(), *log->started_ns);
  EXPECT_GE(log->series[0].EndNs(), *log->ended_ns - 5'000'000);
}

TEST_F(RecordingTest, ANonEmptyDirectoryIsRefusedOrItsOwnFilesReplaced) {
  fs::create_directories(run_);
  std::ofstream(run_ + "/run.json") << "{\"old\": true}\n";
  std::ofstream(run_ + "/trace.json") << "[]\n";
  auto refused = Recording::Start(Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kBadInput);
  EXPECT_THAT(refused.error().message, HasSubstr("not empty (run.json, trace.json)"));
  EXPECT_FALSE(fs::exists(run_ + "/energy.csv"));

  RecordingOptions o = Options();
  o.existing = ExistingRunDirectory::kReplaceOwnFiles;
  auto rec = Recording::Start(o);
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  ASSERT_EQ((*rec)->diagnostics().warnings().size(), 1u);
  EXPECT_THAT((*rec)->diagnostics().warnings()[0],
              HasSubstr("one entry is left in the run directory from before: trace.json"));
  EXPECT_TRUE((*rec)->Stop(0).errors.empty());
  EXPECT_TRUE(ReadRunDirectory(run_).ok());
  std::ifstream kept(run_ + "/trace.json");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(kept), {}), "[]\n");
}

TEST_F(RecordingTest, AnUnknownSourceIsAUsageErrorAndLeavesNoFiles) {
  RecordingOptions o = Options();
  o.sampling.forced_sources = {"thermometer"};
  auto rec = Recording::Start(o);
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.error().code, ErrorCode::kUsage);
  EXPECT_THAT(rec.error().message, HasSubstr("thermometer"));
  EXPECT_FALSE(fs::exists(run_ + "/energy.csv"));
}

TEST_F(RecordingTest, WithoutCpuTimeThereIsNoCputimeCsv) {
  RecordingOptions o = Options();
  o.record_cpu_time = false;
  auto rec = Recording::Start(o);
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  RecordingSummary s = (*rec)->Stop();
  EXPECT_FALSE(s.cpu.has_value());
  EXPECT_FALSE(fs::exists(run_ + "/cputime.csv"));
  auto log = ReadRunDirectory(run_);
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_FALSE(log->exit_code.has_value());  // Stop() without one
}

TEST_F(RecordingTest, BaselineIsMeasuredBeforeStartReturns) {
  RecordingOptions o = Options();
  o.baseline_s = 0.05;
  auto rec = Recording::Start(o);
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  const EnergyLog& meta = (*rec)->meta();
  ASSERT_FALSE(meta.domains.empty());
  const auto b = meta.baseline_w.find(meta.domains[0].name);
  ASSERT_NE(b, meta.baseline_w.end());
  // The model's idle power is 10 W, and this process draws some CPU time on top.
  EXPECT_GE(b->second, 9.0);
  EXPECT_LT(b->second, 1000.0);
  EXPECT_TRUE((*rec)->Stop(0).errors.empty());
}

TEST_F(RecordingTest, StoppingTwiceIsAnError) {
  auto rec = Recording::Start(Options());
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  EXPECT_TRUE((*rec)->Stop(0).errors.empty());
  RecordingSummary again = (*rec)->Stop(0);
  ASSERT_EQ(again.errors.size(), 1u);
  EXPECT_EQ(again.errors[0].code, ErrorCode::kUsage);
}

}  // namespace
}  // namespace smaragdine
