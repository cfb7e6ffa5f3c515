// The tolerant Chrome-trace reader: ids, B/E, containers, gzip, dialect
// detection and override, and the anomaly counters (numbers have their own
// tests in json_numbers_test.cpp).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include "common/io.h"
#include "smaragdine/trace.h"
#include "trace/chrome_json.h"
#include "trace/trace_test_util.h"

namespace smaragdine {
namespace {

// A minimal legacy-dialect trace around the given events.
std::string LegacyArray(const std::string& events) { return "[" + events + "]"; }

Trace MustParse(const std::string& json, TraceFormat format = TraceFormat::kAuto) {
  Result<Trace> t = ParseTrace("mem.json", json, TraceReadOptions{format});
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().ToString());
  return t.ok() ? std::move(t).value() : Trace{};
}

TEST(TraceParseTest, EpochTimestampsKeepTheirNanosecondDigits) {
  Trace t = MustParse(LegacyArray(
      R"({"name":"aten::mm","ph":"X","ts":1712169098533620.758,"dur":1.001,"pid":"CPU functions","tid":1},)"
      R"({"name":"aten::add","ph":"X","ts":"1712169098533622.5","dur":"2","pid":"CPU functions","tid":1})"));
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.events[0].start_ns, 1712169098533620758);
  EXPECT_EQ(t.events[0].end_ns, 1712169098533621759);
  EXPECT_EQ(t.events[1].start_ns, 1712169098533622500);  // ts given as a string
  EXPECT_EQ(t.events[1].end_ns, 1712169098533624500);
}

TEST(TraceParseTest, StringAndIntegerPidsNameTheSameKindOfLane) {
  std::string json = R"({"traceEvents":[
    {"ph":"X","cat":"cpu_op","name":"aten::mm","pid":7,"tid":"9","ts":1,"dur":2},
    {"ph":"X","cat":"cpu_op","name":"aten::mm","pid":"7","tid":9,"ts":5,"dur":2},
    {"ph":"X","cat":"cpu_op","name":"aten::add","pid":"main","tid":"worker","ts":5,"dur":2}]})";
  Trace t = MustParse(json);
  EXPECT_EQ(t.dialect, "pytorch");
  ASSERT_EQ(t.lanes.size(), 2u);
  EXPECT_EQ(t.lanes[t.events[0].lane].name, "pid 7 thread 9");
  EXPECT_EQ(t.events[0].lane, t.events[1].lane);  // 7/"9" and "7"/9 are one thread
  EXPECT_EQ(t.lanes[t.events[2].lane].name, "pid main thread worker");
}

TEST(TraceParseTest, BeginEndPairsNestAndUnmatchedOnesAreCounted) {
  std::string json = R"({"traceEvents":[
    {"ph":"B","cat":"cpu_op","name":"aten::linear","pid":1,"tid":1,"ts":10},
    {"ph":"B","cat":"cpu_op","name":"aten::addmm","pid":1,"tid":1,"ts":12},
    {"ph":"E","pid":1,"tid":1,"ts":15},
    {"ph":"E","pid":1,"tid":1,"ts":20},
    {"ph":"E","pid":1,"tid":1,"ts":21},
    {"ph":"B","cat":"cpu_op","name":"aten::lost","pid":1,"tid":1,"ts":30}]})";
  Trace t = MustParse(json);
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.nodes.Path(t.events[0].node), "aten::linear");
  EXPECT_EQ(t.events[0].start_ns, 10000);
  EXPECT_EQ(t.events[0].end_ns, 20000);
  EXPECT_EQ(t.nodes.Path(t.events[1].node), "aten::linear/aten::addmm");
  EXPECT_EQ(t.events[1].end_ns, 15000);
  EXPECT_EQ(t.diagnostics.Count("trace.unmatched_end_event"), 1);
  EXPECT_EQ(t.diagnostics.Count("trace.unmatched_begin_event"), 1);
}

