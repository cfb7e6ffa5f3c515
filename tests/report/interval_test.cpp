// The attribution's own 95 % interval (ProfileNode::total_ci95_j) in every
// view that shows a node's energy: table, csv, json, html, flame graph, module
// graph tooltips and diff; and the path rules and --domain carrying it.
// Profiles without it render as before (the goldens of report_golden_test.cpp).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <sstream>
#include <string>

#include "report/golden_util.h"
#include "report/sample_profile.h"
#include "report/svg_xml_util.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

using testing::ExpectGolden;
using testing::SmallBert;
using testing::SmallBertWithIntervals;

std::string Render(ReportOptions o, const Profile& p) {
  o.file = "bert.json";
  auto r = RenderReport(p, o);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : "";
}

// The profile as account writes it and report reads it.
Profile RoundTrip(const Profile& p) {
  auto back = ParseProfileJson("profile.json", ProfileToJson(p));
  EXPECT_TRUE(back.ok()) << back.error().ToString();
  return back.ok() ? *back : Profile{};
}

TEST(IntervalGoldenTest, TableShowsEnergyAndPowerIntervalsAndTheMethodsWhy) {
  ReportOptions o;
  o.depth = 3;
  ExpectGolden("table_ci95.txt", Render(o, RoundTrip(SmallBertWithIntervals())));
}

TEST(IntervalGoldenTest, TopOpsByPowerShowThePowersInterval) {
  ReportOptions o;
  o.top = 6;
  o.sort = SortKey::kPower;
  ExpectGolden("table_ci95_top_power.txt", Render(o, RoundTrip(SmallBertWithIntervals())));
}

TEST(IntervalGoldenTest, CsvHasIntervalColumns) {
  ReportOptions o;
  o.format = ReportFormat::kCsv;
  o.depth = 2;
  ExpectGolden("ci95.csv", Render(o, RoundTrip(SmallBertWithIntervals())));
}

// ALBERT-like B against BERT A, both with intervals: the diff gets the
// interval of B − A.
TEST(IntervalGoldenTest, DiffShowsTheIntervalOfTheDifference) {
  DiffOptions o;
  o.rules = {*ParseMapRule("^albert=bert")};
  o.depth = 2;
  o.a_file = "bert.json";
  o.b_file = "albert.json";
  const Profile a = SmallBertWithIntervals(), b = SmallBertWithIntervals("albert", 0.75);
  ExpectGolden("diff_ci95.txt", RenderDiff(DiffProfiles(a, b, o), o));
}

TEST(IntervalTest, TableWithoutIntervalsHasNoIntervalColumns) {
  const std::string text = Render({}, SmallBert());
  EXPECT_EQ(text.find("± J"), std::string::npos);
  EXPECT_EQ(text.find("± W"), std::string::npos);
  EXPECT_NE(text.find("  ±ci95 J"), std::string::npos) << "the step column keeps its name";
  EXPECT_EQ(text.find("  why "), std::string::npos);
}

TEST(IntervalTest, TableRowShowsTheNodesIntervalAndPowerInterval) {
  const Profile p = SmallBertWithIntervals();
  const ProfileNode& mm = p.nodes[p.Find("bert/encoder/layer_1/intermediate/dense/MatMul")];
  // 0.84375 J ± 0.03475, 6.75 J ± 0.271: 7.594 ± 0.27 J over 12 ms = 632.8 ± 23 W.
  EXPECT_NEAR(mm.TotalCi95J(), std::hypot(0.04 * 0.84375 + 0.001, 0.04 * 6.75 + 0.001), 1e-12);
  ReportOptions o;
  o.root = mm.path;
  const std::string text = Render(o, p);
  std::istringstream lines(text);
  std::string line, row;
  while (std::getline(lines, line))
    if (line.rfind(mm.path, 0) == 0) row = line;
  EXPECT_NE(row.find("7.594  ± 0.27"), std::string::npos) << text;
  EXPECT_NE(row.find("632.8  ± 23"), std::string::npos) << text;
}

TEST(IntervalTest, HeaderSaysWhyTheMethodAndWhichMeterWithContinuationLines) {
  const std::string text = Render({}, SmallBertWithIntervals());
  EXPECT_NE(text.find("\n  method     regression: "), std::string::npos) << text;
  EXPECT_NE(text.find("\n  why        auto: 3 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  meter      cpu:0/package counter, update period 0.977 ms (estimated)"
                      ", lag 0.21 ms (estimated)\n             gpu:0 counter"),
            std::string::npos)
      << text;
}

