// diff: two profiles matched node by node on their (rewritten) paths.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "report/text.h"
#include "smaragdine/report.h"

namespace smaragdine {

using report_text::CsvField;
using report_text::Ellipsize;
using report_text::Exact;
using report_text::PadLeft;
using report_text::PadRight;
using report_text::Printable;
using report_text::Sig2;
using report_text::Sig4;
using report_text::SignedSig4;

double DiffRow::Ratio() const { return a_j != 0 ? b_j / a_j : NAN; }

namespace {

// The node's attribution interval (all domains), NaN when its profile has none.
double Ci95Of(const ProfileNode& n) {
  return n.total_ci95_j.empty() ? NAN : n.TotalCi95J();
}

int PathDepth(const std::string& path) {
  return path.empty() ? 0 : 1 + static_cast<int>(std::count(path.begin(), path.end(), '/'));
}

std::unordered_map<std::string, uint32_t> IndexByPath(const Profile& p) {
  std::unordered_map<std::string, uint32_t> index;
  index.reserve(p.nodes.size());
  for (size_t i = 1; i < p.nodes.size(); ++i) index.emplace(p.nodes[i].path, static_cast<uint32_t>(i));
  return index;
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2) return NAN;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return NAN;
  return sxy / std::sqrt(sxx * syy);
}

// Nodes of `p` missing from `other`, only the topmost of each missing subtree
// (its descendants are missing too and would only repeat it).
std::vector<DiffRow> OnlyIn(const Profile& p, const std::unordered_map<std::string, uint32_t>& other,
                            const std::optional<int>& depth, bool is_a) {
  std::vector<DiffRow> rows;
  std::vector<bool> missing(p.nodes.size(), false);
  for (size_t i = 1; i < p.nodes.size(); ++i) {
    const ProfileNode& n = p.nodes[i];
    missing[i] = !other.count(n.path);
    if (!missing[i]) continue;
    if (n.parent > 0 && missing[static_cast<size_t>(n.parent)]) continue;
    DiffRow r;
    r.path = n.path;
    r.depth = PathDepth(n.path);
    if (depth && r.depth > *depth) continue;
    (is_a ? r.a_j : r.b_j) = n.TotalJ();
    (is_a ? r.a_power_w : r.b_power_w) = n.PowerW();
    (is_a ? r.a_time_ns : r.b_time_ns) = n.time_ns;
    (is_a ? r.a_siblings : r.b_siblings) = n.siblings;
    (is_a ? r.a_ci95_j : r.b_ci95_j) = Ci95Of(n);
    rows.push_back(std::move(r));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const DiffRow& x, const DiffRow& y) {
    double ex = x.a_j + x.b_j, ey = y.a_j + y.b_j;
    if (ex != ey) return ex > ey;
    return x.path < y.path;
  });
  return rows;
}

}  // namespace

namespace {

// A side's job: per-rank energy from the root's per-process figures.
DiffJob JobOf(const Profile& p) {
  DiffJob job;
  job.ranks = p.processes.size();
  job.machines = std::max<size_t>(1, p.machines.size());
  if (job.ranks == 0 || p.nodes.empty()) return job;
  const ProfileNode& root = p.nodes[0];
  const size_t nd = p.domains.size();
  if (root.process_total_j.size() != job.ranks * nd) return job;
  std::vector<double> rank_j(job.ranks, 0);
  for (size_t r = 0; r < job.ranks; ++r)
    for (size_t d = 0; d < nd; ++d) rank_j[r] += root.process_total_j[r * nd + d];
  job.per_rank_j = root.TotalJ() / static_cast<double>(job.ranks);
  std::sort(rank_j.begin(), rank_j.end());
  const size_t n = rank_j.size();
  const double median = n % 2 ? rank_j[n / 2] : (rank_j[n / 2 - 1] + rank_j[n / 2]) / 2;
  if (median > 0) job.spread = (rank_j.back() - rank_j.front()) / median;
  return job;
}

}  // namespace

