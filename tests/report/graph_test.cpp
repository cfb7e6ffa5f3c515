// Module graphs: `report --format dot|graph-svg --root PATH` and --all-scopes.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "report/graph_xml.h"
#include "report/sample_profile.h"
#include "smaragdine/report.h"
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
