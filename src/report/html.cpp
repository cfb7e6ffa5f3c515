// The self-contained HTML report (`report --format html`, `diff --format
// html`): one file with the page, its CSS and JavaScript (html_report.css and
// html_report.js, embedded at build time), and the report's data as one JSON
// block. The browser draws the summary, the node table, the flame graphs, the
// charts and the module graphs from that block; nothing is fetched.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>

#include "common/json_text.h"
#include "report/graph.h"
#include "report/html_assets.h"
#include "report/text.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace smaragdine {

using report_text::Exact;
using report_text::Sig4;

namespace {

// A JSON number; null for NaN and infinities (JSON has neither).
std::string Num(double v) { return std::isfinite(v) ? Exact(v) : "null"; }

// JSON that can sit inside <script>: '<' is written as \u003c (legal in JSON
// strings, and JSON puts '<' nowhere else), so no "</script>" or "<!--" in a
// node name can end the block early.
std::string ScriptSafe(const std::string& json) {
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (char c : json) {
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  }
  return out;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control characters are not allowed in HTML text (and NUL becomes
        // U+FFFD): shown as text (\x01) instead.
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
            c == '\x7f')
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out;
}

// An SVG document as markup to embed: from its <svg> element on (Graphviz
// writes an XML declaration, a DOCTYPE and comments before it).
std::string SvgElement(const std::string& svg) {
  size_t at = svg.find("<svg");
  return at == std::string::npos ? std::string() : svg.substr(at);
}

// A JSON list of [label, value] pairs, for the summary's definition lists.
class Pairs {
 public:
  void Add(std::string_view label, const std::string& value) {
    if (value.empty()) return;
    items_.push_back(fmt::format("[{},{}]", JsonQuote(label), JsonQuote(value)));
  }
  std::string Json() const { return "[" + fmt::format("{}", fmt::join(items_, ",")) + "]"; }

