// RenderReport (rules, --domain, --root, then one renderer) and the machine
// formats: csv, folded stacks, json.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/enum_text.h"
#include "report/resolve.h"
#include "report/text.h"
#include "report/tree.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace smaragdine {

using report_text::CsvField;
using report_text::Exact;

const char* ToString(ReportFormat f) {
  switch (f) {
    case ReportFormat::kTable: return "table";
    case ReportFormat::kCsv: return "csv";
    case ReportFormat::kJson: return "json";
    case ReportFormat::kFolded: return "folded";
    case ReportFormat::kPerfetto: return "perfetto";
    case ReportFormat::kSvg: return "svg";
    case ReportFormat::kDot: return "dot";
    case ReportFormat::kGraphSvg: return "graph-svg";
    case ReportFormat::kHtml: return "html";
  }
  return "table";
}

const char* ToString(SvgChart c) {
  switch (c) {
    case SvgChart::kFlame: return "flame";
    case SvgChart::kTopOps: return "top";
    case SvgChart::kPower: return "power";
    case SvgChart::kPhases: return "phases";
  }
  return "flame";
}

const char* ToString(SortKey k) {
  switch (k) {
    case SortKey::kEnergy: return "energy";
    case SortKey::kPower: return "power";
    case SortKey::kTime: return "time";
  }
  return "energy";
}

Result<ReportFormat> ParseReportFormat(std::string_view s) {
  static constexpr ReportFormat kAll[] = {
      ReportFormat::kTable,  ReportFormat::kCsv,      ReportFormat::kJson,
      ReportFormat::kFolded, ReportFormat::kPerfetto, ReportFormat::kSvg,
      ReportFormat::kDot,    ReportFormat::kGraphSvg, ReportFormat::kHtml};
  return ParseEnumOption("format", s, kAll);
}

Result<SvgChart> ParseSvgChart(std::string_view s) {
  static constexpr SvgChart kAll[] = {SvgChart::kFlame, SvgChart::kTopOps, SvgChart::kPower,
                                      SvgChart::kPhases};
  return ParseEnumOption("chart", s, kAll);
}

Result<SortKey> ParseSortKey(std::string_view s) {
  static constexpr SortKey kAll[] = {SortKey::kEnergy, SortKey::kPower, SortKey::kTime};
  return ParseEnumOption("sort key", s, kAll);
}

std::string RenderCsv(const Profile& p, uint32_t root, const ReportOptions& o) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  out.append(std::string_view(
      "path,kind,depth,energy_j,self_energy_j,share,power_w,time_ns,calls,forward_j,backward_j,"
      "optimizer_j,steps_n,step_mean_j,step_std_j,step_ci95_j"));
  // The attribution's own interval (total_ci95) only when the profile has it,
  // so that a proportional profile keeps its columns.
  bool fit = false;
  for (const ProfileNode& n : p.nodes) fit |= !n.total_ci95_j.empty();
  if (fit) out.append(std::string_view(",total_ci95_j,power_ci95_w"));
  // Sibling columns only when rules merged some node, so that a report without
  // merging keeps its columns.
  bool siblings = false;
  for (const ProfileNode& n : p.nodes) siblings |= n.siblings.n >= 2;
  if (siblings)
    out.append(std::string_view(
        ",siblings_n,sibling_mean_j,sibling_std_j,sibling_min_j,sibling_max_j,sibling_min_path,"
        "sibling_max_path"));
  for (const ProfileDomain& d : p.domains) fmt::format_to(it, ",{}", CsvField("energy_j[" + d.name + "]"));
  if (fit)
    for (const ProfileDomain& d : p.domains)
      fmt::format_to(it, ",{}", CsvField("total_ci95_j[" + d.name + "]"));
  out.push_back('\n');
  const double measured = p.MeasuredJ();
  auto share = [&](double j) { return measured > 0 ? Exact(j / measured) : std::string(); };
  auto row = [&](const ProfileNode& n, int depth) {
    const char* kinds[] = {"scope", "op", "kernel"};
    fmt::format_to(it, "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}", CsvField(n.path),
                   kinds[static_cast<int>(n.kind)], depth, Exact(n.TotalJ()), Exact(n.SelfJ()),
                   share(n.TotalJ()), Exact(n.PowerW()), n.time_ns, n.calls,
                   Exact(PhaseFigures::SumOf(n.phases[0].total_j)),
                   Exact(PhaseFigures::SumOf(n.phases[1].total_j)),
                   Exact(PhaseFigures::SumOf(n.phases[2].total_j)), n.steps.n,
                   n.steps.n > 0 ? Exact(n.steps.mean_j) : "",
                   n.steps.n > 1 ? Exact(n.steps.std_j) : "",
                   n.steps.n > 1 ? Exact(n.steps.ci95_j) : "");
    const bool has_fit = !n.total_ci95_j.empty();
    if (fit)
      fmt::format_to(it, ",{},{}", has_fit ? Exact(n.TotalCi95J()) : "",
                     has_fit && n.time_ns > 0 ? Exact(n.TotalCi95J() / (n.time_ns * 1e-9)) : "");
    if (siblings) {
      const SiblingStats& s = n.siblings;
      if (s.n >= 2)
        fmt::format_to(it, ",{},{},{},{},{},{},{}", s.n, Exact(s.mean_j), Exact(s.std_j),
                       Exact(s.min_j), Exact(s.max_j), CsvField(s.min_path),
                       CsvField(s.max_path));
      else
        out.append(std::string_view(",,,,,,,"));
    }
    for (size_t d = 0; d < p.domains.size(); ++d)
      fmt::format_to(it, ",{}", Exact(d < n.total_j.size() ? n.total_j[d] : 0.0));
    if (fit)
      for (size_t d = 0; d < p.domains.size(); ++d)
        fmt::format_to(it, ",{}", d < n.total_ci95_j.size() ? Exact(n.total_ci95_j[d]) : "");
    out.push_back('\n');
  };
  // (idle) and (other processes) rows have no interval: empty fields.
  auto no_fit = [&](size_t count) {
    if (fit) out.append(std::string(count, ','));
  };
  if (root != 0) row(p.nodes[root], 0);
  const auto children = report_tree::SortedChildren(p, o.sort);
  report_tree::Walk(children, root, o.depth.value_or(INT32_MAX),
                    [&](uint32_t id, int depth, bool, const std::vector<bool>&) {
                      row(p.nodes[id], depth);
                    });
  if (root == 0) {
    // The energy that is on no node: a domain's idle part, and its other
    // processes' part; each row all in its own domain's column.
    auto pseudo_row = [&](size_t d, std::string_view label, std::string_view kind,
                          double energy_j) {
      fmt::format_to(it, "{},{},1,{},{},{},,,,,,,,,,",
                     CsvField(fmt::format("{} {}", label, p.domains[d].name)), kind,
                     Exact(energy_j), Exact(energy_j), share(energy_j));
      no_fit(2);
      if (siblings) out.append(std::string_view(",,,,,,,"));
      for (size_t e = 0; e < p.domains.size(); ++e)
        fmt::format_to(it, ",{}", e == d ? Exact(energy_j) : "0");
      no_fit(p.domains.size());
      out.push_back('\n');
    };
    for (size_t d = 0; d < p.domains.size(); ++d)
      pseudo_row(d, "(idle)", "idle", p.domains[d].idle_j);
    for (size_t d = 0; d < p.domains.size(); ++d)
      if (!p.domains[d].share.empty())
        pseudo_row(d, "(other processes)", "other", p.domains[d].other_j);
  }
  return fmt::to_string(out);
}

