// The XPlane reader: the TF2 fixture read from its protobuf gives the tree
// its trace viewer JSON twin gives, node for node; times, steps and the
// Task Environment anchor on XSpaces built here; and damaged protobufs are
// exit 2 naming the file and the byte offset.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "common/io.h"
#include "smaragdine/trace.h"
#include "trace/trace_test_util.h"
#include "trace/trace_util.h"
#include "trace/xplane_reader.h"
#include "trace/xplane_test_util.h"

namespace smaragdine {
namespace {

using testing::DataPath;
using testing::Pb;

Trace MustRead(const std::string& path, TraceReadOptions o = {}) {
  Result<Trace> t = ReadTrace(path, o);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().ToString());
  if (!t.ok()) return Trace{};
  return std::move(t).value();
}

Trace MustParse(const std::string& bytes, TraceReadOptions o = {}) {
  Result<Trace> t = ParseTrace("x.xplane.pb", bytes, o);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().ToString());
  if (!t.ok()) return Trace{};
  return std::move(t).value();
}

Error MustFail(const std::string& bytes) {
  Result<Trace> t = ParseTrace("bad.xplane.pb", bytes, {});
  EXPECT_FALSE(t.ok());
  if (t.ok()) return Error{};
  EXPECT_EQ(t.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(t.error().file, "bad.xplane.pb");
  EXPECT_EQ(t.error().ExitCode(), 2);
  return t.error();
}

// Every event as comparable text: lane, times, node path, phase, step name.
std::vector<std::string> EventRows(const Trace& t) {
  std::vector<std::string> rows;
  for (const Event& e : t.events)
    rows.push_back(fmt::format("{}|{}|{}|{}|{}|{}", t.lanes[e.lane].device, t.lanes[e.lane].name,
                               e.start_ns, e.end_ns, t.nodes.Path(e.node), ToString(e.phase),
                               e.step < 0 ? "-" : t.steps[e.step].name));
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(XPlaneTest, Tf2FixtureGivesTheTreeOfItsJsonTwin) {
  Trace json = MustRead(DataPath("fixtures/tf2_bert-base-uncased_cpu_2021.trace.json.gz"));
  Trace pb = MustRead(DataPath("fixtures/tf2_bert-base-uncased_cpu_2021.xplane.pb"));
  EXPECT_EQ(pb.dialect, "tf2");
  ASSERT_EQ(pb.nodes.size(), json.nodes.size());
  // Node for node: the same paths with the same kinds (ids may differ: the
  // two files list events in different orders).
  std::vector<std::pair<std::string, NodeKind>> a, b;
  for (NodeId id = 1; id < pb.nodes.size(); ++id)
    a.emplace_back(pb.nodes.Path(id), pb.nodes.Kind(id));
  for (NodeId id = 1; id < json.nodes.size(); ++id)
    b.emplace_back(json.nodes.Path(id), json.nodes.Kind(id));
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  // And event for event: times to the ns, lanes, phases, steps.
  EXPECT_EQ(pb.events.size(), json.events.size());
  EXPECT_EQ(EventRows(pb), EventRows(json));
  ASSERT_EQ(pb.steps.size(), json.steps.size());
  for (size_t i = 0; i < pb.steps.size(); ++i) {
    EXPECT_EQ(pb.steps[i].name, json.steps[i].name);
    EXPECT_EQ(pb.steps[i].start_ns, json.steps[i].start_ns);
    EXPECT_EQ(pb.steps[i].end_ns, json.steps[i].end_ns);
  }
  EXPECT_EQ(RenderNodeTree(pb), RenderNodeTree(json));
  // The 2021 file predates the Task Environment plane: relative, and said so.
  EXPECT_EQ(pb.time_base, TimeBase::kRelative);
  EXPECT_EQ(pb.diagnostics.Count("xplane.profile_start_not_recorded"), 1);
  EXPECT_FALSE(pb.diagnostics.warnings().empty());
  testing::ExpectGolden("trace/tf2_bert-base-uncased_cpu_2021.xplane.tree.txt",
                        DescribeTraceSummary(pb) + "\n" + RenderNodeTree(pb));
}

TEST(XPlaneTest, GzipAndFormatOverride) {
  const std::string pb =
      testing::ReadText(DataPath("fixtures/tf2_bert-base-uncased_cpu_2021.xplane.pb"));
  const std::string gz = testing::Gzip(pb);
  Trace plain = MustParse(pb);
  Trace zipped = MustParse(gz);
  EXPECT_EQ(EventRows(plain), EventRows(zipped));
  const std::string path = ::testing::TempDir() + "/bert.xplane.pb.gz";
  ASSERT_TRUE(WriteFileAtomic(path, gz).ok());
  EXPECT_EQ(EventRows(MustRead(path)), EventRows(plain));
  // --format xplane and tf2 read it; a JSON dialect's format is refused.
  EXPECT_EQ(MustParse(pb, {TraceFormat::kXplane}).dialect, "tf2");
  EXPECT_EQ(MustParse(pb, {TraceFormat::kTf2}).events.size(), plain.events.size());
  Result<Trace> wrong = ParseTrace("x.xplane.pb", pb, {TraceFormat::kPytorch});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("XPlane"), std::string::npos);
  Result<Trace> json = ParseTrace("t.json", R"({"traceEvents":[]})", {TraceFormat::kXplane});
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.error().code, ErrorCode::kBadInput);
}

