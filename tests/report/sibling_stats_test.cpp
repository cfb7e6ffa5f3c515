// Statistics across folded siblings: `--fold 'layer_\d+'` merges layer_0 … layer_3
// into layer_* and says how the layers compare (n, mean, std, min and max with
// the original names), in FoldProfile, the table, --top, csv, json and diff.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>

#include "report/golden_util.h"
#include "report/sample_profile.h"
#include "report/text.h"
#include "smaragdine/report.h"

namespace smaragdine {
namespace {

using testing::ExpectGolden;
using testing::SampleBuilder;

// Sample standard deviation of {1, 2, 3, 6}: squared deviations 4 + 1 + 0 + 9 over 3.
const double kStd1236 = std::sqrt(14.0 / 3.0);  // 2.1602…

// Encoder layers with the given totals (all domains), a quarter on the CPU and
// three quarters on the GPU. In each layer attention takes 40 % and output 60 %;
// embeddings are not folded.
Profile Layers(const std::vector<double>& layer_j) {
  SampleBuilder b({"cpu:0/package", "gpu:0"});
  b.Leaf("m/embeddings/Gather", {0.5, 0.5}, 1000000, 3);
  for (size_t k = 0; k < layer_j.size(); ++k) {
    const double x = layer_j[k];
    const int64_t ms = 1000000 * static_cast<int64_t>(k + 1);
    const std::string l = "m/encoder/layer_" + std::to_string(k);
    b.Leaf(l + "/attention/self/MatMul", {0.1 * x, 0.3 * x}, 4 * ms, 3)
        .Leaf(l + "/output/dense/MatMul", {0.15 * x, 0.45 * x}, 6 * ms, 3);
  }
  return b.Finish({0.25, 1.0}, false);
}

// The issue's example: four layers of 1, 2, 3 and 6 J.
Profile FourLayers() { return Layers({1, 2, 3, 6}); }

std::vector<PathRule> FoldLayers() { return {*ParseFoldRule(R"(layer_\d+)")}; }

const ProfileNode& NodeAt(const Profile& p, const std::string& path) {
  int64_t i = p.Find(path);
  EXPECT_GE(i, 0) << path;
  return p.nodes[static_cast<size_t>(std::max<int64_t>(i, 0))];
}

void ExpectStats(const SiblingStats& s, int64_t n, double mean_j, double std_j, double min_j,
                 const std::string& min_path, double max_j, const std::string& max_path) {
  EXPECT_EQ(s.n, n);
  EXPECT_NEAR(s.mean_j, mean_j, 1e-12);
  EXPECT_NEAR(s.std_j, std_j, 1e-12);
  EXPECT_NEAR(s.min_j, min_j, 1e-12);
  EXPECT_EQ(s.min_path, min_path);
  EXPECT_NEAR(s.max_j, max_j, 1e-12);
  EXPECT_EQ(s.max_path, max_path);
}

// One CSV data row as header name → field (no quoted commas in these paths).
std::map<std::string, std::string> CsvRow(const std::string& csv, const std::string& path) {
  std::istringstream in(csv);
  std::string header, line;
  std::getline(in, header);
  auto split = [](const std::string& s) {
    std::vector<std::string> f;
    std::stringstream ss(s);
    std::string x;
    while (std::getline(ss, x, ',')) f.push_back(x);
    if (!s.empty() && s.back() == ',') f.push_back("");
    return f;
  };
  const auto names = split(header);
  while (std::getline(in, line)) {
    auto fields = split(line);
    if (fields.empty() || fields[0] != path) continue;
    EXPECT_EQ(fields.size(), names.size()) << line;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < names.size() && i < fields.size(); ++i) row[names[i]] = fields[i];
    return row;
  }
  ADD_FAILURE() << "no row " << path;
  return {};
}

TEST(SiblingStatsTest, FoldedLayersGetCountMeanStdMinMaxWithOriginalNames) {
  Profile f = FoldProfile(FourLayers(), FoldLayers());
  ExpectStats(NodeAt(f, "m/encoder/layer_*").siblings, 4, 3.0, kStd1236, 1.0,
              "m/encoder/layer_0", 6.0, "m/encoder/layer_3");
  // The merged node's energy is n × mean: the statistics describe its parts.
  EXPECT_NEAR(NodeAt(f, "m/encoder/layer_*").TotalJ(), 4 * 3.0, 1e-12);
}

TEST(SiblingStatsTest, NodesUnderAFoldedNodeGetStatsAcrossTheirOriginals) {
  Profile f = FoldProfile(FourLayers(), FoldLayers());
  ExpectStats(NodeAt(f, "m/encoder/layer_*/attention").siblings, 4, 1.2, 0.4 * kStd1236, 0.4,
              "m/encoder/layer_0/attention", 2.4, "m/encoder/layer_3/attention");
  ExpectStats(NodeAt(f, "m/encoder/layer_*/output/dense/MatMul").siblings, 4, 1.8,
              0.6 * kStd1236, 0.6, "m/encoder/layer_0/output/dense/MatMul", 3.6,
              "m/encoder/layer_3/output/dense/MatMul");
  // Nodes that merged nothing have none.
  EXPECT_EQ(NodeAt(f, "m/encoder").siblings.n, 0);
  EXPECT_EQ(NodeAt(f, "m/embeddings/Gather").siblings.n, 0);
  EXPECT_EQ(f.nodes[0].siblings.n, 0);
}

TEST(SiblingStatsTest, ConservationHoldsAfterFolding) {
  Profile p = FourLayers();
  Profile f = FoldProfile(p, FoldLayers());
  for (size_t d = 0; d < f.domains.size(); ++d)
    EXPECT_NEAR(f.nodes[0].total_j[d] + f.domains[d].idle_j, f.domains[d].measured_j, 1e-12)
        << f.domains[d].name;
  EXPECT_NEAR(NodeAt(f, "m/encoder").TotalJ(), NodeAt(p, "m/encoder").TotalJ(), 1e-12);
}

TEST(SiblingStatsTest, AMissingChildCountsOnlyTheLayersThatHaveIt) {
  Profile base = FourLayers();
  SampleBuilder b({"gpu:0"});
  b.Leaf("m/layer_0/dropout", {1.0}, 10, 1)
      .Leaf("m/layer_0/dense", {2.0}, 10, 1)
      .Leaf("m/layer_1/dense", {4.0}, 10, 1)
      .Leaf("m/layer_2/dropout", {3.0}, 10, 1)
      .Leaf("m/layer_2/dense", {8.0}, 10, 1);
  Profile f = FoldProfile(b.Finish({0.0}, false), FoldLayers());
  const SiblingStats& dropout = NodeAt(f, "m/layer_*/dropout").siblings;
  EXPECT_EQ(dropout.n, 2);
  EXPECT_DOUBLE_EQ(dropout.mean_j, 2.0);
  EXPECT_DOUBLE_EQ(dropout.std_j, std::sqrt(2.0));
  EXPECT_EQ(NodeAt(f, "m/layer_*/dense").siblings.n, 3);
  EXPECT_EQ(NodeAt(f, "m/layer_*").siblings.n, 3);
}

TEST(SiblingStatsTest, NodeMergedIntoItsOwnParentIsNoSibling) {
  // --map '/wrapper=' merges model/wrapper into model: one contains the other,
  // so there is nothing to compare.
  SampleBuilder b({"cpu:0/package"});
  b.Leaf("model/wrapper/op", {2.0}, 1000, 1).Leaf("model/other", {1.0}, 500, 1);
  Profile f = FoldProfile(b.Finish({0.0}, false), {*ParseMapRule("/wrapper=")});
  EXPECT_DOUBLE_EQ(NodeAt(f, "model").TotalJ(), 3.0);
  EXPECT_EQ(NodeAt(f, "model").siblings.n, 0);
}

TEST(SiblingStatsTest, EqualSiblingsHaveZeroSpreadAndTheFirstIsMinAndMax) {
  SampleBuilder b({"gpu:0"});
  for (int k = 0; k < 3; ++k) b.Leaf("m/layer_" + std::to_string(k) + "/op", {0.1}, 10, 1);
  Profile f = FoldProfile(b.Finish({0.0}, false), FoldLayers());
  ExpectStats(NodeAt(f, "m/layer_*").siblings, 3, 0.1, 0.0, 0.1, "m/layer_0", 0.1, "m/layer_0");
}

TEST(SiblingStatsTest, FoldingAFoldedProfileAgainKeepsTheStats) {
  Profile once = FoldProfile(FourLayers(), FoldLayers());
  Profile twice = FoldProfile(once, FoldLayers());
  ExpectStats(NodeAt(twice, "m/encoder/layer_*").siblings, 4, 3.0, kStd1236, 1.0,
              "m/encoder/layer_0", 6.0, "m/encoder/layer_3");
}

TEST(SiblingStatsTest, JsonRoundTripKeepsStatsAndOmitsThemWhenNotFolded) {
  Profile f = FoldProfile(FourLayers(), FoldLayers());
  const std::string json = ProfileToJson(f);
  EXPECT_NE(json.find("\"siblings\":{\"n\":4,\"mean_j\":3,"), std::string::npos);
  auto back = ParseProfileJson("folded.json", json);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  ASSERT_EQ(back->nodes.size(), f.nodes.size());
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    const SiblingStats &x = f.nodes[i].siblings, &y = back->nodes[i].siblings;
    SCOPED_TRACE(f.nodes[i].path);
    EXPECT_EQ(x.n, y.n);
    EXPECT_EQ(x.mean_j, y.mean_j);
    EXPECT_EQ(x.std_j, y.std_j);
    EXPECT_EQ(x.min_j, y.min_j);
    EXPECT_EQ(x.max_j, y.max_j);
    EXPECT_EQ(x.min_path, y.min_path);
    EXPECT_EQ(x.max_path, y.max_path);
  }
  EXPECT_EQ(ProfileToJson(FourLayers()).find("siblings"), std::string::npos);
}

