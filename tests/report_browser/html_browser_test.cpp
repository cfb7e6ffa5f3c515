// The HTML report in a real browser: `report --format html` and `diff --format
// html` are opened in headless Chromium, and the DOM it ends with (after the
// page's JavaScript ran) must hold the node table's rows, the flame graph's
// frames, the charts and the module graph. The report's source holds none of
// these as markup (its data is JSON with '<' escaped), so finding them proves
// the page drew itself. A screenshot goes to test-output/report_browser/ in
// the build folder. Skipped, with the reason, when no Chromium is installed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t CountOf(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// Runs a shell command; its exit status (-1 when it did not exit).
int Shell(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// $SMARAGDINE_CHROMIUM, else the first of Debian's and upstream's names on PATH.
std::string FindChromium() {
  if (const char* env = std::getenv("SMARAGDINE_CHROMIUM"); env && *env)
    return access(env, X_OK) == 0 ? env : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::vector<std::string> list;
  for (std::string d; std::getline(dirs, d, ':');) list.push_back(d);
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"})
    for (const std::string& d : list)
      if (!d.empty() && access((fs::path(d) / name).c_str(), X_OK) == 0)
        return (fs::path(d) / name);
  return "";
}

class HtmlBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = FindChromium();
    if (chromium_.empty())
      GTEST_SKIP() << "no Chromium found (chromium, chromium-browser or google-chrome on PATH, or "
                      "$SMARAGDINE_CHROMIUM): install Debian's chromium "
                      "(scripts/install-deps.sh does) to run the HTML report's browser test";
    out_ = fs::absolute("test-output/report_browser");
    fs::create_directories(out_);
    profile_dir_ = fs::temp_directory_path() /
                   ("smg-chromium-" + std::to_string(getpid()) + "-" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    std::error_code ec;
    if (!profile_dir_.empty()) fs::remove_all(profile_dir_, ec);
  }

  // Chromium with a profile folder of its own (so parallel runs do not share
  // one), no sandbox (CI runs as root in a container) and no GPU.
  std::string Chromium(const std::string& flags, const fs::path& page,
                       const std::string& fragment = "") const {
    return "timeout 60 " + chromium_ + " --headless --no-sandbox --disable-gpu --hide-scrollbars " +
           "--user-data-dir=" + profile_dir_.string() + " " + flags + " 'file://" + page.string() +
           fragment + "'";
  }

  // The DOM after load, as Chromium serialises it.
  // `fragment` "#smg-selftest" has the page click the flame graph once.
  std::string DumpDom(const fs::path& page, const std::string& fragment = "") const {
    const fs::path dom = out_ / (page.stem().string() + ".dom.html");
    int rc = Shell(Chromium("--dump-dom", page, fragment) + " >" + dom.string() + " 2>" +
                   (out_ / (page.stem().string() + ".chromium.log")).string());
    EXPECT_EQ(rc, 0) << "chromium --dump-dom failed; see " << out_ / "*.chromium.log";
    return Slurp(dom);
  }

  std::string chromium_;
  fs::path out_;
  fs::path profile_dir_;
};

const std::string kProfiles = std::string(SMARAGDINE_TEST_DATA) + "/profiles/";

