// Traces that parse but lie (issue 17, item 6): times whose end passes
// INT64_MAX, invalid UTF-8, duplicate keys, pid/tid that are not scalars,
// the same event or the same file twice. Each is counted under a named
// diagnostic or refused with the file and byte, never silently taken. (Kept
// in tests/hostile/ with the other cases of issue 17; was tests/trace/trace_hostile_test.cpp.)
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "smaragdine/trace.h"
#include "trace/chrome_json.h"

namespace smaragdine {
namespace {

using trace_internal::ParseChromeJson;
using trace_internal::RawTrace;

// Both paths of the reader must agree: the whole-document simdjson parse
// (slice size 0) and the sliced one with the fast scanner.
constexpr size_t kSliceSizes[] = {0, trace_internal::kDefaultSliceBytes, 64};

std::string Array(const std::string& events) { return "[" + events + "]"; }
const std::string kGood = R"({"ph":"X","name":"good","pid":1,"tid":1,"ts":1,"dur":1})";

TEST(TraceHostileTest, EndPastInt64MaxIsDroppedAndCountedNotWrapped) {
  // INT64_MAX ns is 9223372036854775.807 µs: this X ends 1 ms past it.
  const std::string doc = Array(
      kGood + R"(,{"ph":"X","name":"late","pid":1,"tid":1,"ts":9223372036854775.000,"dur":1000})" +
      R"(,{"ph":"B","name":"b","pid":1,"tid":2,"ts":-9223372036854775})" +
      R"(,{"ph":"E","pid":1,"tid":2,"ts":9223372036854775})");
  for (size_t slice : kSliceSizes) {
    auto raw = ParseChromeJson("t.json", doc, slice);
    ASSERT_TRUE(raw.ok()) << raw.error().ToString();
    ASSERT_EQ(raw->events.size(), 1u) << slice;
    EXPECT_EQ(raw->Str(raw->events[0].name), "good");
    EXPECT_EQ(raw->diagnostics.Count("trace.time_overflow_dropped"), 2) << slice;
    for (const auto& e : raw->events) EXPECT_GE(e.dur_ns, 0);
  }
}

TEST(TraceHostileTest, BaseTimePlusTsPastInt64MaxIsRefusedNamingTheFile) {
  const std::string doc =
      R"({"schemaVersion": 1, "baseTimeNanoseconds": 9223372036854000000, "traceEvents": [
  {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": 1000, "dur": 10}]})";
  auto t = ParseTrace("k.json", doc, TraceReadOptions{TraceFormat::kPytorch});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kBadInput);
  EXPECT_NE(t.error().ToString().find("k.json"), std::string::npos) << t.error().ToString();
  EXPECT_NE(t.error().ToString().find("baseTimeNanoseconds"), std::string::npos)
      << t.error().ToString();
}

TEST(TraceHostileTest, InvalidUtf8IsReplacedAndCountedNotFatal) {
  // A lone continuation byte, a truncated 3-byte sequence, an overlong '/'.
  const std::string doc = Array(kGood + ",{\"ph\":\"X\",\"name\":\"a\x80z\",\"pid\":1,\"tid\":1,"
                                        "\"ts\":2,\"dur\":1,\"args\":{\"name\":\"\xE2\x82\"}},"
                                        "{\"ph\":\"X\",\"name\":\"\xC0\xAF\",\"pid\":1,\"tid\":1,"
                                        "\"ts\":3,\"dur\":1}");
  for (size_t slice : kSliceSizes) {
    auto raw = ParseChromeJson("t.json", doc, slice);
    ASSERT_TRUE(raw.ok()) << raw.error().ToString();
    ASSERT_EQ(raw->events.size(), 3u);
    EXPECT_EQ(raw->Str(raw->events[1].name), "a\xEF\xBF\xBDz");
    EXPECT_EQ(raw->Str(raw->events[1].arg_name), "\xEF\xBF\xBD");
    EXPECT_EQ(raw->Str(raw->events[2].name), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(raw->diagnostics.Count("trace.invalid_utf8_replaced"), 4) << slice;
  }
}

TEST(TraceHostileTest, ErrorsGiveTheirOwnByteOffsetNotByteZero) {
  // An invalid byte early, then a real error further on: the error is at
  // its own place in the file as given (before any replacement), i.e. where
  // the same document with two plain letters there has it.
  const std::string tail = R"(,{"ph":"X","ts":3,"dur":1}, oops, {"ph":"X"}])";
  const std::string doc = "[" + kGood + ",{\"ph\":\"X\",\"name\":\"\xff\xff\",\"ts\":2,\"dur\":1}" + tail;
  const std::string clean = "[" + kGood + ",{\"ph\":\"X\",\"name\":\"ab\",\"ts\":2,\"dur\":1}" + tail;
  for (size_t slice : kSliceSizes) {
    auto want = ParseChromeJson("t.json", clean, slice);
    auto raw = ParseChromeJson("t.json", doc, slice);
    ASSERT_FALSE(want.ok());
    ASSERT_FALSE(raw.ok());
    EXPECT_GT(want.error().byte_offset, static_cast<int64_t>(clean.find("ab")));
    EXPECT_EQ(raw.error().byte_offset, want.error().byte_offset) << raw.error().ToString();
    EXPECT_EQ(raw.error().message, want.error().message);
  }
  // A raw control character inside a string: simdjson's first stage finds
  // it before any value is read, which used to come out as byte 0.
  const std::string ctl = Array(kGood + ",{\"ph\":\"X\",\"name\":\"a\tb\",\"ts\":2,\"dur\":1}");
  for (size_t slice : kSliceSizes) {
    auto raw = ParseChromeJson("t.json", ctl, slice);
    ASSERT_FALSE(raw.ok());
    EXPECT_EQ(raw.error().byte_offset, static_cast<int64_t>(ctl.find('\t')))
        << raw.error().ToString();
  }
}

TEST(TraceHostileTest, DuplicateKeysAndNonScalarPidTidDropTheEventWithADiagnostic) {
  const std::string doc = Array(
      kGood + R"(,{"ph":"X","name":"twice","pid":1,"tid":1,"ts":2,"ts":5,"dur":1})" +
      R"(,{"ph":"X","name":"argtwice","pid":1,"tid":1,"ts":2,"dur":1,"args":{"External id":1,"External id":2}})" +
      R"(,{"ph":"X","name":"objpid","pid":{"a":1},"tid":1,"ts":2,"dur":1})" +
      R"(,{"ph":"X","name":"arrtid","pid":1,"tid":[1],"ts":2,"dur":1})" +
      R"(,{"ph":"X","name":"other","pid":1,"tid":1,"ts":2,"dur":1,"x":1,"x":2})");
  for (size_t slice : kSliceSizes) {
    auto raw = ParseChromeJson("t.json", doc, slice);
    ASSERT_TRUE(raw.ok()) << raw.error().ToString();
    ASSERT_EQ(raw->events.size(), 2u) << slice;  // good, and "other" (x is not read)
    EXPECT_EQ(raw->Str(raw->events[1].name), "other");
    EXPECT_EQ(raw->diagnostics.Count("trace.duplicate_key_event_dropped"), 2) << slice;
    EXPECT_EQ(raw->diagnostics.Count("trace.malformed_pid_tid_dropped"), 2) << slice;
  }
}

TEST(TraceHostileTest, ExactDuplicateEventsAreDroppedAndCounted) {
  // The legacy dialect: the same events again on the lane are dropped; an
  // event that differs in one id, or a zero-length repeat (two calls within
  // one whole µs), is kept.
  const std::string twin = R"({"ph":"X","name":"aten::mm","pid":"CPU functions","tid":1,"ts":5,"dur":2,"args":{"External id":9}})";
  const std::string near = R"({"ph":"X","name":"aten::mm","pid":"CPU functions","tid":1,"ts":5,"dur":2,"args":{"External id":10}})";
  const std::string instant = R"({"ph":"X","name":"aten::empty","pid":"CPU functions","tid":1,"ts":9,"dur":0})";
  const std::string doc =
      Array(twin + "," + near + "," + instant + "," + twin + "," + instant + "," + twin);
  auto t = ParseTrace("t.json", doc, TraceReadOptions{TraceFormat::kPytorchLegacy});
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->events.size(), 4u);
  EXPECT_EQ(t->diagnostics.Count("trace.duplicate_event_dropped"), 2);
  // Kineto: a kernel written twice on its stream.
  const std::string kernel =
      R"({"ph":"X","cat":"kernel","name":"gemm","pid":0,"tid":7,"ts":20,"dur":3,"args":{"correlation":4}})";
  const std::string kineto = R"({"schemaVersion":1,"traceEvents":[
    {"ph":"X","cat":"cpu_op","name":"aten::mm","pid":1,"tid":1,"ts":10,"dur":30},)" +
                             kernel + "," + kernel + "]}";
  auto k = ParseTrace("k.json", kineto, TraceReadOptions{TraceFormat::kPytorch});
  ASSERT_TRUE(k.ok()) << k.error().ToString();
  EXPECT_EQ(k->events.size(), 2u);
  EXPECT_EQ(k->diagnostics.Count("trace.duplicate_event_dropped"), 1);
}

TEST(TraceHostileTest, TheSameFileTwiceIsRefusedEvenUnderAnotherPath) {
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("smaragdine_trace_twice_{}", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string a = (dir / "a.json").string();
  std::ofstream(a) << Array(kGood);
  const std::string link = (dir / "link.json").string();
  const std::string hard = (dir / "hard.json").string();
  std::filesystem::create_symlink(a, link);
  std::filesystem::create_hard_link(a, hard);
  const std::string other = (dir / "b.json").string();
  std::ofstream(other) << Array(kGood);
  for (const std::string& second : {a, link, hard, (dir / "." / "a.json").string()}) {
    auto t = ReadTraces({a, second}, TraceReadOptions{});
    ASSERT_FALSE(t.ok()) << second;
    EXPECT_EQ(t.error().code, ErrorCode::kBadInput);
    EXPECT_NE(t.error().ToString().find("same file"), std::string::npos) << t.error().ToString();
    EXPECT_NE(t.error().ToString().find(second), std::string::npos) << t.error().ToString();
  }
  // Equal content in two files is two traces (two session.run calls): fine.
  auto two = ReadTraces({a, other}, TraceReadOptions{TraceFormat::kPytorchLegacy});
  EXPECT_TRUE(two.ok()) << two.error().ToString();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smaragdine