TEST(IntervalTest, FoldAddsMergedIntervalsInQuadratureAndRecomputesCreatedScopes) {
  const Profile p = SmallBertWithIntervals();
  const Profile f = FoldProfile(p, {*ParseFoldRule(R"(layer_\d+)")});
  const ProfileNode& l0 = p.nodes[p.Find("bert/encoder/layer_0")];
  const ProfileNode& l1 = p.nodes[p.Find("bert/encoder/layer_1")];
  const ProfileNode& folded = f.nodes[f.Find("bert/encoder/layer_*")];
  ASSERT_EQ(folded.total_ci95_j.size(), 2u);
  for (size_t d = 0; d < 2; ++d)
    EXPECT_NEAR(folded.total_ci95_j[d], std::hypot(l0.total_ci95_j[d], l1.total_ci95_j[d]), 1e-12);
  // Nodes that no rule touched keep their interval.
  const ProfileNode& pooler = f.nodes[f.Find("bert/pooler")];
  EXPECT_EQ(pooler.total_ci95_j, p.nodes[p.Find("bert/pooler")].total_ci95_j);
  // A scope the rules created (no original of its own) gets its children's.
  const Profile m = FoldProfile(p, {*ParseMapRule("^bert/encoder/=stack/")});
  const ProfileNode& stack = m.nodes[m.Find("stack")];
  for (size_t d = 0; d < 2; ++d)
    EXPECT_NEAR(stack.total_ci95_j[d], std::hypot(l0.total_ci95_j[d], l1.total_ci95_j[d]), 1e-12);
  // Without intervals, none appear.
  const Profile plain = FoldProfile(SmallBert(), {*ParseFoldRule(R"(layer_\d+)")});
  for (const ProfileNode& n : plain.nodes) EXPECT_TRUE(n.total_ci95_j.empty()) << n.path;
}

TEST(IntervalTest, DomainRestrictionKeepsThatDomainsInterval) {
  const Profile p = SmallBertWithIntervals();
  auto gpu = RestrictToDomain(p, "gpu:0", "bert.json");
  ASSERT_TRUE(gpu.ok());
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    ASSERT_EQ(gpu->nodes[i].total_ci95_j.size(), 1u);
    EXPECT_EQ(gpu->nodes[i].total_ci95_j[0], p.nodes[i].total_ci95_j[1]) << p.nodes[i].path;
  }
}

TEST(IntervalTest, JsonReportKeepsTotalCi95ThroughFoldRootAndDepth) {
  ReportOptions o;
  o.format = ReportFormat::kJson;
  o.rules = {*ParseFoldRule(R"(layer_\d+)")};
  o.root = "bert/encoder";
  o.depth = 1;
  const Profile p = SmallBertWithIntervals();
  auto back = ParseProfileJson("report.json", Render(o, p));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  const Profile f = FoldProfile(p, o.rules);
  const ProfileNode& want = f.nodes[f.Find("bert/encoder/layer_*")];
  const ProfileNode& got = back->nodes[back->Find("bert/encoder/layer_*")];
  ASSERT_EQ(got.total_ci95_j.size(), 2u);
  for (size_t d = 0; d < 2; ++d) EXPECT_DOUBLE_EQ(got.total_ci95_j[d], want.total_ci95_j[d]);
  EXPECT_EQ(back->meta.method_reason, p.meta.method_reason);
  EXPECT_EQ(back->meta.meter, p.meta.meter);
}