// One plane with one line: `events` as (metadata id, offset_ps, duration_ps, stats).
struct Ev {
  int64_t meta;
  int64_t offset_ps;
  int64_t duration_ps;
  std::vector<Pb> stats = {};
};

Pb Plane(const std::string& name, int64_t line_ts_ns, const std::vector<Ev>& events,
         const std::vector<std::string>& event_names,
         const std::vector<std::string>& stat_names = {}) {
  Pb line;
  line.Varint(1, 7).Bytes(2, "main").Varint(3, static_cast<uint64_t>(line_ts_ns));
  for (const Ev& e : events) {
    Pb ev;
    ev.Varint(1, e.meta).Varint(2, e.offset_ps).Varint(3, e.duration_ps);
    for (const Pb& s : e.stats) ev.Message(4, s);
    line.Message(4, ev);
  }
  Pb plane;
  plane.Varint(1, 1).Bytes(2, name).Message(3, line);
  for (size_t i = 0; i < event_names.size(); ++i)
    plane.Message(4,
                  Pb().Varint(1, i + 1).Message(2, Pb().Varint(1, i + 1).Bytes(2, event_names[i])));
  for (size_t i = 0; i < stat_names.size(); ++i)
    plane.Message(5,
                  Pb().Varint(1, i + 1).Message(2, Pb().Varint(1, i + 1).Bytes(2, stat_names[i])));
  return plane;
}

TEST(XPlaneTest, TimesArePicosecondsFromTheLineRoundedToNanoseconds) {
  Pb space;
  space.Message(
      1, Plane("/host:CPU", 1000, {{1, 2'499, 1'500'500}, {1, 3'000'000, 1'000}, {2, 5'000'000, 0}},
               {"Outer", "Point"}));
  Trace t = MustParse(space.str());
  ASSERT_EQ(t.events.size(), 3u);
  // 1000 ns + 2.499 ns → 1002; 1500.5 ns → 1501 (halves away from zero).
  EXPECT_EQ(t.events[0].start_ns, 1002);
  EXPECT_EQ(t.events[0].end_ns, 1002 + 1501);
  EXPECT_EQ(t.events[1].start_ns, 4000);
  EXPECT_EQ(t.lanes[t.events[0].lane].name, "/host:CPU main");
  EXPECT_EQ(t.lanes[t.events[0].lane].device, "CPU:0");
}

