// Every view of `report` and `diff`, drawn by the CLI from real profiles: the
// four fixture traces accounted against simulated energy (as the other
// fixture tests do) and the demo's live BERT-tiny profiles (tests/data/demo).
// Each output is read back with a strict reader — simdjson for the Perfetto
// JSON, Graphviz's own parser (agmemread) for DOT, the strict XML reader for
// SVG — and compared with profile.json: one slice per timeline event, one
// frame or graph node per profile node, and the energies the labels print are
// the profile's, with the rounding the views print.
#include <fmt/format.h>
#include <graphviz/cgraph.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "report/perfetto_util.h"
#include "report/svg_xml_util.h"
#include "report/text.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

namespace dom = simdjson::dom;
using report_text::Ellipsize;
using report_text::Sig4;
using testing::ParseXml;
using testing::XmlElement;

const std::string kData = SMARAGDINE_TEST_DATA;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CliRun {
  int status = -1;
  std::string err;
};

// Runs the CLI; stdout is not kept (every view here is written with -o).
CliRun Sh(const std::string& args) {
  static int counter = 0;
  const std::string err_file = ::testing::TempDir() + "/formats_cli_" + std::to_string(++counter) +
                               "_" + std::to_string(::getpid()) + ".err";
  const std::string cmd =
      std::string(SMARAGDINE_BINARY) + " " + args + " >/dev/null 2>" + err_file;
  const int rc = std::system(cmd.c_str());
  CliRun r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.err = Slurp(err_file);
  std::filesystem::remove(err_file);
  return r;
}

// Runs the CLI and returns the file it wrote (empty, with a failure, when it failed).
std::string View(const std::string& args, const std::string& out_file) {
  CliRun r = Sh(args + " -o " + out_file);
  EXPECT_EQ(r.status, 0) << args << "\n" << r.err;
  return r.status == 0 ? Slurp(out_file) : std::string();
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// Text as the strict XML reader gives it: it reads every non-ASCII character
// (as a reference or as UTF-8) as '?' and compares ASCII only. Graphviz writes
// the second of two spaces as &#160;, so in a label's number line '?' and
// spaces are one.
std::string AsciiOnly(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += s[i];
    } else if (c >= 0xC0) {
      out += '?';  // the lead byte of a UTF-8 sequence; its continuation bytes are skipped
    }
  }
  return out;
}
std::string NumberLine(const std::string& s) {
  std::string out = AsciiOnly(s);
  std::replace(out.begin(), out.end(), '?', ' ');
  return out;
}

// The label line of a module graph's node under its name: "12.3 %  4.567 J",
// computed here from the profile (not by the renderer's helper).
std::string ShareAndEnergy(const Profile& p, uint32_t scope, uint32_t child) {
  const double scope_j = p.nodes[scope].TotalJ();
  const double j = p.nodes[child].TotalJ();
  const std::string share = scope_j > 0 ? fmt::format("{:.1f} %", 100 * j / scope_j) : "n/a";
  return share + "  " + Sig4(j) + " J";
}

// The scope with the most children (ties: the first), other than the root:
// the graph with the most to check.
uint32_t WidestScope(const Profile& p) {
  const auto children = p.Children();
  uint32_t best = 0;
  for (uint32_t i = 1; i < p.nodes.size(); ++i)
    if (children[i].size() > children[best].size() || best == 0) best = children[i].empty() ? best : i;
  return best;
}

// ---- Perfetto ----

