// Golden tests: each report format on the small BERT profile, compared exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "report/golden_util.h"
#include "report/sample_profile.h"
#include "smaragdine/report.h"

namespace smaragdine {
namespace {

using testing::ExpectGolden;
using testing::SmallBert;

std::string Render(ReportOptions o, const Profile& p = SmallBert()) {
  o.file = "bert.json";
  auto r = RenderReport(p, o);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : "";
}

PathRule Fold(const char* re) { return *ParseFoldRule(re); }
PathRule Map(const char* spec) { return *ParseMapRule(spec); }

TEST(ReportGoldenTest, TableWholeTree) { ExpectGolden("table_default.txt", Render({})); }

TEST(ReportGoldenTest, TableDepth2SortedByPower) {
  ReportOptions o;
  o.depth = 2;
  o.sort = SortKey::kPower;
  ExpectGolden("table_depth2_power.txt", Render(o));
}

TEST(ReportGoldenTest, TableRootSubtree) {
  ReportOptions o;
  o.root = "bert/encoder/layer_1";
  o.depth = 2;
  ExpectGolden("table_root_layer1.txt", Render(o));
}

TEST(ReportGoldenTest, TableTopOps) {
  ReportOptions o;
  o.top = 5;
  ExpectGolden("table_top5.txt", Render(o));
}

TEST(ReportGoldenTest, TableFoldedLayers) {
  ReportOptions o;
  o.rules = {Fold(R"(layer_\d+)")};
  o.depth = 3;
  ExpectGolden("table_fold_layers.txt", Render(o));
}

TEST(ReportGoldenTest, TableOneDomainNarrowNames) {
  ReportOptions o;
  o.domain = "gpu:0";
  o.top = 4;
  o.name_width = 16;  // paths get 16 + 24 columns: long ones lose their middle
  ExpectGolden("table_gpu_narrow.txt", Render(o));
}

TEST(ReportGoldenTest, Csv) {
  ReportOptions o;
  o.format = ReportFormat::kCsv;
  ExpectGolden("bert.csv", Render(o));
}

TEST(ReportGoldenTest, Folded) {
  ReportOptions o;
  o.format = ReportFormat::kFolded;
  ExpectGolden("bert.folded", Render(o));
}

TEST(ReportGoldenTest, JsonFoldedSubtree) {
  ReportOptions o;
  o.format = ReportFormat::kJson;
  o.rules = {Fold(R"(layer_\d+)")};
  o.root = "bert/encoder";
  o.depth = 2;
  ExpectGolden("encoder_folded.json", Render(o));
}

// ALBERT against BERT: B is a scaled copy without layer_1 and with an extra
// embedding projection, so the diff has matched, only-in-A and only-in-B nodes.
Profile AlbertLike() {
  Profile b = SmallBert("albert", 0.75);
  Profile out = b;
  out.nodes.clear();
  std::vector<int64_t> new_id(b.nodes.size(), -1);
  for (const ProfileNode& n : b.nodes) {
    if (n.path.find("layer_1") != std::string::npos) continue;
    ProfileNode m = n;
    m.id = static_cast<uint32_t>(out.nodes.size());
    m.parent = n.parent < 0 ? -1 : new_id[static_cast<size_t>(n.parent)];
    new_id[n.id] = m.id;
    out.nodes.push_back(m);
  }
  ProfileNode proj = out.nodes[static_cast<size_t>(out.Find("albert/embeddings/LayerNorm"))];
  proj.id = static_cast<uint32_t>(out.nodes.size());
  proj.parent = out.Find("albert");
  proj.name = "embedding_projection";
  proj.path = "albert/embedding_projection";
  out.nodes.push_back(proj);
  return out;
}

TEST(ReportGoldenTest, DiffTableAlbertAgainstBert) {
  DiffOptions o;
  o.rules = {Map("^albert=bert")};
  o.a_file = "bert.json";
  o.b_file = "albert.json";
  ExpectGolden("diff_albert_bert.txt", RenderDiff(DiffProfiles(SmallBert(), AlbertLike(), o), o));
}

TEST(ReportGoldenTest, DiffCsvDepth3) {
  DiffOptions o;
  o.rules = {Map("^albert=bert")};
  o.format = ReportFormat::kCsv;
  o.depth = 3;
  ExpectGolden("diff_albert_bert_depth3.csv",
               RenderDiff(DiffProfiles(SmallBert(), AlbertLike(), o), o));
}

}  // namespace
}  // namespace smaragdine

namespace smaragdine {
namespace {

// The CLI tests read profiles from tests/data/profiles/; they are the sample
// builder's output, kept in step here (SMARAGDINE_UPDATE_GOLDEN=1 rewrites them).
void ExpectDataFile(const std::string& name, const std::string& content) {
  const std::string path = std::string(SMARAGDINE_TEST_DATA) + "/profiles/" + name;
  const char* update = std::getenv("SMARAGDINE_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << content;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_EQ(s.str(), content) << path;
}

TEST(ProfileDataTest, CheckedInProfilesMatchTheBuilder) {
  std::string bert = ProfileToJson(testing::SmallBert("bert"));
  ExpectDataFile("bert_small.json", bert);
  ExpectDataFile("albert_small.json", ProfileToJson(testing::SmallBert("albert", 0.75)));
  ExpectDataFile("truncated.json", bert.substr(0, 1000));
  std::string v2 = bert;
  v2.replace(v2.find("smaragdine-profile/1"), 20, "smaragdine-profile/2");
  ExpectDataFile("future_v2.json", v2);
}

}  // namespace
}  // namespace smaragdine
