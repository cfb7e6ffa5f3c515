// Module graphs: `report --format dot|graph-svg --root PATH` and --all-scopes.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "report/sample_profile.h"
#include "report/svg_xml_util.h"
#include "smaragdine/account.h"
#include "smaragdine/report.h"
#include "smaragdine/simulate.h"
#include "smaragdine/trace.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

using testing::CountOf;
using testing::SmallBert;
using testing::XmlProblem;

struct DotNode {
  std::string name;    // first label line
  std::string share;   // "12.3 %"
  std::string energy;  // "1.234 J"
  std::string line;    // the whole statement
};

// The node statements of a DOT text, by node id ("n12"); labels as RenderDot
// writes them: "name\nSHARE  ENERGY J".
std::map<std::string, DotNode> DotNodes(const std::string& dot) {
  std::map<std::string, DotNode> nodes;
  static const std::regex re(
      R"re(^  (n\d+) \[label="((?:[^"\\]|\\.)*)\\n([^"]*?)  ([^"]*? J)",)re");
  std::istringstream in(dot);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) nodes[m[1]] = {m[2], m[3], m[4], line};
  }
  return nodes;
}

std::set<std::pair<std::string, std::string>> DotEdges(const std::string& dot) {
  std::set<std::pair<std::string, std::string>> edges;
  static const std::regex re(R"(^  (n\d+) -> (n\d+))");
  std::istringstream in(dot);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) edges.insert({m[1], m[2]});
  }
  return edges;
}

std::string Id(const Profile& p, const std::string& path) {
  return "n" + std::to_string(p.Find(path));
}

TEST(GraphTest, DotHasEveryChildWithItsShareOfTheScope) {
  const Profile p = SmallBert();
  const uint32_t scope = static_cast<uint32_t>(p.Find("bert/encoder/layer_1"));
  const std::string dot = RenderDot(p, scope);
  EXPECT_EQ(dot.rfind("digraph \"bert/encoder/layer_1\" {", 0), 0u) << dot;
  const auto nodes = DotNodes(dot);
  const double scope_j = p.nodes[scope].TotalJ();
  // attention 0.25·1.125+… : computed from the leaves, independently of the renderer.
  const std::map<std::string, double> expected_j = {
      {"attention", 1.125 * (0.5 + 4.0 + 0.25 + 1.5 + 0.75)},
      {"intermediate", 1.125 * (0.75 + 6.0)},
      {"output", 1.125 * (0.75 + 5.5)}};
  ASSERT_EQ(nodes.size(), expected_j.size()) << dot;
  double share_sum = 0;
  for (const auto& [name, j] : expected_j) {
    const std::string id = Id(p, "bert/encoder/layer_1/" + name);
    ASSERT_TRUE(nodes.count(id)) << name << "\n" << dot;
    const DotNode& n = nodes.at(id);
    EXPECT_EQ(n.name, name);
    EXPECT_NEAR(p.nodes[p.Find("bert/encoder/layer_1/" + name)].TotalJ(), j, 1e-12);
    EXPECT_EQ(n.share, fmt::format("{:.1f} %", 100 * j / scope_j)) << n.line;
    share_sum += std::stod(n.share);
  }
  EXPECT_NEAR(share_sum, 100, 0.15) << "the children hold all of the scope's energy";
  // The largest child (attention, 7·1.125 J) is the darkest, with white text;
  // the others are lighter.
  const std::string& attention = nodes.at(Id(p, "bert/encoder/layer_1/attention")).line;
  EXPECT_NE(attention.find("fillcolor=\"#cc3700\", fontcolor=\"#ffffff\""), std::string::npos)
      << attention;
  EXPECT_EQ(nodes.at(Id(p, "bert/encoder/layer_1/output")).line.find("#cc3700"), std::string::npos);
  EXPECT_NE(dot.find("edges: order of first appearance"), std::string::npos);
}

TEST(GraphTest, WithoutTimelineEdgesChainChildrenInProfileOrder) {
  const Profile p = SmallBert();
  const std::string dot = RenderDot(p, 0);
  EXPECT_EQ(DotNodes(dot).size(), 3u) << "bert, loss, optimizer";
  const std::set<std::pair<std::string, std::string>> expected = {
      {Id(p, "bert"), Id(p, "loss")}, {Id(p, "loss"), Id(p, "optimizer")}};
  EXPECT_EQ(DotEdges(dot), expected) << dot;
  EXPECT_NE(dot.find("digraph \"(root)\""), std::string::npos);
}