void ExpectPerfetto(const Profile& p, const std::string& json) {
  // The existing structural checks: valid JSON, slices are exactly the
  // timeline's events (lane, ns times, path), nested energies add up.
  const testing::PerfettoSummary summary = testing::CheckPerfetto(p, json);
  EXPECT_EQ(summary.slices, p.timeline.events.size()) << "one slice per timeline event";

  dom::parser parser;
  dom::element doc;
  simdjson::padded_string padded(json);
  ASSERT_EQ(parser.parse(padded).get(doc), simdjson::SUCCESS);
  std::string_view clock;
  ASSERT_EQ(doc["otherData"]["clock"].get(clock), simdjson::SUCCESS);
  EXPECT_EQ(clock, p.meta.clock) << "timestamps are on the run's clock, and say which";

  // Each slice against its event: same phase, step and self energy, power =
  // energy / duration, name = the node's name.
  using Slice = std::tuple<int64_t, int64_t, int64_t, std::string, std::string, std::string, double>;
  std::vector<Slice> want, got;
  for (const TimelineEvent& e : p.timeline.events)
    want.emplace_back(int64_t{e.lane} + 1, e.start_ns, e.end_ns, p.nodes[e.node].path,
                      ToString(e.phase), e.step >= 0 ? p.timeline.steps[e.step].name : "",
                      e.self_j);
  std::map<std::string, double> self_by_path;
  std::set<std::string> counters;
  const int64_t w0 = p.meta.window_start_ns, w1 = p.meta.window_end_ns;
  size_t outside_window = 0, bad_power = 0, bad_name = 0;
  for (dom::element e : doc["traceEvents"].get_array()) {
    std::string_view ph = e["ph"].get_string();
    if (ph == "M") continue;
    int64_t pid = e["pid"].get_int64();
    const int64_t ts_ns = std::llround(double(e["ts"].get_double()) * 1000.0);
    if (ph == "C") {
      if (ts_ns < w0 || ts_ns > w1) ++outside_window;
      counters.insert(std::string(std::string_view(e["name"].get_string())));
      continue;
    }
    const int64_t dur_ns = std::llround(double(e["dur"].get_double()) * 1000.0);
    if (pid == 1) {
      // The steps' track: a step is the trace's and may begin before the
      // window (the energy log's first reading); on the same clock it overlaps it.
      if (ts_ns + dur_ns < w0 || ts_ns > w1) ++outside_window;
      continue;
    }
    if (ts_ns < w0 || ts_ns + dur_ns > w1) ++outside_window;
    dom::element args = e["args"];
    const std::string path(std::string_view(args["path"].get_string()));
    std::string_view step;
    if (args["step"].get(step)) step = "";
    const double self_j = args["self_energy_j"].get_double();
    const double energy_j = args["energy_j"].get_double();
    const double power_w = args["power_w"].get_double();
    got.emplace_back(e["tid"].get_int64(), ts_ns, ts_ns + dur_ns, path,
                     std::string(std::string_view(args["phase"].get_string())), std::string(step),
                     self_j);
    self_by_path[path] += self_j;
    const double want_w = dur_ns > 0 ? energy_j / (dur_ns * 1e-9) : 0;
    if (std::fabs(power_w - want_w) > 1e-12 * std::max(1.0, std::fabs(want_w))) ++bad_power;
    const int64_t id = p.Find(path);
    const std::string want_name = id > 0 ? p.nodes[static_cast<size_t>(id)].name : "(root)";
    if (std::string_view(e["name"].get_string()) != want_name) ++bad_name;
  }
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_TRUE(want == got) << "a slice's phase, step or self energy is not its event's";
  EXPECT_EQ(outside_window, 0u) << "timestamps outside the window [" << w0 << ", " << w1 << "] ns";
  EXPECT_EQ(bad_power, 0u) << "power_w is not energy_j / dur";
  EXPECT_EQ(bad_name, 0u) << "slice names are not the nodes' names";

  // The slices hold the nodes' energy: per node, its events' self energies add
  // to the node's self energy in profile.json.
  size_t checked = 0;
  for (const ProfileNode& n : p.nodes) {
    const double want_j = n.SelfJ();
    const auto it = self_by_path.find(n.path);
    const double got_j = it == self_by_path.end() ? 0.0 : it->second;
    EXPECT_NEAR(got_j, want_j, 1e-9 * std::max(1e-9, std::fabs(want_j))) << n.path;
    checked += want_j > 0;
  }
  EXPECT_GT(checked, 0u);

  // One counter track per energy domain, integrating to its measured energy.
  std::set<std::string> want_counters;
  for (const ProfileDomain& d : p.domains) {
    want_counters.insert(d.name + " power");
    auto it = summary.counter_j.find(d.name + " power");
    ASSERT_NE(it, summary.counter_j.end()) << d.name;
    EXPECT_NEAR(it->second, d.measured_j, 1e-9 * std::max(1.0, d.measured_j)) << d.name;
  }
  EXPECT_EQ(counters, want_counters);
}

// ---- Flame graph ----

void ExpectFlame(const Profile& p, uint32_t root, const std::string& svg_text, bool by_time) {
  XmlElement svg;
  std::string error;
  ASSERT_TRUE(ParseXml(svg_text, svg, error)) << error;
  std::map<std::string, std::vector<const XmlElement*>> frames;
  double frames_w = 0;
  for (const XmlElement* g : svg.FindAll("g")) {
    if (g->HasClass("frames")) frames_w = g->Num("data-width");
    if (g->HasClass("fr")) frames[*g->Attr("data-key")].push_back(g);
  }
  ASSERT_GT(frames_w, 0);
  const std::string& root_path = p.nodes[root].path;
  ASSERT_EQ(frames.count(root_path), 1u) << "no top frame";
  const XmlElement& top = *frames[root_path].front();
  const double top_w = top.Num("data-w");
  if (root == 0 && !by_time)
    EXPECT_NEAR(top.Num("data-energy-j"), p.MeasuredJ(), 1e-9 * p.MeasuredJ())
        << "nodes + idle + other = measured";

  // Every node under the root with weight is one frame, with its energy, the
  // tooltip's printed energy and a width in proportion.
  std::set<std::string> under{root_path};
  size_t checked = 0;
  for (const ProfileNode& n : p.nodes) {
    if (n.id == root || n.parent < 0 || !under.count(p.nodes[n.parent].path)) continue;
    under.insert(n.path);
    const double weight = by_time ? static_cast<double>(n.time_ns) : n.TotalJ();
    if (!(weight > 0)) continue;
    auto it = frames.find(n.path);
    ASSERT_NE(it, frames.end()) << "no frame for " << n.path;
    ASSERT_EQ(it->second.size(), 1u) << "frames of " << n.path;
    const XmlElement& fr = *it->second.front();
    EXPECT_EQ(fr.Num("data-energy-j"), n.TotalJ()) << n.path;
    EXPECT_EQ(fr.Num("data-w"), weight) << n.path;
    const std::string tip = fr.First("title")->TextContent();
    EXPECT_NE(tip.find("\nenergy: " + Sig4(n.TotalJ()) + (n.total_ci95_j.empty() ? " J (" : " ± ")), std::string::npos) << tip;
    EXPECT_NEAR(fr.First("rect")->Num("width"), frames_w * weight / top_w, 6e-4) << n.path;
    ++checked;
  }
  EXPECT_GT(checked, 0u);
  // And nothing else: the other frames are the top's (idle), (other
  // processes) and (root) frames.
  for (const auto& [key, list] : frames) {
    if (under.count(key)) continue;
    EXPECT_TRUE(key.rfind("(idle)", 0) == 0 || key.rfind("(other processes)", 0) == 0 ||
                key == "(root)")
        << "a frame that is no node: " << key;
  }
}

