// report --by rank (issue 13): each node's energy per rank of a job, and how
// unevenly the ranks share it — min / median / max, the spread, and the
// straggler (the rank busy longest on the node). Layout in docs/reports.md.
#include <algorithm>
#include <climits>
#include <cmath>

#include <fmt/format.h>

#include "report/resolve.h"
#include "report/text.h"
#include "report/tree.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace smaragdine {

using report_text::CsvField;
using report_text::Ellipsize;
using report_text::Exact;
using report_text::Printable;
using report_text::Sig4;

Result<ReportBy> ParseReportBy(std::string_view s) {
  if (s == "rank") return ReportBy::kRank;
  return UsageError(fmt::format("unknown --by '{}' (rank)", s));
}

std::vector<size_t> RankOrder(const Profile& p) {
  std::vector<size_t> order(p.processes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Process& x = p.processes[a];
    const Process& y = p.processes[b];
    if ((x.rank >= 0) != (y.rank >= 0)) return x.rank >= 0;  // ranks first
    if (x.rank != y.rank) return x.rank < y.rank;
    return x.pid < y.pid;
  });
  return order;
}

std::vector<size_t> RankSummaryOrder(const Profile& p) {
  std::vector<size_t> listed = RankOrder(p);
  if (listed.size() <= kMaxRankSummaryRows) return listed;
  const ProfileNode& top = p.nodes[0];
  std::stable_sort(listed.begin(), listed.end(), [&](size_t a, size_t b) {
    return top.ProcessTotalJ(a) > top.ProcessTotalJ(b);
  });
  listed.resize(kRankSummaryRowsWhenMany);
  return listed;
}

