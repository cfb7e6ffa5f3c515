// `account --timeline` and `report --format perfetto` from the command line,
// and the progress line's silence when stderr is not a terminal.
#include <gtest/gtest.h>

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