// ---- Module graphs ----

// DOT through Graphviz's own parser: one graph node per child of `scope`, named
// n<id>, labelled with its name, share and energy; shares (with the scope's own
// energy) add up to 100 %.
void ExpectDot(const Profile& p, uint32_t scope, const std::string& dot) {
  Agraph_t* g = agmemread(dot.c_str());
  ASSERT_NE(g, nullptr) << "Graphviz cannot read the DOT:\n" << dot.substr(0, 500);
  const auto children = p.Children();
  std::set<uint32_t> want(children[scope].begin(), children[scope].end()), got;
  double share_sum = 0;
  for (Agnode_t* n = agfstnode(g); n != nullptr; n = agnxtnode(g, n)) {
    const std::string name = agnameof(n);
    if (name.size() < 2 || name[0] != 'n') {
      ADD_FAILURE() << "a graph node that is no profile node: " << name;
      continue;
    }
    const uint32_t id = static_cast<uint32_t>(std::stoul(name.substr(1)));
    if (id >= p.nodes.size()) {
      ADD_FAILURE() << name << " is out of range";
      continue;
    }
    got.insert(id);
    // cgraph keeps "\n" of a quoted string as backslash-n (a line break when drawn).
    const char* label = agget(n, const_cast<char*>("label"));
    ASSERT_NE(label, nullptr) << name;
    const std::string text = label;
    const size_t nl = text.find("\\n");
    ASSERT_NE(nl, std::string::npos) << text;
    std::string want_name = Ellipsize(p.nodes[id].name, 40);
    std::string escaped;  // DOT escapes '\' as "\\", which cgraph keeps as two
    for (char c : want_name) escaped += c == '\\' ? std::string("\\\\") : std::string(1, c);
    EXPECT_EQ(text.substr(0, nl), escaped) << p.nodes[id].path;
    EXPECT_EQ(text.substr(nl + 2), ShareAndEnergy(p, scope, id)) << p.nodes[id].path;
    share_sum += std::stod(text.substr(nl + 2));
  }
  agclose(g);
  EXPECT_EQ(got, want) << "graph nodes vs children of " << p.nodes[scope].path;
  const double scope_j = p.nodes[scope].TotalJ();
  const double self_share = scope_j > 0 ? 100 * p.nodes[scope].SelfJ() / scope_j : 0;
  if (scope_j > 0)
    EXPECT_NEAR(share_sum + self_share, 100, 0.05 * static_cast<double>(want.size()) + 1e-9)
        << "the children and the scope's own energy hold all of it";
}

// Graphviz's SVG: one <g class="node"> per child, titled with its DOT name,
// its text lines the label's.
void ExpectGraphSvg(const Profile& p, uint32_t scope, const std::string& svg_text) {
  XmlElement svg;
  std::string error;
  ASSERT_TRUE(ParseXml(svg_text, svg, error)) << error;
  const auto children = p.Children();
  std::set<uint32_t> want(children[scope].begin(), children[scope].end()), got;
  for (const XmlElement* g : svg.FindAll([](const XmlElement& e) { return e.HasClass("node"); })) {
    const std::string title = g->First("title")->TextContent();
    ASSERT_EQ(title[0], 'n') << title;
    const uint32_t id = static_cast<uint32_t>(std::stoul(title.substr(1)));
    ASSERT_LT(id, p.nodes.size());
    EXPECT_TRUE(got.insert(id).second) << "twice: " << p.nodes[id].path;
    std::vector<std::string> lines;
    for (const XmlElement* t : g->FindAll("text")) lines.push_back(t->TextContent());
    ASSERT_EQ(lines.size(), 2u) << p.nodes[id].path;
    EXPECT_EQ(AsciiOnly(lines[0]), AsciiOnly(Ellipsize(p.nodes[id].name, 40)));
    EXPECT_EQ(NumberLine(lines[1]), NumberLine(ShareAndEnergy(p, scope, id))) << p.nodes[id].path;
  }
  EXPECT_EQ(got, want) << "graph nodes vs children of " << p.nodes[scope].path;
}

