// Hostile meter readings (issue 17, item 2): readings are judged, not trusted.
// Non-finite, negative, absurd and physically impossible readings are dropped
// with energy.reading_implausible; an isolated glitch is dropped, not taken as a
// reset; a true reset (to near zero, or a wrap) is handled as before; run.json
// and --baseline-w refuse negative or infinite figures. docs/security.md and
// docs/energy-log.md say what each case does.
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::Ran;
using testing::TempDir;

// A CPU package counter read every 10 ms, rising 1 J per reading (100 W), with
// the readings at `special` replaced by the text given.
std::string CounterCsv(int n, const std::vector<std::pair<int, std::string>>& special = {}) {
  std::string csv = "t_ns,domain,energy_j\n";
  for (int i = 0; i < n; ++i) {
    std::string value = fmt::format("{}", 1000 + i);
    for (const auto& [at, text] : special)
      if (at == i) value = text;
    csv += fmt::format("{},cpu:0/package,{}\n", 1'000'000'000 + int64_t{i} * 10'000'000, value);
  }
  return csv;
}

Result<EnergyLog> Parse(const std::string& csv) {
  return ParseEnergyCsv("energy.csv", csv, EnergyImportOptions{});
}

double TotalJ(const EnergyLog& log) { return log.series.at(0).TotalJ(); }

std::string Warnings(const EnergyLog& log) {
  std::string all;
  for (const std::string& w : log.diagnostics.warnings()) all += w + "\n";
  return all;
}

// Before: a single 1e308 J reading was accepted (exit 0), and the profile it
// made sent every later svg/html report into an endless loop.
TEST(HostileMeterTest, SingleAbsurdReadingIsDropped) {
  Result<EnergyLog> log = Parse(CounterCsv(20, {{7, "1e308"}}));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*log), 19.0);
  EXPECT_EQ(log->diagnostics.Count("energy.reading_implausible"), 1);
  EXPECT_THAT(Warnings(*log), HasSubstr("'cpu:0/package' gave 1 implausible reading(s)"));
}

// Before: "inf", "nan" and out-of-range numbers failed the whole file.
TEST(HostileMeterTest, NonFiniteAndNegativeReadingsAreDropped) {
  Result<EnergyLog> log =
      Parse(CounterCsv(20, {{3, "inf"}, {5, "nan"}, {9, "-12"}, {12, "1e400"}}));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*log), 19.0);
  EXPECT_EQ(log->diagnostics.Count("energy.reading_implausible"), 4);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_decreased"), 0);
}

// A rise no domain can draw (here 1e9 J in 10 ms), one reading long.
TEST(HostileMeterTest, ImpossibleRiseIsDropped) {
  Result<EnergyLog> log = Parse(CounterCsv(20, {{10, "1000000000"}}));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*log), 19.0);
  EXPECT_EQ(log->diagnostics.Count("energy.reading_implausible"), 1);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_decreased"), 0);
}

// A counter that jumps by an impossible amount and stays there: the jump
// counts 0 J (like a decrease), the rest is measured.
TEST(HostileMeterTest, ImpossibleJumpThatStaysIsRebased) {
  std::vector<std::pair<int, std::string>> special;
  for (int i = 10; i < 20; ++i) special.emplace_back(i, fmt::format("{}", 1e12 + i));
  Result<EnergyLog> log = Parse(CounterCsv(20, special));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_NEAR(TotalJ(*log), 18.0, 1e-3);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_jumped"), 1);
}

// A power meter beyond 100 kW for one domain.
TEST(HostileMeterTest, ImpossiblePowerIsDropped) {
  std::string csv = "t_ns,domain,power_w\n";
  for (int i = 0; i < 11; ++i)
    csv += fmt::format("{},gpu:0,{}\n", int64_t{i} * 100'000'000, i == 5 ? "5e6" : "100");
  Result<EnergyLog> log = Parse(csv);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_NEAR(TotalJ(*log), 100.0, 1e-9);  // 100 W for 1 s
  EXPECT_EQ(log->diagnostics.Count("energy.reading_implausible"), 1);
}

