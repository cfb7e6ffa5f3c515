// trace_util.h — text views of a Trace for people and golden tests.
//
//   SMG_ASSIGN_OR_RETURN(Trace t, ReadTrace("step.pt.trace.json.gz", {}));
//   fmt::print("{}", RenderNodeTree(t, /*max_depth=*/4));
//   fmt::print("{}\n", DescribeTraceSummary(t));
#pragma once

#include <string>

#include "smaragdine/trace.h"

namespace smaragdine {

// The node hierarchy as indented text, one node per line, siblings sorted by
// name with digit runs compared as numbers ("layer_2" before "layer_10"):
//   "  layer_0 [scope] events=1 time_us=12.345 forward=1"
// with the node's own event count, summed event duration (µs, 3 decimals)
// and per-phase event counts. Nodes deeper than `max_depth` (root's children
// are depth 1; -1 = no limit) are folded into "(+N nodes below)" on their
// ancestor's line.
std::string RenderNodeTree(const Trace& trace, int max_depth = -1);

// One paragraph: dialect, time base, sources, counts of lanes per device,
// nodes, events per phase, steps, and the non-zero diagnostics.
std::string DescribeTraceSummary(const Trace& trace);

}  // namespace smaragdine