TEST(IntervalTest, FlameTooltipAndModuleGraphTooltipShowTheInterval) {
  const Profile p = RoundTrip(SmallBertWithIntervals());
  const std::string svg = RenderFlameSvg(p, 0, FlameOptions{});
  testing::XmlElement root;
  std::string error;
  ASSERT_TRUE(testing::ParseXml(svg, root, error)) << error;
  std::string tip;
  for (const testing::XmlElement* g : root.FindAll([](const testing::XmlElement& e) {
         return e.HasClass("fr");
       }))
    if (*g->Attr("data-key") == "bert/encoder/layer_1/intermediate/dense/MatMul")
      tip = g->First("title")->TextContent();
  EXPECT_EQ(tip,
            "bert/encoder/layer_1/intermediate/dense/MatMul\n"
            "energy: 7.594 ± 0.27 J (13.16 % of the window)\n"
            "power: 632.8 ± 23 W\n"
            "time: 12.00 ms\n"
            "calls: 3\n"
            "kind: op");
  const std::string dot =
      RenderDot(p, static_cast<uint32_t>(p.Find("bert/encoder/layer_1/intermediate/dense")));
  EXPECT_NE(dot.find("7.594 ± 0.27 J, "), std::string::npos) << dot;
  EXPECT_NE(dot.find("632.8 ± 23 W, "), std::string::npos) << dot;
}

TEST(IntervalTest, HtmlTableHasIntervalColumnsAndTheSummaryTheMethodsWhy) {
  const Profile p = SmallBertWithIntervals();
  auto html = RenderHtml(p, HtmlOptions{});
  ASSERT_TRUE(html.ok()) << html.error().message;
  const std::string open = "<script id=\"smg-data\" type=\"application/json\">";
  const size_t start = html->find(open) + open.size();
  simdjson::dom::parser parser;
  simdjson::padded_string json(html->substr(start, html->find("</script>", start) - start));
  simdjson::dom::element data;
  ASSERT_EQ(parser.parse(json).get(data), simdjson::SUCCESS);
  simdjson::dom::array columns = data["table"]["columns"].get_array();
  std::vector<std::string> labels;
  for (simdjson::dom::element c : columns)
    labels.emplace_back(std::string_view(c["label"].get_string()));
  ASSERT_GE(labels.size(), 7u);
  EXPECT_EQ(labels[0], "energy");
  EXPECT_EQ(labels[1], "±");
  EXPECT_EQ(labels[4], "step ±ci95");
  EXPECT_EQ(labels[5], "power");
  EXPECT_EQ(labels[6], "±");
  for (simdjson::dom::element row : data["table"]["rows"].get_array()) {
    simdjson::dom::array r = row.get_array();
    ASSERT_EQ(r.size(), 4 + labels.size());
    const int64_t id = r.at(0).get_int64();
    if (id >= static_cast<int64_t>(p.nodes.size())) {
      EXPECT_TRUE(r.at(5).is_null()) << "(idle) has no interval";
      continue;
    }
    const ProfileNode& n = p.nodes[static_cast<size_t>(id)];
    EXPECT_EQ(double(r.at(5).get_double()), n.TotalCi95J()) << n.path;
  }
  EXPECT_NE(html->find("why this method"), std::string::npos);
  EXPECT_NE(html->find("case 'pm'"), std::string::npos) << "the script formats the ± cells";
  // Without intervals the columns are today's.
  auto plain = RenderHtml(SmallBert(), HtmlOptions{});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->find(R"("label":"±")"), std::string::npos);
  EXPECT_NE(plain->find(R"("label":"±ci95")"), std::string::npos);
}

TEST(IntervalTest, DiffIntervalNeedsBothSides) {
  DiffOptions o;
  o.depth = 1;
  const ProfileDiff both = DiffProfiles(SmallBertWithIntervals(), SmallBertWithIntervals(), o);
  ASSERT_FALSE(both.matched.empty());
  for (const DiffRow& r : both.matched)
    EXPECT_NEAR(r.DeltaCi95J(), std::sqrt(2.0) * r.a_ci95_j, 1e-12) << r.path;
  const ProfileDiff one = DiffProfiles(SmallBert(), SmallBertWithIntervals(), o);
  for (const DiffRow& r : one.matched) {
    EXPECT_TRUE(std::isnan(r.a_ci95_j));
    EXPECT_FALSE(std::isnan(r.b_ci95_j));
    EXPECT_TRUE(std::isnan(r.DeltaCi95J())) << "one side without an interval: none for B − A";
  }
  EXPECT_EQ(RenderDiff(one, o).find("± J"), std::string::npos);
  o.format = ReportFormat::kCsv;
  const std::string csv = RenderDiff(one, o);
  EXPECT_NE(csv.find(",a_ci95_j,b_ci95_j,delta_ci95_j\n"), std::string::npos) << csv;
}

}  // namespace
}  // namespace smaragdine