namespace {
// A frame of the folded format: ';' separates frames and a newline ends the
// stack, so neither may come from a name; control characters are shown
// escaped (report_text::Printable) so that a name cannot forge a stack.
std::string NoSemicolons(std::string_view name) {
  std::string s = report_text::Printable(name);
  for (char& c : s)
    if (c == ';') c = ':';
  return s;
}
}  // namespace

std::string RenderFolded(const Profile& p, uint32_t root, const ReportOptions& o) {
  // One frame per path component; ';' separates frames, so it cannot stay in a name.
  auto frames = [](const std::string& path) {
    std::string s = report_text::Printable(path);
    for (char& c : s) {
      if (c == ';') c = ':';
      else if (c == '/') c = ';';
    }
    return s;
  };
  struct Line {
    std::string stack;
    double exact_uj;
    int64_t uj = 0;
  };
  std::vector<Line> lines;
  std::vector<bool> inside(p.nodes.size(), false);
  inside[root] = true;
  for (size_t i = root; i < p.nodes.size(); ++i) {
    const ProfileNode& n = p.nodes[i];
    if (i != root) {
      if (n.parent < 0 || !inside[static_cast<size_t>(n.parent)]) continue;
      inside[i] = true;
    }
    double self_uj = n.SelfJ() * 1e6;
    if (self_uj > 0) lines.push_back({n.path.empty() ? "(root)" : frames(n.path), self_uj});
  }
  if (root == 0) {
    for (const ProfileDomain& d : p.domains)
      if (d.idle_j > 0) lines.push_back({"(idle);" + NoSemicolons(d.name), d.idle_j * 1e6});
    for (const ProfileDomain& d : p.domains)
      if (d.other_j > 0)
        lines.push_back({"(other processes);" + NoSemicolons(d.name), d.other_j * 1e6});
  }
  // Largest-remainder rounding: the integers add up to the rounded exact sum, so
  // the flame graph's total is the measured energy to within 1 µJ.
  double exact_sum = 0;
  int64_t floor_sum = 0;
  for (Line& l : lines) {
    exact_sum += l.exact_uj;
    l.uj = static_cast<int64_t>(std::floor(l.exact_uj));
    floor_sum += l.uj;
  }
  int64_t missing = static_cast<int64_t>(std::llround(exact_sum)) - floor_sum;
  std::vector<size_t> order(lines.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return lines[a].exact_uj - std::floor(lines[a].exact_uj) >
           lines[b].exact_uj - std::floor(lines[b].exact_uj);
  });
  for (size_t k = 0; k < order.size() && missing > 0; ++k, --missing) ++lines[order[k]].uj;
  fmt::memory_buffer out;
  for (const Line& l : lines)
    if (l.uj > 0) fmt::format_to(std::back_inserter(out), "{} {}\n", l.stack, l.uj);
  return fmt::to_string(out);
}

