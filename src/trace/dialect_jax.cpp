// JAX dialect: the XPlane of `jax.profiler.trace` (xplane_reader.h turns it
// into RawEvents). Rules: docs/trace-formats.md §2.6.
#include <fmt/format.h>

#include <unordered_map>
#include <vector>

#include "smaragdine/device.h"
#include "trace/dialect.h"

namespace smaragdine::trace_internal {

namespace {

// Splits on '/' outside parentheses: a transform's argument is one component.
std::vector<std::string_view> SplitNameStack(std::string_view s) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t begin = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || (s[i] == '/' && depth == 0)) {
      if (i > begin) parts.push_back(s.substr(begin, i - begin));
      begin = i + 1;
    } else if (s[i] == '(') {
      ++depth;
    } else if (s[i] == ')' && depth > 0) {
      --depth;
    }
  }
  return parts;
}

// JAX's transformations and call primitives, as they wrap name stack
// components: `jvp(MLP)`, `transpose(jvp(MLP))`, `jit(train_step)`.
bool IsTransform(std::string_view w) {
  static const std::string_view kTransforms[] = {"jit",
                                                 "pjit",
                                                 "jvp",
                                                 "transpose",
                                                 "vmap",
                                                 "xmap",
                                                 "pmap",
                                                 "xla_pmap",
                                                 "remat",
                                                 "checkpoint",
                                                 "remat2",
                                                 "custom_jvp_call",
                                                 "custom_vjp_call",
                                                 "custom_vjp_call_jaxpr",
                                                 "named_call",
                                                 "core_call",
                                                 "shard_map",
                                                 "vjp",
                                                 "linearize",
                                                 "closed_call",
                                                 "xla_call"};
  for (std::string_view t : kTransforms)
    if (w == t) return true;
  return false;
}

// Peels transform wrappers off one component, outermost first:
// `transpose(jvp(jit(relu)))` → "relu", calling `seen` with each transform.
// The parentheses are matched once (a stack over the component), so a
// component nested n deep costs O(n), not O(n²) (a crafted file may hold one).
template <class F>
std::string_view Unwrap(std::string_view c, F&& seen) {
  std::vector<uint32_t> match(c.size(), 0);
  std::vector<uint32_t> open;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i] == '(') {
      open.push_back(static_cast<uint32_t>(i));
    } else if (c[i] == ')' && !open.empty()) {
      match[open.back()] = static_cast<uint32_t>(i);
      open.pop_back();
    }
  }
  size_t begin = 0, end = c.size();
  while (end > begin + 2 && c[end - 1] == ')') {
    size_t paren = begin;
    while (paren < end && c[paren] != '(' && c[paren] != '/') ++paren;
    if (paren == begin || paren >= end || c[paren] != '(' || match[paren] != end - 1) break;
    const std::string_view word = c.substr(begin, paren - begin);
    if (!IsTransform(word)) break;
    seen(word);
    begin = paren + 1;
    end -= 1;
  }
  return c.substr(begin, end - begin);
}

}  // namespace

std::string JaxPathAndPhase(std::string_view name_stack, bool training, Phase* phase) {
  bool backward = false, forward = false, optimizer = false;
  std::string path;
  for (std::string_view c : SplitNameStack(name_stack)) {
    bool from_jit = false;
    // transpose(jvp(jit(relu))) → relu, noting what wrapped it.
    c = Unwrap(c, [&](std::string_view word) {
      if (word == "transpose")
        backward = true;
      else if (word == "jvp" || word == "linearize")
        forward = true;
      from_jit = word == "jit" || word == "pjit";
    });
    // The lowered module's entry function, jit(main): not a scope of the model.
    if (from_jit && c == "main") continue;
    if (c.empty()) continue;
    optimizer =
        optimizer || IsOptimizerComponent(c) || c == "apply_gradients" || c == "apply_updates";
    if (!path.empty()) path += '/';
    path += c;
  }
  if (backward)
    *phase = Phase::kBackward;
  else if (forward)
    *phase = Phase::kForward;
  else if (optimizer || training)
    *phase = Phase::kOptimizer;
  else
    *phase = Phase::kForward;
  return path;
}

