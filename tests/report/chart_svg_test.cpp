// The SVG charts: top ops with 95 % intervals, power over a step with its
// phases, energy by phase, module bars for diff. Structural checks (valid XML,
// one bar per op/module/profile, labels with the profile's numbers) and a golden.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "report/cli_util.h"
#include "report/golden_util.h"
#include "report/sample_profile.h"
#include "report/svg_xml_util.h"
#include "report/text.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

using report_text::Sig4;
using testing::ExpectGolden;
using testing::ParseXml;
using testing::SmallBert;
using testing::XmlElement;

void Parse(const std::string& svg, XmlElement& root) {
  std::string error;
  ASSERT_FALSE(svg.empty());
  ASSERT_TRUE(ParseXml(svg, root, error)) << error;
  ASSERT_EQ(root.tag, "svg");
}

std::vector<const XmlElement*> WithClass(const XmlElement& root, const std::string& cls) {
  return root.FindAll([&](const XmlElement& e) { return e.HasClass(cls); });
}

// Every <text> of the document, for "the reader can see it" checks.
std::string AllText(const XmlElement& root) {
  std::string s;
  for (const XmlElement* t : root.FindAll("text")) s += t->TextContent() + "\n";
  return s;
}

double Attr(const XmlElement& e, const char* name) { return e.Num(name); }

TEST(TopOpsChartTest, OneBarPerOpWithPerStepMeanAndInterval) {
  const Profile p = SmallBert();
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderTopOpsChart(p, 5), svg));
  auto bars = WithClass(svg, "bar");
  ASSERT_EQ(bars.size(), 5u);
  // As `report --top 5` ranks them: by self energy.
  EXPECT_EQ(*bars[0]->Attr("data-path"), "bert/encoder/layer_1/intermediate/dense/MatMul");
  EXPECT_EQ(*bars[1]->Attr("data-path"), "bert/encoder/layer_1/output/dense/MatMul");
  EXPECT_EQ(*bars[4]->Attr("data-path"), "bert/encoder/layer_1/attention/self/query/MatMul");
  for (const XmlElement* b : bars) {
    const ProfileNode& n = p.nodes[p.Find(*b->Attr("data-path"))];
    // Leaves: the bar is the node's mean per step, the whisker its ci95.
    EXPECT_DOUBLE_EQ(Attr(*b, "data-value-j"), n.steps.mean_j);
    EXPECT_DOUBLE_EQ(Attr(*b, "data-ci95-j"), n.steps.ci95_j);
    const XmlElement* value = WithClass(*b, "value").front();
    EXPECT_EQ(value->TextContent(), Sig4(n.steps.mean_j) + " J ± " + Sig4(n.steps.ci95_j));
    EXPECT_EQ(WithClass(*b, "ci").size(), 1u);
  }
  // 7.59375 J over 3 steps; ci95 = t(0.975, 2) × 0.08 / √3.
  EXPECT_EQ(WithClass(*bars[0], "value").front()->TextContent(), "2.531 J ± 0.1987");
  // Bar lengths in proportion to the values.
  const double w0 = bars[0]->First("rect")->Num("width"), w3 = bars[3]->First("rect")->Num("width");
  EXPECT_NEAR(w3 / w0, Attr(*bars[3], "data-value-j") / Attr(*bars[0], "data-value-j"), 1e-3);
  const std::string text = AllText(svg);
  EXPECT_NE(text.find("energy per step (J)"), std::string::npos);
  EXPECT_NE(text.find("95 % confidence interval"), std::string::npos);
  EXPECT_NE(text.find("mean over 3 steps"), std::string::npos);
}

// SmallBert with per-step means as account writes them: an op's includes its
// kernels' (the sample builder gives ops their own energy only).
Profile SmallBertInclusiveSteps() {
  Profile p = SmallBert();
  for (size_t i = p.nodes.size(); i-- > 1;) {
    const ProfileNode& n = p.nodes[i];
    ProfileNode& parent = p.nodes[static_cast<size_t>(n.parent)];
    if (parent.kind != NodeKind::kScope) parent.steps.mean_j += n.steps.mean_j;
  }
  return p;
}