TEST(XPlaneTest, TaskEnvironmentAnchorsTimesOnTheWallClock) {
  const int64_t start = 1'717'000'000'123'456'789;
  Pb env;
  env.Varint(1, 2).Bytes(2, "Task Environment");
  env.Message(5, Pb().Varint(1, 1).Message(2, Pb().Varint(1, 1).Bytes(2, "profile_start_time")));
  env.Message(6, Pb().Varint(1, 1).Varint(3, static_cast<uint64_t>(start)));
  Pb space;
  // The environment plane after the events' plane: read first all the same.
  space.Message(1, Plane("/host:CPU", 5, {{1, 10'000, 20'000}}, {"Op"}));
  space.Message(1, env);
  Trace t = MustParse(space.str());
  EXPECT_EQ(t.time_base, TimeBase::kRealtime);
  ASSERT_EQ(t.events.size(), 1u);
  EXPECT_EQ(t.events[0].start_ns, start + 5 + 10);
  EXPECT_EQ(t.events[0].end_ns, start + 5 + 30);
  EXPECT_EQ(t.diagnostics.Count("xplane.profile_start_not_recorded"), 0);
}

TEST(XPlaneTest, FilesOnDifferentClocksAreNotMerged) {
  // The same TF2 ops, once with a Task Environment (realtime), once without.
  Pb env;
  env.Varint(1, 2).Bytes(2, "Task Environment");
  env.Message(5, Pb().Varint(1, 1).Message(2, Pb().Varint(1, 1).Bytes(2, "profile_start_time")));
  env.Message(6, Pb().Varint(1, 1).Varint(3, 1'717'000'000'000'000'000));
  Pb relative;
  relative.Message(1, Plane("/host:CPU", 0, {{1, 0, 1000}}, {"Op"}));
  Pb anchored = relative;
  anchored.Message(1, env);
  const std::string dir = ::testing::TempDir();
  ASSERT_TRUE(WriteFileAtomic(dir + "/rel.xplane.pb", relative.str()).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/abs.xplane.pb", anchored.str()).ok());
  Result<Trace> mixed = ReadTraces({dir + "/abs.xplane.pb", dir + "/rel.xplane.pb"}, {});
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error().code, ErrorCode::kBadInput);
  EXPECT_NE(mixed.error().message.find("relative"), std::string::npos) << mixed.error().message;
}

TEST(XPlaneTest, StepMarkersAndGroupIds) {
  // Two `train` markers (step_num stats) around two ops: the markers become
  // steps, not events; ops take the step they start in.
  auto stat_int = [](int64_t meta, int64_t v) { return Pb().Varint(1, meta).Varint(4, v); };
  auto stat_str = [](int64_t meta, const std::string& v) {
    return Pb().Varint(1, meta).Bytes(5, v);
  };
  Pb space;
  space.Message(1, Plane("/host:CPU", 0,
                         {{1, 0, 100'000, {stat_int(1, 7)}},
                          {2, 10'000, 50'000, {stat_str(2, "model/dense/MatMul:MatMul")}},
                          {1, 200'000, 100'000, {stat_int(1, 8)}},
                          {2, 210'000, 50'000, {stat_str(2, "model/dense/MatMul:MatMul")}}},
                         {"train", "MatMul"}, {"step_num", "long_name"}));
  Trace t = MustParse(space.str());
  EXPECT_EQ(t.dialect, "tf2");
  ASSERT_EQ(t.steps.size(), 2u);
  EXPECT_EQ(t.steps[0].name, "train 7");
  EXPECT_EQ(t.steps[1].name, "train 8");
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.nodes.Path(t.events[0].node), "model/dense/MatMul");
  EXPECT_EQ(t.events[0].step, 0);
  EXPECT_EQ(t.events[1].step, 1);
  EXPECT_EQ(t.nodes.Find("train"), NodeTable::kNoNode);
  // Its trace viewer JSON (step_num as an arg) gives the same steps.
  Result<Trace> json = ParseTrace("t.json", R"({"traceEvents":[
    {"ph":"M","pid":1,"name":"process_name","args":{"name":"/host:CPU"}},
    {"ph":"X","pid":1,"tid":7,"ts":0,"dur":100,"name":"train","args":{"step_num":"7"}},
    {"ph":"X","pid":1,"tid":7,"ts":10,"dur":50,"name":"MatMul","args":{"long_name":"model/dense/MatMul:MatMul"}},
    {"ph":"X","pid":1,"tid":7,"ts":200,"dur":100,"name":"train","args":{"step_num":"8"}},
    {"ph":"X","pid":1,"tid":7,"ts":210,"dur":50,"name":"MatMul","args":{"long_name":"model/dense/MatMul:MatMul"}}]})",
                                  {});
  ASSERT_TRUE(json.ok()) << json.error().ToString();
  ASSERT_EQ(json->steps.size(), 2u);
  EXPECT_EQ(json->steps[1].name, "train 8");
  EXPECT_EQ(json->events.size(), 2u);
}

