// The process share: a measured CPU domain's energy split between the recorded
// process tree and the machine's other processes by CPU time (issue 3, item 5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "account/attribute_fixture_util.h"
#include "account/process_share.h"
#include "smaragdine/account.h"
#include "smaragdine/report.h"

namespace smaragdine {
namespace {

constexpr int64_t T = 100'000'000;  // 100 ms: the shortest interval the share is taken over
constexpr int64_t kMs = 1'000'000;

// The fixture of the attribution tests, with its log named as a recorded
// run's is, and the CPU-time samples the share is taken from.
struct Fixture : testing::AttributeFixture {
  Fixture() : AttributeFixture("run") {}
  void CpuTime(std::vector<int64_t> t, std::vector<int64_t> tree, std::vector<int64_t> busy) {
    log.cpu_time.t_ns = std::move(t);
    log.cpu_time.tree_ns = std::move(tree);
    log.cpu_time.machine_busy_ns = std::move(busy);
    log.cpu_time.threads = 3;
  }
};

using testing::SelfJ;

// The worked example of docs/attribution.md ("Process share").
//   energy   0 ─10 J─ T ─10 J─ 2T ─20 J─ 3T ─20 J─ 4T     (readings at 0, 2T, 4T)
//   tree CPU    50 ms     100 ms     0 ms       50 ms
//   busy CPU   100 ms     100 ms     0 ms      200 ms
//   share       0.5        1          1 (none)  0.25
//   tree J      5          10         20        5          other: 5 + 0 + 0 + 15 = 20 J
//   ops: A [0, 3T) and B [0, T) on two CPU lanes; C [3.5T, 4T); [3T, 3.5T) idle.
Fixture WorkedExample() {
  Fixture f;
  const uint32_t a = f.AddLane("CPU:0"), b = f.AddLane("CPU:0");
  f.Op(a, "m/A", 0, 3 * T);
  f.Op(b, "m/B", 0, T);
  f.Op(a, "m/C", 7 * T / 2, 4 * T);
  f.Domain("cpu:0/package", "CPU:0", {{0, 0}, {2 * T, 20}, {4 * T, 60}});
  f.CpuTime({0, T, 2 * T, 3 * T, 4 * T}, {0, 50 * kMs, 150 * kMs, 150 * kMs, 200 * kMs},
            {0, 100 * kMs, 200 * kMs, 200 * kMs, 400 * kMs});
  return f;
}

TEST(ProcessShareTest, WorkedExampleSplitsEachIntervalByCpuTime) {
  Fixture f = WorkedExample();
  auto p = Attribute(f.trace, f.log, AttributeOptions{});
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  const ProfileDomain& d = p->domains[0];
  EXPECT_NEAR(d.measured_j, 60, 1e-9);
  EXPECT_NEAR(d.other_j, 20, 1e-9);
  EXPECT_NEAR(d.idle_j, 2.5, 1e-9);
  EXPECT_NEAR(SelfJ(*p, "m/A"), 2.5 + 10 + 20, 1e-9);  // half of [0, T), all of [T, 3T)
  EXPECT_NEAR(SelfJ(*p, "m/B"), 2.5, 1e-9);
  EXPECT_NEAR(SelfJ(*p, "m/C"), 2.5, 1e-9);
  EXPECT_NE(d.share.find("CPU time"), std::string::npos) << d.share;
  // Conservation with the third term.
  EXPECT_NEAR(p->nodes[0].total_j[0] + d.idle_j + d.other_j, d.measured_j, 1e-9);
}

TEST(ProcessShareTest, OffAndLogsWithoutCpuTimeGiveEverythingToTheTrace) {
  Fixture f = WorkedExample();
  AttributeOptions off;
  off.process_share = ProcessShare::kOff;
  auto p = Attribute(f.trace, f.log, off);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->domains[0].other_j, 0);
  EXPECT_EQ(p->domains[0].share, "");
  EXPECT_NEAR(SelfJ(*p, "m/A"), 5 + 10 + 20, 1e-9);

  f.log.cpu_time = CpuTimeLog{};  // a CSV import or a run recorded before cputime.csv
  p = Attribute(f.trace, f.log, AttributeOptions{});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->domains[0].other_j, 0);
  AttributeOptions on;
  on.process_share = ProcessShare::kOn;
  p = Attribute(f.trace, f.log, on);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kBadInput);
  EXPECT_NE(p.error().ToString().find("no CPU-time data"), std::string::npos)
      << p.error().ToString();
}