ProfileDiff DiffProfiles(const Profile& a_in, const Profile& b_in, const DiffOptions& o) {
  const Profile a = FoldProfile(a_in, o.rules);
  const Profile b = FoldProfile(b_in, o.rules);
  ProfileDiff diff;
  diff.a_job = JobOf(a);
  diff.b_job = JobOf(b);
  diff.a_measured_j = a.MeasuredJ();
  diff.b_measured_j = b.MeasuredJ();
  diff.a_idle_j = a.IdleJ();
  diff.b_idle_j = b.IdleJ();
  for (const ProfileDomain& dom : a.domains) diff.a_other_j += dom.other_j;
  for (const ProfileDomain& dom : b.domains) diff.b_other_j += dom.other_j;
  const auto a_index = IndexByPath(a), b_index = IndexByPath(b);
  const auto a_children = a.Children(), b_children = b.Children();
  std::vector<double> leaf_a, leaf_b;
  for (size_t i = 1; i < a.nodes.size(); ++i) {
    const ProfileNode& na = a.nodes[i];
    auto it = b_index.find(na.path);
    if (it == b_index.end()) continue;
    const ProfileNode& nb = b.nodes[it->second];
    DiffRow r;
    r.path = na.path;
    r.depth = PathDepth(na.path);
    r.leaf = a_children[i].empty() && b_children[it->second].empty();
    r.a_j = na.TotalJ();
    r.b_j = nb.TotalJ();
    r.a_power_w = na.PowerW();
    r.b_power_w = nb.PowerW();
    r.a_time_ns = na.time_ns;
    r.b_time_ns = nb.time_ns;
    r.a_siblings = na.siblings;
    r.b_siblings = nb.siblings;
    r.a_ci95_j = Ci95Of(na);
    r.b_ci95_j = Ci95Of(nb);
    // The correlation says whether the two models spend energy in the same
    // places, so it takes every matched leaf whatever --depth shows.
    if (r.leaf) {
      leaf_a.push_back(r.a_j);
      leaf_b.push_back(r.b_j);
    }
    if (o.depth && r.depth > *o.depth) continue;
    diff.matched.push_back(std::move(r));
  }
  diff.matched_leaves = static_cast<int64_t>(leaf_a.size());
  diff.leaf_correlation = Pearson(leaf_a, leaf_b);
  std::stable_sort(diff.matched.begin(), diff.matched.end(), [](const DiffRow& x, const DiffRow& y) {
    double dx = std::fabs(x.DeltaJ()), dy = std::fabs(y.DeltaJ());
    if (dx != dy) return dx > dy;
    return x.path < y.path;
  });
  diff.only_a = OnlyIn(a, b_index, o.depth, true);
  diff.only_b = OnlyIn(b, a_index, o.depth, false);
  if (o.top > 0) {
    const size_t n = static_cast<size_t>(o.top);
    if (diff.matched.size() > n) diff.matched.resize(n);
    if (diff.only_a.size() > n) diff.only_a.resize(n);
    if (diff.only_b.size() > n) diff.only_b.resize(n);
  }
  return diff;
}

namespace {

std::string RatioText(double r) { return std::isnan(r) ? "-" : fmt::format("{:.3f}", r); }

// Whether any row has a side merged from several originals: only then do the
// per-sibling columns appear, so diffs without merging keep their layout.
bool AnySiblings(const ProfileDiff& d) {
  for (const auto* list : {&d.matched, &d.only_a, &d.only_b})
    for (const DiffRow& r : *list)
      if (r.a_siblings.n >= 2 || r.b_siblings.n >= 2) return true;
  return false;
}

// Whether any row has an attribution interval: on both sides of a matched row
// (`both`, the interval of B − A), or on its one side.
bool AnyCi95(const std::vector<DiffRow>& rows, bool both) {
  for (const DiffRow& r : rows) {
    const bool a = !std::isnan(r.a_ci95_j), b = !std::isnan(r.b_ci95_j);
    if (both ? a && b : a || b) return true;
  }
  return false;
}

// The bare half-width ("" for NaN); AlignPlusMinus puts the '±' in.
std::string HalfWidth(double half_width) { return std::isnan(half_width) ? "" : Sig2(half_width); }

void AlignColumn(std::vector<std::vector<std::string>>& rows, size_t col) {
  std::vector<std::string*> cells;
  for (auto& r : rows)
    if (col < r.size()) cells.push_back(&r[col]);
  report_text::AlignPlusMinus(cells);
}

// "12× 0.3520 ± 0.02100" (count, mean and sample std of the merged originals).
std::string PerSibling(const SiblingStats& s) {
  return s.n >= 2 ? fmt::format("{}× {} ± {}", s.n, Sig4(s.mean_j), Sig4(s.std_j)) : "";
}

void Table(fmt::memory_buffer& out, const std::vector<std::string>& header,
           const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t c = 0; c < header.size(); ++c) w[c] = report_text::DisplayWidth(header[c]);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], report_text::DisplayWidth(r[c]));
  auto line = [&](const std::vector<std::string>& r) {
    std::string s = PadRight(r[0], w[0]);
    for (size_t c = 1; c < r.size(); ++c) s += "  " + PadLeft(r[c], w[c]);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    fmt::format_to(std::back_inserter(out), "{}\n", s);
  };
  line(header);
  for (const auto& r : rows) line(r);
}

