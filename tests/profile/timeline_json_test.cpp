// profile.json's "timeline" section: written, read back exactly, absent in
// older profiles, and bad columns named in the error.
#include <gtest/gtest.h>

#include <string>

#include "report/perfetto_sample.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

TEST(TimelineJsonTest, RoundTripsEveryEventAndPowerStepExactly) {
  Profile p = testing::SmallTimelineProfile();
  ASSERT_FALSE(p.timeline.events.empty());
  auto back = ParseProfileJson("t.json", ProfileToJson(p));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  const Timeline &a = p.timeline, &b = back->timeline;
  ASSERT_EQ(a.lanes.size(), b.lanes.size());
  for (size_t l = 0; l < a.lanes.size(); ++l) {
    EXPECT_EQ(a.lanes[l].device, b.lanes[l].device);
    EXPECT_EQ(a.lanes[l].name, b.lanes[l].name);
  }
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t s = 0; s < a.steps.size(); ++s) {
    EXPECT_EQ(a.steps[s].name, b.steps[s].name);
    EXPECT_EQ(a.steps[s].start_ns, b.steps[s].start_ns);
    EXPECT_EQ(a.steps[s].end_ns, b.steps[s].end_ns);
  }
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(a.events[i].start_ns, b.events[i].start_ns);
    EXPECT_EQ(a.events[i].end_ns, b.events[i].end_ns);
    EXPECT_EQ(a.events[i].node, b.events[i].node);
    EXPECT_EQ(a.events[i].lane, b.events[i].lane);
    EXPECT_EQ(a.events[i].step, b.events[i].step);
    EXPECT_EQ(a.events[i].phase, b.events[i].phase);
    EXPECT_EQ(a.events[i].self_j, b.events[i].self_j);
  }
  ASSERT_EQ(a.power.size(), b.power.size());
  for (size_t d = 0; d < a.power.size(); ++d) {
    EXPECT_EQ(a.power[d].domain, b.power[d].domain);
    EXPECT_EQ(a.power[d].t_ns, b.power[d].t_ns);
    EXPECT_EQ(a.power[d].power_w, b.power[d].power_w);
  }
  // And the text is stable: writing what was read gives the same bytes.
  EXPECT_EQ(ProfileToJson(*back), ProfileToJson(p));
}

TEST(TimelineJsonTest, ProfilesWithoutATimelineStillReadAndWriteNone) {
  auto old = ReadProfileJson(std::string(SMARAGDINE_TEST_DATA) + "/profiles/bert_small.json");
  ASSERT_TRUE(old.ok()) << old.error().ToString();
  EXPECT_TRUE(old->timeline.empty());
  EXPECT_EQ(ProfileToJson(*old).find("\"timeline\""), std::string::npos);
}

// The profile's JSON with one timeline column replaced.
std::string WithColumn(const Profile& p, const std::string& key, const std::string& values) {
  std::string text = ProfileToJson(p);
  const std::string open = "\"" + key + "\":[";
  size_t at = text.find(open);
  EXPECT_NE(at, std::string::npos) << key;
  size_t end = text.find(']', at);
  return text.substr(0, at + open.size()) + values + text.substr(end);
}

TEST(TimelineJsonTest, BadColumnsAreNamedWithTheirEntry) {
  Profile p = testing::SmallTimelineProfile();
  const size_t n = p.timeline.events.size();
  std::string nodes;
  for (size_t i = 0; i < n; ++i) nodes += (i ? "," : "") + std::string(i == 2 ? "9999" : "1");
  auto bad_node = ParseProfileJson("p.json", WithColumn(p, "node", nodes));
  ASSERT_FALSE(bad_node.ok());
  EXPECT_EQ(bad_node.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(bad_node.error().file, "p.json");
  EXPECT_NE(bad_node.error().message.find("timeline.events.node[2]: 9999 is not a node"),
            std::string::npos)
      << bad_node.error().message;

  auto short_column = ParseProfileJson("p.json", WithColumn(p, "self_j", "1,2"));
  ASSERT_FALSE(short_column.ok());
  EXPECT_NE(short_column.error().message.find(
                "timeline.events.self_j: has 2 entries, expected " + std::to_string(n)),
            std::string::npos)
      << short_column.error().message;

  std::string lanes;
  for (size_t i = 0; i < n; ++i) lanes += (i ? "," : "") + std::string(i == 0 ? "7" : "0");
  auto bad_lane = ParseProfileJson("p.json", WithColumn(p, "lane", lanes));
  ASSERT_FALSE(bad_lane.ok());
  EXPECT_NE(bad_lane.error().message.find("timeline.events.lane[0]: 7 is not a lane (there are 3)"),
            std::string::npos)
      << bad_lane.error().message;
}

}  // namespace
}  // namespace smaragdine