TEST(ProcessShareTest, ModeledAndGpuDomainsAreNotSplit) {
  Fixture f = WorkedExample();
  const uint32_t g = f.AddLane("GPU:0");
  f.Op(g, "m/kernel", 0, 4 * T);
  f.Domain("gpu:0", "GPU:0", {{0, 0}, {4 * T, 40}});
  f.Domain("cpu:1/package", "CPU:1", {{0, 0}, {4 * T, 8}}, /*modeled=*/true);
  auto p = Attribute(f.trace, f.log, AttributeOptions{});
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_NEAR(p->domains[0].other_j, 20, 1e-9);
  EXPECT_EQ(p->domains[1].other_j, 0);  // a GPU is not shared by CPU time
  EXPECT_EQ(p->domains[1].share, "");
  EXPECT_EQ(p->domains[2].other_j, 0);  // the model counts the tree alone already
  EXPECT_EQ(p->domains[2].share, "");
}

TEST(ProcessShareTest, NoisyShortSamplesAreMergedToTheMinimumInterval) {
  // 20 ms samples whose busy time jitters by a 10 ms tick (10, 30, 10, 30, 20 ms per
  // 100 ms): alone they would give shares 1, 1/3, …; merged they give 0.5 exactly.
  std::vector<int64_t> t, tree, busy;
  const int64_t pattern[] = {10, 30, 10, 30, 20};
  int64_t tr = 0, bu = 0;
  for (int k = 0; k <= 10; ++k) {
    t.push_back(k * 20 * kMs);
    tree.push_back(tr);
    busy.push_back(bu);
    tr += 10 * kMs;
    bu += pattern[k % 5] * kMs;
  }
  CpuTimeLog c{t, tree, busy, 1};
  EnergySeries s{{0, 200 * kMs}, {0, 200}};  // 1 J per ms
  EnergySeries tree_series = ProcessTreeSeries(s, c);
  EXPECT_NEAR(tree_series.EnergyAt(100 * kMs), 50, 1e-9);
  EXPECT_NEAR(tree_series.TotalJ(), 100, 1e-9);
}

TEST(ProcessShareTest, StoppedDomainIsNamedWithItsTimeInAWarning) {
  Fixture f = WorkedExample();
  f.log.started_ns = 0;
  f.log.domains[0].stopped_ns = 3 * T;
  f.log.domains[0].stopped_reason = "reading energy_uj failed (Permission denied)";
  auto p = Attribute(f.trace, f.log, AttributeOptions{});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->diagnostics.Count("account.domain_stopped"), 1);
  bool found = false;
  for (const std::string& w : p->diagnostics.warnings())
    found |= w.find("cpu:0/package stopped 0.300 s into the run") != std::string::npos &&
             w.find("Permission denied") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST(ProcessShareTest, ReportsShowOtherProcessesBesideIdle) {
  Fixture f = WorkedExample();
  auto p = Attribute(f.trace, f.log, AttributeOptions{});
  ASSERT_TRUE(p.ok());
  ReportOptions o;
  auto table = RenderReport(*p, o);
  ASSERT_TRUE(table.ok());
  EXPECT_NE(table->find("(other processes) cpu:0/package"), std::string::npos) << *table;
  EXPECT_NE(table->find("other proc. J"), std::string::npos) << *table;
  o.format = ReportFormat::kCsv;
  auto csv = RenderReport(*p, o);
  ASSERT_TRUE(csv.ok());
  EXPECT_NE(csv->find("(other processes) cpu:0/package,other,1,20,"), std::string::npos) << *csv;
  o.format = ReportFormat::kFolded;
  auto folded = RenderReport(*p, o);
  ASSERT_TRUE(folded.ok());
  EXPECT_NE(folded->find("(other processes);cpu:0/package 20000000\n"), std::string::npos)
      << *folded;
  // profile.json keeps the split; a profile without it reads as not split.
  auto back = ParseProfileJson("p.json", ProfileToJson(*p));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_NEAR(back->domains[0].other_j, 20, 1e-12);
  EXPECT_EQ(back->domains[0].share, p->domains[0].share);
  Fixture g = WorkedExample();
  g.log.cpu_time = CpuTimeLog{};
  auto plain = Attribute(g.trace, g.log, AttributeOptions{});
  ASSERT_TRUE(plain.ok());
  const std::string json = ProfileToJson(*plain);
  EXPECT_EQ(json.find("other_j"), std::string::npos);
  auto plain_back = ParseProfileJson("p.json", json);
  ASSERT_TRUE(plain_back.ok());
  EXPECT_EQ(plain_back->domains[0].other_j, 0);
}