// ---- Charts ----

// The top-ops chart: the n ops or kernels of highest self energy, in order,
// each with its own energy per step (the window's without steps).
void ExpectTopChart(const Profile& p, int n, const std::string& svg_text) {
  XmlElement svg;
  std::string error;
  ASSERT_TRUE(ParseXml(svg_text, svg, error)) << error;
  std::vector<const ProfileNode*> ops;
  for (const ProfileNode& node : p.nodes)
    if (node.kind != NodeKind::kScope && node.SelfJ() > 0) ops.push_back(&node);
  std::stable_sort(ops.begin(), ops.end(), [](const ProfileNode* a, const ProfileNode* b) {
    return a->SelfJ() != b->SelfJ() ? a->SelfJ() > b->SelfJ() : a->path < b->path;
  });
  if (ops.size() > static_cast<size_t>(n)) ops.resize(static_cast<size_t>(n));
  const auto children = p.Children();
  const auto bars = svg.FindAll([](const XmlElement& e) { return e.HasClass("bar"); });
  ASSERT_EQ(bars.size(), ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const ProfileNode& op = *ops[i];
    EXPECT_EQ(*bars[i]->Attr("data-path"), op.path) << "bar " << i;
    double want_j = op.SelfJ();
    if (p.nodes[0].steps.n >= 1) {  // own energy per step: inclusive mean minus the children's
      want_j = op.steps.mean_j;
      for (uint32_t c : children[op.id]) want_j -= p.nodes[c].steps.mean_j;
      want_j = std::max(want_j, 0.0);
    }
    EXPECT_NEAR(bars[i]->Num("data-value-j"), want_j, 1e-12 * std::max(1e-12, want_j)) << op.path;
  }
}

// ∫ power over [t0, t1] of one domain's track, in J.
double TrackJ(const PowerTrack& t, int64_t t0, int64_t t1) {
  double j = 0;
  for (size_t i = 0; i + 1 < t.t_ns.size() && i < t.power_w.size(); ++i) {
    const int64_t a = std::max(t.t_ns[i], t0), b = std::min(t.t_ns[i + 1], t1);
    if (a < b) j += t.power_w[i] * static_cast<double>(b - a) * 1e-9;
  }
  return j;
}

// The power chart over [t0, t1]: one line per domain whose mean is the
// domain's energy in that span over the time its track covers; phase bands
// inside the span.
void ExpectPowerChart(const Profile& p, int64_t t0, int64_t t1, const std::string& svg_text) {
  XmlElement svg;
  std::string error;
  ASSERT_TRUE(ParseXml(svg_text, svg, error)) << error;
  std::map<std::string, double> mean_w;
  for (const XmlElement* path : svg.FindAll([](const XmlElement& e) { return e.HasClass("power"); }))
    EXPECT_TRUE(mean_w.emplace(*path->Attr("data-domain"), path->Num("data-mean-w")).second);
  ASSERT_EQ(mean_w.size(), p.timeline.power.size()) << "one line per domain";
  for (const PowerTrack& t : p.timeline.power) {
    ASSERT_TRUE(mean_w.count(t.domain)) << t.domain;
    if (t.t_ns.empty()) continue;
    const int64_t a = std::max(t0, t.t_ns.front()), b = std::min(t1, t.t_ns.back());
    const double want_w = b > a ? TrackJ(t, t0, t1) / (static_cast<double>(b - a) * 1e-9) : 0;
    EXPECT_NEAR(mean_w[t.domain], want_w, 1e-9 * std::max(1.0, want_w)) << t.domain;
  }
  for (const XmlElement* band : svg.FindAll([](const XmlElement& e) { return e.HasClass("phase"); })) {
    EXPECT_GE(band->Num("data-start-ns"), static_cast<double>(t0));
    EXPECT_LE(band->Num("data-end-ns"), static_cast<double>(t1));
  }
}

// The phase chart: per profile one bar of the phases' energies at the root.
void ExpectPhaseChart(const std::vector<const Profile*>& profiles, const std::string& svg_text) {
  XmlElement svg;
  std::string error;
  ASSERT_TRUE(ParseXml(svg_text, svg, error)) << error;
  const auto bars = svg.FindAll([](const XmlElement& e) { return e.HasClass("bar"); });
  ASSERT_EQ(bars.size(), profiles.size());
  for (size_t i = 0; i < profiles.size(); ++i) {
    std::map<std::string, double> want, got;
    for (int ph = 0; ph < kPhaseCount; ++ph) {
      const double j = PhaseFigures::SumOf(profiles[i]->nodes[0].phases[ph].total_j);
      if (j > 0) want[ToString(static_cast<Phase>(ph))] = j;
    }
    for (const XmlElement* seg :
         bars[i]->FindAll([](const XmlElement& e) { return e.HasClass("seg"); }))
      got[*seg->Attr("data-phase")] = seg->Num("data-energy-j");
    EXPECT_EQ(got, want) << "profile " << i;
  }
}

