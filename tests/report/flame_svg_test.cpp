// The energy flame graph (report --format svg): well-formed SVG, one frame per
// node with energy, widths proportional to energy, tooltips that say what
// profile.json says, (idle) and (other processes) at the root level.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "report/golden_util.h"
#include "report/sample_profile.h"
#include "report/svg_xml_util.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

using testing::ExpectGolden;
using testing::ParseXml;
using testing::SmallBert;
using testing::XmlElement;

struct FlameDoc {
  XmlElement root;
  double frames_x = 0, frames_w = 0;
  std::map<std::string, const XmlElement*> frames;  // by data-key
};

// Parses the SVG (failing the test when it is not well-formed XML).
void Parse(const std::string& svg, FlameDoc& doc) {
  std::string error;
  ASSERT_TRUE(ParseXml(svg, doc.root, error)) << error;
  ASSERT_EQ(doc.root.tag, "svg");
  const XmlElement* box = nullptr;
  for (const XmlElement* g : doc.root.FindAll("g"))
    if (g->HasClass("frames")) box = g;
  ASSERT_NE(box, nullptr);
  doc.frames_x = box->Num("data-x");
  doc.frames_w = box->Num("data-width");
  for (const XmlElement* g : box->FindAll([](const XmlElement& e) { return e.HasClass("fr"); })) {
    ASSERT_NE(g->Attr("data-key"), nullptr);
    EXPECT_TRUE(doc.frames.emplace(*g->Attr("data-key"), g).second)
        << "two frames for " << *g->Attr("data-key");
  }
}

const XmlElement& Rect(const XmlElement& frame) { return *frame.First("rect"); }
std::string Tooltip(const XmlElement& frame) { return frame.First("title")->TextContent(); }

// The profile as account writes it and report reads it.
Profile RoundTrip(const Profile& p) {
  auto back = ParseProfileJson("profile.json", ProfileToJson(p));
  EXPECT_TRUE(back.ok());
  return *back;
}

TEST(FlameSvgTest, EveryNodeWithEnergyIsAFrameWithItsShareOfTheWidth) {
  const Profile p = RoundTrip(SmallBert());
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderFlameSvg(p, 0, FlameOptions{}), doc));
  // The top frame is the window's measured energy: nodes plus idle.
  ASSERT_TRUE(doc.frames.count(""));
  const double measured_j = p.MeasuredJ();
  EXPECT_DOUBLE_EQ(doc.frames[""]->Num("data-energy-j"), measured_j);
  EXPECT_NEAR(Rect(*doc.frames[""]).Num("width"), doc.frames_w, 1e-3);
  size_t nodes_with_energy = 0;
  for (const ProfileNode& n : p.nodes) {
    if (n.path.empty() || !(n.TotalJ() > 0)) continue;
    ++nodes_with_energy;
    ASSERT_TRUE(doc.frames.count(n.path)) << "no frame for " << n.path;
    const XmlElement& f = *doc.frames[n.path];
    // Width in proportion to the energy, to the 3 decimals a width is written with.
    EXPECT_NEAR(Rect(f).Num("width"), doc.frames_w * n.TotalJ() / measured_j, 6e-4) << n.path;
    // A child lies inside its parent, one row below.
    const std::string parent = p.nodes[static_cast<size_t>(n.parent)].path;
    const XmlElement& pf = *doc.frames[parent];
    EXPECT_GE(Rect(f).Num("x") + 0.01, Rect(pf).Num("x")) << n.path;
    EXPECT_LE(Rect(f).Num("x") + Rect(f).Num("width"),
              Rect(pf).Num("x") + Rect(pf).Num("width") + 0.01)
        << n.path;
    EXPECT_NEAR(Rect(f).Num("y") - Rect(pf).Num("y"), 18, 1e-9) << n.path;
  }
  // Nodes, the top frame, (idle) and its two domains: nothing else.
  EXPECT_EQ(doc.frames.size(), nodes_with_energy + 1 + 3);
}

