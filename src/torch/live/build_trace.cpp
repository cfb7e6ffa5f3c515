// Live records → Trace, and → Kineto JSON for `smaragdine account`. The two
// follow the same rules, so a joined run's `account` gives the tree the
// in-process session gives (tests/torch_live checks it).
#include "torch/live/build_trace.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "common/io.h"
#include "common/json_text.h"
#include "trace/autograd_rules.h"

namespace smaragdine::live::internal {
namespace {

// What the rules need of each record, resolved once for both outputs.
struct ThreadView {
  const ThreadBuffer* b = nullptr;
  size_t n = 0;
  std::vector<int64_t> start_ns;  // CLOCK_MONOTONIC (the records hold the recorder's stamps)
  std::vector<int64_t> end_ns;    // open records end at stop
  std::vector<int64_t> seq;      // evaluate_function wrappers take their backward function's
  std::vector<uint64_t> fwd_tid;
  std::vector<uint8_t> autograd;  // backward function, its wrapper, or inside one
  // A backward function right inside its evaluate_function wrapper: the
  // wrapper stands for both (one call, the same node), so it is no event.
  std::vector<uint8_t> folded;
  std::vector<Phase> phase;
  std::vector<int32_t> step;      // index into the kept steps, -1 outside
};

struct Analysis {
  std::vector<ThreadView> threads;
  std::vector<std::pair<int64_t, int64_t>> steps;  // kept steps (with records)
  int64_t open_at_stop = 0;
  int64_t unmatched_ends = 0;
};

class NameFlags {
 public:
  bool IsWrapper(uint32_t name) {
    if (name >= flags_.size()) flags_.resize(name + 1, -1);
    if (flags_[name] < 0)
      flags_[name] = NameOf(name).rfind(kEvaluateFunctionPrefix, 0) == 0 ? 1 : 0;
    return flags_[name] == 1;
  }