TEST(GraphTest, TimelineGivesExecutionOrderAndTransitions) {
  Profile p = SmallBert();
  const std::string l = "bert/encoder/layer_0/";
  auto node = [&](const std::string& path) { return static_cast<uint32_t>(p.Find(path)); };
  p.timeline.lanes = {Lane{"CPU:0", "thread 1"}, Lane{"GPU:0", "stream 7"}};
  auto add = [&](uint32_t lane, const std::string& path, int64_t start_ns, int64_t end_ns) {
    TimelineEvent e;
    e.lane = lane;
    e.node = node(path);
    e.start_ns = start_ns;
    e.end_ns = end_ns;
    p.timeline.events.push_back(e);
  };
  // Two steps on the CPU lane: output runs first, then attention, then
  // intermediate; an op of another scope in between is not a transition.
  add(0, l + "output/dense/MatMul", 0, 10);
  add(0, "bert/embeddings/LayerNorm", 10, 12);
  add(0, l + "attention/self/Softmax", 12, 20);
  add(0, l + "attention/self/query/MatMul", 20, 25);
  add(0, l + "intermediate/dense/MatMul", 25, 30);
  add(0, l + "output/dense/MatMul", 100, 110);
  add(0, l + "attention/self/Softmax", 110, 120);
  // The GPU lane starts afresh: its first kernel is no transition from the CPU's last op.
  add(1, l + "attention/self/Softmax/softmax_kernel", 13, 15);
  const std::string dot = RenderDot(p, node("bert/encoder/layer_0"));
  const std::string out = Id(p, l + "output"), att = Id(p, l + "attention"),
                    mid = Id(p, l + "intermediate");
  const std::set<std::pair<std::string, std::string>> expected = {
      {out, att}, {att, mid}, {mid, out}};
  EXPECT_EQ(DotEdges(dot), expected) << dot;
  // output → attention happened in both steps; intermediate → output goes back
  // to an earlier child and must not pull the layout upwards.
  EXPECT_NE(dot.find("  " + out + " -> " + att + " [label=\"×2\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("  " + mid + " -> " + out + " [style=dashed, constraint=false]"),
            std::string::npos)
      << dot;
  // Nodes are written in execution order.
  EXPECT_LT(dot.find("  " + out + " ["), dot.find("  " + att + " ["));
  EXPECT_LT(dot.find("  " + att + " ["), dot.find("  " + mid + " ["));
  EXPECT_NE(dot.find("edges: execution order on the timeline"), std::string::npos);
  // The same events in another order make the same graph.
  std::reverse(p.timeline.events.begin(), p.timeline.events.end());
  EXPECT_EQ(RenderDot(p, node("bert/encoder/layer_0")), dot);
}

TEST(GraphTest, GraphSvgIsWellFormedWithOneNodeGroupPerChild) {
  const Profile p = SmallBert();
  for (const std::string& path : {"", "bert", "bert/encoder/layer_0/attention/self"}) {
    const int64_t scope = p.Find(path);
    ASSERT_GE(scope, 0);
    auto svg = RenderGraphSvg(p, static_cast<uint32_t>(scope));
    ASSERT_TRUE(svg.ok()) << svg.error().message;
    EXPECT_EQ(XmlProblem(*svg), "") << path;
    const std::vector<uint32_t> children = p.Children()[scope];
    EXPECT_EQ(CountOf(*svg, "<g id=\"node"), children.size()) << path;
    EXPECT_EQ(CountOf(*svg, "class=\"node\""), children.size()) << path;
    for (uint32_t c : children)
      EXPECT_NE(svg->find(">" + p.nodes[c].name + "</text>"), std::string::npos) << p.nodes[c].name;
  }
}

TEST(GraphTest, NamesWithQuotesAndBackslashesSurviveGraphviz) {
  testing::SampleBuilder b({"cpu:0/package"});
  b.Leaf("model/say \"hi\"", {1}, 1000, 1).Leaf("model/back\\slash", {3}, 1000, 1);
  const Profile p = b.Finish({0}, false);
  const std::string dot = RenderDot(p, static_cast<uint32_t>(p.Find("model")));
  EXPECT_NE(dot.find(R"(label="say \"hi\"\n25.0 %  1.000 J")"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(label="back\\slash\n75.0 %  3.000 J")"), std::string::npos) << dot;
  auto svg = RenderGraphSvg(p, static_cast<uint32_t>(p.Find("model")));
  ASSERT_TRUE(svg.ok()) << svg.error().message;
  EXPECT_EQ(XmlProblem(*svg), "");
  EXPECT_NE(svg->find("say &quot;hi&quot;"), std::string::npos) << *svg;
  EXPECT_NE(svg->find("back\\slash"), std::string::npos) << *svg;
}