 private:
  std::vector<std::string> items_;
};

bool AnyModeled(const Profile& p) {
  for (const ProfileDomain& d : p.domains)
    if (d.modeled) return true;
  return false;
}

// One profile's summary: meta, domains, diagnostics.
std::string ProfileSummaryJson(const Profile& p, const std::string& label,
                               const std::string& file) {
  const ProfileMeta& m = p.meta;
  Pairs meta;
  meta.Add("profile", file);
  meta.Add("tool", m.tool);
  meta.Add("energy source", m.energy_source);
  meta.Add(m.traces.size() > 1 ? "traces" : "trace", fmt::format("{}", fmt::join(m.traces, ", ")));
  meta.Add("dialect", m.dialect);
  meta.Add("method", m.method);
  meta.Add("why this method", m.method_reason);
  meta.Add("meter", m.meter);
  meta.Add("alignment", m.alignment);
  if (m.window_end_ns > m.window_start_ns)
    meta.Add("window", fmt::format("{} .. {} ns on {} ({} s)", m.window_start_ns, m.window_end_ns,
                                   m.clock.empty() ? "the energy log's clock" : m.clock,
                                   Sig4((m.window_end_ns - m.window_start_ns) * 1e-9)));
  if (m.steps > 0) meta.Add("steps", std::to_string(m.steps));
  meta.Add("measured",
           fmt::format("{} J, of which idle {} J", Sig4(p.MeasuredJ()), Sig4(p.IdleJ())));

  std::vector<std::string> domains;
  for (const ProfileDomain& d : p.domains)
    domains.push_back(fmt::format(
        R"({{"name":{},"device":{},"source":{},"measured_j":{},"idle_j":{},"other_j":{},"baseline_w":{},"modeled":{}}})",
        JsonQuote(d.name), JsonQuote(d.device), JsonQuote(d.source), Num(d.measured_j),
        Num(d.idle_j), Num(d.other_j), Num(d.baseline_w), d.modeled ? "true" : "false"));
  std::vector<std::string> counts, warnings;
  for (const auto& [name, n] : p.diagnostics.counts())
    counts.push_back(fmt::format("{}:{}", JsonQuote(name), n));
  for (const std::string& w : p.diagnostics.warnings()) warnings.push_back(JsonQuote(w));
  return fmt::format(
      R"({{"label":{},"meta":{},"modeled":{},"domains":[{}],"diagnostics":{{"counts":{{{}}},"warnings":[{}]}}}})",
      JsonQuote(label), meta.Json(), AnyModeled(p) ? "true" : "false", fmt::join(domains, ","),
      fmt::join(counts, ","), fmt::join(warnings, ","));
}

struct Figure {
  std::string title;
  std::string svg;
};

std::string FiguresJson(const std::vector<Figure>& figures) {
  std::vector<std::string> items;
  for (const Figure& f : figures)
    if (!f.svg.empty())
      items.push_back(fmt::format(R"({{"title":{},"svg":{}}})", JsonQuote(f.title),
                                  JsonQuote(SvgElement(f.svg))));
  return fmt::format("[{}]", fmt::join(items, ","));
}

std::string DisplayName(const Profile& p, const HtmlOptions& o) {
  if (!o.title.empty()) return o.title;
  if (!o.profile_file.empty()) return ProfileLabel(o.profile_file);
  if (!p.meta.traces.empty()) return p.meta.traces[0];
  return "profile";
}

// The style of the "Imbalance across ranks" table (only on pages that have it).
constexpr std::string_view kRanksCss =
    "table.smg-ranks { font-size: 13px; margin-top: 8px; }\n"
    "table.smg-ranks th, table.smg-ranks td { padding: 2px 8px; text-align: right; "
    "white-space: nowrap; border-bottom: 1px solid #f0f0f2; }\n"
    "table.smg-ranks th:first-child, table.smg-ranks td:first-child { text-align: left; }\n"
    "table.smg-ranks td.smg-straggler { font-weight: 600; }\n";

// Scopes shown in the imbalance section at most (the page's size stays bounded).
constexpr size_t kMaxRankRows = 300;

// "Imbalance across ranks": for each module (scope) down to `depth` levels
// below `root`, in energy order, its energy per rank (up to kMaxRankColumns
// processes), min / median / max over the ranks, the spread and the
// straggler; "" for a profile of fewer than two processes. Static markup,
// every name escaped.
std::string RanksSection(const Profile& p, uint32_t root, int depth) {
  if (p.processes.size() < 2) return "";
  const std::vector<size_t> order = RankOrder(p);
  const bool per_rank = order.size() <= kMaxRankColumns;
  auto children = p.Children();
  for (auto& list : children)
    std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
      return p.nodes[a].TotalJ() > p.nodes[b].TotalJ();
    });
  // Depth-first, biggest first: the scopes under `root`, and `root` itself.
  std::vector<std::pair<uint32_t, int>> rows;
  std::vector<std::pair<uint32_t, int>> stack{{root, 0}};
  size_t left_out = 0;
  while (!stack.empty()) {
    auto [id, d] = stack.back();
    stack.pop_back();
    if (p.nodes[id].kind != NodeKind::kScope || (id == 0 && p.nodes[id].path.empty())) {
      // the unnamed root is the job, which the summary above the table shows
    } else if (rows.size() < kMaxRankRows) {
      rows.push_back({id, d});
    } else {
      ++left_out;
    }
    if (d < depth)
      for (auto c = children[id].rbegin(); c != children[id].rend(); ++c) stack.push_back({*c, d + 1});
  }
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  out.append(std::string_view(
      "<section id=\"smg-ranks-sec\"><h2>Imbalance across ranks</h2>\n<p class=\"smg-note\">"));
  fmt::format_to(it,
                 "Energy of each module per rank, over the {} processes of the job: the spread is "
                 "(max − min) / median; the straggler is the rank busy longest on the module, "
                 "+time its busy time over the median rank's. <code>smaragdine report --by rank"
                 "</code> prints the same for every node.</p>\n",
                 order.size());
  // The job's per-rank totals.
  const ProfileNode& top = p.nodes[0];
  const double measured = p.MeasuredJ();
  out.append(std::string_view(
      "<table class=\"smg-ranks\" id=\"smg-rank-totals\"><thead><tr><th>process</th><th>host</th>"
      "<th>pid</th><th>energy J</th><th>share %</th><th>busy ms</th></tr></thead><tbody>\n"));
  const std::vector<size_t> listed = RankSummaryOrder(p);
  double listed_j = 0;
  for (size_t i : listed) {
    const Process& q = p.processes[i];
    const double j = top.ProcessTotalJ(i);
    listed_j += j;
    fmt::format_to(it,
                   "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                   HtmlEscape(q.Label()), HtmlEscape(q.host), q.pid >= 0 ? std::to_string(q.pid) : "",
                   Sig4(j), measured > 0 ? fmt::format("{:.1f}", 100 * j / measured) : "",
                   Sig4((i < top.process_time_ns.size() ? top.process_time_ns[i] : 0) * 1e-6));
  }
  // What no rank used, so that the shares add up to 100 %.
  double other = 0;
  bool shared = false;
  for (const ProfileDomain& d : p.domains) {
    other += d.other_j;
    shared |= !d.share.empty();
  }
  auto rest = [&](const char* label, double j) {
    fmt::format_to(it, "<tr><td>{}</td><td></td><td></td><td>{}</td><td>{}</td><td></td></tr>\n",
                   label, Sig4(j), measured > 0 ? fmt::format("{:.1f}", 100 * j / measured) : "");
  };
  if (listed.size() < order.size())
    rest(fmt::format("({} more processes)", order.size() - listed.size()).c_str(),
         top.TotalJ() - listed_j);
  if (shared) rest("(other processes)", other);
  rest("(idle)", p.IdleJ());
  rest("measured", measured);
  out.append(std::string_view("</tbody></table>\n"));
  // The modules.
  out.append(std::string_view(
      "<table class=\"smg-ranks\" id=\"smg-imbalance\"><thead><tr><th>module</th><th>energy J</th>"));
  if (per_rank)
    for (size_t i : order) fmt::format_to(it, "<th>{} J</th>", HtmlEscape(p.processes[i].Label()));
  out.append(std::string_view(
      "<th>min J</th><th>median J</th><th>max J</th><th>spread %</th><th>straggler</th>"
      "<th>+time %</th></tr></thead><tbody>\n"));
  // The top level of the table starts at the margin: `root`'s row, or its children's.
  const int first_level = root == 0 && p.nodes[0].path.empty() ? 1 : 0;
  auto pct = [](double f) { return std::isfinite(f) ? fmt::format("{:.1f}", 100 * f) : "-"; };
  for (auto [id, d] : rows) {
    const ProfileNode& n = p.nodes[id];
    const RankSpread s = RankSpreadOf(p, n);
    fmt::format_to(it, "<tr><td title=\"{}\" style=\"padding-left:{:.1f}em\">{}</td><td>{}</td>",
                   HtmlEscape(n.path), 0.5 + 1.2 * (d - first_level),
                   HtmlEscape(d == 0 ? n.path : n.name),
                   Sig4(n.TotalJ()));
    if (per_rank)
      for (size_t i : order) fmt::format_to(it, "<td>{}</td>", Sig4(s.energy_j[i]));
    fmt::format_to(it,
                   "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"smg-straggler\">{}</td>"
                   "<td>{}</td></tr>\n",
                   Sig4(s.min_j), Sig4(s.median_j), Sig4(s.max_j), pct(s.spread),
                   s.straggler >= 0
                       ? HtmlEscape(p.processes[static_cast<size_t>(s.straggler)].Label())
                       : "-",
                   pct(s.straggler_excess));
  }
  out.append(std::string_view("</tbody></table>\n"));
  if (left_out)
    fmt::format_to(it, "<p class=\"smg-note\">{} more modules left out after the first {}.</p>\n",
                   left_out, kMaxRankRows);
  out.append(std::string_view("</section>\n"));
  return fmt::to_string(out);
}

