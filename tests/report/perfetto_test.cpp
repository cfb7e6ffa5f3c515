// `report --format perfetto`: the timeline as Chrome trace JSON, checked
// structurally (every event once, energies that add up, counters that
// integrate to the measured energy) on a small profile (also golden), on the
// fixtures' traces with simulated energy, and on examples/bert-small.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "report/golden_util.h"
#include "report/perfetto_sample.h"
#include "report/perfetto_util.h"
#include "smaragdine/account.h"
#include "smaragdine/report.h"
#include "smaragdine/simulate.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

std::string Perfetto(const Profile& p, ReportOptions o = {}) {
  o.format = ReportFormat::kPerfetto;
  o.file = "small.profile.json";
  auto text = RenderReport(p, o);
  EXPECT_TRUE(text.ok()) << (text.ok() ? "" : text.error().ToString());
  return text.ok() ? *text : std::string();
}

double NodesJ(const Profile& p) { return p.nodes.empty() ? 0 : p.nodes[0].TotalJ(); }

// The checks every rendered profile must pass: slices add up to the nodes'
// energy, each domain's counter track to its measured energy.
void ExpectConsistent(const Profile& p, const std::string& json) {
  testing::PerfettoSummary s = testing::CheckPerfetto(p, json);
  EXPECT_EQ(s.slices, p.timeline.events.size());
  EXPECT_NEAR(s.self_j, NodesJ(p), 1e-9 * std::max(1.0, NodesJ(p)));
  for (const ProfileDomain& d : p.domains) {
    auto it = s.counter_j.find(d.name + " power");
    ASSERT_NE(it, s.counter_j.end()) << "no counter track for " << d.name;
    EXPECT_NEAR(it->second, d.measured_j, 1e-9 * std::max(1.0, d.measured_j)) << d.name;
  }
  for (size_t l = 0; l < p.timeline.lanes.size(); ++l)
    EXPECT_EQ(s.thread_names[static_cast<int64_t>(l) + 1], p.timeline.lanes[l].name);
}

TEST(PerfettoTest, SmallProfileMatchesGoldenAndAddsUp) {
  Profile p = testing::SmallTimelineProfile();
  ASSERT_EQ(p.timeline.events.size(), 12u);
  const std::string json = Perfetto(p);
  testing::ExpectGolden("perfetto_small.json", json);
  ExpectConsistent(p, json);
  testing::PerfettoSummary s = testing::CheckPerfetto(p, json);
  EXPECT_EQ(s.step_slices, 2u);
  // ns precision: an event runs from t0 + 0.2 µs to t0 + 900.001 µs.
  EXPECT_NE(json.find("\"ts\":1000000000.200,\"dur\":899.801,"), std::string::npos);
}

TEST(PerfettoTest, FoldDomainAndRootKeepTheTimelineConsistent) {
  Profile p = testing::SmallTimelineProfile();
  ReportOptions fold;
  fold.rules.push_back(*ParseFoldRule(R"(layer_\d+)"));
  Profile folded = FoldProfile(p, fold.rules);
  ExpectConsistent(folded, Perfetto(p, fold));
  EXPECT_NE(Perfetto(p, fold).find("\"path\":\"model/layer_*/aten::relu\""), std::string::npos);

  for (const char* domain : {"cpu:0/package", "gpu:0"}) {
    SCOPED_TRACE(domain);
    ReportOptions one;
    one.domain = domain;
    auto restricted = RestrictToDomain(p, domain, "small.profile.json");
    ASSERT_TRUE(restricted.ok());
    ExpectConsistent(*restricted, Perfetto(p, one));
  }

  ReportOptions root;
  root.root = "model/layer_0";
  const uint32_t r = static_cast<uint32_t>(p.Find("model/layer_0"));
  Profile sub = SubtreeProfile(p, r, std::nullopt);
  const std::string json = Perfetto(p, root);
  testing::PerfettoSummary s = testing::CheckPerfetto(sub, json);
  EXPECT_NEAR(s.self_j, p.nodes[r].TotalJ(), 1e-9 * p.nodes[r].TotalJ());
  EXPECT_EQ(json.find("optimizer/step"), std::string::npos);

  // A depth limit folds deeper events into their kept ancestor: energy stays.
  ReportOptions shallow;
  shallow.depth = 1;
  Profile top = SubtreeProfile(p, 0, 1);
  testing::PerfettoSummary t = testing::CheckPerfetto(top, Perfetto(p, shallow));
  EXPECT_NEAR(t.self_j, NodesJ(p), 1e-9 * NodesJ(p));
}

