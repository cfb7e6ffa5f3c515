// The synthetic program behind `simulate`: lanes, steps, scopes and ops, the
// trace a profiler would write for it, and its readings and truth.
#include <algorithm>
#include <array>
#include <numeric>

#include <fmt/format.h>

#include "common/json_text.h"
#include "sim/model.h"
#include "smaragdine/simulate.h"
#include "trace/autograd_names.h"

namespace smaragdine {

namespace {

constexpr const char* kOpNames[] = {"MatMul", "Add",      "Softmax", "Relu",
                                    "LayerNorm", "Conv2D", "BiasAdd", "Mul",
                                    "Tanh",   "Gelu",     "Transpose", "Reshape"};
constexpr int kOpNameCount = sizeof(kOpNames) / sizeof(kOpNames[0]);
constexpr int kPid = 31337;

// Epoch microseconds with the nanoseconds as three decimals, as Kineto writes them.
std::string Micros(int64_t ns) { return fmt::format("{}.{:03d}", ns / 1000, ns % 1000); }

// TF1 writes integer microseconds; keep decimals only where the grid is finer.
std::string MicrosTf1(int64_t ns) {
  return ns % 1000 == 0 ? fmt::format("{}", ns / 1000) : Micros(ns);
}

std::string LastName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// How the trace writes one op; the truth keys it by its Interval::path, which
// is the path the dialect's reader gives it (a backward op: its forward op's).
struct OpTrace {
  static constexpr int64_t kSeqFromExternalId = -1;  // "Sequence number" = the event's External id
  static constexpr int64_t kNoSeq = -2;              // no autograd: no "Sequence number"
  std::string name;     // PyTorch: the event's name; TF1: the op type
  std::string tf_name;  // TF1 args.name; empty: the interval's path
  int64_t seq = kSeqFromExternalId;
  bool backward = false;  // PyTorch: "Fwd thread id" is the forward lane's tid
};

struct Program {
  std::vector<sim::Interval> ops;     // leaves
  std::vector<OpTrace> op_trace;      // parallel to ops; empty: each op's last path name
  std::vector<sim::Interval> scopes;  // enclosing name scopes (pytorch only writes them)
  struct StepSpan {
    int64_t start_ns, end_ns;
  };
  std::vector<StepSpan> steps;  // ProfilerStep#N on lane 0
};

// Each class of op draws its dynamic power from the seed: the same key gets
// the same power in every run. Scope spread and call noise multiply it.
class PowerModel {
 public:
  PowerModel(const SimScenario& sc, size_t nd)
      : sc_(sc), nd_(nd), noise_rng_(sc.seed ^ 0x6E6F6973655F7277ull) {}

  // Dynamic power per domain of one call of class `key` at `path` in `phase`.
  // With spread and noise 0 this is the historical per-name draw, bit for bit.
  std::vector<double> Call(std::string_view key, const std::string& path, Phase phase) {
    double u = static_cast<double>(sim::HashName(sc_.seed, key) >> 11) * 0x1.0p-53;
    double pkg = sc_.dyn_min_w + (sc_.dyn_max_w - sc_.dyn_min_w) * u;
    if (sc_.scope_spread > 0) {
      std::string where = path + "\n" + ToString(phase);
      double v = static_cast<double>(sim::HashName(sc_.seed, where) >> 11) * 0x1.0p-53;
      pkg *= 1 + sc_.scope_spread * (2 * v - 1);
    }
    // Its own stream: noise on or off leaves the program's timeline alone.
    if (sc_.call_noise > 0) pkg *= 1 + sc_.call_noise * (2 * noise_rng_.Uniform() - 1);
    std::vector<double> w(nd_, 0.0);
    w[0] = pkg;
    if (nd_ > 1) w[1] = 0.15 * pkg;
    return w;
  }