// Before: a negative power reading counted as 0 W, so one bad sample of a
// 100 W meter took away the energy of the two intervals around it (here 10 %).
// Now it is dropped with a diagnostic of its own, and the power between its
// neighbours is interpolated.
TEST(HostileMeterTest, NegativePowerIsDroppedNotCountedAsZero) {
  std::string csv = "t_ns,domain,power_w\n";
  for (int i = 0; i < 11; ++i)
    csv += fmt::format("{},gpu:0,{}\n", int64_t{i} * 100'000'000, i == 5 ? "-250" : "100");
  Result<EnergyLog> log = Parse(csv);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_NEAR(TotalJ(*log), 100.0, 1e-9);  // 100 W for 1 s
  EXPECT_EQ(log->diagnostics.Count("energy.negative_power_dropped"), 1);
  EXPECT_EQ(log->diagnostics.Count("energy.reading_implausible"), 0);
  EXPECT_THAT(Warnings(*log), HasSubstr("'gpu:0' reported negative power 1 time(s) (first at "
                                        "t_ns 500000000: -250 W); dropped"));
  // Only negative readings: the domain has none left.
  std::string all_negative = "t_ns,domain,power_w\n0,gpu:0,-1\n100000000,gpu:0,-2\n"
                             "0,cpu:0/package,1\n100000000,cpu:0/package,1\n";
  Result<EnergyLog> none = Parse(all_negative);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->diagnostics.Count("energy.negative_power_dropped"), 2);
}

// Before: a reading that glitched low was taken as a reset, and the readings
// after it counted from the low value: +166 % here.
TEST(HostileMeterTest, IsolatedLowGlitchIsNotAReset) {
  // 100 W for 0.3 s around a counter at 1000 J that reads 12 J once.
  Result<EnergyLog> log = Parse(CounterCsv(30, {{15, "12"}}));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*log), 29.0);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_glitch_dropped"), 1);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_decreased"), 0);
  EXPECT_THAT(Warnings(*log), HasSubstr("dropped, not taken as a reset"));
  // A plausible glitch high (a few J) that the next reading goes back on.
  Result<EnergyLog> high = Parse(CounterCsv(30, {{15, "1020"}}));
  ASSERT_TRUE(high.ok());
  EXPECT_DOUBLE_EQ(TotalJ(*high), 29.0);
  EXPECT_EQ(high->diagnostics.Count("energy.counter_glitch_dropped"), 1);
}

// The glitch rule needs a reading on both sides, so before, a glitch in a
// domain's first or last reading was taken as it was: a first reading 988 J
// low, or a last 3971 J high, was counted as energy spent in one 10 ms
// interval (29 J measured became 1017 J and 4000 J). Now the edge interval is
// judged against the trend of the readings between, and the reading dropped.
TEST(HostileMeterTest, GlitchAtTheFirstOrLastReadingIsDropped) {
  Result<EnergyLog> first = Parse(CounterCsv(30, {{0, "12"}}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*first), 28.0);  // 1001 → 1029: the window starts one reading in
  EXPECT_EQ(first->series.at(0).StartNs(), 1'010'000'000);
  EXPECT_EQ(first->diagnostics.Count("energy.edge_glitch_dropped"), 1);
  EXPECT_THAT(Warnings(*first), HasSubstr("'cpu:0/package' had the first (t_ns 1000000000: "
                                          "12 J) reading off its trend"));
  Result<EnergyLog> last = Parse(CounterCsv(30, {{29, "5000"}}));
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*last), 28.0);  // 1000 → 1028
  EXPECT_EQ(last->diagnostics.Count("energy.edge_glitch_dropped"), 1);
  EXPECT_THAT(Warnings(*last), HasSubstr("the last (t_ns 1290000000: 5000 J)"));
  Result<EnergyLog> both = Parse(CounterCsv(30, {{0, "12"}, {29, "5000"}}));
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*both), 27.0);
  EXPECT_EQ(both->diagnostics.Count("energy.edge_glitch_dropped"), 2);
  EXPECT_THAT(Warnings(*both), HasSubstr("had the first (t_ns 1000000000: 12 J) and the last "
                                         "(t_ns 1290000000: 5000 J) reading off its trend"));
}