TEST(FlameSvgTest, TooltipsSayTheEnergySharePowerTimeAndCallsOfProfileJson) {
  const Profile p = RoundTrip(SmallBert());
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderFlameSvg(p, 0, FlameOptions{}), doc));
  const ProfileNode& mm = p.nodes[p.Find("bert/encoder/layer_1/intermediate/dense/MatMul")];
  const XmlElement& f = *doc.frames[mm.path];
  EXPECT_EQ(std::strtod(f.Attr("data-energy-j")->c_str(), nullptr), mm.TotalJ());
  // 0.84375 + 6.75 J of 57.6875 J measured (45.6875 J in nodes, 12 J idle), 12 ms, 3 calls.
  EXPECT_EQ(Tooltip(f),
            "bert/encoder/layer_1/intermediate/dense/MatMul\n"
            "energy: 7.594 J (13.16 % of the window)\n"
            "power: 632.8 W\n"
            "time: 12.00 ms\n"
            "calls: 3\n"
            "kind: op");
  EXPECT_EQ(Tooltip(*doc.frames["(idle)"]),
            "(idle)\nenergy: 12.00 J (20.80 % of the window)\npower: n/a (no busy time)\nkind: idle");
  EXPECT_NE(Tooltip(*doc.frames["(idle)/gpu:0"]).find("energy: 8.000 J"), std::string::npos);
  // Every node's tooltip starts with its path and its energy as the table prints it.
  for (const ProfileNode& n : p.nodes) {
    if (n.path.empty() || !(n.TotalJ() > 0)) continue;
    std::string tip = Tooltip(*doc.frames[n.path]);
    std::istringstream lines(tip);
    std::string path, energy;
    std::getline(lines, path);
    std::getline(lines, energy);
    EXPECT_EQ(path, n.path);
    double shown_j = std::strtod(energy.c_str() + std::string("energy: ").size(), nullptr);
    EXPECT_NEAR(shown_j, n.TotalJ(), n.TotalJ() * 5e-4) << tip;
  }
}

TEST(FlameSvgTest, OtherProcessesGetAFramePerDomainBesideIdle) {
  Profile p = SmallBert();
  p.domains[0].other_j = 3;  // a process share split off the CPU package
  p.domains[0].measured_j += 3;
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderFlameSvg(p, 0, FlameOptions{}), doc));
  ASSERT_TRUE(doc.frames.count("(other processes)"));
  EXPECT_TRUE(doc.frames.count("(other processes)/cpu:0/package"));
  EXPECT_FALSE(doc.frames.count("(other processes)/gpu:0")) << "no share on the GPU";
  EXPECT_DOUBLE_EQ(doc.frames["(other processes)"]->Num("data-energy-j"), 3);
  // Conservation: the top frame is nodes + idle + other = measured.
  EXPECT_DOUBLE_EQ(doc.frames[""]->Num("data-energy-j"), p.MeasuredJ());
  // The root-level frames tile the top frame.
  double sum_px = 0;
  for (const auto& [key, f] : doc.frames)
    if (f->Num("data-depth") == 1) sum_px += Rect(*f).Num("width");
  EXPECT_NEAR(sum_px, doc.frames_w, 0.01);
}

TEST(FlameSvgTest, RootOptionMakesTheSubtreeTheWholeWidth) {
  ReportOptions o;
  o.format = ReportFormat::kSvg;
  o.root = "bert/encoder";
  auto svg = RenderReport(SmallBert(), o);
  ASSERT_TRUE(svg.ok());
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(*svg, doc));
  ASSERT_TRUE(doc.frames.count("bert/encoder"));
  EXPECT_NEAR(Rect(*doc.frames["bert/encoder"]).Num("width"), doc.frames_w, 1e-3);
  for (const auto& [key, f] : doc.frames)
    EXPECT_EQ(key.rfind("bert/encoder", 0), 0u) << key << " is outside --root";
  EXPECT_NE(Tooltip(*doc.frames["bert/encoder/layer_0"]).find("% of bert/encoder"),
            std::string::npos);
}

TEST(FlameSvgTest, WeightTimeSizesFramesByBusyTime) {
  const Profile p = SmallBert();
  FlameOptions o;
  o.weight = FlameWeight::kTime;
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderFlameSvg(p, 0, o), doc));
  EXPECT_FALSE(doc.frames.count("(idle)")) << "idle energy has no time";
  const double root_ns = static_cast<double>(p.nodes[0].time_ns);
  for (const char* path : {"bert", "optimizer/Adam", "bert/encoder/layer_0/output/dense/MatMul"}) {
    const ProfileNode& n = p.nodes[p.Find(path)];
    EXPECT_NEAR(Rect(*doc.frames[path]).Num("width"), doc.frames_w * n.time_ns / root_ns, 6e-4)
        << path;
  }
}

