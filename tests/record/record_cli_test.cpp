// `smaragdine record` end to end: the binary runs real commands on the CPU-time model
// (sysfs and /dev point at an empty directory and NVML at a missing file, so no
// hardware counter is found even on a machine that has them).
#include <pwd.h>
#include <signal.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

int64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// record with only the model available, then CMD.
class RecordCliTest : public testing::ModelOnlyRecordTest {};

TEST_F(RecordCliTest, ExitsWithTheCommandsStatusAndRecordsIt) {
  const std::string env_file = tmp_.path() + "/env.txt";
  testing::Ran r = testing::Run(
      Record({"/bin/sh", "-c", "echo \"$SMARAGDINE_RUN_DIR\" > \"$1\"; sleep 0.2; exit 3", "sh",
              env_file}),
      tmp_.path());
  EXPECT_EQ(r.status, 3) << r.err;
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 3);
  ASSERT_TRUE(log->pid.has_value());
  ASSERT_TRUE(log->started_ns && log->ended_ns);
  EXPECT_GT(*log->ended_ns - *log->started_ns, 150'000'000);
  EXPECT_EQ(log->command.at(0), "/bin/sh");
  EXPECT_GE(log->clock_sync.size(), 2u);
  ASSERT_EQ(log->domains.size(), 1u);
  EXPECT_EQ(log->domains[0].name, "cpu:0/package");
  EXPECT_EQ(log->domains[0].source, "model");
  EXPECT_TRUE(log->domains[0].modeled);
  // A sleeping shell costs ~idle power: 10 W by default, over the ~0.2 s recorded.
  const EnergySeries& s = log->series[0];
  const double seconds = (s.EndNs() - s.StartNs()) * 1e-9;
  EXPECT_GT(seconds, 0.15);
  EXPECT_NEAR(s.TotalJ() / seconds, 10.0, 3.0);
  // CMD learns where the run goes, as an absolute path.
  EXPECT_EQ(testing::ReadText(env_file),
            std::filesystem::canonical(run_).string() + "\n");
  EXPECT_THAT(r.err, HasSubstr("MODELED"));
  EXPECT_THAT(r.err, HasSubstr("smaragdine account --energy"));
}

TEST_F(RecordCliTest, CommandThatDoesNotExistIsExit2WithAMessage) {
  testing::Ran r = testing::Run(Record({"/nonexistent/train.py"}), tmp_.path());
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot run /nonexistent/train.py: No such file or directory"));
}

TEST_F(RecordCliTest, MissingCommandIsAUsageError) {
  testing::Ran r = testing::Run({SMARAGDINE_BINARY, "record", "-o", run_}, tmp_.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("record needs a command"));
}

TEST_F(RecordCliTest, UnknownSourceIsAUsageError) {
  testing::Ran r = testing::Run(Record({"/bin/true"}, {"--source", "bogus"}), tmp_.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("--source bogus"));
}

TEST_F(RecordCliTest, UserRunsTheCommandAsThatUserWhileRecordSamples) {
  if (geteuid() != 0) GTEST_SKIP() << "--user needs root; this test runs as uid " << geteuid();
  const passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "this machine has no user 'nobody'";
  const uid_t nobody_uid = nobody->pw_uid;
  const std::string nobody_home = nobody->pw_dir;
  testing::Ran r = testing::Run(
      Record({"/bin/sh", "-c", "id -u; id -g; echo \"$HOME $USER $LOGNAME\""}, {"--user", "nobody"}),
      tmp_.path());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, fmt::format("{}\n{}\n{} nobody nobody\n", nobody_uid, nobody->pw_gid,
                               nobody_home));
  // Sampling kept root: the run was recorded and the CPU time of nobody's process read.
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(run_ + "/cputime.csv"));
}

TEST_F(RecordCliTest, UserThatDoesNotExistIsExit2WithAMessage) {
  testing::Ran r =
      testing::Run(Record({"/bin/true"}, {"--user", "no-such-user-smg"}), tmp_.path());
  EXPECT_EQ(r.status, 2) << r.err;
  if (geteuid() == 0)
    EXPECT_THAT(r.err, HasSubstr("--user no-such-user-smg: no such user"));
  else
    EXPECT_THAT(r.err, HasSubstr("only root can run CMD as another user"));
}