TEST(SiblingStatsTest, JsonWithBadSiblingsIsBadInputNamingTheNode) {
  std::string json = ProfileToJson(FoldProfile(FourLayers(), FoldLayers()));
  const std::string good = "\"siblings\":{\"n\":4";
  json.replace(json.find(good), good.size(), "\"siblings\":{\"n\":-4");
  auto r = ParseProfileJson("folded.json", json);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadInput);
  EXPECT_NE(r.error().ToString().find("siblings: 'n' must not be negative"), std::string::npos)
      << r.error().ToString();
  EXPECT_NE(r.error().ToString().find("folded.json"), std::string::npos);
}

TEST(SiblingStatsTest, DomainOptionTakesStatsOfThatDomain) {
  // --domain gpu:0 keeps three quarters of every layer: 0.75, 1.5, 2.25, 4.5 J.
  ReportOptions o;
  o.format = ReportFormat::kCsv;
  o.rules = FoldLayers();
  o.domain = "gpu:0";
  auto csv = RenderReport(FourLayers(), o);
  ASSERT_TRUE(csv.ok()) << csv.error().ToString();
  auto row = CsvRow(*csv, "m/encoder/layer_*");
  EXPECT_EQ(row["siblings_n"], "4");
  EXPECT_NEAR(std::stod(row["sibling_mean_j"]), 2.25, 1e-12);
  EXPECT_NEAR(std::stod(row["sibling_std_j"]), 0.75 * kStd1236, 1e-12);
  EXPECT_NEAR(std::stod(row["sibling_min_j"]), 0.75, 1e-12);
  EXPECT_NEAR(std::stod(row["sibling_max_j"]), 4.5, 1e-12);
  EXPECT_EQ(row["sibling_max_path"], "m/encoder/layer_3");
  // A profile folded with all domains and then restricted cannot know one domain's spread.
  auto restricted = RestrictToDomain(FoldProfile(FourLayers(), FoldLayers()), "gpu:0", "f.json");
  ASSERT_TRUE(restricted.ok());
  EXPECT_EQ(NodeAt(*restricted, "m/encoder/layer_*").siblings.n, 0);
}

