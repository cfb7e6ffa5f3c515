// The tree algebra of profile.h: merge nodes by path (what --fold and --map
// do), one domain's profile, a subtree. Reports start from these
// (src/report/fold.cpp wraps them with the path rules and the messages).
#include <algorithm>
#include <cmath>

#include "profile/tree.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

template <typename T>
void AddTo(std::vector<T>& dst, const std::vector<T>& src) {
  if (dst.size() < src.size()) dst.resize(src.size(), T{0});
  for (size_t i = 0; i < src.size(); ++i) dst[i] += src[i];
}

// Interval half-widths of independent parts add in quadrature: dst holds the
// squares, per domain.
void AddSquares(std::vector<double>& dst, const std::vector<double>& half_widths) {
  if (dst.size() < half_widths.size()) dst.resize(half_widths.size(), 0.0);
  for (size_t i = 0; i < half_widths.size(); ++i) dst[i] += half_widths[i] * half_widths[i];
}

using tree::AddIndependentSteps;

// Statistics of the originals' total energies (`originals` index `in.nodes`).
// Two passes (mean, then squared deviations) so that siblings of nearly equal
// energy do not lose their spread to cancellation.
SiblingStats StatsOf(const Profile& in, const std::vector<uint32_t>& originals) {
  SiblingStats s;
  s.n = static_cast<int64_t>(originals.size());
  double sum_j = 0;
  const ProfileNode* lo = &in.nodes[originals[0]];
  const ProfileNode* hi = lo;
  for (uint32_t i : originals) {
    const ProfileNode& n = in.nodes[i];
    const double j = n.TotalJ();
    sum_j += j;
    if (j < lo->TotalJ()) lo = &n;
    if (j > hi->TotalJ()) hi = &n;
  }
  s.mean_j = sum_j / static_cast<double>(s.n);
  double squares = 0;
  for (uint32_t i : originals) {
    const double dev = in.nodes[i].TotalJ() - s.mean_j;
    squares += dev * dev;
  }
  s.std_j = s.n > 1 ? std::sqrt(squares / static_cast<double>(s.n - 1)) : 0.0;
  s.min_j = lo->TotalJ();
  s.max_j = hi->TotalJ();
  s.min_path = lo->path;
  s.max_path = hi->path;
  return s;
}

