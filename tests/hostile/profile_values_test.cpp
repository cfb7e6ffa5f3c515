// Hostile profile values (issue 17, item 2): renderers never loop or allocate
// without bound on any profile value, and a profile's energies are judged on
// reading (finite, not negative, total ≥ self). docs/security.md says what each
// case does.
//
// Before the fix, svg::NiceTicks looped forever growing memory on an infinite
// range (a 1e308 J profile gives one: power = energy / time, ×1.05 headroom),
// so each render here runs in a child with an alarm and a memory cap: on the old
// code the test fails instead of hanging.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "report/svg_util.h"
#include "smaragdine/profile.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::Ran;
using testing::TempDir;

const std::string kProfile = std::string(SMARAGDINE_TEST_DATA) + "/profiles/bert_small.json";

// Runs `fn` in a child under a 10 s alarm and a 1 GiB address-space cap; true
// when it returned (exit 0) in time.
bool FinishesInTime(const std::function<void()>& fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    struct rlimit as {1ul << 30, 1ul << 30};
    ::setrlimit(RLIMIT_AS, &as);
    ::alarm(10);
    fn();
    ::_exit(0);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// bert_small scaled so each domain's root total is 1e308 J (self ≤ total kept),
// with a power track reading 1e308 W: what a single 1e308 J reading made.
Profile AbsurdProfile() {
  Result<Profile> p = ReadProfileJson(kProfile);
  EXPECT_TRUE(p.ok());
  if (!p.ok()) return {};
  for (size_t d = 0; d < p->domains.size(); ++d) {
    const double root = p->nodes[0].total_j[d];
    const double scale = root > 0 ? 1e308 / root : 1;
    // The domain's figures too, so that energy stays conserved, as in a
    // profile smaragdine wrote from a 1e308 J reading (the reader checks it).
    p->domains[d].measured_j *= scale;
    p->domains[d].idle_j *= scale;
    p->domains[d].other_j *= scale;
    for (ProfileNode& n : p->nodes) {
      n.self_j[d] *= scale;
      n.total_j[d] *= scale;
      for (PhaseFigures& f : n.phases) {
        f.self_j[d] *= scale;
        f.total_j[d] *= scale;
      }
    }
  }
  const int64_t t0 = 1'000'000'000;
  p->timeline.power.push_back({"gpu:0", {t0, t0 + 1'000'000, t0 + 2'000'000}, {1e308, 50}});
  return std::move(*p);
}

TEST(HostileProfileValuesTest, TicksAreFewAndFiniteOnAnyRange) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<double, double>> ranges = {
      {0, inf}, {0, 1e308 * 1.05}, {-inf, inf}, {0, nan}, {nan, nan}, {-1e308, 1e308},
      {1e20, 1e20 + 1}, {0, 5e-324}, {0, 1}, {0, 47.8}};
  for (const auto& range : ranges) {
    const double lo = range.first, hi = range.second;
    EXPECT_TRUE(FinishesInTime([lo, hi] {
      std::vector<double> t = svg::NiceTicks(lo, hi, 5);
      if (t.size() > 64) ::_exit(3);
    })) << "NiceTicks(" << lo << ", " << hi << ") did not end with at most 64 ticks";
  }
  // On the fixed code, directly: few, finite, increasing, the last ≥ a finite max.
  for (const auto& [lo, hi] : ranges) {
    std::vector<double> t = svg::NiceTicks(lo, hi, 5);
    ASSERT_GE(t.size(), 2u);
    EXPECT_LE(t.size(), 64u);
    for (size_t i = 0; i < t.size(); ++i) {
      EXPECT_TRUE(std::isfinite(t[i])) << lo << ".." << hi;
      if (i > 0) EXPECT_GT(t[i], t[i - 1]) << lo << ".." << hi;
    }
    if (std::isfinite(hi) && hi <= 1e300) EXPECT_GE(t.back(), hi);
  }
  EXPECT_THAT(svg::NiceTicks(0, 47.8, 5), ::testing::ElementsAre(0, 10, 20, 30, 40, 50));
}

TEST(HostileProfileValuesTest, AbsurdProfileRendersInTime) {
  const Profile p = AbsurdProfile();
  ASSERT_FALSE(p.nodes.empty());
  EXPECT_TRUE(FinishesInTime([&] { (void)RenderPowerChart(p, -1); })) << "power chart";
  EXPECT_TRUE(FinishesInTime([&] { (void)RenderFlameSvg(p, 0, FlameOptions{}); })) << "flame";
  EXPECT_TRUE(FinishesInTime([&] { (void)RenderTopOpsChart(p, 10); })) << "top ops";
  EXPECT_TRUE(FinishesInTime([&] {
    std::vector<const Profile*> ps = {&p};
    (void)RenderPhaseChart(ps, {"absurd"});
  })) << "phases";
  EXPECT_TRUE(FinishesInTime([&] { (void)RenderHtml(p, HtmlOptions{}); })) << "html";
}