TEST(GraphTest, RenderReportDrawsTheFoldedRoot) {
  ReportOptions o;
  o.format = ReportFormat::kDot;
  o.root = "bert/encoder";
  o.rules.push_back(*ParseFoldRule(R"(layer_\d+)"));
  auto dot = RenderReport(SmallBert(), o);
  ASSERT_TRUE(dot.ok()) << dot.error().message;
  const auto nodes = DotNodes(*dot);
  ASSERT_EQ(nodes.size(), 1u) << *dot;
  EXPECT_EQ(nodes.begin()->second.name, "layer_*");
  EXPECT_EQ(nodes.begin()->second.share, "100.0 %");
}

TEST(GraphTest, AllScopesWritesOneGraphPerScopeDownToTheDepth) {
  ReportOptions o;
  o.format = ReportFormat::kDot;
  o.depth = 1;
  auto files = RenderAllScopeGraphs(SmallBert(), o);
  ASSERT_TRUE(files.ok()) << files.error().message;
  std::vector<std::string> names;
  for (const GraphFile& f : *files) names.push_back(f.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"_root.dot", "bert.dot", "loss.dot", "optimizer.dot"}));
  EXPECT_EQ(DotNodes((*files)[1].text).size(), 3u) << "embeddings, encoder, pooler";

  o.root = "bert/encoder";
  o.depth = 2;
  o.format = ReportFormat::kGraphSvg;
  files = RenderAllScopeGraphs(SmallBert(), o);
  ASSERT_TRUE(files.ok()) << files.error().message;
  names.clear();
  for (const GraphFile& f : *files) {
    names.push_back(f.name);
    EXPECT_EQ(XmlProblem(f.text), "") << f.name;
  }
  EXPECT_EQ(
      names,
      (std::vector<std::string>{
          "bert~encoder.svg", "bert~encoder~layer_0.svg", "bert~encoder~layer_0~attention.svg",
          "bert~encoder~layer_0~intermediate.svg", "bert~encoder~layer_0~output.svg",
          "bert~encoder~layer_1.svg", "bert~encoder~layer_1~attention.svg",
          "bert~encoder~layer_1~intermediate.svg", "bert~encoder~layer_1~output.svg"}));
  EXPECT_EQ((*files)[2].scope_path, "bert/encoder/layer_0/attention");

  o.root = "encoder";
  files = RenderAllScopeGraphs(SmallBert(), o);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().message.find("did you mean 'bert/encoder'"), std::string::npos)
      << files.error().message;
  o.root = "";
  o.format = ReportFormat::kCsv;
  EXPECT_EQ(RenderAllScopeGraphs(SmallBert(), o).error().code, ErrorCode::kUsage);
}

// ---- data flow (TF1 inputN) ----

// A TF1 trace accounted against simulated energy, as `account` would.
Result<Profile> AccountTf1(const std::string& json, bool keep_timeline) {
  SMG_ASSIGN_OR_RETURN(Trace trace, ParseTrace("diamond.json", json, TraceReadOptions{}));
  SMG_ASSIGN_OR_RETURN(SimResult sim, SimulateEnergyForTrace(trace, TraceEnergyOptions{}));
  SMG_ASSIGN_OR_RETURN(EnergyLog log, SimulatedEnergyLog(sim));
  SMG_RETURN_IF_ERROR(AlignTrace(trace, log, AlignOptions{}));
  AttributeOptions options;
  options.keep_timeline = keep_timeline;
  return Attribute(trace, log, options);
}

// a feeds b and, through its output 1, c; b and c feed d. c also waits for b
// by a control dependency, which carries no data: no edge. `prefix(x)` puts
// node x under a scope.
std::string DiamondTrace(const std::function<std::string(const std::string&)>& prefix) {
  auto ev = [&](int ts, const std::string& name, const std::string& op, const std::string& args) {
    return fmt::format(
        R"(,{{"ph":"X","pid":1,"tid":0,"name":"{}","ts":{},"dur":2,"args":{{"name":"{}","op":"{}"{}}}}})",
        op, ts, prefix(name), op, args);
  };
  return R"({"traceEvents":[{"ph":"M","pid":1,"name":"process_name","args":{"name":"/job:localhost/replica:0/task:0/cpu:0 Compute"}})" +
         ev(10, "a", "Split", "") +
         ev(20, "b", "Relu", fmt::format(R"(,"input0":"{}")", prefix("a"))) +
         ev(30, "c", "Tanh",
            fmt::format(R"(,"input0":"{}:1","input1":"^{}")", prefix("a"), prefix("b"))) +
         ev(40, "d", "Add",
            fmt::format(R"(,"input0":"{}","input1":"{}:0")", prefix("b"), prefix("c"))) +
         "]}";
}