// The data-flow edges with their ends renamed by `map` (node index → new
// index, -1 for dropped); edges that lose an end or become a loop go, and
// edges that now coincide are kept once.
template <typename Map>
std::vector<std::pair<uint32_t, uint32_t>> MapDataflow(
    const std::vector<std::pair<uint32_t, uint32_t>>& in, Map map) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  out.reserve(in.size());
  for (const auto& [from, to] : in) {
    const int64_t a = map(from), b = map(to);
    if (a >= 0 && b >= 0 && a != b)
      out.emplace_back(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// MergeNodesByPath in its stages: the new tree (NodeTable's interning), each
// original's figures added to its new node, the siblings' spread, and the
// totals by the one roll-up.
class PathMerge {
 public:
  explicit PathMerge(const Profile& in) : in_(in), nd_(in.domains.size()) {
    for (const ProfileNode& n : in.nodes) fit_ |= !n.total_ci95_j.empty();
  }

  Profile Run(const std::function<std::string(const std::string&)>& new_path) {
    out_.meta = in_.meta;
    out_.domains = in_.domains;
    out_.processes = in_.processes;
    out_.diagnostics = in_.diagnostics;
    // Per-process figures merge as the node's own: selfs add, totals by the roll-up.
    process_self_ = tree::ProcessSelfJ(in_.nodes);
    NodeTable table;
    new_of_.assign(in_.nodes.size(), 0);
    for (size_t i = 1; i < in_.nodes.size(); ++i)
      new_of_[i] = table.InternPath(new_path(in_.nodes[i].path), NodeKind::kScope);
    // NodeTable keeps parents first, so this cannot fail.
    out_.nodes = std::move(*tree::NodesFromTable(table, nd_));
    const size_t count = out_.nodes.size();
    static_self_.assign(count, std::vector<double>(nd_, 0.0));
    ci95_squares_.assign(count, std::vector<double>(fit_ ? nd_ : 0, 0.0));
    has_contributor_.assign(count, false);
    originals_.assign(count, {});
    const auto children = in_.Children();
    for (size_t i = 0; i < in_.nodes.size(); ++i) AddOriginal(i, children[i]);
    AddMovedInTime();
    for (size_t t = 0; t < count; ++t) {
      if (originals_[t].size() >= 2)
        out_.nodes[t].siblings = StatsOf(in_, originals_[t]);
      else if (originals_[t].size() == 1)
        // Folding an already folded profile again keeps what the first fold found.
        out_.nodes[t].siblings = in_.nodes[originals_[t][0]].siblings;
    }
    RollUpTotals();
    // The timeline's events keep their times and energy; they now name the merged node.
    out_.timeline = in_.timeline;
    for (TimelineEvent& e : out_.timeline.events)
      if (e.node < new_of_.size()) e.node = new_of_[e.node];
    out_.dataflow = MapDataflow(in_.dataflow, [&](uint32_t n) {
      return n < new_of_.size() ? int64_t{new_of_[n]} : int64_t{-1};
    });
    return std::move(out_);
  }

 private:
  void AddOriginal(size_t i, const std::vector<uint32_t>& children) {
    const ProfileNode& src = in_.nodes[i];
    const uint32_t t = new_of_[i];
    ProfileNode& dst = out_.nodes[t];
    AddTo(dst.self_j, src.self_j);
    AddTo(dst.process_total_j, process_self_[i]);  // a self until RollUpTotals
    // The static part of the node's own energy: its total's less its children's.
    std::vector<double> own_static = src.total_static_j;
    own_static.resize(nd_, 0.0);
    for (uint32_t c : children)
      for (size_t d = 0; d < nd_ && d < in_.nodes[c].total_static_j.size(); ++d)
        own_static[d] -= in_.nodes[c].total_static_j[d];
    AddTo(static_self_[t], own_static);
    for (int ph = 0; ph < kPhaseCount; ++ph) AddTo(dst.phases[ph].self_j, src.phases[ph].self_j);
    if (src.kind > dst.kind) dst.kind = src.kind;
    // Time, calls and step stats already include what lies below a node; a node
    // merged into its own parent's new node must not count twice.
    const bool topmost = i == 0 || new_of_[static_cast<size_t>(src.parent)] != t;
    if (!topmost) return;
    dst.time_ns += src.time_ns;
    dst.calls += src.calls;
    AddTo(dst.process_time_ns, src.process_time_ns);
    AddTo(dst.process_calls, src.process_calls);
    for (int ph = 0; ph < kPhaseCount; ++ph) {
      dst.phases[ph].time_ns += src.phases[ph].time_ns;
      dst.phases[ph].calls += src.phases[ph].calls;
    }
    AddIndependentSteps(dst.steps, src.steps);
    // As with the step stats: the originals' attribution errors taken as
    // independent (the fit's errors of sibling classes are in fact often
    // anti-correlated, so this tends to overstate the merged interval).
    AddSquares(ci95_squares_[t], src.total_ci95_j);
    has_contributor_[t] = true;
    originals_[t].push_back(static_cast<uint32_t>(i));
  }

  // A node the rules moved under another (ALBERT's factorized projection
  // mapped into bert/embeddings) brings its time along to every new ancestor
  // whose originals did not already contain it, and takes it from the old
  // ones it is no longer under (bert/encoder). Energy follows by the
  // roll-up; without this the time would not, and power = energy / time
  // would read too high (73 W for a ~25 W node, issue 16). Times of moved
  // nodes add, as the times of merged siblings do. Rule-made scopes are
  // skipped: the roll-up gives them their children's time.
  void AddMovedInTime() {
    std::vector<uint32_t> holders;    // the new nodes of an original's original ancestors
    std::vector<uint32_t> ancestors;  // the new ancestors of its new node
    for (size_t i = 1; i < in_.nodes.size(); ++i) {
      const uint32_t t = new_of_[i];
      const int64_t parent = in_.nodes[i].parent;
      if (parent >= 0 && new_of_[static_cast<size_t>(parent)] == t) continue;  // not topmost
      // Still under its own parent's new node: moved with it, if at all.
      if (parent >= 0 && int64_t{new_of_[static_cast<size_t>(parent)]} == out_.nodes[t].parent)
        continue;
      holders.clear();
      for (int64_t a = parent; a >= 0; a = in_.nodes[static_cast<size_t>(a)].parent)
        holders.push_back(new_of_[static_cast<size_t>(a)]);
      std::sort(holders.begin(), holders.end());
      holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
      ancestors.clear();
      for (int64_t q = out_.nodes[t].parent; q >= 0; q = out_.nodes[static_cast<size_t>(q)].parent)
        ancestors.push_back(static_cast<uint32_t>(q));
      const ProfileNode& src = in_.nodes[i];
      auto shift = [&](uint32_t q, int64_t sign) {
        ProfileNode& dst = out_.nodes[q];
        dst.time_ns = std::max<int64_t>(0, dst.time_ns + sign * src.time_ns);
        if (dst.process_time_ns.size() < src.process_time_ns.size())
          dst.process_time_ns.resize(src.process_time_ns.size(), 0);
        for (size_t p = 0; p < src.process_time_ns.size(); ++p)
          dst.process_time_ns[p] =
              std::max<int64_t>(0, dst.process_time_ns[p] + sign * src.process_time_ns[p]);
        for (int ph = 0; ph < kPhaseCount; ++ph)
          dst.phases[ph].time_ns =
              std::max<int64_t>(0, dst.phases[ph].time_ns + sign * src.phases[ph].time_ns);
      };
      // Gained by the new ancestors that did not hold it...
      for (uint32_t q : ancestors)
        if (has_contributor_[q] && !std::binary_search(holders.begin(), holders.end(), q))
          shift(q, +1);
      // ...and lost by the old holders it is no longer under.
      for (uint32_t h : holders)
        if (h != t && std::find(ancestors.begin(), ancestors.end(), h) == ancestors.end())
          shift(h, -1);
    }
  }

  // Totals from the selfs of the new tree, so that it conserves energy
  // whatever the rules did to its shape.
  void RollUpTotals() {
    std::vector<ProfileNode>& nodes = out_.nodes;
    auto finish = [&](size_t i) {
      ProfileNode& n = nodes[i];
      AddTo(n.total_j, n.self_j);
      AddTo(n.total_static_j, static_self_[i]);
      if (!fit_) return;
      n.total_ci95_j.assign(nd_, 0.0);
      for (size_t d = 0; d < nd_ && d < ci95_squares_[i].size(); ++d)
        n.total_ci95_j[d] = std::sqrt(ci95_squares_[i][d]);
    };
    tree::RollUp(
        nodes.size(), [&](size_t n) { return nodes[n].parent; },
        [&](size_t parent, size_t i) {
          finish(i);
          ProfileNode& n = nodes[i];
          ProfileNode& p = nodes[parent];
          AddTo(p.total_j, n.total_j);
          AddTo(p.total_static_j, n.total_static_j);
          // A scope the rules created has no figures of its own: it gets its children's.
          if (!has_contributor_[parent]) {
            p.time_ns += n.time_ns;
            AddTo(p.process_time_ns, n.process_time_ns);
            AddIndependentSteps(p.steps, n.steps);
            if (fit_) AddSquares(ci95_squares_[parent], n.total_ci95_j);
          }
        });
    if (!nodes.empty()) finish(0);
    tree::RollUpPhaseTotals(nodes);
    if (!out_.processes.empty()) {
      // Every node gets the full per-process vectors (rule-made scopes too).
      const size_t np = out_.processes.size();
      for (ProfileNode& n : nodes) {
        n.process_total_j.resize(np * nd_, 0.0);
        n.process_time_ns.resize(np, 0);
        n.process_calls.resize(np, 0);
      }
      tree::RollUpProcessTotals(nodes);
    }
  }

  const Profile& in_;
  const size_t nd_;
  bool fit_ = false;  // the input has total_ci95 intervals
  Profile out_;
  std::vector<uint32_t> new_of_;                    // per input node: its new node
  std::vector<std::vector<double>> process_self_;   // per input node: per-process selfs
  std::vector<std::vector<double>> static_self_;    // per new node, per domain
  std::vector<std::vector<double>> ci95_squares_;   // per new node: merged intervals, squared
  std::vector<bool> has_contributor_;               // per new node: an original maps to it
  // Per new node, the input nodes merged into it that are not inside another
  // of them: the siblings whose spread SiblingStats describes.
  std::vector<std::vector<uint32_t>> originals_;
};

// The timeline of `in` restricted to domain `d`. An event's self_j is the sum
// over the domains that metered its lane (Timeline::domain_lanes: attribution's
// decision). Events on lanes that `d` did not meter get no energy from it and
// are left out. When several domains meter a lane (package and DRAM, say),
// each event's share of `d` is taken as its node's: self_j × node.self_j[d] /
// Σ node.self_j over those domains. That is exact for the sum over a node's
// events on lanes of one device (DomainProfile's node figures), an
// approximation for each single event.
void RestrictTimeline(const Profile& in, size_t d, Timeline& out) {
  const Timeline& t = in.timeline;
  out.lanes = t.lanes;
  out.steps = t.steps;
  if (d < t.power.size()) out.power = {t.power[d]};
  // A timeline made without the record (by hand, in tests) is read by the rule.
  const std::vector<std::vector<uint32_t>> lanes_of =
      t.domain_lanes.size() == in.domains.size() ? t.domain_lanes
                                                 : MeteredLanes(in.domains, t.lanes);
  out.domain_lanes = {lanes_of[d]};
  // Which domains meter each lane, in domain order.
  std::vector<std::vector<size_t>> meters(t.lanes.size());
  for (size_t k = 0; k < lanes_of.size(); ++k)
    for (uint32_t l : lanes_of[k])
      if (l < meters.size()) meters[l].push_back(k);
  std::vector<bool> metered_by_d(t.lanes.size(), false);
  for (uint32_t l : lanes_of[d])
    if (l < metered_by_d.size()) metered_by_d[l] = true;
  for (const TimelineEvent& e : t.events) {
    if (e.lane >= t.lanes.size() || !metered_by_d[e.lane] || e.node >= in.nodes.size()) continue;
    TimelineEvent kept = e;
    if (meters[e.lane].size() > 1) {
      const ProfileNode& n = in.nodes[e.node];
      double all_j = 0;
      for (size_t k : meters[e.lane]) all_j += k < n.self_j.size() ? n.self_j[k] : 0.0;
      const double mine_j = d < n.self_j.size() ? n.self_j[d] : 0.0;
      kept.self_j = all_j > 0 ? e.self_j * (mine_j / all_j) : 0.0;
    }
    out.events.push_back(kept);
  }
}

}  // namespace

Profile MergeNodesByPath(const Profile& in,
                         const std::function<std::string(const std::string&)>& new_path) {
  if (in.nodes.empty()) return in;
  return PathMerge(in).Run(new_path);
}

Profile DomainProfile(const Profile& in, size_t d) {
  Profile out;
  out.meta = in.meta;
  out.diagnostics = in.diagnostics;
  out.domains = {in.domains[d]};
  out.processes = in.processes;
  out.nodes.reserve(in.nodes.size());
  const size_t nd = in.domains.size();
  auto pick = [d](const std::vector<double>& v) {
    return std::vector<double>{d < v.size() ? v[d] : 0.0};
  };
  for (const ProfileNode& n : in.nodes) {
    ProfileNode m = n;
    m.self_j = pick(n.self_j);
    m.total_j = pick(n.total_j);
    m.total_static_j = pick(n.total_static_j);
    if (!n.total_ci95_j.empty()) m.total_ci95_j = pick(n.total_ci95_j);
    if (!n.process_total_j.empty()) {
      m.process_total_j.assign(n.process_total_j.size() / std::max<size_t>(nd, 1), 0.0);
      for (size_t p = 0; p < m.process_total_j.size(); ++p)
        m.process_total_j[p] = n.process_total_j[p * nd + d];
    }
    for (PhaseFigures& f : m.phases) {
      f.self_j = pick(f.self_j);
      f.total_j = pick(f.total_j);
    }
    // Step energies are recorded over all domains together; one domain's share is unknown.
    if (in.domains.size() > 1) m.steps = StepStats{};
    // So are the sibling totals of a profile folded before it was written.
    if (in.domains.size() > 1) m.siblings = SiblingStats{};
    out.nodes.push_back(std::move(m));
  }
  RestrictTimeline(in, d, out.timeline);
  out.dataflow = in.dataflow;
  return out;
}

Profile SubtreeProfile(const Profile& in, uint32_t root, std::optional<int> depth) {
  if (root == 0 && !depth) return in;
  Profile out;
  out.meta = in.meta;
  out.domains = in.domains;
  out.processes = in.processes;
  out.diagnostics = in.diagnostics;
  // Relative depth of each node below `root`; -1 outside the subtree.
  std::vector<int> rel(in.nodes.size(), -1);
  std::vector<int64_t> new_id(in.nodes.size(), -1);
  // The kept node that stands for each node of the subtree: itself, or below
  // `depth` its deepest kept ancestor (whose total includes it); -1 outside.
  std::vector<int64_t> stand_in(in.nodes.size(), -1);
  rel[root] = 0;
  for (size_t i = root; i < in.nodes.size(); ++i) {
    if (i != root) {
      int64_t p = in.nodes[i].parent;
      if (p < 0 || rel[static_cast<size_t>(p)] < 0) continue;
      rel[i] = rel[static_cast<size_t>(p)] + 1;
    }
    if (depth && rel[i] > *depth) {
      stand_in[i] = stand_in[static_cast<size_t>(in.nodes[i].parent)];
      continue;
    }
    ProfileNode n = in.nodes[i];
    n.id = static_cast<uint32_t>(out.nodes.size());
    n.parent = i == root ? -1 : new_id[static_cast<size_t>(in.nodes[i].parent)];
    new_id[i] = n.id;
    stand_in[i] = n.id;
    out.nodes.push_back(std::move(n));
  }
  // The timeline keeps the subtree's events only (the power tracks and the
  // lanes each domain metered stay whole).
  const Timeline& t = in.timeline;
  out.timeline.lanes = t.lanes;
  out.timeline.steps = t.steps;
  out.timeline.power = t.power;
  out.timeline.domain_lanes = t.domain_lanes;
  for (const TimelineEvent& e : t.events) {
    if (e.node >= stand_in.size() || stand_in[e.node] < 0) continue;
    TimelineEvent kept = e;
    kept.node = static_cast<uint32_t>(stand_in[e.node]);
    out.timeline.events.push_back(kept);
  }
  // Edges inside the subtree, between the nodes that stand for their ends.
  out.dataflow = MapDataflow(in.dataflow, [&](uint32_t n) {
    return n < stand_in.size() ? stand_in[n] : int64_t{-1};
  });
  return out;
}

}  // namespace smaragdine