TEST(HostileProfileValuesTest, AbsurdProfileFileRendersThroughTheCli) {
  TempDir tmp;
  const Profile p = AbsurdProfile();
  const std::string json = ProfileToJson(p);
  // It is read back as it is: 1e308 is finite, and totals stay ≥ self.
  Result<Profile> back = ParseProfileJson("absurd.json", json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  const std::string path = tmp.path() + "/absurd.json";
  WriteText(path, json);
  for (std::vector<std::string> format :
       {std::vector<std::string>{"--format", "svg"}, {"--format", "svg", "--chart", "power"},
        {"--format", "svg", "--chart", "top"}, {"--format", "html"}}) {
    std::vector<std::string> args = {"/usr/bin/timeout", "10", SMARAGDINE_BINARY, "report", path};
    args.insert(args.end(), format.begin(), format.end());
    args.insert(args.end(), {"-o", tmp.path() + "/out"});
    Ran r = testing::Run(args, tmp.path());
    EXPECT_EQ(r.status, 0) << format[1] << (format.size() > 2 ? " " + format[3] : "") << ": "
                           << r.err;
  }
}

// A profile edited by hand or by someone else: each bad value is exit 2 naming
// the file, the node and the field. Before, all were accepted without a word.
TEST(HostileProfileValuesTest, BadEnergiesAreRefusedNamingNodeAndField) {
  const std::string head =
      R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","measured_j":1}],"nodes":[)"
      R"({"id":0,"parent":null,"self":{"gpu:0":0},"total":{"gpu:0":1}},)";
  struct Case {
    std::string node, message;
  };
  const std::vector<Case> cases = {
      {R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":-1},"total":{"gpu:0":1}})",
       "nodes[1] (node 'a'): 'self' of domain 'gpu:0' is negative"},
      {R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":null},"total":{"gpu:0":1}})",
       "nodes[1] (node 'a'): 'self' of domain 'gpu:0' is not a finite number"},
      {R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":0.5},"total":{"gpu:0":null}})",
       "nodes[1] (node 'a'): 'total' of domain 'gpu:0' is not a finite number"},
      {R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":2},"total":{"gpu:0":1}})",
       "nodes[1] (node 'a'): 'total' of domain 'gpu:0' (1 J) is below its 'self' (2 J)"},
      {R"({"id":1,"parent":0,"path":"a","phases":{"forward":{"self":{"gpu:0":-3}}}})",
       "nodes[1].phases.forward (node 'a'): 'self' of domain 'gpu:0' is negative"},
      // Times and calls (before: accepted).
      {R"({"id":1,"parent":0,"path":"a","time_ns":-5})", "nodes[1] (node 'a'): 'time_ns' is negative"},
      {R"({"id":1,"parent":0,"path":"a","calls":-1})", "nodes[1] (node 'a'): 'calls' is negative"},
      {R"({"id":1,"parent":0,"path":"a","phases":{"backward":{"time_ns":-1}}})",
       "nodes[1].phases.backward (node 'a'): 'time_ns' is negative"},
      // The tree (before: accepted): children holding more than their parent.
      {R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":0.5},"total":{"gpu:0":0.5}},)"
       R"({"id":2,"parent":1,"path":"a/b","self":{"gpu:0":0.4},"total":{"gpu:0":0.4}})",
       "nodes[1] (node 'a'): its 'self' (0.5 J) and its children's totals (0.4 J) of domain "
       "'gpu:0' add up to more than its 'total' (0.5 J)"},
      {R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":0.7},"total":{"gpu:0":0.7}},)"
       R"({"id":2,"parent":0,"path":"b","self":{"gpu:0":0.7},"total":{"gpu:0":0.7}})",
       "nodes[0] (the root): its 'self' (0 J) and its children's totals (1.4 J) of domain "
       "'gpu:0' add up to more than its 'total' (1 J)"},
  };
  for (const Case& c : cases) {
    Result<Profile> r = ParseProfileJson("p.json", head + c.node + "]}");
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.error().file, "p.json") << c.message;
    EXPECT_THAT(r.error().message, HasSubstr(c.message));
  }
  // Rounding is not an error: a total a hair below its self. (The root holds
  // 0.7 J itself, so that it is conserved.)
  const std::string conserving_head =
      R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","measured_j":1}],"nodes":[)"
      R"({"id":0,"parent":null,"self":{"gpu:0":0.7},"total":{"gpu:0":1}},)";
  EXPECT_TRUE(ParseProfileJson("p.json", conserving_head +
                                             R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":)"
                                             R"(0.30000000000000004},"total":{"gpu:0":0.3}}]})")
                  .ok());
  // A leaf at a depth cut keeps its dropped descendants' energy: less in its
  // self than its total is fine.
  EXPECT_TRUE(ParseProfileJson("p.json", conserving_head +
                                             R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":)"
                                             R"(0.1},"total":{"gpu:0":0.3}}]})")
                  .ok());
  // Conservation: the root's total plus idle is the measured energy.
  Result<Profile> more = ParseProfileJson(
      "p.json",
      R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","measured_j":1,"idle_j":0.5}],)"
      R"("nodes":[{"id":0,"parent":null,"self":{"gpu:0":1},"total":{"gpu:0":1}}]})");
  ASSERT_FALSE(more.ok());
  EXPECT_THAT(more.error().message,
              HasSubstr("nodes[0] (the root): domain 'gpu:0': the root's total (1 J) plus idle "
                        "(0.5 J) plus other processes (0 J) is 1.5 J, more than the measured 1 J"));
  Result<Profile> less = ParseProfileJson(
      "p.json",
      R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","measured_j":3}],)"
      R"("nodes":[{"id":0,"parent":null,"self":{"gpu:0":1},"total":{"gpu:0":1}}]})");
  ASSERT_FALSE(less.ok());
  EXPECT_THAT(less.error().message, HasSubstr("less than the measured 3 J"));
  // Under --root the root is a subtree (it has a path): at most the measured.
  EXPECT_TRUE(ParseProfileJson(
                  "p.json",
                  R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","measured_j":3}],)"
                  R"("nodes":[{"id":0,"parent":null,"path":"a","self":{"gpu:0":1},"total":{"gpu:0":1}}]})")
                  .ok());
  // Domain figures and power tracks too.
  Result<Profile> measured = ParseProfileJson(
      "p.json",
      R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","measured_j":-5}],"nodes":[]})");
  ASSERT_FALSE(measured.ok());
  EXPECT_THAT(measured.error().message, HasSubstr("'measured_j'"));
  Result<Profile> baseline = ParseProfileJson(
      "p.json",
      R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","baseline_w":-5}],"nodes":[]})");
  ASSERT_FALSE(baseline.ok());
  EXPECT_THAT(baseline.error().message, HasSubstr("'baseline_w'"));

  // End to end: exit 2 naming the file and the node.
  TempDir tmp;
  const std::string path = tmp.path() + "/negative.json";
  WriteText(path, head + cases[0].node + "]}");
  Ran r = testing::Run({SMARAGDINE_BINARY, "report", path}, tmp.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(path));
  EXPECT_THAT(r.err, HasSubstr("nodes[1] (node 'a'): 'self' of domain 'gpu:0' is negative"));
}

