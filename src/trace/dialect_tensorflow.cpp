// TensorFlow dialects: TF1 `Timeline.generate_chrome_trace_format()` and the
// TF2/JAX profiler's trace viewer JSON. Rules: docs/trace-formats.md.
#include <cctype>
#include <optional>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "smaragdine/device.h"
#include "trace/dialect.h"

namespace smaragdine::trace_internal {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) parts.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}

int32_t StepAt(const std::vector<Step>& steps, int64_t t_ns) {
  auto it = std::upper_bound(steps.begin(), steps.end(), t_ns,
                             [](int64_t t, const Step& s) { return t < s.start_ns; });
  // Steps may overlap (rare); take the latest-starting one that holds t.
  while (it != steps.begin()) {
    --it;
    if (t_ns < it->end_ns) return static_cast<int32_t>(it - steps.begin());
    if (it->end_ns <= it->start_ns) continue;
    break;
  }
  return -1;
}

namespace {

bool IsGradientsPrefix(std::string_view c) {
  // "gradients", "gradients_1", "gradients_12"
  if (c.substr(0, 9) != "gradients") return false;
  if (c.size() == 9) return true;
  if (c[9] != '_' || c.size() == 10) return false;
  for (size_t i = 10; i < c.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(c[i]))) return false;
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool IsOptimizerComponent(std::string_view c) {
  static const char* kOptimizers[] = {"GradientDescent", "Adam",     "SGD",     "Momentum",
                                      "RMSProp",         "Adagrad",  "Adadelta", "Ftrl",
                                      "Adamax",          "Nadam",    "AdamW",   "LAMB"};
  for (const char* o : kOptimizers)
    if (c == o) return true;
  return StartsWith(c, "update_");
}

std::string TfPathAndPhase(std::string_view path, std::string_view op_type, Phase* phase) {
  std::vector<std::string_view> parts = SplitPath(path);
  if (!parts.empty() && (IsGradientsPrefix(parts[0]) || parts[0] == "gradient_tape")) {
    *phase = Phase::kBackward;
    bool tape = parts[0] == "gradient_tape";
    // The forward op is the component with the `_grad` suffix (TF1 graph
    // gradients): `gradients/layer_1/MatMul_grad/MatMul_1` → `layer_1/MatMul`.
    int last_grad = -1;
    for (size_t i = 1; i < parts.size(); ++i)
      if (EndsWith(parts[i], "_grad") && parts[i].size() > 5) last_grad = static_cast<int>(i);
    std::string out;
    if (last_grad > 0) {
      for (int i = 1; i <= last_grad; ++i) {
        std::string_view c = parts[i];
        if (EndsWith(c, "_grad")) c.remove_suffix(5);
        if (!out.empty()) out += '/';
        out += c;
      }
      return out;
    }
    if (tape && parts.size() > 2) {
      // TF2 GradientTape: `gradient_tape/<forward op path>/<grad op>`.
      for (size_t i = 1; i + 1 < parts.size(); ++i) {
        if (!out.empty()) out += '/';
        out += parts[i];
      }
      return out;
    }
    return std::string(path);  // e.g. gradients/Fill: no forward op to land on
  }
  bool optimizer = StartsWith(op_type, "Apply") || StartsWith(op_type, "ResourceApply");
  for (std::string_view c : parts) optimizer = optimizer || IsOptimizerComponent(c);
  if (!parts.empty() && (parts[0] == "Adam" || parts[0] == "SGD")) optimizer = true;
  *phase = optimizer ? Phase::kOptimizer : Phase::kForward;
  return std::string(path);
}

namespace {

// What a TF1 process (pid) holds, from its process_name.
struct Tf1Process {
  enum Kind { kSkip, kCpu, kGpuDevice, kGpuStreamAll, kGpuStream, kGpuMemcpy, kUnknown };
  Kind kind = kUnknown;
  int gpu = -1;
  std::string name;
};

// Finds "gpu:N" / "GPU:N" after a '/' or "device:"; -1 when absent.
int GpuIndex(std::string_view s) {
  for (std::string_view marker : {"gpu:", "GPU:"}) {
    size_t p = s.find(marker);
    while (p != std::string_view::npos) {
      bool boundary = p == 0 || s[p - 1] == '/' || s[p - 1] == ':';
      size_t d = p + marker.size();
      if (boundary && d < s.size() && std::isdigit(static_cast<unsigned char>(s[d]))) {
        int v = 0;
        while (d < s.size() && std::isdigit(static_cast<unsigned char>(s[d])) && v < 100000)
          v = v * 10 + (s[d++] - '0');
        return v;
      }
      p = s.find(marker, p + 1);
    }
  }
  return -1;
}

Tf1Process ClassifyTf1(std::string_view pname) {
  Tf1Process p;
  p.name = std::string(pname);
  if (!EndsWith(pname, " Compute")) {
    // "… Tensors" (memory snapshots) and "Allocators" hold no op intervals.
    p.kind = Tf1Process::kSkip;
    return p;
  }
  int gpu = GpuIndex(pname);
  if (gpu >= 0) {
    p.gpu = gpu;
    if (pname.find("/stream:all") != std::string_view::npos) p.kind = Tf1Process::kGpuStreamAll;
    else if (pname.find("/stream:") != std::string_view::npos) p.kind = Tf1Process::kGpuStream;
    else if (pname.find("/memcpy") != std::string_view::npos) p.kind = Tf1Process::kGpuMemcpy;
    else p.kind = Tf1Process::kGpuDevice;
    return p;
  }
  p.kind = Tf1Process::kCpu;
  return p;
}

// The node and phase of each TF1 label (a string id: args.name, else the
// event's name), kNoNode until made: indexed by id, since every event looks
// its label up.
using NodeOfName = std::vector<std::pair<NodeId, Phase>>;

// TF1 data flow. Each `inputN` names a producer node: "name", "name:K" (its
// output K) or "^name" (a control dependency: ordering, no data, so no
// edge). Both ends map to the nodes their events landed on, so a gradient op's
// edges are its forward op's node's. `caches` are BuildTf1's label → node maps
// (ops, kernels).
void ResolveTf1Inputs(const RawTrace& raw, const NodeOfName (&caches)[2], Trace* out) {
  if (raw.inputs.empty()) return;
  auto node_of = [&](StrId label) {
    for (const NodeOfName& cache : caches)
      if (label < cache.size() && cache[label].first != NodeTable::kNoNode)
        return cache[label].first;
    return NodeTable::kNoNode;
  };
  constexpr NodeId kControl = NodeTable::kNoNode - 1;
  constexpr NodeId kUnresolved = NodeTable::kNoNode - 2;
  // By input text (a string id); each distinct input resolved once.
  std::vector<NodeId> producer_of(raw.strings.size(), kUnresolved);
  std::vector<std::pair<NodeId, NodeId>> edges;
  // Every step repeats the graph's edges: each is kept once as it comes
  // (an open-addressing set of (producer, consumer)), not sorted in its
  // thousands of copies.
  std::vector<uint64_t> seen(64, ~uint64_t{0});
  auto first_time = [&](uint64_t key) {
    size_t mask = seen.size() - 1;
    size_t i = (key * 0x9E3779B97F4A7C15ull) >> 20 & mask;
    for (; seen[i] != ~uint64_t{0}; i = (i + 1) & mask)
      if (seen[i] == key) return false;
    seen[i] = key;
    if ((edges.size() + 1) * 2 > seen.size()) {
      std::vector<uint64_t> bigger(seen.size() * 2, ~uint64_t{0});
      mask = bigger.size() - 1;
      for (uint64_t k : seen) {
        if (k == ~uint64_t{0}) continue;
        size_t j = (k * 0x9E3779B97F4A7C15ull) >> 20 & mask;
        while (bigger[j] != ~uint64_t{0}) j = (j + 1) & mask;
        bigger[j] = k;
      }
      seen = std::move(bigger);
    }
    return true;
  };
  int64_t missing = 0;
  for (const RawInput& in : raw.inputs) {
    const RawEvent& e = raw.events[in.event];
    const NodeId consumer = node_of(e.arg_name != kEmptyStr ? e.arg_name : e.name);
    if (consumer == NodeTable::kNoNode) continue;  // an event on a process that holds no ops
    NodeId& producer = producer_of[in.input];
    if (producer == kUnresolved) {
      producer = NodeTable::kNoNode;
      std::string_view name = raw.Str(in.input);
      if (StartsWith(name, "^")) {
        producer = kControl;
      } else {
        const size_t colon = name.rfind(':');
        if (colon != std::string_view::npos && colon + 1 < name.size() &&
            name.find('/', colon) == std::string_view::npos &&
            std::all_of(name.begin() + colon + 1, name.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
          name = name.substr(0, colon);
        const StrId id = raw.strings.Find(name);
        if (id != StringTable::kNoStr) producer = node_of(id);
      }
    }
    if (producer == kControl) continue;
    if (producer == NodeTable::kNoNode) {
      ++missing;  // e.g. a node the run did not trace
      continue;
    }
    if (producer != consumer && first_time((uint64_t{producer} << 32) | consumer))
      edges.emplace_back(producer, consumer);
  }
  out->diagnostics.Add("tf1.input_from_node_not_in_trace", missing);
  std::sort(edges.begin(), edges.end());
  out->dataflow = std::move(edges);
}

}  // namespace

Status BuildTf1(const std::string& name, const RawTrace& raw, Trace* out) {
  out->dialect = "tf1";
  out->time_base = TimeBase::kRealtime;
  std::unordered_map<StrId, Tf1Process> procs;
  for (const RawEvent& e : raw.events) {
    if (e.ph == 'M' && raw.Str(e.name) == "process_name")
      procs[e.pid] = ClassifyTf1(raw.Str(e.arg_name));
  }
  // Which GPUs have CUPTI stream records (stream:all or per-stream pids).
  std::map<int, bool> gpu_has_all, gpu_has_streams;
  for (auto& [pid, p] : procs) {
    if (p.kind == Tf1Process::kGpuStreamAll) gpu_has_all[p.gpu] = true;
    if (p.kind == Tf1Process::kGpuStreamAll || p.kind == Tf1Process::kGpuStream ||
        p.kind == Tf1Process::kGpuMemcpy)
      gpu_has_streams[p.gpu] = true;
  }
  // Group op intervals per (pid, tid) lane (the map gives each lane's slot in
  // `lists`); a lane's slot is looked up once per run of its events.
  std::map<std::pair<StrId, StrId>, uint32_t> by_lane;
  LanePartition lists(raw.events.size());
  std::pair<StrId, StrId> run_key{StringTable::kNoStr, StringTable::kNoStr};
  uint32_t run_slot = LanePartition::kNoSlot;
  for (uint32_t i = 0; i < raw.events.size(); ++i) {
    const RawEvent& e = raw.events[i];
    if (e.ph != 'X') {
      lists.Put(i, LanePartition::kNoSlot);
      continue;
    }
    if (run_slot == LanePartition::kNoSlot || run_key.first != e.pid || run_key.second != e.tid) {
      run_key = {e.pid, e.tid};
      auto [it, added] = by_lane.try_emplace(run_key, 0);
      if (added) it->second = lists.AddSlot();
      run_slot = it->second;
    }
    lists.Put(i, run_slot);
  }
  lists.Finish();
  LaneSet lanes(out);
  NodeOfName node_of_name[2];
  for (NodeOfName& cache : node_of_name)
    cache.assign(raw.strings.size(), {NodeTable::kNoNode, Phase::kForward});
  for (auto& [key, slot] : by_lane) {
    std::span<uint32_t> idx = lists.Lane(slot);
    auto pit = procs.find(key.first);
    Tf1Process p;
    if (pit != procs.end()) p = pit->second;
    else p.name = fmt::format("pid {}", raw.Str(key.first));
    std::string device = "CPU:0";
    NodeKind kind = NodeKind::kOp;
    switch (p.kind) {
      case Tf1Process::kSkip:
        continue;
      case Tf1Process::kCpu:
        break;
      case Tf1Process::kUnknown:
        out->diagnostics.Add("tf1.event_on_unnamed_process", static_cast<int64_t>(idx.size()));
        break;
      case Tf1Process::kGpuStreamAll:
        device = fmt::format("GPU:{}", p.gpu);
        kind = NodeKind::kKernel;
        break;
      case Tf1Process::kGpuStream:
      case Tf1Process::kGpuMemcpy: {
        // CUPTI records each kernel on stream:all and on its stream, and each
        // memcpy on memcpy and its stream: with stream:all present the
        // per-stream pids are the duplicates, without it the memcpy pid is.
        const bool stream = p.kind == Tf1Process::kGpuStream;
        if (stream == gpu_has_all[p.gpu]) {
          out->diagnostics.Add(stream ? "tf1.duplicate_stream_event_dropped"
                                      : "tf1.duplicate_memcpy_event_dropped",
                               static_cast<int64_t>(idx.size()));
          continue;
        }
        device = fmt::format("GPU:{}", p.gpu);
        kind = NodeKind::kKernel;
        break;
      }
      case Tf1Process::kGpuDevice:
        // The executor's record of ops placed on the GPU: host threads that
        // launch the kernels. With CUPTI stream records present the GPU's own
        // work is there, so these run on the CPU; without them they are the
        // only record of the GPU's work.
        if (!gpu_has_streams[p.gpu]) device = fmt::format("GPU:{}", p.gpu);
        break;
    }
    SortForNesting(raw, idx);
    idx = idx.first(DropExactDuplicates(raw, idx, &out->diagnostics));
    uint32_t lane = lanes.Get(device, fmt::format("{} (tid {})", p.name, raw.Str(key.second)));
    for (uint32_t i : idx) {
      const RawEvent& e = raw.events[i];
      StrId label = e.arg_name != kEmptyStr ? e.arg_name : e.name;
      std::pair<NodeId, Phase>& made = node_of_name[kind == NodeKind::kKernel][label];
      if (made.first == NodeTable::kNoNode) {
        Phase phase;
        std::string path = TfPathAndPhase(raw.Str(label), raw.Str(e.arg_op), &phase);
        NodeId node = out->nodes.InternPath(path, kind);
        if (node == kRootNode) node = out->nodes.Child(kRootNode, "(unnamed)", kind);
        made = std::make_pair(node, phase);
      }
      out->events.push_back(Event{e.ts_ns, e.ts_ns + e.dur_ns, made.first, lane, -1, made.second});
    }
  }
  if (out->events.empty()) {
    return BadInput(name, "TF1 timeline has no op events on a Compute process");
  }
  ResolveTf1Inputs(raw, node_of_name, out);
  return Status();
}

std::string XlaProcessDevice(std::string_view process_name) {
  const int gpu = GpuIndex(process_name);
  if (gpu >= 0) return fmt::format("GPU:{}", gpu);
  if (process_name.find("CPU") != std::string_view::npos ||
      process_name.find("cpu") != std::string_view::npos)
    return "CPU:0";
  return "";
}

bool IsDerivedLine(std::string_view t) {
  // The names xprof gives the lines it derives (and, for XLA on CPU, the
  // "<thread>-<kind>" lines it adds per thread).
  static const std::string_view kDerived[] = {
      "XLA Modules", "XLA Ops", "Async XLA Ops", "XLA TraceMe", "Framework Name Scope",
      "Framework Ops", "TensorFlow Name Scope", "TensorFlow Ops", "Steps", "Launch Stats",
      "Source code", "Host Offload Ops", "_counters_", "Sparse Core Steps",
      "Sparse Core Modules", "Sparse Core Ops", "Tensor Core Sync Flag", "Sparse Core Syncs"};
  for (std::string_view d : kDerived) {
    if (t == d) return true;
    if (t.size() > d.size() + 1 && t.substr(t.size() - d.size()) == d &&
        t[t.size() - d.size() - 1] == '-')
      return true;
  }
  return false;
}

std::vector<Step> GroupIdSteps(const RawTrace& raw,
                               std::unordered_map<int64_t, int32_t>* step_of_group) {
  std::map<int64_t, Step> groups;
  for (const RawEvent& e : raw.events) {
    if (e.ph != 'X' || e.seq < 0) continue;
    auto [it, inserted] = groups.try_emplace(e.seq);
    Step& s = it->second;
    if (inserted) {
      s.name = fmt::format("step {}", e.seq);
      s.start_ns = e.ts_ns;
      s.end_ns = e.ts_ns + e.dur_ns;
    } else {
      s.start_ns = std::min(s.start_ns, e.ts_ns);
      s.end_ns = std::max(s.end_ns, e.ts_ns + e.dur_ns);
    }
  }
  std::vector<std::pair<int64_t, Step>> ordered(groups.begin(), groups.end());
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.second.start_ns < b.second.start_ns; });
  std::vector<Step> steps;
  for (auto& [gid, s] : ordered) {
    (*step_of_group)[gid] = static_cast<int32_t>(steps.size());
    steps.push_back(std::move(s));
  }
  return steps;
}


namespace {

struct Tf2Process {
  std::string name;
  std::string device;  // "" → skip
};

// Steps from step markers: events with a step number (`step_num`: JAX's
// StepTraceAnnotation, Keras's `train` TraceMe), "<name> <step_num>", sorted
// by start. The markers are steps, not events.
std::vector<Step> MarkerSteps(const RawTrace& raw) {
  std::vector<Step> steps;
  for (const RawEvent& e : raw.events)
    if (e.ph == 'X' && e.external_id >= 0)
      steps.push_back(Step{fmt::format("{} {}", raw.Str(e.name), e.external_id), e.ts_ns,
                           e.ts_ns + e.dur_ns});
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& a, const Step& b) { return a.start_ns < b.start_ns; });
  return steps;
}

