#include "report/tree.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "report/text.h"

namespace smaragdine::report_tree {

double SortValue(const ProfileNode& n, SortKey key) {
  switch (key) {
    case SortKey::kPower: return n.PowerW();
    case SortKey::kTime: return static_cast<double>(n.time_ns);
    case SortKey::kEnergy: break;
  }
  return n.TotalJ();
}

std::vector<std::vector<uint32_t>> SortedChildren(const Profile& p, SortKey key) {
  auto children = p.Children();
  for (auto& list : children) {
    std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
      double va = SortValue(p.nodes[a], key), vb = SortValue(p.nodes[b], key);
      if (va != vb) return va > vb;
      return p.nodes[a].name < p.nodes[b].name;
    });
  }
  return children;
}

void Walk(const std::vector<std::vector<uint32_t>>& children, uint32_t root, int max_depth,
          const Visit& visit) {
  if (max_depth < 1) return;
  // An explicit stack, not recursion: a profile from someone else may be a
  // chain of any depth (40,000 levels overflowed the call stack). One frame per
  // open level: the node whose children are being visited and the next one.
  struct Frame {
    uint32_t node;
    size_t next = 0;
  };
  std::vector<Frame> stack = {{root}};
  std::vector<bool> open;
  while (!stack.empty()) {
    Frame& top = stack.back();
    const auto& list = children[top.node];
    if (top.next == list.size()) {
      stack.pop_back();
      if (!open.empty()) open.pop_back();
      continue;
    }
    const uint32_t child = list[top.next++];
    const bool last = top.next == list.size();
    const int depth = static_cast<int>(stack.size());
    visit(child, depth, last, open);
    if (depth < max_depth) {
      open.push_back(!last);
      stack.push_back({child});  // `top` is not used after this
    }
  }
}

std::string TreeRowLabel(std::string_view name, int depth, bool last,
                         const std::vector<bool>& open, bool glyphs_from_top, size_t name_width) {
  std::string prefix;
  size_t skip = glyphs_from_top ? 0 : 1;  // depth-1 rows of the whole tree: no glyph
  if (open.size() > skip + kMaxGlyphLevels) {
    prefix = fmt::format("[{}] ", depth);
    skip = open.size() - kMaxGlyphLevels;
  }
  for (size_t k = skip; k < open.size(); ++k) prefix += open[k] ? "│  " : "   ";
  if (glyphs_from_top || depth > 1) prefix += last ? "└─ " : "├─ ";
  const size_t used = report_text::DisplayWidth(prefix);
  const size_t room = name_width > used + 8 ? name_width - used : 8;
  return prefix + report_text::Ellipsize(report_text::Printable(name), room);
}

}  // namespace smaragdine::report_tree