// The page around the data: static markup, CSS and JS; the JS fills it in.
// `ranks_section` (RanksSection; "" for none) follows the node table.
std::string Page(const std::string& title, const std::string& subtitle,
                 const std::string& data_json, bool with_graphs,
                 const std::string& ranks_section = "") {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>{}</title>\n<style>\n{}{}</style>\n</head>\n<body>\n",
                 HtmlEscape(title), html_assets::kCss,
                 ranks_section.empty() ? std::string_view() : kRanksCss);
  fmt::format_to(
      it,
      "<header><h1>{}</h1><p>{}</p></header>\n"
      "<nav><a href=\"#smg-summary-sec\">Summary</a><a href=\"#smg-table-sec\">Nodes</a>"
      "{}{}<a href=\"#smg-flame-sec\">Flame graph</a><a href=\"#smg-charts-sec\">Charts</a></nav>\n"
      "<div id=\"smg-error\" hidden></div>\n<main>\n",
      HtmlEscape(title), HtmlEscape(subtitle),
      ranks_section.empty() ? "" : "<a href=\"#smg-ranks-sec\">Ranks</a>",
      with_graphs ? "<a href=\"#smg-graph-sec\">Module graph</a>" : "");
  out.append(std::string_view(
      "<section id=\"smg-summary-sec\"><h2>Summary</h2><div id=\"smg-summary\" "
      "class=\"smg-cards\"></div></section>\n"
      "<section id=\"smg-table-sec\"><h2>Nodes</h2>\n"
      "<div class=\"smg-tools\"><input id=\"smg-filter\" type=\"search\" "
      "placeholder=\"Filter by path: text, or /regex/\" aria-label=\"filter nodes\">"
      "<button id=\"smg-expand\" type=\"button\">expand all</button>"
      "<button id=\"smg-collapse\" type=\"button\">collapse all</button>"
      "<span id=\"smg-count\"></span></div>\n"
      "<p class=\"smg-note\">Click a column header to sort siblings by it, a ▸ to open a node, a "
      "row to select it (and show its module graph).</p>\n"
      "<div class=\"smg-table-wrap\"><table id=\"smg-table\"><thead id=\"smg-head\"></thead>"
      "<tbody id=\"smg-rows\"></tbody></table></div></section>\n"));
  out.append(std::string_view(ranks_section));
  if (with_graphs)
    out.append(std::string_view(
        "<section id=\"smg-graph-sec\"><h2>Module graph: <span id=\"smg-selected\"></span></h2>\n"
        "<div class=\"smg-tools\"><label>scope <select "
        "id=\"smg-graph-pick\"></select></label></div>\n"
        "<p class=\"smg-note\" id=\"smg-graph-note\"></p>\n"
        "<div id=\"smg-graph\"></div></section>\n"));
  out.append(std::string_view(
      "<section id=\"smg-flame-sec\"><h2>Flame graph</h2>\n"
      "<p class=\"smg-note\">Width is energy, colour average power. Hover a frame for its "
      "figures, click to zoom, Search (top right) to highlight frames by path.</p>\n"
      "<div id=\"smg-flames\"></div></section>\n"
      "<section id=\"smg-charts-sec\"><h2>Charts</h2><div id=\"smg-charts\"></div></section>\n"
      "</main>\n"));
  fmt::format_to(it, "<footer>{} — open this file in any browser; it needs no network.</footer>\n",
                 HtmlEscape(subtitle));
  fmt::format_to(it, "<script id=\"smg-data\" type=\"application/json\">{}</script>\n",
                 ScriptSafe(data_json));
  fmt::format_to(it, "<script>\n{}</script>\n</body>\n</html>\n", html_assets::kJs);
  return fmt::to_string(out);
}