// What the edge rule leaves alone: a real burst at the end (700 W for the last
// 10 ms after a steady 20 W); a domain too short to have a trend (docs/energy-log.md,
// "The ends", says why neither can be judged).
TEST(HostileMeterTest, EdgeRuleKeepsBurstsAndShortLogs) {
  // 20 W read every 10 ms (0.2 J a reading), then 700 W over the last 10 ms (7 J).
  std::string csv = "t_ns,domain,energy_j\n";
  double j = 500;
  for (int i = 0; i < 50; ++i) {
    if (i > 0) j += i == 49 ? 7.0 : 0.2;
    csv += fmt::format("{},cpu:0/package,{}\n", int64_t{i} * 10'000'000, j);
  }
  Result<EnergyLog> burst = Parse(csv);
  ASSERT_TRUE(burst.ok()) << burst.error().message;
  EXPECT_NEAR(TotalJ(*burst), 48 * 0.2 + 7.0, 1e-9);
  EXPECT_EQ(burst->diagnostics.Count("energy.edge_glitch_dropped"), 0);

  // Five readings: three intervals are too few to say what the trend is.
  Result<EnergyLog> short_log = Parse(CounterCsv(5, {{0, "12"}}));
  ASSERT_TRUE(short_log.ok()) << short_log.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*short_log), 1004.0 - 12.0);
  EXPECT_EQ(short_log->diagnostics.Count("energy.edge_glitch_dropped"), 0);
}

// Before: a decrease at an end (a reset, a wrap or a glitch, which no reading
// tells apart there) counted its interval as 0 J inside the domain's window,
// claiming the domain drew nothing then. Now the end reading is dropped and the
// window starts or ends one reading inward (energy.edge_decrease_dropped); with
// two readings there is no interval to spare, and the decrease counts 0 J.
TEST(HostileMeterTest, DecreaseAtAnEndShrinksTheWindow) {
  std::vector<std::pair<int, std::string>> wrap_first;
  for (int i = 1; i < 20; ++i) wrap_first.emplace_back(i, fmt::format("{}", i - 1 + 0.5));
  Result<EnergyLog> reset_first = Parse(CounterCsv(20, wrap_first));  // 1000, then 0.5, 1.5, …
  ASSERT_TRUE(reset_first.ok()) << reset_first.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*reset_first), 18.0);
  EXPECT_EQ(reset_first->series.at(0).StartNs(), 1'010'000'000);
  EXPECT_EQ(reset_first->diagnostics.Count("energy.edge_decrease_dropped"), 1);
  EXPECT_EQ(reset_first->diagnostics.Count("energy.counter_decreased"), 0);
  EXPECT_EQ(reset_first->diagnostics.Count("energy.edge_glitch_dropped"), 0);
  EXPECT_THAT(Warnings(*reset_first),
              HasSubstr("the energy counter of 'cpu:0/package' went down at the first (t_ns "
                        "1000000000: 1000 J) reading"));
  Result<EnergyLog> reset_last = Parse(CounterCsv(20, {{19, "0.5"}}));
  ASSERT_TRUE(reset_last.ok()) << reset_last.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*reset_last), 18.0);
  EXPECT_EQ(reset_last->series.at(0).EndNs(), 1'180'000'000);
  EXPECT_EQ(reset_last->diagnostics.Count("energy.edge_decrease_dropped"), 1);
  EXPECT_EQ(reset_last->diagnostics.Count("energy.counter_decreased"), 0);
  // A short log is judged too: 3 readings keep one interval.
  Result<EnergyLog> three = Parse(CounterCsv(3, {{2, "4"}}));
  ASSERT_TRUE(three.ok()) << three.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*three), 1.0);
  EXPECT_EQ(three->series.at(0).EndNs(), 1'010'000'000);
  EXPECT_EQ(three->diagnostics.Count("energy.edge_decrease_dropped"), 1);
  // Two readings: dropping one would leave no interval; 0 J, as before.
  Result<EnergyLog> two = Parse(CounterCsv(2, {{1, "4"}}));
  ASSERT_TRUE(two.ok()) << two.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*two), 0.0);
  EXPECT_EQ(two->series.at(0).EndNs(), 1'010'000'000);
  EXPECT_EQ(two->diagnostics.Count("energy.counter_decreased"), 1);
  EXPECT_EQ(two->diagnostics.Count("energy.edge_decrease_dropped"), 0);
}

// A power meter read every 100 ms: `watts` everywhere, with the readings at
// `special` replaced.
std::string PowerCsv(int n, double watts, const std::vector<std::pair<int, double>>& special = {}) {
  std::string csv = "t_ns,domain,power_w\n";
  for (int i = 0; i < n; ++i) {
    double w = watts;
    for (const auto& [at, value] : special)
      if (at == i) w = value;
    csv += fmt::format("{},gpu:0,{}\n", int64_t{i} * 100'000'000, w);
  }
  return csv;
}

