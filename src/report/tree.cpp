#include "report/tree.h"

#include <algorithm>
#include <climits>

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

namespace {
void WalkFrom(const std::vector<std::vector<uint32_t>>& children, uint32_t node, int depth,
              int max_depth, std::vector<bool>& open, const Visit& visit) {
  const auto& list = children[node];
  for (size_t i = 0; i < list.size(); ++i) {
    bool last = i + 1 == list.size();
    visit(list[i], depth, last, open);
    if (depth < max_depth) {
      open.push_back(!last);
      WalkFrom(children, list[i], depth + 1, max_depth, open, visit);
      open.pop_back();
    }
  }
}
}  // namespace

void Walk(const std::vector<std::vector<uint32_t>>& children, uint32_t root, int max_depth,
          const Visit& visit) {
  std::vector<bool> open;
  if (max_depth < 1) return;
  WalkFrom(children, root, 1, max_depth, open, visit);
}

}  // namespace smaragdine::report_tree