TEST(TraceParseTest, AnomaliesAreDroppedAndCounted) {
  std::string json = LegacyArray(
      R"({"name":"aten::ok","ph":"X","ts":1,"dur":1,"pid":"CPU functions","tid":1},)"
      R"({"name":"aten::neg","ph":"X","ts":1,"dur":-1,"pid":"CPU functions","tid":1},)"
      R"({"name":"aten::nots","ph":"X","dur":1,"pid":"CPU functions","tid":1},)"
      R"({"name":"aten::badts","ph":"X","ts":"soon","dur":1,"pid":"CPU functions","tid":1},)"
      R"({"name":"aten::nodur","ph":"X","ts":3,"pid":"CPU functions","tid":1},)"
      R"(42,)"
      R"({"name":"odd","ph":"Q","ts":3,"pid":"CPU functions","tid":1})");
  Trace t = MustParse(json);
  EXPECT_EQ(t.events.size(), 2u);  // aten::ok and aten::nodur (zero length)
  EXPECT_EQ(t.diagnostics.Count("trace.negative_duration_dropped"), 1);
  EXPECT_EQ(t.diagnostics.Count("trace.event_without_ts_dropped"), 1);
  EXPECT_EQ(t.diagnostics.Count("trace.malformed_timestamp_dropped"), 1);
  EXPECT_EQ(t.diagnostics.Count("trace.complete_event_without_duration"), 1);
  EXPECT_EQ(t.diagnostics.Count("trace.non_object_event_skipped"), 1);
  EXPECT_EQ(t.diagnostics.Count("trace.unsupported_event_phase_skipped"), 1);
}

std::string Gzip(const std::string& plain) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, plain.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(TraceParseTest, GzipAndPlainAndArrayAndObjectGiveTheSameTrace) {
  std::string events =
      R"({"name":"encoder","ph":"X","ts":0,"dur":10,"pid":"CPU functions","tid":1},)"
      R"({"name":"aten::mm","ph":"X","ts":1,"dur":5,"pid":"CPU functions","tid":1})";
  std::string array = "[" + events + "]";
  std::string object = R"({"displayTimeUnit":"ns","traceEvents":[)" + events + "]}";
  for (const std::string& json : {array, object, Gzip(array), Gzip(object)}) {
    Trace t = MustParse(json, TraceFormat::kPytorchLegacy);
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.nodes.Path(t.events[1].node), "encoder/aten::mm");
    EXPECT_EQ(t.nodes.Kind(t.events[0].node), NodeKind::kScope);
  }
  // ReadTrace inflates a gzip file by its magic bytes, whatever its name.
  std::string dir = ::testing::TempDir();
  ASSERT_TRUE(WriteFileAtomic(dir + "/t.json", Gzip(array)).ok());
  Result<Trace> t = ReadTrace(dir + "/t.json", {});
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->dialect, "pytorch-legacy");
}

TEST(TraceParseTest, DetectsEachDialectFromContent) {
  struct Case {
    std::string json;
    std::string dialect;
  } cases[] = {
      {R"([{"name":"aten::mm","ph":"X","ts":1,"dur":1,"pid":"CPU functions","tid":1}])",
       "pytorch-legacy"},
      {R"({"schemaVersion":1,"traceEvents":[{"name":"x","ph":"X","ts":1,"dur":1,"pid":1,"tid":1}]})",
       "pytorch"},
      {R"({"traceEvents":[{"name":"aten::mm","cat":"cpu_op","ph":"X","ts":1,"dur":1,"pid":1,"tid":1}]})",
       "pytorch"},
      {R"({"traceEvents":[
        {"ph":"M","pid":3,"name":"process_name","args":{"name":"/job:localhost/replica:0/task:0/device:GPU:0 Compute"}},
        {"ph":"X","pid":3,"tid":0,"name":"MatMul","ts":1,"dur":1,"args":{"name":"dense/MatMul","op":"MatMul"}}]})",
       "tf1"},
      {R"({"traceEvents":[
        {"ph":"M","pid":1,"name":"process_name","args":{"name":"/host:CPU"}},
        {"ph":"X","pid":1,"tid":2,"name":"MatMul","ts":1,"dur":1,"args":{"long_name":"dense/MatMul:MatMul"}}]})",
       "tf2"},
  };
  for (const Case& c : cases) EXPECT_EQ(MustParse(c.json).dialect, c.dialect) << c.json;
}

