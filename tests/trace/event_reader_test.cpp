// The event reader, fed fields directly as the fast scanner feeds it: what a
// field means, how B/E pairs become X events (innermost open B on the lane),
// which anomalies are counted, and that Save/Restore undoes a slice exactly.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "trace/event_reader.h"

namespace smaragdine {
namespace {

using trace_internal::RawEvent;
using trace_internal::RawTrace;
using trace_internal::Reader;
using trace_internal::Scalar;

using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// One event as (key, value) pairs; values that start like a number are numbers.
void Feed(Reader& reader, Fields fields, Fields args = {}) {
  RawEvent e;
  Reader::EventState st;
  auto scalar = [](std::string_view text) {
    const bool number = !text.empty() && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9'));
    return Scalar{number ? Scalar::kNumber : Scalar::kString, text};
  };
  for (auto [key, text] : fields) {
    Scalar v = scalar(text);
    reader.EventField(key, v, e, st);
  }
  for (auto [key, text] : args) {
    Scalar v = scalar(text);
    reader.ArgsField(key, v, &e, st);
  }
  reader.AddScanned(e, st);
}

struct ReaderFixture : ::testing::Test {
  std::string name = "t.json";
  RawTrace out;
  Reader reader{name, nullptr, &out};
};

using EventReaderTest = ReaderFixture;

TEST_F(EventReaderTest, BeginEndPairsMatchInnermostOpenBeginOnTheLane) {
  Feed(reader, {{"ph", "B"}, {"name", "outer"}, {"pid", "1"}, {"tid", "7"}, {"ts", "1"}});
  Feed(reader, {{"ph", "B"}, {"name", "inner"}, {"pid", "1"}, {"tid", "7"}, {"ts", "2"}});
  Feed(reader, {{"ph", "B"}, {"name", "other"}, {"pid", "1"}, {"tid", "8"}, {"ts", "2"}});
  Feed(reader, {{"ph", "E"}, {"pid", "1"}, {"tid", "7"}, {"ts", "3"}});
  Feed(reader, {{"ph", "E"}, {"pid", "1"}, {"tid", "7"}, {"ts", "5.5"}});
  reader.Finish();
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_EQ(out.Str(out.events[0].name), "inner");
  EXPECT_EQ(out.events[0].ts_ns, 2000);
  EXPECT_EQ(out.events[0].dur_ns, 1000);
  EXPECT_EQ(out.Str(out.events[1].name), "outer");
  EXPECT_EQ(out.events[1].dur_ns, 4500);
  EXPECT_EQ(out.events[1].ph, 'X');
  EXPECT_EQ(out.diagnostics.Count("trace.unmatched_begin_event"), 1);  // "other" never ended
}

TEST_F(EventReaderTest, AnomaliesAreCountedNotFatal) {
  Feed(reader, {{"ph", "E"}, {"pid", "1"}, {"tid", "1"}, {"ts", "1"}});
  Feed(reader, {{"ph", "X"}, {"ts", "1"}, {"dur", "-2"}});
  Feed(reader, {{"ph", "X"}, {"ts", "1"}, {"dur", "x"}});
  Feed(reader, {{"ph", "X"}, {"ts", "nope"}, {"dur", "1"}});
  Feed(reader, {{"ph", "X"}, {"dur", "1"}});
  Feed(reader, {{"ph", "Q"}, {"ts", "1"}});
  Feed(reader, {{"ph", "X"}, {"ts", "4"}});  // kept, zero length
  Feed(reader, {{"ph", "C"}, {"ts", "4"}});  // counters: skipped silently
  const auto& d = out.diagnostics;
  EXPECT_EQ(d.Count("trace.unmatched_end_event"), 1);
  EXPECT_EQ(d.Count("trace.negative_duration_dropped"), 1);
  EXPECT_EQ(d.Count("trace.malformed_duration_dropped"), 1);
  EXPECT_EQ(d.Count("trace.malformed_timestamp_dropped"), 1);
  EXPECT_EQ(d.Count("trace.event_without_ts_dropped"), 1);
  EXPECT_EQ(d.Count("trace.unsupported_event_phase_skipped"), 1);
  EXPECT_EQ(d.Count("trace.complete_event_without_duration"), 1);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].dur_ns, 0);
}

TEST_F(EventReaderTest, ArgsLongNameWinsOverTfOpAndName) {
  Feed(reader, {{"ph", "X"}, {"ts", "1"}, {"dur", "1"}},
       {{"name", "short"}, {"long_name", "a/b:MatMul"}, {"tf_op", "a/b"}, {"External id", "42"},
        {"input0", "x:1"}, {"input1", "^y"}});
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.Str(out.events[0].arg_name), "a/b:MatMul");
  EXPECT_TRUE(out.events[0].flags & RawEvent::kLongName);
  EXPECT_EQ(out.events[0].external_id, 42);
  ASSERT_EQ(out.inputs.size(), 2u);
  EXPECT_EQ(out.Str(out.inputs[1].input), "^y");
}

TEST_F(EventReaderTest, RestoreUndoesEventsStringsDiagnosticsAndOpenBegins) {
  Feed(reader, {{"ph", "X"}, {"name", "kept"}, {"ts", "1"}, {"dur", "1"}});
  const Reader::Mark mark = reader.Save();
  const size_t strings = out.strings.size();
  Feed(reader, {{"ph", "B"}, {"name", "undone"}, {"pid", "9"}, {"tid", "9"}, {"ts", "2"}});
  Feed(reader, {{"ph", "X"}, {"name", "undone2"}, {"ts", "2"}, {"dur", "-1"}});
  reader.Restore(mark);
  reader.Finish();
  EXPECT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.strings.size(), strings);
  EXPECT_EQ(out.diagnostics.Count("trace.negative_duration_dropped"), 0);
  EXPECT_EQ(out.diagnostics.Count("trace.unmatched_begin_event"), 0);
}

}  // namespace
}  // namespace smaragdine
