// Path rules, FoldProfile, domain restriction, suggestions, folded stacks and diff.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "report/sample_profile.h"
#include "smaragdine/report.h"

namespace smaragdine {
namespace {

using testing::SampleBuilder;
using testing::SmallBert;

std::vector<PathRule> Rules(std::initializer_list<const char*> folds,
                            std::initializer_list<const char*> maps = {}) {
  std::vector<PathRule> rules;
  for (const char* f : folds) rules.push_back(*ParseFoldRule(f));
  for (const char* m : maps) rules.push_back(*ParseMapRule(m));
  return rules;
}

const ProfileNode& NodeAt(const Profile& p, const std::string& path) {
  int64_t i = p.Find(path);
  EXPECT_GE(i, 0) << path;
  return p.nodes[static_cast<size_t>(std::max<int64_t>(i, 0))];
}

// Conservation: per domain, root total plus idle equals measured.
void ExpectConserved(const Profile& p) {
  for (size_t d = 0; d < p.domains.size(); ++d)
    EXPECT_NEAR(p.nodes[0].total_j[d] + p.domains[d].idle_j, p.domains[d].measured_j,
                1e-9 * p.domains[d].measured_j)
        << p.domains[d].name;
}

TEST(PathRuleTest, FoldReplacesDigitsInsideMatchesPerComponent) {
  auto fold = Rules({R"(layer_\d+)"});
  EXPECT_EQ(RewritePath("bert/encoder/layer_3/attention", fold), "bert/encoder/layer_*/attention");
  EXPECT_EQ(RewritePath("bert/encoder/layer_12/output", fold), "bert/encoder/layer_*/output");
  // Digits outside a match stay.
  EXPECT_EQ(RewritePath("block2/layer_3/conv1", fold), "block2/layer_*/conv1");
  EXPECT_EQ(RewritePath("tf_bert/encoder/layer_._4/intermediate", Rules({R"(layer_._\d+)"})),
            "tf_bert/encoder/layer_._*/intermediate");
  // Anchors apply to one component at a time.
  EXPECT_EQ(RewritePath("conv_1/relu_2", Rules({R"(^\w+_\d+$)"})), "conv_*/relu_*");
}

TEST(PathRuleTest, MapRewritesTheWholePathWithGroups) {
  EXPECT_EQ(RewritePath("albert/encoder/x", Rules({}, {"albert=bert"})), "bert/encoder/x");
  EXPECT_EQ(RewritePath("m/layer_3/y", Rules({}, {R"(layer_(\d+)=block$1)"})), "m/block3/y");
  // Folds first, then maps, in the order given.
  EXPECT_EQ(RewritePath("albert/layer_3", Rules({R"(layer_\d+)"}, {"albert/=", "layer=L"})),
            "L_*");
}

TEST(PathRuleTest, BadRulesAreUsageErrors) {
  auto bad_regex = ParseFoldRule("layer_(");
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_EQ(bad_regex.error().code, ErrorCode::kUsage);
  EXPECT_NE(bad_regex.error().message.find("layer_("), std::string::npos);
  auto no_eq = ParseMapRule("albert");
  ASSERT_FALSE(no_eq.ok());
  EXPECT_EQ(no_eq.error().code, ErrorCode::kUsage);
  EXPECT_NE(no_eq.error().message.find("RE=REPLACEMENT"), std::string::npos);
  // '=' inside a lookahead belongs to the regex, which refuses lookaround
  // (RE2) and says how to write the rule without it.
  auto look = ParseMapRule("a(?=b)=c");
  ASSERT_FALSE(look.ok());
  EXPECT_EQ(look.error().code, ErrorCode::kUsage);
  EXPECT_NE(look.error().message.find("'a(?=b)'"), std::string::npos) << look.error().message;
  EXPECT_NE(look.error().message.find("lookaround is not supported"), std::string::npos)
      << look.error().message;
  auto backref = ParseFoldRule(R"((a)\1)");
  ASSERT_FALSE(backref.ok());
  EXPECT_NE(backref.error().message.find("backreferences"), std::string::npos)
      << backref.error().message;
  // What the lookahead was for, written as the message says.
  EXPECT_EQ(RewritePath("ab/a", Rules({}, {"a(b)=c$1"})), "cb/a");
  EXPECT_EQ(RewritePath("albert/x", Rules({}, {"^albert(/|$)=bert$1"})), "bert/x");
  EXPECT_EQ(RewritePath("albert", Rules({}, {"^albert(/|$)=bert$1"})), "bert");
  EXPECT_EQ(RewritePath("alberta/x", Rules({}, {"^albert(/|$)=bert$1"})), "alberta/x");
  // An escaped '=' stays in the regex.
  EXPECT_EQ(RewritePath("a=b", Rules({}, {R"(a\==c)"})), "cb");
}

// The replacement reads as std::regex_replace read it before RE2 took over.
TEST(PathRuleTest, MapReplacementSyntaxIsKept) {
  const std::string p = "m/layer_3/y";
  EXPECT_EQ(RewritePath(p, Rules({}, {R"(layer_(\d+)=[$&])"})), "m/[layer_3]/y");
  EXPECT_EQ(RewritePath(p, Rules({}, {R"(layer_(\d+)=$$1)"})), "m/$1/y");
  EXPECT_EQ(RewritePath(p, Rules({}, {R"(layer_(\d+)=<$`>)"})), "m/<m/>/y");
  EXPECT_EQ(RewritePath(p, Rules({}, {R"(layer_(\d+)=<$'>)"})), "m/</y>/y");
  // A group that does not exist, or did not take part, is empty; "$x" is itself.
  // ((z)? would not do: "?=" does not split the rule.)
  EXPECT_EQ(RewritePath(p, Rules({}, {R"(layer_(\d+)(z)*=a$2b$9c$x)"})), "m/abc$x/y");
  // Two digits name group 12 when it exists, else nothing.
  EXPECT_EQ(RewritePath("abcdefghijkl", Rules({}, {"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)=$12$1"})),
            "la");
  // Every match, left to right; empty matches as std::regex_replace finds them.
  EXPECT_EQ(RewritePath("a/b/c", Rules({}, {"/=."})), "a.b.c");
  EXPECT_EQ(RewritePath("abc", Rules({}, {"x*=-"})), "-a-b-c-");
  EXPECT_EQ(RewritePath("a/b", Rules({}, {"^=>"})), ">a/b");
  EXPECT_EQ(RewritePath("a/b", Rules({}, {"$=<"})), "a/b<");
}

// A rule that made std::regex backtrack on a long path (`(.*)(.*)b` on 1000
// bytes took 21 s; on 4000 bytes it would take hours) now finishes at once:
// the result is asserted, ctest's timeout would catch a return of the old engine.
TEST(PathRuleTest, PathologicalRuleOnALongPathFinishes) {
  const std::string no_b(4000, 'a');
  EXPECT_EQ(RewritePath(no_b, Rules({}, {"(.*)(.*)b=x"})), no_b);
  const std::string ends_in_b = std::string(3999, 'a') + "b";
  EXPECT_EQ(RewritePath(ends_in_b, Rules({}, {"(.*)(.*)b=<$2|$1>"})),
            "<|" + std::string(3999, 'a') + ">");
  std::string comps;
  for (int i = 0; i < 1000; ++i) comps += "layer_" + std::to_string(i) + "/";
  EXPECT_EQ(RewritePath(comps, Rules({R"((\w*)*_\d+)"})).find_first_of("0123456789"),
            std::string::npos);
}

TEST(FoldProfileTest, MergesLayersAndAddsTheirFigures) {
  Profile p = SmallBert();
  Profile f = FoldProfile(p, Rules({R"(layer_\d+)"}));
  ExpectConserved(f);
  EXPECT_EQ(f.Find("bert/encoder/layer_0"), -1);
  const ProfileNode& merged = NodeAt(f, "bert/encoder/layer_*/attention/self/query/MatMul");
  const ProfileNode& l0 = NodeAt(p, "bert/encoder/layer_0/attention/self/query/MatMul");
  const ProfileNode& l1 = NodeAt(p, "bert/encoder/layer_1/attention/self/query/MatMul");
  for (size_t d = 0; d < 2; ++d) {
    EXPECT_DOUBLE_EQ(merged.self_j[d], l0.self_j[d] + l1.self_j[d]);
    EXPECT_DOUBLE_EQ(merged.total_j[d], l0.total_j[d] + l1.total_j[d]);
    EXPECT_DOUBLE_EQ(merged.phases[1].total_j[d], l0.phases[1].total_j[d] + l1.phases[1].total_j[d]);
    EXPECT_DOUBLE_EQ(merged.total_static_j[d], l0.total_static_j[d] + l1.total_static_j[d]);
  }
  EXPECT_EQ(merged.kind, NodeKind::kOp);
  EXPECT_EQ(merged.time_ns, l0.time_ns + l1.time_ns);
  EXPECT_EQ(merged.calls, l0.calls + l1.calls);
  EXPECT_DOUBLE_EQ(merged.steps.mean_j, l0.steps.mean_j + l1.steps.mean_j);
  EXPECT_DOUBLE_EQ(merged.steps.std_j, std::hypot(l0.steps.std_j, l1.steps.std_j));
  // The scope above is the sum of both layers, and the encoder is unchanged.
  const ProfileNode& layer = NodeAt(f, "bert/encoder/layer_*");
  EXPECT_DOUBLE_EQ(layer.TotalJ(), NodeAt(p, "bert/encoder/layer_0").TotalJ() +
                                       NodeAt(p, "bert/encoder/layer_1").TotalJ());
  EXPECT_DOUBLE_EQ(NodeAt(f, "bert/encoder").TotalJ(), NodeAt(p, "bert/encoder").TotalJ());
  EXPECT_EQ(NodeAt(f, "bert/encoder").time_ns, NodeAt(p, "bert/encoder").time_ns);
  // Parents still come before children.
  for (size_t i = 1; i < f.nodes.size(); ++i) EXPECT_LT(f.nodes[i].parent, static_cast<int64_t>(i));
}

TEST(FoldProfileTest, NodeMergedIntoItsParentIsNotCountedTwice) {
  // Mapping "wrapper/" away merges model/wrapper into model: the energy of
  // model/wrapper/op must appear once in model's total.
  SampleBuilder b({"cpu:0/package"});
  b.Leaf("model/wrapper/op", {2.0}, 1000, 1).Leaf("model/other", {1.0}, 500, 1);
  Profile p = b.Finish({0.5}, false);
  Profile f = FoldProfile(p, Rules({}, {"wrapper/="}));
  ExpectConserved(f);
  EXPECT_DOUBLE_EQ(NodeAt(f, "model").TotalJ(), 3.0);
  EXPECT_DOUBLE_EQ(NodeAt(f, "model/op").TotalJ(), 2.0);
  EXPECT_EQ(NodeAt(f, "model").time_ns, 1500);
}

TEST(FoldProfileTest, MovedSubtreeGetsNewScopesWithChildrenTime) {
  SampleBuilder b({"cpu:0/package"});
  b.Leaf("a/x/op", {2.0}, 1000, 1).Leaf("a/y", {1.0}, 500, 1);
  Profile p = b.Finish({0.0}, false);
  Profile f = FoldProfile(p, Rules({}, {"^a/x=b/x"}));
  ExpectConserved(f);
  EXPECT_DOUBLE_EQ(NodeAt(f, "a").TotalJ(), 1.0);
  EXPECT_DOUBLE_EQ(NodeAt(f, "b").TotalJ(), 2.0);
  EXPECT_EQ(NodeAt(f, "b").kind, NodeKind::kScope);
  EXPECT_EQ(NodeAt(f, "b").time_ns, 1000);
}

TEST(FoldProfileTest, ConservationHoldsOnRandomRules) {
  // Many rule sets, including ones that collapse everything: conservation must hold.
  const char* maps[] = {"layer_\\d+/=", "^bert=x", "/.*=",      "self/=",
                        "[aeiou]=",     "^=pre/",  "MatMul=op", "dense/MatMul=dense"};
  Profile p = SmallBert();
  for (const char* m : maps) {
    SCOPED_TRACE(m);
    Profile f = FoldProfile(p, Rules({R"(\d+)"}, {m}));
    ExpectConserved(f);
    double self_sum = 0;
    for (const ProfileNode& n : f.nodes) self_sum += n.SelfJ();
    EXPECT_NEAR(self_sum, p.nodes[0].TotalJ(), 1e-12);
  }
}

TEST(RestrictToDomainTest, KeepsOneDomain) {
  Profile p = SmallBert();
  auto gpu = RestrictToDomain(p, "gpu:0", "bert.json");
  ASSERT_TRUE(gpu.ok());
  ASSERT_EQ(gpu->domains.size(), 1u);
  EXPECT_EQ(gpu->domains[0].name, "gpu:0");
  EXPECT_DOUBLE_EQ(NodeAt(*gpu, "bert").TotalJ(), NodeAt(p, "bert").total_j[1]);
  EXPECT_EQ(NodeAt(*gpu, "bert").steps.n, 0);  // per-step energy is not per domain
  auto none = RestrictToDomain(p, "gpu:7", "bert.json");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(none.error().ToString(),
            "no domain 'gpu:7' in bert.json (it has: cpu:0/package, gpu:0)");
}

TEST(ReportTest, UnknownRootSuggestsClosePaths) {
  ReportOptions o;
  o.file = "bert.json";
  o.root = "layer_1/attention";
  auto r = RenderReport(SmallBert(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(r.error().ToString(),
            "no node 'layer_1/attention' in bert.json (did you mean "
            "'bert/encoder/layer_1/attention', 'bert/encoder/layer_0/attention', "
            "'bert/encoder/layer_1/attention/self'?)");
  o.root = "bert/encoder/layer_1/";  // a trailing slash is fine
  EXPECT_TRUE(RenderReport(SmallBert(), o).ok());
}

TEST(ReportTest, FoldedStacksConserveMicrojoules) {
  Profile p = SmallBert();
  ReportOptions o;
  o.format = ReportFormat::kFolded;
  auto text = RenderReport(p, o);
  ASSERT_TRUE(text.ok());
  std::istringstream in(*text);
  std::string line;
  int64_t sum = 0;
  int lines = 0;
  while (std::getline(in, line)) {
    size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos);
    if (line.rfind("(idle);", 0) != 0)
      EXPECT_EQ(line.find('/'), std::string::npos) << "frames are separated by ';': " << line;
    sum += std::stoll(line.substr(space + 1));
    ++lines;
  }
  EXPECT_EQ(sum, std::llround(p.MeasuredJ() * 1e6));
  EXPECT_EQ(lines, 15 + 2);  // 15 ops and kernels with energy, 2 idle domains
}

TEST(ReportTest, CsvHasOneRowPerNodeAndEqualFieldCounts) {
  Profile p = SmallBert();
  ReportOptions o;
  o.format = ReportFormat::kCsv;
  auto text = RenderReport(p, o);
  ASSERT_TRUE(text.ok());
  std::istringstream in(*text);
  std::string line;
  std::getline(in, line);
  const auto fields = std::count(line.begin(), line.end(), ',');
  EXPECT_NE(line.find(",energy_j[gpu:0]"), std::string::npos);
  size_t rows = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), fields) << line;
    ++rows;
  }
  EXPECT_EQ(rows, p.nodes.size() - 1 + p.domains.size());  // all but the root, plus (idle)
}