TEST(SiblingStatsTest, CsvHasSiblingColumnsOnlyWhenSomethingWasMerged) {
  ReportOptions o;
  o.format = ReportFormat::kCsv;
  auto plain = RenderReport(FourLayers(), o);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->find("siblings_n"), std::string::npos);
  o.rules = FoldLayers();
  auto folded = RenderReport(FourLayers(), o);
  ASSERT_TRUE(folded.ok());
  auto row = CsvRow(*folded, "m/encoder/layer_*/attention");
  EXPECT_EQ(row["siblings_n"], "4");
  EXPECT_NEAR(std::stod(row["sibling_mean_j"]), 1.2, 1e-12);
  EXPECT_EQ(row["sibling_min_path"], "m/encoder/layer_0/attention");
  // Unmerged nodes and the idle rows leave the fields empty.
  EXPECT_EQ(CsvRow(*folded, "m/encoder")["siblings_n"], "");
  EXPECT_EQ(CsvRow(*folded, "(idle) gpu:0")["sibling_max_path"], "");
}

TEST(SiblingLabelTest, NamesTheComponentsTheRulesChanged) {
  using report_text::SiblingLabel;
  EXPECT_EQ(SiblingLabel("bert/encoder/layer_*/attention", "bert/encoder/layer_3/attention"),
            "layer_3");
  EXPECT_EQ(SiblingLabel("m/block_*/layer_*", "m/block_1/layer_2"), "block_1/layer_2");
  // A --map that dropped a component: only the whole path says which original it was.
  EXPECT_EQ(SiblingLabel("m/op", "m/wrapper/op"), "m/wrapper/op");
}