TEST(GraphDataflowTest, DiamondGivesExactlyItsEdges) {
  const std::string json = DiamondTrace([](const std::string& x) { return x; });
  for (bool timeline : {false, true}) {
    SCOPED_TRACE(timeline ? "with timeline" : "without timeline");
    auto p = AccountTf1(json, timeline);
    ASSERT_TRUE(p.ok()) << p.error().ToString();
    const std::string dot = RenderDot(*p, 0);
    const std::set<std::pair<std::string, std::string>> expected = {
        {Id(*p, "a"), Id(*p, "b")},
        {Id(*p, "a"), Id(*p, "c")},
        {Id(*p, "b"), Id(*p, "d")},
        {Id(*p, "c"), Id(*p, "d")}};
    EXPECT_EQ(DotEdges(dot), expected) << dot;
    EXPECT_EQ(dot.find("label=\"×"), std::string::npos) << "each edge is one pair: " << dot;
    EXPECT_NE(dot.find("edges: data flow (A → B: an op under A feeds an op under B"),
              std::string::npos)
        << dot;
    // profile.json keeps the edges: `report` draws the same graph from the file.
    auto back = ParseProfileJson("diamond.profile.json", ProfileToJson(*p));
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(RenderDot(*back, 0), dot);
  }
}

TEST(GraphDataflowTest, ScopesGetTheEdgesOfTheOpsUnderThemWeightedByPairs) {
  // a, b under s1; c, d under s2: s1 → s2 stands for a → c and b → d.
  const std::string json = DiamondTrace([](const std::string& x) {
    return (x == "a" || x == "b" ? "s1/" : "s2/") + x;
  });
  auto p = AccountTf1(json, false);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  const std::string root = RenderDot(*p, 0);
  EXPECT_EQ(DotEdges(root), (std::set<std::pair<std::string, std::string>>{
                                {Id(*p, "s1"), Id(*p, "s2")}}))
      << root;
  EXPECT_NE(root.find("  " + Id(*p, "s1") + " -> " + Id(*p, "s2") + " [label=\"×2\""),
            std::string::npos)
      << root;
  // Inside a scope only the edges between its children: a → c leaves s1.
  const std::string s1 = RenderDot(*p, static_cast<uint32_t>(p->Find("s1")));
  EXPECT_EQ(DotEdges(s1), (std::set<std::pair<std::string, std::string>>{
                              {Id(*p, "s1/a"), Id(*p, "s1/b")}}))
      << s1;

  // --all-scopes, --root and --depth (through the same resolution as report)
  // see the same edges.
  ReportOptions o;
  o.format = ReportFormat::kDot;
  auto files = RenderAllScopeGraphs(*p, o);
  ASSERT_TRUE(files.ok()) << files.error().ToString();
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].text, root);
  EXPECT_EQ((*files)[1].text, s1);
  o.root = "s2";
  auto s2 = RenderReport(*p, o);
  ASSERT_TRUE(s2.ok()) << s2.error().ToString();
  EXPECT_EQ(DotEdges(*s2), (std::set<std::pair<std::string, std::string>>{
                               {Id(*p, "s2/c"), Id(*p, "s2/d")}}))
      << *s2;
  // A subtree cut at depth 1 keeps the edges between the nodes that stand
  // for the ends; those inside one node go.
  const Profile cut = SubtreeProfile(*p, 0, 1);
  ASSERT_EQ(cut.dataflow.size(), 1u);
  EXPECT_EQ(cut.nodes[cut.dataflow[0].first].path, "s1");
  EXPECT_EQ(cut.nodes[cut.dataflow[0].second].path, "s2");
}

TEST(GraphDataflowTest, FoldingMergesEdgesOfMergedNodes) {
  // layer_0 feeds layer_1: folded into layer_*, a → b and a → c stay edges
  // between different nodes, merged ones counted once.
  const std::string json = DiamondTrace([](const std::string& x) {
    return (x == "a" || x == "b" ? "layer_0/" : "layer_1/") + x;
  });
  auto p = AccountTf1(json, false);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ReportOptions o;
  o.format = ReportFormat::kDot;
  o.root = "layer_*";
  o.rules.push_back(*ParseFoldRule(R"(layer_\d+)"));
  auto dot = RenderReport(*p, o);
  ASSERT_TRUE(dot.ok()) << dot.error().ToString();
  const auto nodes = DotNodes(*dot);
  ASSERT_EQ(nodes.size(), 4u) << *dot;
  std::map<std::string, std::string> id_of;
  for (const auto& [id, n] : nodes) id_of[n.name] = id;
  EXPECT_EQ(DotEdges(*dot), (std::set<std::pair<std::string, std::string>>{
                                {id_of["a"], id_of["b"]},
                                {id_of["a"], id_of["c"]},
                                {id_of["b"], id_of["d"]},
                                {id_of["c"], id_of["d"]}}))
      << *dot;
}