 private:
  std::vector<int8_t> flags_;
};

Analysis Analyze(const LiveRecords& rec) {
  Analysis a;
  NameFlags names;
  // Raw steps: [begin, mark_1), [mark_1, mark_2), …, [mark_k, stop), where
  // begin is the start unless BeginSteps() said otherwise, and the last one
  // only when the tail is a step. Records outside them belong to no step.
  std::vector<int64_t> bounds{std::max(rec.start_ns, rec.steps_begin_ns.value_or(rec.start_ns))};
  for (int64_t m : rec.step_marks_ns)
    if (m > bounds.back() && m < rec.stop_ns) bounds.push_back(m);
  if (rec.tail_is_step) bounds.push_back(std::max(rec.stop_ns, bounds.back()));
  const size_t raw_steps = bounds.size() - 1;
  std::vector<uint8_t> used(raw_steps, 0);
  // The step a record starting at t is in, or -1.
  auto step_of = [&](int64_t t) -> int32_t {
    if (raw_steps == 0) return -1;
    if (t < bounds.front()) return rec.steps_begin_ns ? -1 : 0;
    if (t >= bounds.back() && !rec.tail_is_step) return -1;
    auto it = std::upper_bound(bounds.begin(), bounds.end(), t);
    return static_cast<int32_t>(
        std::min<size_t>(static_cast<size_t>(it - bounds.begin()) - 1, raw_steps - 1));
  };

  for (const auto& bp : rec.threads) {
    ThreadView v;
    v.b = bp.get();
    v.n = bp->size.load(std::memory_order_acquire);
    if (v.n == 0) continue;
    v.start_ns.resize(v.n);
    v.end_ns.resize(v.n);
    v.seq.resize(v.n);
    v.fwd_tid.resize(v.n);
    v.autograd.resize(v.n);
    v.folded.resize(v.n);
    v.phase.resize(v.n);
    v.step.resize(v.n);
    a.unmatched_ends += bp->unmatched_ends;
    for (size_t i = 0; i < v.n; ++i) {
      const RawOp& op = bp->At(i);
      v.start_ns[i] = bp->ToNs(op.start_ns);
      v.end_ns[i] = bp->ToNs(op.end_ns);
      if (op.end_ns < 0) {
        v.end_ns[i] = std::max(rec.stop_ns, v.start_ns[i]);
        ++a.open_at_stop;
      }
      v.seq[i] = op.seq;
      v.fwd_tid[i] = op.fwd_tid;
      const bool backward_fn = op.kind == RawKind::kBackwardFunction || op.fwd_tid > 0;
      if (backward_fn && op.parent >= 0 && bp->At(op.parent).kind != RawKind::kOwnScope &&
          names.IsWrapper(bp->At(op.parent).name) &&
          v.fwd_tid[op.parent] == 0) {
        v.seq[op.parent] = op.seq;
        v.fwd_tid[op.parent] = op.fwd_tid;
        v.folded[i] = 1;
      }
      v.autograd[i] = backward_fn || (op.kind != RawKind::kOwnScope && names.IsWrapper(op.name)) ||
                      (op.parent >= 0 && v.autograd[op.parent]);
      v.phase[i] = v.autograd[i]          ? Phase::kBackward
                   : op.phase != kNoPhase ? static_cast<Phase>(op.phase)
                                          : Phase::kForward;
      v.step[i] = step_of(v.start_ns[i]);
      if (v.step[i] >= 0) used[v.step[i]] = 1;
    }
    a.threads.push_back(std::move(v));
  }
  std::vector<int32_t> renumber(raw_steps, -1);
  for (size_t s = 0; s < raw_steps; ++s) {
    if (!used[s]) continue;
    renumber[s] = static_cast<int32_t>(a.steps.size());
    a.steps.emplace_back(bounds[s], bounds[s + 1]);
  }
  for (ThreadView& v : a.threads)
    for (int32_t& s : v.step)
      if (s >= 0) s = renumber[s];
  return a;
}

// Scope ids → nodes of the trace; a name with '/' is several levels.
class ScopeNodes {
 public:
  explicit ScopeNodes(NodeTable* nodes) : nodes_(nodes) {}
  NodeId Of(ScopeId id) {
    if (id == kNoScope) return kRootNode;
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
    const NodeId parent = Of(ScopeParent(id));
    const NodeId node = nodes_->InternPath(ScopeName(id), NodeKind::kScope, parent);
    cache_.emplace(id, node);
    return node;
  }