std::string Render(ReportOptions o, const Profile& p) {
  o.file = "four_layers.json";
  auto r = RenderReport(p, o);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : "";
}

TEST(SiblingGoldenTest, TableShowsPerSiblingColumns) {
  ReportOptions o;
  o.rules = FoldLayers();
  ExpectGolden("siblings_table.txt", Render(o, FourLayers()));
}

TEST(SiblingGoldenTest, TopShowsPerSiblingColumns) {
  ReportOptions o;
  o.rules = FoldLayers();
  o.top = 3;
  ExpectGolden("siblings_top3.txt", Render(o, FourLayers()));
}

TEST(SiblingGoldenTest, Csv) {
  ReportOptions o;
  o.rules = FoldLayers();
  o.format = ReportFormat::kCsv;
  ExpectGolden("siblings.csv", Render(o, FourLayers()));
}

TEST(SiblingGoldenTest, JsonSubtree) {
  ReportOptions o;
  o.rules = FoldLayers();
  o.format = ReportFormat::kJson;
  o.root = "m/encoder/layer_*";
  o.depth = 1;
  ExpectGolden("siblings_layer.json", Render(o, FourLayers()));
}

TEST(SiblingGoldenTest, DiffWithFoldShowsPerSiblingOnBothSides) {
  DiffOptions o;
  o.rules = FoldLayers();
  o.depth = 4;
  o.a_file = "four_layers.json";
  o.b_file = "three_layers.json";
  // B has three layers of 2, 4 and 6 J.
  ProfileDiff d = DiffProfiles(FourLayers(), Layers({2, 4, 6}), o);
  bool seen = false;
  for (const DiffRow& r : d.matched) {
    if (r.path != "m/encoder/layer_*") continue;
    seen = true;
    EXPECT_EQ(r.a_siblings.n, 4);
    EXPECT_EQ(r.b_siblings.n, 3);
    EXPECT_NEAR(r.b_siblings.mean_j, 4.0, 1e-12);
    EXPECT_NEAR(r.b_siblings.std_j, 2.0, 1e-12);
  }
  EXPECT_TRUE(seen);
  ExpectGolden("diff_fold_siblings.txt", RenderDiff(d, o));
  o.format = ReportFormat::kCsv;
  ExpectGolden("diff_fold_siblings.csv", RenderDiff(d, o));
}

}  // namespace
}  // namespace smaragdine