TEST(TopOpsChartTest, OpWithNestedKernelShowsItsOwnEnergyWithoutInterval) {
  const Profile p = SmallBertInclusiveSteps();
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderTopOpsChart(p, 40), svg));
  const XmlElement* softmax = nullptr;
  for (const XmlElement* b : WithClass(svg, "bar"))
    if (*b->Attr("data-path") == "bert/encoder/layer_0/attention/self/Softmax") softmax = b;
  ASSERT_NE(softmax, nullptr);
  // Its own 1.75 J over 3 steps, without the kernel's 0.75 J.
  EXPECT_NEAR(Attr(*softmax, "data-value-j"), 1.75 / 3, 1e-12);
  EXPECT_EQ(*softmax->Attr("data-ci95-j"), "");
  EXPECT_TRUE(WithClass(*softmax, "ci").empty());
  // Kernels are there too, and every op/kernel with energy is a bar (13 + 2 kernels).
  EXPECT_EQ(WithClass(svg, "bar").size(), 15u);
}

TEST(TopOpsChartTest, WithoutStepsBarsAreWindowEnergy) {
  Profile p = SmallBert();
  for (ProfileNode& n : p.nodes) n.steps = StepStats{};
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderTopOpsChart(p, 3), svg));
  auto bars = WithClass(svg, "bar");
  ASSERT_EQ(bars.size(), 3u);
  EXPECT_DOUBLE_EQ(Attr(*bars[0], "data-value-j"), 7.59375);
  EXPECT_NE(AllText(svg).find("energy in the window (J)"), std::string::npos);
}

TEST(TopOpsChartTest, SmallEnergiesReadInMillijoules) {
  Profile p = SmallBert("bert", 1e-3);
  for (ProfileNode& n : p.nodes) n.steps.ci95_j *= 1e-3;  // the builder does not scale them
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderTopOpsChart(p, 1), svg));
  auto bars = WithClass(svg, "bar");
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_NEAR(Attr(*bars[0], "data-value-j"), 7.59375e-3 / 3, 1e-15) << "data stays in J";
  EXPECT_EQ(WithClass(*bars[0], "value").front()->TextContent(), "2.531 mJ ± 0.1987");
  EXPECT_NE(AllText(svg).find("energy per step (mJ)"), std::string::npos);
}

TEST(TopOpsChartTest, RootOptionKeepsTheOpsUnderIt) {
  ReportOptions o;
  o.format = ReportFormat::kSvg;
  o.chart = SvgChart::kTopOps;
  o.root = "bert/encoder/layer_0";
  o.top = 50;
  auto text = RenderReport(SmallBert(), o);
  ASSERT_TRUE(text.ok());
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(*text, svg));
  auto bars = WithClass(svg, "bar");
  EXPECT_EQ(bars.size(), 5u) << "query, Softmax, its kernel, intermediate, output";
  for (const XmlElement* b : bars)
    EXPECT_EQ(b->Attr("data-path")->rfind("bert/encoder/layer_0/", 0), 0u) << *b->Attr("data-path");
}

TEST(TopOpsChartTest, Golden) {
  ExpectGolden("chart_top_ops.svg", RenderTopOpsChart(SmallBertInclusiveSteps(), 8));
}

// Two steps of 10 ms: forward 4 ms, backward 4 ms, optimizer 2 ms; the CPU at
// 10 / 20 / 15 W in them (1 ms readings), the GPU at 100 W (5 ms readings).
Profile WithTimeline() {
  Profile p = SmallBert();
  const int64_t t0 = p.meta.window_start_ns, ms = 1000000;
  Timeline& tl = p.timeline;
  tl.lanes.push_back({"CPU:0", "thread 1"});
  const uint32_t op = static_cast<uint32_t>(p.Find("bert/encoder/layer_0/output/dense/MatMul"));
  for (int step = 0; step < 2; ++step) {
    const int64_t s = t0 + step * 10 * ms;
    tl.events.push_back({s, s + 4 * ms, op, 0, step, Phase::kForward, 0.04});
    tl.events.push_back({s + 4 * ms, s + 8 * ms, op, 0, step, Phase::kBackward, 0.08});
    tl.events.push_back({s + 8 * ms, s + 10 * ms, op, 0, step, Phase::kOptimizer, 0.03});
  }
  PowerTrack cpu{"cpu:0/package", {}, {}}, gpu{"gpu:0", {}, {}};
  for (int i = 0; i <= 20; ++i) {
    cpu.t_ns.push_back(t0 + i * ms);
    if (i < 20) cpu.power_w.push_back(i % 10 < 4 ? 10 : i % 10 < 8 ? 20 : 15);
  }
  for (int i = 0; i <= 4; ++i) {
    gpu.t_ns.push_back(t0 + i * 5 * ms);
    if (i < 4) gpu.power_w.push_back(100);
  }
  tl.power = {cpu, gpu};
  return p;
}