TEST(TraceParseTest, FormatOptionOverridesDetection) {
  std::string json = R"({"traceEvents":[{"name":"a/b/MatMul","ph":"X","ts":1,"dur":1,"pid":1,"tid":1}]})";
  Result<Trace> unknown = ParseTrace("t.json", json, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown trace dialect; use --format"),
            std::string::npos);
  Trace t = MustParse(json, TraceFormat::kTf1);
  EXPECT_EQ(t.dialect, "tf1");
  EXPECT_EQ(t.nodes.Path(t.events[0].node), "a/b/MatMul");
  EXPECT_EQ(ParseTraceFormat("pytorch-legacy").value(), TraceFormat::kPytorchLegacy);
  EXPECT_EQ(ParseTraceFormat("tf9").error().code, ErrorCode::kUsage);
}

TEST(TraceParseTest, TensorflowGradientOpsLandOnTheForwardOpAsBackward) {
  std::string json = R"({"traceEvents":[
    {"ph":"M","pid":1,"name":"process_name","args":{"name":"/job:localhost/replica:0/task:0/cpu:0 Compute"}},
    {"ph":"X","pid":1,"tid":0,"name":"MatMul","ts":1,"dur":1,"args":{"name":"layer_1/MatMul","op":"MatMul"}},
    {"ph":"X","pid":1,"tid":0,"name":"MatMul","ts":3,"dur":1,"args":{"name":"gradients/layer_1/MatMul_grad/MatMul_1","op":"MatMul"}},
    {"ph":"X","pid":1,"tid":0,"name":"MatMul","ts":5,"dur":1,"args":{"name":"gradients_2/layer_1/MatMul_grad/MatMul","op":"MatMul"}},
    {"ph":"X","pid":1,"tid":0,"name":"Apply","ts":7,"dur":1,"args":{"name":"GradientDescent/update_layer_1/w/ApplyGradientDescent","op":"ApplyGradientDescent"}}]})";
  Trace t = MustParse(json);
  ASSERT_EQ(t.events.size(), 4u);
  NodeId matmul = t.nodes.Find("layer_1/MatMul");
  EXPECT_EQ(t.events[0].node, matmul);
  EXPECT_EQ(t.events[0].phase, Phase::kForward);
  EXPECT_EQ(t.events[1].node, matmul);
  EXPECT_EQ(t.events[1].phase, Phase::kBackward);
  EXPECT_EQ(t.events[2].node, matmul);
  EXPECT_EQ(t.events[3].phase, Phase::kOptimizer);
}