// ---- HTML ----

// The JSON inside <script id="smg-data" type="application/json">…</script>.
std::string DataBlock(const std::string& html) {
  const std::string open = "<script id=\"smg-data\" type=\"application/json\">";
  size_t start = html.find(open);
  if (start == std::string::npos) return "";
  start += open.size();
  return html.substr(start, html.find("</script>", start) - start);
}

// The page of `report --format html [--root]`: a table row per node (and per
// domain's idle energy) with the profile's exact energy and share, the flame
// graph of the selected node, the charts, and the module graphs of the scopes
// down to two levels below it, every figure well-formed.
void ExpectHtml(const Profile& p, uint32_t root, const std::string& html) {
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  const std::string block = DataBlock(html);
  dom::parser parser;
  simdjson::padded_string json(block);
  dom::element data;
  ASSERT_EQ(parser.parse(json).get(data), simdjson::SUCCESS) << block.substr(0, 300);
  EXPECT_EQ(int64_t(data["selected"].get_int64()), int64_t{root});

  dom::array rows = data["table"]["rows"].get_array();
  EXPECT_EQ(rows.size(), p.nodes.size() - 1 + p.domains.size());
  std::set<std::string> paths;
  // With the attribution's intervals (total_ci95) a ± column follows the energy.
  bool fit = false;
  for (const ProfileNode& n : p.nodes) fit |= !n.total_ci95_j.empty();
  const size_t shift = fit ? 1 : 0;
  for (dom::element row : rows) {
    dom::array r = row.get_array();
    const std::string path(std::string_view(r.at(3).get_string()));
    paths.insert(path);
    const int64_t id = r.at(0).get_int64();
    const double total = r.at(4).get_double();
    if (id >= static_cast<int64_t>(p.nodes.size())) {  // (idle) rows
      const ProfileDomain& d = p.domains[static_cast<size_t>(id) - p.nodes.size()];
      EXPECT_EQ(path, "(idle) " + d.name);
      EXPECT_EQ(total, d.idle_j);
      continue;
    }
    const ProfileNode& n = p.nodes[static_cast<size_t>(id)];
    EXPECT_EQ(path, n.path);
    EXPECT_EQ(total, n.TotalJ()) << path;
    EXPECT_EQ(double(r.at(6 + shift).get_double()), n.SelfJ()) << path;
    EXPECT_NEAR(double(r.at(5 + shift).get_double()), n.TotalJ() / p.MeasuredJ(), 1e-15) << path;
    if (fit && !n.total_ci95_j.empty())
      EXPECT_EQ(double(r.at(5).get_double()), n.TotalCi95J()) << path;
  }
  EXPECT_EQ(paths.size(), rows.size()) << "a node listed twice";

  dom::array flames = data["flames"].get_array();
  ASSERT_EQ(flames.size(), 1u);
  for (dom::element f : flames) {
    std::string_view svg;
    ASSERT_EQ(f["svg"].get(svg), simdjson::SUCCESS);
    SCOPED_TRACE("the page's flame graph");
    ExpectFlame(p, root, std::string(svg), false);
  }
  size_t charts = 0;
  for (dom::element c : data["charts"].get_array()) {
    std::string_view svg;
    ASSERT_EQ(c["svg"].get(svg), simdjson::SUCCESS);
    if (svg.empty()) continue;  // the power chart of a profile without timeline
    XmlElement parsed;
    std::string error;
    EXPECT_TRUE(ParseXml(std::string(svg), parsed, error)) << error;
    ++charts;
  }
  EXPECT_EQ(charts, 3u) << "top ops, power, phases";

  // Module graphs: the selected node's scopes down to two levels (--depth 2).
  const auto children = p.Children();
  std::set<std::string> want_graphs;
  std::vector<std::pair<uint32_t, int>> stack{{root, 0}};
  while (!stack.empty()) {
    auto [id, depth] = stack.back();
    stack.pop_back();
    if (children[id].empty()) continue;
    if (children[id].size() <= 150) want_graphs.insert(std::to_string(id));
    if (depth < 2)
      for (uint32_t c : children[id]) stack.push_back({c, depth + 1});
  }
  std::set<std::string> got_graphs;
  for (auto field : data["graphs"].get_object()) {
    got_graphs.insert(std::string(field.key));
    const uint32_t id = static_cast<uint32_t>(std::stoul(std::string(field.key)));
    SCOPED_TRACE("the page's module graph of " + p.nodes[id].path);
    ExpectGraphSvg(p, id, std::string(std::string_view(field.value.get_string())));
  }
  if (want_graphs.size() <= 400) EXPECT_EQ(got_graphs, want_graphs);
}

