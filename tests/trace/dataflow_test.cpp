// Data flow from TF1's `inputN` args: which node fed which, per node (not per
// event), resolved by the producer event's args.name. Other dialects have none.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "smaragdine/trace.h"
#include "trace/chrome_json.h"
#include "trace/trace_test_util.h"

namespace smaragdine {
namespace {

using testing::DataPath;
using testing::ReadText;
using Edges = std::set<std::pair<std::string, std::string>>;

Edges PathEdges(const Trace& t) {
  Edges out;
  for (const auto& [from, to] : t.dataflow) out.insert({t.nodes.Path(from), t.nodes.Path(to)});
  return out;
}

Trace MustParse(const std::string& json) {
  Result<Trace> t = ParseTrace("t.json", json, {});
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().ToString());
  return t.ok() ? std::move(t).value() : Trace{};
}

TEST(DataflowTest, Tf1FixtureHasTheEdgesItsInputArgsName) {
  Result<Trace> t = ReadTrace(DataPath("fixtures/tf1_timeline_gpu_matmul_2017.json"), {});
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  // Read off the JSON by hand: e.g. {"name": "MatMul", "input0": "random_normal",
  // "input1": "random_normal_1"}. random_normal_1/mean and random_normal_1/stddev
  // are inputs that never ran as events in this timeline: no edge, counted.
  const Edges expected = {
      {"random_normal/shape", "random_normal/RandomStandardNormal"},
      {"random_normal_1/shape", "random_normal_1/RandomStandardNormal"},
      {"random_normal/RandomStandardNormal", "random_normal/mul"},
      {"random_normal/stddev", "random_normal/mul"},
      {"random_normal_1/RandomStandardNormal", "random_normal_1/mul"},
      {"random_normal/mul", "random_normal"},
      {"random_normal/mean", "random_normal"},
      {"random_normal_1/mul", "random_normal_1"},
      {"random_normal", "MatMul"},
      {"random_normal_1", "MatMul"},
  };
  EXPECT_EQ(PathEdges(*t), expected);
  EXPECT_EQ(t->dataflow.size(), expected.size());  // each once
  EXPECT_TRUE(std::is_sorted(t->dataflow.begin(), t->dataflow.end()));
  EXPECT_EQ(t->diagnostics.Count("tf1.input_from_node_not_in_trace"), 2);

  // Two files of the same graph (two session.run calls): the same edges, once.
  const std::string tf1 = DataPath("fixtures/tf1_timeline_gpu_matmul_2017.json");
  Result<Trace> two = ReadTraces({tf1, testing::CopyToTemp(tf1, "run2.json")}, {});
  ASSERT_TRUE(two.ok()) << two.error().ToString();
  EXPECT_EQ(PathEdges(*two), expected);
  EXPECT_EQ(two->dataflow.size(), expected.size());
}

// a feeds b and (output 1) c; b and c feed d; c waits for b by a control
// dependency only. d runs twice: its edges still count once.
const char* kDiamond = R"({"traceEvents":[
  {"ph":"M","pid":1,"name":"process_name","args":{"name":"/job:localhost/replica:0/task:0/cpu:0 Compute"}},
  {"ph":"X","pid":1,"tid":0,"name":"Split","ts":1,"dur":1,"args":{"name":"a","op":"Split"}},
  {"ph":"X","pid":1,"tid":0,"name":"Relu","ts":3,"dur":1,"args":{"name":"b","op":"Relu","input0":"a"}},
  {"ph":"X","pid":1,"tid":0,"name":"Tanh","ts":5,"dur":1,"args":{"name":"c","op":"Tanh","input0":"a:1","input1":"^b"}},
  {"ph":"X","pid":1,"tid":0,"name":"Add","ts":7,"dur":1,"args":{"name":"d","op":"Add","input0":"b","input1":"c:0"}},
  {"ph":"X","pid":1,"tid":0,"name":"Add","ts":9,"dur":1,"args":{"name":"d","op":"Add","input0":"b","input1":"c:0"}}]})";

TEST(DataflowTest, DiamondWithOutputIndexAndControlDependency) {
  const Trace t = MustParse(kDiamond);
  const Edges expected = {{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}};
  EXPECT_EQ(PathEdges(t), expected);
  EXPECT_EQ(t.dataflow.size(), 4u);
  EXPECT_EQ(t.diagnostics.Count("tf1.input_from_node_not_in_trace"), 0);
}

TEST(DataflowTest, GradientOpsFeedTheirForwardOpsNodes) {
  // Gradient ops land on their forward op's node, and so do their edges; an
  // edge that ends where it starts (a gradient op fed by its own forward op) is
  // no edge. An input that names nothing in the trace is counted.
  const Trace t = MustParse(R"({"traceEvents":[
    {"ph":"M","pid":1,"name":"process_name","args":{"name":"/job:localhost/replica:0/task:0/cpu:0 Compute"}},
    {"ph":"X","pid":1,"tid":0,"name":"MatMul","ts":1,"dur":1,"args":{"name":"l1/MatMul","op":"MatMul","input0":"x"}},
    {"ph":"X","pid":1,"tid":0,"name":"Relu","ts":3,"dur":1,"args":{"name":"l1/Relu","op":"Relu","input0":"l1/MatMul"}},
    {"ph":"X","pid":1,"tid":0,"name":"ReluGrad","ts":5,"dur":1,"args":{"name":"gradients/l1/Relu_grad/ReluGrad","op":"ReluGrad","input0":"l1/Relu"}},
    {"ph":"X","pid":1,"tid":0,"name":"MatMul","ts":7,"dur":1,"args":{"name":"gradients/l1/MatMul_grad/MatMul","op":"MatMul","input0":"gradients/l1/Relu_grad/ReluGrad"}}]})");
  const Edges expected = {{"l1/MatMul", "l1/Relu"}, {"l1/Relu", "l1/MatMul"}};
  EXPECT_EQ(PathEdges(t), expected);
  EXPECT_EQ(t.diagnostics.Count("tf1.input_from_node_not_in_trace"), 1);
}

TEST(DataflowTest, OtherDialectsHaveNone) {
  for (const char* rel : {"fixtures/tf2_bert-base-uncased_cpu_2021.trace.json.gz",
                          "fixtures/pt2_bert-small_h100_inference.pt.trace.json.gz"}) {
    Result<Trace> t = ReadTrace(DataPath(rel), {});
    ASSERT_TRUE(t.ok()) << t.error().ToString();
    EXPECT_TRUE(t->dataflow.empty()) << rel;
  }
}

TEST(DataflowTest, InputsAreTheSameWhateverTheSlicesAndScanner) {
  // The fast scanner, simdjson on slices and simdjson on the whole document
  // must keep the same inputs on the same events.
  const std::string json = ReadText(DataPath("fixtures/tf1_timeline_gpu_matmul_2017.json"));
  auto inputs = [&](size_t slice_bytes) {
    auto raw = trace_internal::ParseChromeJson("t.json", json, slice_bytes);
    EXPECT_TRUE(raw.ok());
    std::vector<std::pair<uint32_t, std::string>> out;
    if (!raw.ok()) return out;
    for (const trace_internal::RawInput& in : raw->inputs)
      out.emplace_back(in.event, raw->Str(in.input));
    return out;
  };
  const auto whole = inputs(0);
  EXPECT_EQ(whole.size(), 12u);  // the fixture's twelve inputN args
  EXPECT_EQ(inputs(trace_internal::kDefaultSliceBytes), whole);
  EXPECT_EQ(inputs(700), whole);
}

}  // namespace
}  // namespace smaragdine