TEST(GraphDataflowTest, Tf1FixtureGraphsFollowItsInputs) {
  auto trace = ReadTraces({std::string(SMARAGDINE_TEST_DATA) +
                           "/fixtures/tf1_timeline_gpu_matmul_2017.json"},
                          {});
  ASSERT_TRUE(trace.ok()) << trace.error().ToString();
  auto sim = SimulateEnergyForTrace(*trace, TraceEnergyOptions{});
  ASSERT_TRUE(sim.ok()) << sim.error().ToString();
  auto log = SimulatedEnergyLog(*sim);
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_TRUE(AlignTrace(*trace, *log, AlignOptions{}).ok());
  auto p = Attribute(*trace, *log, AttributeOptions{});
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->dataflow.size(), 10u);
  const std::string root = RenderDot(*p, 0);
  EXPECT_EQ(DotEdges(root), (std::set<std::pair<std::string, std::string>>{
                                {Id(*p, "random_normal"), Id(*p, "MatMul")},
                                {Id(*p, "random_normal_1"), Id(*p, "MatMul")}}))
      << root;
  // Inside random_normal: shape → RandomStandardNormal → mul ← stddev; mul and
  // mean feed random_normal itself (the Add), which is the scope, not a child.
  const std::string rn = RenderDot(*p, static_cast<uint32_t>(p->Find("random_normal")));
  const std::string r = "random_normal/";
  EXPECT_EQ(DotEdges(rn), (std::set<std::pair<std::string, std::string>>{
                              {Id(*p, r + "shape"), Id(*p, r + "RandomStandardNormal")},
                              {Id(*p, r + "RandomStandardNormal"), Id(*p, r + "mul")},
                              {Id(*p, r + "stddev"), Id(*p, r + "mul")}}))
      << rn;
  // The HTML report's module graphs are these graphs.
  auto svg = RenderGraphSvg(*p, 0);
  ASSERT_TRUE(svg.ok()) << svg.error().ToString();
  EXPECT_NE(svg->find("edges: data flow"), std::string::npos);
}

// ---- the CLI ----

struct CliRun {
  int status = -1;
  std::string err;
};

CliRun RunCli(const std::string& args) {
  std::string err_file = ::testing::TempDir() + "/graph_cli.err";
  std::string cmd = std::string(SMARAGDINE_BINARY) + " " + args + " >/dev/null 2>" + err_file;
  int rc = std::system(cmd.c_str());
  std::ifstream in(err_file);
  std::stringstream s;
  s << in.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, s.str()};
}

const std::string kProfile = std::string(SMARAGDINE_TEST_DATA) + "/profiles/bert_small.json";

TEST(GraphCliTest, AllScopesWritesTheFilesIntoTheFolder) {
  const std::string dir = ::testing::TempDir() + "/graph_cli_all";
  std::filesystem::remove_all(dir);
  CliRun r = RunCli("report " + kProfile + " --all-scopes --depth 1 --format graph-svg -o " + dir);
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"_root.svg", "bert.svg", "loss.svg", "optimizer.svg"}));
  EXPECT_NE(r.err.find("wrote 4 module graphs to " + dir), std::string::npos) << r.err;
}

TEST(GraphCliTest, AllScopesNeedsAGraphFormatAndAFolder) {
  CliRun no_dir = RunCli("report " + kProfile + " --all-scopes --format dot");
  EXPECT_EQ(no_dir.status, 1);
  EXPECT_NE(no_dir.err.find("-o DIR"), std::string::npos) << no_dir.err;
  CliRun table = RunCli("report " + kProfile + " --all-scopes -o /tmp/unused");
  EXPECT_EQ(table.status, 1);
  EXPECT_NE(table.err.find("--format dot or --format graph-svg"), std::string::npos) << table.err;
  CliRun bad_root = RunCli("report " + kProfile + " --format dot --root bert/encodr");
  EXPECT_EQ(bad_root.status, 2);
  EXPECT_NE(bad_root.err.find("no node 'bert/encodr'"), std::string::npos) << bad_root.err;
}

}  // namespace
}  // namespace smaragdine