// The metadata events: each process's name and device, each thread's name.
struct Tf2Metadata {
  std::unordered_map<StrId, Tf2Process> procs;
  std::map<std::pair<StrId, StrId>, std::string> thread_names;
};

Tf2Metadata ReadTf2Metadata(const RawTrace& raw) {
  Tf2Metadata m;
  for (const RawEvent& e : raw.events) {
    if (e.ph != 'M') continue;
    const std::string& what = raw.Str(e.name);
    if (what == "process_name") {
      Tf2Process p;
      p.name = raw.Str(e.arg_name);
      p.device = XlaProcessDevice(p.name);
      m.procs[e.pid] = std::move(p);
    } else if (what == "thread_name") {
      m.thread_names[{e.pid, e.tid}] = raw.Str(e.arg_name);
    }
  }
  return m;
}

// "scope/op:OpType" → ("scope/op", "OpType"); a ':' before the last '/' is
// part of a name.
std::pair<std::string_view, std::string_view> SplitOpType(std::string_view long_name) {
  size_t colon = long_name.rfind(':');
  size_t slash = long_name.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
    return {long_name.substr(0, colon), long_name.substr(colon + 1)};
  return {long_name, {}};
}

// The nodes of TF2 events, each made once: ops by long name, kernels by
// (TF op, kernel name), runtime events by name.
class Tf2Nodes {
 public:
  Tf2Nodes(const RawTrace& raw, Trace* out) : raw_(raw), out_(out) {}

