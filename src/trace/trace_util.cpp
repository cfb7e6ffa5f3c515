#include "trace/trace_util.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include <fmt/format.h>

namespace smaragdine {

namespace {

struct NodeStats {
  int64_t events = 0;
  int64_t time_ns = 0;
  std::array<int64_t, kPhaseCount> phase_events{};
};

// "layer_2" < "layer_10": digit runs compare as numbers, so goldens read in model order.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && a[i2] == '0') ++i2;
      while (j2 < b.size() && b[j2] == '0') ++j2;
      size_t ie = i2, je = j2;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      if (ie - i2 != je - j2) return ie - i2 < je - j2;
      int c = a.compare(i2, ie - i2, b, j2, je - j2);
      if (c != 0) return c < 0;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  if ((a.size() - i) != (b.size() - j)) return a.size() - i < b.size() - j;
  return a < b;
}

}  // namespace

std::string RenderNodeTree(const Trace& trace, int max_depth) {
  const NodeTable& nodes = trace.nodes;
  std::vector<NodeStats> stats(nodes.size());
  for (const Event& e : trace.events) {
    NodeStats& s = stats[e.node];
    ++s.events;
    s.time_ns += e.end_ns - e.start_ns;
    ++s.phase_events[static_cast<int>(e.phase)];
  }
  std::vector<std::vector<NodeId>> children(nodes.size());
  for (NodeId id = 1; id < nodes.size(); ++id) children[nodes.Parent(id)].push_back(id);
  for (auto& c : children)
    std::sort(c.begin(), c.end(),
              [&](NodeId x, NodeId y) { return NaturalLess(nodes.Name(x), nodes.Name(y)); });
  std::vector<int64_t> subtree(nodes.size(), 0);  // descendants count
  for (NodeId id = static_cast<NodeId>(nodes.size()); id-- > 1;)
    subtree[nodes.Parent(id)] += subtree[id] + 1;

  std::string out;
  // Iterative DFS: deep traces must not overflow the stack.
  std::vector<std::pair<NodeId, int>> todo;
  for (auto it = children[kRootNode].rbegin(); it != children[kRootNode].rend(); ++it)
    todo.emplace_back(*it, 1);
  while (!todo.empty()) {
    auto [id, depth] = todo.back();
    todo.pop_back();
    const NodeStats& s = stats[id];
    out += fmt::format("{:{}}{} [{}] events={} time_us={}.{:03}", "", 2 * (depth - 1),
                       nodes.Name(id), ToString(nodes.Kind(id)), s.events, s.time_ns / 1000,
                       s.time_ns % 1000);
    for (int p = 0; p < kPhaseCount; ++p)
      if (s.phase_events[p] > 0)
        out += fmt::format(" {}={}", ToString(static_cast<Phase>(p)), s.phase_events[p]);
    if (max_depth >= 0 && depth >= max_depth) {
      if (subtree[id] > 0) out += fmt::format(" (+{} nodes below)", subtree[id]);
      out += '\n';
      continue;
    }
    out += '\n';
    for (auto it = children[id].rbegin(); it != children[id].rend(); ++it)
      todo.emplace_back(*it, depth + 1);
  }
  return out;
}

std::string DescribeTraceSummary(const Trace& trace) {
  std::map<std::string, int> lanes_per_device;
  for (const Lane& l : trace.lanes) ++lanes_per_device[l.device];
  std::array<int64_t, kPhaseCount> per_phase{};
  for (const Event& e : trace.events) ++per_phase[static_cast<int>(e.phase)];
  std::string out = fmt::format("{} trace ({} time) from {} file(s): ", trace.dialect,
                                ToString(trace.time_base), trace.sources.size());
  bool first = true;
  for (auto& [device, n] : lanes_per_device) {
    out += fmt::format("{}{} lane(s) on {}", first ? "" : ", ", n, device);
    first = false;
  }
  out += fmt::format("; {} nodes; {} events (", trace.nodes.size() - 1, trace.events.size());
  for (int p = 0; p < kPhaseCount; ++p)
    out += fmt::format("{}{} {}", p ? ", " : "", per_phase[p], ToString(static_cast<Phase>(p)));
  out += fmt::format("); {} steps", trace.steps.size());
  for (auto& [name, n] : trace.diagnostics.counts()) out += fmt::format("; {}={}", name, n);
  return out;
}

}  // namespace smaragdine