TEST(FlameSvgTest, WeightTimeSqueezesChildrenWhoseTimesExceedTheParent) {
  // Two children that ran concurrently on two lanes: 10 ms each under a 10 ms parent.
  Profile p = SmallBert();
  for (ProfileNode& n : p.nodes)
    if (n.path == "bert/embeddings") n.time_ns = 1000000;  // its children hold 3 ms
  FlameOptions o;
  o.weight = FlameWeight::kTime;
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderFlameSvg(p, 0, o), doc));
  const double parent_px = Rect(*doc.frames["bert/embeddings"]).Num("width");
  const double kids_px = Rect(*doc.frames["bert/embeddings/word_embeddings"]).Num("width") +
                         Rect(*doc.frames["bert/embeddings/LayerNorm"]).Num("width");
  EXPECT_NEAR(kids_px, parent_px, 2e-3);
}

TEST(FlameSvgTest, DepthLimitDropsDeeperFrames) {
  FlameOptions o;
  o.depth = 2;
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderFlameSvg(SmallBert(), 0, o), doc));
  EXPECT_TRUE(doc.frames.count("bert/encoder"));
  EXPECT_FALSE(doc.frames.count("bert/encoder/layer_0"));
  for (const auto& [key, f] : doc.frames) EXPECT_LE(f->Num("data-depth"), 2) << key;
}

TEST(FlameSvgTest, NamesWithMarkupCharactersStayWellFormed) {
  testing::SampleBuilder b({"cpu:0/package"});
  b.Leaf("model/<lambda> & \"quoted\" 'op'/MatMul", {1.0}, 1000000, 1);
  b.Leaf("model/ctrl\x01" "char", {0.5}, 1000000, 1);
  Profile p = b.Finish({0.25}, false);
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderFlameSvg(p, 0, FlameOptions{}), doc));
  EXPECT_TRUE(doc.frames.count("model/<lambda> & \"quoted\" 'op'/MatMul"));
  EXPECT_TRUE(doc.frames.count("model/ctrlchar")) << "control characters are dropped";
}

TEST(FlameSvgTest, ScriptZoomsAndSearchesWithinItsOwnSvg) {
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderFlameSvg(SmallBert(), 0, FlameOptions{}), doc));
  const XmlElement* script = doc.root.First("script");
  ASSERT_NE(script, nullptr);
  const std::string js = script->TextContent();
  EXPECT_NE(js.find("closest('svg')"), std::string::npos) << "scoped, so it can be inlined";
  EXPECT_NE(js.find("addEventListener('click'"), std::string::npos);
  EXPECT_NE(js.find("new RegExp"), std::string::npos);
  EXPECT_EQ(js.find("http"), std::string::npos) << "no network";
  // The buttons the script drives exist.
  auto has = [&](const char* cls) {
    return !doc.root.FindAll([&](const XmlElement& e) { return e.HasClass(cls); }).empty();
  };
  EXPECT_TRUE(has("unzoom") && has("search") && has("details") && has("matched"));
}

TEST(FlameSvgTest, GoldenSmallBert) {
  ExpectGolden("flame_small_bert.svg", RenderFlameSvg(SmallBert(), 0, FlameOptions{}));
}

// The CLI: report --format svg writes the file; --weight is checked.
int RunCli(const std::string& args) {
  std::string cmd = std::string(SMARAGDINE_BINARY) + " " + args + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(FlameSvgTest, CliWritesTheFlameGraph) {
  const std::string profile = std::string(SMARAGDINE_TEST_DATA) + "/profiles/bert_small.json";
  const std::string out = ::testing::TempDir() + "/flame_cli.svg";
  ASSERT_EQ(RunCli("report " + profile + " --format svg --weight time -o " + out), 0);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  FlameDoc doc;
  ASSERT_NO_FATAL_FAILURE(Parse(text.str(), doc));
  EXPECT_GT(doc.frames.size(), 10u);
  EXPECT_EQ(RunCli("report " + profile + " --format svg --weight joules"), 1);
}

}  // namespace
}  // namespace smaragdine