TEST(PowerChartTest, OneLinePerDomainWithTheStepsMeanPowerAndItsPhases) {
  const Profile p = WithTimeline();
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderPowerChart(p, 1), svg));
  auto lines = WithClass(svg, "power");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(*lines[0]->Attr("data-domain"), "cpu:0/package");
  // (4 × 10 + 4 × 20 + 2 × 15) / 10 W.
  EXPECT_NEAR(Attr(*lines[0], "data-mean-w"), 15, 1e-9);
  EXPECT_NEAR(Attr(*lines[1], "data-mean-w"), 100, 1e-9);
  auto phases = WithClass(svg, "phase");
  ASSERT_EQ(phases.size(), 3u);
  const int64_t t0 = p.meta.window_start_ns + 10000000;
  EXPECT_EQ(*phases[0]->Attr("data-phase"), "forward");
  EXPECT_EQ(Attr(*phases[0], "data-start-ns"), t0);
  EXPECT_EQ(Attr(*phases[0], "data-end-ns"), t0 + 4000000);
  EXPECT_EQ(*phases[1]->Attr("data-phase"), "backward");
  EXPECT_EQ(*phases[2]->Attr("data-phase"), "optimizer");
  // Bands tile the 10 ms step: 4/10, 4/10 and 2/10 of the plot's width.
  const double total = phases[0]->Num("width") + phases[1]->Num("width") + phases[2]->Num("width");
  EXPECT_NEAR(phases[2]->Num("width") / total, 0.2, 1e-3);
  const std::string text = AllText(svg);
  EXPECT_NE(text.find("Power over step 1"), std::string::npos);
  EXPECT_NE(text.find("power (W)"), std::string::npos);
  EXPECT_NE(text.find("time since the step began (ms)"), std::string::npos);
  EXPECT_NE(text.find("cpu:0/package (mean 15.00 W)"), std::string::npos);
}

TEST(PowerChartTest, Golden) { ExpectGolden("chart_power_step1.svg", RenderPowerChart(WithTimeline(), 1)); }

TEST(PowerChartTest, WholeWindowMergesTheStepsPhasesAndNoTimelineGivesNothing) {
  const Profile p = WithTimeline();
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderPowerChart(p, -1), svg));
  EXPECT_NE(AllText(svg).find("Power over the window"), std::string::npos);
  EXPECT_EQ(RenderPowerChart(p, 7), "") << "no such step";
  EXPECT_EQ(RenderPowerChart(SmallBert(), 0), "") << "no timeline";
  // Through RenderReport: a message that says what to do.
  ReportOptions o;
  o.format = ReportFormat::kSvg;
  o.chart = SvgChart::kPower;
  o.file = "bert.json";
  auto r = RenderReport(SmallBert(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--timeline always"), std::string::npos) << r.error().message;
  o.step = 1;
  EXPECT_TRUE(RenderReport(p, o).ok());
}

TEST(PhaseChartTest, OneStackedBarPerProfileLabelledWithItsJoules) {
  const Profile a = SmallBert(), b = SmallBert("bert", 2.0);
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(RenderPhaseChart({&a, &b}, {"pretrain", "finetune"}), svg));
  auto bars = WithClass(svg, "bar");
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(*bars[0]->Attr("data-profile"), "pretrain");
  EXPECT_EQ(*bars[1]->Attr("data-profile"), "finetune");
  const Profile* ps[] = {&a, &b};
  for (int i = 0; i < 2; ++i) {
    double sum = 0;
    auto segs = WithClass(*bars[i], "seg");
    ASSERT_EQ(segs.size(), 3u) << "forward, backward, optimizer";
    for (const XmlElement* s : segs) {
      const std::string phase = *s->Attr("data-phase");
      int ph = phase == "forward" ? 0 : phase == "backward" ? 1 : phase == "optimizer" ? 2 : 3;
      const double j = PhaseFigures::SumOf(ps[i]->nodes[0].phases[ph].total_j);
      EXPECT_DOUBLE_EQ(s->Num("data-energy-j"), j) << phase;
      sum += j;
    }
    EXPECT_NEAR(sum, ps[i]->nodes[0].TotalJ(), 1e-9);
    EXPECT_EQ(WithClass(*bars[i], "total").front()->TextContent(), Sig4(sum) + " J");
  }
  // Heights in proportion: the finetune bar is twice as tall.
  auto height = [&](const XmlElement* bar) {
    double h = 0;
    for (const XmlElement* s : WithClass(*bar, "seg")) h += s->Num("height");
    return h;
  };
  EXPECT_NEAR(height(bars[1]) / height(bars[0]), 2, 1e-3);
  EXPECT_NE(AllText(svg).find("energy (J)"), std::string::npos);
  ExpectGolden("chart_phases.svg", RenderPhaseChart({&a, &b}, {"pretrain", "finetune"}));
}