 private:
  NodeTable* nodes_;
  std::unordered_map<ScopeId, NodeId> cache_;
};

std::string FormatUs(int64_t ns) {
  // ns as µs with three decimals, exactly (no double).
  const char* sign = ns < 0 ? "-" : "";
  const int64_t a = ns < 0 ? -ns : ns;
  return fmt::format("{}{}.{:03d}", sign, a / 1000, a % 1000);
}

const char* MarkerName(Phase p) {
  switch (p) {
    case Phase::kForward: return "## forward ##";
    case Phase::kBackward: return "## backward ##";
    case Phase::kOptimizer: return "## optimizer ##";
    case Phase::kOther: return "## other ##";
  }
  return "## other ##";
}

std::vector<std::string_view> SplitScopeName(const std::string& name) {
  std::vector<std::string_view> parts;
  std::string_view s(name);
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) parts.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

}  // namespace

Trace BuildLiveTrace(const LiveRecords& rec) {
  Analysis a = Analyze(rec);
  Trace t;
  t.dialect = "live-libtorch";
  t.time_base = TimeBase::kMonotonic;
  for (size_t s = 0; s < a.steps.size(); ++s)
    t.steps.push_back(Step{fmt::format("step {}", s), a.steps[s].first, a.steps[s].second});

  ScopeNodes scopes(&t.nodes);
  std::vector<std::vector<NodeId>> node(a.threads.size());
  // Backward records go where autograd_rules.h says, as in the PyTorch
  // trace reader. Forward ops are keyed by the recorder's thread id, which is
  // what a backward record's fwd_tid names.
  AutogradRules autograd(&t.nodes);
  int64_t unmapped = 0;
  // Forward records first (every thread), then the autograd ones, which look
  // their forward op up.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t ti = 0; ti < a.threads.size(); ++ti) {
      const ThreadView& v = a.threads[ti];
      node[ti].resize(v.n, kRootNode);
      AutogradRules::ThreadState autograd_thread;
      for (size_t i = 0; i < v.n; ++i) {
        if ((v.autograd[i] != 0) != (pass == 1)) continue;
        const RawOp& op = v.b->At(i);
        if (op.kind == RawKind::kOwnScope) {
          node[ti][i] = scopes.Of(op.scope);
          continue;
        }
        if (v.folded[i]) {
          node[ti][i] = node[ti][op.parent];
          continue;
        }
        const NodeId parent = op.parent >= 0 ? node[ti][op.parent] : scopes.Of(op.scope);
        const std::string& name = NameOf(op.name);
        if (pass == 0) {
          node[ti][i] = t.nodes.Child(
              parent, name, op.kind == RawKind::kUserScope ? NodeKind::kScope : NodeKind::kOp);
          if (op.kind == RawKind::kFunction)
            autograd.RecordForwardOp({v.b->rf_thread_id, op.seq}, node[ti][i]);
          continue;
        }
        const bool maps = op.kind == RawKind::kBackwardFunction || op.fwd_tid > 0 ||
                          name.rfind(kEvaluateFunctionPrefix, 0) == 0;
        std::optional<AutogradRules::ForwardKey> key;
        if (maps && v.seq[i] >= 0) key = AutogradRules::ForwardKey{v.fwd_tid[i], v.seq[i]};
        const bool inside_autograd = op.parent >= 0 && v.autograd[op.parent];
        const BackwardPlace place =
            autograd.PlaceBackward(&autograd_thread, key, name, inside_autograd);
        if (place.kind == BackwardPlace::kOnForwardOp) {
          // Under the forward op, as a node named after the backward function
          // (autograd_names.h), as the PyTorch trace reader does.
          node[ti][i] = t.nodes.Child(place.node, BackwardNodeName(name), NodeKind::kOp);
        } else if (place.kind == BackwardPlace::kUnderGradProducer) {
          node[ti][i] = t.nodes.Child(place.node, name, NodeKind::kOp);
        } else {
          node[ti][i] = t.nodes.Child(parent, name, NodeKind::kOp);
          if (op.kind == RawKind::kBackwardFunction && v.seq[i] >= 0) ++unmapped;
        }
      }
    }
  }
  for (size_t ti = 0; ti < a.threads.size(); ++ti) {
    const ThreadView& v = a.threads[ti];
    const auto lane = static_cast<uint32_t>(t.lanes.size());
    t.lanes.push_back(
        Lane{"CPU:0", fmt::format("pid {} thread {}", getpid(), v.b->os_tid)});
    for (size_t i = 0; i < v.n; ++i)
      if (!v.folded[i])
        t.events.push_back(
          Event{v.start_ns[i], v.end_ns[i], node[ti][i], lane, v.step[i], v.phase[i]});
  }
  t.diagnostics.Add("live.backward_op_without_forward_op", unmapped);
  t.diagnostics.Add("live.open_at_stop", a.open_at_stop);
  t.diagnostics.Add("live.unmatched_end", a.unmatched_ends);
  return t;
}

namespace {

// Kineto JSON: the header, then "X" events, each after a comma but the first.
class KinetoWriter {
 public:
  KinetoWriter(pid_t pid, int64_t realtime_minus_monotonic_ns, const LaunchInfo& launch)
      : pid_(pid) {
    out_ = fmt::format(
        "{{\"schemaVersion\": 1, \"traceName\": \"smaragdine live\", "
        "\"baseTimeNanoseconds\": {}, ",
        realtime_minus_monotonic_ns);
    // Where Kineto says which rank wrote a trace; local_rank is ours (the
    // reader takes it from here too).
    if (launch.rank >= 0) {
      out_ += fmt::format("\"distributedInfo\": {{\"rank\": {}, \"world_size\": {}",
                          launch.rank, launch.world_size);
      if (launch.local_rank >= 0) out_ += fmt::format(", \"local_rank\": {}", launch.local_rank);
      out_ += "}, ";
    }
    if (!launch.host.empty()) out_ += fmt::format("\"host_name\": {}, ", JsonQuote(launch.host));
    out_ += "\"traceEvents\": [\n";
  }