TEST_F(RecordCliTest, CpuTimeOfTheCommandsThreadsIsRecorded) {
  // A CMD that burns 0.3 s of CPU (however busy the machine is): cputime.csv holds its
  // threads and the machine's busy time.
  testing::Ran r = testing::Run(
      Record({"/usr/bin/python3", "-c",
              "import time\nwhile time.process_time() < 0.3: pass"}),
      tmp_.path());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("CPU time: "));
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  const CpuTimeLog& c = log->cpu_time;
  ASSERT_FALSE(c.empty());
  EXPECT_GE(c.threads, 1);
  EXPECT_GE(c.t_ns.size(), 5u);  // every ~20 ms over 0.3 s, loosely
  // python was on a CPU for its 0.3 s (plus start-up); the machine was at least as busy
  // (up to a 10 ms tick of /proc/stat per CPU).
  EXPECT_GT(c.tree_ns.back(), 250'000'000);
  EXPECT_LT(c.tree_ns.back(), 2'000'000'000);
  EXPECT_GT(c.machine_busy_ns.back(), 0);
  const std::string text = testing::ReadText(run_ + "/cputime.csv");
  EXPECT_EQ(text.rfind("t_ns,thread,cpu_ns\n", 0), 0u);
  EXPECT_THAT(text, HasSubstr(fmt::format(",{}/{},", *log->pid, *log->pid)));
}

// A child of CMD gets a parent row naming CMD; account rejects a run whose
// parent row was damaged, naming the file and line, with exit status 2.
TEST_F(RecordCliTest, ChildProcessesGetAParentRowAndADamagedOneIsExit2) {
  testing::Ran r = testing::Run(Record({"/bin/sh", "-c", "sleep 0.3 & wait"}), tmp_.path());
  ASSERT_EQ(r.status, 0) << r.err;
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  const CpuTimeLog& c = log->cpu_time;
  const auto child = std::find_if(c.processes.begin(), c.processes.end(),
                                  [&](const CpuTimeLog::Process& p) { return p.pid != *log->pid; });
  ASSERT_NE(child, c.processes.end()) << testing::ReadText(run_ + "/cputime.csv");
  EXPECT_EQ(child->parent_pid, *log->pid);
  EXPECT_EQ(c.FindProcess(*log->pid)->parent_pid, 0);

  std::string text = testing::ReadText(run_ + "/cputime.csv");
  const std::string row = fmt::format(",parent:{},{}\n", child->pid, *log->pid);
  const size_t at = text.find(row);
  ASSERT_NE(at, std::string::npos) << text;
  const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + at, '\n'));
  text.replace(at, row.size(), fmt::format(",parent:{},-{}\n", child->pid, *log->pid));
  std::ofstream(run_ + "/cputime.csv") << text;
  const std::string trace = tmp_.path() + "/trace.json";
  std::ofstream(trace) << R"({"schemaVersion": 1, "traceEvents": [{"ph": "X", "cat": "cpu_op", )"
                          R"("name": "a", "pid": 1, "tid": 1, "ts": 0, "dur": 1000}]})";
  testing::Ran acc = testing::Run({SMARAGDINE_BINARY, "account", "--energy", run_, "--trace",
                                   trace, "-o", tmp_.path() + "/p.json"},
                                  tmp_.path());
  EXPECT_EQ(acc.status, 2) << acc.err;
  EXPECT_THAT(acc.err, HasSubstr(fmt::format("cputime.csv:{}: parent row of process {}: '-{}' is "
                                             "not the process id of another process",
                                             line, child->pid, *log->pid)));
}

TEST_F(RecordCliTest, CommandKilledBySignalIs128PlusSignal) {
  testing::Ran r = testing::Run(Record({"/bin/sh", "-c", "kill -9 $$"}), tmp_.path());
  EXPECT_EQ(r.status, 128 + SIGKILL);
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 128 + SIGKILL);
}

