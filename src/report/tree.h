// tree.h — walking a profile's tree in report order (internal to src/report).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
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

// Tree glyph levels a text row shows at most: a chain thousands deep would
// make each row's glyphs as long as its depth (quadratic output); beyond this
// the row says its depth and keeps the glyphs of the levels nearest to it.
constexpr size_t kMaxGlyphLevels = 32;

// The label of a node's row in a text tree (the node table, --by rank), from
// Walk's `depth`, `last` and `open`: the tree glyphs of its place, then its
// name made Printable and cut (Ellipsize) to the room the glyphs leave of
// `name_width` (at least 8 columns). `glyphs_from_top`: the walk's root heads
// the tree as a row of its own (a --root), so depth-1 rows get glyphs too;
// otherwise they start at the margin.
std::string TreeRowLabel(std::string_view name, int depth, bool last,
                         const std::vector<bool>& open, bool glyphs_from_top, size_t name_width);

}  // namespace smaragdine::report_tree