TEST_F(HtmlBrowserTest, ReportDrawsTableFlameGraphChartsAndModuleGraph) {
  const fs::path page = out_ / "report.html";
  ASSERT_EQ(Shell(std::string(SMARAGDINE_BINARY) + " report " + kProfiles +
                  "bert_small.json --format html -o " + page.string()),
            0);
  const std::string source = Slurp(page);
  // Nothing the test looks for below is markup in the file itself.
  ASSERT_EQ(source.find("<tr class=\"smg-row"), std::string::npos);
  ASSERT_EQ(source.find("<g class=\"fr\""), std::string::npos);
  ASSERT_EQ(source.find("class=\"smg-figure\""), std::string::npos);

  const std::string dom = DumpDom(page, "#smg-selftest");
  ASSERT_NE(dom.find("data-rendered=\"yes\""), std::string::npos)
      << "the page's script did not finish; DOM in " << out_ / "report.dom.html";
  // The flame graph's own script runs inside the page: the self-test's click
  // zoomed it, which shows its reset button.
  EXPECT_NE(dom.find("class=\"btn unzoom\" style=\"\""), std::string::npos);
  // The tree opens two levels: bert, loss, optimizer; bert's embeddings,
  // encoder and pooler; loss's CrossEntropy and optimizer's Adam; and one
  // (idle) row per domain.
  EXPECT_EQ(CountOf(dom, "<tr data-id="), 8u + 2u);
  for (const char* name : {"bert", "encoder", "embeddings", "pooler", "CrossEntropy", "Adam"})
    EXPECT_NE(dom.find(std::string("<span>") + name + "</span>"), std::string::npos) << name;
  EXPECT_NE(dom.find("<span>(idle) gpu:0</span>"), std::string::npos);
  EXPECT_NE(dom.find("<th data-col=\"0\""), std::string::npos) << "sortable header";
  EXPECT_NE(dom.find("10 of 41 nodes shown"), std::string::npos);
  // The summary.
  EXPECT_NE(dom.find("<dd>runs/bert-train</dd>"), std::string::npos);
  EXPECT_NE(dom.find("trace.unmatched_end_event: 2"), std::string::npos);
  // The flame graph: one frame per node at least, inside the flame section.
  const size_t flames = dom.find("id=\"smg-flames\"");
  ASSERT_NE(flames, std::string::npos);
  EXPECT_GE(CountOf(dom.substr(flames), "<g class=\"fr\""), 39u);
  // The charts: each an inline SVG in a figure.
  const size_t charts = dom.find("id=\"smg-charts\"");
  ASSERT_NE(charts, std::string::npos);
  EXPECT_GE(CountOf(dom.substr(charts),
                    "<figure class=\"smg-figure\"><div class=\"smg-svg-holder\"><svg"),
            2u);
  // The module graph of the top: bert, loss and optimizer.
  const size_t graph = dom.find("id=\"smg-graph\"");
  ASSERT_NE(graph, std::string::npos);
  const std::string graph_dom = dom.substr(graph, dom.find("</section>", graph) - graph);
  EXPECT_EQ(CountOf(graph_dom, "class=\"node\""), 3u) << graph_dom;

  const fs::path png = out_ / "report.png";
  fs::remove(png);
  EXPECT_EQ(Shell(Chromium("--screenshot=" + png.string() + " --window-size=1400,2000", page) +
                  " >/dev/null 2>&1"),
            0);
  const std::string shot = Slurp(png);
  ASSERT_GT(shot.size(), 10000u) << "no screenshot at " << png;
  EXPECT_EQ(shot.substr(1, 3), "PNG");
}

TEST_F(HtmlBrowserTest, DiffDrawsBothFlameGraphsAndTheComparison) {
  const fs::path page = out_ / "diff.html";
  ASSERT_EQ(
      Shell(std::string(SMARAGDINE_BINARY) + " diff " + kProfiles + "bert_small.json " + kProfiles +
            "albert_small.json --map 'albert=bert' --format html -o " + page.string()),
      0);
  const std::string dom = DumpDom(page);
  ASSERT_NE(dom.find("data-rendered=\"yes\""), std::string::npos)
      << "the page's script did not finish; DOM in " << out_ / "diff.dom.html";
  EXPECT_GE(CountOf(dom, "<tr data-id="), 3u);
  EXPECT_NE(dom.find("<span>encoder</span>"), std::string::npos);
  const size_t flames = dom.find("id=\"smg-flames\"");
  ASSERT_NE(flames, std::string::npos);
  EXPECT_EQ(CountOf(dom.substr(flames, dom.find("</section>", flames) - flames), "<svg"), 2u);
  EXPECT_NE(dom.find("Pearson r = "), std::string::npos);
}

}  // namespace