// Before: power domains had no glitch rule below 100 kW: one 20 kW reading of
// a 100 W meter added 1990 J to a 2 s run of 200 J (+995 %), and a 50 kW first
// reading 2495 J. Now an isolated reading whose energy, judged over at
// least 1 s, is beyond 10 times the higher neighbour plus 10 W (the trend rule
// of a counter's ends) is dropped, at an end against the readings between.
TEST(HostileMeterTest, IsolatedPowerGlitchIsDropped) {
  Result<EnergyLog> log = Parse(PowerCsv(21, 100, {{10, 20000}}));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_NEAR(TotalJ(*log), 200.0, 1e-9);
  EXPECT_EQ(log->diagnostics.Count("energy.power_glitch_dropped"), 1);
  EXPECT_EQ(log->diagnostics.Count("energy.reading_implausible"), 0);
  EXPECT_THAT(Warnings(*log),
              HasSubstr("the power meter of 'gpu:0' had 1 isolated reading(s) off its trend "
                        "(first at t_ns 1000000000: 20000 W), contradicted by the next reading; "
                        "dropped, the power between its neighbours is interpolated"));
  Result<EnergyLog> first = Parse(PowerCsv(21, 100, {{0, 50000}}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_NEAR(TotalJ(*first), 190.0, 1e-9);
  EXPECT_EQ(first->series.at(0).StartNs(), 100'000'000);
  EXPECT_EQ(first->diagnostics.Count("energy.edge_glitch_dropped"), 1);
  EXPECT_THAT(Warnings(*first), HasSubstr("the power meter of 'gpu:0' had the first (t_ns 0: "
                                          "50000 W) reading off its trend"));
  Result<EnergyLog> last = Parse(PowerCsv(21, 100, {{20, 50000}}));
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_NEAR(TotalJ(*last), 190.0, 1e-9);
  EXPECT_EQ(last->diagnostics.Count("energy.edge_glitch_dropped"), 1);
}

// What the power rule keeps: a real one-sample burst (700 W between 20 W
// readings: 70 W judged over 1 s against 210 W), a change of load the next
// readings keep, two high readings in a row, a reading low by mistake (only
// highs are judged), and the ends of a short log.
TEST(HostileMeterTest, PowerRuleKeepsBurstsStepsAndLows) {
  Result<EnergyLog> burst = Parse(PowerCsv(21, 20, {{10, 700}}));
  ASSERT_TRUE(burst.ok()) << burst.error().message;
  EXPECT_NEAR(TotalJ(*burst), 40.0 + 680 * 0.1, 1e-9);
  std::vector<std::pair<int, double>> step;
  for (int i = 10; i < 21; ++i) step.emplace_back(i, 700);
  Result<EnergyLog> load = Parse(PowerCsv(21, 20, step));
  ASSERT_TRUE(load.ok()) << load.error().message;
  EXPECT_NEAR(TotalJ(*load), 20 * 0.9 + 0.5 * (20 + 700) * 0.1 + 700 * 1.0, 1e-9);
  Result<EnergyLog> pair = Parse(PowerCsv(21, 100, {{10, 20000}, {11, 20000}}));
  ASSERT_TRUE(pair.ok()) << pair.error().message;
  EXPECT_NEAR(TotalJ(*pair), 200.0 + 19900 * 0.2, 1e-9);
  Result<EnergyLog> low = Parse(PowerCsv(21, 100, {{10, 0}}));
  ASSERT_TRUE(low.ok()) << low.error().message;
  EXPECT_NEAR(TotalJ(*low), 190.0, 1e-9);
  Result<EnergyLog> short_log = Parse(PowerCsv(4, 100, {{0, 50000}}));
  ASSERT_TRUE(short_log.ok()) << short_log.error().message;
  EXPECT_NEAR(TotalJ(*short_log), 0.05 * 50100 + 0.2 * 100, 1e-9);
  for (const Result<EnergyLog>* log : {&burst, &load, &pair, &low, &short_log}) {
    EXPECT_EQ((*log)->diagnostics.Count("energy.power_glitch_dropped"), 0);
    EXPECT_EQ((*log)->diagnostics.Count("energy.edge_glitch_dropped"), 0);
  }
}

// A true reset (to near zero, continuing from there) is handled as before: the
// interval counts 0 J and later readings are re-based.
TEST(HostileMeterTest, TrueResetIsStillARebase) {
  std::vector<std::pair<int, std::string>> special;
  for (int i = 10; i < 20; ++i) special.emplace_back(i, fmt::format("{}", i - 10 + 0.5));
  Result<EnergyLog> log = Parse(CounterCsv(20, special));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*log), 9.0 + 9.0);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_decreased"), 1);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_glitch_dropped"), 0);
}