namespace {

struct Process {
  std::string name;
  std::string device;  // "" → not a device
};

// What a kernel's launch on the host tells it: the node it hangs under.
struct Launch {
  NodeId node = kRootNode;
  int32_t step = -1;
};

// Turns the XPlane's raw events into the trace: processes and threads from
// the metadata events, steps, then the events lane by lane.
class JaxBuilder {
 public:
  JaxBuilder(const RawTrace& raw, Trace* out) : raw_(raw), out_(out), lanes_(out) {}

  Status Run(const std::string& name) {
    out_->dialect = "jax";
    out_->time_base = TimeBase::kRelative;
    ReadMetadata();
    ReadSteps();
    std::map<std::pair<StrId, StrId>, std::vector<uint32_t>> by_lane;
    for (uint32_t i = 0; i < raw_.events.size(); ++i)
      if (raw_.events[i].ph == 'X') by_lane[{raw_.events[i].pid, raw_.events[i].tid}].push_back(i);
    // Host lanes first: kernels on the devices find their launches there.
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& [key, idx] : by_lane) {
        auto pit = procs_.find(key.first);
        if (pit == procs_.end() || pit->second.device.empty()) {
          if (pass == 0) non_device_ += static_cast<int64_t>(idx.size());
          continue;
        }
        const Process& p = pit->second;
        const bool gpu = IsGpuDevice(p.device);
        if (gpu != (pass == 1)) continue;
        auto tn = thread_names_.find(key);
        const std::string thread =
            tn != thread_names_.end() ? tn->second : "thread " + raw_.Str(key.second);
        if (IsDerivedLine(thread)) {
          derived_ += static_cast<int64_t>(idx.size());
          continue;
        }
        const uint32_t lane = lanes_.Get(p.device, fmt::format("{} {}", p.name, thread));
        SortForNesting(raw_, &idx);
        DropExactDuplicates(raw_, &idx, &out_->diagnostics);
        ConvertLane(idx, lane, gpu);
      }
    }
    out_->diagnostics.Add("jax.event_on_non_device_process_dropped", non_device_);
    out_->diagnostics.Add("jax.derived_line_event_dropped", derived_);
    out_->diagnostics.Add("jax.python_frame_skipped", python_);
    out_->diagnostics.Add("jax.kernel_without_op", orphan_);
    if (out_->events.empty()) return BadInput(name, "JAX trace has no events on a device");
    return Status();
  }

 private:
  // The processes and threads the metadata events name, and whether the
  // trace is of training (it has a backward pass).
  void ReadMetadata() {
    for (const RawEvent& e : raw_.events) {
      if (e.ph == 'M') {
        const std::string& what = raw_.Str(e.name);
        if (what == "process_name") {
          procs_[e.pid] = Process{raw_.Str(e.arg_name), XlaProcessDevice(raw_.Str(e.arg_name))};
        } else if (what == "thread_name") {
          thread_names_[{e.pid, e.tid}] = raw_.Str(e.arg_name);
        }
      } else if (e.ph == 'X' && (e.flags & RawEvent::kLongName) &&
                 raw_.Str(e.arg_name).find("transpose(") != std::string::npos) {
        training_ = true;
      }
    }
  }

  // Steps: StepTraceAnnotation markers (step_num), else group ids.
  void ReadSteps() {
    for (const RawEvent& e : raw_.events)
      if (e.ph == 'X' && e.external_id >= 0)
        out_->steps.push_back(Step{fmt::format("{} {}", raw_.Str(e.name), e.external_id), e.ts_ns,
                                   e.ts_ns + e.dur_ns});
    std::stable_sort(out_->steps.begin(), out_->steps.end(),
                     [](const Step& a, const Step& b) { return a.start_ns < b.start_ns; });
    if (out_->steps.empty()) out_->steps = GroupIdSteps(raw_, &step_of_group_);
  }

  int32_t StepOf(const RawEvent& e) const {
    if (e.seq >= 0) {
      auto it = step_of_group_.find(e.seq);
      if (it != step_of_group_.end()) return it->second;
    }
    return StepAt(out_->steps, e.ts_ns);
  }

  // The node of a name stack, and its phase.
  std::pair<NodeId, Phase> OpNode(StrId stack) {
    auto it = op_nodes_.find(stack);
    if (it == op_nodes_.end()) {
      Phase phase;
      std::string path = JaxPathAndPhase(raw_.Str(stack), training_, &phase);
      NodeId node = out_->nodes.InternPath(path, NodeKind::kOp);
      if (node == kRootNode) node = out_->nodes.Child(kRootNode, "(unnamed)", NodeKind::kOp);
      it = op_nodes_.emplace(stack, std::make_pair(node, phase)).first;
    }
    return it->second;
  }

  // One lane's events, sorted for nesting: a host lane's ops and runtime
  // events (noting where each launch ran), or a device lane's kernels.
  void ConvertLane(const std::vector<uint32_t>& idx, uint32_t lane, bool gpu) {
    // Host: the enclosing events, outermost first, to find where a launch ran.
    std::vector<std::pair<int64_t, NodeId>> open;  // (end, node)
    for (uint32_t i : idx) {
      const RawEvent& e = raw_.events[i];
      if (e.external_id >= 0) continue;  // a step marker: a step, not an event
      const bool has_stack = (e.flags & RawEvent::kLongName) && e.arg_name != kEmptyStr;
      NodeId node;
      Phase phase = Phase::kOther;
      int32_t step = StepOf(e);
      if (!gpu) {
        if (raw_.Str(e.name).rfind('$', 0) == 0) {
          ++python_;  // a Python tracer frame: not a scope of the model
          continue;
        }
        if (has_stack) {
          std::tie(node, phase) = OpNode(e.arg_name);
        } else {
          // Runtime events (PjitFunction(f), ExecuteSharded, the CUDA
          // launch calls): top-level nodes that keep what no op covers.
          node = ChildOnce(&runtime_nodes_, e.name, &out_->nodes, kRootNode, raw_.Str(e.name),
                           NodeKind::kOp);
        }
        while (!open.empty() && open.back().first <= e.ts_ns) open.pop_back();
        if (e.correlation >= 0)
          launches_[e.correlation] = Launch{open.empty() ? node : open.front().second, step};
        open.emplace_back(e.ts_ns + e.dur_ns, node);
      } else {
        // A kernel (or copy): under the op its name stack names, else
        // under the host event that launched it.
        NodeId parent = kRootNode;
        if (has_stack) {
          std::tie(parent, phase) = OpNode(e.arg_name);
        } else if (auto it = launches_.find(e.correlation);
                   e.correlation >= 0 && it != launches_.end()) {
          parent = it->second.node;
        } else {
          ++orphan_;
        }
        if (e.correlation >= 0) {
          auto it = launches_.find(e.correlation);
          if (it != launches_.end() && it->second.step >= 0) step = it->second.step;
        }
        node = ChildOnce(&kernel_nodes_, {parent, e.name}, &out_->nodes, parent, raw_.Str(e.name),
                         NodeKind::kKernel);
      }
      out_->events.push_back(Event{e.ts_ns, e.ts_ns + e.dur_ns, node, lane, step, phase});
    }
  }

  const RawTrace& raw_;
  Trace* out_;
  LaneSet lanes_;
  std::unordered_map<StrId, Process> procs_;
  std::map<std::pair<StrId, StrId>, std::string> thread_names_;
  bool training_ = false;
  std::unordered_map<int64_t, int32_t> step_of_group_;
  std::unordered_map<StrId, std::pair<NodeId, Phase>> op_nodes_;  // by name stack
  std::unordered_map<StrId, NodeId> runtime_nodes_;               // by event name
  std::map<std::pair<NodeId, StrId>, NodeId> kernel_nodes_;       // (parent, kernel name)
  std::unordered_map<int64_t, Launch> launches_;                  // by correlation id
  int64_t non_device_ = 0, derived_ = 0, python_ = 0, orphan_ = 0;
};

}  // namespace

Status BuildJax(const std::string& name, const RawTrace& raw, Trace* out) {
  return JaxBuilder(raw, out).Run(name);
}

}  // namespace smaragdine::trace_internal
