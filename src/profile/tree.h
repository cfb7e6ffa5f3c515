// tree.h — the node tree's arithmetic, shared by attribution (src/account)
// and the tree algebra the reports use (src/profile/transform.cpp): one
// roll-up, one way to make profile nodes from a NodeTable (the one path
// interning), and the step statistics. Internal to the core library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "smaragdine/profile.h"
#include "smaragdine/status.h"
#include "smaragdine/trace.h"

namespace smaragdine::tree {

// The one roll-up. Every tree here keeps a parent before its children
// (NodeTable creates them so, Profile::nodes is ordered so), so walking the
// nodes from the last to the second visits each node after all of its
// children: `into_parent(parent, n)` can add n's (now complete) inclusive
// figures into its parent's. The root (0) is not handed over: it has no
// parent. One walk for everyone also fixes the order of the additions, so a
// total's last bits do not depend on which layer rolled it up.
template <typename ParentOf, typename IntoParent>
void RollUp(size_t node_count, ParentOf parent_of, IntoParent into_parent) {
  for (size_t n = node_count; n-- > 1;) into_parent(static_cast<size_t>(parent_of(n)), n);
}

// The per-phase totals of `nodes` from their per-phase selfs (both sized per
// domain beforehand): each node's phase total is its self plus its children's
// totals.
void RollUpPhaseTotals(std::vector<ProfileNode>& nodes);

// The per-process totals of `nodes`, whose process_total_j holds each node's
// self energy per (process, domain) on entry: each node's children's totals
// are added into it, as for total_j.
void RollUpProcessTotals(std::vector<ProfileNode>& nodes);

// The opposite: each node's per-process self energy (its process_total_j less
// its children's), per (process, domain), node-major; empty vectors stay empty.
std::vector<std::vector<double>> ProcessSelfJ(const std::vector<ProfileNode>& nodes);

// Step stats of independent parts (merged nodes, machines of a job): means
// add, variances add (std and the ci95 half-width scale alike when n is
// shared, so they combine the same way); n is the smaller of the two.
void AddIndependentSteps(StepStats& dst, const StepStats& src);

// Profile nodes for every node of `table`, in its order (parents first): id,
// parent (-1 for the root), name, path, kind, and every energy figure sized
// for `domain_count` domains at 0 J. Paths are built parent-first, as
// NodeTable::Path writes them. Errors: kInternal when a parent does not come
// before its child (the roll-up depends on it).
Result<std::vector<ProfileNode>> NodesFromTable(const NodeTable& table, size_t domain_count);

// Energy (all domains) that the events of one node spent in one step: what the
// step statistics are taken from. long double, as attribution's sums are.
struct StepPart {
  int32_t step;
  NodeId node;
  long double j;
};

// Fills every node's `steps` from `parts` (reordered here): per step, each
// node's inclusive energy, then over the `steps_n` steps marked in `counted`
// (indexed by step id; parts of other steps are left out) the mean, the
// sample std and the half-width of the mean's 95 % interval. A node without
// energy in a step counts as 0 J there. Nothing changes when steps_n is 0.
void FillStepStats(std::vector<StepPart>& parts, const std::vector<bool>& counted,
                   int64_t steps_n, std::vector<ProfileNode>& nodes);

// Student t quantile for a two-sided 95 % interval with `dof` degrees of
// freedom (NaN for dof ≤ 0): the step statistics' ci95_j.
double StudentT975(int64_t dof);

}  // namespace smaragdine::tree