// ---- The profiles ----

struct Case {
  const char* name;
  const char* trace;          // a fixture trace to account with simulated energy, or
  const char* account_extra;  // (relative traces need their anchor)
  const char* profile;        // a profile under tests/data
};

// A profile.json for the case, written by the CLI (account with the timeline
// kept, as a user does before `report --format perfetto`).
std::string ProfileFile(const Case& c, const std::string& dir) {
  if (c.profile != nullptr) return kData + "/" + c.profile;
  const std::string trace = kData + "/fixtures/" + c.trace;
  CliRun sim = Sh("simulate --for-trace " + trace + " -o " + dir);
  EXPECT_EQ(sim.status, 0) << sim.err;
  const std::string profile = dir + "/profile.json";
  CliRun account = Sh("account -q --energy " + dir + "/run --trace " + trace + " " +
                      c.account_extra + " --timeline always -o " + profile);
  EXPECT_EQ(account.status, 0) << account.err;
  return profile;
}

class FormatsTest : public ::testing::TestWithParam<Case> {};

TEST_P(FormatsTest, EveryViewHoldsTheProfile) {
  const Case& c = GetParam();
  // The pid keeps runs in parallel (ctest -j, another checkout) apart.
  const std::string dir =
      ::testing::TempDir() + "/formats_" + c.name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string file = ProfileFile(c, dir);
  ASSERT_FALSE(HasFailure());
  auto read = ReadProfileJson(file);
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  const Profile& p = *read;
  ASSERT_FALSE(p.timeline.events.empty()) << "the views need the timeline";
  const std::string report = "report " + file;
  const uint32_t scope = WidestScope(p);
  ASSERT_GT(scope, 0u);
  const std::string& scope_path = p.nodes[scope].path;
  const std::string root_arg = " --root '" + scope_path + "'";

  {
    SCOPED_TRACE("--format perfetto");
    ExpectPerfetto(p, View(report + " --format perfetto", dir + "/trace.json"));
  }
  {
    SCOPED_TRACE("--format svg (flame graph)");
    const std::string flame = View(report + " --format svg", dir + "/flame.svg");
    ExpectFlame(p, 0, flame, false);
    EXPECT_EQ(View(report + " --format svg --chart flame", dir + "/flame2.svg"), flame);
  }
  {
    SCOPED_TRACE("--format svg --weight time");
    ExpectFlame(p, 0, View(report + " --format svg --weight time", dir + "/flame_time.svg"), true);
  }
  {
    SCOPED_TRACE("--format svg --root " + scope_path);
    ExpectFlame(p, scope, View(report + " --format svg" + root_arg, dir + "/flame_root.svg"), false);
  }
  for (uint32_t s : {uint32_t{0}, scope}) {
    SCOPED_TRACE("module graph of '" + p.nodes[s].path + "'");
    const std::string arg = s == 0 ? "" : root_arg;
    ExpectDot(p, s, View(report + " --format dot" + arg, dir + "/graph.dot"));
    ExpectGraphSvg(p, s, View(report + " --format graph-svg" + arg, dir + "/graph.svg"));
  }
  {
    SCOPED_TRACE("--all-scopes --format dot --depth 1");
    const std::string out = dir + "/graphs";
    CliRun r = Sh(report + " --all-scopes --format dot --depth 1 -o " + out);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto children = p.Children();
    size_t want = 0;
    for (uint32_t id : children[0]) want += !children[id].empty();
    want += 1;  // the root's own graph
    size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(out)) {
      Agraph_t* g = agmemread(Slurp(entry.path()).c_str());
      EXPECT_NE(g, nullptr) << entry.path();
      if (g != nullptr) {
        const int64_t id = p.Find(agnameof(g) == std::string("(root)") ? "" : agnameof(g));
        EXPECT_GE(id, 0) << agnameof(g);
        if (id >= 0) EXPECT_EQ(static_cast<size_t>(agnnodes(g)), children[id].size()) << agnameof(g);
        agclose(g);
      }
      ++files;
    }
    EXPECT_EQ(files, want);
  }
  {
    SCOPED_TRACE("--chart top");
    ExpectTopChart(p, 10, View(report + " --format svg --chart top --top 10", dir + "/top.svg"));
  }
  {
    SCOPED_TRACE("--chart power (the window)");
    ExpectPowerChart(p, p.meta.window_start_ns, p.meta.window_end_ns,
                     View(report + " --format svg --chart power", dir + "/power.svg"));
  }
  if (!p.timeline.steps.empty()) {
    // --step takes the number the trace gives the step (ProfilerStep#101 → 101).
    const std::string& name = p.timeline.steps.front().name;
    size_t digits = name.size();
    while (digits > 0 && std::isdigit(static_cast<unsigned char>(name[digits - 1]))) --digits;
    ASSERT_LT(digits, name.size()) << "a step name without its number: " << name;
    const std::string number = name.substr(digits);
    SCOPED_TRACE("--chart power --step " + number + " (" + name + ")");
    int64_t t0 = INT64_MAX, t1 = INT64_MIN;
    for (const TimelineEvent& e : p.timeline.events)
      if (e.step == 0) {
        t0 = std::min(t0, e.start_ns);
        t1 = std::max(t1, e.end_ns);
      }
    if (t0 < t1)
      ExpectPowerChart(p, t0, t1,
                       View(report + " --format svg --chart power --step " + number,
                            dir + "/power_step.svg"));
    // A number no step has: bad input, naming the steps there are.
    CliRun none = Sh(report + " --format svg --chart power --step 999999 -o " + dir + "/none.svg");
    EXPECT_EQ(none.status, 2);
    EXPECT_NE(none.err.find("no step 999999"), std::string::npos) << none.err;
    EXPECT_NE(none.err.find(name), std::string::npos) << none.err;
  }
  {
    SCOPED_TRACE("--chart phases");
    ExpectPhaseChart({&p}, View(report + " --format svg --chart phases", dir + "/phases.svg"));
  }
  {
    SCOPED_TRACE("--format html");
    ExpectHtml(p, 0, View(report + " --format html", dir + "/report.html"));
  }
  {
    SCOPED_TRACE("--format html --root " + scope_path);
    ExpectHtml(p, scope, View(report + " --format html" + root_arg, dir + "/report_root.html"));
  }
  if (!HasFailure()) std::filesystem::remove_all(dir);  // else kept to look at
}