  std::pair<NodeId, Phase> Op(StrId long_name) {
    auto it = op_nodes_.find(long_name);
    if (it != op_nodes_.end()) return it->second;
    const auto [op, op_type] = SplitOpType(raw_.Str(long_name));
    Phase phase;
    const std::string path = TfPathAndPhase(op, op_type, &phase);
    NodeId node = out_->nodes.InternPath(path, NodeKind::kOp);
    if (node == kRootNode) node = out_->nodes.Child(kRootNode, "(unnamed)", NodeKind::kOp);
    return op_nodes_.emplace(long_name, std::make_pair(node, phase)).first->second;
  }

  // A kernel: under its TF op (args.tf_op / long_name) when known.
  std::pair<NodeId, Phase> Kernel(StrId tf_op, StrId name, bool has_op) {
    auto it = kernel_nodes_.find({tf_op, name});
    if (it != kernel_nodes_.end()) return it->second;
    NodeId parent = kRootNode;
    Phase ph = Phase::kOther;
    if (has_op)
      parent = out_->nodes.InternPath(TfPathAndPhase(SplitOpType(raw_.Str(tf_op)).first, "", &ph),
                                      NodeKind::kOp);
    NodeId k = out_->nodes.Child(parent, raw_.Str(name), NodeKind::kKernel);
    return kernel_nodes_.emplace(std::make_pair(tf_op, name), std::make_pair(k, ph)).first->second;
  }

