// Module graphs: the children of one scope as a Graphviz digraph (DOT), laid
// out in process by libgvc for `--format graph-svg`, and one graph per scope
// for `--all-scopes`.
//
// Edges follow the data flow where the profile has it (Profile::dataflow,
// from TF1's inputN args): A → B when some op under A feeds some op under B,
// weighted by the number of such producer → consumer node pairs. A profile
// without any data flow (TF2, PyTorch, live) gets execution order instead:
// with a timeline, A → B means that on some lane an event under B was the
// next one after an event under A; without one, the children are chained in
// the order the profile lists them (the order the trace first named them).
#include "report/graph.h"

#include <fmt/format.h>

#include "build_features.h"
#if SMARAGDINE_HAVE_GRAPHVIZ
#include <gvc.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "report/resolve.h"
#include "report/text.h"
#include "smaragdine/views.h"

namespace smaragdine {

using report_text::Ellipsize;
using report_text::Sig4;

namespace report_graph {

ScopeGraph BuildScopeGraph(const Profile& p, const std::vector<std::vector<uint32_t>>& children,
                           uint32_t scope) {
  ScopeGraph g;
  g.scope = scope;
  g.children = children[scope];
  const size_t n = g.children.size();
  if (n == 0) return g;

  // Which child of `scope` each node lies under (-1: not under scope). Parents
  // come before children in Profile::nodes, so one forward pass suffices.
  std::vector<int64_t> under(p.nodes.size(), -1);
  std::vector<int64_t> slot_of(p.nodes.size(), -1);
  for (size_t i = 0; i < n; ++i) slot_of[g.children[i]] = static_cast<int64_t>(i);
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    if (slot_of[i] >= 0) {
      under[i] = slot_of[i];
    } else if (p.nodes[i].parent >= 0 && static_cast<size_t>(p.nodes[i].parent) < i) {
      under[i] = under[static_cast<size_t>(p.nodes[i].parent)];
    }
  }

  // A timeline is only trusted when every event names a node of this profile.
  const Timeline& t = p.timeline;
  bool timeline_ok = !t.events.empty();
  for (const TimelineEvent& e : t.events)
    if (e.node >= p.nodes.size()) timeline_ok = false;