TEST(PerfettoTest, AProfileWithoutTimelineSaysHowToGetOne) {
  auto old = ReadProfileJson(std::string(SMARAGDINE_TEST_DATA) + "/profiles/bert_small.json");
  ASSERT_TRUE(old.ok());
  ReportOptions o;
  o.format = ReportFormat::kPerfetto;
  o.file = "bert_small.json";
  auto text = RenderReport(*old, o);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(text.error().file, "bert_small.json");
  EXPECT_NE(text.error().message.find("--timeline always"), std::string::npos);
}

// A trace file accounted against simulated energy with the timeline kept.
Result<Profile> AccountWithSimulatedEnergy(const std::string& path) {
  SMG_ASSIGN_OR_RETURN(Trace trace, ReadTraces({path}, TraceReadOptions{}));
  SMG_ASSIGN_OR_RETURN(SimResult sim, SimulateEnergyForTrace(trace, TraceEnergyOptions{}));
  SMG_ASSIGN_OR_RETURN(EnergyLog log, SimulatedEnergyLog(sim));
  AlignOptions align;
  if (trace.time_base == TimeBase::kRelative) align.trace_start_ns = 1'000'000'000'000;
  SMG_RETURN_IF_ERROR(AlignTrace(trace, log, align));
  AttributeOptions options;
  options.keep_timeline = true;
  return Attribute(trace, log, options);
}

TEST(PerfettoTest, FixturesWithSimulatedEnergy) {
  for (const char* name :
       {"pt2_bert-small_h100_inference.pt.trace.json.gz", "pt2_resnet_ddp_train_v100_2024.pt.trace.json.gz",
        "tf1_timeline_gpu_matmul_2017.json", "tf2_bert-base-uncased_cpu_2021.trace.json.gz"}) {
    SCOPED_TRACE(name);
    auto p = AccountWithSimulatedEnergy(std::string(SMARAGDINE_TEST_DATA) + "/fixtures/" + name);
    ASSERT_TRUE(p.ok()) << p.error().ToString();
    ASSERT_FALSE(p->timeline.events.empty());
    // Through profile.json and back, as `report` sees it.
    auto read = ParseProfileJson("fixture.profile.json", ProfileToJson(*p));
    ASSERT_TRUE(read.ok()) << read.error().ToString();
    ExpectConsistent(*read, Perfetto(*read));
  }
}

// Written in pieces, the trace is the same text: pieces of about a megabyte,
// in order; a sink's error stops the writing and comes back; without a
// timeline nothing reaches the sink.
TEST(PerfettoTest, WrittenInPiecesItIsTheSameTrace) {
  auto p = AccountWithSimulatedEnergy(std::string(SMARAGDINE_TEST_DATA) +
                                      "/fixtures/pt2_resnet_ddp_train_v100_2024.pt.trace.json.gz");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  auto whole = RenderPerfetto(*p, "resnet.profile.json");
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  std::string joined;
  std::vector<size_t> sizes;
  Status s = WritePerfetto(*p, "resnet.profile.json", [&](std::string_view piece) -> Status {
    joined.append(piece);
    sizes.push_back(piece.size());
    return {};
  });
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(joined, *whole);
  ASSERT_GE(sizes.size(), 3u) << whole->size() << " bytes";
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    EXPECT_GE(sizes[i], size_t{1} << 20);
    EXPECT_LT(sizes[i], (size_t{1} << 20) + 4096);
  }
  int calls = 0;
  s = WritePerfetto(*p, "resnet.profile.json", [&](std::string_view) -> Status {
    ++calls;
    return BadInput("out.json", "disk full");
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_NE(s.error().message.find("disk full"), std::string::npos);
  Profile bare = *p;
  bare.timeline = {};
  calls = 0;
  s = WritePerfetto(bare, "bare.profile.json", [&](std::string_view) -> Status {
    ++calls;
    return {};
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(calls, 0);
}

TEST(PerfettoTest, ExampleBertSmall) {
  const std::string dir = std::string(SMARAGDINE_TEST_DATA) + "/../../examples/bert-small";
  auto trace = ReadTraces({dir + "/pt2_bert-small_h100_inference.pt.trace.json.gz"}, {});
  ASSERT_TRUE(trace.ok()) << trace.error().ToString();
  auto log = ReadEnergy(dir + "/run", EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_TRUE(AlignTrace(*trace, *log, AlignOptions{}).ok());
  AttributeOptions options;
  options.keep_timeline = true;
  auto p = Attribute(*trace, *log, options);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ExpectConsistent(*p, Perfetto(*p));
}

}  // namespace
}  // namespace smaragdine
