// Path rules (--fold, --map), FoldProfile, and the other profile-to-profile
// transforms the reports start from.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "smaragdine/report.h"

namespace smaragdine {
namespace {

Result<std::regex> Compile(std::string_view pattern, const char* option) {
  try {
    return std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return UsageError(fmt::format("{} '{}': not a valid regular expression: {}", option,
                                  std::string(pattern), e.what()));
  }
}

// Every match of `re` inside one component has each run of digits turned into one '*'.
std::string FoldComponent(std::string_view comp, const std::regex& re) {
  std::string out;
  auto last = comp.begin();
  using It = std::regex_iterator<std::string_view::const_iterator>;
  for (It it(comp.begin(), comp.end(), re), end; it != end; ++it) {
    const auto& m = (*it)[0];
    out.append(last, m.first);
    bool in_digits = false;
    for (auto c = m.first; c != m.second; ++c) {
      bool digit = *c >= '0' && *c <= '9';
      if (!digit) out.push_back(*c);
      else if (!in_digits) out.push_back('*');
      in_digits = digit;
    }
    last = m.second;
  }
  out.append(last, comp.end());
  return out;
}

std::string FoldPath(const std::string& path, const std::regex& re) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view comp(path.data() + start,
                          (slash == std::string::npos ? path.size() : slash) - start);
    out += FoldComponent(comp, re);
    if (slash == std::string::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

void AddTo(std::vector<double>& dst, const std::vector<double>& src) {
  if (dst.size() < src.size()) dst.resize(src.size(), 0.0);
  for (size_t i = 0; i < src.size(); ++i) dst[i] += src[i];
}

// Interval half-widths of independent parts add in quadrature: dst holds the
// squares, per domain.
void AddSquares(std::vector<double>& dst, const std::vector<double>& half_widths) {
  if (dst.size() < half_widths.size()) dst.resize(half_widths.size(), 0.0);
  for (size_t i = 0; i < half_widths.size(); ++i) dst[i] += half_widths[i] * half_widths[i];
}

// Step stats of independent parts: means add, variances add (std and the ci95
// half-width scale alike when n is shared, so they combine the same way).
void AddSteps(StepStats& dst, const StepStats& src) {
  if (src.n == 0) return;
  dst.n = dst.n == 0 ? src.n : std::min(dst.n, src.n);
  dst.mean_j += src.mean_j;
  dst.std_j = std::sqrt(dst.std_j * dst.std_j + src.std_j * src.std_j);
  dst.ci95_j = std::sqrt(dst.ci95_j * dst.ci95_j + src.ci95_j * src.ci95_j);
}

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

// Attribution's rule (src/account/attribute.cpp): a CPU domain meters every
// CPU lane, a GPU domain the lanes of its own device.
bool LaneOnDevice(const Lane& lane, const std::string& device) {
  if (device.rfind("CPU", 0) == 0) return lane.device.rfind("CPU", 0) == 0;
  return lane.device == device;
}

// The timeline of `in` restricted to domain `d`. An event's self_j is the sum
// over the domains that meter its lane. Events on lanes that `d` does not
// meter get no energy from it and are left out. When several domains meter a
// lane (package and DRAM, say), each event's share of `d` is taken as its
// node's: self_j × node.self_j[d] / Σ node.self_j over those domains. That
// is exact for the sum over a node's events on lanes of one device
// (RestrictToDomain's node figures), an approximation for each single event.
void RestrictTimeline(const Profile& in, size_t d, Timeline& out) {
  const Timeline& t = in.timeline;
  out.lanes = t.lanes;
  out.steps = t.steps;
  if (d < t.power.size()) out.power = {t.power[d]};
  const std::string& device = in.domains[d].device;
  // Which domains meter each lane: one bit set per domain would do, but the
  // list is short; keep the domain indices.
  std::vector<std::vector<size_t>> meters(t.lanes.size());
  std::vector<bool> metered_by_d(t.lanes.size(), false);
  for (size_t l = 0; l < t.lanes.size(); ++l) {
    for (size_t k = 0; k < in.domains.size(); ++k)
      if (LaneOnDevice(t.lanes[l], in.domains[k].device)) meters[l].push_back(k);
    metered_by_d[l] = LaneOnDevice(t.lanes[l], device);
  }
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

Result<PathRule> ParseFoldRule(std::string_view pattern) {
  PathRule r;
  r.kind = PathRule::Kind::kFold;
  r.pattern = std::string(pattern);
  SMG_ASSIGN_OR_RETURN(r.regex, Compile(pattern, "--fold"));
  return r;
}

Result<PathRule> ParseMapRule(std::string_view spec) {
  size_t eq = std::string_view::npos;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == '=' && (i == 0 || (spec[i - 1] != '\\' && spec[i - 1] != '?'))) {
      eq = i;
      break;
    }
  }
  if (eq == std::string_view::npos || eq == 0)
    return UsageError(fmt::format(
        "--map '{}': expected RE=REPLACEMENT, e.g. --map 'albert=bert' or --map "
        "'layer_(\\d+)=block_$1'",
        std::string(spec)));
  PathRule r;
  r.kind = PathRule::Kind::kMap;
  r.pattern = std::string(spec.substr(0, eq));
  r.replacement = std::string(spec.substr(eq + 1));
  SMG_ASSIGN_OR_RETURN(r.regex, Compile(r.pattern, "--map"));
  return r;
}

std::string RewritePath(const std::string& path, const std::vector<PathRule>& rules) {
  std::string p = path;
  for (const PathRule& r : rules) {
    if (r.kind == PathRule::Kind::kFold)
      p = FoldPath(p, r.regex);
    else
      p = std::regex_replace(p, r.regex, r.replacement);
  }
  return p;
}

namespace {

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

}  // namespace

Profile FoldProfile(const Profile& in, const std::vector<PathRule>& rules) {
  if (rules.empty() || in.nodes.empty()) return in;
  const size_t nd = in.domains.size();
  Profile out;
  out.meta = in.meta;
  out.domains = in.domains;
  out.diagnostics = in.diagnostics;

  std::vector<std::vector<double>> static_self;  // per new node
  // Per new node, the squares of the merged originals' total_ci95 (per
  // domain); only when the input has intervals.
  bool fit = false;
  for (const ProfileNode& n : in.nodes) fit |= !n.total_ci95_j.empty();
  std::vector<std::vector<double>> ci95_squares;
  std::vector<bool> has_contributor;
  // Per new node, the input nodes merged into it that are not inside another of
  // them: the siblings whose spread SiblingStats describes.
  std::vector<std::vector<uint32_t>> originals;
  std::unordered_map<std::string, uint32_t> by_path;
  auto new_node = [&](std::string path, std::string name, int64_t parent) {
    ProfileNode n;
    n.id = static_cast<uint32_t>(out.nodes.size());
    n.parent = parent;
    n.name = std::move(name);
    n.path = std::move(path);
    n.ZeroEnergies(nd);
    by_path.emplace(n.path, n.id);
    out.nodes.push_back(std::move(n));
    static_self.emplace_back(nd, 0.0);
    ci95_squares.emplace_back(fit ? nd : 0, 0.0);
    has_contributor.push_back(false);
    originals.emplace_back();
    return out.nodes.back().id;
  };
  // Creates the path's ancestors as scopes as needed; "" is the root.
  auto intern = [&](const std::string& path) -> uint32_t {
    uint32_t cur = 0;
    std::string prefix;
    size_t start = 0;
    while (start <= path.size()) {
      size_t slash = path.find('/', start);
      if (slash == std::string::npos) slash = path.size();
      if (slash > start) {
        std::string name = path.substr(start, slash - start);
        prefix = prefix.empty() ? name : prefix + "/" + name;
        auto it = by_path.find(prefix);
        cur = it != by_path.end() ? it->second : new_node(prefix, name, cur);
      }
      start = slash + 1;
    }
    return cur;
  };

  new_node("", "", -1);
  const auto children = in.Children();
  std::vector<uint32_t> new_of(in.nodes.size(), 0);
  for (size_t i = 0; i < in.nodes.size(); ++i) {
    const ProfileNode& src = in.nodes[i];
    uint32_t t = i == 0 ? 0 : intern(RewritePath(src.path, rules));
    new_of[i] = t;
    ProfileNode& dst = out.nodes[t];
    AddTo(dst.self_j, src.self_j);
    std::vector<double> own_static = src.total_static_j;
    own_static.resize(nd, 0.0);
    for (uint32_t c : children[i])
      for (size_t d = 0; d < nd && d < in.nodes[c].total_static_j.size(); ++d)
        own_static[d] -= in.nodes[c].total_static_j[d];
    AddTo(static_self[t], own_static);
    for (int ph = 0; ph < kPhaseCount; ++ph) AddTo(dst.phases[ph].self_j, src.phases[ph].self_j);
    if (src.kind > dst.kind) dst.kind = src.kind;
    // Time, calls and step stats already include what lies below a node; a node
    // merged into its own parent's new node must not count twice.
    bool topmost = i == 0 || new_of[static_cast<size_t>(src.parent)] != t;
    if (topmost) {
      dst.time_ns += src.time_ns;
      dst.calls += src.calls;
      for (int ph = 0; ph < kPhaseCount; ++ph) {
        dst.phases[ph].time_ns += src.phases[ph].time_ns;
        dst.phases[ph].calls += src.phases[ph].calls;
      }
      AddSteps(dst.steps, src.steps);
      // As with the step stats: the originals' attribution errors taken as
      // independent (the fit's errors of sibling classes are in fact often
      // anti-correlated, so this tends to overstate the merged interval).
      AddSquares(ci95_squares[t], src.total_ci95_j);
      has_contributor[t] = true;
      originals[t].push_back(static_cast<uint32_t>(i));
    }
  }
  for (size_t t = 0; t < out.nodes.size(); ++t) {
    if (originals[t].size() >= 2)
      out.nodes[t].siblings = StatsOf(in, originals[t]);
    else if (originals[t].size() == 1)
      // Folding an already folded profile again keeps what the first fold found.
      out.nodes[t].siblings = in.nodes[originals[t][0]].siblings;
  }

  // Totals bottom-up from the selfs (children come after their parents), so the
  // new tree conserves energy whatever the rules did to its shape.
  for (size_t i = out.nodes.size(); i-- > 0;) {
    ProfileNode& n = out.nodes[i];
    AddTo(n.total_j, n.self_j);
    AddTo(n.total_static_j, static_self[i]);
    for (PhaseFigures& f : n.phases) AddTo(f.total_j, f.self_j);
    if (fit) {
      n.total_ci95_j.assign(nd, 0.0);
      for (size_t d = 0; d < nd && d < ci95_squares[i].size(); ++d)
        n.total_ci95_j[d] = std::sqrt(ci95_squares[i][d]);
    }
    if (n.parent < 0) continue;
    ProfileNode& p = out.nodes[static_cast<size_t>(n.parent)];
    AddTo(p.total_j, n.total_j);
    AddTo(p.total_static_j, n.total_static_j);
    for (int ph = 0; ph < kPhaseCount; ++ph) AddTo(p.phases[ph].total_j, n.phases[ph].total_j);
    // A scope the rules created has no figures of its own: it gets its children's.
    if (!has_contributor[static_cast<size_t>(n.parent)]) {
      p.time_ns += n.time_ns;
      AddSteps(p.steps, n.steps);
      if (fit) AddSquares(ci95_squares[static_cast<size_t>(n.parent)], n.total_ci95_j);
    }
  }
  // The timeline's events keep their times and energy; they now name the merged node.
  out.timeline = in.timeline;
  for (TimelineEvent& e : out.timeline.events)
    if (e.node < new_of.size()) e.node = new_of[e.node];
  out.dataflow = MapDataflow(in.dataflow, [&](uint32_t n) {
    return n < new_of.size() ? int64_t{new_of[n]} : int64_t{-1};
  });
  return out;
}

Result<Profile> RestrictToDomain(const Profile& in, const std::string& domain,
                                 const std::string& file) {
  size_t d = in.domains.size();
  for (size_t i = 0; i < in.domains.size(); ++i)
    if (in.domains[i].name == domain) d = i;
  if (d == in.domains.size()) {
    std::string names;
    for (const ProfileDomain& x : in.domains) names += (names.empty() ? "" : ", ") + x.name;
    return BadInput("", fmt::format("no domain '{}' in {} (it has: {})", domain, file, names));
  }
  Profile out;
  out.meta = in.meta;
  out.diagnostics = in.diagnostics;
  out.domains = {in.domains[d]};
  out.nodes.reserve(in.nodes.size());
  auto pick = [d](const std::vector<double>& v) {
    return std::vector<double>{d < v.size() ? v[d] : 0.0};
  };
  for (const ProfileNode& n : in.nodes) {
    ProfileNode m = n;
    m.self_j = pick(n.self_j);
    m.total_j = pick(n.total_j);
    m.total_static_j = pick(n.total_static_j);
    if (!n.total_ci95_j.empty()) m.total_ci95_j = pick(n.total_ci95_j);
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
  // The timeline keeps the subtree's events only (the power tracks stay whole).
  const Timeline& t = in.timeline;
  out.timeline.lanes = t.lanes;
  out.timeline.steps = t.steps;
  out.timeline.power = t.power;
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

std::vector<std::string> SuggestPaths(const Profile& profile, const std::string& path,
                                      size_t max_count) {
  auto last_of = [](std::string_view p) {
    size_t slash = p.rfind('/');
    return slash == std::string_view::npos ? p : p.substr(slash + 1);
  };
  std::string_view want_last = last_of(path);
  struct Scored {
    int score;
    const std::string* path;
  };
  std::vector<Scored> scored;
  for (const ProfileNode& n : profile.nodes) {
    if (n.path.empty()) continue;
    const std::string& p = n.path;
    int score = 0;
    if (p.size() > path.size() && p.compare(p.size() - path.size(), path.size(), path) == 0 &&
        p[p.size() - path.size() - 1] == '/')
      score = 4;  // the user left out the leading scopes
    else if (last_of(p) == want_last)
      score = 3;
    else if (p.find(path) != std::string::npos)
      score = 2;
    else if (!want_last.empty() && last_of(p).find(want_last) != std::string_view::npos)
      score = 1;
    if (score > 0) scored.push_back({score, &p});
  }
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.path->size() != b.path->size()) return a.path->size() < b.path->size();
    return *a.path < *b.path;
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < max_count; ++i) out.push_back(*scored[i].path);
  return out;
}

}  // namespace smaragdine
