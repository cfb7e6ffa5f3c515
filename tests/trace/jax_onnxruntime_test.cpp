// The JAX (XPlane) and ONNX Runtime dialects on fixtures made here after
// each framework's layout (tests/data/xplane/make_jax_xplane.py,
// tests/data/onnxruntime/make_ort_profile.py), plus the name-stack rules.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "smaragdine/trace.h"
#include "trace/dialect.h"
#include "trace/trace_test_util.h"
#include "trace/trace_util.h"

namespace smaragdine {
namespace {

using testing::DataPath;

Trace MustRead(const std::string& rel, TraceReadOptions o = {}) {
  Result<Trace> t = ReadTrace(DataPath(rel), o);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().ToString());
  if (!t.ok()) return Trace{};
  return std::move(t).value();
}

std::set<Phase> PhasesOf(const Trace& t, NodeId node) {
  std::set<Phase> p;
  for (const Event& e : t.events)
    if (e.node == node) p.insert(e.phase);
  return p;
}

int64_t EventsOf(const Trace& t, NodeId node) {
  int64_t n = 0;
  for (const Event& e : t.events) n += e.node == node;
  return n;
}

TEST(JaxNameStackTest, TransformsUnwrapIntoScopesAndPhases) {
  using trace_internal::JaxPathAndPhase;
  Phase p;
  EXPECT_EQ(JaxPathAndPhase("jit(train_step)/jit(main)/jvp(MLP)/Dense_0/dot_general", true, &p),
            "train_step/MLP/Dense_0/dot_general");
  EXPECT_EQ(p, Phase::kForward);
  EXPECT_EQ(JaxPathAndPhase("jit(train_step)/jit(main)/transpose(jvp(MLP))/Dense_0/dot_general",
                            true, &p),
            "train_step/MLP/Dense_0/dot_general");
  EXPECT_EQ(p, Phase::kBackward);
  // Outside jvp and transpose in a training step: the update.
  EXPECT_EQ(JaxPathAndPhase("jit(train_step)/jit(main)/mul", true, &p), "train_step/mul");
  EXPECT_EQ(p, Phase::kOptimizer);
  // The same in an inference trace is forward.
  EXPECT_EQ(JaxPathAndPhase("jit(predict)/jit(main)/Dense_0/dot_general", false, &p),
            "predict/Dense_0/dot_general");
  EXPECT_EQ(p, Phase::kForward);
  // Nested calls and transforms; a '/' inside parentheses is not a level.
  EXPECT_EQ(JaxPathAndPhase("jit(f)/jvp(jit(relu))/max", false, &p), "f/relu/max");
  EXPECT_EQ(p, Phase::kForward);
  EXPECT_EQ(JaxPathAndPhase("pjit(g)/vmap(h)/transpose(jvp(remat(block)))/add", false, &p),
            "g/h/block/add");
  EXPECT_EQ(p, Phase::kBackward);
  EXPECT_EQ(JaxPathAndPhase("jit(f)/cond(a/b)/x", false, &p), "f/cond(a/b)/x");
  // A scope named like the lowered entry is kept unless jit wrapped it.
  EXPECT_EQ(JaxPathAndPhase("jit(f)/main/x", false, &p), "f/main/x");
  EXPECT_EQ(JaxPathAndPhase("jit(f)/Adam/update", false, &p), "f/Adam/update");
  EXPECT_EQ(p, Phase::kOptimizer);
  // Not transforms, or not wrapping the whole component: kept as written.
  EXPECT_EQ(JaxPathAndPhase("jit(f)/foo(x)/jvp(a)b/jvp(", false, &p), "f/foo(x)/jvp(a)b/jvp(");
  // A crafted name 200,000 transforms deep unwraps in linear time.
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += "jvp(";
  deep += "x";
  deep += std::string(200000, ')');
  EXPECT_EQ(JaxPathAndPhase(deep, false, &p), "x");
  EXPECT_EQ(p, Phase::kForward);
}

TEST(JaxXPlaneTest, MlpTrainingStepHasScopesPhasesKernelsAndSteps) {
  Trace t = MustRead("xplane/jax_mlp_train_gpu.xplane.pb");
  testing::ExpectGolden("trace/jax_mlp_train_gpu.xplane.tree.txt",
                        DescribeTraceSummary(t) + "\n" + RenderNodeTree(t));
  EXPECT_EQ(t.dialect, "jax");
  // Task Environment's profile_start_time: wall-clock ns, no anchor needed.
  EXPECT_EQ(t.time_base, TimeBase::kRealtime);
  int64_t first = INT64_MAX;
  for (const Event& e : t.events) first = std::min(first, e.start_ns);
  EXPECT_EQ(first, 1'717'171'717'000'000'000 + 105'000);  // the first PjitFunction
  // StepTraceAnnotation("train", step_num=k): three steps, not nodes.
  ASSERT_EQ(t.steps.size(), 3u);
  EXPECT_EQ(t.steps[2].name, "train 2");
  EXPECT_EQ(t.nodes.Find("train"), NodeTable::kNoNode);
  // Forward and backward of one op land on its path; kernels under it.
  NodeId gemm = t.nodes.Find("train_step/MLP/Dense_0/dot_general");
  ASSERT_NE(gemm, NodeTable::kNoNode);
  std::set<Phase> kernel_phases;
  for (NodeId id = 1; id < t.nodes.size(); ++id)
    if (t.nodes.Parent(id) == gemm) {
      EXPECT_EQ(t.nodes.Kind(id), NodeKind::kKernel);
      for (Phase p : PhasesOf(t, id)) kernel_phases.insert(p);
    }
  EXPECT_EQ(kernel_phases, (std::set<Phase>{Phase::kForward, Phase::kBackward}));
  // A kernel with only hlo_op + program_id found its name stack in the HLO
  // module; a fusion without metadata, the scope its fused ops share.
  NodeId dw = t.nodes.Find(
      "train_step/MLP/Dense_1/dot_general/"
      "cutlass_80_tensorop_s1688gemm_64x64_32x3_tn_align4");
  ASSERT_NE(dw, NodeTable::kNoNode);
  EXPECT_EQ(PhasesOf(t, dw), std::set<Phase>{Phase::kBackward});
  NodeId loss = t.nodes.Find("train_step/loss_fn/input_reduce_fusion");
  ASSERT_NE(loss, NodeTable::kNoNode);
  EXPECT_EQ(PhasesOf(t, loss), std::set<Phase>{Phase::kForward});
  // The update (no scope of its own) is the optimizer's.
  NodeId update = t.nodes.Find("train_step/mul/loop_multiply_add_fusion");
  ASSERT_NE(update, NodeTable::kNoNode);
  EXPECT_EQ(PhasesOf(t, update), std::set<Phase>{Phase::kOptimizer});
  // A copy with only its launch hangs under the host launch of train_step.
  NodeId copy = t.nodes.Find("PjitFunction(train_step)/MemcpyDtoH");
  ASSERT_NE(copy, NodeTable::kNoNode);
  EXPECT_EQ(EventsOf(t, copy), 3);
  EXPECT_EQ(t.diagnostics.Count("jax.kernel_without_op"), 1);  // the redzone checker
  // Derived lines repeat the kernels: not counted; Python frames are no scopes.
  EXPECT_EQ(t.diagnostics.Count("jax.derived_line_event_dropped"), 3 * 9 + 3);
  EXPECT_EQ(t.diagnostics.Count("jax.python_frame_skipped"), 3);
  for (const Event& e : t.events) {
    EXPECT_GE(e.step, 0) << t.nodes.Path(e.node);
    if (t.nodes.Kind(e.node) == NodeKind::kKernel) EXPECT_EQ(t.lanes[e.lane].device, "GPU:0");
  }
  // --format jax and xplane agree; tf2 reads the same file with TF rules.
  EXPECT_EQ(MustRead("xplane/jax_mlp_train_gpu.xplane.pb", {TraceFormat::kXplane}).dialect, "jax");
  Trace as_tf2 = MustRead("xplane/jax_mlp_train_gpu.xplane.pb", {TraceFormat::kTf2});
  EXPECT_EQ(as_tf2.dialect, "tf2");
}

TEST(OnnxRuntimeTest, BertProfileHasTheModelsHierarchyOnCpuAndGpuLanes) {
  Trace t = MustRead("onnxruntime/bert_tiny_cuda.onnxruntime_profile.json");
  testing::ExpectGolden("trace/bert_tiny_cuda.onnxruntime_profile.tree.txt",
                        DescribeTraceSummary(t) + "\n" + RenderNodeTree(t));
  EXPECT_EQ(t.dialect, "onnxruntime");
  EXPECT_EQ(t.time_base, TimeBase::kRelative);
  ASSERT_EQ(t.steps.size(), 2u);
  EXPECT_EQ(t.steps[1].name, "model_run 1");
  EXPECT_EQ(t.nodes.Find("model_run"), NodeTable::kNoNode);
  // /bert/encoder/layer.0/attention/self/query/MatMul → that hierarchy,
  // its kernel under it on the GPU, its launch on the host thread.
  NodeId query = t.nodes.Find("bert/encoder/layer.0/attention/self/query/MatMul");
  ASSERT_NE(query, NodeTable::kNoNode);
  EXPECT_EQ(t.nodes.Kind(query), NodeKind::kOp);
  EXPECT_EQ(t.nodes.Kind(t.nodes.Find("bert/encoder/layer.0/attention")), NodeKind::kScope);
  NodeId sgemm = t.nodes.Find(
      "bert/encoder/layer.0/attention/self/query/MatMul/"
      "ampere_sgemm_32x32_sliced1x4_nn");
  ASSERT_NE(sgemm, NodeTable::kNoNode);
  EXPECT_EQ(t.nodes.Kind(sgemm), NodeKind::kKernel);
  std::set<std::string> devices;
  for (const Event& e : t.events) {
    if (e.node == sgemm) EXPECT_EQ(t.lanes[e.lane].device, "GPU:0");
    if (e.node == query) EXPECT_EQ(t.lanes[e.lane].device, "CPU:0");
    devices.insert(t.lanes[e.lane].device);
    EXPECT_EQ(e.phase, Phase::kOther);
  }
  EXPECT_EQ(devices, (std::set<std::string>{"CPU:0", "GPU:0"}));
  // The fences are the node's too; SequentialExecutor::Execute encloses the nodes.
  EXPECT_EQ(EventsOf(t, t.nodes.Find("bert/embeddings/word_embeddings/Gather")), 2 * 3);
  EXPECT_NE(t.nodes.Find("SequentialExecutor::Execute"), NodeTable::kNoNode);
  EXPECT_EQ(t.diagnostics.Count("onnxruntime.kernel_without_node"), 0);
}

TEST(OnnxRuntimeTest, GpuProviderNodesWithoutKernelsStandForTheGpu) {
  // GPU tracing off: a CUDA node's time is the only record of its GPU work;
  // a CPU node stays on the CPU. A kernel without parent_name (before
  // ONNX Runtime 1.17) is a top-level kernel.
  const std::string doc = R"([
{"cat" : "Session","pid" :1,"tid" :2,"dur" :100,"ts" :0,"ph" : "X","name" :"model_run","args" : {}},
{"cat" : "Node","pid" :1,"tid" :2,"dur" :10,"ts" :5,"ph" : "X","name" :"/m/fc/MatMul_kernel_time","args" : {"provider" : "CUDAExecutionProvider","op_name" : "MatMul"}},
{"cat" : "Node","pid" :1,"tid" :2,"dur" :10,"ts" :20,"ph" : "X","name" :"/m/Shape_kernel_time","args" : {"provider" : "CPUExecutionProvider","op_name" : "Shape"}}
])";
  Result<Trace> t = ParseTrace("ort.json", doc, {});
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->dialect, "onnxruntime");
  for (const Event& e : t->events) {
    const std::string path = t->nodes.Path(e.node);
    EXPECT_EQ(t->lanes[e.lane].device, path == "m/fc/MatMul" ? "GPU:0" : "CPU:0") << path;
    EXPECT_EQ(e.step, 0);
  }
  const std::string with_kernel = R"([
{"cat" : "Node","pid" :1,"tid" :2,"dur" :10,"ts" :5,"ph" : "X","name" :"/m/fc/MatMul_kernel_time","args" : {"provider" : "CUDAExecutionProvider","op_name" : "MatMul"}},
{"cat" : "Kernel","pid" :-1,"tid" :-1,"dur" :4,"ts" :6,"ph" : "X","name" :"sgemm","args" : {"op_name" : "MatMul"}}
])";
  Result<Trace> k = ParseTrace("ort.json", with_kernel, {TraceFormat::kOnnxRuntime});
  ASSERT_TRUE(k.ok()) << k.error().ToString();
  EXPECT_EQ(k->diagnostics.Count("onnxruntime.kernel_without_node"), 1);
  EXPECT_NE(k->nodes.Find("sgemm"), NodeTable::kNoNode);
  EXPECT_EQ(k->lanes[k->events[0].lane].device, "CPU:0");  // kernels present: a launch
}

}  // namespace
}  // namespace smaragdine