TEST(ModuleBarsChartTest, BarsPerModuleForEachProfileAfterTheRules) {
  const Profile bert = SmallBert("bert"), albert = SmallBert("albert", 0.5);
  auto rule = ParseMapRule("albert=bert");
  ASSERT_TRUE(rule.ok());
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(
      Parse(RenderModuleBarsChart({&bert, &albert}, {"bert", "albert"}, 2, {*rule}), svg));
  auto modules = WithClass(svg, "module");
  std::vector<std::string> paths;
  for (const XmlElement* m : modules) paths.push_back(*m->Attr("data-path"));
  EXPECT_EQ(paths, (std::vector<std::string>{"bert/encoder", "optimizer/Adam", "bert/embeddings",
                                             "loss/CrossEntropy", "bert/pooler"}));
  for (const XmlElement* m : modules) {
    auto bars = WithClass(*m, "bar");
    ASSERT_EQ(bars.size(), 2u);
    const double j = bert.nodes[bert.Find(*m->Attr("data-path"))].TotalJ();
    EXPECT_DOUBLE_EQ(bars[0]->Num("data-energy-j"), j);
    EXPECT_DOUBLE_EQ(bars[1]->Num("data-energy-j"), j * 0.5);
    EXPECT_EQ(WithClass(*m, "value").front()->TextContent(), Sig4(j) + " J");
  }
  EXPECT_NE(AllText(svg).find("bert and albert"), std::string::npos);
}

// ---- CLI ----

struct Cli {
  int status;
  std::string err;
  std::string svg;
};

Cli RunCli(const std::string& args) {
  static int counter = 0;
  const std::string svg = ::testing::TempDir() + "/chart_cli_" + std::to_string(++counter) + ".svg";
  const testing::CliRun r = testing::RunSmaragdine(args + " -o " + svg);
  return {r.status, r.err, testing::Slurp(svg)};
}

const std::string kProfiles = std::string(SMARAGDINE_TEST_DATA) + "/profiles/";

TEST(ChartCliTest, ReportChartsAndDiffModuleBars) {
  Cli top = RunCli("report " + kProfiles + "bert_small.json --format svg --chart top --top 4");
  ASSERT_EQ(top.status, 0) << top.err;
  XmlElement svg;
  ASSERT_NO_FATAL_FAILURE(Parse(top.svg, svg));
  EXPECT_EQ(WithClass(svg, "bar").size(), 4u);

  Cli phases = RunCli("report " + kProfiles + "bert_small.json --format svg --chart phases --also " +
                   kProfiles + "albert_small.json");
  ASSERT_EQ(phases.status, 0) << phases.err;
  ASSERT_NO_FATAL_FAILURE(Parse(phases.svg, svg));
  auto bars = WithClass(svg, "bar");
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(*bars[1]->Attr("data-profile"), "albert_small");

  Cli power = RunCli("report " + kProfiles + "bert_small.json --format svg --chart power");
  EXPECT_EQ(power.status, 2);
  EXPECT_NE(power.err.find("--timeline always"), std::string::npos) << power.err;

  EXPECT_EQ(RunCli("report " + kProfiles + "bert_small.json --format svg --chart pie").status, 1);
  Cli also = RunCli("report " + kProfiles + "bert_small.json --format svg --also " + kProfiles +
                    "albert_small.json");
  EXPECT_EQ(also.status, 1);
  EXPECT_NE(also.err.find("--also only applies to --format svg --chart phases"), std::string::npos)
      << also.err;

  Cli diff = RunCli("diff " + kProfiles + "bert_small.json " + kProfiles +
                 "albert_small.json --map albert=bert --format svg");
  ASSERT_EQ(diff.status, 0) << diff.err;
  ASSERT_NO_FATAL_FAILURE(Parse(diff.svg, svg));
  EXPECT_FALSE(WithClass(svg, "module").empty());
}

}  // namespace
}  // namespace smaragdine
