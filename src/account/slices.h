// slices.h — the leaf slices attribution sweeps over (internal to src/account).
//
// Per lane, nested events are flattened into change points: from t_ns on,
// `event` is the innermost running event of the lane (-1: none). Every
// weighting of a slice (proportional, or the regression's fitted model)
// walks these.
#pragma once

#include <cstdint>
#include <vector>

namespace smaragdine {

// A lane's innermost event changes to `event` (or to none, -1) at t_ns.
struct ChangePoint {
  int64_t t_ns;
  int64_t event;
};

struct PreparedLanes {
  std::vector<std::vector<ChangePoint>> changes;  // per lane, time-ordered
  // Busy time per (node, phase slot): the measure of the union of the
  // intervals of the node's subtree, per lane, summed over lanes. Slot
  // kPhaseCount is all phases together.
  std::vector<int64_t> busy_ns;
  // The same per (node, process) when the profile keeps per-process figures
  // (all phases together); empty otherwise.
  std::vector<int64_t> process_busy_ns;
};

}  // namespace smaragdine