constexpr size_t kMaxGraphChildren = 150;  // beyond this a graph is unreadable on a page
constexpr size_t kMaxGraphs = 400;         // and beyond this the file grows too large

}  // namespace

Result<std::string> RenderHtml(const Profile& p, const HtmlOptions& o) {
  if (p.nodes.empty()) return BadInput(o.profile_file, "the profile has no nodes");
  const uint32_t root = o.root < p.nodes.size() ? o.root : 0;
  const std::string name = DisplayName(p, o);
  const double measured = p.MeasuredJ();

  // The attribution's own interval (total_ci95) gets a column after the
  // energy and one after the power, only when the profile has it.
  bool fit = false;
  for (const ProfileNode& n : p.nodes) fit |= !n.total_ci95_j.empty();
  // The table: every node but the unnamed root, plus one (idle) row per domain.
  std::vector<std::string> rows;
  for (size_t i = 1; i < p.nodes.size(); ++i) {
    const ProfileNode& n = p.nodes[i];
    const double total = n.TotalJ();
    const bool ci = !n.total_ci95_j.empty();
    rows.push_back(fmt::format(
        "[{},{},{},{},{}{},{},{},{},{}{},{},{},{},{},{}]", i,
        n.parent > 0 ? std::to_string(n.parent) : "null", JsonQuote(n.name), JsonQuote(n.path),
        Num(total), !fit ? "" : ci ? "," + Num(n.TotalCi95J()) : ",null",
        measured > 0 ? Num(total / measured) : "null", Num(n.SelfJ()),
        n.steps.n > 1 ? Num(n.steps.ci95_j) : "null", Num(n.PowerW()),
        !fit                   ? ""
        : ci && n.time_ns > 0 ? "," + Num(n.TotalCi95J() / (n.time_ns * 1e-9))
                               : ",null",
        n.time_ns, n.calls,
        Num(PhaseFigures::SumOf(n.phases[static_cast<int>(Phase::kForward)].total_j)),
        Num(PhaseFigures::SumOf(n.phases[static_cast<int>(Phase::kBackward)].total_j)),
        JsonQuote(ToString(n.kind))));
  }
  for (size_t d = 0; d < p.domains.size(); ++d) {
    const ProfileDomain& dom = p.domains[d];
    const std::string label = "(idle) " + dom.name;
    rows.push_back(fmt::format("[{},null,{},{},{}{},{},{},null,null{},null,null,null,null,\"idle\"]",
                               p.nodes.size() + d, JsonQuote(label), JsonQuote(label),
                               Num(dom.idle_j), fit ? ",null" : "",
                               measured > 0 ? Num(dom.idle_j / measured) : "null",
                               Num(dom.idle_j), fit ? ",null" : ""));
  }
  const std::string fit_energy_column =
      R"({"label":"±","unit":"J","fmt":"pm","help":"half-width of the 95 % interval of the energy from the attribution's own uncertainty (total_ci95); meter calibration error is not in it"},)";
  const std::string fit_power_column =
      R"({"label":"±","unit":"W","fmt":"pm","help":"the energy's interval over the node's time"},)";
  const std::string columns =
      R"([{"label":"energy","unit":"J","help":"total energy of the node and everything under it"},)" +
      (fit ? fit_energy_column : std::string()) +
      R"({"label":"share","unit":"%","fmt":"pct","help":"of the energy measured in the window"},)"
      R"({"label":"self","unit":"J","help":"energy of the node itself, not of its children"},)" +
      (fit ? R"({"label":"step ±ci95","unit":"J","help":"half-width of the 95 % interval of the per-step mean"},)"
           : R"({"label":"±ci95","unit":"J","help":"half-width of the 95 % interval of the per-step mean"},)") +
      R"({"label":"power","unit":"W","help":"total energy / time"},)" +
      (fit ? fit_power_column : std::string()) +
      R"({"label":"time","unit":"ms","fmt":"ms","help":"busy time, summed over lanes"},)"
      R"({"label":"calls","unit":"","fmt":"int"},)"
      R"({"label":"forward","unit":"J"},{"label":"backward","unit":"J"},)"
      R"({"label":"kind","unit":"","fmt":"text"}])";

  // Module graphs of the scopes down to graph_depth levels below `root`. A
  // build without Graphviz leaves them out and says so in the page: the rest
  // of the report does not need them.
  const auto children = p.Children();
  std::vector<std::string> graphs;
  size_t skipped_wide = 0, skipped_count = 0;
  std::vector<std::pair<uint32_t, int>> stack;
  if (report_graph::GraphvizAvailable()) stack.push_back({root, 0});
  while (!stack.empty()) {
    auto [id, depth] = stack.back();
    stack.pop_back();
    if (children[id].empty()) continue;
    if (children[id].size() > kMaxGraphChildren) {
      ++skipped_wide;
    } else if (graphs.size() >= kMaxGraphs) {
      ++skipped_count;
    } else {
      SMG_ASSIGN_OR_RETURN(std::string svg, RenderGraphSvg(p, id));
      graphs.push_back(
          fmt::format("{}:{}", JsonQuote(std::to_string(id)), JsonQuote(SvgElement(svg))));
    }
    if (depth < o.graph_depth)
      for (auto c = children[id].rbegin(); c != children[id].rend(); ++c)
        stack.push_back({*c, depth + 1});
  }
  std::string graph_note = fmt::format(
      "Graphs are embedded for scopes down to {} level{} below {} (report --format html "
      "--depth N embeds more); smaragdine report --all-scopes --format graph-svg draws any "
      "other.",
      o.graph_depth, o.graph_depth == 1 ? "" : "s",
      p.nodes[root].path.empty() ? "the top" : p.nodes[root].path);
  if (skipped_wide)
    graph_note += fmt::format(" {} scope{} with more than {} children left out.", skipped_wide,
                              skipped_wide == 1 ? "" : "s", kMaxGraphChildren);
  if (skipped_count)
    graph_note += fmt::format(" {} more left out after the first {}.", skipped_count, kMaxGraphs);
  if (!report_graph::GraphvizAvailable())
    graph_note = "No module graphs in this report: " + report_graph::NoGraphvizText() + ".";

  FlameOptions flame;
  std::vector<Figure> flames{
      {"Energy flame graph" + (root ? " of " + p.nodes[root].path : std::string()),
       RenderFlameSvg(p, root, flame)}};
  std::vector<Figure> charts{{"Top operations by energy, with 95 % confidence intervals over steps",
                              RenderTopOpsChart(p, 15)},
                             {"Power over the window, by domain", RenderPowerChart(p, -1)},
                             {"Energy by phase", RenderPhaseChart({&p}, {name})}};

  const std::string data = fmt::format(
      R"({{"kind":"profile","profiles":[{}],"table":{{"columns":{},"sort_column":0,"open_depth":{},"rows":[{}]}},)"
      R"("root":{},"selected":{},"graphs":{{{}}},"graph_note":{},"flames":{},"charts":{},)"
      R"("no_figures_note":"Nothing to draw (the profile has no timeline or no steps)."}})",
      ProfileSummaryJson(p, name, o.profile_file), columns, o.open_depth, fmt::join(rows, ","),
      root, root, fmt::join(graphs, ","), JsonQuote(graph_note), FiguresJson(flames),
      FiguresJson(charts));
  const std::string subtitle =
      fmt::format("{} J measured{} · {}", Sig4(measured), AnyModeled(p) ? " (partly MODELED)" : "",
                  p.meta.tool.empty() ? "smaragdine" : p.meta.tool);
  return Page("Smaragdine energy report: " + name, subtitle, data, true,
              RanksSection(p, root, o.graph_depth));
}

