// Checked arithmetic on times (issue 17, item 6): clock alignment shifts every
// trace time by an offset made from run.json's clock pairs or from an option.
// Before, a pair or an offset near the int64 limits wrapped the times (signed
// overflow: undefined behaviour; in practice events thrown into the far past,
// reported as "no overlap" with a negative gap). Now each shift is checked and
// the command fails naming run.json and the pair, or the option.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/account.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Ran;
using testing::TempDir;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Trace OneEventTrace(TimeBase base, int64_t start, int64_t end) {
  Trace t;
  t.dialect = "test";
  t.time_base = base;
  t.lanes.push_back({"CPU:0", "thread 1"});
  t.events.push_back({start, end, t.nodes.InternPath("a/b", NodeKind::kOp), 0, 0, Phase::kForward});
  t.steps.push_back({"step", start, end});
  return t;
}

EnergyLog LogSpanning(int64_t start, int64_t end, Clock clock = Clock::kMonotonic) {
  EnergyLog log;
  log.path = "run";
  log.clock = clock;
  log.domains.push_back({"cpu:0/package", "CPU:0", "test", Quantity::kEnergy});
  log.series.push_back({{start, end}, {0, 1}});
  return log;
}

TEST(HostileTimeTest, ClockPairNearTheLimitsIsAnErrorNamingRunJson) {
  const int64_t t0 = 9'000'000'000'000'000'000;  // a realtime stamp near INT64_MAX
  struct Case {
    ClockSyncPair pair;
    const char* why;
  };
  for (const Case& c : {
           // realtime - offset passes INT64_MAX
           Case{{-9'000'000'000'000'000'000, 1'000'000'000}, "mapped time overflows"},
           // the offset itself passes the range
           Case{{kMax, kMin + 1}, "offset overflows"},
       }) {
    Trace t = OneEventTrace(TimeBase::kRealtime, t0, t0 + 1000);
    EnergyLog log = LogSpanning(1'000'000'000, 2'000'000'000);
    log.clock_sync = {c.pair};
    auto r = AlignTrace(t, log, {});
    ASSERT_FALSE(r.ok()) << c.why;
    EXPECT_EQ(r.error().code, ErrorCode::kBadInput) << c.why;
    EXPECT_EQ(r.error().file, "run/run.json") << c.why;
    EXPECT_THAT(r.error().message, HasSubstr("clock_sync pair {\"realtime_ns\": " +
                                             std::to_string(c.pair.realtime_ns)))
        << c.why;
    EXPECT_THAT(r.error().message, HasSubstr("passes the largest time there is")) << c.why;
    // The trace is left as it was.
    EXPECT_EQ(t.events[0].start_ns, t0) << c.why;
    EXPECT_EQ(t.events[0].end_ns, t0 + 1000) << c.why;
  }
  // The other way: a monotonic trace onto a realtime log.
  Trace t = OneEventTrace(TimeBase::kMonotonic, kMax - 2000, kMax - 1000);
  EnergyLog log = LogSpanning(1'000'000'000, 2'000'000'000, Clock::kRealtime);
  log.clock_sync = {{1'700'000'000'000'000'000, 1'000'000'000}};
  auto r = AlignTrace(t, log, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadInput);
  EXPECT_THAT(r.error().message, HasSubstr("CLOCK_MONOTONIC time"));
}

TEST(HostileTimeTest, OffsetOptionsThatPassTheLimitsAreUsageErrors) {
  Trace t = OneEventTrace(TimeBase::kMonotonic, 1'000'000'000, 2'000'000'000);
  AlignOptions offset;
  offset.trace_offset_ns = kMax;
  auto r = AlignTrace(t, LogSpanning(0, 10), offset);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUsage);
  EXPECT_THAT(r.error().message, HasSubstr("--trace-offset-ns " + std::to_string(kMax)));
  EXPECT_EQ(t.events[0].start_ns, 1'000'000'000);

  // An absolute trace starting below zero, placed at INT64_MAX: the offset
  // itself passes the range.
  Trace negative = OneEventTrace(TimeBase::kMonotonic, -1'000'000'000, 0);
  AlignOptions start;
  start.trace_start_ns = kMax;
  r = AlignTrace(negative, LogSpanning(0, 10), start);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUsage);
  EXPECT_THAT(r.error().message, HasSubstr("--trace-start-ns"));
  // A relative trace whose events end past the range once placed.
  Trace relative = OneEventTrace(TimeBase::kRelative, 0, 1'000'000'000);
  start.trace_start_ns = kMax - 10;
  r = AlignTrace(relative, LogSpanning(0, 10), start);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUsage);
}

// Spans at both ends of the range: the "no overlap" message is still right
// (before, the gap and the suggested offset were computed in int64 and wrapped).
TEST(HostileTimeTest, NoOverlapAcrossTheWholeRangeIsReportedWithoutWrapping) {
  Trace t = OneEventTrace(TimeBase::kMonotonic, kMin + 10, kMin + 1000);
  auto r = AlignTrace(t, LogSpanning(kMax - 1000, kMax - 10), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNothingMeasurable);
  const std::string& m = r.error().message;
  EXPECT_THAT(m, HasSubstr("ends before the start of the energy log by 18446744073.7"));
  EXPECT_THAT(m, Not(HasSubstr("by -")));
  EXPECT_THAT(m, HasSubstr("--trace-offset-ns OFFSET"));  // no int64 offset does it
}

// Through the CLI: a run whose clock pair is near the limits, with a realtime
// trace (the example's PyTorch 2.4 trace). Before: the times wrapped and
// account reported no overlap (exit 3) with a negative gap.
TEST(HostileTimeTest, RunJsonClockPairNearTheLimitsFailsAccount) {
  TempDir tmp;
  const std::string example = std::string(SMARAGDINE_TEST_DATA) + "/../../examples/bert-small";
  const std::string run = tmp.path() + "/run";
  std::filesystem::create_directory(run);
  std::filesystem::copy_file(example + "/run/energy.csv", run + "/energy.csv");
  // One pair, so that every trace time is mapped through it.
  std::string json = testing::ReadText(example + "/run/run.json");
  const size_t from = json.find("\"clock_sync\": [");
  const size_t to = json.find(']', from);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  json.replace(from, to + 1 - from,
               R"("clock_sync": [{"realtime_ns": -9000000000000000000, "monotonic_ns": 999950000000}])");
  std::ofstream(run + "/run.json") << json;
  Ran r = testing::Run({SMARAGDINE_BINARY, "account", "--energy", run, "--trace",
                        example + "/pt2_bert-small_h100_inference.pt.trace.json.gz", "-q", "-o",
                        tmp.path() + "/p.json"},
                       tmp.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(run + "/run.json: clock_sync pair {\"realtime_ns\": "
                                     "-9000000000000000000"));
  EXPECT_THAT(r.err, HasSubstr("--trace-offset-ns"));
}

}  // namespace
}  // namespace smaragdine
