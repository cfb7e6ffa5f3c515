// dialect.h — framework rules that turn RawEvents into a Trace.
//
// Each Build* function reads the interned raw events of one file and fills
// `out` (lanes, nodes, events, steps, time base, diagnostics). The rules are
// documented in docs/trace-formats.md. Internal to src/trace.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "smaragdine/trace.h"
#include "trace/chrome_json.h"
#include "trace/lane_partition.h"

namespace smaragdine::trace_internal {

// Detects the dialect from content; kAuto when nothing matches.
TraceFormat DetectDialect(const RawTrace& raw);

Status BuildTf1(const std::string& name, const RawTrace& raw, Trace* out);
Status BuildTf2(const std::string& name, const RawTrace& raw, Trace* out);
Status BuildPytorch(const std::string& name, const RawTrace& raw, Trace* out);
Status BuildPytorchLegacy(const std::string& name, const RawTrace& raw, Trace* out);
// JAX on the XPlane reader's RawTrace (xplane_reader.h): name stacks, HLO ops.
Status BuildJax(const std::string& name, const RawTrace& raw, Trace* out);
Status BuildOnnxRuntime(const std::string& name, const RawTrace& raw, Trace* out);

// Lanes of one trace, created on first use by (device, name).
class LaneSet {
 public:
  explicit LaneSet(Trace* t) : t_(t) {}
  uint32_t Get(const std::string& device, const std::string& name) {
    auto key = std::make_pair(device, name);
    auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(t_->lanes.size());
    t_->lanes.push_back(Lane{device, name});
    index_.emplace(std::move(key), id);
    return id;
  }

