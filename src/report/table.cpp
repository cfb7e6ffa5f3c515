// The table report: a header block about the measurement, the node tree (or the
// top ops), and the diagnostics. Layout is described in docs/reports.md.
#include <algorithm>
#include <climits>
#include <cmath>

#include <fmt/format.h>

#include "report/text.h"
#include "report/tree.h"
#include "smaragdine/report.h"

namespace smaragdine {
namespace {

using report_text::Ellipsize;
using report_text::Printable;
using report_text::Sig2;
using report_text::Sig4;

struct Row {
  std::string label;
  std::vector<std::string> cells;
  bool rule_before = false;  // a line of dashes above this row
};

// Renders rows under a header line in report_text::RenderColumns' layout: the
// label column left-aligned, the cells right-aligned, a rule where asked.
void RenderRows(fmt::memory_buffer& out, const std::vector<std::string>& header,
                const std::vector<Row>& rows) {
  std::vector<std::vector<std::string>> lines;
  lines.reserve(rows.size() * 2);
  for (const Row& r : rows) {
    if (r.rule_before) lines.emplace_back();  // an empty row: RenderColumns' rule
    std::vector<std::string>& line = lines.emplace_back();
    line.reserve(r.cells.size() + 1);
    line.push_back(r.label);
    line.insert(line.end(), r.cells.begin(), r.cells.end());
  }
  out.append(report_text::RenderColumns(header, 1, lines));
}

std::string Share(double j, double measured_j) {
  return measured_j > 0 ? fmt::format("{:.1f}", 100.0 * j / measured_j) : "-";
}

std::string FormatNs(int64_t ns) { return Sig4(static_cast<double>(ns) * 1e-6); }

void Header(fmt::memory_buffer& out, const Profile& p, const ReportOptions& o) {
  auto it = std::back_inserter(out);
  const ProfileMeta& m = p.meta;
  fmt::format_to(it, "Smaragdine energy profile: {}\n", Printable(o.file));
  auto kv = [&](const char* key, const std::string& value) {
    if (!value.empty()) fmt::format_to(it, "  {:<10} {}\n", key, Printable(value, true));
  };
  kv("tool", m.tool);
  bool modeled = false;
  std::vector<std::string> sources;
  for (const ProfileDomain& d : p.domains) {
    modeled |= d.modeled;
    if (!d.source.empty() && std::find(sources.begin(), sources.end(), d.source) == sources.end())
      sources.push_back(d.source);
  }
  std::string energy = m.energy_source;
  if (!sources.empty()) energy += fmt::format(" ({})", fmt::join(sources, ", "));
  if (modeled) energy += "  MODELED: estimated from CPU time, not measured";
  kv("energy", energy);
  kv("traces", fmt::format("{}", fmt::join(m.traces, ", ")));
  kv("dialect", m.dialect);
  kv("method", m.method);
  kv("why", m.method_reason);
  // The meter model may run to one line per domain: continuation lines stay
  // under the value column.
  if (!m.meter.empty()) {
    std::string meter = m.meter;
    for (size_t nl = meter.find('\n'); nl != std::string::npos; nl = meter.find('\n', nl + 1))
      meter.insert(nl + 1, std::string(13, ' '));
    kv("meter", meter);
  }
  kv("alignment", m.alignment);
  if (m.window_end_ns > m.window_start_ns || m.window_start_ns != 0) {
    kv("window", fmt::format("{} .. {} ns{} ({} s)", m.window_start_ns, m.window_end_ns,
                             m.clock.empty() ? "" : " on " + m.clock,
                             Sig4((m.window_end_ns - m.window_start_ns) * 1e-9)));
  }
  if (m.steps > 0) kv("steps", fmt::format("{}", m.steps));
  fmt::format_to(it, "\n");

  bool baseline = false, shared = false;
  for (const ProfileDomain& d : p.domains) baseline |= !std::isnan(d.baseline_w);
  for (const ProfileDomain& d : p.domains) shared |= !d.share.empty();
  std::vector<std::string> header = {"domain", "device", "measured J", "idle J", "idle %"};
  if (shared) {
    header.push_back("other proc. J");
    header.push_back("other %");
  }
  if (baseline) {
    header.push_back("baseline W");
    header.push_back("static J");
  }
  header.push_back("source");
  std::vector<Row> rows;
  double measured = 0, idle = 0, static_j = 0, other = 0;
  for (const ProfileDomain& d : p.domains) {
    Row r{Printable(d.name), {Printable(d.device), Sig4(d.measured_j), Sig4(d.idle_j), Share(d.idle_j, d.measured_j)}};
    if (shared) {
      r.cells.push_back(d.share.empty() ? "-" : Sig4(d.other_j));
      r.cells.push_back(d.share.empty() ? "-" : Share(d.other_j, d.measured_j));
    }
    if (baseline) {
      r.cells.push_back(std::isnan(d.baseline_w) ? "-" : Sig4(d.baseline_w));
      r.cells.push_back(std::isnan(d.baseline_w) ? "-" : Sig4(d.static_j));
    }
    r.cells.push_back(Printable(d.source) + (d.modeled ? " MODELED" : ""));
    measured += d.measured_j;
    idle += d.idle_j;
    other += d.other_j;
    static_j += d.static_j;
    rows.push_back(std::move(r));
  }
  if (p.domains.size() > 1) {
    Row r{"all", {"", Sig4(measured), Sig4(idle), Share(idle, measured)}, true};
    if (shared) {
      r.cells.push_back(Sig4(other));
      r.cells.push_back(Share(other, measured));
    }
    if (baseline) {
      r.cells.push_back("");
      r.cells.push_back(Sig4(static_j));
    }
    r.cells.push_back("");
    rows.push_back(std::move(r));
  }
  RenderRows(out, header, rows);
  fmt::format_to(it, "\n");
}

// Which optional columns this profile needs.
struct Columns {
  bool ci95 = false;
  // The attribution's own 95 % interval (total_ci95): "± J" after the energy
  // and "± W" after the power; only for profiles that carry it, so that the
  // others render as before.
  bool fit_ci95 = false;
  bool phases = false;  // forward and backward J: only when there is a backward pass
  bool siblings = false;  // per-sibling figures: only when rules merged some node
};

// Sibling labels longer than this lose their middle: the table stays readable
// when a --map merges nodes whose paths differ in many components.
constexpr size_t kSiblingLabelWidth = 24;

Columns ColumnsFor(const Profile& p) {
  Columns c;
  for (const ProfileNode& n : p.nodes) {
    c.ci95 |= n.steps.n >= 2;
    c.fit_ci95 |= !n.total_ci95_j.empty();
    c.phases |= !n.phases[static_cast<int>(Phase::kBackward)].empty();
    c.siblings |= n.siblings.n >= 2;
  }
  return c;
}

std::vector<std::string> NodeHeader(const Columns& c, const char* first, const char* energy) {
  std::vector<std::string> h = {first, energy};
  if (c.fit_ci95) h.push_back("± J");
  h.push_back("share %");
  // Beside "± J" the step column says what its interval is of: the per-step mean.
  if (c.ci95) h.push_back(c.fit_ci95 ? "step ±ci95 J" : "±ci95 J");
  h.push_back("power W");
  if (c.fit_ci95) h.push_back("± W");
  h.insert(h.end(), {"time ms", "calls"});
  if (c.phases) h.insert(h.end(), {"fwd J", "bwd J"});
  if (c.siblings) h.insert(h.end(), {"per sibling J", "min sibling J", "max sibling J"});
  return h;
}

// The interval cells hold the bare half-width; AlignIntervals puts the '±' in.
std::vector<std::string> NodeCells(const ProfileNode& n, double energy_j, double measured_j,
                                   const Columns& c) {
  const bool has_fit = !n.total_ci95_j.empty();
  std::vector<std::string> cells = {Sig4(energy_j)};
  if (c.fit_ci95) {
    // total_ci95 is of the total: a row showing self energy (--top) gets it only
    // when nothing below the node has energy, so that self is the total.
    const bool is_total = energy_j == n.TotalJ() ||
                          std::fabs(energy_j - n.TotalJ()) <= 1e-12 * std::fabs(n.TotalJ());
    cells.push_back(has_fit && is_total ? Sig2(n.TotalCi95J()) : "");
  }
  cells.push_back(Share(energy_j, measured_j));
  if (c.ci95) cells.push_back(n.steps.n >= 2 ? Sig4(n.steps.ci95_j) : "");
  cells.push_back(n.time_ns > 0 ? Sig4(n.PowerW()) : "-");
  // Power is total energy / time, so its interval is the total's over the same time.
  if (c.fit_ci95)
    cells.push_back(has_fit && n.time_ns > 0 ? Sig2(n.TotalCi95J() / (n.time_ns * 1e-9)) : "");
  cells.push_back(FormatNs(n.time_ns));
  cells.push_back(fmt::format("{}", n.calls));
  if (c.phases) {
    cells.push_back(Sig4(PhaseFigures::SumOf(n.phases[static_cast<int>(Phase::kForward)].total_j)));
    cells.push_back(
        Sig4(PhaseFigures::SumOf(n.phases[static_cast<int>(Phase::kBackward)].total_j)));
  }
  if (c.siblings) {
    const SiblingStats& s = n.siblings;
    if (s.n >= 2) {
      // "12× 0.3520 ± 0.02100": how many merged, their mean and sample std; then
      // which sibling was cheapest and dearest, named by what the rules folded.
      auto named = [&](const std::string& path, double j) {
        return fmt::format("{} {}",
                           Ellipsize(Printable(report_text::SiblingLabel(n.path, path)),
                                     kSiblingLabelWidth),
                           Sig4(j));
      };
      cells.push_back(fmt::format("{}× {} ± {}", s.n, Sig4(s.mean_j), Sig4(s.std_j)));
      cells.push_back(named(s.min_path, s.min_j));
      cells.push_back(named(s.max_path, s.max_j));
    } else {
      cells.insert(cells.end(), {"", "", ""});
    }
  }
  return cells;
}

// Turns the bare half-widths in the "± J" and "± W" columns into "± 0.42",
// padded so that the signs line up and the numbers end in one column:
//   43.81  ±  0.42
//   2.812  ± 0.050
// Rows without an interval (idle, measured) stay empty.
void AlignIntervals(std::vector<Row>& rows, const Columns& c) {
  if (!c.fit_ci95) return;
  // Cell indices (the label is not a cell): energy, ±, share[, step ci], power, ±.
  const size_t energy_pm = 1;
  const size_t power_pm = 4 + (c.ci95 ? 1 : 0);
  for (size_t col : {energy_pm, power_pm}) {
    std::vector<std::string*> cells;
    for (Row& r : rows)
      if (col < r.cells.size()) cells.push_back(&r.cells[col]);
    report_text::AlignPlusMinus(cells);
  }
}

// (idle), (other processes), (root) and measured rows: an energy and a share,
// with an empty interval cell between them when the table has "± J".
Row EnergyRow(std::string label, double j, const std::string& share, const Columns& c,
              bool rule_before = false) {
  Row r{std::move(label), {Sig4(j)}, rule_before};
  if (c.fit_ci95) r.cells.push_back("");
  r.cells.push_back(share);
  return r;
}

void Tree(fmt::memory_buffer& out, const Profile& p, uint32_t root, const ReportOptions& o) {
  const Columns cols = ColumnsFor(p);
  const double measured = p.MeasuredJ();
  const int depth = o.depth.value_or(kDefaultTableDepth);
  const auto children = report_tree::SortedChildren(p, o.sort);
  const size_t name_width = static_cast<size_t>(std::max(o.name_width, 16));
  std::vector<Row> rows;
  // Under --root the subtree's own node heads the tree and everything below gets glyphs.
  // A profile written by `report --format json --root X` has X as its root node.
  const bool glyphs_from_top = root != 0 || !p.nodes[root].path.empty();
  if (glyphs_from_top) {
    const ProfileNode& n = p.nodes[root];
    rows.push_back({Ellipsize(Printable(n.path), name_width), NodeCells(n, n.TotalJ(), measured, cols)});
  }
  report_tree::Walk(children, root, depth,
                    [&](uint32_t id, int d, bool last, const std::vector<bool>& open) {
                      const ProfileNode& n = p.nodes[id];
                      rows.push_back({report_tree::TreeRowLabel(n.name, d, last, open,
                                                                glyphs_from_top, name_width),
                                      NodeCells(n, n.TotalJ(), measured, cols)});
                    });
  if (root == 0) {
    // (idle) rows make the top-level shares add up to 100 %.
    bool first = true;
    for (const ProfileDomain& d : p.domains) {
      rows.push_back(
          EnergyRow("(idle) " + Printable(d.name), d.idle_j, Share(d.idle_j, measured), cols, first));
      first = false;
    }
    // The process share's other part, beside (idle), so the shares still add up.
    for (const ProfileDomain& d : p.domains)
      if (!d.share.empty())
        rows.push_back(EnergyRow("(other processes) " + Printable(d.name), d.other_j,
                                 Share(d.other_j, measured), cols));
    if (p.nodes[0].SelfJ() != 0) {
      // Energy on the unnamed root itself (events outside any scope) would
      // otherwise be missing from the sum.
      const double root_j = p.nodes[0].SelfJ();
      rows.push_back(EnergyRow("(root)", root_j, Share(root_j, measured), cols));
    }
    rows.push_back(EnergyRow("measured", measured, measured > 0 ? "100.0" : "-", cols, true));
  }
  AlignIntervals(rows, cols);
  RenderRows(out, NodeHeader(cols, "node", "energy J"), rows);
}

void Top(fmt::memory_buffer& out, const Profile& p, uint32_t root, const ReportOptions& o) {
  const Columns cols = ColumnsFor(p);
  const double measured = p.MeasuredJ();
  // Ops and kernels in the subtree: a node is in it when an ancestor is `root`.
  std::vector<bool> inside(p.nodes.size(), false);
  inside[root] = true;
  std::vector<uint32_t> leaves;
  for (size_t i = root + 1; i < p.nodes.size(); ++i) {
    int64_t parent = p.nodes[i].parent;
    if (parent < 0 || !inside[static_cast<size_t>(parent)]) continue;
    inside[i] = true;
    if (p.nodes[i].kind != NodeKind::kScope) leaves.push_back(static_cast<uint32_t>(i));
  }
  auto value = [&](uint32_t id) {
    const ProfileNode& n = p.nodes[id];
    return o.sort == SortKey::kEnergy ? n.SelfJ() : report_tree::SortValue(n, o.sort);
  };
  std::stable_sort(leaves.begin(), leaves.end(), [&](uint32_t a, uint32_t b) {
    double va = value(a), vb = value(b);
    if (va != vb) return va > vb;
    return p.nodes[a].path < p.nodes[b].path;
  });
  if (leaves.size() > static_cast<size_t>(o.top)) leaves.resize(static_cast<size_t>(o.top));
  const char* by = o.sort == SortKey::kEnergy ? "self energy"
                   : o.sort == SortKey::kPower ? "average power"
                                               : "time";
  fmt::format_to(std::back_inserter(out), "top {} ops by {}{}:\n", o.top, by,
                 root == 0 ? "" : " under " + Printable(p.nodes[root].path));
  std::vector<Row> rows;
  const size_t width = static_cast<size_t>(std::max(o.name_width, 16)) + 24;
  for (uint32_t id : leaves) {
    const ProfileNode& n = p.nodes[id];
    rows.push_back({Ellipsize(Printable(n.path), width), NodeCells(n, n.SelfJ(), measured, cols)});
  }
  AlignIntervals(rows, cols);
  RenderRows(out, NodeHeader(cols, "op", "self J"), rows);
}

void DiagnosticsBlock(fmt::memory_buffer& out, const Diagnostics& diag) {
  auto it = std::back_inserter(out);
  bool any = false;
  for (const auto& [name, n] : diag.counts()) any |= n != 0;
  if (any) {
    fmt::format_to(it, "\ndiagnostics:\n");
    for (const auto& [name, n] : diag.counts())
      if (n != 0) fmt::format_to(it, "  {:<48} {}\n", Printable(name), n);
  }
  if (!diag.warnings().empty()) {
    fmt::format_to(it, "\nwarnings:\n");
    for (const std::string& w : diag.warnings()) fmt::format_to(it, "  {}\n", Printable(w));
  }
}

}  // namespace

std::string RenderTable(const Profile& p, uint32_t root, const ReportOptions& o) {
  fmt::memory_buffer out;
  Header(out, p, o);
  if (o.top > 0)
    Top(out, p, root, o);
  else
    Tree(out, p, root, o);
  DiagnosticsBlock(out, p.diagnostics);
  // Names are escaped where they go in (so columns line up); this pass is for
  // any text from the profile that a future row forgets to escape: the table
  // goes to a terminal, which must not obey it.
  return Printable(fmt::to_string(out), /*keep_newlines=*/true);
}

}  // namespace smaragdine