TEST(TraceParseTest, KernelsFollowTheirLaunchByCorrelationExternalIdOrFlow) {
  std::string json = R"({"schemaVersion":1,"traceEvents":[
    {"ph":"X","cat":"user_annotation","name":"## forward ##","pid":1,"tid":1,"ts":0,"dur":100},
    {"ph":"X","cat":"python_function","name":"nn.Module: Linear_0","pid":1,"tid":1,"ts":1,"dur":50},
    {"ph":"X","cat":"python_function","name":"torch/nn/functional.py(12): linear","pid":1,"tid":1,"ts":2,"dur":40},
    {"ph":"X","cat":"cpu_op","name":"aten::addmm","pid":1,"tid":1,"ts":3,"dur":30,"args":{"External id":5}},
    {"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":1,"tid":1,"ts":4,"dur":2,"args":{"correlation":77}},
    {"ph":"s","cat":"ac2g","name":"ac2g","id":78,"pid":1,"tid":1,"ts":8},
    {"ph":"X","cat":"kernel","name":"gemm","pid":0,"tid":7,"ts":10,"dur":5,"args":{"correlation":77}},
    {"ph":"X","cat":"kernel","name":"gemm2","pid":0,"tid":7,"ts":20,"dur":5,"args":{"External id":5}},
    {"ph":"f","cat":"ac2g","name":"ac2g","id":78,"bp":"e","pid":0,"tid":7,"ts":30},
    {"ph":"X","cat":"gpu_memset","name":"Memset","pid":0,"tid":7,"ts":30,"dur":1},
    {"ph":"X","cat":"kernel","name":"orphan","pid":0,"tid":7,"ts":40,"dur":1}]})";
  Trace t = MustParse(json);
  std::map<std::string, const Event*> by_path;
  for (const Event& e : t.events) by_path[t.nodes.Path(e.node)] = &e;
  ASSERT_TRUE(by_path.count("Linear_0/aten::addmm/gemm"));
  EXPECT_TRUE(by_path.count("Linear_0/aten::addmm/gemm2"));
  EXPECT_TRUE(by_path.count("Linear_0/aten::addmm/Memset"));
  EXPECT_TRUE(by_path.count("orphan"));
  const Event* gemm = by_path["Linear_0/aten::addmm/gemm"];
  EXPECT_EQ(t.lanes[gemm->lane].device, "GPU:0");
  EXPECT_EQ(t.lanes[gemm->lane].name, "stream 7");
  EXPECT_EQ(gemm->phase, Phase::kForward);
  EXPECT_EQ(t.nodes.Kind(gemm->node), NodeKind::kKernel);
  EXPECT_EQ(t.diagnostics.Count("pytorch.kernel_without_launch"), 1);
  EXPECT_EQ(t.nodes.Find("## forward ##"), NodeTable::kNoNode);
}

TEST(TraceParseTest, AutogradThreadOpsMapToTheForwardOpBySequenceNumber) {
  std::string json = R"({"schemaVersion":1,"traceEvents":[
    {"ph":"X","cat":"python_function","name":"nn.Module: Linear_0","pid":1,"tid":1,"ts":1,"dur":50},
    {"ph":"X","cat":"cpu_op","name":"aten::linear","pid":1,"tid":1,"ts":2,"dur":40,"args":{"Sequence number":7,"Fwd thread id":0}},
    {"ph":"X","cat":"cpu_op","name":"aten::addmm","pid":1,"tid":1,"ts":3,"dur":30,"args":{"Sequence number":7,"Fwd thread id":0}},
    {"ph":"X","cat":"cpu_op","name":"autograd::engine::evaluate_function: AddmmBackward0","pid":1,"tid":2,"ts":100,"dur":20,"args":{"Sequence number":7,"Fwd thread id":1}},
    {"ph":"X","cat":"cpu_op","name":"AddmmBackward0","pid":1,"tid":2,"ts":101,"dur":18,"args":{"Sequence number":7,"Fwd thread id":1}},
    {"ph":"X","cat":"cpu_op","name":"aten::mm","pid":1,"tid":2,"ts":102,"dur":10}]})";
  Trace t = MustParse(json);
  // The wrapper and the function share one node under the forward op, named
  // after the backward function; what it runs nests under it.
  NodeId backward = t.nodes.Find("Linear_0/aten::linear/aten::addmm/AddmmBackward0");
  NodeId mm = t.nodes.Find("Linear_0/aten::linear/aten::addmm/AddmmBackward0/aten::mm");
  ASSERT_NE(backward, NodeTable::kNoNode);
  ASSERT_NE(mm, NodeTable::kNoNode);
  int backward_records = 0;
  for (const Event& e : t.events) {
    if (e.node == backward && e.phase == Phase::kBackward) ++backward_records;
    if (e.node == mm) EXPECT_EQ(e.phase, Phase::kBackward);
  }
  EXPECT_EQ(backward_records, 2);
}

}  // namespace
}  // namespace smaragdine