  // Executor and runtime events (ExecutorState::Process, FunctionRun,
  // EagerExecute, …) carry no long_name. They enclose the ops, so they stay
  // as top-level op nodes: the ops nested in them are the leaves and get the
  // energy; the runtime node keeps only its own overhead.
  NodeId Runtime(StrId name) {
    return ChildOnce(&runtime_nodes_, name, &out_->nodes, kRootNode, raw_.Str(name), NodeKind::kOp);
  }

 private:
  const RawTrace& raw_;
  Trace* out_;
  std::unordered_map<StrId, std::pair<NodeId, Phase>> op_nodes_;
  std::unordered_map<StrId, NodeId> runtime_nodes_;
  std::map<std::pair<StrId, StrId>, std::pair<NodeId, Phase>> kernel_nodes_;
};

// One lane's events (sorted for nesting, exact duplicates dropped) as events
// of `out`.
void AddTf2LaneEvents(const RawTrace& raw, std::vector<uint32_t>* idx, uint32_t lane, bool gpu,
                      std::unordered_map<int64_t, int32_t>& step_of_group, Tf2Nodes& nodes,
                      Trace* out) {
  SortForNesting(raw, idx);
  DropExactDuplicates(raw, idx, &out->diagnostics);
  for (uint32_t i : *idx) {
    const RawEvent& e = raw.events[i];
    if (e.external_id >= 0) continue;  // a step marker: a step, not an event
    NodeId node;
    Phase phase;
    bool has_op = (e.flags & RawEvent::kLongName) && e.arg_name != kEmptyStr;
    if (has_op && !gpu) {
      std::tie(node, phase) = nodes.Op(e.arg_name);
    } else if (gpu) {
      std::tie(node, phase) = nodes.Kernel(e.arg_name, e.name, has_op);
    } else {
      node = nodes.Runtime(e.name);
      phase = Phase::kOther;
    }
    int32_t step = -1;
    if (e.seq >= 0 && step_of_group.count(e.seq)) step = step_of_group[e.seq];
    else step = StepAt(out->steps, e.ts_ns);
    out->events.push_back(Event{e.ts_ns, e.ts_ns + e.dur_ns, node, lane, step, phase});
  }
}

}  // namespace

