// ONNX Runtime dialect: the JSON profile `SessionOptions.enable_profiling`
// writes (a bare array of `X` events of categories Session, Node and
// Kernel). Rules: docs/trace-formats.md §2.7.
#include <fmt/format.h>

#include <unordered_map>

#include "trace/dialect.h"

namespace smaragdine::trace_internal {

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A node event's name is the graph node's name plus what the event times:
// `…/MatMul_kernel_time` (the kernel's run), `…_fence_before` /
// `…_fence_after` (waits on its inputs and outputs).
std::string_view NodeName(std::string_view event_name) {
  for (std::string_view suffix : {"_kernel_time", "_fence_before", "_fence_after"})
    if (EndsWith(event_name, suffix))
      return event_name.substr(0, event_name.size() - suffix.size());
  return event_name;
}

}  // namespace

Status BuildOnnxRuntime(const std::string& name, const RawTrace& raw, Trace* out) {
  out->dialect = "onnxruntime";
  out->time_base = TimeBase::kRelative;
  const StrId cat_node = raw.strings.Find("Node");
  const StrId cat_kernel = raw.strings.Find("Kernel");
  const StrId cat_session = raw.strings.Find("Session");
  const StrId model_run = raw.strings.Find("model_run");
  // GPU providers' node events time the launch on the host when the profile
  // also has the device's kernels (GPU tracing on), else they are the only
  // record of the GPU's work (as TF1's GPU device pid).
  bool has_kernels = false;
  for (const RawEvent& e : raw.events) has_kernels |= e.ph == 'X' && e.cat == cat_kernel;

  // Steps: one per model_run (one InferenceSession::Run).
  for (const RawEvent& e : raw.events)
    if (e.ph == 'X' && e.cat == cat_session && e.name == model_run)
      out->steps.push_back(
          Step{fmt::format("model_run {}", out->steps.size()), e.ts_ns, e.ts_ns + e.dur_ns});
  std::stable_sort(out->steps.begin(), out->steps.end(),
                   [](const Step& a, const Step& b) { return a.start_ns < b.start_ns; });
  for (size_t i = 0; i < out->steps.size(); ++i)
    out->steps[i].name = fmt::format("model_run {}", i);

  // Lanes: host threads; GPU kernels (pid/tid -1 in the file) on one lane.
  struct LaneKey {
    bool kernel;
    bool gpu_provider;
    StrId tid;
    bool operator<(const LaneKey& o) const {
      return std::tie(kernel, gpu_provider, tid) < std::tie(o.kernel, o.gpu_provider, o.tid);
    }
  };
  std::map<LaneKey, std::vector<uint32_t>> by_lane;
  for (uint32_t i = 0; i < raw.events.size(); ++i) {
    const RawEvent& e = raw.events[i];
    if (e.ph != 'X') continue;
    if (e.cat == cat_session && e.name == model_run) continue;  // a step, not an event
    const bool kernel = e.cat == cat_kernel;
    const bool gpu_node = !kernel && !has_kernels && (e.flags & RawEvent::kGpuProvider);
    by_lane[LaneKey{kernel, gpu_node, kernel ? kEmptyStr : e.tid}].push_back(i);
  }
  LaneSet lanes(out);
  std::unordered_map<StrId, NodeId> op_nodes;       // by node name (suffix stripped)
  std::unordered_map<StrId, NodeId> runtime_nodes;  // by session event name
  std::map<std::pair<NodeId, StrId>, NodeId> kernel_nodes;
  auto node_of = [&](std::string_view node_name) {
    StrId key = raw.strings.Find(node_name);
    if (key != StringTable::kNoStr) {
      auto it = op_nodes.find(key);
      if (it != op_nodes.end()) return it->second;
    }
    // `/bert/encoder/layer.0/attention/self/query/MatMul` → that path; an
    // exporter's flat `MatMul_12` → a top-level op.
    NodeId n = out->nodes.InternPath(node_name, NodeKind::kOp);
    if (n == kRootNode) n = out->nodes.Child(kRootNode, "(unnamed)", NodeKind::kOp);
    if (key != StringTable::kNoStr) op_nodes.emplace(key, n);
    return n;
  };
  int64_t orphans = 0, unknown = 0;
  for (auto& [key, idx] : by_lane) {
    const std::string device = key.kernel || key.gpu_provider ? "GPU:0" : "CPU:0";
    const std::string lane_name =
        key.kernel ? "GPU kernels"
                   : fmt::format("thread {}{}", raw.Str(key.tid),
                                 key.gpu_provider ? " (GPU execution provider)" : "");
    const uint32_t lane = lanes.Get(device, lane_name);
    SortForNesting(raw, &idx);
    DropExactDuplicates(raw, &idx, &out->diagnostics);
    for (uint32_t i : idx) {
      const RawEvent& e = raw.events[i];
      NodeId node;
      if (e.cat == cat_node) {
        node = node_of(NodeName(raw.Str(e.name)));
      } else if (key.kernel) {
        // Under the node that launched it (args.parent_name; ORT ≥ 1.17).
        NodeId parent = kRootNode;
        if (e.arg_name != kEmptyStr)
          parent = node_of(NodeName(raw.Str(e.arg_name)));
        else
          ++orphans;
        node = ChildOnce(&kernel_nodes, {parent, e.name}, &out->nodes, parent, raw.Str(e.name),
                         NodeKind::kKernel);
      } else {
        // Session events (SequentialExecutor::Execute, session_initialization,
        // model_loading_uri) and any other category: top-level nodes that
        // keep the time no node covers.
        if (e.cat != cat_session) ++unknown;
        node = ChildOnce(&runtime_nodes, e.name, &out->nodes, kRootNode, raw.Str(e.name),
                         NodeKind::kOp);
      }
      // An inference profile has no phases to tell apart (DESIGN §5).
      out->events.push_back(Event{e.ts_ns, e.ts_ns + e.dur_ns, node, lane,
                                  StepAt(out->steps, e.ts_ns), Phase::kOther});
    }
  }
  out->diagnostics.Add("onnxruntime.kernel_without_node", orphans);
  out->diagnostics.Add("onnxruntime.event_of_unknown_category", unknown);
  if (out->events.empty()) return BadInput(name, "ONNX Runtime profile has no node events");
  return Status();
}

}  // namespace smaragdine::trace_internal