// A wrap at max_energy_range (RAPL: 262143.328850 J) left in a log.
TEST(HostileMeterTest, WrapAtTheRangeIsStillARebase) {
  std::string csv = "t_ns,domain,energy_j\n";
  const std::vector<double> v = {262140.0, 262141.0, 262142.0, 0.5, 1.5, 2.5};
  for (size_t i = 0; i < v.size(); ++i)
    csv += fmt::format("{},cpu:0/package,{}\n", int64_t(i) * 10'000'000, v[i]);
  Result<EnergyLog> log = Parse(csv);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_DOUBLE_EQ(TotalJ(*log), 4.0);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_decreased"), 1);
}

class HostileRunJsonTest : public ::testing::Test {
 protected:
  Result<EnergyLog> Read(const std::string& domain_extra, const std::string& baseline) {
    std::ofstream(tmp_.path() + "/run.json")
        << R"({"format": "smaragdine-run/1", "clock": "CLOCK_MONOTONIC", "domains": [)"
        << R"({"name": "cpu:0/package", "device": "CPU:0", "quantity": "energy")" << domain_extra
        << R"(}], "baseline_w": )" << baseline << "}\n";
    std::ofstream(tmp_.path() + "/energy.csv")
        << "t_ns,domain,energy_j,power_w\n0,cpu:0/package,1,\n10000000,cpu:0/package,2,\n";
    return ReadRunDirectory(tmp_.path());
  }
  TempDir tmp_;
};

// Before: negative baseline_w and resolution_j were accepted and printed.
TEST_F(HostileRunJsonTest, NegativeBaselineAndResolutionAreRefused) {
  ASSERT_TRUE(Read("", R"({"cpu:0/package": 5})").ok());
  Result<EnergyLog> baseline = Read("", R"({"cpu:0/package": -5})");
  ASSERT_FALSE(baseline.ok());
  EXPECT_THAT(baseline.error().message, HasSubstr("cannot be negative"));
  EXPECT_THAT(baseline.error().message, HasSubstr("baseline_w.cpu:0/package"));
  Result<EnergyLog> resolution = Read(R"(, "resolution_j": -0.001)", "{}");
  ASSERT_FALSE(resolution.ok());
  EXPECT_THAT(resolution.error().message, HasSubstr("resolution_j"));
  EXPECT_THAT(resolution.error().message, HasSubstr("cannot be negative"));
  // And through the CLI: exit 2 naming run.json.
  Read("", R"({"cpu:0/package": -5})").ok();
  const std::string example = std::string(SMARAGDINE_TEST_DATA) + "/../../examples/bert-small";
  Ran r = testing::Run({SMARAGDINE_BINARY, "account", "--energy", tmp_.path(), "--trace",
                        example + "/pt2_bert-small_h100_inference.pt.trace.json.gz", "-q", "-o",
                        tmp_.path() + "/p.json"},
                       tmp_.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("run.json"));
}

// Before: --baseline-w cpu:0/package=inf was accepted and printed.
TEST_F(HostileRunJsonTest, BaselineOptionMustBeAFinitePlausiblePower) {
  const std::string example = std::string(SMARAGDINE_TEST_DATA) + "/../../examples/bert-small";
  for (const char* w : {"inf", "-inf", "nan", "-5", "1e308"}) {
    Ran r = testing::Run(
        {SMARAGDINE_BINARY, "account", "--energy", example + "/run", "--trace",
         example + "/pt2_bert-small_h100_inference.pt.trace.json.gz", "-q", "--baseline-w",
         std::string("cpu:0/package=") + w, "-o", tmp_.path() + "/p.json"},
        tmp_.path());
    EXPECT_EQ(r.status, 1) << w << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("is not a power in watts")) << w;
  }
}

}  // namespace
}  // namespace smaragdine
