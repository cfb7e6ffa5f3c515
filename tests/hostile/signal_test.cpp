// Signals to `record` (issue 17, item 4): every terminating signal a handler can
// catch is forwarded to CMD and record finalises run.json; a killed record takes
// CMD with it instead of leaving it orphaned.
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hostile/hostile_util.h"
#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

using testing::ReadText;

// Item 4: a terminating signal sent to record reaches CMD, and record finalises
// run.json once CMD is done. Before: SIGHUP, SIGQUIT, SIGUSR1… killed record, so
// run.json had no exit_code, and CMD ran on, orphaned.
class SignalToRecordTest : public HostileRecordTest,
                           public ::testing::WithParamInterface<int> {};

TEST_P(SignalToRecordTest, IsForwardedToTheCommandAndRunJsonIsFinalised) {
  const int sig = GetParam();
  testing::Spawned p = testing::Spawn(
      Record({"/bin/sh", "-c",
              "trap 'exit 42' HUP INT QUIT USR1 USR2 PIPE ALRM TERM; "
              "while :; do sleep 0.02; done"}),
      tmp_.path());
  ASSERT_GT(p.pid, 0);
  ASSERT_TRUE(testing::WaitForFile(run_ + "/run.json", std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the shell sets its trap
  ::kill(p.pid, sig);
  const int status = testing::Wait(p.pid);
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  if (log->pid) ::kill(static_cast<pid_t>(*log->pid), SIGKILL);  // should it have survived
  EXPECT_EQ(status, 42) << strsignal(sig) << ": " << ReadText(p.err_path);
  EXPECT_EQ(log->exit_code, 42) << strsignal(sig);
}

INSTANTIATE_TEST_SUITE_P(Signals, SignalToRecordTest,
                         ::testing::Values(SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE,
                                           SIGALRM, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(sigabbrev_np(info.param));
                         });

// A real-time signal has no trap name in sh: CMD (sleep) dies of it, and the run
// says so (128 + the signal).
TEST_F(HostileRecordTest, RealTimeSignalIsForwardedToo) {
  testing::Spawned p = testing::Spawn(Record({"/bin/sleep", "30"}), tmp_.path());
  ASSERT_GT(p.pid, 0);
  ASSERT_TRUE(testing::WaitForFile(run_ + "/run.json", std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(p.pid, SIGRTMIN + 3);
  const int status = testing::Wait(p.pid);
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  if (log->pid) ::kill(static_cast<pid_t>(*log->pid), SIGKILL);
  EXPECT_EQ(status, 128 + SIGRTMIN + 3) << ReadText(p.err_path);
  EXPECT_EQ(log->exit_code, 128 + SIGRTMIN + 3);
}

bool Gone(pid_t pid) {
  const std::string stat = ReadText(fmt::format("/proc/{}/stat", pid));
  if (stat.empty()) return true;
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// Before: CMD ran on after record was killed (SIGKILL cannot be forwarded).
TEST_F(HostileRecordTest, RecordKilledTakesTheCommandWithIt) {
  testing::Spawned p = testing::Spawn(Record({"/bin/sleep", "30"}), tmp_.path());
  ASSERT_GT(p.pid, 0);
  ASSERT_TRUE(testing::WaitForFile(run_ + "/run.json", std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_TRUE(log->pid.has_value());
  const pid_t cmd = static_cast<pid_t>(*log->pid);
  ASSERT_FALSE(Gone(cmd));
  ::kill(p.pid, SIGKILL);
  EXPECT_EQ(testing::Wait(p.pid), 128 + SIGKILL);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!Gone(cmd) && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool gone = Gone(cmd);
  if (!gone) ::kill(cmd, SIGKILL);
  EXPECT_TRUE(gone) << "CMD (pid " << cmd << ") outlived record";
}

}  // namespace
}  // namespace smaragdine