TEST(DiffTest, MatchesByRewrittenPathAndCorrelatesLeaves) {
  Profile a = SmallBert("bert");
  Profile b = SmallBert("albert", 2.0);
  DiffOptions o;
  o.rules = Rules({}, {"^albert=bert"});
  ProfileDiff d = DiffProfiles(a, b, o);
  EXPECT_TRUE(d.only_a.empty());
  EXPECT_TRUE(d.only_b.empty());
  EXPECT_EQ(d.matched.size(), a.nodes.size() - 1);
  EXPECT_EQ(d.matched_leaves, 13);
  EXPECT_NEAR(d.leaf_correlation, 1.0, 1e-12);  // B is A scaled by 2
  // The largest difference first: the whole model.
  EXPECT_EQ(d.matched[0].path, "bert");
  EXPECT_DOUBLE_EQ(d.matched[0].DeltaJ(), NodeAt(a, "bert").TotalJ());
  EXPECT_DOUBLE_EQ(d.matched[0].Ratio(), 2.0);
  for (size_t i = 1; i < d.matched.size(); ++i)
    EXPECT_GE(std::fabs(d.matched[i - 1].DeltaJ()), std::fabs(d.matched[i].DeltaJ()));
}

TEST(DiffTest, WithoutMapNothingUnderTheModelMatches) {
  ProfileDiff d = DiffProfiles(SmallBert("bert"), SmallBert("albert"), DiffOptions{});
  // Only the topmost unmatched node of each subtree is listed.
  ASSERT_EQ(d.only_a.size(), 1u);
  EXPECT_EQ(d.only_a[0].path, "bert");
  ASSERT_EQ(d.only_b.size(), 1u);
  EXPECT_EQ(d.only_b[0].path, "albert");
  EXPECT_EQ(d.matched.size(), 4u);  // loss, loss/CrossEntropy, optimizer, optimizer/Adam
  EXPECT_NEAR(d.leaf_correlation, 1.0, 1e-12);
  EXPECT_EQ(d.matched_leaves, 2);
}

TEST(DiffTest, CorrelationOfKnownValues) {
  SampleBuilder a({"gpu:0"}), b({"gpu:0"});
  a.Leaf("m/x", {1}, 1, 1).Leaf("m/y", {2}, 1, 1).Leaf("m/z", {3}, 1, 1);
  b.Leaf("m/x", {2}, 1, 1).Leaf("m/y", {1}, 1, 1).Leaf("m/z", {4}, 1, 1);
  ProfileDiff d = DiffProfiles(a.Finish({0}, false), b.Finish({0}, false), DiffOptions{});
  // x = (1,2,3), y = (2,1,4): r = 3 / sqrt(2 * 4.6667) = 0.6547
  EXPECT_NEAR(d.leaf_correlation, 0.6546536707, 1e-9);
}

}  // namespace
}  // namespace smaragdine