// Conservation inside the tree (issue 17, item 2): a node with children holds
// exactly its self plus its children's totals, per domain. Before: only "not
// more than" was checked, so a parent claiming more than its children and
// itself (the rest of the energy nowhere in the tree) was accepted, and every
// report showed children whose shares do not add up to their parent's.
TEST(HostileProfileValuesTest, InnerNodeTotalIsItsSelfPlusItsChildren) {
  auto profile = [](const std::string& root_self, const std::string& a,
                    const std::string& b) {
    return R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","measured_j":1},)"
           R"({"name":"cpu:0","measured_j":2}],"nodes":[)"
           R"({"id":0,"parent":null,"self":{"gpu:0":)" + root_self +
           R"(,"cpu:0":2},"total":{"gpu:0":1,"cpu:0":2}},)"
           R"({"id":1,"parent":0,"path":"a",)" + a + "}," +
           R"({"id":2,"parent":1,"path":"a/b",)" + b + "}]}";
  };
  // a: 0.1 J itself, its child 0.2 J, and a total of 0.9 J.
  Result<Profile> less = ParseProfileJson(
      "p.json", profile("0.1", R"("self":{"gpu:0":0.1},"total":{"gpu:0":0.9})",
                        R"("self":{"gpu:0":0.2},"total":{"gpu:0":0.2})"));
  ASSERT_FALSE(less.ok());
  EXPECT_EQ(less.error().file, "p.json");
  EXPECT_THAT(less.error().message,
              HasSubstr("nodes[1] (node 'a'): its 'self' (0.1 J) and its children's totals "
                        "(0.2 J) of domain 'gpu:0' add up to 0.30000000000000004 J, less than "
                        "its 'total' (0.9 J)"));
  // The root too: 0.3 J in the tree under a root that says 1 J (and holds 0).
  Result<Profile> root = ParseProfileJson(
      "p.json", profile("0", R"("self":{"gpu:0":0.1},"total":{"gpu:0":0.3})",
                        R"("self":{"gpu:0":0.2},"total":{"gpu:0":0.2})"));
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(root.error().message,
              HasSubstr("nodes[0] (the root): its 'self' (0 J) and its children's totals "
                        "(0.3 J) of domain 'gpu:0' add up to 0.3 J, less than its 'total' (1 J)"));
  // Each domain on its own: gpu conserved, cpu not (a claims 1 J of cpu that
  // neither it nor its child holds; the root holds the other 1 J itself).
  Result<Profile> domain = ParseProfileJson(
      "p.json",
      R"({"format":"smaragdine-profile/1","domains":[{"name":"gpu:0","measured_j":1},)"
      R"({"name":"cpu:0","measured_j":2}],"nodes":[)"
      R"({"id":0,"parent":null,"self":{"gpu:0":0.7,"cpu:0":1},"total":{"gpu:0":1,"cpu:0":2}},)"
      R"({"id":1,"parent":0,"path":"a","self":{"gpu:0":0.1},"total":{"gpu:0":0.3,"cpu:0":1}},)"
      R"({"id":2,"parent":1,"path":"a/b","self":{"gpu:0":0.2},"total":{"gpu:0":0.2}}]})");
  ASSERT_FALSE(domain.ok());
  EXPECT_THAT(domain.error().message,
              HasSubstr("nodes[1] (node 'a'): its 'self' (0 J) and its children's totals (0 J) "
                        "of domain 'cpu:0' add up to 0 J, less than its 'total' (1 J)"));

  // Accepted: exact, rounding (1e-7 relative off), and a leaf at a depth cut
  // whose total holds its dropped descendants (b: 0.05 J itself, 0.2 J total).
  EXPECT_TRUE(ParseProfileJson("p.json",
                               profile("0.7", R"("self":{"gpu:0":0.1},"total":{"gpu:0":0.3})",
                                       R"("self":{"gpu:0":0.2},"total":{"gpu:0":0.2})"))
                  .ok());
  EXPECT_TRUE(ParseProfileJson("p.json",
                               profile("0.69999997",
                                       R"("self":{"gpu:0":0.1},"total":{"gpu:0":0.30000003})",
                                       R"("self":{"gpu:0":0.2},"total":{"gpu:0":0.2})"))
                  .ok());
  EXPECT_TRUE(ParseProfileJson("p.json",
                               profile("0.7", R"("self":{"gpu:0":0.1},"total":{"gpu:0":0.3})",
                                       R"("self":{"gpu:0":0.05},"total":{"gpu:0":0.2})"))
                  .ok());

  // End to end: exit 2 naming the file and the node's path.
  TempDir tmp;
  const std::string path = tmp.path() + "/leaky.json";
  WriteText(path, profile("0.1", R"("self":{"gpu:0":0.1},"total":{"gpu:0":0.9})",
                          R"("self":{"gpu:0":0.2},"total":{"gpu:0":0.2})"));
  Ran r = testing::Run({SMARAGDINE_BINARY, "report", path}, tmp.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(path));
  EXPECT_THAT(r.err, HasSubstr("nodes[1] (node 'a')"));
  EXPECT_THAT(r.err, HasSubstr("less than its 'total'"));
}