Status CheckPathsForRules(const Profile& profile, const std::vector<PathRule>& rules,
                          const std::string& file) {
  if (rules.empty()) return {};
  for (size_t i = 0; i < profile.nodes.size(); ++i) {
    const size_t bytes = profile.nodes[i].path.size();
    if (bytes > kMaxRulePathBytes)
      return BadInput(
          file, fmt::format("nodes[{}]: its path is {} bytes; --fold, --map and --preset rewrite "
                            "paths of at most {} bytes (a rule's work grows with the length "
                            "for every place it matches); report this profile without them",
                            i, bytes, kMaxRulePathBytes));
  }
  return {};
}

Result<ResolvedReport> ResolveReport(const Profile& input, const ReportOptions& o) {
  SMG_RETURN_IF_ERROR(CheckPathsForRules(input, o.rules, o.file));
  ResolvedReport out;
  out.input = &input;
  if (!o.domain.empty()) {
    SMG_ASSIGN_OR_RETURN(Profile one, RestrictToDomain(input, o.domain, o.file));
    out.owned = o.rules.empty() ? std::move(one) : FoldProfile(one, o.rules);
  } else if (!o.rules.empty()) {
    out.owned = FoldProfile(input, o.rules);
  }
  const Profile& p = out.profile();
  if (p.nodes.empty()) return BadInput(o.file, "the profile has no nodes");
  std::string root_path = o.root;
  while (!root_path.empty() && root_path.back() == '/') root_path.pop_back();
  int64_t root = root_path.empty() ? 0 : p.Find(root_path);
  if (root < 0) {
    std::vector<std::string> near = SuggestPaths(p, root_path);
    std::string hint;
    for (size_t i = 0; i < near.size(); ++i) hint += (i ? ", '" : "'") + near[i] + "'";
    // The file is named inside the sentence: "no node 'x' in profile.json".
    return BadInput("", fmt::format("no node '{}' in {}{}", root_path, o.file,
                                    hint.empty() ? "" : " (did you mean " + hint + "?)"));
  }
  out.root = static_cast<uint32_t>(root);
  return out;
}

Result<std::string> RenderReport(const Profile& input, const ReportOptions& o) {
  // --by rank is its own set of views (ranks.cpp); they never come back here.
  if (o.by == ReportBy::kRank) return RenderRankReport(input, o);
  SMG_ASSIGN_OR_RETURN(ResolvedReport resolved, ResolveReport(input, o));
  const Profile& p = resolved.profile();
  const uint32_t r = resolved.root;
  // The whole tree needs no subtree copy (the timeline is the big part).
  const bool whole = r == 0 && !o.depth;
  switch (o.format) {
    case ReportFormat::kTable: return RenderTable(p, r, o);
    case ReportFormat::kCsv: return RenderCsv(p, r, o);
    case ReportFormat::kFolded: return RenderFolded(p, r, o);
    // (Not `whole ? p : SubtreeProfile(…)`: that would copy p.)
    case ReportFormat::kJson:
      if (whole) return ProfileToJson(p);
      return ProfileToJson(SubtreeProfile(p, r, o.depth));
    case ReportFormat::kSvg: return RenderSvgView(p, r, o);
    case ReportFormat::kPerfetto:
      if (whole) return RenderPerfetto(p, o.file);
      return RenderPerfetto(SubtreeProfile(p, r, o.depth), o.file);
    // Each view's case is added with the view (issue 5).
    case ReportFormat::kDot: return RenderDot(p, r);
    case ReportFormat::kGraphSvg: return RenderGraphSvg(p, r);
    case ReportFormat::kHtml: return RenderHtmlView(p, r, o);
    default: break;
  }
  return UsageError(fmt::format("report --format {} is not available in this build",
                                static_cast<int>(o.format)));
}

Status WriteReport(const Profile& input, const ReportOptions& o, const TextSink& sink) {
  // The two outputs that grow with the timeline are handed on as they are made
  // (the Perfetto trace is ~6× the profile, the JSON its size); others whole.
  const bool streamed = o.format == ReportFormat::kPerfetto || o.format == ReportFormat::kJson;
  if (!streamed || o.by == ReportBy::kRank) {
    SMG_ASSIGN_OR_RETURN(std::string text, RenderReport(input, o));
    return sink(text);
  }
  SMG_ASSIGN_OR_RETURN(ResolvedReport resolved, ResolveReport(input, o));
  const Profile& p = resolved.profile();
  const bool whole = resolved.root == 0 && !o.depth;
  if (o.format == ReportFormat::kJson) {
    if (whole) return WriteProfileJson(p, sink);
    return WriteProfileJson(SubtreeProfile(p, resolved.root, o.depth), sink);
  }
  if (whole) return WritePerfetto(p, o.file, sink);
  return WritePerfetto(SubtreeProfile(p, resolved.root, o.depth), o.file, sink);
}

}  // namespace smaragdine
