// The timeline Attribute keeps with keep_timeline: each event's self energy,
// each domain's power as steps, and the conservation they share with the
// node tree.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "account/attribute_fixture_util.h"
#include "smaragdine/account.h"

namespace smaragdine {
namespace {

// The fixture of the attribution tests, keeping the timeline unless told not to.
struct Fixture : testing::AttributeFixture {
  Profile Run(bool keep_timeline = true) const {
    AttributeOptions options;
    options.keep_timeline = keep_timeline;
    return AttributeFixture::Run(options);
  }
};

// ∫ power over the track, in J.
double Integral(const PowerTrack& t) {
  double j = 0;
  for (size_t i = 0; i < t.power_w.size(); ++i) j += t.power_w[i] * (t.t_ns[i + 1] - t.t_ns[i]) * 1e-9;
  return j;
}

const TimelineEvent* FindEvent(const Profile& p, const std::string& path, int64_t start_ns) {
  for (const TimelineEvent& e : p.timeline.events)
    if (p.nodes[e.node].path == path && e.start_ns == start_ns) return &e;
  return nullptr;
}

TEST(TimelineTest, EachEventGetsItsSelfEnergyAndNestedOnesTheirOwn) {
  Fixture f;
  uint32_t a = f.AddLane("CPU:0"), b = f.AddLane("CPU:0");
  f.Op(a, "m/Outer", 0, 100);
  f.Op(a, "m/Outer/Inner", 20, 40);
  f.Op(b, "m/Other", 50, 150);
  f.trace.steps.push_back({"step 0", 0, 150});
  f.trace.events[0].step = 0;
  f.Domain("cpu", "CPU:0", {{0, 0}, {200, 200}});  // 1 W·s per ns: 1 J per ns
  Profile p = f.Run();
  ASSERT_EQ(p.timeline.events.size(), 3u);
  ASSERT_EQ(p.timeline.lanes.size(), 2u);
  ASSERT_EQ(p.timeline.steps.size(), 1u);
  const TimelineEvent* outer = FindEvent(p, "m/Outer", 0);
  const TimelineEvent* inner = FindEvent(p, "m/Outer/Inner", 20);
  const TimelineEvent* other = FindEvent(p, "m/Other", 50);
  ASSERT_TRUE(outer && inner && other);
  // Outer alone on [0,20) and [40,50) = 30 J, shared [50,100) = 25 J; Inner 20 J.
  EXPECT_DOUBLE_EQ(outer->self_j, 55);
  EXPECT_DOUBLE_EQ(inner->self_j, 20);
  EXPECT_DOUBLE_EQ(other->self_j, 75);
  EXPECT_EQ(outer->step, 0);
  EXPECT_EQ(inner->step, -1);
  EXPECT_EQ(outer->phase, Phase::kForward);
  EXPECT_EQ(outer->lane, a);
  EXPECT_EQ(other->lane, b);
  // Lane order, parents first.
  EXPECT_EQ(&p.timeline.events[0], outer);
  EXPECT_EQ(&p.timeline.events[1], inner);
}

// The timeline records which lanes each domain split its energy over, so that
// reports of one domain do not decide again: a CPU domain every CPU lane, a
// GPU domain its own device's, the others none.
TEST(TimelineTest, RecordsTheLanesEachDomainMetered) {
  Fixture f;
  const uint32_t cpu = f.AddLane("CPU:0"), gpu0 = f.AddLane("GPU:0");
  f.AddLane("GPU:1");
  f.Op(cpu, "m/Launch", 0, 100);
  f.Op(gpu0, "m/Kernel", 10, 90);
  f.Domain("pkg", "CPU:0", {{0, 0}, {200, 200}});
  f.Domain("dram", "CPU:0", {{0, 0}, {200, 100}});
  f.Domain("gpu", "GPU:0", {{0, 0}, {200, 400}});
  const Profile p = f.Run();
  ASSERT_EQ(p.timeline.domain_lanes.size(), 3u);
  EXPECT_EQ(p.timeline.domain_lanes[0], (std::vector<uint32_t>{cpu}));
  EXPECT_EQ(p.timeline.domain_lanes[1], (std::vector<uint32_t>{cpu}));
  EXPECT_EQ(p.timeline.domain_lanes[2], (std::vector<uint32_t>{gpu0}));
  EXPECT_EQ(p.timeline.domain_lanes, MeteredLanes(p.domains, p.timeline.lanes));
}

TEST(TimelineTest, PowerTrackIsTheStepsBetweenReadingsInsideTheWindow) {
  Fixture f;
  uint32_t a = f.AddLane("CPU:0");
  f.Op(a, "m/A", 500'000'000, 2'500'000'000);
  // 2 W for the first second, then 4 W, then 4 W again (merged with the step before).
  f.Domain("cpu", "CPU:0", {{0, 0}, {1'000'000'000, 2}, {2'000'000'000, 6}, {3'000'000'000, 10}});
  Profile p = f.Run();
  ASSERT_EQ(p.timeline.power.size(), 1u);
  const PowerTrack& t = p.timeline.power[0];
  EXPECT_EQ(t.domain, "cpu");
  EXPECT_EQ(t.t_ns, (std::vector<int64_t>{500'000'000, 1'000'000'000, 2'500'000'000}));
  ASSERT_EQ(t.power_w.size(), 2u);
  EXPECT_NEAR(t.power_w[0], 2, 1e-9);
  EXPECT_NEAR(t.power_w[1], 4, 1e-9);
  EXPECT_NEAR(Integral(t), p.domains[0].measured_j, 1e-9 * p.domains[0].measured_j);
}

TEST(TimelineTest, PartialOverlapIsRepairedAndZeroLengthEventsStay) {
  Fixture f;
  uint32_t a = f.AddLane("CPU:0");
  f.Op(a, "m/Parent", 0, 100);
  f.Op(a, "m/Late", 80, 120);   // ends after its parent: clipped to 100
  f.Op(a, "m/Instant", 30, 30);  // a call without time
  f.Op(a, "m/After", 120, 160);
  f.Domain("cpu", "CPU:0", {{0, 0}, {200, 200}});
  Profile p = f.Run();
  const TimelineEvent* late = FindEvent(p, "m/Late", 80);
  const TimelineEvent* instant = FindEvent(p, "m/Instant", 30);
  ASSERT_TRUE(late && instant);
  EXPECT_EQ(late->end_ns, 100);
  EXPECT_DOUBLE_EQ(late->self_j, 20);
  EXPECT_EQ(instant->end_ns, 30);
  EXPECT_EQ(instant->self_j, 0);
  EXPECT_EQ(p.timeline.events.size(), 4u);
}

TEST(TimelineTest, OffByDefaultAndTheNodeFiguresDoNotDependOnIt) {
  Fixture f;
  uint32_t a = f.AddLane("CPU:0"), g = f.AddLane("GPU:0");
  f.Op(a, "m/A", 0, 100);
  f.Op(g, "m/K", 10, 60);
  f.Domain("cpu", "CPU:0", {{0, 0}, {50, 10}, {120, 30}});
  f.Domain("gpu", "GPU:0", {{0, 0}, {120, 60}});
  Profile without = f.Run(false);
  Profile with = f.Run(true);
  EXPECT_TRUE(without.timeline.empty());
  EXPECT_FALSE(with.timeline.empty());
  ASSERT_EQ(with.nodes.size(), without.nodes.size());
  for (size_t n = 0; n < with.nodes.size(); ++n) {
    EXPECT_EQ(with.nodes[n].self_j, without.nodes[n].self_j) << with.nodes[n].path;
    EXPECT_EQ(with.nodes[n].time_ns, without.nodes[n].time_ns) << with.nodes[n].path;
  }
}

// Random traces on CPU and GPU lanes (nested, overlapping, outside the
// window, zero-length), random readings on several domains: every joule of
// the window is on an event or idle, and each node's events add up to it.
TEST(TimelineTest, PropertyEventEnergyPlusIdleIsMeasuredAndMatchesTheNodes) {
  std::mt19937_64 rng(20261127);
  int checked = 0;
  for (int round = 0; round < 300; ++round) {
    Fixture f;
    const int lanes = 1 + static_cast<int>(rng() % 5);
    for (int l = 0; l < lanes; ++l) f.AddLane(rng() % 3 == 0 ? "GPU:0" : "CPU:0");
    const int events = 1 + static_cast<int>(rng() % 40);
    for (int e = 0; e < events; ++e) {
      const uint32_t lane = static_cast<uint32_t>(rng() % lanes);
      const int64_t start = static_cast<int64_t>(rng() % 1000) - 100;
      const int64_t len = rng() % 7 == 0 ? 0 : static_cast<int64_t>(rng() % 300);
      const std::string path = "m/s" + std::to_string(rng() % 3) + "/op" + std::to_string(rng() % 4);
      f.Op(lane, path, start, start + len, static_cast<Phase>(rng() % kPhaseCount));
    }
    const int domains = 1 + static_cast<int>(rng() % 3);
    for (int d = 0; d < domains; ++d) {
      std::vector<std::pair<int64_t, double>> points;
      int64_t t = static_cast<int64_t>(rng() % 200) - 150;
      double j = 0;
      for (int r = 0; r < 2 + static_cast<int>(rng() % 30); ++r) {
        points.push_back({t, j});
        t += 1 + static_cast<int64_t>(rng() % 120);
        j += static_cast<double>(rng() % 1000) * 1e-3;
      }
      f.Domain("d" + std::to_string(d), d == 2 ? "GPU:0" : "CPU:0", points);
    }
    AttributeOptions options;
    options.keep_timeline = true;
    auto p = Attribute(f.trace, f.log, options);
    if (!p.ok()) {  // no overlap this round; anything else is a bug
      EXPECT_EQ(p.error().code, ErrorCode::kNothingMeasurable) << p.error().ToString();
      continue;
    }
    ++checked;
    double events_j = 0;
    std::map<uint32_t, double> node_events_j;
    for (const TimelineEvent& e : p->timeline.events) {
      events_j += e.self_j;
      node_events_j[e.node] += e.self_j;
      EXPECT_GE(e.end_ns, e.start_ns);
      EXPECT_GE(e.start_ns, p->meta.window_start_ns);
      EXPECT_LE(e.end_ns, p->meta.window_end_ns);
    }
    double idle_j = 0, other_j = 0, measured_j = 0;
    for (const ProfileDomain& d : p->domains) {
      idle_j += d.idle_j;
      other_j += d.other_j;
      measured_j += d.measured_j;
    }
    const double tol = 1e-9 * std::max(1.0, measured_j);
    EXPECT_NEAR(events_j + idle_j + other_j, measured_j, tol) << "round " << round;
    for (const ProfileNode& n : p->nodes)
      EXPECT_NEAR(node_events_j[n.id], n.SelfJ(), tol) << "round " << round << " " << n.path;
    ASSERT_EQ(p->timeline.power.size(), p->domains.size());
    for (size_t d = 0; d < p->domains.size(); ++d) {
      const PowerTrack& t = p->timeline.power[d];
      EXPECT_EQ(t.domain, p->domains[d].name);
      if (t.power_w.empty()) continue;
      EXPECT_EQ(t.t_ns.size(), t.power_w.size() + 1);
      EXPECT_TRUE(std::is_sorted(t.t_ns.begin(), t.t_ns.end()));
      EXPECT_NEAR(Integral(t), p->domains[d].measured_j, tol) << "round " << round;
    }
    // Lane order with parents first, and nesting on each lane.
    const auto& ev = p->timeline.events;
    for (size_t i = 1; i < ev.size(); ++i) {
      const bool ordered = ev[i - 1].lane < ev[i].lane ||
                           (ev[i - 1].lane == ev[i].lane &&
                            (ev[i - 1].start_ns < ev[i].start_ns ||
                             (ev[i - 1].start_ns == ev[i].start_ns &&
                              ev[i - 1].end_ns >= ev[i].end_ns)));
      EXPECT_TRUE(ordered) << "round " << round << " event " << i;
    }
  }
  EXPECT_GT(checked, 200) << "most rounds must overlap, or the property is barely tested";
}

}  // namespace
}  // namespace smaragdine