TEST(XPlaneTest, Tf2GpuKernelsHangUnderTheirOpAndDerivedLinesAreNotCounted) {
  auto stat_ref = [](int64_t meta, int64_t ref) { return Pb().Varint(1, meta).Varint(7, ref); };
  Pb line_stream;
  line_stream.Varint(1, 14).Bytes(2, "Stream #14(Compute)").Varint(3, 0);
  line_stream.Message(4,
                      Pb().Varint(1, 1).Varint(2, 1000).Varint(3, 5000).Message(4, stat_ref(1, 2)));
  Pb line_ops;
  line_ops.Varint(1, 10003).Bytes(2, "TensorFlow Ops").Varint(3, 0);
  line_ops.Message(4, Pb().Varint(1, 2).Varint(2, 1000).Varint(3, 5000));
  Pb gpu;
  gpu.Varint(1, 3).Bytes(2, "/device:GPU:0").Message(3, line_stream).Message(3, line_ops);
  gpu.Message(4, Pb().Varint(1, 1).Message(2, Pb().Varint(1, 1).Bytes(2, "volta_sgemm_128x64_nn")));
  gpu.Message(4, Pb().Varint(1, 2).Message(2, Pb().Varint(1, 2).Bytes(2, "MatMul")));
  gpu.Message(5, Pb().Varint(1, 1).Message(2, Pb().Varint(1, 1).Bytes(2, "tf_op")));
  gpu.Message(
      5, Pb().Varint(1, 2).Message(2, Pb().Varint(1, 2).Bytes(2, "model/dense/MatMul:MatMul")));
  Pb space;
  space.Message(1, gpu);
  Trace t = MustParse(space.str());
  ASSERT_EQ(t.events.size(), 1u);
  EXPECT_EQ(t.nodes.Path(t.events[0].node), "model/dense/MatMul/volta_sgemm_128x64_nn");
  EXPECT_EQ(t.nodes.Kind(t.events[0].node), NodeKind::kKernel);
  EXPECT_EQ(t.lanes[t.events[0].lane].device, "GPU:0");
  EXPECT_EQ(t.diagnostics.Count("tf2.derived_line_event_dropped"), 1);
}

TEST(XPlaneTest, DetectionTellsXPlaneFromJson) {
  using trace_internal::LooksLikeXSpace;
  Pb space;
  space.Message(1, Plane("/host:CPU", 0, {{1, 0, 1000}}, {"Op"}));
  EXPECT_TRUE(LooksLikeXSpace(space.str()));
  EXPECT_FALSE(LooksLikeXSpace(""));
  EXPECT_FALSE(LooksLikeXSpace("{\"traceEvents\": []}"));
  EXPECT_FALSE(LooksLikeXSpace("\n  {\"traceEvents\": []}"));
  EXPECT_FALSE(LooksLikeXSpace("\n[]"));
  EXPECT_FALSE(LooksLikeXSpace("hello"));
}

