// `account --timeline` and `report --format perfetto` from the command line,
// and the progress line's silence when stderr is not a terminal.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "report/cli_util.h"
#include "report/perfetto_util.h"
#include "smaragdine/profile.h"

namespace {

using smaragdine::testing::CliRun;
using smaragdine::testing::RunSmaragdine;
using smaragdine::testing::Slurp;

const std::string kExample = std::string(SMARAGDINE_TEST_DATA) + "/../../examples/bert-small";
const std::string kAccountExample = "account --energy " + kExample + "/run --trace " + kExample +
                                    "/pt2_bert-small_h100_inference.pt.trace.json.gz";

bool HasTerminalControl(const std::string& s) {
  return s.find('\r') != std::string::npos || s.find("\x1b[") != std::string::npos;
}

TEST(PerfettoCliTest, AccountKeepsTheTimelineAndReportWritesTheTrace) {
  const std::string dir = ::testing::TempDir();
  CliRun account = RunSmaragdine(kAccountExample + " --timeline auto -o " + dir + "/tl.profile.json");
  ASSERT_EQ(account.status, 0) << account.err;
  EXPECT_FALSE(HasTerminalControl(account.err)) << "progress on a file: " << account.err;
  EXPECT_FALSE(HasTerminalControl(account.out));

  CliRun report = RunSmaragdine("report " + dir + "/tl.profile.json --format perfetto -o " + dir +
                             "/run.perfetto.json");
  ASSERT_EQ(report.status, 0) << report.err;
  EXPECT_FALSE(HasTerminalControl(report.err)) << report.err;
  auto profile = smaragdine::ReadProfileJson(dir + "/tl.profile.json");
  ASSERT_TRUE(profile.ok());
  ASSERT_FALSE(profile->timeline.events.empty());
  smaragdine::testing::PerfettoSummary s =
      smaragdine::testing::CheckPerfetto(*profile, Slurp(dir + "/run.perfetto.json"));
  EXPECT_EQ(s.slices, profile->timeline.events.size());
}

// The trace is written as it is made; to a file, only a complete one replaces
// what was there, and standard output gets the same bytes.
TEST(PerfettoCliTest, TheFileIsReplacedOnlyByAWholeTrace) {
  const std::string dir = ::testing::TempDir() + "/whole_trace";
  CliRun account = RunSmaragdine(kAccountExample + " --timeline always -q -o " + dir + ".profile.json");
  ASSERT_EQ(account.status, 0) << account.err;
  const std::string out = dir + ".perfetto.json";
  CliRun to_file = RunSmaragdine("report " + dir + ".profile.json --format perfetto -o " + out);
  ASSERT_EQ(to_file.status, 0) << to_file.err;
  CliRun to_stdout = RunSmaragdine("report " + dir + ".profile.json --format perfetto");
  ASSERT_EQ(to_stdout.status, 0) << to_stdout.err;
  EXPECT_EQ(Slurp(out), to_stdout.out);
  EXPECT_GT(to_stdout.out.size(), 1000u);
  // A failed report leaves the earlier trace as it was, and no temporary file.
  CliRun bad = RunSmaragdine("report " + dir + ".profile.json --format perfetto --root no/such -o " + out);
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_EQ(Slurp(out), to_stdout.out);
  for (const auto& entry : std::filesystem::directory_iterator(::testing::TempDir()))
    EXPECT_EQ(entry.path().filename().string().find("whole_trace.perfetto.json.tmp"),
              std::string::npos)
        << entry.path();
  CliRun unwritable = RunSmaragdine("report " + dir +
                                    ".profile.json --format perfetto -o /nonexistent/dir/t.json");
  EXPECT_EQ(unwritable.status, 2) << unwritable.err;
  EXPECT_NE(unwritable.err.find("/nonexistent/dir/t.json"), std::string::npos) << unwritable.err;
}

TEST(PerfettoCliTest, TimelineNeverThenPerfettoIsBadInputWithTheFix) {
  const std::string dir = ::testing::TempDir();
  CliRun account =
      RunSmaragdine(kAccountExample + " --timeline never -q -o " + dir + "/no_tl.profile.json");
  ASSERT_EQ(account.status, 0) << account.err;
  EXPECT_EQ(account.err, "");
  CliRun report = RunSmaragdine("report " + dir + "/no_tl.profile.json --format perfetto");
  EXPECT_EQ(report.status, 2);
  EXPECT_NE(report.err.find("no_tl.profile.json"), std::string::npos) << report.err;
  EXPECT_NE(report.err.find("--timeline always"), std::string::npos) << report.err;
  EXPECT_EQ(report.out, "");
}

TEST(PerfettoCliTest, TimelineRejectsUnknownValues) {
  CliRun r = RunSmaragdine(kAccountExample + " --timeline sometimes -o /dev/null");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--timeline"), std::string::npos) << r.err;
}

}  // namespace