namespace {

template <typename T>
double Median(std::vector<T> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? static_cast<double>(v[m])
                      : (static_cast<double>(v[m - 1]) + static_cast<double>(v[m])) / 2;
}

// The process busy longest among `order` (the first of equal busy times), or
// -1 when none was busy longer than the median process: no straggler when
// they all took as long, or when the longest times are the median's (two of
// three ranks waiting equally in a collective).
int64_t Straggler(const std::vector<int64_t>& time_ns, const std::vector<size_t>& order,
                  double median_ns) {
  int64_t best = -1;
  for (size_t p : order)
    if (best < 0 || time_ns[p] > time_ns[static_cast<size_t>(best)]) best = static_cast<int64_t>(p);
  return best >= 0 && time_ns[static_cast<size_t>(best)] > median_ns ? best : -1;
}

RankSpread SpreadOf(const Profile& p, const ProfileNode& n, const std::vector<size_t>& order) {
  RankSpread s;
  const size_t np = p.processes.size();
  s.energy_j.resize(np);
  s.time_ns.assign(np, 0);
  for (size_t i = 0; i < np; ++i) {
    s.energy_j[i] = n.ProcessTotalJ(i);
    if (i < n.process_time_ns.size()) s.time_ns[i] = n.process_time_ns[i];
  }
  if (np == 0) return s;
  s.min_j = *std::min_element(s.energy_j.begin(), s.energy_j.end());
  s.max_j = *std::max_element(s.energy_j.begin(), s.energy_j.end());
  s.median_j = Median(s.energy_j);
  if (s.median_j > 0) s.spread = (s.max_j - s.min_j) / s.median_j;
  const double median_time = Median(s.time_ns);
  s.straggler = Straggler(s.time_ns, order, median_time);
  if (s.straggler >= 0 && median_time > 0)
    s.straggler_excess = s.time_ns[static_cast<size_t>(s.straggler)] / median_time - 1;
  return s;
}

std::string Percent(double fraction) {
  return std::isfinite(fraction) ? fmt::format("{:.1f}", 100 * fraction) : "-";
}

std::string Ms(int64_t ns) { return Sig4(static_cast<double>(ns) * 1e-6); }

// The header and the per-rank summary: each process's energy on the whole
// tree, its share of the measured energy and its busy time, then what no rank
// used, so that the shares add up to 100 %.
void Summary(fmt::memory_buffer& out, const Profile& p, const ReportOptions& o,
             const std::vector<size_t>& order) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "Smaragdine energy by rank: {}\n", Printable(o.file));
  int64_t ranks = 0, world = -1;
  std::vector<std::string> hosts;
  for (const Process& q : p.processes) {
    ranks += q.rank >= 0;
    world = std::max<int64_t>(world, q.world_size);
    if (!q.host.empty() && std::find(hosts.begin(), hosts.end(), q.host) == hosts.end())
      hosts.push_back(q.host);
  }
  std::string job = fmt::format("{} rank{}", ranks, ranks == 1 ? "" : "s");
  if (world > 0) job += fmt::format(" of world size {}", world);
  if (p.processes.size() > static_cast<size_t>(ranks))
    job += fmt::format(" and {} other process{}", p.processes.size() - ranks,
                       p.processes.size() - ranks == 1 ? "" : "es");
  if (!hosts.empty()) {
    const size_t named = std::min<size_t>(hosts.size(), 8);  // the line stays a line
    job += fmt::format(" on {} host{}: {}{}", hosts.size(), hosts.size() == 1 ? "" : "s",
                       Printable(fmt::format("{}", fmt::join(hosts.begin(), hosts.begin() + named, ", "))),
                       named < hosts.size() ? ", …" : "");
  }
  auto kv = [&](const char* key, const std::string& value) {
    if (!value.empty()) fmt::format_to(it, "  {:<10} {}\n", key, Printable(value));
  };
  kv("job", job);
  kv("energy", p.meta.energy_source);
  kv("method", p.meta.method);
  std::vector<std::string> domains;
  for (const ProfileDomain& d : p.domains) domains.push_back(d.name);
  kv("domains", fmt::format("{}", fmt::join(domains, ", ")));
  fmt::format_to(it, "\n");

  const ProfileNode& top = p.nodes[0];
  const double measured = p.MeasuredJ();
  auto share = [&](double j) { return measured > 0 ? Percent(j / measured) : "-"; };
  const std::vector<size_t> listed = RankSummaryOrder(p);
  std::vector<std::vector<std::string>> rows;
  double listed_j = 0;
  for (size_t i : listed) {
    const Process& q = p.processes[i];
    const double j = top.ProcessTotalJ(i);
    listed_j += j;
    rows.push_back({Printable(q.Label()), Printable(q.host.empty() ? "-" : q.host),
                    q.pid >= 0 ? std::to_string(q.pid) : "-", Sig4(j), share(j),
                    Ms(i < top.process_time_ns.size() ? top.process_time_ns[i] : 0)});
  }
  if (listed.size() < order.size()) {
    const double rest = top.TotalJ() - listed_j;
    rows.push_back({fmt::format("({} more processes)", order.size() - listed.size()), "", "",
                    Sig4(rest), share(rest), ""});
  }
  rows.push_back({});
  double other = 0;
  bool shared = false;
  for (const ProfileDomain& d : p.domains) {
    other += d.other_j;
    shared |= !d.share.empty();
  }
  if (shared) rows.push_back({"(other processes)", "", "", Sig4(other), share(other), ""});
  rows.push_back({"(idle)", "", "", Sig4(p.IdleJ()), share(p.IdleJ()), ""});
  rows.push_back({"measured", "", "", Sig4(measured), measured > 0 ? "100.0" : "-", ""});
  out.append(report_text::RenderColumns(
      {"process", "host", "pid", "energy J", "share %", "busy ms"}, 3, rows));
  fmt::format_to(it, "\n");
}

}  // namespace

RankSpread RankSpreadOf(const Profile& profile, const ProfileNode& node) {
  return SpreadOf(profile, node, RankOrder(profile));
}

std::string RenderRankTable(const Profile& p, uint32_t root, const ReportOptions& o) {
  fmt::memory_buffer out;
  const std::vector<size_t> order = RankOrder(p);
  Summary(out, p, o, order);

  const bool per_rank = order.size() <= kMaxRankColumns;
  std::vector<std::string> header = {"node", "energy J"};
  if (per_rank)
    for (size_t i : order) header.push_back(Printable(p.processes[i].Label()) + " J");
  header.insert(header.end(),
                {"min J", "median J", "max J", "spread %", "straggler", "+time %"});
  auto cells = [&](const std::string& label, const ProfileNode& n) {
    const RankSpread s = SpreadOf(p, n, order);
    std::vector<std::string> r = {label, Sig4(n.TotalJ())};
    if (per_rank)
      for (size_t i : order) r.push_back(Sig4(s.energy_j[i]));
    r.insert(r.end(), {Sig4(s.min_j), Sig4(s.median_j), Sig4(s.max_j), Percent(s.spread),
                       s.straggler >= 0
                           ? Printable(p.processes[static_cast<size_t>(s.straggler)].Label())
                           : "-",
                       Percent(s.straggler_excess)});
    return r;
  };

  // The rows the node table shows: --root, --depth (default 6), --sort.
  const size_t name_width = static_cast<size_t>(std::max(o.name_width, 16));
  const bool glyphs_from_top = root != 0 || !p.nodes[root].path.empty();
  std::vector<std::vector<std::string>> rows;
  if (glyphs_from_top)
    rows.push_back(cells(Ellipsize(Printable(p.nodes[root].path), name_width), p.nodes[root]));
  const auto children = report_tree::SortedChildren(p, o.sort);
  report_tree::Walk(
      children, root, o.depth.value_or(kDefaultTableDepth),
      [&](uint32_t id, int d, bool last, const std::vector<bool>& open) {
        rows.push_back(cells(report_tree::TreeRowLabel(p.nodes[id].name, d, last, open,
                                                       glyphs_from_top, name_width),
                             p.nodes[id]));
      });
  out.append(report_text::RenderColumns(header, 1, rows));
  fmt::format_to(std::back_inserter(out),
                 "\nspread % = (max − min) / median over the {} processes; straggler: the one "
                 "busy longest on the node;\n+time %: its busy time over the median process's."
                 "{}\n",
                 order.size(),
                 per_rank ? ""
                          : fmt::format(" Per-rank columns are shown up to {} processes "
                                        "(--format csv has every one).",
                                        kMaxRankColumns));
  return Printable(fmt::to_string(out), /*keep_newlines=*/true);
}

