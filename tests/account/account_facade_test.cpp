// Account(): the one align → attribute → meta sequence behind `smaragdine
// account` and live sessions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "account/attribute_fixture_util.h"
#include "smaragdine/account.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;

// Two ops on one CPU lane, a counter over them: 1 J per ns.
struct Fixture : testing::AttributeFixture {
  Fixture() {
    const uint32_t lane = AddLane("CPU:0");
    Op(lane, "m/A", 0, 100);
    Op(lane, "m/B", 100, 300);
    Domain("cpu", "CPU:0", {{0, 0}, {400, 400}});
  }
};

TEST(AccountTest, GivesWhatAlignAndAttributeGiveAndSaysHowItAligned) {
  Fixture f;
  AccountOptions options;
  options.attribute.method = AttributionMethod::kProportional;
  auto p = Account(f.trace, f.log, options);
  ASSERT_TRUE(p.ok()) << p.error().ToString();

  Trace aligned = f.trace;
  auto al = AlignTrace(aligned, f.log, AlignOptions{});
  ASSERT_TRUE(al.ok()) << al.error().ToString();
  auto direct = Attribute(aligned, f.log, options.attribute);
  ASSERT_TRUE(direct.ok()) << direct.error().ToString();
  EXPECT_DOUBLE_EQ(testing::TotalJ(*p, "m/A"), testing::TotalJ(*direct, "m/A"));
  EXPECT_DOUBLE_EQ(testing::TotalJ(*p, "m/B"), testing::TotalJ(*direct, "m/B"));
  EXPECT_DOUBLE_EQ(testing::TotalJ(*p, "m/A"), 100);
  EXPECT_DOUBLE_EQ(testing::TotalJ(*p, "m/B"), 200);
  EXPECT_EQ(p->meta.alignment, al->description);
  EXPECT_FALSE(p->meta.alignment.empty());
}

TEST(AccountTest, TimelinePolicyDecidesWhetherTheProfileKeepsIt) {
  Fixture f;
  AccountOptions options;
  options.timeline = TimelinePolicy::kNever;
  auto never = Account(f.trace, f.log, options);
  ASSERT_TRUE(never.ok()) << never.error().ToString();
  EXPECT_TRUE(never->timeline.events.empty());
  options.timeline = TimelinePolicy::kAuto;  // 2 events: far below the limit
  auto automatic = Account(f.trace, f.log, options);
  ASSERT_TRUE(automatic.ok()) << automatic.error().ToString();
  EXPECT_EQ(automatic->timeline.events.size(), 2u);
  for (const std::string& w : automatic->diagnostics.warnings())
    EXPECT_THAT(w, ::testing::Not(HasSubstr("timeline")));
}

TEST(AccountTest, BaselineOfADomainTheLogDoesNotHaveIsAUsageError) {
  Fixture f;
  AccountOptions options;
  options.attribute.baseline_w["gpu0"] = 30;
  auto p = Account(f.trace, f.log, options);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kUsage);
  EXPECT_THAT(p.error().message, HasSubstr("'gpu0'"));
  EXPECT_THAT(p.error().message, HasSubstr("test-log"));
}

TEST(AccountTest, StagesAreAnnouncedInOrder) {
  Fixture f;
  AccountOptions options;
  std::vector<std::string> stages;
  options.on_stage = [&stages](std::string_view s) { stages.emplace_back(s); };
  ASSERT_TRUE(Account(f.trace, f.log, options).ok());
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_THAT(stages[0], HasSubstr("aligning"));
  EXPECT_EQ(stages[1], "attributing 2 events");
}

TEST(AccountTest, ParsesTimelinePolicies) {
  EXPECT_EQ(ParseTimelinePolicy("auto"), TimelinePolicy::kAuto);
  EXPECT_EQ(ParseTimelinePolicy("always"), TimelinePolicy::kAlways);
  EXPECT_EQ(ParseTimelinePolicy("never"), TimelinePolicy::kNever);
  EXPECT_EQ(ParseTimelinePolicy("sometimes"), std::nullopt);
}

// One convention (issue 15): each option's enum reads back from its own text,
// and nothing else reads as it.
TEST(AccountTest, EveryOptionEnumIsTheInverseOfItsText) {
  for (TimelinePolicy v : {TimelinePolicy::kAuto, TimelinePolicy::kAlways, TimelinePolicy::kNever})
    EXPECT_EQ(ParseTimelinePolicy(ToString(v)), v);
  for (ProcessShare v : {ProcessShare::kAuto, ProcessShare::kOn, ProcessShare::kOff})
    EXPECT_EQ(ParseProcessShare(ToString(v)), v);
  for (AttributionMethod v :
       {AttributionMethod::kAuto, AttributionMethod::kProportional, AttributionMethod::kRegression})
    EXPECT_EQ(ParseAttributionMethod(ToString(v)), v);
  for (MeterKind v : {MeterKind::kUnknown, MeterKind::kCounter, MeterKind::kWindowedPower,
                      MeterKind::kInstantPower})
    EXPECT_EQ(ParseMeterKind(ToString(v)), v);
  EXPECT_EQ(ParseProcessShare("ON"), std::nullopt);
  EXPECT_EQ(ParseAttributionMethod(""), std::nullopt);
  EXPECT_EQ(ParseMeterKind("counter "), std::nullopt);
}

}  // namespace
}  // namespace smaragdine
