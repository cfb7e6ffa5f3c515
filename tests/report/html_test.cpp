// The HTML report's file: self-contained, its embedded data faithful to the
// profile, safe against names that look like markup. (That the page draws
// itself in a browser is tests/report_browser.)
#include <gtest/gtest.h>
#include <simdjson.h>

#include <regex>
#include <set>
#include <string>

#include "report/sample_profile.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

using testing::SmallBert;

// The JSON inside <script id="smg-data" type="application/json">…</script>.
std::string DataBlock(const std::string& html) {
  const std::string open = "<script id=\"smg-data\" type=\"application/json\">";
  size_t start = html.find(open);
  EXPECT_NE(start, std::string::npos);
  if (start == std::string::npos) return "{}";
  start += open.size();
  return html.substr(start, html.find("</script>", start) - start);
}

TEST(HtmlTest, NeedsNothingFromTheNetwork) {
  auto html = RenderHtml(SmallBert(), HtmlOptions{});
  ASSERT_TRUE(html.ok()) << html.error().message;
  EXPECT_EQ(html->rfind("<!DOCTYPE html>", 0), 0u);
  // No external script, style sheet, image or font: every src/href and url()
  // is local (SVG namespaces are names, not fetches).
  static const std::regex external(
      R"re((src|href)\s*=\s*\\?["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|<link\b|@import)re",
      std::regex::icase);
  std::smatch m;
  EXPECT_FALSE(std::regex_search(*html, m, external)) << m.str();
  EXPECT_NE(html->find("<style>"), std::string::npos);
  EXPECT_NE(html->find("renderTable"), std::string::npos) << "the script is inlined";
}

TEST(HtmlTest, DataHoldsEveryNodeWithItsEnergyAndTheScopesGraphs) {
  const Profile p = SmallBert();
  HtmlOptions o;
  o.profile_file = "runs/bert.profile.json";
  auto html = RenderHtml(p, o);
  ASSERT_TRUE(html.ok()) << html.error().message;
  simdjson::dom::parser parser;
  simdjson::padded_string json(DataBlock(*html));
  simdjson::dom::element data;
  ASSERT_EQ(parser.parse(json).get(data), simdjson::SUCCESS) << DataBlock(*html).substr(0, 300);

  simdjson::dom::array rows = data["table"]["rows"].get_array();
  EXPECT_EQ(rows.size(), p.nodes.size() - 1 + p.domains.size())
      << "every node but the root, and idle";
  std::set<std::string> paths;
  for (simdjson::dom::element row : rows) {
    simdjson::dom::array r = row.get_array();
    const std::string path(std::string_view(r.at(3).get_string()));
    paths.insert(path);
    const int64_t id = r.at(0).get_int64();
    if (id >= static_cast<int64_t>(p.nodes.size())) continue;  // (idle) rows
    const ProfileNode& n = p.nodes[static_cast<size_t>(id)];
    EXPECT_EQ(path, n.path);
    EXPECT_EQ(double(r.at(4).get_double()), n.TotalJ()) << path << ": exact, not rounded";
    EXPECT_NEAR(double(r.at(5).get_double()), n.TotalJ() / p.MeasuredJ(), 1e-15) << path;
  }
  EXPECT_TRUE(paths.count("bert/encoder/layer_1/attention/self/Softmax/softmax_kernel"));
  EXPECT_TRUE(paths.count("(idle) gpu:0"));

  // Module graphs for the scopes down to two levels below the top.
  std::set<std::string> graphs;
  for (auto field : data["graphs"].get_object()) graphs.insert(std::string(field.key));
  std::set<std::string> expected{"0"};
  for (const char* path :
       {"bert", "loss", "optimizer", "bert/embeddings", "bert/encoder", "bert/pooler"})
    expected.insert(std::to_string(p.Find(path)));
  EXPECT_EQ(graphs, expected);
  std::string_view root_graph = data["graphs"]["0"].get_string();
  EXPECT_EQ(root_graph.rfind("<svg", 0), 0u) << "no XML prolog inside the page";

  // The summary names the profile and what was measured.
  EXPECT_NE(html->find("runs/bert.profile.json"), std::string::npos);
  EXPECT_EQ(data["flames"].get_array().size(), 1u);
  EXPECT_GE(data["charts"].get_array().size(), 2u) << "top ops and phases (power needs a timeline)";
}

TEST(HtmlTest, NamesThatLookLikeMarkupStayText) {
  testing::SampleBuilder b({"cpu:0/package"});
  b.Leaf("model/</script><script>alert(1)</script>", {1}, 1000, 1).Leaf("model/<!--", {2}, 1000, 1);
  const Profile p = b.Finish({1}, false);
  auto html = RenderHtml(p, HtmlOptions{});
  ASSERT_TRUE(html.ok()) << html.error().message;
  EXPECT_EQ(html->find("<script>alert"), std::string::npos);
  EXPECT_EQ(html->find("<!--"), std::string::npos);
  // Still there, as data.
  EXPECT_NE(html->find(R"(\u003c/script>\u003cscript>alert(1)\u003c/script>)"), std::string::npos);
}

TEST(HtmlTest, ReportFormatHtmlSelectsTheRoot) {
  ReportOptions o;
  o.format = ReportFormat::kHtml;
  o.root = "bert/encoder";
  o.depth = 0;
  auto html = RenderReport(SmallBert(), o);
  ASSERT_TRUE(html.ok()) << html.error().message;
  simdjson::dom::parser parser;
  simdjson::padded_string json(DataBlock(*html));
  simdjson::dom::element data;
  ASSERT_EQ(parser.parse(json).get(data), simdjson::SUCCESS);
  const int64_t encoder = SmallBert().Find("bert/encoder");
  EXPECT_EQ(int64_t(data["selected"].get_int64()), encoder);
  // --depth 0: the graph of the selected scope only.
  EXPECT_EQ(data["graphs"].get_object().size(), 1u);
  EXPECT_FALSE(data["graphs"][std::to_string(encoder)].error());
}

TEST(HtmlTest, DiffPageHoldsMatchedAndOneSidedNodes) {
  const Profile a = SmallBert("bert");
  Profile b = SmallBert("bert", 1.5);
  DiffOptions o;
  o.a_file = "bert.json";
  o.b_file = "bert-large.json";
  auto html = RenderDiffHtml(a, b, o, HtmlOptions{});
  ASSERT_TRUE(html.ok()) << html.error().message;
  simdjson::dom::parser parser;
  simdjson::padded_string json(DataBlock(*html));
  simdjson::dom::element data;
  ASSERT_EQ(parser.parse(json).get(data), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(data["kind"].get_string()), "diff");
  simdjson::dom::array rows = data["table"]["rows"].get_array();
  EXPECT_EQ(rows.size(), a.nodes.size() - 1) << "every node matched";
  for (simdjson::dom::element row : rows) {
    simdjson::dom::array r = row.get_array();
    const std::string path(std::string_view(r.at(3).get_string()));
    const double a_j = r.at(4).get_double(), b_j = r.at(5).get_double();
    EXPECT_NEAR(b_j, 1.5 * a_j, 1e-12) << path;
    EXPECT_NEAR(double(r.at(6).get_double()), b_j - a_j, 1e-12) << path;
    EXPECT_EQ(std::string_view(r.at(10).get_string()), "matched");
  }
  EXPECT_EQ(data["flames"].get_array().size(), 2u);
  EXPECT_NE(html->find("Pearson r = 1.0000"), std::string::npos);
}

}  // namespace
}  // namespace smaragdine