 private:
  const SimScenario& sc_;
  size_t nd_;
  sim::Rng noise_rng_;
};

std::string OpPath(int nesting, int i, const std::string& name) {
  switch (nesting) {
    case 0: return name;
    case 1: return "model/" + name;
    case 2: return fmt::format("model/layer_{}/{}", i / 4, name);
    default: return fmt::format("model/layer_{}/{}/{}", i / 4, (i % 4) < 2 ? "attention" : "mlp", name);
  }
}

// Scopes are the runs of consecutive ops (on one lane, in one step) sharing a
// path prefix: the span of a record_function around them.
void AddScopes(const std::vector<sim::Interval>& block, int nesting, size_t nd,
               std::vector<sim::Interval>* scopes) {
  for (int level = 1; level <= nesting; ++level) {
    size_t i = 0;
    while (i < block.size()) {
      auto prefix = [&](const std::string& path) {
        size_t pos = 0;
        for (int k = 0; k < level; ++k) pos = path.find('/', pos) + 1;
        return path.substr(0, pos - 1);
      };
      std::string p = prefix(block[i].path);
      size_t j = i;
      while (j + 1 < block.size() && prefix(block[j + 1].path) == p) ++j;
      sim::Interval s;
      s.start_ns = block[i].start_ns;
      s.end_ns = block[j].end_ns;
      s.lane = block[i].lane;
      s.path = p;
      s.dyn_w.assign(nd, 0.0);
      s.scope = true;
      scopes->push_back(std::move(s));
      i = j + 1;
    }
  }
}

std::string PytorchTrace(const SimScenario& sc, const Program& prog, sim::Rng& rng) {
  std::vector<std::string> events;
  auto lane_tid = [](uint32_t lane) { return kPid + static_cast<int>(lane); };
  int64_t ext = 1;
  for (size_t s = 0; s < prog.steps.size(); ++s) {
    int64_t a = prog.steps[s].start_ns + sc.realtime_offset_ns;
    int64_t b = prog.steps[s].end_ns + sc.realtime_offset_ns;
    events.push_back(fmt::format(
        R"({{"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#{}", "pid": {}, "tid": {}, "ts": {}, "dur": {}, "args": {{"External id": {}, "Record function id": 0}}}})",
        s, kPid, lane_tid(0), Micros(a), Micros(b - a), ext++));
  }
  for (const sim::Interval& e : prog.scopes) {
    int64_t a = e.start_ns + sc.realtime_offset_ns;
    events.push_back(fmt::format(
        R"({{"ph": "X", "cat": "user_annotation", "name": {}, "pid": {}, "tid": {}, "ts": {}, "dur": {}, "args": {{"External id": {}, "Record function id": 0}}}})",
        JsonQuote(LastName(e.path)), kPid, lane_tid(e.lane), Micros(a),
        Micros(e.end_ns - e.start_ns), ext++));
  }
  for (size_t i = 0; i < prog.ops.size(); ++i) {
    const sim::Interval& e = prog.ops[i];
    int64_t a = e.start_ns + sc.realtime_offset_ns;
    if (prog.op_trace.empty()) {
      events.push_back(fmt::format(
          R"({{"ph": "X", "cat": "cpu_op", "name": {}, "pid": {}, "tid": {}, "ts": {}, "dur": {}, "args": {{"External id": {}, "Record function id": 0, "Sequence number": {}, "Fwd thread id": 0}}}})",
          JsonQuote(LastName(e.path)), kPid, lane_tid(e.lane), Micros(a),
          Micros(e.end_ns - e.start_ns), ext, ext));
      ++ext;
      continue;
    }
    // Kineto: an op that recorded an autograd node carries its Sequence
    // number; the engine's backward function carries the same number and the
    // forward thread's id, which is how the reader puts it on the forward op.
    const OpTrace& t = prog.op_trace[i];
    std::string autograd;
    if (t.seq != OpTrace::kNoSeq)
      autograd = fmt::format(R"(, "Sequence number": {}, "Fwd thread id": {})",
                             t.seq == OpTrace::kSeqFromExternalId ? ext : t.seq,
                             t.backward ? lane_tid(0) : 0);
    events.push_back(fmt::format(
        R"({{"ph": "X", "cat": "cpu_op", "name": {}, "pid": {}, "tid": {}, "ts": {}, "dur": {}, "args": {{"External id": {}, "Record function id": 0{}}}}})",
        JsonQuote(t.name), kPid, lane_tid(e.lane), Micros(a), Micros(e.end_ns - e.start_ns), ext,
        autograd));
    ++ext;
  }
  if (sc.shuffle_events) {
    for (size_t i = events.size(); i > 1; --i) std::swap(events[i - 1], events[rng.Next() % i]);
  } else {
    // Kineto sorts by start; keep the enclosing event first on ties.
    // (The strings carry the order implicitly; a stable order is enough here.)
  }
  std::string out =
      "{\n  \"schemaVersion\": 1,\n  \"deviceProperties\": [],\n  \"traceEvents\": [\n";
  out += fmt::format(
      R"(  {{"name": "process_name", "ph": "M", "ts": 0, "pid": {}, "tid": 0, "args": {{"name": "python3"}}}})",
      kPid);
  for (int l = 0; l < sc.threads; ++l)
    out += fmt::format(
        ",\n" R"j(  {{"name": "thread_name", "ph": "M", "ts": 0, "pid": {}, "tid": {}, "args": {{"name": "thread {} (python3)"}}}})j",
        kPid, lane_tid(l), lane_tid(l));
  for (const std::string& e : events) out += ",\n  " + e;
  out += "\n  ],\n  \"traceName\": \"smaragdine simulate\",\n  \"displayTimeUnit\": \"ms\"\n}\n";
  return out;
}

std::string Tf1Trace(const SimScenario& sc, const Program& prog, sim::Rng& rng) {
  std::vector<std::string> events;
  for (size_t i = 0; i < prog.ops.size(); ++i) {
    const sim::Interval& e = prog.ops[i];
    // A gradient op's args.name is its own (gradients/…/X_grad/…); the reader
    // maps it back onto the forward path the truth uses.
    const OpTrace* t = prog.op_trace.empty() ? nullptr : &prog.op_trace[i];
    std::string op = t ? t->name : LastName(e.path);
    const std::string& name = t && !t->tf_name.empty() ? t->tf_name : e.path;
    events.push_back(fmt::format(
        R"({{"pid": 1, "tid": {}, "cat": "Op", "name": {}, "ts": {}, "dur": {}, "ph": "X", "args": {{"name": {}, "op": {}}}}})",
        e.lane, JsonQuote(op), MicrosTf1(e.start_ns + sc.realtime_offset_ns),
        MicrosTf1(e.end_ns - e.start_ns), JsonQuote(name), JsonQuote(op)));
  }
  if (sc.shuffle_events)
    for (size_t i = events.size(); i > 1; --i) std::swap(events[i - 1], events[rng.Next() % i]);
  std::string out = "{\n    \"traceEvents\": [\n";
  out += R"(        {"args": {"name": "Allocators"}, "pid": 0, "name": "process_name", "ph": "M"})";
  out += ",\n" R"(        {"args": {"name": "/job:localhost/replica:0/task:0/device:CPU:0 Compute"}, "pid": 1, "name": "process_name", "ph": "M"})";
  for (const std::string& e : events) out += ",\n        " + e;
  out += "\n    ]\n}\n";
  return out;
}

SimScenario Clamped(SimScenario sc) {
  sc.threads = std::clamp(sc.threads, 1, 256);
  sc.steps = std::clamp(sc.steps, 1, 1'000'000);
  sc.ops_per_step = std::clamp(sc.ops_per_step, 1, 1'000'000);
  sc.quantum_ns = std::max<int64_t>(1000, sim::RoundUp(sc.quantum_ns, 1000));
  sc.op_min_ns = std::max(sc.op_min_ns, sc.quantum_ns);
  sc.op_max_ns = std::max(sc.op_max_ns, sc.op_min_ns);
  sc.gap_max_ns = std::max<int64_t>(0, sc.gap_max_ns);
  sc.step_gap_ns = std::max<int64_t>(0, sc.step_gap_ns);
  sc.nesting = std::clamp(sc.nesting, 0, 3);
  sc.distinct_ops = std::clamp(sc.distinct_ops, 1, kOpNameCount);
  sc.update_period_ns = std::max<int64_t>(1, sc.update_period_ns);
  sc.sample_period_ns = std::max<int64_t>(1, sc.sample_period_ns);
  sc.counter_unit_j = std::max(0.0, sc.counter_unit_j);
  sc.dyn_max_w = std::max(sc.dyn_max_w, sc.dyn_min_w);
  if (sc.dialect != "tf1") sc.dialect = "pytorch";
  if (sc.program != "bert") sc.program = "random";
  sc.layers = std::clamp(sc.layers, 1, 1000);
  sc.scope_spread = std::clamp(sc.scope_spread, 0.0, 0.95);
  sc.call_noise = std::clamp(sc.call_noise, 0.0, 0.95);
  if (sc.meter == MeterKind::kUnknown) sc.meter = MeterKind::kCounter;
  if (sc.update_phase_ns)  // modulo the period, into [0, period)
    *sc.update_phase_ns -= sim::RoundDown(*sc.update_phase_ns, sc.update_period_ns);
  if (sc.window_ns <= 0) sc.window_ns = sc.update_period_ns;
  sc.power_unit_w = std::max(0.0, sc.power_unit_w);
  return sc;
}

// The original synthetic program: blocks of random ops per lane and step.
Program BuildRandom(const SimScenario& sc, size_t nd, int64_t start_ns, sim::Rng& rng,
                    PowerModel& power) {
  std::vector<std::string> names(kOpNames, kOpNames + sc.distinct_ops);
  const int64_t q = sc.quantum_ns;
  auto on_grid = [&](int64_t ns) { return sim::RoundDown(ns + q / 2, q); };

  Program prog;
  auto run_block = [&](uint32_t lane, int64_t t) {
    std::vector<sim::Interval> block;
    for (int i = 0; i < sc.ops_per_step; ++i) {
      t += on_grid(rng.Range(0, sc.gap_max_ns));
      int64_t dur = std::max(q, on_grid(rng.Range(sc.op_min_ns, sc.op_max_ns)));
      const std::string& name = names[rng.Next() % names.size()];
      sim::Interval e;
      e.start_ns = t;
      e.end_ns = t + dur;
      e.lane = lane;
      e.path = OpPath(sc.nesting, i, name);
      e.dyn_w = power.Call(name, e.path, Phase::kForward);
      block.push_back(std::move(e));
      t += dur;
    }
    if (sc.dialect == "pytorch") AddScopes(block, sc.nesting, nd, &prog.scopes);
    int64_t first = block.front().start_ns, last = block.back().end_ns;
    if (lane == 0) prog.steps.push_back({first, last});
    for (auto& e : block) prog.ops.push_back(std::move(e));
    return last;
  };

  int64_t cursor = start_ns;
  for (int s = 0; s < sc.steps; ++s) {
    if (s > 0) cursor += on_grid(sc.step_gap_ns);
    if (sc.concurrent) {
      int64_t end = cursor;
      for (int l = 0; l < sc.threads; ++l) end = std::max(end, run_block(l, cursor));
      cursor = end;
    } else {
      for (int l = 0; l < sc.threads; ++l) cursor = run_block(l, cursor);
    }
  }
  return prog;
}

// ---- The BERT-like program --------------------------------------------------

// One kind of op, named as each framework names it. The power class is the
// kind and the phase, the same in both dialects, so one seed gives one
// physical program whichever trace is written.
struct OpKind {
  const char* key;
  const char* torch;           // the forward aten op
  const char* torch_backward;  // its autograd node (the engine runs it as evaluate_function: X)
  const char* tf_leaf;         // TF1: the forward op's node name in its scope
  const char* tf_type;
  std::array<const char*, 2> tf_grads;  // TF1: ops in gradients/…/<leaf>_grad/ (second optional)
  const char* tf_grad_type;
  double backward_factor;      // backward duration / forward
};

enum Kind { kLinear, kMatmul, kDiv, kAdd, kSoftmax, kDropout, kLayerNorm, kGelu, kEmbedding,
            kTanh, kLoss };
constexpr OpKind kKinds[] = {
    {"linear", "aten::linear", "AddmmBackward0", "MatMul", "MatMul", {"MatMul", "MatMul_1"}, "MatMul", 2.0},
    {"matmul", "aten::matmul", "BmmBackward0", "MatMul", "BatchMatMulV2", {"MatMul", "MatMul_1"}, "BatchMatMulV2", 2.0},
    {"div", "aten::div", "DivBackward0", "truediv", "RealDiv", {"RealDiv", nullptr}, "RealDiv", 1.0},
    {"add", "aten::add", "AddBackward0", "add", "AddV2", {"Sum", nullptr}, "Sum", 0.6},
    {"softmax", "aten::softmax", "SoftmaxBackward0", "Softmax", "Softmax", {"mul", nullptr}, "Mul", 1.2},
    {"dropout", "aten::dropout", "NativeDropoutBackward0", "dropout", "Mul", {"Mul", nullptr}, "Mul", 1.0},
    {"layer_norm", "aten::layer_norm", "NativeLayerNormBackward0", "batchnorm", "FusedBatchNormV3", {"FusedBatchNormGradV3", nullptr}, "FusedBatchNormGradV3", 1.5},
    {"gelu", "aten::gelu", "GeluBackward0", "Gelu", "Gelu", {"GeluGrad", nullptr}, "GeluGrad", 1.5},
    {"embedding", "aten::embedding", "EmbeddingBackward0", "GatherV2", "GatherV2", {"UnsortedSegmentSum", nullptr}, "UnsortedSegmentSum", 2.0},
    {"tanh", "aten::tanh", "TanhBackward0", "Tanh", "Tanh", {"TanhGrad", nullptr}, "TanhGrad", 1.0},
    {"loss", "aten::cross_entropy_loss", "NllLossBackward0", "SparseSoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits", {"mul", nullptr}, "Mul", 1.0},
};

// One op of the model's forward pass: its module scope (also TF1's name
// scope), kind, TF1 node name where two ops of a kind share a scope, forward
// time, and the time of the optimizer's update of its parameters (0: none).
struct BertOp {
  std::string scope;
  Kind kind;
  const char* tf_leaf;  // nullptr: the kind's
  double forward_us;
  double update_us;
};

std::vector<BertOp> BertForward(int layers) {
  std::vector<BertOp> ops = {
      {"bert/embeddings/word_embeddings", kEmbedding, nullptr, 90, 400},
      {"bert/embeddings/position_embeddings", kEmbedding, nullptr, 35, 30},
      {"bert/embeddings/token_type_embeddings", kEmbedding, nullptr, 30, 20},
      {"bert/embeddings", kAdd, "add", 35, 0},
      {"bert/embeddings", kAdd, "add_1", 35, 0},
      {"bert/embeddings/LayerNorm", kLayerNorm, nullptr, 65, 20},
      {"bert/embeddings", kDropout, nullptr, 35, 0},
  };
  for (int l = 0; l < layers; ++l) {
    const std::string p = fmt::format("bert/encoder/layer_{}/", l);
    const std::vector<BertOp> layer = {
        {p + "attention/self/query", kLinear, nullptr, 150, 80},
        {p + "attention/self/key", kLinear, nullptr, 150, 80},
        {p + "attention/self/value", kLinear, nullptr, 150, 80},
        {p + "attention/self", kMatmul, "MatMul", 110, 0},
        {p + "attention/self", kDiv, nullptr, 30, 0},
        {p + "attention/self", kAdd, nullptr, 35, 0},
        {p + "attention/self", kSoftmax, nullptr, 100, 0},
        {p + "attention/self", kDropout, nullptr, 40, 0},
        {p + "attention/self", kMatmul, "MatMul_1", 110, 0},
        {p + "attention/output/dense", kLinear, nullptr, 150, 80},
        {p + "attention/output", kDropout, nullptr, 30, 0},
        {p + "attention/output", kAdd, nullptr, 35, 0},
        {p + "attention/output/LayerNorm", kLayerNorm, nullptr, 65, 25},
        {p + "intermediate/dense", kLinear, nullptr, 240, 200},
        {p + "intermediate", kGelu, nullptr, 130, 0},
        {p + "output/dense", kLinear, nullptr, 240, 200},
        {p + "output", kDropout, nullptr, 45, 0},
        {p + "output", kAdd, nullptr, 35, 0},
        {p + "output/LayerNorm", kLayerNorm, nullptr, 65, 25},
    };
    ops.insert(ops.end(), layer.begin(), layer.end());
  }
  ops.push_back({"bert/pooler/dense", kLinear, nullptr, 60, 80});
  ops.push_back({"bert/pooler", kTanh, nullptr, 30, 0});
  ops.push_back({"classifier", kLinear, nullptr, 40, 20});
  ops.push_back({"loss", kLoss, nullptr, 65, 0});
  return ops;
}

std::vector<std::string> SplitScopes(const std::string& scope) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= scope.size() && !scope.empty()) {
    size_t slash = scope.find('/', pos);
    if (slash == std::string::npos) slash = scope.size();
    out.push_back(scope.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

// Lays out one lane's ops in time. Each op carries the scopes the PyTorch
// trace wraps it in. A scope at depth L of an op D scopes deep starts
// (D - L + 1) quanta before its first op and ends as long after its last:
// Kineto's module spans strictly enclose their ops, so a reader never has to
// guess which of two events with one start and length is the outer one. The
// gap between two ops leaves room for the scopes that close and open there,
// in both dialects, so one seed gives one timeline.
class LaneWriter {
 public:
  LaneWriter(const SimScenario& sc, Program* prog, uint32_t lane, size_t nd)
      : sc_(sc), prog_(prog), lane_(lane), nd_(nd), q_(sc.quantum_ns) {}

  struct Op {
    std::vector<std::string> scopes;  // PyTorch's enclosing scopes, outermost first
    std::string path;                 // what the reader gives it (the truth's key)
    OpTrace trace;
    Phase phase;
    std::vector<double> dyn_w;
  };

  // Appends `op` of `dur_ns` after at least `gap_ns`.
  void Add(Op op, int64_t gap_ns, int64_t dur_ns) {
    size_t common = 0;
    if (!block_.empty()) {
      const auto& prev = block_.back().scopes;
      while (common < prev.size() && common < op.scopes.size() && prev[common] == op.scopes[common])
        ++common;
      gap_ns = std::max<int64_t>(gap_ns, q_ * static_cast<int64_t>(prev.size() + op.scopes.size() - 2 * common));
    } else {
      gap_ns = std::max<int64_t>(gap_ns, q_ * static_cast<int64_t>(op.scopes.size() + 1));
    }
    int64_t start = t_ + gap_ns;
    sim::Interval e;
    e.start_ns = start;
    e.end_ns = start + std::max(q_, dur_ns);
    e.lane = lane_;
    e.path = op.path;
    e.dyn_w = std::move(op.dyn_w);
    e.phase = op.phase;
    t_ = e.end_ns;
    block_.push_back({std::move(op.scopes), std::move(e), std::move(op.trace)});
  }

  void SetTime(int64_t t_ns) { t_ = t_ns; }
  // The time after the last op, its scopes closed.
  int64_t EndNs() const {
    return t_ + (block_.empty() ? 0 : q_ * static_cast<int64_t>(block_.back().scopes.size() + 1));
  }

  // Moves the block's ops (and, for PyTorch, its scopes) into the program.
  void Flush() {
    if (sc_.dialect == "pytorch") AddScopesFromLists();
    for (Entry& x : block_) {
      prog_->ops.push_back(std::move(x.interval));
      prog_->op_trace.push_back(std::move(x.trace));
    }
    block_.clear();
  }

 private:
  struct Entry {
    std::vector<std::string> scopes;
    sim::Interval interval;
    OpTrace trace;
  };

  void AddScopesFromLists() {
    size_t depth = 0;
    for (const Entry& x : block_) depth = std::max(depth, x.scopes.size());
    for (size_t level = 1; level <= depth; ++level) {
      size_t i = 0;
      while (i < block_.size()) {
        if (block_[i].scopes.size() < level) {
          ++i;
          continue;
        }
        auto same = [&](size_t j) {
          if (block_[j].scopes.size() < level) return false;
          for (size_t k = 0; k < level; ++k)
            if (block_[j].scopes[k] != block_[i].scopes[k]) return false;
          return true;
        };
        size_t j = i;
        while (j + 1 < block_.size() && same(j + 1)) ++j;
        sim::Interval s;
        s.start_ns = block_[i].interval.start_ns -
                     q_ * static_cast<int64_t>(block_[i].scopes.size() - level + 1);
        s.end_ns = block_[j].interval.end_ns +
                   q_ * static_cast<int64_t>(block_[j].scopes.size() - level + 1);
        s.lane = lane_;
        for (size_t k = 0; k < level; ++k) s.path += (k ? "/" : "") + block_[i].scopes[k];
        s.dyn_w.assign(nd_, 0.0);
        s.scope = true;
        s.phase = block_[i].interval.phase;
        prog_->scopes.push_back(std::move(s));
        i = j + 1;
      }
    }
  }

  const SimScenario& sc_;
  Program* prog_;
  uint32_t lane_;
  size_t nd_;
  int64_t q_;
  int64_t t_ = 0;
  std::vector<Entry> block_;
};

// A BERT-like training run: per step, on lane 0, the forward pass in module
// scopes, the backward pass (autograd functions in reverse order, no scopes,
// each landing on its forward op's path), and an SGD update per parameter
// group; lanes 1.. run data-loader batches beside it. Durations vary ±5 %
// per call (the data loader ±20 %), on the quantum grid, within 20–500 µs.
class BertBuilder {
 public:
  BertBuilder(const SimScenario& sc, size_t nd, sim::Rng& rng, PowerModel& power)
      : sc_(sc),
        nd_(nd),
        rng_(rng),
        power_(power),
        pytorch_(sc.dialect == "pytorch"),
        q_(sc.quantum_ns),
        model_(BertForward(sc.layers)),
        fwd_path_(model_.size()),
        scopes_(model_.size()) {
    for (size_t k = 0; k < model_.size(); ++k) {
      const OpKind& kind = kKinds[model_[k].kind];
      scopes_[k] = SplitScopes(model_[k].scope);
      fwd_path_[k] = model_[k].scope + "/" +
                     (pytorch_ ? kind.torch : model_[k].tf_leaf ? model_[k].tf_leaf : kind.tf_leaf);
    }
  }

  // The steps one after another, each written in the order of its random
  // draws (forward, backward, optimizer, data loaders): the order is the
  // scenario, so it may not change.
  Program Build(int64_t start_ns) {
    int64_t cursor = start_ns;
    for (int s = 0; s < sc_.steps; ++s) {
      if (s > 0) cursor += OnGrid(sc_.step_gap_ns);
      const int64_t step_start = cursor;
      const std::vector<int64_t> seq_of = Forward(step_start);
      const int64_t backward_end = Backward(seq_of);
      const int64_t step_end = sc_.optimizer_step ? Optimizer(backward_end) : backward_end;
      prog_.steps.push_back({step_start, step_end});
      DataLoaders(step_start, step_end);
      cursor = step_end;
    }
    return std::move(prog_);
  }

 private:
  int64_t OnGrid(int64_t ns) const { return sim::RoundDown(ns + q_ / 2, q_); }
  // The table's relative times, scaled so that the median op (as the reader
  // sees them, optimizer included) is ~100 µs: a 1 ms counter is 10x it.
  int64_t Duration(double us, double spread) {
    constexpr double kTimeScale = 1.2;
    double v = kTimeScale * us * (1 + spread * (2 * rng_.Uniform() - 1));
    return std::max(q_, OnGrid(static_cast<int64_t>(std::clamp(v, 20.0, 500.0) * 1000)));
  }
  int64_t Gap(int64_t lo_us, int64_t hi_us) { return OnGrid(rng_.Range(lo_us, hi_us) * 1000); }

  // Forward: the model's ops in order, in their module scopes. Returns each
  // op's autograd sequence number.
  std::vector<int64_t> Forward(int64_t step_start) {
    LaneWriter main(sc_, &prog_, 0, nd_);
    main.SetTime(step_start);
    std::vector<int64_t> seq_of(model_.size());
    for (size_t k = 0; k < model_.size(); ++k) {
      const OpKind& kind = kKinds[model_[k].kind];
      LaneWriter::Op op;
      op.scopes = scopes_[k];  // in TF1 too: the gaps leave room for them (LaneWriter)
      op.path = fwd_path_[k];
      op.phase = Phase::kForward;
      seq_of[k] = seq_++;
      op.trace.name = pytorch_ ? kind.torch : kind.tf_type;
      op.trace.seq = seq_of[k];
      op.dyn_w = power_.Call(std::string(kind.key) + ":forward", op.path, op.phase);
      // One statement per draw: the order of function arguments is unspecified.
      const int64_t g = Gap(3, 15);
      const int64_t dur = Duration(model_[k].forward_us, 0.05);
      main.Add(std::move(op), g, dur);
    }
    main.Flush();
    return seq_of;
  }

  // Backward: reverse order, on the forward thread, outside any scope.
  // Returns when it ends.
  int64_t Backward(const std::vector<int64_t>& seq_of) {
    LaneWriter back(sc_, &prog_, 0, nd_);
    back.SetTime(prog_.ops.back().end_ns + q_ * static_cast<int64_t>(scopes_.back().size() + 1));
    for (size_t r = model_.size(); r-- > 0;) {
      const OpKind& kind = kKinds[model_[r].kind];
      const int64_t dur = Duration(model_[r].forward_us * kind.backward_factor, 0.05);
      std::vector<double> dyn = power_.Call(std::string(kind.key) + ":backward", fwd_path_[r],
                                            Phase::kBackward);
      const int64_t g = Gap(2, 10) + (r + 1 == model_.size() ? OnGrid(40'000) : 0);
      if (pytorch_) {
        LaneWriter::Op op;
        // The PyTorch reader puts a backward function under its forward op,
        // as a node named after the function (autograd_names.h).
        op.path = fwd_path_[r] + "/" + kind.torch_backward;
        op.phase = Phase::kBackward;
        op.trace.name = std::string(kEvaluateFunctionPrefix) + kind.torch_backward;
        op.trace.seq = seq_of[r];
        op.trace.backward = true;
        op.dyn_w = std::move(dyn);
        back.Add(std::move(op), g, dur);
        continue;
      }
      // TF1: the gradient of one forward op may be two ops back to back
      // (MatMul_grad/MatMul and MatMul_1): one call's time and power, split.
      const int parts = kind.tf_grads[1] ? 2 : 1;
      const int64_t first = parts == 1 ? dur : std::max(q_, sim::RoundDown(dur / 2, q_));
      for (int part = 0; part < parts; ++part) {
        LaneWriter::Op op;
        op.path = fwd_path_[r];
        op.phase = Phase::kBackward;
        op.trace.name = kind.tf_grad_type;
        op.trace.tf_name = "gradients/" + fwd_path_[r] + "_grad/" + kind.tf_grads[part];
        op.dyn_w = dyn;
        back.Add(std::move(op), part == 0 ? g : 0, part == 0 ? first : std::max(q_, dur - first));
      }
    }
    const int64_t backward_end = back.EndNs();
    back.Flush();
    return backward_end;
  }

  // Optimizer: an SGD update per parameter group, in model order. Returns
  // when it ends.
  int64_t Optimizer(int64_t backward_end) {
    LaneWriter opt(sc_, &prog_, 0, nd_);
    opt.SetTime(backward_end + OnGrid(30'000));
    const std::string torch_scope = "Optimizer.step#SGD.step";
    for (size_t k = 0; k < model_.size(); ++k) {
      if (model_[k].update_us <= 0) continue;
      LaneWriter::Op op;
      op.phase = Phase::kOptimizer;
      op.scopes = {torch_scope};
      if (pytorch_) {
        op.path = torch_scope + "/aten::add_";
        op.trace.name = "aten::add_";
      } else {
        op.path = "GradientDescent/update_" + model_[k].scope + "/ResourceApplyGradientDescent";
        op.trace.name = "ResourceApplyGradientDescent";
      }
      op.trace.seq = OpTrace::kNoSeq;  // under torch.no_grad(): no autograd node
      op.dyn_w = power_.Call("sgd_update:optimizer", op.path, op.phase);
      const int64_t g = Gap(2, 8);
      const int64_t dur = Duration(model_[k].update_us, 0.05);
      opt.Add(std::move(op), g, dur);
    }
    const int64_t step_end = opt.EndNs();
    opt.Flush();
    return step_end;
  }

  // Data loaders: batches of gather, stack, convert and copy beside the
  // model, on lanes 1.., until a batch would pass the step's end.
  void DataLoaders(int64_t step_start, int64_t step_end) {
    static const struct {
      const char* key;
      const char* torch;
      const char* tf;
      double us;
    } kLoader[] = {{"index_select", "aten::index_select", "GatherV2", 60},
                   {"stack", "aten::stack", "Pack", 150},
                   {"to", "aten::to", "Cast", 40},
                   {"copy", "aten::copy_", "Identity", 80}};
    for (int l = 1; l < sc_.threads; ++l) {
      int64_t t = step_start + Gap(0, 200);
      for (;;) {
        LaneWriter batch(sc_, &prog_, static_cast<uint32_t>(l), nd_);
        batch.SetTime(t);
        for (const auto& x : kLoader) {
          LaneWriter::Op op;
          op.scopes = {"data_loader"};
          op.path = std::string("data_loader/") + (pytorch_ ? x.torch : x.tf);
          op.phase = Phase::kForward;
          op.trace.name = pytorch_ ? x.torch : x.tf;
          op.trace.seq = OpTrace::kNoSeq;
          op.dyn_w = power_.Call(std::string("data_loader:") + x.key, op.path, op.phase);
          const int64_t g = Gap(20, 120);
          const int64_t dur = Duration(x.us, 0.2);
          batch.Add(std::move(op), g, dur);
        }
        if (batch.EndNs() > step_end) break;  // the rest of the step waits for the next
        t = batch.EndNs() + Gap(200, 600);
        batch.Flush();
      }
    }
  }

  const SimScenario& sc_;
  const size_t nd_;
  sim::Rng& rng_;
  PowerModel& power_;
  const bool pytorch_;
  const int64_t q_;
  const std::vector<BertOp> model_;
  std::vector<std::string> fwd_path_;               // per template op, in this dialect
  std::vector<std::vector<std::string>> scopes_;   // per template op
  Program prog_;
  int64_t seq_ = 0;  // autograd's sequence numbers, one per forward op, across steps
};

Program BuildBert(const SimScenario& sc, size_t nd, int64_t start_ns, sim::Rng& rng,
                  PowerModel& power) {
  return BertBuilder(sc, nd, rng, power).Build(start_ns);
}

}  // namespace
namespace {

struct PresetInfo {
  const char* name;
  const char* help;
};

constexpr PresetInfo kPresets[] = {
    {"sequential", "2 lanes taking turns, readings every 100 µs on the ops' grid: exact up to 1 µJ"},
    {"concurrent", "4 lanes side by side, + cpu:0/dram; exact up to 1 µJ"},
    {"nested", "2 concurrent lanes, model/layer_N/attention|mlp scopes; exact up to 1 µJ"},
    {"quantised", "RAPL-like: 61 µJ, 1 ms updates, 1 kHz sampling with 10% jitter"},
    {"tf1", "the nested program as a TF1 timeline; exact up to 1 µJ"},
    {"accuracy", "DESIGN §9: one lane, counter period 10x the median op (50-150 µs)"},
    {"bert-rapl", "BERT-like training (4 layers, forward/backward/SGD, 40 steps, PyTorch); "
                  "RAPL-like counter: 1 ms updates at a random phase, 15.3 µJ, 1 kHz ± 5%"},
    {"bert-rapl-tf1", "bert-rapl as a TF1 timeline (gradients/…/X_grad ops)"},
    {"bert-rapl-concurrent", "bert-rapl with a data-loader lane running beside the model"},
    {"bert-nvml", "bert, 400 steps; A100-like power meter: the average of 25 ms, updated "
                  "every 100 ms at a random phase, 1 mW, read every 20 ms ± 5%"},
    {"bert-nvml-1s", "bert-nvml with a 1 s average updated every 100 ms (NVML's documented "
                     "field on Ampere and newer)"},
};

}  // namespace

std::vector<std::string> ScenarioPresetNames() {
  std::vector<std::string> out;
  for (const PresetInfo& p : kPresets) out.push_back(p.name);
  return out;
}

std::string ScenarioPresetHelp() {
  // Name in a column of 24, help wrapped to 80 columns beside it.
  constexpr size_t kIndent = 24, kWidth = 80;
  std::string out;
  for (const PresetInfo& p : kPresets) {
    std::string line = fmt::format("  {:<{}}", p.name, kIndent - 2);
    std::string_view help = p.help;
    size_t col = line.size();
    while (!help.empty()) {
      size_t space = help.find(' ');
      std::string_view word = help.substr(0, space);
      help = space == std::string_view::npos ? std::string_view() : help.substr(space + 1);
      if (col > kIndent && col + 1 + word.size() > kWidth) {
        out += line + "\n";
        line = std::string(kIndent, ' ');
        col = kIndent;
      } else if (col > kIndent) {
        line += ' ';
        ++col;
      }
      line += word;
      col += word.size();
    }
    out += line + "\n";
  }
  return out;
}

Result<SimScenario> ScenarioPreset(std::string_view name) {
  SimScenario sc;
  // Readings finer than the ops and on their grid: the answer is exact up to the unit.
  sc.quantum_ns = 100'000;
  sc.sample_period_ns = 100'000;
  sc.update_period_ns = 100'000;
  sc.op_min_ns = 300'000;
  sc.op_max_ns = 3'000'000;
  sc.gap_max_ns = 200'000;
  sc.counter_unit_j = 1e-6;
  if (name == "sequential") {
    sc.threads = 2;
    sc.nesting = 2;
  } else if (name == "concurrent") {
    sc.threads = 4;
    sc.concurrent = true;
    sc.nesting = 2;
    sc.dram_idle_w = 3;
  } else if (name == "nested") {
    sc.threads = 2;
    sc.concurrent = true;
    sc.nesting = 3;
    sc.ops_per_step = 16;
  } else if (name == "quantised") {
    // RAPL-like: 61 µJ unit, 1 ms update and 1 kHz sampling with jitter.
    sc.threads = 2;
    sc.concurrent = true;
    sc.nesting = 3;
    sc.quantum_ns = 1000;
    sc.counter_unit_j = 61e-6;
    sc.update_period_ns = 1'000'000;
    sc.sample_period_ns = 1'000'000;
    sc.jitter = 0.1;
  } else if (name == "tf1") {
    sc.dialect = "tf1";
    sc.threads = 2;
    sc.concurrent = true;
    sc.nesting = 3;
  } else if (name == "accuracy") {
    // DESIGN §9: the counter period is 10× the median op.
    sc.threads = 1;
    sc.nesting = 3;
    sc.steps = 20;
    sc.ops_per_step = 16;
    sc.quantum_ns = 1000;
    sc.op_min_ns = 50'000;
    sc.op_max_ns = 150'000;
    sc.gap_max_ns = 10'000;
    sc.counter_unit_j = 61e-6;
    sc.update_period_ns = 1'000'000;
    sc.sample_period_ns = 1'000'000;
    sc.jitter = 0.05;
  } else if (name == "bert-rapl" || name == "bert-rapl-tf1" || name == "bert-rapl-concurrent" ||
             name == "bert-nvml" || name == "bert-nvml-1s") {
    // Training on a meter coarser than its ops (DESIGN §6.7-8, §9).
    sc.program = "bert";
    sc.layers = 4;
    sc.optimizer_step = true;
    sc.steps = 40;
    sc.step_gap_ns = 300'000;
    sc.quantum_ns = 1000;
    sc.update_phase_ns = std::nullopt;  // drawn from the seed
    sc.jitter = 0.05;
    if (name.substr(0, 9) == "bert-rapl") {
      // RAPL: the counter updates every ~1 ms (10x the median op here); a
      // 2^-16 J energy unit (15.3 µJ), read at 1 kHz.
      sc.meter = MeterKind::kCounter;
      sc.counter_unit_j = 15.3e-6;
      sc.update_period_ns = 1'000'000;
      sc.sample_period_ns = 1'000'000;
      if (name == "bert-rapl-tf1") sc.dialect = "tf1";
      if (name == "bert-rapl-concurrent") sc.threads = 2;
    } else {
      // nvmlDeviceGetPowerUsage: whole mW, read by `record`'s slow sampler
      // (20 ms). A100 averages 25 ms of every 100 ms (Yang, Adámek, Armour,
      // SC'24); Ampere and newer document a 1 s average. A 100 ms update
      // needs a long run: 400 steps.
      sc.meter = MeterKind::kWindowedPower;
      sc.counter_unit_j = 0;
      sc.power_unit_w = 1e-3;
      sc.update_period_ns = 100'000'000;
      sc.window_ns = name == "bert-nvml" ? 25'000'000 : 1'000'000'000;
      sc.sample_period_ns = 20'000'000;
      sc.steps = 400;
    }
  } else {
    std::string known;
    for (const auto& n : ScenarioPresetNames()) known += (known.empty() ? "" : ", ") + n;
    return UsageError(fmt::format("unknown scenario '{}' (known: {})", name, known));
  }
  return sc;
}

SimResult Simulate(const SimScenario& input) {
  const SimScenario sc = Clamped(input);
  sim::Rng rng(sc.seed);

  // The meter's phase: given, or drawn from a stream of its own.
  int64_t phase = 0;
  if (sc.update_phase_ns) {
    phase = *sc.update_phase_ns;
  } else {
    sim::Rng phase_rng(sim::HashName(sc.seed, "meter update phase"));
    phase = phase_rng.Range(0, sc.update_period_ns - 1);
  }
  const bool power_meter = sc.meter != MeterKind::kCounter;
  auto domain = [&](const char* name, double idle_w) {
    sim::DomainSpec d{name, "CPU:0", idle_w, sc.update_period_ns, power_meter ? 0.0 : sc.counter_unit_j};
    d.meter = sc.meter;
    d.phase_ns = phase;
    d.window_ns = sc.window_ns;
    d.unit_w = sc.power_unit_w;
    return d;
  };
  std::vector<sim::DomainSpec> domains;
  domains.push_back(domain("cpu:0/package", sc.cpu_idle_w));
  if (sc.dram_idle_w > 0) domains.push_back(domain("cpu:0/dram", sc.dram_idle_w));
  const size_t nd = domains.size();
  std::vector<sim::LaneSpec> lanes(sc.threads, sim::LaneSpec{"CPU:0"});
  PowerModel power(sc, nd);

  const int64_t q = sc.quantum_ns;
  const int64_t grid = std::lcm(q, sc.sample_period_ns);
  // Idle readings before and after the program; a power meter also needs its
  // window to have passed the last op.
  const int64_t margin = sim::RoundUp(
      2 * std::max(sc.sample_period_ns, sc.update_period_ns) + (power_meter ? sc.window_ns : 0), grid);
  const int64_t log_start = sc.monotonic_start_ns;

  Program prog = sc.program == "bert" ? BuildBert(sc, nd, log_start + margin, rng, power)
                                      : BuildRandom(sc, nd, log_start + margin, rng, power);

  std::vector<sim::Interval> all = prog.ops;
  all.insert(all.end(), prog.scopes.begin(), prog.scopes.end());
  // The window is the trace's span: scopes included (a PyTorch module span
  // starts before its first op).
  int64_t window_start = INT64_MAX, window_end = INT64_MIN;
  for (const auto& e : all) {
    window_start = std::min(window_start, e.start_ns);
    window_end = std::max(window_end, e.end_ns);
  }
  const int64_t log_end = log_start + sim::RoundUp(window_end + margin - log_start, grid);

  SimResult r;
  r.update_phase_ns = phase;
  std::vector<sim::PowerCurve> curves;
  sim::AnalyticAttribution(all, lanes, domains, log_start, log_end, window_start, window_end,
                           &r.truth, &curves);
  r.truth.aligned = !power_meter && sc.jitter == 0 && sc.update_period_ns == sc.sample_period_ns &&
                    q % sc.sample_period_ns == 0 && phase % sc.sample_period_ns == 0;
  r.readings = sim::SampleReadings(curves, domains, log_start, log_end, sc.sample_period_ns,
                                   sc.jitter, sc.seed);
  r.meta = sim::MakeMeta(domains, log_start, log_end, sc.realtime_offset_ns, sc.sample_period_ns,
                         {"smaragdine", "simulate", "--seed", std::to_string(sc.seed)},
                         /*describe_meter=*/true);
  if (sc.dialect == "tf1") {
    r.trace_name = "trace.json";
    r.trace_text = Tf1Trace(sc, prog, rng);
  } else {
    r.trace_name = "trace.pt.trace.json";
    r.trace_text = PytorchTrace(sc, prog, rng);
  }
  return r;
}

}  // namespace smaragdine