// What smaragdine writes reads back under the conservation check: the fixture
// profile, and what report makes of it as json (--depth cuts, --root
// subtrees, --fold/--map merges, one --domain).
TEST(HostileProfileValuesTest, ProfilesSmaragdineWritesAreConserved) {
  TempDir tmp;
  const std::vector<std::vector<std::string>> variants = {
      {},
      {"--depth", "0"},
      {"--depth", "1"},
      {"--depth", "3"},
      {"--map", "^bert/encoder/=bert/"},
      {"--map", "(.*)/[^/]*=$1"},
      {"--fold", "layer_\\d+"},
      {"--map", "attention/="},
      {"--root", "bert/encoder", "--depth", "2"},
      {"--domain", "cpu:0/package"},
  };
  int i = 0;
  for (const std::vector<std::string>& extra : variants) {
    const std::string out = tmp.path() + "/v" + std::to_string(i++) + ".json";
    std::vector<std::string> args = {SMARAGDINE_BINARY, "report", kProfile, "--format", "json",
                                     "-o", out};
    args.insert(args.end(), extra.begin(), extra.end());
    Ran w = testing::Run(args, tmp.path());
    if (w.status != 0) {
      ADD_FAILURE() << ::testing::PrintToString(extra) << ": " << w.err;
      continue;
    }
    Ran r = testing::Run({SMARAGDINE_BINARY, "report", out}, tmp.path());
    EXPECT_EQ(r.status, 0) << ::testing::PrintToString(extra) << ": " << r.err;
  }
}

}  // namespace
}  // namespace smaragdine