std::string RenderRankCsv(const Profile& p, uint32_t root, const ReportOptions& o) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  out.append(std::string_view("path,kind,depth,rank,host,pid,energy_j"));
  for (const ProfileDomain& d : p.domains) fmt::format_to(it, ",{}", CsvField("energy_j[" + d.name + "]"));
  out.append(std::string_view(",time_ns,calls\n"));
  const std::vector<size_t> order = RankOrder(p);
  const size_t nd = p.domains.size();
  auto rows = [&](const ProfileNode& n, int depth) {
    for (size_t i : order) {
      const Process& q = p.processes[i];
      fmt::format_to(it, "{},{},{},{},{},{},{}", CsvField(n.path), ToString(n.kind), depth,
                     q.rank >= 0 ? std::to_string(q.rank) : "", CsvField(q.host),
                     q.pid >= 0 ? std::to_string(q.pid) : "", Exact(n.ProcessTotalJ(i)));
      for (size_t d = 0; d < nd; ++d) {
        const size_t k = i * nd + d;
        fmt::format_to(it, ",{}", Exact(k < n.process_total_j.size() ? n.process_total_j[k] : 0.0));
      }
      fmt::format_to(it, ",{},{}\n", i < n.process_time_ns.size() ? n.process_time_ns[i] : 0,
                     i < n.process_calls.size() ? n.process_calls[i] : 0);
    }
  };
  if (root != 0) rows(p.nodes[root], 0);
  const auto children = report_tree::SortedChildren(p, o.sort);
  report_tree::Walk(children, root, o.depth.value_or(INT32_MAX),
                    [&](uint32_t id, int depth, bool, const std::vector<bool>&) {
                      rows(p.nodes[id], depth);
                    });
  return fmt::to_string(out);
}

Status CheckRankReportOptions(const ReportOptions& o) {
  if (o.by != ReportBy::kRank) return {};
  if (o.format != ReportFormat::kTable && o.format != ReportFormat::kCsv &&
      o.format != ReportFormat::kHtml)
    return UsageError(
        "--by rank is shown by --format table (per-rank columns and the imbalance), csv (one "
        "row per node and rank) and html (its 'Imbalance across ranks' section); the other "
        "formats have no rank dimension");
  if (o.top > 0)
    return UsageError("--by rank shows the tree; --top lists single ops: use one or the other");
  return {};
}

Result<std::string> RenderRankReport(const Profile& input, const ReportOptions& o) {
  SMG_RETURN_IF_ERROR(CheckRankReportOptions(o));
  if (input.processes.empty())
    return BadInput(
        o.file,
        "the profile has no per-rank figures: it was recorded as one process. To get ranks, "
        "record each rank's trace (torchrun, srun, mpirun set RANK/LOCAL_RANK/WORLD_SIZE) and "
        "account them together; docs/distributed.md says how");
  SMG_ASSIGN_OR_RETURN(ResolvedReport resolved, ResolveReport(input, o));
  const Profile& p = resolved.profile();
  switch (o.format) {
    case ReportFormat::kCsv: return RenderRankCsv(p, resolved.root, o);
    case ReportFormat::kHtml: return RenderHtmlView(p, resolved.root, o);
    default: break;
  }
  return RenderRankTable(p, resolved.root, o);
}

}  // namespace smaragdine