 private:
  Trace* t_;
  std::map<std::pair<std::string, std::string>, uint32_t> index_;
};

// Sorts event indices in the order a nesting stack needs: start ascending,
// longer (enclosing) first on ties, then file order.
inline void SortForNesting(const RawTrace& raw, std::span<uint32_t> idx) {
  auto before = [&](uint32_t a, uint32_t b) {
    const RawEvent& x = raw.events[a];
    const RawEvent& y = raw.events[b];
    if (x.ts_ns != y.ts_ns) return x.ts_ns < y.ts_ns;
    if (x.dur_ns != y.dur_ns) return x.dur_ns > y.dur_ns;
    return a < b;
  };
  // Profilers mostly write a thread's events in this order already: one
  // linear check often saves the O(n log n) sort.
  if (!std::is_sorted(idx.begin(), idx.end(), before)) std::sort(idx.begin(), idx.end(), before);
}
inline void SortForNesting(const RawTrace& raw, std::vector<uint32_t>* idx) {
  SortForNesting(raw, std::span<uint32_t>(*idx));
}

// Every field of two events the reader keeps is equal: one event written
// twice (a trace concatenated with itself, a profiler's double flush), not
// two ops that looked alike, which differ at least in time, lane or ids.
inline bool SameRawEvent(const RawEvent& a, const RawEvent& b) {
  return a.ts_ns == b.ts_ns && a.dur_ns == b.dur_ns && a.name == b.name && a.pid == b.pid &&
         a.tid == b.tid && a.cat == b.cat && a.arg_name == b.arg_name && a.arg_op == b.arg_op &&
         a.external_id == b.external_id && a.correlation == b.correlation && a.seq == b.seq &&
         a.fwd_tid == b.fwd_tid && a.ph == b.ph && a.flags == b.flags;
}

// Drops from one lane's `idx`, sorted by SortForNesting, each complete event
// of non-zero length that repeats an earlier one exactly, counting them in
// trace.duplicate_event_dropped. Equal events have equal start and length,
// so after the sort they sit in one run of equal (start, length): a linear
// pass (a hash table of every event in the reader cost 15–40 % of parsing
// the 1 M-event input). Zero-length
// events repeat legitimately where the timer is coarse (the legacy autograd
// profiler's whole µs) and carry no time: kept.
// Returns how many indices are kept, at the front of `v`.
inline size_t DropExactDuplicates(const RawTrace& raw, std::span<uint32_t> v, Diagnostics* d) {
  size_t kept = 0, run = 0;  // run: first kept index with the current (start, length)
  int64_t dropped = 0;
  for (size_t k = 0; k < v.size(); ++k) {
    const RawEvent& e = raw.events[v[k]];
    if (kept > 0) {
      const RawEvent& last = raw.events[v[kept - 1]];
      if (last.ts_ns != e.ts_ns || last.dur_ns != e.dur_ns) run = kept;
    }
    bool repeat = false;
    if (e.ph == 'X' && e.dur_ns > 0)
      for (size_t j = run; j < kept && !repeat; ++j) repeat = SameRawEvent(raw.events[v[j]], e);
    if (repeat) {
      ++dropped;
      continue;
    }
    v[kept++] = v[k];
  }
  d->Add("trace.duplicate_event_dropped", dropped);
  return kept;
}
inline void DropExactDuplicates(const RawTrace& raw, std::vector<uint32_t>* idx, Diagnostics* d) {
  idx->resize(DropExactDuplicates(raw, std::span<uint32_t>(*idx), d));
}

// The node `cache` holds for `key`, made the first time as the child `name`
// (kind `kind`) of `parent`: the dialects' kernel nodes by (parent, kernel
// name) and runtime nodes by event name.
template <typename Map>
NodeId ChildOnce(Map* cache, const typename Map::key_type& key, NodeTable* nodes, NodeId parent,
                 std::string_view name, NodeKind kind) {
  auto it = cache->find(key);
  if (it == cache->end()) it = cache->emplace(key, nodes->Child(parent, name, kind)).first;
  return it->second;
}

// Splits on '/', dropping empty parts.
std::vector<std::string_view> SplitPath(std::string_view path);

// TensorFlow phase rules shared by TF1 and TF2: maps a gradient op's path to
// the forward op's path (phase backward); optimizer ops get phase optimizer;
// everything else is forward. Returns the path to intern.
std::string TfPathAndPhase(std::string_view path, std::string_view op_type, Phase* phase);

// A component that names an optimizer or its update (`Adam`, `SGD`,
// `update_…`, …): phase optimizer, in the TensorFlow and JAX rules alike.
bool IsOptimizerComponent(std::string_view component);

// The device a TF2/JAX process (an XPlane plane) stands for: `/device:GPU:N`
// → "GPU:N", a CPU host (`/host:CPU`) → "CPU:0", "" for the rest (metadata,
// TPU, viewer rows), whose events are not counted.
std::string XlaProcessDevice(std::string_view process_name);

// A line the profiler's tools derive from the others (`XLA Ops`, `XLA
// Modules`, `Steps`, `Framework Name Scope`, …): it repeats the time of the
// kernels it was derived from, so counting it would count them twice.
bool IsDerivedLine(std::string_view thread_name);

// TF2/JAX steps from group ids: one per group_id ("step N"), spanning the
// events that carry it, sorted by start; `step_of_group` maps ids to indices.
std::vector<Step> GroupIdSteps(const RawTrace& raw,
                               std::unordered_map<int64_t, int32_t>* step_of_group);

// A JAX name stack as a path: transforms unwrapped (`jvp(MLP)` → `MLP`,
// `jit(train_step)` → `train_step`), `jit(main)` (the module's own entry)
// dropped. `transpose(…)` anywhere makes it backward; `jvp(…)` forward;
// neither: optimizer in a trace that has a backward pass (the update runs
// there: optax's ops carry no scope of their own) or under an optimizer
// component, else forward. Splits on '/' outside parentheses.
std::string JaxPathAndPhase(std::string_view name_stack, bool training, Phase* phase);

// Index of the step whose [start, end) holds t_ns, or -1. `steps` sorted by start.
int32_t StepAt(const std::vector<Step>& steps, int64_t t_ns);

// StepAt for many times that mostly come in ascending order (a thread's
// events): the first step starting after t is found by moving a cursor
// forward from the previous call's, and by a binary search only when t goes
// back or jumps far. Same answers as StepAt.
class StepCursor {
 public:
  explicit StepCursor(const std::vector<Step>& steps) : steps_(steps) {}
  int32_t At(int64_t t_ns) {
    const size_t n = steps_.size();
    if (t_ns < last_t_ns_ || (next_ + 8 < n && steps_[next_ + 8].start_ns <= t_ns)) {
      next_ = static_cast<size_t>(
          std::upper_bound(steps_.begin(), steps_.end(), t_ns,
                           [](int64_t t, const Step& s) { return t < s.start_ns; }) -
          steps_.begin());
    } else {
      while (next_ < n && steps_[next_].start_ns <= t_ns) ++next_;
    }
    last_t_ns_ = t_ns;
    // As StepAt: the latest-starting step that holds t, passing over empty ones.
    for (size_t k = next_; k-- > 0;) {
      if (t_ns < steps_[k].end_ns) return static_cast<int32_t>(k);
      if (steps_[k].end_ns <= steps_[k].start_ns) continue;
      break;
    }
    return -1;
  }

 private:
  const std::vector<Step>& steps_;
  size_t next_ = 0;  // the first step with start_ns > last_t_ns_
  int64_t last_t_ns_ = std::numeric_limits<int64_t>::min();
};

}  // namespace smaragdine::trace_internal