  void XEvent(std::string_view cat, std::string_view name, std::string_view tid,
              int64_t start_ns, int64_t end_ns, int64_t seq, uint64_t fwd_tid) {
    Open(cat, name, pid_, tid, start_ns, end_ns);
    if (seq >= 0 || fwd_tid > 0) {
      out_ += ", \"args\": {";
      if (seq >= 0) out_ += fmt::format("\"Sequence number\": {}", seq);
      if (fwd_tid > 0) out_ += fmt::format("{}\"Fwd thread id\": {}", seq >= 0 ? ", " : "", fwd_tid);
      out_ += "}";
    }
    out_ += "}";
  }

  // A kernel, copy or runtime call from torch.profiler (gpu_activity.h): on
  // the GPU, Kineto's process is the device and its thread the stream.
  void ActivityEvent(const GpuActivityEvent& g) {
    Open(g.cat, g.name, g.on_gpu ? g.device : pid_,
         g.on_gpu ? std::to_string(g.stream) : std::to_string(g.os_tid), g.start_ns, g.end_ns);
    if (g.correlation >= 0) out_ += fmt::format(", \"args\": {{\"correlation\": {}}}", g.correlation);
    out_ += "}";
  }

  std::string Finish() {
    out_ += "\n]}\n";
    return std::move(out_);
  }

 private:
  // An "X" event up to its args: the caller adds them and the closing brace.
  void Open(std::string_view cat, std::string_view name, int64_t pid, std::string_view tid,
            int64_t start_ns, int64_t end_ns) {
    if (!first_) out_ += ",\n";
    first_ = false;
    out_ += fmt::format(
        "{{\"ph\": \"X\", \"cat\": {}, \"name\": {}, \"pid\": {}, \"tid\": \"{}\", "
        "\"ts\": {}, \"dur\": {}",
        JsonQuote(cat), JsonQuote(name), pid, tid, FormatUs(start_ns), FormatUs(end_ns - start_ns));
  }

  const pid_t pid_;
  std::string out_;
  bool first_ = true;
};

// Scope chains (root first) with their components, cached per scope.
class ScopeChains {
 public:
  const std::vector<std::string>& Of(ScopeId id) {
    auto it = chains_.find(id);
    if (it != chains_.end()) return it->second;
    std::vector<ScopeId> ids;
    for (ScopeId s = id; s != kNoScope; s = ScopeParent(s)) ids.push_back(s);
    std::vector<std::string> parts;
    for (auto r = ids.rbegin(); r != ids.rend(); ++r) {
      // Named: a temporary in the range-for's initializer would die before
      // the loop reads the views into it (before C++23).
      const std::string name = ScopeName(*r);
      for (std::string_view p : SplitScopeName(name)) parts.emplace_back(p);
    }
    return chains_.emplace(id, std::move(parts)).first->second;
  }

