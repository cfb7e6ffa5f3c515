// The flame graph and the top-ops chart of real traces: each fixture trace is
// given simulated energy (`simulate --for-trace`), accounted, and drawn by the
// CLI; the SVG must hold every node of profile.json with energy, with the
// energy profile.json says, and a width in proportion to it.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cctype>
#include <cstdlib>
#include <map>

#include "report/cli_util.h"
#include "report/svg_xml_util.h"
#include "report/text.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

using testing::ParseXml;
using testing::Slurp;
using testing::XmlElement;

int Sh(const std::string& args) {
  const std::string cmd = std::string(SMARAGDINE_BINARY) + " " + args + " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct Fixture {
  const char* file;
  const char* account_extra;  // relative traces need their anchor
};

class FlameFixtureTest : public ::testing::TestWithParam<Fixture> {};

TEST_P(FlameFixtureTest, EveryNodeOfProfileJsonIsAFrameWithItsEnergy) {
  const Fixture& f = GetParam();
  const std::string trace = std::string(SMARAGDINE_TEST_DATA) + "/fixtures/" + f.file;
  std::string name = f.file;
  name = name.substr(0, name.find('.'));
  const std::string dir = ::testing::TempDir() + "/flame_fixture_" + name;
  ASSERT_EQ(Sh("simulate --for-trace " + trace + " -o " + dir), 0);
  const std::string profile_file = dir + "/profile.json";
  ASSERT_EQ(Sh("account -q --energy " + dir + "/run --trace " + trace + " " + f.account_extra +
               " -o " + profile_file),
            0);
  ASSERT_EQ(Sh("report " + profile_file + " --format svg -o " + dir + "/flame.svg"), 0);
  auto profile = ReadProfileJson(profile_file);
  ASSERT_TRUE(profile.ok());
  const Profile& p = *profile;

  XmlElement svg;
  std::string error;
  ASSERT_TRUE(ParseXml(Slurp(dir + "/flame.svg"), svg, error)) << error;
  std::map<std::string, const XmlElement*> frames;
  double frames_w = 0;
  for (const XmlElement* g : svg.FindAll("g")) {
    if (g->HasClass("frames")) frames_w = g->Num("data-width");
    if (g->HasClass("fr")) frames[*g->Attr("data-key")] = g;
  }
  ASSERT_GT(frames_w, 0);
  ASSERT_TRUE(frames.count(""));
  const double top_j = frames[""]->Num("data-energy-j");
  EXPECT_NEAR(top_j, p.MeasuredJ(), p.MeasuredJ() * 1e-9) << "nodes + idle + other = measured";
  size_t checked = 0;
  for (const ProfileNode& n : p.nodes) {
    if (n.path.empty() || !(n.TotalJ() > 0)) continue;
    ASSERT_TRUE(frames.count(n.path)) << "no frame for " << n.path;
    const XmlElement& fr = *frames[n.path];
    EXPECT_EQ(fr.Num("data-energy-j"), n.TotalJ()) << n.path;
    const std::string tip = fr.First("title")->TextContent();
    EXPECT_NE(tip.find("\nenergy: " + report_text::Sig4(n.TotalJ()) + (n.total_ci95_j.empty() ? " J (" : " ± ")), std::string::npos)
        << tip;
    EXPECT_NEAR(fr.First("rect")->Num("width"), frames_w * n.TotalJ() / top_j, 6e-4) << n.path;
    ++checked;
  }
  EXPECT_GT(checked, 5u);

  // The top-ops chart of the same profile: ten bars, each an op of profile.json.
  ASSERT_EQ(Sh("report " + profile_file + " --format svg --chart top --top 10 -o " + dir +
               "/top.svg"),
            0);
  ASSERT_TRUE(ParseXml(Slurp(dir + "/top.svg"), svg, error)) << error;
  auto bars = svg.FindAll([](const XmlElement& e) { return e.HasClass("bar"); });
  EXPECT_EQ(bars.size(), 10u);
  for (const XmlElement* b : bars) {
    const int64_t id = p.Find(*b->Attr("data-path"));
    ASSERT_GE(id, 0) << *b->Attr("data-path");
    EXPECT_NE(p.nodes[static_cast<size_t>(id)].kind, NodeKind::kScope);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, FlameFixtureTest,
    ::testing::Values(Fixture{"pt2_bert-small_h100_inference.pt.trace.json.gz", ""},
                      Fixture{"pt2_resnet_ddp_train_v100_2024.pt.trace.json.gz", ""},
                      Fixture{"tf1_timeline_gpu_matmul_2017.json", ""},
                      // Relative timestamps: simulate puts the trace's time 0 at 1000 s.
                      Fixture{"tf2_bert-base-uncased_cpu_2021.trace.json.gz",
                              "--trace-start-ns 1000000000000"}),
    [](const ::testing::TestParamInfo<Fixture>& info) {
      std::string n = info.param.file;
      n = n.substr(0, n.find('.'));
      for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

}  // namespace
}  // namespace smaragdine
