// Hostile commands and faults under `record` (issue 17, item 1): what CMD plants
// in the run directory, a run directory that is not empty, a disk that fills up
// mid-run. Signals: signal_test.cpp.
//
// The --user and tmpfs tests need root (they make files owned by `nobody` and
// mount a small tmpfs) and skip with the reason otherwise.
#include <pwd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hostile/hostile_util.h"
#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::Ran;
using testing::ReadText;

// What a hostile CMD does in $SMARAGDINE_RUN_DIR: a link to `victim` at the name the
// code before this fix wrote run.json's temporary to (run.json.tmp.<record's pid>,
// record being CMD's parent), and run.json itself replaced by a link to `victim`.
std::vector<std::string> PlantLinks(const std::string& victim) {
  return {"/bin/sh", "-c",
          "cd \"$SMARAGDINE_RUN_DIR\" && ln -s \"$1\" run.json.tmp.$PPID && "
          "rm -f run.json && ln -s \"$1\" run.json && sleep 0.2",
          "sh", victim};
}

void ExpectVictimKeptAndRunFinalised(const std::string& victim, const std::string& run) {
  EXPECT_EQ(ReadText(victim), "precious\n") << "record wrote through a link CMD planted";
  struct stat st {};
  ASSERT_EQ(::lstat((run + "/run.json").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "run.json is not record's own file";
  auto log = ReadEnergy(run, EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 0);
}

// Before: record followed the link and overwrote the victim with run.json.
TEST_F(HostileRecordTest, LinksCmdPlantsInTheRunDirectoryAreNotFollowed) {
  const std::string victim = tmp_.path() + "/victim";
  std::ofstream(victim) << "precious\n";
  Ran r = testing::Run(Record(PlantLinks(victim)), tmp_.path());
  EXPECT_EQ(r.status, 0) << r.err;
  ExpectVictimKeptAndRunFinalised(victim, run_);
}

// The same as root with --user: the run directory is the user's, the victim
// root's (an /etc/shadow stand-in), and record must not write outside the run.
TEST_F(HostileRecordTest, UserCommandCannotMakeRootOverwriteAFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "--user needs root; this test runs as uid " << geteuid();
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "this machine has no user 'nobody'";
  const std::string victim = tmp_.path() + "/victim";
  std::ofstream(victim) << "precious\n";
  ::chmod(victim.c_str(), 0644);
  Ran r = testing::Run(Record(PlantLinks(victim), {"--user", "nobody"}), tmp_.path());
  EXPECT_EQ(r.status, 0) << r.err;
  ExpectVictimKeptAndRunFinalised(victim, run_);
  // record's own files stay root's; the directory is the user's.
  struct stat st {};
  ASSERT_EQ(::stat((run_ + "/energy.csv").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(::stat(run_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);
}

// The run directory is an OutputDirectory (src/common/output_file.h), as every
// output folder is: a link there is refused naming where it points (before, by
// record's own code, without the target), also with a trailing slash.
TEST_F(HostileRecordTest, RunDirectoryThatIsALinkIsRefused) {
  const std::string elsewhere = tmp_.path() + "/elsewhere";
  std::filesystem::create_directories(elsewhere);
  ASSERT_EQ(::symlink(elsewhere.c_str(), run_.c_str()), 0);
  Ran r = testing::Run(Record({"/bin/true"}), tmp_.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("the run directory is a symbolic link to " + elsewhere +
                               ": smaragdine does not write through links"));
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
  std::vector<std::string> slash = Record({"/bin/true"});
  for (std::string& arg : slash)
    if (arg == run_) arg += "/";
  Ran s = testing::Run(slash, tmp_.path());
  EXPECT_EQ(s.status, 2) << s.err;
  EXPECT_THAT(s.err, HasSubstr("the run directory is a symbolic link to " + elsewhere));
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
}

// Before: record overwrote energy.csv, cputime.csv and run.json of the run there
// and left its trace beside them, exit 0.
// Before: a non-UTF-8 argument was copied raw into run.json's "command", and
// every reader refused the file for it (JSON is UTF-8; simdjson checks): the
// run could never be accounted. Now such bytes are written as U+FFFD.
TEST_F(HostileRecordTest, NonUtf8ArgumentLeavesARunThatReads) {
  Ran r = testing::Run(Record({"/bin/true", "caf\xe9", "ok\xc3\xa9", "\xed\xa0\x80"}), tmp_.path());
  EXPECT_EQ(r.status, 0) << r.err;
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_EQ(log->command.size(), 4u);
  EXPECT_EQ(log->command[1], "caf\xef\xbf\xbd");  // one U+FFFD for the stray byte
  EXPECT_EQ(log->command[2], "ok\xc3\xa9");        // UTF-8 is kept
  EXPECT_EQ(log->command[3], "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate is not UTF-8
}

TEST_F(HostileRecordTest, NonEmptyRunDirectoryIsRefusedWithoutForce) {
  std::filesystem::create_directories(run_);
  std::ofstream(run_ + "/trace.json") << "[]\n";
  std::ofstream(run_ + "/run.json") << "{\"old\": true}\n";
  Ran refused = testing::Run(Record({"/bin/true"}), tmp_.path());
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("the run directory is not empty (run.json, trace.json)"));
  EXPECT_THAT(refused.err, HasSubstr("--force"));
  EXPECT_EQ(ReadText(run_ + "/run.json"), "{\"old\": true}\n");
  EXPECT_FALSE(std::filesystem::exists(run_ + "/energy.csv"));

  Ran forced = testing::Run(Record({"/bin/true"}, {"--force"}), tmp_.path());
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_THAT(forced.err, HasSubstr("one entry is left in the run directory from before: "
                                    "trace.json"));
  EXPECT_EQ(ReadText(run_ + "/trace.json"), "[]\n");
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 0);

  // An empty directory needs no --force.
  std::filesystem::remove_all(run_);
  std::filesystem::create_directories(run_);
  Ran empty = testing::Run(Record({"/bin/true"}), tmp_.path());
  EXPECT_EQ(empty.status, 0) << empty.err;
}

// Before: the summary's fmt::print threw on a full stderr and record aborted
// (exit 134) after the run was written. Messages are not output: CMD's status stands.
TEST_F(HostileRecordTest, FullStderrDoesNotChangeTheExitStatus) {
  const std::string full = CharDevice(tmp_.path(), "full", 7);
  Ran r = RunRedirected(Record({"/bin/sh", "-c", "exit 3"}), tmp_.path() + "/out.txt", full);
  EXPECT_EQ(r.status, 3);
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 3);
}

// A small tmpfs that CMD fills for a moment: energy.csv's writes fail mid-run.
class FullDiskRecordTest : public HostileRecordTest {
 protected:
  void SetUp() override {
    HostileRecordTest::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    mnt_ = tmp_.path() + "/mnt";
    std::filesystem::create_directories(mnt_);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0)
      GTEST_SKIP() << "cannot mount a tmpfs here: " << strerror(errno);
    mounted_ = true;
    run_ = mnt_ + "/run";
  }
  void TearDown() override {
    if (mounted_) ::umount2(mnt_.c_str(), MNT_DETACH);
  }
  std::string mnt_;
  bool mounted_ = false;
};

// Before: record exited 0 (CMD's status) with readings missing from energy.csv,
// and a torn row in its middle that account then rejected.
TEST_F(FullDiskRecordTest, EnergyLogWriteFailureMidRunFailsRecord) {
  Ran r = testing::Run(
      Record({"/bin/sh", "-c",
              "sleep 0.2; cat /dev/zero > \"$SMARAGDINE_RUN_DIR/fill\" 2>/dev/null; sleep 1; "
              "rm \"$SMARAGDINE_RUN_DIR/fill\"; sleep 0.2"},
             {"--rate-hz", "1000", "--slow-period-ms", "5"}),
      tmp_.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(run_ + "/energy.csv: writing the energy log failed"));
  EXPECT_THAT(r.err, HasSubstr("No space left on device"));
  // run.json was finalised once there was room, and energy.csv reads whole: the
  // failed writes left a gap, not a torn row.
  auto log = ReadRun();
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->exit_code, 0);
}

// A disk still full at the end: run.json cannot be finalised, and record says so.
TEST_F(FullDiskRecordTest, RunJsonThatCannotBeFinalisedFailsRecord) {
  Ran r = testing::Run(
      Record({"/bin/sh", "-c", "cat /dev/zero > \"$SMARAGDINE_RUN_DIR/fill\" 2>/dev/null; :"}),
      tmp_.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("run.json was not finalised"));
}

}  // namespace
}  // namespace smaragdine