INSTANTIATE_TEST_SUITE_P(
    Profiles, FormatsTest,
    ::testing::Values(
        Case{"pt2_bert_small", "pt2_bert-small_h100_inference.pt.trace.json.gz", "", nullptr},
        Case{"pt2_resnet_ddp", "pt2_resnet_ddp_train_v100_2024.pt.trace.json.gz", "", nullptr},
        Case{"tf1_matmul", "tf1_timeline_gpu_matmul_2017.json", "", nullptr},
        // Relative timestamps: simulate puts the trace's time 0 at 1000 s.
        Case{"tf2_bert_base", "tf2_bert-base-uncased_cpu_2021.trace.json.gz",
             "--trace-start-ns 1000000000000", nullptr},
        Case{"demo_pretrain", nullptr, nullptr, "demo/bert-tiny_pretrain.profile.json.gz"},
        Case{"demo_predict", nullptr, nullptr, "demo/bert-tiny_predict.profile.json.gz"}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// ---- diff: two demo profiles, pre-training against prediction ----

const std::string kPretrain = kData + "/demo/bert-tiny_pretrain.profile.json.gz";
const std::string kPredict = kData + "/demo/bert-tiny_predict.profile.json.gz";

// Module energies as the module bars chart takes them: each node two levels
// below the root, or a branch that ends above.
std::map<std::string, double> ModulesAtDepth(const Profile& p, int depth) {
  const auto children = p.Children();
  std::vector<int> level(p.nodes.size(), 0);
  std::map<std::string, double> out;
  for (size_t i = 1; i < p.nodes.size(); ++i) {
    level[i] = level[static_cast<size_t>(p.nodes[i].parent)] + 1;
    if (level[i] == depth || (level[i] < depth && children[i].empty()))
      out[p.nodes[i].path] += p.nodes[i].TotalJ();
  }
  return out;
}

// The module bars chart of two profiles: the 20 largest modules, each with a
// bar per profile holding its energy there (0 where it has no such module).
void ExpectModuleBars(const Profile& a, const Profile& b, const std::vector<std::string>& names,
                      const std::string& svg_text) {
  XmlElement svg;
  std::string error;
  ASSERT_TRUE(ParseXml(svg_text, svg, error)) << error;
  const auto a_j = ModulesAtDepth(a, 2), b_j = ModulesAtDepth(b, 2);
  auto j_of = [](const std::map<std::string, double>& m, const std::string& path) {
    auto it = m.find(path);
    return it == m.end() ? 0.0 : it->second;
  };
  std::vector<std::pair<double, std::string>> by_size;
  std::set<std::string> all;
  for (const auto& [path, j] : a_j) all.insert(path);
  for (const auto& [path, j] : b_j) all.insert(path);
  for (const std::string& path : all) {
    const double m = std::max(j_of(a_j, path), j_of(b_j, path));
    if (m > 0) by_size.push_back({-m, path});
  }
  std::sort(by_size.begin(), by_size.end());
  const auto modules = svg.FindAll([](const XmlElement& e) { return e.HasClass("module"); });
  ASSERT_EQ(modules.size(), std::min<size_t>(by_size.size(), 20));
  for (size_t i = 0; i < modules.size(); ++i) {
    const std::string& path = by_size[i].second;
    EXPECT_EQ(*modules[i]->Attr("data-path"), path) << "row " << i;
    const auto rects = modules[i]->FindAll("rect");
    ASSERT_EQ(rects.size(), 2u) << path;
    EXPECT_EQ(*rects[0]->Attr("data-profile"), names[0]);
    EXPECT_EQ(*rects[1]->Attr("data-profile"), names[1]);
    EXPECT_EQ(rects[0]->Num("data-energy-j"), j_of(a_j, path)) << path;
    EXPECT_EQ(rects[1]->Num("data-energy-j"), j_of(b_j, path)) << path;
  }
}

TEST(FormatsDiffTest, ModuleBarsAndHtmlOfTwoDemoProfiles) {
  auto a = ReadProfileJson(kPretrain);
  auto b = ReadProfileJson(kPredict);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string dir = ::testing::TempDir() + "/formats_diff_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);

  // diff --format svg: per module (depth 2), A's bar beside B's with their
  // energies, named by the files' base names.
  const std::string bars_svg = View("diff " + kPretrain + " " + kPredict + " --format svg",
                                    dir + "/modules.svg");
  {
    SCOPED_TRACE("diff --format svg");
    ExpectModuleBars(*a, *b, {"bert-tiny_pretrain", "bert-tiny_predict"}, bars_svg);
  }

  // diff --format html: a row per matched or one-sided node with A's and B's
  // energy from the profiles, both flame graphs and the charts well-formed.
  const std::string html = View("diff " + kPretrain + " " + kPredict + " --format html",
                                dir + "/diff.html");
  dom::parser parser;
  simdjson::padded_string json(DataBlock(html));
  dom::element data;
  ASSERT_EQ(parser.parse(json).get(data), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(data["kind"].get_string()), "diff");
  size_t matched = 0, only_a = 0, only_b = 0;
  std::set<std::string> rows_matched, rows_only_a, rows_only_b;
  for (dom::element row : data["table"]["rows"].get_array()) {
    dom::array r = row.get_array();
    const std::string path(std::string_view(r.at(3).get_string()));
    const std::string_view status = r.at(10).get_string();
    const int64_t ia = a->Find(path), ib = b->Find(path);
    if (status == "matched") {
      ++matched;
      rows_matched.insert(path);
      ASSERT_TRUE(ia >= 0 && ib >= 0) << path;
      EXPECT_EQ(double(r.at(4).get_double()), a->nodes[static_cast<size_t>(ia)].TotalJ()) << path;
      EXPECT_EQ(double(r.at(5).get_double()), b->nodes[static_cast<size_t>(ib)].TotalJ()) << path;
    } else if (status == "only in A") {
      ++only_a;
      rows_only_a.insert(path);
      ASSERT_TRUE(ia >= 0 && ib < 0) << path;
      EXPECT_EQ(double(r.at(4).get_double()), a->nodes[static_cast<size_t>(ia)].TotalJ()) << path;
    } else {
      ++only_b;
      rows_only_b.insert(path);
      EXPECT_EQ(status, "only in B");
      ASSERT_TRUE(ia < 0 && ib >= 0) << path;
      EXPECT_EQ(double(r.at(5).get_double()), b->nodes[static_cast<size_t>(ib)].TotalJ()) << path;
    }
  }
  EXPECT_GT(matched, 10u) << "the encoder's layers are in both";
  EXPECT_GT(only_a, 0u) << "pre-training has heads and an optimizer that prediction lacks";
  // Every node of either profile is in the table: matched, or listed as (or
  // under) a one-sided subtree's top.
  auto listed = [](const std::string& path, const std::set<std::string>& matched_rows,
                   const std::set<std::string>& one_sided) {
    if (matched_rows.count(path)) return true;
    for (std::string p = path; !p.empty(); p = ParentOf(p))
      if (one_sided.count(p)) return true;
    return false;
  };
  for (const ProfileNode& n : a->nodes)
    if (!n.path.empty()) EXPECT_TRUE(listed(n.path, rows_matched, rows_only_a)) << "A: " << n.path;
  for (const ProfileNode& n : b->nodes)
    if (!n.path.empty()) EXPECT_TRUE(listed(n.path, rows_matched, rows_only_b)) << "B: " << n.path;

  dom::array flames = data["flames"].get_array();
  ASSERT_EQ(flames.size(), 2u);
  size_t k = 0;
  for (dom::element f : flames) {
    SCOPED_TRACE(k == 0 ? "flame graph A" : "flame graph B");
    ExpectFlame(k == 0 ? *a : *b, 0, std::string(std::string_view(f["svg"].get_string())), false);
    ++k;
  }
  k = 0;
  for (dom::element c : data["charts"].get_array()) {
    const std::string chart(std::string_view(c["svg"].get_string()));
    if (k == 0) {
      SCOPED_TRACE("module bars A beside B");
      ExpectModuleBars(*a, *b, {"A: bert-tiny_pretrain", "B: bert-tiny_predict"}, chart);
    } else {
      SCOPED_TRACE("phase chart A beside B");
      ExpectPhaseChart({&*a, &*b}, chart);
    }
    ++k;
  }
  EXPECT_EQ(k, 2u);
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smaragdine