  std::vector<int64_t> first_ns(n, INT64_MAX);
  std::map<std::pair<size_t, size_t>, int64_t> transitions;
  if (timeline_ok) {
    // Events are sorted by (lane, start, -end); a timeline built by hand in
    // another order is sorted here (by index), so it gives the same graph. The
    // check keeps the usual case linear: the HTML report builds hundreds of
    // graphs over a timeline of up to a million events.
    auto before = [&](size_t a, size_t b) {
      const TimelineEvent& x = t.events[a];
      const TimelineEvent& y = t.events[b];
      if (x.lane != y.lane) return x.lane < y.lane;
      if (x.start_ns != y.start_ns) return x.start_ns < y.start_ns;
      return x.end_ns > y.end_ns;
    };
    std::vector<size_t> order(t.events.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (!std::is_sorted(order.begin(), order.end(), before))
      std::stable_sort(order.begin(), order.end(), before);
    int64_t last = -1;
    uint32_t lane = UINT32_MAX;
    for (size_t k : order) {
      const TimelineEvent& e = t.events[k];
      if (e.lane != lane) {
        lane = e.lane;
        last = -1;
      }
      int64_t c = under[e.node];
      if (c < 0) continue;
      first_ns[c] = std::min(first_ns[c], e.start_ns);
      if (last >= 0 && last != c)
        ++transitions[{static_cast<size_t>(last), static_cast<size_t>(c)}];
      last = c;
    }
    g.from_timeline = true;
  }
  g.from_dataflow = !p.dataflow.empty();

  // Execution order: first start on the timeline, then profile order.
  std::vector<size_t> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = i;
  std::stable_sort(perm.begin(), perm.end(), [&](size_t a, size_t b) {
    if (first_ns[a] != first_ns[b]) return first_ns[a] < first_ns[b];
    return g.children[a] < g.children[b];
  });
  std::vector<size_t> rank(n);
  std::vector<uint32_t> ordered(n);
  for (size_t i = 0; i < n; ++i) {
    rank[perm[i]] = i;
    ordered[i] = g.children[perm[i]];
  }
  g.children = ordered;

  if (g.from_dataflow) {
    // Producer → consumer pairs between different children; pairs inside one
    // child, or with an end outside the scope, are not edges of this graph.
    std::map<std::pair<size_t, size_t>, int64_t> pairs;
    for (const auto& [from, to] : p.dataflow) {
      if (from >= under.size() || to >= under.size()) continue;
      const int64_t a = under[from], b = under[to];
      if (a >= 0 && b >= 0 && a != b)
        ++pairs[{rank[static_cast<size_t>(a)], rank[static_cast<size_t>(b)]}];
    }
    for (const auto& [edge, count] : pairs)
      g.edges.push_back({edge.first, edge.second, count, edge.second < edge.first});
  } else if (g.from_timeline) {
    for (const auto& [edge, count] : transitions) {
      size_t from = rank[edge.first], to = rank[edge.second];
      g.edges.push_back({from, to, count, to < from});
    }
    std::sort(g.edges.begin(), g.edges.end(),
              [](const ScopeGraph::Edge& a, const ScopeGraph::Edge& b) {
                return std::pair(a.from, a.to) < std::pair(b.from, b.to);
              });
  } else {
    for (size_t i = 0; i + 1 < n; ++i) g.edges.push_back({i, i + 1, 1, false});
  }
  return g;
}

std::string ShareText(double share) {
  if (!std::isfinite(share)) return "n/a";
  return fmt::format("{:.1f} %", share * 100);
}

std::string FillColor(double relative) {
  // From a pale cream (0) to a deep orange-red (1): light enough at the low end
  // that black text stays legible, dark enough at the top to stand out.
  relative = std::clamp(std::isfinite(relative) ? relative : 0.0, 0.0, 1.0);
  const double lo[3] = {255, 245, 235}, hi[3] = {204, 55, 0};
  int c[3];
  for (int i = 0; i < 3; ++i)
    c[i] = static_cast<int>(std::lround(lo[i] + (hi[i] - lo[i]) * relative));
  return fmt::format("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
}

}  // namespace report_graph

namespace {

using report_graph::ScopeGraph;

// A DOT double-quoted string: '"' and '\' escaped; '\n' becomes Graphviz's
// centred line break.
std::string DotQuote(std::string_view s) {
  std::string out = "\"";
  // Control characters (a NUL ended Graphviz's string: exit 4), DEL and bytes
  // that are not UTF-8 are shown as text (\x01, its '\' escaped below); the
  // newline stays Graphviz's line break, which labels use.
  const std::string printable = report_text::Printable(s, /*keep_newlines=*/true);
  for (char c : printable) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      continue;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

constexpr size_t kLabelNameWidth = 40;

}  // namespace

std::string RenderDot(const Profile& p, uint32_t scope) {
  const auto children = p.Children();
  const ScopeGraph g = report_graph::BuildScopeGraph(p, children, scope);
  const ProfileNode& s = p.nodes[scope];
  const double scope_j = s.TotalJ();
  double max_share = 0;
  for (uint32_t c : g.children)
    if (scope_j > 0) max_share = std::max(max_share, p.nodes[c].TotalJ() / scope_j);

  const std::string scope_name = s.path.empty() ? "(root)" : s.path;
  std::string title = fmt::format("{} — {} J", scope_name, Sig4(scope_j));
  if (s.SelfJ() > 0)
    title += fmt::format("\n{} J ({}) on the scope itself, in no child", Sig4(s.SelfJ()),
                         report_graph::ShareText(scope_j > 0 ? s.SelfJ() / scope_j : NAN));
  title += g.from_dataflow
               ? "\nedges: data flow (A → B: an op under A feeds an op under B; ×N: N "
                 "producer → consumer op pairs)"
           : g.from_timeline
               ? "\nedges: execution order on the timeline (A → B: B ran next on a lane)"
               : "\nedges: order of first appearance in the trace";

  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "digraph {} {{\n", DotQuote(scope_name));
  fmt::format_to(it,
                 "  graph [label={}, labelloc=t, fontname=\"Helvetica\", fontsize=12, "
                 "rankdir=TB, nodesep=0.25, ranksep=0.3];\n",
                 DotQuote(title));
  out.append(std::string_view(
      "  node [fontname=\"Helvetica\", fontsize=11, style=\"filled\", color=\"#7f7f7f\"];\n"
      "  edge [color=\"#555555\", arrowsize=0.7];\n"));
  for (uint32_t c : g.children) {
    const ProfileNode& n = p.nodes[c];
    const double share = scope_j > 0 ? n.TotalJ() / scope_j : NAN;
    const double relative = max_share > 0 ? share / max_share : 0;
    // Shapes tell kinds apart: rounded boxes are scopes, ellipses ops, plain
    // boxes kernels.
    const char* shape = n.kind == NodeKind::kScope ? "box"
                        : n.kind == NodeKind::kOp  ? "ellipse"
                                                   : "box";
    const char* style = n.kind == NodeKind::kScope ? "rounded,filled" : "filled";
    const std::string label = fmt::format("{}\n{}  {} J", Ellipsize(n.name, kLabelNameWidth),
                                          report_graph::ShareText(share), Sig4(n.TotalJ()));
    // With the attribution's 95 % interval where the profile has one.
    const bool ci = !n.total_ci95_j.empty();
    const double time_s = n.time_ns * 1e-9;
    const std::string tooltip = fmt::format(
        "{} ({})\n{} J, {} of {}\n{} W, {} ms, {} calls", n.path, ToString(n.kind),
        ci ? report_text::WithInterval(n.TotalJ(), n.TotalCi95J()) : Sig4(n.TotalJ()),
        report_graph::ShareText(share), scope_name,
        ci && n.time_ns > 0 ? report_text::WithInterval(n.PowerW(), n.TotalCi95J() / time_s)
                            : Sig4(n.PowerW()),
        Sig4(n.time_ns * 1e-6), n.calls);
    fmt::format_to(it,
                   "  n{} [label={}, tooltip={}, shape={}, style={}, fillcolor=\"{}\", "
                   "fontcolor=\"{}\"];\n",
                   c, DotQuote(label), DotQuote(tooltip), shape, DotQuote(style),
                   report_graph::FillColor(relative), relative > 0.6 ? "#ffffff" : "#000000");
  }
  for (const ScopeGraph::Edge& e : g.edges) {
    fmt::format_to(it, "  n{} -> n{}", g.children[e.from], g.children[e.to]);
    std::vector<std::string> attrs;
    // A jump back to an earlier child (the next step, a loop) must not pull the
    // layout upwards: dashed and without rank constraint.
    if (e.back) attrs.push_back("style=dashed, constraint=false");
    if (e.count > 1) attrs.push_back(fmt::format("label=\"×{}\", fontsize=9", e.count));
    if (!attrs.empty()) {
      out.append(std::string_view(" ["));
      for (size_t i = 0; i < attrs.size(); ++i) {
        if (i) out.append(std::string_view(", "));
        out.append(attrs[i]);
      }
      out.push_back(']');
    }
    out.append(std::string_view(";\n"));
  }
  out.append(std::string_view("}\n"));
  return fmt::to_string(out);
}

namespace report_graph {

bool GraphvizAvailable() { return SMARAGDINE_HAVE_GRAPHVIZ != 0; }

std::string NoGraphvizText() {
  return "this smaragdine was built without Graphviz (libgvc), which lays out module graphs: "
         "install Debian's libgraphviz-dev (scripts/install-deps.sh does) and build smaragdine "
         "again; `report --format dot` writes the same graph as text for Graphviz's `dot -Tsvg`";
}

}  // namespace report_graph

#if !SMARAGDINE_HAVE_GRAPHVIZ

namespace report_graph {

// A usage error, as `demo` without LibTorch: the command asked for what this
// build cannot do, and the fix is a rebuild, not other input.
Result<std::string> LayoutDotAsSvg(const std::string& dot) {
  return UsageError(NoGraphvizText());
}

#else

namespace {

// Graphviz keeps global state (the error handler, plugin tables); one
// context for the process, used under a lock.
std::mutex gv_mutex;
GVC_t* gv_context = nullptr;
std::string* gv_errors = nullptr;

int CollectGraphvizError(char* message) {
  if (gv_errors != nullptr && message != nullptr) *gv_errors += message;
  return 0;
}

}  // namespace

namespace report_graph {

Result<std::string> LayoutDotAsSvg(const std::string& dot) {
  std::lock_guard<std::mutex> lock(gv_mutex);
  std::string errors;
  gv_errors = &errors;
  agseterrf(CollectGraphvizError);
  struct Reset {
    ~Reset() { gv_errors = nullptr; }
  } reset;
  if (gv_context == nullptr) gv_context = gvContext();
  if (gv_context == nullptr) return Internal("Graphviz: could not create a context (gvContext)");
  Agraph_t* graph = agmemread(dot.c_str());
  if (graph == nullptr)
    return Internal(fmt::format("Graphviz could not read the graph: {}", errors));
  auto trimmed = [&] {
    std::string e = errors;
    while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
    return e;
  };
  if (gvLayout(gv_context, graph, "dot") != 0) {
    agclose(graph);
    return Internal(fmt::format(
        "Graphviz could not lay out the graph: {} (are the layout plugins installed? Debian's "
        "libgvc6 ships them; `dot -c` registers them)",
        trimmed()));
  }
  char* data = nullptr;
  unsigned int length = 0;
  int rc = gvRenderData(gv_context, graph, "svg", &data, &length);
  std::string svg;
  if (rc == 0 && data != nullptr) svg.assign(data, length);
  if (data != nullptr) gvFreeRenderData(data);
  gvFreeLayout(gv_context, graph);
  agclose(graph);
  if (rc != 0 || svg.empty())
    return Internal(fmt::format("Graphviz could not render SVG: {}", trimmed()));
  return svg;
}

#endif  // SMARAGDINE_HAVE_GRAPHVIZ

}  // namespace report_graph

Result<std::string> RenderGraphSvg(const Profile& p, uint32_t scope) {
  return report_graph::LayoutDotAsSvg(RenderDot(p, scope));
}

namespace report_graph {

std::string GraphFileStem(const std::string& path) {
  if (path.empty()) return "_root";
  std::string s;
  for (char c : path) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    if (c == '/')
      s += "~";
    else
      s += safe ? c : '_';
  }
  // A file name stays within what every file system accepts (255 bytes).
  if (s.size() > 200) s = s.substr(0, 200);
  if (s[0] == '.') s[0] = '_';
  return s;
}

}  // namespace report_graph

Result<std::vector<GraphFile>> RenderAllScopeGraphs(const Profile& input, const ReportOptions& o) {
  if (o.format != ReportFormat::kDot && o.format != ReportFormat::kGraphSvg)
    return UsageError("--all-scopes writes module graphs: use it with --format dot or graph-svg");
  SMG_ASSIGN_OR_RETURN(ResolvedReport resolved, ResolveReport(input, o));
  const Profile& p = resolved.profile();
  const uint32_t root = resolved.root;
  const int max_depth = o.depth.value_or(INT32_MAX);
  const auto children = p.Children();
  const char* ext = o.format == ReportFormat::kDot ? ".dot" : ".svg";
  std::vector<GraphFile> files;
  std::set<std::string> taken;
  // Depth-first in profile order, so that files come out parents first.
  std::vector<std::pair<uint32_t, int>> stack{{root, 0}};
  while (!stack.empty()) {
    auto [id, depth] = stack.back();
    stack.pop_back();
    if (children[id].empty()) continue;
    std::string stem = report_graph::GraphFileStem(p.nodes[id].path);
    std::string name = stem + ext;
    for (int k = 2; taken.count(name); ++k) name = fmt::format("{}-{}{}", stem, k, ext);
    taken.insert(name);
    GraphFile f;
    f.name = name;
    f.scope_path = p.nodes[id].path;
    if (o.format == ReportFormat::kDot) {
      f.text = RenderDot(p, id);
    } else {
      SMG_ASSIGN_OR_RETURN(f.text, RenderGraphSvg(p, id));
    }
    files.push_back(std::move(f));
    if (depth < max_depth)
      for (auto c = children[id].rbegin(); c != children[id].rend(); ++c)
        stack.push_back({*c, depth + 1});
  }
  return files;
}

}  // namespace smaragdine