// "8 ranks on 2 machines, 12.5 J per rank, spread 0.04" or "one process".
std::string JobText(const DiffJob& job) {
  std::string text = job.ranks == 0 ? "one process"
                                    : fmt::format("{} rank{}", job.ranks, job.ranks == 1 ? "" : "s");
  text += fmt::format(" on {} machine{}", job.machines, job.machines == 1 ? "" : "s");
  if (!std::isnan(job.per_rank_j)) text += fmt::format(", {} J per rank", Sig4(job.per_rank_j));
  if (!std::isnan(job.spread)) text += fmt::format(", spread {:.2f}", job.spread);
  return text;
}

std::string RenderDiffTable(const ProfileDiff& d, const DiffOptions& o) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  constexpr size_t kPathWidth = 72;
  fmt::format_to(it, "Smaragdine profile diff: A = {}, B = {}\n", Printable(o.a_file),
                 Printable(o.b_file));
  fmt::format_to(it, "  measured   A {} J   B {} J   B-A {} J   B/A {}\n", Sig4(d.a_measured_j),
                 Sig4(d.b_measured_j), SignedSig4(d.b_measured_j - d.a_measured_j),
                 RatioText(d.a_measured_j != 0 ? d.b_measured_j / d.a_measured_j : NAN));
  if (d.a_job.ranks >= 2 || d.b_job.ranks >= 2 || d.a_job.machines >= 2 || d.b_job.machines >= 2)
    fmt::format_to(it, "  job        A {}   B {}\n", JobText(d.a_job), JobText(d.b_job));
  fmt::format_to(it, "  idle       A {} J   B {} J   B-A {} J\n", Sig4(d.a_idle_j),
                 Sig4(d.b_idle_j), SignedSig4(d.b_idle_j - d.a_idle_j));
  if (d.a_other_j != 0 || d.b_other_j != 0)
    fmt::format_to(it, "  other processes  A {} J   B {} J   B-A {} J\n", Sig4(d.a_other_j),
                   Sig4(d.b_other_j), SignedSig4(d.b_other_j - d.a_other_j));
  fmt::format_to(it, "  nodes      {} matched, {} only in A, {} only in B{}\n", d.matched.size(),
                 d.only_a.size(), d.only_b.size(), o.top > 0 ? " (after --top)" : "");
  fmt::format_to(it, "  leaves     Pearson r of matched leaf energies = {} over {} leaves\n\n",
                 std::isnan(d.leaf_correlation) ? "n/a" : fmt::format("{:.4f}", d.leaf_correlation),
                 d.matched_leaves);
  const bool siblings = AnySiblings(d);
  // The interval of B − A when both profiles carry the attribution's own
  // (total_ci95): a difference inside it is not one the attribution can tell.
  const bool delta_ci = AnyCi95(d.matched, true);
  std::vector<std::vector<std::string>> rows;
  for (const DiffRow& r : d.matched) {
    rows.push_back({Ellipsize(Printable(r.path), kPathWidth), Sig4(r.a_j), Sig4(r.b_j), SignedSig4(r.DeltaJ())});
    if (delta_ci) rows.back().push_back(HalfWidth(r.DeltaCi95J()));
    rows.back().insert(rows.back().end(), {RatioText(r.Ratio()), Sig4(r.a_power_w),
                                           Sig4(r.b_power_w), SignedSig4(r.b_power_w - r.a_power_w)});
    if (siblings) {
      rows.back().push_back(PerSibling(r.a_siblings));
      rows.back().push_back(PerSibling(r.b_siblings));
    }
  }
  std::vector<std::string> header = {"matched node", "A J", "B J", "B-A J"};
  if (delta_ci) {
    header.push_back("± J");
    AlignColumn(rows, 4);
  }
  header.insert(header.end(), {"B/A", "A W", "B W", "B-A W"});
  if (siblings) header.insert(header.end(), {"A per sibling J", "B per sibling J"});
  Table(out, header, rows);
  for (int side = 0; side < 2; ++side) {
    const auto& list = side == 0 ? d.only_a : d.only_b;
    if (list.empty()) continue;
    fmt::format_to(it, "\n");
    rows.clear();
    const bool side_ci = AnyCi95(list, false);
    for (const DiffRow& r : list) {
      rows.push_back({Ellipsize(Printable(r.path), kPathWidth), Sig4(side == 0 ? r.a_j : r.b_j)});
      if (side_ci) rows.back().push_back(HalfWidth(side == 0 ? r.a_ci95_j : r.b_ci95_j));
      rows.back().push_back(Sig4(side == 0 ? r.a_power_w : r.b_power_w));
      if (siblings) rows.back().push_back(PerSibling(side == 0 ? r.a_siblings : r.b_siblings));
    }
    std::vector<std::string> header = {side == 0 ? "only in A" : "only in B", "J"};
    if (side_ci) {
      header.push_back("± J");
      AlignColumn(rows, 2);
    }
    header.push_back("W");
    if (siblings) header.push_back("per sibling J");
    Table(out, header, rows);
  }
  // Paths are escaped where they go in (so columns line up); this pass keeps
  // any other text from a profile from reaching the terminal raw.
  return Printable(fmt::to_string(out), /*keep_newlines=*/true);
}

