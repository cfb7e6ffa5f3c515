#include <gtest/gtest.h>

#include "smaragdine/account.h"

namespace smaragdine {
namespace {

Trace OneEventTrace(TimeBase base, int64_t start, int64_t end) {
  Trace t;
  t.dialect = "test";
  t.time_base = base;
  t.lanes.push_back({"CPU:0", "thread 1"});
  t.events.push_back({start, end, t.nodes.InternPath("a/b", NodeKind::kOp), 0, 0, Phase::kForward});
  t.steps.push_back({"step", start, end});
  return t;
}

EnergyLog LogSpanning(int64_t start, int64_t end) {
  EnergyLog log;
  log.path = "run";
  log.domains.push_back({"cpu:0/package", "CPU:0", "test", Quantity::kEnergy});
  log.series.push_back({{start, end}, {0, 1}});
  return log;
}

TEST(AlignTest, RealtimeTraceIsMappedThroughClockSyncPairs) {
  Trace t = OneEventTrace(TimeBase::kRealtime, 1'700'000'000'500'000'000, 1'700'000'000'600'000'000);
  EnergyLog log = LogSpanning(1'000'000'000, 2'000'000'000);
  log.clock_sync = {{1'700'000'000'000'000'000, 1'000'000'000}};
  auto r = AlignTrace(t, log, {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(t.events[0].start_ns, 1'500'000'000);
  EXPECT_EQ(t.events[0].end_ns, 1'600'000'000);
  EXPECT_EQ(t.steps[0].start_ns, 1'500'000'000);
}

TEST(AlignTest, WallClockJumpUsesThePairInForce) {
  // The wall clock was stepped back 10 s at monotonic 1.5 s. An event stamped
  // before the step and one stamped after it must each use their own pair.
  Trace t;
  t.time_base = TimeBase::kRealtime;
  t.lanes.push_back({"CPU:0", "t"});
  NodeId n = t.nodes.InternPath("x", NodeKind::kOp);
  const int64_t r0 = 100'000'000'000'000'000;  // realtime at monotonic 1 s
  t.events.push_back({r0 + 200'000'000, r0 + 300'000'000, n, 0, -1, Phase::kOther});
  const int64_t r1 = r0 + 500'000'000 - 10'000'000'000;  // realtime at monotonic 1.5 s, after the step
  t.events.push_back({r1 + 100'000'000, r1 + 200'000'000, n, 0, -1, Phase::kOther});
  EnergyLog log = LogSpanning(0, 3'000'000'000);
  log.clock_sync = {{r0, 1'000'000'000}, {r1, 1'500'000'000}};
  ASSERT_TRUE(AlignTrace(t, log, {}).ok());
  EXPECT_EQ(t.events[0].start_ns, 1'200'000'000);
  EXPECT_EQ(t.events[1].start_ns, 1'600'000'000);
}

TEST(AlignTest, EventsOutOfOrderAcrossPairsEachUseThePairInForce) {
  // Three pairs whose offsets differ by a few ns; events that go back and
  // forth between them (and before the first, and exactly at a pair's time),
  // so a mapping that remembered the previous event's pair would be caught.
  Trace t;
  t.time_base = TimeBase::kRealtime;
  t.lanes.push_back({"CPU:0", "t"});
  NodeId n = t.nodes.InternPath("x", NodeKind::kOp);
  const int64_t r0 = 100'000'000'000'000'000;
  for (int64_t at : {r0 + 1'500'000'000, r0 + 500'000'000, r0 - 200'000'000, r0 + 2'500'000'000,
                     r0 + 1'000'000'000, r0 + 999'999'999})
    t.events.push_back({at, at + 1000, n, 0, -1, Phase::kOther});
  EnergyLog log = LogSpanning(0, 5'000'000'000);
  log.clock_sync = {{r0 + 2'000'000'000, 3'000'000'020},
                    {r0, 1'000'000'000},
                    {r0 + 1'000'000'000, 2'000'000'007}};
  ASSERT_TRUE(AlignTrace(t, log, {}).ok());
  const int64_t want[] = {2'500'000'007, 1'500'000'000, 800'000'000,
                          3'500'000'020, 2'000'000'007, 1'999'999'999};
  for (size_t i = 0; i < t.events.size(); ++i) {
    EXPECT_EQ(t.events[i].start_ns, want[i]) << "event " << i;
    EXPECT_EQ(t.events[i].end_ns, want[i] + 1000) << "event " << i;
  }
}

TEST(AlignTest, RelativeTraceWithoutAnchorExplainsTheFix) {
  Trace t = OneEventTrace(TimeBase::kRelative, 0, 1000);
  auto r = AlignTrace(t, LogSpanning(5000, 9000), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNothingMeasurable);
  EXPECT_NE(r.error().message.find("--trace-start-ns"), std::string::npos) << r.error().message;
}

TEST(AlignTest, TraceStartPlacesRelativeTime0) {
  Trace t = OneEventTrace(TimeBase::kRelative, 100, 1000);
  AlignOptions o;
  o.trace_start_ns = 5000;
  ASSERT_TRUE(AlignTrace(t, LogSpanning(5000, 9000), o).ok());
  EXPECT_EQ(t.events[0].start_ns, 5100);
  EXPECT_EQ(t.events[0].end_ns, 6000);
}

TEST(AlignTest, NoOverlapPrintsBothSpansAndTheFix) {
  Trace t = OneEventTrace(TimeBase::kMonotonic, 0, 1000);
  auto r = AlignTrace(t, LogSpanning(5'000'000'000, 9'000'000'000), {});
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("[0, 1000] ns"), std::string::npos) << m;
  EXPECT_NE(m.find("[5000000000, 9000000000] ns"), std::string::npos) << m;
  EXPECT_NE(m.find("--trace-offset-ns 5000000000"), std::string::npos) << m;
}

TEST(AlignTest, RealtimeTraceAgainstMonotonicLogWithoutPairsIsAnError) {
  Trace t = OneEventTrace(TimeBase::kRealtime, 1'700'000'000'000'000'000, 1'700'000'000'000'001'000);
  auto r = AlignTrace(t, LogSpanning(0, 10), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("clock_sync"), std::string::npos);
}

}  // namespace
}  // namespace smaragdine
