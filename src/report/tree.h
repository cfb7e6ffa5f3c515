// tree.h — walking a profile's tree in report order (internal to src/report).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "smaragdine/profile.h"
#include "smaragdine/report.h"

namespace smaragdine::report_tree {

// The sort value of a node: total energy, average power or time.
double SortValue(const ProfileNode& n, SortKey key);

// Children of every node, each list sorted by `key` descending, ties by name.
std::vector<std::vector<uint32_t>> SortedChildren(const Profile& p, SortKey key);

// Visits the subtree under `root` depth-first in sorted order, down to
// `max_depth` levels below it (root itself is depth 0 and is not visited).
// `last` says whether the node is the last of its siblings; `open` holds, per
// level of the ancestors, whether more siblings follow (for tree glyphs).
using Visit = std::function<void(uint32_t node, int depth, bool last,
                                 const std::vector<bool>& open)>;
void Walk(const std::vector<std::vector<uint32_t>>& children, uint32_t root, int max_depth,
          const Visit& visit);

}  // namespace smaragdine::report_tree
