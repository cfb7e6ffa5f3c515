// The node tree's arithmetic (tree.h) and the lane-metering rule (profile.h).
#include "profile/tree.h"
#include "smaragdine/device.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace smaragdine {

bool DomainMetersLane(const std::string& domain_device, const Lane& lane) {
  if (IsCpuDevice(domain_device)) return IsCpuDevice(lane.device);
  return lane.device == domain_device;
}

std::vector<std::vector<uint32_t>> MeteredLanes(const std::vector<ProfileDomain>& domains,
                                                const std::vector<Lane>& lanes) {
  std::vector<std::vector<uint32_t>> out(domains.size());
  for (size_t d = 0; d < domains.size(); ++d)
    for (uint32_t l = 0; l < lanes.size(); ++l)
      if (DomainMetersLane(domains[d].device, lanes[l])) out[d].push_back(l);
  return out;
}

namespace tree {

double StudentT975(int64_t dof) {
  // Two-sided 95 % quantiles of Student's t; beyond 30 the normal 1.96 is
  // within 2 %.
  static constexpr double kTable[] = {0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                                      2.306,  2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                                      2.120,  2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
                                      2.064,  2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof <= 0) return NAN;
  if (dof <= 30) return kTable[dof];
  if (dof <= 60) return 2.000 + (2.042 - 2.000) * (60 - dof) / 30.0;
  if (dof <= 120) return 1.980 + (2.000 - 1.980) * (120 - dof) / 60.0;
  return 1.960;
}

void RollUpPhaseTotals(std::vector<ProfileNode>& nodes) {
  // A node's self is added once all its children are in (as FoldProfile
  // always summed): total = children's totals, then self.
  auto finish = [](ProfileNode& n) {
    for (PhaseFigures& ph : n.phases)
      for (size_t d = 0; d < ph.total_j.size() && d < ph.self_j.size(); ++d)
        ph.total_j[d] += ph.self_j[d];
  };
  RollUp(
      nodes.size(), [&](size_t n) { return nodes[n].parent; },
      [&](size_t parent, size_t n) {
        finish(nodes[n]);
        for (int p = 0; p < kPhaseCount; ++p) {
          std::vector<double>& up = nodes[parent].phases[p].total_j;
          const std::vector<double>& child = nodes[n].phases[p].total_j;
          for (size_t d = 0; d < up.size() && d < child.size(); ++d) up[d] += child[d];
        }
      });
  if (!nodes.empty()) finish(nodes[0]);
}

void AddIndependentSteps(StepStats& dst, const StepStats& src) {
  if (src.n == 0) return;
  dst.n = dst.n == 0 ? src.n : std::min(dst.n, src.n);
  dst.mean_j += src.mean_j;
  dst.std_j = std::sqrt(dst.std_j * dst.std_j + src.std_j * src.std_j);
  dst.ci95_j = std::sqrt(dst.ci95_j * dst.ci95_j + src.ci95_j * src.ci95_j);
}

void RollUpProcessTotals(std::vector<ProfileNode>& nodes) {
  RollUp(
      nodes.size(), [&](size_t n) { return nodes[n].parent; },
      [&](size_t parent, size_t n) {
        std::vector<double>& up = nodes[parent].process_total_j;
        const std::vector<double>& child = nodes[n].process_total_j;
        for (size_t k = 0; k < up.size() && k < child.size(); ++k) up[k] += child[k];
      });
}

std::vector<std::vector<double>> ProcessSelfJ(const std::vector<ProfileNode>& nodes) {
  std::vector<std::vector<double>> self(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) self[n] = nodes[n].process_total_j;
  for (size_t n = 1; n < nodes.size(); ++n) {
    if (nodes[n].parent < 0) continue;
    std::vector<double>& up = self[static_cast<size_t>(nodes[n].parent)];
    const std::vector<double>& child = nodes[n].process_total_j;
    for (size_t k = 0; k < up.size() && k < child.size(); ++k) up[k] -= child[k];
  }
  return self;
}

Result<std::vector<ProfileNode>> NodesFromTable(const NodeTable& table, size_t domain_count) {
  std::vector<ProfileNode> nodes(table.size());
  for (NodeId n = 0; n < table.size(); ++n) {
    ProfileNode& pn = nodes[n];
    pn.id = n;
    pn.kind = table.Kind(n);
    pn.ZeroEnergies(domain_count);
    if (n == kRootNode) continue;  // no parent, no name, no path
    const NodeId parent = table.Parent(n);
    if (parent >= n)
      return Internal(fmt::format("node table order: node {} before its parent", n));
    pn.parent = parent;
    pn.name = table.Name(n);
    // NodeTable::Path joins the names from the root with '/', skipping the
    // separator while nothing is written yet; the parent's path is that prefix.
    const std::string& up = nodes[parent].path;
    pn.path.reserve(up.size() + 1 + pn.name.size());
    pn.path = up;
    if (!pn.path.empty()) pn.path += '/';
    pn.path += pn.name;
  }
  return nodes;
}

namespace {

using Joules = long double;

bool Counted(int32_t step, const std::vector<bool>& counted) {
  return step >= 0 && static_cast<size_t>(step) < counted.size() && counted[step];
}

// The counted parts in (step, node) order, as (node << 32 | index into
// `parts`), with `step_end[s]` the end of step s's run; false when two
// counted parts share a (step, node). Without such ties the order is the one
// any sort by (step, node) gives, std::sort's included; with them, the order
// of the tied parts (and so the last bits of their ancestors' sums) is
// whatever std::sort's introsort made of the whole array, which only
// std::sort itself reproduces. A counting sort by step, then a sort of each
// step's few parts: parts come per combo, combos in event order, so they are
// nearly step-ordered already and one O(n log n) sort of ~1 M 32-byte parts
// was most of the statistics' time.
bool OrderWithoutTies(const std::vector<StepPart>& parts, const std::vector<bool>& counted,
                      std::vector<uint64_t>& order, std::vector<uint32_t>& step_end) {
  step_end.assign(counted.size(), 0);
  for (const StepPart& p : parts)
    if (Counted(p.step, counted)) ++step_end[static_cast<size_t>(p.step)];
  uint32_t at = 0;
  for (uint32_t& end : step_end) end = at += end;  // now each step's end
  order.resize(at);
  std::vector<uint32_t> next(step_end.size());
  for (size_t s = 0; s < step_end.size(); ++s) next[s] = s == 0 ? 0 : step_end[s - 1];
  for (size_t i = 0; i < parts.size(); ++i) {
    const StepPart& p = parts[i];
    if (Counted(p.step, counted))
      order[next[static_cast<size_t>(p.step)]++] = uint64_t{p.node} << 32 | i;
  }
  uint32_t begin = 0;
  for (uint32_t end : step_end) {
    const auto first = order.begin() + begin, last = order.begin() + end;
    if (!std::is_sorted(first, last)) std::sort(first, last);
    for (auto it = first; it != last && it + 1 != last; ++it)
      if ((*it >> 32) == (it[1] >> 32)) return false;
    begin = end;
  }
  return true;
}

}  // namespace

void FillStepStats(std::vector<StepPart>& parts, const std::vector<bool>& counted,
                   int64_t steps_n, std::vector<ProfileNode>& nodes) {
  if (steps_n <= 0) return;
  const size_t node_count = nodes.size();
  // Per step, each node's inclusive energy: the step's parts added up their
  // ancestors in a dense array (parts are few per step, the tree large, so no
  // full roll-up per step); the nodes touched feed the sums. In (step, node)
  // order, so the summation order (and the last bits) is deterministic.
  std::vector<uint64_t> order;
  std::vector<uint32_t> step_end;
  if (!OrderWithoutTies(parts, counted, order, step_end)) {
    // Ties: the order the statistics have always been summed in.
    std::sort(parts.begin(), parts.end(), [](const StepPart& a, const StepPart& b) {
      return a.step != b.step ? a.step < b.step : a.node < b.node;
    });
    order.clear();
    step_end.assign(counted.size(), 0);
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!Counted(parts[i].step, counted)) continue;
      order.push_back(uint64_t{parts[i].node} << 32 | i);
      step_end[static_cast<size_t>(parts[i].step)] = static_cast<uint32_t>(order.size());
    }
    // Steps without parts end where the step before them does.
    for (size_t s = 1; s < step_end.size(); ++s) step_end[s] = std::max(step_end[s], step_end[s - 1]);
  }
  // The parents in one dense array: the walk up reads one per part and level.
  std::vector<int32_t> parent(node_count);
  for (size_t n = 0; n < node_count; ++n) parent[n] = static_cast<int32_t>(nodes[n].parent);
  std::vector<Joules> sum(node_count, 0), sum_sq(node_count, 0);
  std::vector<Joules> inclusive(node_count, 0);
  std::vector<uint8_t> touched(node_count, 0);
  // Written by index, not push_back: with no call in the loop the root's sum
  // stays in an x87 register instead of an 80-bit store and reload a part.
  std::vector<NodeId> touched_nodes(node_count);
  uint32_t begin = 0;
  for (uint32_t end : step_end) {
    size_t touched_n = 0;
    Joules root_j = 0;  // inclusive[kRootNode], which every part reaches
    for (uint32_t q = begin; q < end; ++q) {
      const StepPart& part = parts[static_cast<uint32_t>(order[q])];
      for (NodeId n = part.node; n != kRootNode; n = static_cast<NodeId>(parent[n])) {
        inclusive[n] += part.j;
        if (!touched[n]) {
          touched[n] = 1;
          touched_nodes[touched_n++] = n;
        }
      }
      root_j += part.j;
    }
    if (end > begin) {
      sum[kRootNode] += root_j;
      sum_sq[kRootNode] += root_j * root_j;
    }
    begin = end;
    for (size_t t = 0; t < touched_n; ++t) {
      const NodeId n = touched_nodes[t];
      sum[n] += inclusive[n];
      sum_sq[n] += inclusive[n] * inclusive[n];
      inclusive[n] = 0;
      touched[n] = 0;
    }
  }
  for (NodeId n = 0; n < node_count; ++n) {
    StepStats& st = nodes[n].steps;
    st.n = steps_n;
    const Joules mean = sum[n] / steps_n;
    st.mean_j = static_cast<double>(mean);
    if (steps_n >= 2) {
      const Joules var = std::max<Joules>(0, (sum_sq[n] - steps_n * mean * mean) / (steps_n - 1));
      st.std_j = static_cast<double>(std::sqrt(var));
      st.ci95_j = StudentT975(steps_n - 1) * st.std_j / std::sqrt(static_cast<double>(steps_n));
    }
  }
}

}  // namespace tree
}  // namespace smaragdine
