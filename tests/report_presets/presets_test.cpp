// The albert-to-bert path preset lines an ALBERT profile up with BERT's, node by node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "report/sample_profile.h"
#include "smaragdine/report.h"
#include "smaragdine/report_presets.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::SampleBuilder;

// A two-layer model with the scopes the built-in models use; `albert` adds the
// factorized embedding's projection under the encoder.
Profile Model(const std::string& root, double scale, bool albert) {
  SampleBuilder b({"cpu:0/package"});
  b.Leaf(root + "/embeddings/word_embeddings/aten::embedding", {1 * scale}, 100, 1);
  b.Leaf(root + "/embeddings/LayerNorm/aten::layer_norm", {0.5 * scale}, 100, 1);
  if (albert) b.Leaf(root + "/encoder/embedding_hidden_mapping_in/aten::linear", {0.25}, 100, 1);
  for (const char* layer : {"layer_0", "layer_1"}) {
    std::string l = root + "/encoder/" + layer;
    b.Leaf(l + "/attention/self/query/aten::linear", {2 * scale}, 100, 1, 0.5);
    b.Leaf(l + "/intermediate/dense/aten::linear", {4 * scale}, 100, 1, 0.5);
  }
  b.Leaf(root + "/pooler/dense/aten::linear", {0.5 * scale}, 100, 1);
  b.Leaf("cls/predictions/decoder/aten::matmul", {3 * scale}, 100, 1, 0.5);
  return b.Finish({1.0}, false);
}

TEST(PresetsTest, AlbertToBertMatchesEveryBertNode) {
  auto rules = PathRulePreset("albert-to-bert");
  ASSERT_TRUE(rules.ok());
  DiffOptions o;
  o.rules = *rules;
  ProfileDiff d = DiffProfiles(Model("bert", 1.0, false), Model("albert", 0.5, true), o);
  EXPECT_TRUE(d.only_a.empty());
  // The projection is the one thing BERT lacks, and it lands under embeddings.
  ASSERT_EQ(d.only_b.size(), 1u);  // the top of an unmatched subtree stands for it
  EXPECT_EQ(d.only_b[0].path, "bert/embeddings/embedding_hidden_mapping_in");
  for (const DiffRow& r : d.matched) {
    if (r.path == "bert/embeddings") {
      EXPECT_DOUBLE_EQ(r.a_j, 1.5);
      EXPECT_DOUBLE_EQ(r.b_j, 0.75 + 0.25);
    }
    if (r.path == "cls/predictions/decoder/aten::matmul") EXPECT_DOUBLE_EQ(r.b_j, 1.5);
  }
  EXPECT_NEAR(d.leaf_correlation, 1.0, 1e-12);  // ALBERT here is BERT at half the energy
}

// Merged nodes keep power = energy / time: the projection moved under
// bert/embeddings brings its time with its energy (issue 16: ALBERT's
// embeddings read 73 W in a run where every node drew ~25 W).
TEST(PresetsTest, NodesMovedByThePresetBringTheirTime) {
  auto rules = PathRulePreset("albert-to-bert");
  ASSERT_TRUE(rules.ok());
  const Profile albert = Model("albert", 0.5, true);
  const Profile mapped = MergeNodesByPath(albert, [&](const std::string& path) {
    return RewritePath(path, *rules);
  });
  const int64_t e = mapped.Find("bert/embeddings");
  const int64_t proj = mapped.Find("bert/embeddings/embedding_hidden_mapping_in");
  const int64_t before = albert.Find("albert/embeddings");
  ASSERT_GE(e, 0);
  ASSERT_GE(proj, 0);
  ASSERT_GE(before, 0);
  EXPECT_EQ(mapped.nodes[e].time_ns,
            albert.nodes[before].time_ns + mapped.nodes[proj].time_ns);
  EXPECT_DOUBLE_EQ(mapped.nodes[e].TotalJ(), 0.75 + 0.25);
  // The encoder lost the projection: its energy and its time.
  const int64_t enc_before = albert.Find("albert/encoder");
  const int64_t enc = mapped.Find("bert/encoder");
  EXPECT_EQ(mapped.nodes[enc].time_ns,
            albert.nodes[enc_before].time_ns - mapped.nodes[proj].time_ns);
  // The root already held both: its time is unchanged.
  EXPECT_EQ(mapped.nodes[0].time_ns, albert.nodes[0].time_ns);
}

TEST(PresetsTest, PresetPathsAreWholeComponents) {
  auto rules = PathRulePreset("albert-to-bert");
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(RewritePath("albert/encoder/layer_3/output/dense", *rules),
            "bert/encoder/layer_3/output/dense");
  EXPECT_EQ(RewritePath("albert", *rules), "bert");
  // Not a component named albert: left alone.
  EXPECT_EQ(RewritePath("albertina/encoder", *rules), "albertina/encoder");
  EXPECT_EQ(RewritePath("cls/seq_relationship", *rules), "cls/seq_relationship");
}

TEST(PresetsTest, UnknownPresetNamesTheKnownOnes) {
  auto r = PathRulePreset("gpt-to-bert");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUsage);
  EXPECT_THAT(r.error().message, HasSubstr("albert-to-bert"));
}

TEST(PresetsTest, DiffCliTakesThePreset) {
  Profile bert = Model("bert", 1.0, false), albert = Model("albert", 0.5, true);
  std::string dir = ::testing::TempDir();
  ASSERT_TRUE(WriteProfileJson(bert, dir + "/bert.json").ok());
  ASSERT_TRUE(WriteProfileJson(albert, dir + "/albert.json").ok());
  std::string cmd = std::string(SMARAGDINE_BINARY) + " diff " + dir + "/bert.json " + dir +
                    "/albert.json --preset albert-to-bert --depth 2 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  EXPECT_EQ(pclose(f), 0) << out;
  EXPECT_THAT(out, HasSubstr("bert/encoder"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("albert/")));
  std::string bad = std::string(SMARAGDINE_BINARY) + " diff " + dir + "/bert.json " + dir +
                    "/albert.json --preset nope 2>&1";
  f = popen(bad.c_str(), "r");
  out.clear();
  while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  EXPECT_EQ(WEXITSTATUS(pclose(f)), 1);
  EXPECT_THAT(out, HasSubstr("unknown preset 'nope'"));
}

}  // namespace
}  // namespace smaragdine