TEST_F(RecordCliTest, BaselineIsMeasuredBeforeTheCommandStarts) {
  testing::Ran r =
      testing::Run(Record({"/bin/true"}, {"--baseline-s", "0.2", "--model-idle-w", "7"}),
                   tmp_.path());
  EXPECT_EQ(r.status, 0) << r.err;
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_EQ(log->baseline_w.count("cpu:0/package"), 1u);
  // The held child burns no CPU: the modeled idle power alone.
  EXPECT_NEAR(log->baseline_w["cpu:0/package"], 7.0, 0.5);
  // started_ns is when CMD started, after the baseline.
  EXPECT_GT(*log->started_ns - log->series[0].StartNs(), 150'000'000);
}

TEST_F(RecordCliTest, SigintToRecordIsForwardedToTheCommand) {
  testing::Spawned p = testing::Spawn(
      Record({"/bin/sh", "-c", "trap 'exit 42' INT; while :; do sleep 0.02; done"}),
      tmp_.path());
  ASSERT_GT(p.pid, 0);
  ASSERT_TRUE(testing::WaitForFile(run_ + "/run.json", std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the shell sets its trap
  ::kill(p.pid, SIGINT);
  EXPECT_EQ(testing::Wait(p.pid), 42) << testing::ReadText(p.err_path);
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 42);
}

TEST_F(RecordCliTest, RecordKilledMidRunLeavesAReadableRunUpToTheLastFlush) {
  testing::Spawned p = testing::Spawn(Record({"/bin/sleep", "10"}), tmp_.path());
  ASSERT_GT(p.pid, 0);
  ASSERT_TRUE(testing::WaitForFile(run_ + "/run.json", std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t killed_ns = MonoNs();
  ::kill(p.pid, SIGKILL);
  EXPECT_EQ(testing::Wait(p.pid), 128 + SIGKILL);

  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_TRUE(log->pid.has_value());
  ::kill(static_cast<pid_t>(*log->pid), SIGKILL);  // the orphaned sleep
  EXPECT_FALSE(log->exit_code.has_value());  // the run.json written at start
  const EnergySeries& s = log->series.at(0);
  ASSERT_FALSE(s.empty());
  // Flushed every 50 ms: the readings reach to within a flush or two of the kill.
  EXPECT_GT(s.EndNs(), killed_ns - 250'000'000);
  EXPECT_LE(s.EndNs(), killed_ns);
  EXPECT_GT(s.EndNs() - s.StartNs(), 300'000'000);
}

TEST_F(RecordCliTest, PythonScriptWithTraceGivesAModeledBreakdown) {
  const std::string trace = tmp_.path() + "/trace.json";
  testing::Ran rec = testing::Run(
      Record({"/usr/bin/python3", std::string(SMARAGDINE_TEST_DATA) + "/../record/data/burn_and_trace.py",
              trace, "0.15"}),
      tmp_.path());
  ASSERT_EQ(rec.status, 0) << rec.err;
  const std::string profile = tmp_.path() + "/profile.json";
  testing::Ran acc = testing::Run(
      {SMARAGDINE_BINARY, "account", "--energy", run_, "--trace", trace, "-o", profile},
      tmp_.path());
  ASSERT_EQ(acc.status, 0) << acc.err << acc.out;
  testing::Ran rep = testing::Run({SMARAGDINE_BINARY, "report", profile}, tmp_.path());
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_THAT(rep.out, HasSubstr("MODELED"));
  EXPECT_THAT(rep.out, HasSubstr("aten::mm"));
  EXPECT_THAT(rep.out, HasSubstr("aten::add"));
  EXPECT_THAT(rep.out, HasSubstr("Linear_0"));
  // Each op burned one core for 0.15 s: 15 W busy + 10 W idle = 25 W, so ~3.75 J each.
  // (Loose: a loaded machine gives the script less than a full core.)
  auto log = ReadRun();
  ASSERT_TRUE(log.ok());
  EXPECT_GT(log->series[0].TotalJ(), 0.3 * 10.0);
}

}  // namespace
}  // namespace smaragdine