 private:
  std::unordered_map<ScopeId, std::vector<std::string>> chains_;
};

// One event of a thread as Kineto gets it.
struct KinetoEvent {
  int64_t start_ns, end_ns;
  int level;       // markers, then scope levels, then records by depth
  size_t order;
  std::string_view cat;
  std::string name;
  int64_t seq;
  uint64_t fwd_tid;
};

// A thread's records as Kineto events, in the order the file lists them:
// each record with its phase marker where needed, and its scopes as
// user_annotation intervals.
std::vector<KinetoEvent> ThreadEvents(const ThreadView& v, ScopeChains& chains) {
  std::vector<KinetoEvent> outs;
  std::vector<int> depth(v.n, 0);
  // Top-level records whose scope was not opened on this thread (opened
  // before Start(), or carried over from the thread that launched this
  // work) sit in their scope chain: user_annotation intervals from the
  // first such record's start to the last one's end.
  struct OpenScope {
    std::string name;
    int64_t start_ns;
  };
  std::vector<OpenScope> open;
  int64_t last_end = 0;
  auto close_scopes = [&](size_t keep) {
    while (open.size() > keep) {
      outs.push_back(KinetoEvent{open.back().start_ns, last_end,
                                 1 + static_cast<int>(open.size()), outs.size(),
                                 "user_annotation", open.back().name, -1, 0});
      open.pop_back();
    }
  };
  for (size_t i = 0; i < v.n; ++i) {
    const RawOp& op = v.b->At(i);
    const bool own_scope = op.kind == RawKind::kOwnScope;
    if (v.folded[i]) {
      depth[i] = depth[op.parent];
      continue;
    }
    if (op.parent >= 0) {
      depth[i] = depth[op.parent] + 1;
    } else {
      const std::vector<std::string>& chain = chains.Of(own_scope ? ScopeParent(op.scope) : op.scope);
      size_t common = 0;
      while (common < open.size() && common < chain.size() && open[common].name == chain[common])
        ++common;
      close_scopes(common);
      for (size_t k = common; k < chain.size(); ++k) open.push_back({chain[k], v.start_ns[i]});
      last_end = std::max(last_end, v.end_ns[i]);
    }
    const int level = 100000 + 32 * depth[i];
    // The phase rides on a marker around the record where it differs from
    // what the reader would give it (the enclosing record's, else other).
    const Phase inherited = op.parent >= 0 ? v.phase[op.parent] : Phase::kOther;
    if (!v.autograd[i] && v.phase[i] != inherited)
      outs.push_back(KinetoEvent{v.start_ns[i], v.end_ns[i], level, outs.size(),
                                 "user_annotation", MarkerName(v.phase[i]), -1, 0});
    if (own_scope) {
      int k = 1;
      const std::string name = ScopeName(op.scope);  // outlives the views (see ScopeChains)
      for (std::string_view part : SplitScopeName(name))
        outs.push_back(KinetoEvent{v.start_ns[i], v.end_ns[i], level + std::min(k++, 31),
                                   outs.size(), "user_annotation", std::string(part), -1, 0});
    } else {
      outs.push_back(KinetoEvent{v.start_ns[i], v.end_ns[i], level + 1, outs.size(),
                                 op.kind == RawKind::kUserScope ? "user_annotation" : "cpu_op",
                                 NameOf(op.name), v.seq[i], v.fwd_tid[i]});
    }
  }
  close_scopes(0);
  // Enclosing intervals first where they start together (the reader keeps
  // the file's order for equal start and length).
  std::sort(outs.begin(), outs.end(), [](const KinetoEvent& x, const KinetoEvent& y) {
    if (x.start_ns != y.start_ns) return x.start_ns < y.start_ns;
    if (x.end_ns != y.end_ns) return x.end_ns > y.end_ns;
    if (x.level != y.level) return x.level < y.level;
    return x.order < y.order;
  });
  return outs;
}

}  // namespace

std::string LiveTraceAsKineto(const LiveRecords& rec, pid_t pid,
                              int64_t realtime_minus_monotonic_ns, const LaunchInfo& launch,
                              const std::vector<GpuActivityEvent>& gpu) {
  Analysis a = Analyze(rec);
  KinetoWriter w(pid, realtime_minus_monotonic_ns, launch);
  for (size_t s = 0; s < a.steps.size(); ++s)
    w.XEvent("user_annotation", fmt::format("ProfilerStep#{}", s), "steps", a.steps[s].first,
             a.steps[s].second, -1, 0);
  // The reader takes unmarked records as "other" only when the trace has a
  // marker somewhere: this one, on a thread of its own, makes sure it does.
  w.XEvent("user_annotation", "## other ##", "phases", rec.start_ns, rec.start_ns, -1, 0);
  ScopeChains chains;
  for (const ThreadView& v : a.threads) {
    const std::string tid = std::to_string(v.b->os_tid);
    for (const KinetoEvent& o : ThreadEvents(v, chains))
      w.XEvent(o.cat, o.name, tid, o.start_ns, o.end_ns, o.seq, o.fwd_tid);
  }
  for (const GpuActivityEvent& g : gpu) w.ActivityEvent(g);
  return w.Finish();
}

}  // namespace smaragdine::live::internal