std::string RenderDiffCsv(const ProfileDiff& d) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  out.append(std::string_view(
      "status,path,depth,leaf,a_energy_j,b_energy_j,delta_j,ratio,a_power_w,b_power_w,"
      "delta_power_w,a_time_ns,b_time_ns"));
  const bool siblings = AnySiblings(d);
  if (siblings)
    out.append(std::string_view(
        ",a_siblings_n,a_sibling_mean_j,a_sibling_std_j,b_siblings_n,b_sibling_mean_j,"
        "b_sibling_std_j"));
  // Attribution intervals only when a profile carries them, so that other
  // diffs keep their columns.
  const bool ci = AnyCi95(d.matched, false) || AnyCi95(d.only_a, false) ||
                  AnyCi95(d.only_b, false);
  if (ci) out.append(std::string_view(",a_ci95_j,b_ci95_j,delta_ci95_j"));
  out.push_back('\n');
  // A side a node is missing from has no figures: its fields and the
  // differences stay empty rather than pretending to be 0.
  auto row = [&](const char* status, const DiffRow& r, bool has_a, bool has_b) {
    auto a = [&](std::string v) { return has_a ? v : std::string(); };
    auto b = [&](std::string v) { return has_b ? v : std::string(); };
    bool both = has_a && has_b;
    fmt::format_to(it, "{},{},{},{},{},{},{},{},{},{},{},{},{}", status, CsvField(r.path),
                   r.depth, r.leaf ? 1 : 0, a(Exact(r.a_j)), b(Exact(r.b_j)),
                   both ? Exact(r.DeltaJ()) : "", both ? Exact(r.Ratio()) : "",
                   a(Exact(r.a_power_w)), b(Exact(r.b_power_w)),
                   both ? Exact(r.b_power_w - r.a_power_w) : "", a(std::to_string(r.a_time_ns)),
                   b(std::to_string(r.b_time_ns)));
    if (siblings) {
      // Empty where the side was not merged from several originals.
      for (const SiblingStats* s : {&r.a_siblings, &r.b_siblings}) {
        if (s->n >= 2)
          fmt::format_to(it, ",{},{},{}", s->n, Exact(s->mean_j), Exact(s->std_j));
        else
          out.append(std::string_view(",,,"));
      }
    }
    if (ci) {
      auto field = [](double v) { return std::isnan(v) ? std::string() : Exact(v); };
      fmt::format_to(it, ",{},{},{}", a(field(r.a_ci95_j)), b(field(r.b_ci95_j)),
                     both ? field(r.DeltaCi95J()) : "");
    }
    out.push_back('\n');
  };
  for (const DiffRow& r : d.matched) row("matched", r, true, true);
  for (const DiffRow& r : d.only_a) row("only_a", r, true, false);
  for (const DiffRow& r : d.only_b) row("only_b", r, false, true);
  return fmt::to_string(out);
}

}  // namespace

std::string RenderDiff(const ProfileDiff& diff, const DiffOptions& o) {
  return o.format == ReportFormat::kCsv ? RenderDiffCsv(diff) : RenderDiffTable(diff, o);
}

}  // namespace smaragdine