Result<std::string> RenderHtmlView(const Profile& p, uint32_t root, const ReportOptions& o) {
  HtmlOptions html;
  html.profile_file = o.file;
  html.root = root;
  if (o.depth) html.graph_depth = *o.depth;
  return RenderHtml(p, html);
}

Result<std::string> RenderDiffHtml(const Profile& a, const Profile& b, const DiffOptions& options,
                                   const HtmlOptions& html) {
  SMG_RETURN_IF_ERROR(CheckPathsForRules(a, options.rules, options.a_file));
  SMG_RETURN_IF_ERROR(CheckPathsForRules(b, options.rules, options.b_file));
  DiffOptions o = options;
  o.depth.reset();  // the page's tree holds every level; the table opens the first ones
  o.top = 0;
  const ProfileDiff diff = DiffProfiles(a, b, o);

  // Rows: matched and one-sided nodes, nested by path.
  struct Row {
    const DiffRow* row;
    const char* status;
    bool in_a, in_b;
  };
  std::vector<Row> all;
  for (const DiffRow& r : diff.matched) all.push_back({&r, "matched", true, true});
  for (const DiffRow& r : diff.only_a) all.push_back({&r, "only in A", true, false});
  for (const DiffRow& r : diff.only_b) all.push_back({&r, "only in B", false, true});
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < all.size(); ++i) index.emplace(all[i].row->path, i + 1);
  // The interval of B − A, when both profiles carry the attribution's own.
  bool delta_ci = false;
  for (const DiffRow& r : diff.matched) delta_ci |= !std::isnan(r.DeltaCi95J());
  std::vector<std::string> rows;
  for (size_t i = 0; i < all.size(); ++i) {
    const DiffRow& r = *all[i].row;
    // The nearest listed ancestor is the parent (one-sided subtrees list only their top).
    std::string parent = "null";
    for (size_t slash = r.path.rfind('/'); slash != std::string::npos && slash > 0;
         slash = r.path.rfind('/', slash - 1)) {
      auto it = index.find(r.path.substr(0, slash));
      if (it != index.end()) {
        parent = std::to_string(it->second);
        break;
      }
    }
    const bool in_a = all[i].in_a, in_b = all[i].in_b;
    const size_t slash = r.path.rfind('/');
    const std::string name = slash == std::string::npos ? r.path : r.path.substr(slash + 1);
    rows.push_back(fmt::format("[{},{},{},{},{},{},{}{},{},{},{},{}]", i + 1, parent, JsonQuote(name),
                               JsonQuote(r.path), in_a ? Num(r.a_j) : "null",
                               in_b ? Num(r.b_j) : "null", in_a && in_b ? Num(r.DeltaJ()) : "null",
                               !delta_ci                            ? ""
                               : in_a && in_b && !std::isnan(r.DeltaCi95J()) ? "," + Num(r.DeltaCi95J())
                                                                    : ",null",
                               in_a && in_b ? Num(r.Ratio()) : "null",
                               in_a ? Num(r.a_power_w) : "null", in_b ? Num(r.b_power_w) : "null",
                               JsonQuote(all[i].status)));
  }
  const std::string columns =
      R"([{"label":"A","unit":"J"},{"label":"B","unit":"J"},)"
      R"({"label":"B−A","unit":"J","fmt":"signed","abs":true,"help":"sorted by size"},)" +
      (delta_ci ? R"({"label":"±","unit":"J","fmt":"pm","help":"half-width of the 95 % interval of B−A from the two attributions' own (total_ci95), taken as independent"},)"
                : std::string()) +
      R"({"label":"B/A","unit":"","fmt":"ratio"},)"
      R"({"label":"A power","unit":"W"},{"label":"B power","unit":"W"},)"
      R"({"label":"status","unit":"","fmt":"text"}])";

  Pairs summary;
  summary.Add("measured",
              fmt::format("A {} J, B {} J: B−A {} J, B/A {}", Sig4(diff.a_measured_j),
                          Sig4(diff.b_measured_j),
                          report_text::SignedSig4(diff.b_measured_j - diff.a_measured_j),
                          diff.a_measured_j > 0
                              ? fmt::format("{:.3f}", diff.b_measured_j / diff.a_measured_j)
                              : "n/a"));
  summary.Add("idle", fmt::format("A {} J, B {} J", Sig4(diff.a_idle_j), Sig4(diff.b_idle_j)));
  summary.Add("nodes", fmt::format("{} matched, {} only in A, {} only in B (subtrees)",
                                   diff.matched.size(), diff.only_a.size(), diff.only_b.size()));
  summary.Add("leaf correlation",
              std::isfinite(diff.leaf_correlation)
                  ? fmt::format("Pearson r = {:.4f} over {} matched leaves", diff.leaf_correlation,
                                diff.matched_leaves)
                  : fmt::format("n/a ({} matched leaves)", diff.matched_leaves));
  std::vector<std::string> rule_text;
  for (const PathRule& r : options.rules)
    rule_text.push_back(r.kind == PathRule::Kind::kFold
                            ? "--fold " + r.pattern
                            : "--map " + r.pattern + "=" + r.replacement);
  summary.Add("path rules", fmt::format("{}", fmt::join(rule_text, " ")));

  const std::string name_a = "A: " + ProfileLabel(o.a_file),
                    name_b = "B: " + ProfileLabel(o.b_file);
  FlameOptions flame;
  std::vector<Figure> flames{{"A — " + o.a_file, RenderFlameSvg(a, 0, flame)},
                             {"B — " + o.b_file, RenderFlameSvg(b, 0, flame)}};
  std::vector<Figure> charts{
      {"Energy per module, A beside B",
       RenderModuleBarsChart({&a, &b}, {name_a, name_b}, options.depth.value_or(2), options.rules)},
      {"Energy by phase, A beside B", RenderPhaseChart({&a, &b}, {name_a, name_b})}};

  const std::string data = fmt::format(
      R"({{"kind":"diff","profiles":[{},{}],"diff_summary":{},"table":{{"columns":{},"sort_column":2,"open_depth":{},"rows":[{}]}},)"
      R"("root":null,"selected":null,"graphs":{{}},"flames":{},"charts":{}}})",
      ProfileSummaryJson(a, name_a, o.a_file), ProfileSummaryJson(b, name_b, o.b_file),
      summary.Json(), columns, html.open_depth, fmt::join(rows, ","), FiguresJson(flames),
      FiguresJson(charts));
  const std::string title = html.title.empty()
                                ? fmt::format("Smaragdine energy diff: {} vs {}",
                                              ProfileLabel(o.a_file), ProfileLabel(o.b_file))
                                : html.title;
  const std::string subtitle =
      fmt::format("A {} J, B {} J measured · {}", Sig4(diff.a_measured_j), Sig4(diff.b_measured_j),
                  a.meta.tool.empty() ? "smaragdine" : a.meta.tool);
  return Page(title, subtitle, data, false);
}

}  // namespace smaragdine