// Random traces, readings and CPU-time samples (with shares outside [0, 1] from
// jitter): nodes + idle + other = measured for every domain, other within
// [0, measured], and other equal to a brute-force sum over 1 ms steps.
TEST(ProcessSharePropertyTest, ConservesEnergyWithRandomShares) {
  std::mt19937_64 rng(4242);
  int checked = 0;
  for (int round = 0; round < 400; ++round) {
    Fixture f;
    const int lanes = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < lanes; ++i) f.AddLane("CPU:0");
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) {
      const int64_t start = static_cast<int64_t>(rng() % 800) * kMs;
      const int64_t end = start + static_cast<int64_t>(rng() % 200) * kMs;
      f.Op(static_cast<uint32_t>(rng() % lanes), "s/op" + std::to_string(rng() % 4), start, end);
    }
    std::vector<std::pair<int64_t, double>> pts;
    double e = 0;
    for (int64_t t = static_cast<int64_t>(rng() % 50) * kMs; t < 1000 * kMs;
         t += (1 + static_cast<int64_t>(rng() % 40)) * kMs) {
      pts.push_back({t, e});
      e += std::uniform_real_distribution<double>(0, 3)(rng);
    }
    f.Domain("cpu:0/package", "CPU:0", pts);
    std::vector<int64_t> ct, tree, busy;
    int64_t tr = 0, bu = 0;
    for (int64_t t = static_cast<int64_t>(rng() % 100) * kMs; t < 1100 * kMs;
         t += (10 + static_cast<int64_t>(rng() % 30)) * kMs) {
      ct.push_back(t);
      tree.push_back(tr);
      busy.push_back(bu);
      tr += static_cast<int64_t>(rng() % 40) * kMs;
      bu += rng() % 5 == 0 ? 0 : static_cast<int64_t>(rng() % 60) * kMs;  // sometimes < tree
    }
    f.CpuTime(ct, tree, busy);
    // The brute force below is the proportional rule's (linear inside an
    // interval at the window's edges); the fit splits edge intervals by its model.
    AttributeOptions proportional;
    proportional.method = AttributionMethod::kProportional;
    auto p = Attribute(f.trace, f.log, proportional);
    if (!p.ok()) {
      ASSERT_EQ(p.error().code, ErrorCode::kNothingMeasurable) << p.error().ToString();
      continue;
    }
    const ProfileDomain& d = p->domains[0];
    double nodes = 0;
    for (const auto& node : p->nodes) nodes += node.self_j[0];
    ASSERT_NEAR(nodes + d.idle_j + d.other_j, d.measured_j, 1e-9 * std::max(1.0, d.measured_j));
    ASSERT_GE(d.other_j, 0);
    ASSERT_LE(d.other_j, d.measured_j + 1e-9);

    // Brute force: the kept samples (first, then ≥ 100 ms apart, last merged in), each
    // 1 ms step's energy × (1 − share of the kept interval holding it).
    std::vector<size_t> kept = {0};
    for (size_t k = 1; k < ct.size(); ++k)
      if (ct[k] - ct[kept.back()] >= T) kept.push_back(k);
    if (kept.back() != ct.size() - 1) {
      if (kept.size() > 1) kept.back() = ct.size() - 1;
      else kept.push_back(ct.size() - 1);
    }
    const EnergySeries& s = f.log.series[0];
    double other = 0;
    for (int64_t t = p->meta.window_start_ns; t < p->meta.window_end_ns; t += kMs) {
      double share = 1;
      for (size_t j = 0; j + 1 < kept.size(); ++j)
        if (ct[kept[j]] <= t && t < ct[kept[j + 1]]) {
          const double b = static_cast<double>(busy[kept[j + 1]] - busy[kept[j]]);
          const double r = static_cast<double>(tree[kept[j + 1]] - tree[kept[j]]);
          share = b > 0 ? std::clamp(r / b, 0.0, 1.0) : 1.0;
        }
      other += (1 - share) * (s.EnergyAt(t + kMs) - s.EnergyAt(t));
    }
    ASSERT_NEAR(d.other_j, other, 1e-6 * std::max(1.0, d.measured_j)) << "round " << round;
    ++checked;
  }
  EXPECT_GT(checked, 300);
}

}  // namespace
}  // namespace smaragdine
