// Golden trees of the real fixtures and of our PyTorch 1.13 legacy traces,
// plus the facts a user expects from each, asserted in code.
// Regenerate: SMARAGDINE_UPDATE_GOLDEN=1 ./trace_tests --gtest_filter='TraceGolden*'
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "smaragdine/trace.h"
#include "trace/trace_test_util.h"
#include "trace/trace_util.h"

namespace smaragdine {
namespace {

using testing::DataPath;
using testing::ExpectGolden;

Trace MustRead(const std::string& rel) {
  Result<Trace> t = ReadTrace(DataPath(rel), {});
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().ToString());
  if (!t.ok()) return Trace{};
  return std::move(t).value();
}

std::string Golden(const Trace& t) {
  std::string out = DescribeTraceSummary(t) + "\n" + RenderNodeTree(t);
  // Traces that record data flow (TF1's inputN) list it after the tree.
  for (const auto& [from, to] : t.dataflow)
    out += fmt::format("dataflow {} -> {}\n", t.nodes.Path(from), t.nodes.Path(to));
  return out;
}

struct NodeFacts {
  int64_t events = 0;
  std::set<Phase> phases;
  std::set<std::string> devices;
};

NodeFacts FactsOf(const Trace& t, NodeId node) {
  NodeFacts f;
  for (const Event& e : t.events) {
    if (e.node != node) continue;
    ++f.events;
    f.phases.insert(e.phase);
    f.devices.insert(t.lanes[e.lane].device);
  }
  return f;
}

bool IsUnder(const NodeTable& nodes, NodeId node, NodeId ancestor) {
  for (NodeId n = node; n != kRootNode; n = nodes.Parent(n))
    if (n == ancestor) return true;
  return false;
}

TEST(TraceGoldenTest, Tf1TimelineCountsGpuWorkOnce) {
  Trace t = MustRead("fixtures/tf1_timeline_gpu_matmul_2017.json");
  ExpectGolden("trace/tf1_timeline_gpu_matmul_2017.tree.txt", Golden(t));
  EXPECT_EQ(t.dialect, "tf1");
  EXPECT_EQ(t.time_base, TimeBase::kRealtime);
  NodeId matmul = t.nodes.Find("MatMul");
  ASSERT_NE(matmul, NodeTable::kNoNode);
  // The MatMul kernel appears on stream:all and stream:12: one GPU event, plus
  // its host launch record and its input copy (memcpy pid, not stream:7).
  int gpu_events = 0;
  for (const Event& e : t.events)
    if (e.node == matmul && t.lanes[e.lane].device == "GPU:0") ++gpu_events;
  EXPECT_EQ(gpu_events, 2);
  EXPECT_EQ(t.diagnostics.Count("tf1.duplicate_stream_event_dropped"), 9);
  // Epoch µs become ns exactly.
  int64_t min_start = INT64_MAX;
  for (const Event& e : t.events) min_start = std::min(min_start, e.start_ns);
  EXPECT_EQ(min_start, 1490280130949358000);
}

TEST(TraceGoldenTest, Tf2BertHasTwelveLayersWithTheirSublayers) {
  Trace t = MustRead("fixtures/tf2_bert-base-uncased_cpu_2021.trace.json.gz");
  ExpectGolden("trace/tf2_bert-base-uncased_cpu_2021.tree.txt", Golden(t));
  EXPECT_EQ(t.dialect, "tf2");
  EXPECT_EQ(t.time_base, TimeBase::kRelative);
  const std::string encoder = "tf_bert_for_masked_lm/bert/encoder";
  NodeId enc = t.nodes.Find(encoder);
  ASSERT_NE(enc, NodeTable::kNoNode);
  int layers = 0;
  for (NodeId id = 1; id < t.nodes.size(); ++id)
    if (t.nodes.Parent(id) == enc && t.nodes.Name(id).rfind("layer_._", 0) == 0) ++layers;
  EXPECT_EQ(layers, 12);
  for (int i = 0; i < 12; ++i) {
    for (const char* sub : {"attention/self/query", "attention/self/key", "attention/self/value",
                            "attention/output", "intermediate", "output"}) {
      EXPECT_NE(t.nodes.Find(fmt::format("{}/layer_._{}/{}", encoder, i, sub)),
                NodeTable::kNoNode)
          << "layer " << i << " " << sub;
    }
  }
  // Ops are leaves inside the executor events that enclose them.
  NodeId erf = t.nodes.Find(encoder + "/layer_._3/intermediate/Gelu/Erf");
  ASSERT_NE(erf, NodeTable::kNoNode);
  EXPECT_EQ(t.nodes.Kind(erf), NodeKind::kOp);
  EXPECT_EQ(FactsOf(t, erf).phases, std::set<Phase>{Phase::kForward});
  EXPECT_EQ(t.steps.size(), 1u);  // group_id 0
}

TEST(TraceGoldenTest, PytorchBertSmallModulesHoldTheirKernels) {
  Trace t = MustRead("fixtures/pt2_bert-small_h100_inference.pt.trace.json.gz");
  ExpectGolden("trace/pt2_bert-small_h100_inference.tree.txt", Golden(t));
  EXPECT_EQ(t.dialect, "pytorch");
  ASSERT_EQ(t.steps.size(), 1u);
  EXPECT_EQ(t.steps[0].name, "ProfilerStep#6");
  // baseTimeNanoseconds + ts·1000: the step starts at 1751410836000000000 + 1419247332972313.
  EXPECT_EQ(t.steps[0].start_ns, 1751410836000000000 + 1419247332972313);
  const std::string enc = "BertLMHeadModel_0/BertModel_0/BertEncoder_0";
  for (int i = 0; i < 4; ++i) {
    NodeId layer = t.nodes.Find(fmt::format("{}/BertLayer_{}", enc, i));
    ASSERT_NE(layer, NodeTable::kNoNode) << i;
    EXPECT_EQ(t.nodes.Kind(layer), NodeKind::kScope);
    int kernels_on_gpu = 0;
    for (const Event& e : t.events)
      if (t.nodes.Kind(e.node) == NodeKind::kKernel && IsUnder(t.nodes, e.node, layer) &&
          t.lanes[e.lane].device == "GPU:0")
        ++kernels_on_gpu;
    EXPECT_GT(kernels_on_gpu, 5) << "BertLayer_" << i;
  }
  // A GEMM kernel hangs under the addmm that launched it.
  NodeId addmm = t.nodes.Find(enc + "/BertLayer_0/BertAttention_0/BertSdpaSelfAttention_0/"
                                    "Linear_0/aten::linear/aten::addmm");
  ASSERT_NE(addmm, NodeTable::kNoNode);
  bool kernel_child = false;
  for (NodeId id = 1; id < t.nodes.size(); ++id)
    kernel_child |= t.nodes.Parent(id) == addmm && t.nodes.Kind(id) == NodeKind::kKernel;
  EXPECT_TRUE(kernel_child);
  EXPECT_EQ(t.diagnostics.Count("pytorch.kernel_without_launch"), 0);
  // ProfilerStep is a step, not a level; non-module Python frames are no nodes.
  EXPECT_EQ(t.nodes.Find("ProfilerStep#6"), NodeTable::kNoNode);
  for (NodeId id = 1; id < t.nodes.size(); ++id)
    EXPECT_EQ(t.nodes.Name(id).find(".py("), std::string::npos) << t.nodes.Path(id);
}

TEST(TraceGoldenTest, PytorchResnetTrainingPutsBackwardUnderForwardPaths) {
  Trace t = MustRead("fixtures/pt2_resnet_ddp_train_v100_2024.pt.trace.json.gz");
  ExpectGolden("trace/pt2_resnet_ddp_train_v100_2024.tree.txt", Golden(t));
  ASSERT_EQ(t.steps.size(), 5u);
  EXPECT_EQ(t.steps[0].name, "ProfilerStep#101");
  NodeId fwd = t.nodes.Find("DistributedDataParallel.forward");
  ASSERT_NE(fwd, NodeTable::kNoNode);
  // Backward ops on the autograd thread land on the forward op's path.
  NodeId conv = t.nodes.Find("DistributedDataParallel.forward/aten::conv2d/aten::convolution");
  ASSERT_NE(conv, NodeTable::kNoNode);
  NodeFacts f = FactsOf(t, conv);
  EXPECT_TRUE(f.phases.count(Phase::kForward));
  // Its backward is a node of its own under it, named after the backward
  // function (issue 16).
  NodeId conv_backward = t.nodes.Find(
      "DistributedDataParallel.forward/aten::conv2d/aten::convolution/ConvolutionBackward0");
  ASSERT_NE(conv_backward, NodeTable::kNoNode);
  EXPECT_EQ(FactsOf(t, conv_backward).phases, std::set<Phase>{Phase::kBackward});
  int64_t backward_under_forward = 0;
  for (const Event& e : t.events)
    if (e.phase == Phase::kBackward && IsUnder(t.nodes, e.node, fwd)) ++backward_under_forward;
  EXPECT_GT(backward_under_forward, 5000);
  // Gradient accumulation runs right after the backward function that made
  // the gradient, so it lands in that function's scope: all 805 calls (161
  // parameters × 5 steps) in the model's, none at the top.
  NodeId accumulate = t.nodes.Find(
      "DistributedDataParallel.forward/"
      "autograd::engine::evaluate_function: torch::autograd::AccumulateGrad");
  ASSERT_NE(accumulate, NodeTable::kNoNode);
  EXPECT_EQ(FactsOf(t, accumulate).events, 805);
  EXPECT_EQ(FactsOf(t, accumulate).phases, std::set<Phase>{Phase::kBackward});
  EXPECT_EQ(t.nodes.Find("autograd::engine::evaluate_function: torch::autograd::AccumulateGrad"),
            NodeTable::kNoNode);
  // `## forward ##` and friends are markers, not levels; the optimizer step is
  // its own scope with phase optimizer.
  for (NodeId id = 1; id < t.nodes.size(); ++id)
    EXPECT_NE(t.nodes.Name(id).rfind("##", 0), 0u) << t.nodes.Path(id);
  NodeId step = t.nodes.Find("Optimizer.step#SGD.step");
  ASSERT_NE(step, NodeTable::kNoNode);
  EXPECT_EQ(FactsOf(t, step).phases, std::set<Phase>{Phase::kOptimizer});
  // Every event lies in one of the five steps.
  for (const Event& e : t.events) ASSERT_GE(e.step, 0);
}

TEST(TraceGoldenTest, PytorchLegacyTrainingTrace) {
  Trace t = MustRead("traces/legacy_train_2steps.json");
  ExpectGolden("trace/legacy_train_2steps.tree.txt", Golden(t));
  EXPECT_EQ(t.dialect, "pytorch-legacy");
  EXPECT_EQ(t.time_base, TimeBase::kRelative);
  ASSERT_EQ(t.steps.size(), 2u);
  EXPECT_EQ(t.steps[1].name, "ProfilerStep#1");
  NodeId addmm = t.nodes.Find("encoder/layer_0/aten::linear/aten::addmm");
  ASSERT_NE(addmm, NodeTable::kNoNode);
  EXPECT_EQ(t.nodes.Kind(t.nodes.Find("encoder/layer_0")), NodeKind::kScope);
  EXPECT_EQ(FactsOf(t, addmm).events, 2);  // once per step
  // Backward ops stay where they ran (no sequence numbers): top level, backward.
  NodeId bwd = t.nodes.Find("autograd::engine::evaluate_function: AddmmBackward0");
  ASSERT_NE(bwd, NodeTable::kNoNode);
  EXPECT_EQ(FactsOf(t, bwd).phases, std::set<Phase>{Phase::kBackward});
  NodeId opt = t.nodes.Find("Optimizer.step#SGD.step");
  ASSERT_NE(opt, NodeTable::kNoNode);
  EXPECT_EQ(FactsOf(t, opt).phases, std::set<Phase>{Phase::kOptimizer});
  // "detach" nested in aten::detach is an op, not a user scope.
  NodeId detach = t.nodes.Find("autograd::engine::evaluate_function: "
                               "torch::autograd::AccumulateGrad/torch::autograd::AccumulateGrad/"
                               "aten::detach/detach");
  ASSERT_NE(detach, NodeTable::kNoNode);
  EXPECT_EQ(t.nodes.Kind(detach), NodeKind::kOp);
}

TEST(TraceGoldenTest, PytorchLegacyInferenceTrace) {
  Trace t = MustRead("traces/legacy_infer.json");
  ExpectGolden("trace/legacy_infer.tree.txt", Golden(t));
  EXPECT_TRUE(t.steps.empty());
  for (const Event& e : t.events) EXPECT_EQ(e.phase, Phase::kForward);
  EXPECT_NE(t.nodes.Find("encoder/layer_1/aten::relu"), NodeTable::kNoNode);
  EXPECT_NE(t.nodes.Find("head/aten::linear"), NodeTable::kNoNode);
}

TEST(TraceGoldenTest, ReadTracesMergesFilesAndMakesStepsOfStepless) {
  std::string tf1 = DataPath("fixtures/tf1_timeline_gpu_matmul_2017.json");
  Result<Trace> one = ReadTrace(tf1, {});
  // Two session.run files of one graph (one file given twice is refused).
  Result<Trace> two = ReadTraces({tf1, testing::CopyToTemp(tf1, "run2.json")}, {});
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(two->nodes.size(), one->nodes.size());  // merged by path
  EXPECT_EQ(two->lanes.size(), one->lanes.size());  // merged by device and name
  EXPECT_EQ(two->events.size(), 2 * one->events.size());
  ASSERT_EQ(two->steps.size(), 2u);  // each stepless file is one step
  EXPECT_EQ(two->events.front().step, 0);
  EXPECT_EQ(two->events.back().step, 1);
  EXPECT_EQ(two->diagnostics.Count("tf1.duplicate_stream_event_dropped"), 18);

  Result<Trace> mixed =
      ReadTraces({tf1, DataPath("traces/legacy_infer.json")}, {});
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error().code, ErrorCode::kBadInput);
}

}  // namespace
}  // namespace smaragdine