// Damaged protobufs: exit 2, the file, the offset of the field at fault.
TEST(XPlaneTest, TruncatedMessageNamesTheOffset) {
  const std::string pb =
      testing::ReadText(DataPath("fixtures/tf2_bert-base-uncased_cpu_2021.xplane.pb"));
  for (size_t cut : {size_t{1}, size_t{2}, size_t{100}, pb.size() / 2, pb.size() - 1}) {
    Error e = MustFail(pb.substr(0, cut));
    EXPECT_GE(e.byte_offset, 0) << cut;
    EXPECT_LE(e.byte_offset, static_cast<int64_t>(cut)) << cut;
    EXPECT_NE(e.ToString().find("bad.xplane.pb: at byte"), std::string::npos) << e.ToString();
  }
}

TEST(XPlaneTest, WrongWireTypeNamesTheField) {
  // XEvent.offset_ps (field 2) written length-delimited.
  Pb line;
  line.Varint(1, 1).Bytes(2, "main");
  Pb ev;
  ev.Varint(1, 1).Bytes(2, "oops");
  line.Message(4, ev);
  Pb plane;
  plane.Varint(1, 1).Bytes(2, "/host:CPU").Message(3, line);
  Pb space;
  space.Message(1, plane);
  Error e = MustFail(space.str());
  EXPECT_NE(e.message.find("XEvent.offset_ps"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("wire type"), std::string::npos) << e.message;
  // The byte offset of that field's tag: found by its bytes in the file.
  const std::string tag_and_len = std::string("\x12\x04oops", 6);
  EXPECT_EQ(e.byte_offset, static_cast<int64_t>(space.str().find(tag_and_len)));
  // Planes as varints, a group, an invalid wire type.
  EXPECT_NE(MustFail(std::string("\x0a\x00\x08\x01", 4)).message.find("XSpace.planes"),
            std::string::npos);
  EXPECT_NE(MustFail(std::string("\x0a\x02\x0b\x0c", 4)).message.find("group"), std::string::npos);
  EXPECT_EQ(MustFail(std::string("\x0a\x02\x0f\x00", 4)).byte_offset, 2);
}

TEST(XPlaneTest, AbsurdLengthsAreErrorsNotAllocations) {
  // A 2 GB length prefix in a 10-byte file, at the top and nested.
  std::string top = std::string("\x0a\x80\x80\x80\x80\x08", 6) + "abcd";
  Error e = MustFail(top);
  EXPECT_EQ(e.byte_offset, 1);
  EXPECT_NE(e.message.find("2147483648 bytes"), std::string::npos) << e.message;
  Pb plane;
  plane.Varint(1, 1).Bytes(2, "/host:CPU");
  std::string nested = plane.str() + std::string("\x1a\xff\xff\xff\xff\x0f", 6);
  std::string space = std::string("\x0a", 1) + static_cast<char>(nested.size()) + nested;
  Error n = MustFail(space);
  EXPECT_EQ(n.byte_offset, static_cast<int64_t>(2 + plane.str().size() + 1));
  // A varint of 11 bytes; a length of 2^64-1.
  EXPECT_NE(MustFail(std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12))
                .message.find("varint"),
            std::string::npos);
  EXPECT_NE(MustFail(std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11))
                .message.find("bytes"),
            std::string::npos);
}

TEST(XPlaneTest, NoEventsIsBadInputAndTheFileIsNamedOnDisk) {
  Pb space;
  space.Message(1, Pb().Varint(1, 1).Bytes(2, "Task Environment"));
  EXPECT_NE(MustFail(space.str()).message.find("no events"), std::string::npos);
  // Through ReadTrace and the CLI's error path: the path and the offset.
  const std::string path = ::testing::TempDir() + "/cut.xplane.pb";
  const std::string pb =
      testing::ReadText(DataPath("fixtures/tf2_bert-base-uncased_cpu_2021.xplane.pb"));
  ASSERT_TRUE(WriteFileAtomic(path, pb.substr(0, 1000)).ok());
  Result<Trace> t = ReadTrace(path, {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().ExitCode(), 2);
  EXPECT_EQ(t.error().file, path);
  EXPECT_GE(t.error().byte_offset, 0);
}

}  // namespace
}  // namespace smaragdine