Status BuildTf2(const std::string& name, const RawTrace& raw, Trace* out) {
  out->dialect = "tf2";
  out->time_base = TimeBase::kRelative;
  const Tf2Metadata meta = ReadTf2Metadata(raw);
  std::map<std::pair<StrId, StrId>, std::vector<uint32_t>> by_lane;
  for (uint32_t i = 0; i < raw.events.size(); ++i) {
    const RawEvent& e = raw.events[i];
    if (e.ph == 'X') by_lane[{e.pid, e.tid}].push_back(i);
  }
  // Steps: one per group_id, spanning the events that carry it; without
  // group ids (a raw XPlane: the tools group later), one per step marker.
  std::unordered_map<int64_t, int32_t> step_of_group;
  out->steps = GroupIdSteps(raw, &step_of_group);
  if (out->steps.empty()) out->steps = MarkerSteps(raw);
  int64_t derived = 0;

  LaneSet lanes(out);
  Tf2Nodes nodes(raw, out);
  for (auto& [key, idx] : by_lane) {
    auto pit = meta.procs.find(key.first);
    Tf2Process p;
    if (pit != meta.procs.end()) p = pit->second;
    if (pit == meta.procs.end() || p.device.empty()) {
      // "/host:metadata", "Steps" and other viewer rows are not devices.
      out->diagnostics.Add("tf2.event_on_non_device_process_dropped",
                           static_cast<int64_t>(idx.size()));
      continue;
    }
    const bool gpu = IsGpuDevice(p.device);
    auto tn = meta.thread_names.find(key);
    if (tn != meta.thread_names.end() && IsDerivedLine(tn->second)) {
      derived += static_cast<int64_t>(idx.size());
      continue;
    }
    std::string lane_name =
        fmt::format("{} {}", p.name,
                    tn != meta.thread_names.end() ? tn->second : "thread " + raw.Str(key.second));
    uint32_t lane = lanes.Get(p.device, lane_name);
    AddTf2LaneEvents(raw, &idx, lane, gpu, step_of_group, nodes, out);
  }
  out->diagnostics.Add("tf2.derived_line_event_dropped", derived);
  if (out->events.empty()) return BadInput(name, "TF2 trace has no events on a device");
  return Status();
}

}  // namespace smaragdine::trace_internal
