// dialect.h — framework rules that turn RawEvents into a Trace.
//
// Each Build* function reads the interned raw events of one file and fills
// `out` (lanes, nodes, events, steps, time base, diagnostics). The rules are
// documented in docs/trace-formats.md. Internal to src/trace.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smaragdine/trace.h"
#include "trace/chrome_json.h"

namespace smaragdine::trace_internal {

// Detects the dialect from content; kAuto when nothing matches.
TraceFormat DetectDialect(const RawTrace& raw);

Status BuildTf1(const std::string& name, const RawTrace& raw, Trace* out);
Status BuildTf2(const std::string& name, const RawTrace& raw, Trace* out);
Status BuildPytorch(const std::string& name, const RawTrace& raw, Trace* out);
Status BuildPytorchLegacy(const std::string& name, const RawTrace& raw, Trace* out);

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
inline void SortForNesting(const RawTrace& raw, std::vector<uint32_t>* idx) {
  auto before = [&](uint32_t a, uint32_t b) {
    const RawEvent& x = raw.events[a];
    const RawEvent& y = raw.events[b];
    if (x.ts_ns != y.ts_ns) return x.ts_ns < y.ts_ns;
    if (x.dur_ns != y.dur_ns) return x.dur_ns > y.dur_ns;
    return a < b;
  };
  // Profilers mostly write a thread's events in this order already: one
  // linear check often saves the O(n log n) sort.
  if (!std::is_sorted(idx->begin(), idx->end(), before)) std::sort(idx->begin(), idx->end(), before);
}

// Splits on '/', dropping empty parts.
std::vector<std::string_view> SplitPath(std::string_view path);

// TensorFlow phase rules shared by TF1 and TF2: maps a gradient op's path to
// the forward op's path (phase backward); optimizer ops get phase optimizer;
// everything else is forward. Returns the path to intern.
std::string TfPathAndPhase(std::string_view path, std::string_view op_type, Phase* phase);

// Index of the step whose [start, end) holds t_ns, or -1. `steps` sorted by start.
int32_t StepAt(const std::vector<Step>& steps, int64_t t_ns);

}  // namespace smaragdine::trace_internal
