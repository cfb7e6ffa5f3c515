// Normalisation of one domain's readings (DESIGN §6.1), rule by rule, then the
// invariants of the result on many random logs read through the CSV parser.
#include "energy/normalize.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smaragdine/energy_log.h"

namespace smaragdine::energy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

DomainInfo Counter(std::string name = "cpu:0/package") {
  DomainInfo info;
  info.name = std::move(name);
  info.device = "CPU:0";
  info.quantity = Quantity::kEnergy;
  return info;
}

DomainInfo Power(std::string name = "gpu:0") {
  DomainInfo info;
  info.name = std::move(name);
  info.device = "GPU:0";
  info.quantity = Quantity::kPower;
  return info;
}

// Readings at t = 0, 1000, 2000, … ns.
DomainReadings Every1us(std::vector<double> values) {
  DomainReadings r;
  for (size_t i = 0; i < values.size(); ++i) r.t_ns.push_back(static_cast<int64_t>(i) * 1000);
  r.value = std::move(values);
  return r;
}

TEST(NormalizeTest, StartsAtZeroFromTheFirstReading) {
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter(), Every1us({1000.25, 1001.25, 1003.75}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 1000, 2000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 1.0, 3.5));
  EXPECT_TRUE(d.empty());
}

TEST(NormalizeTest, CoalescesUnchangedRunIntoTheFollowingJump) {
  Diagnostics d;
  // 3 5 5 5 9: the 4 J of the jump were spent over t=1000..4000, not in the last 1 µs.
  EnergySeries s = NormalizeReadings(Counter(), Every1us({3, 5, 5, 5, 9}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 1000, 4000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 2.0, 6.0));
  EXPECT_EQ(d.Count("energy.zero_delta_coalesced"), 2);
  EXPECT_DOUBLE_EQ(s.EnergyAt(2500), 2.0 + 4.0 * 1500 / 3000);
}

TEST(NormalizeTest, CoalescesALeadingUnchangedRun) {
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter(), Every1us({7, 7, 7, 10}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 3000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 3.0));
  EXPECT_EQ(d.Count("energy.zero_delta_coalesced"), 2);
}

TEST(NormalizeTest, DecreasingCounterGivesAZeroIntervalAndRebases) {
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter(), Every1us({10, 12, 4, 7}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 1000, 2000, 3000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 2.0, 2.0, 5.0));
  EXPECT_EQ(d.Count("energy.counter_decreased"), 1);
  ASSERT_EQ(d.warnings().size(), 1u);
  EXPECT_EQ(d.warnings()[0],
            "the energy counter of 'cpu:0/package' went down 1 time(s) (first at t_ns 2000: from "
            "12 J to 4 J); each such interval counts as 0 J");
}

TEST(NormalizeTest, UnchangedRunEndingInADecreaseStaysFlat) {
  Diagnostics d;
  // No jump follows the run of 3s, so there is nothing to spread: keep it as it is.
  // (The counter then resets: 1 and on stays below 3. A 2 followed by 4 would be
  // a glitch, dropped: see CounterGlitchIsDroppedNotRebased.)
  EnergySeries s = NormalizeReadings(Counter(), Every1us({1, 3, 3, 3, 1, 2}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 1000, 2000, 3000, 4000, 5000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 2.0, 2.0, 2.0, 2.0, 3.0));
  EXPECT_EQ(d.Count("energy.zero_delta_coalesced"), 0);
}

TEST(NormalizeTest, CounterGlitchIsDroppedNotRebased) {
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter(), Every1us({1, 3, 3, 3, 2, 4}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 1000, 5000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 2.0, 3.0));
  EXPECT_EQ(d.Count("energy.counter_glitch_dropped"), 1);
  EXPECT_EQ(d.Count("energy.counter_decreased"), 0);
}

TEST(NormalizeTest, EdgeGlitchesAreDroppedAgainstTheTrend) {
  // 1 J a reading (1 µs apart: each rise judged over 1 s, 1 W); the first reading
  // 50 J low and the last 40 J high are beyond 10 × 1 W + 10 W.
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter(), Every1us({50, 100, 101, 102, 103, 104, 144}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(1000, 2000, 3000, 4000, 5000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 1.0, 2.0, 3.0, 4.0));
  EXPECT_EQ(d.Count("energy.edge_glitch_dropped"), 2);
  // 15 J at an end is within the margin: kept.
  Diagnostics k;
  EnergySeries kept = NormalizeReadings(Counter(), Every1us({85, 100, 101, 102, 103, 104, 119}), k);
  EXPECT_DOUBLE_EQ(kept.TotalJ(), 34.0);
  EXPECT_EQ(k.Count("energy.edge_glitch_dropped"), 0);
}

TEST(NormalizeTest, ImplausibleReadingsAreDropped) {
  Diagnostics d;
  DomainReadings r = JudgeReadings(
      Counter(), Every1us({1, NAN, -1, 2, INFINITY, 2e15, 3}), d);
  EXPECT_THAT(r.t_ns, ElementsAre(0, 3000, 6000));
  EXPECT_THAT(r.value, ElementsAre(1.0, 2.0, 3.0));
  EXPECT_EQ(d.Count("energy.reading_implausible"), 4);
  Diagnostics p;
  DomainReadings w = JudgeReadings(Power(), Every1us({100, 2e5, -3, NAN, 50}), p);
  EXPECT_THAT(w.value, ElementsAre(100.0, 50.0));  // negative power: dropped, its own count
  EXPECT_EQ(p.Count("energy.reading_implausible"), 2);
  EXPECT_EQ(p.Count("energy.negative_power_dropped"), 1);
}

TEST(NormalizeTest, DropsTrailingUnchangedReadings) {
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter(), Every1us({0, 5, 5, 5}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 1000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 5.0));
  EXPECT_EQ(d.Count("energy.trailing_unchanged_dropped"), 2);
}

TEST(NormalizeTest, ConstantCounterKeepsItsSpanAtZeroJoules) {
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter("cpu:0/psys"), Every1us({7, 7, 7, 7}), d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 3000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 0.0));
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(d.Count("energy.constant_counter"), 1);
  EXPECT_THAT(d.warnings(), ElementsAre(HasSubstr("'cpu:0/psys' never changed over 4 readings")));
}

TEST(NormalizeTest, IntegratesPowerByTrapezoid) {
  Diagnostics d;
  DomainReadings r{{0, 1'000'000'000, 3'000'000'000}, {10.0, 20.0, 20.0}};
  EnergySeries s = NormalizeReadings(Power(), r, d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 1'000'000'000, 3'000'000'000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 15.0, 55.0));
  EXPECT_TRUE(d.empty());
}

TEST(NormalizeTest, ZeroPowerIsAMeasurementNotCoalesced) {
  Diagnostics d;
  DomainReadings r{{0, 1'000'000'000, 2'000'000'000, 3'000'000'000}, {0.0, 0.0, 0.0, 4.0}};
  EnergySeries s = NormalizeReadings(Power(), r, d);
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 0.0, 0.0, 2.0));
  EXPECT_EQ(d.Count("energy.zero_delta_coalesced"), 0);
}

// Before (issue 17): counted as 0 W, which took 4 J of the 8 J away here.
TEST(NormalizeTest, NegativePowerIsDropped) {
  Diagnostics d;
  DomainReadings r{{0, 1'000'000'000, 2'000'000'000}, {4.0, -3.0, 4.0}};
  EnergySeries s = NormalizeReadings(Power(), r, d);
  EXPECT_THAT(s.t_ns, ElementsAre(0, 2'000'000'000));
  EXPECT_THAT(s.energy_j, ElementsAre(0.0, 8.0));
  EXPECT_EQ(d.Count("energy.negative_power_dropped"), 1);
  EXPECT_THAT(d.warnings(), ElementsAre(HasSubstr("negative power 1 time(s) (first at t_ns "
                                                  "1000000000: -3 W); dropped")));
}

TEST(NormalizeTest, SingleReadingMeasuresNoInterval) {
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter(), DomainReadings{{5}, {1.0}}, d);
  EXPECT_TRUE(s.empty());
  EXPECT_THAT(s.t_ns, ElementsAre(5));
  EXPECT_EQ(s.TotalJ(), 0.0);
  EXPECT_EQ(d.Count("energy.single_reading_domain"), 1);
}

TEST(NormalizeTest, NoReadingsGivesAnEmptySeries) {
  Diagnostics d;
  EnergySeries s = NormalizeReadings(Counter(), DomainReadings{}, d);
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.t_ns.empty());
  EXPECT_EQ(d.Count("energy.domain_without_readings"), 1);
}

// ---- Properties on random logs, read through the CSV import -------------------------------

struct RandomDomain {
  std::string name;
  Quantity quantity;
  std::vector<int64_t> t_ns;
  std::vector<double> value;
};

// Counters move in RAPL-like steps of 2^-14 J so that "unchanged" is exact;
// zero runs, jumps and decreases are all frequent.
std::vector<RandomDomain> MakeRandomLog(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> domains_dist(1, 4), n_dist(1, 80), kind_dist(0, 99);
  std::uniform_int_distribution<int64_t> dt_dist(1, 5'000'000), start_dist(0, 1'000'000'000);
  std::uniform_int_distribution<int> steps_dist(1, 5000);
  std::uniform_real_distribution<double> power_dist(-5.0, 300.0);
  std::vector<RandomDomain> out;
  int domains = domains_dist(rng);
  for (int d = 0; d < domains; ++d) {
    RandomDomain dom;
    bool power = kind_dist(rng) < 30;
    dom.quantity = power ? Quantity::kPower : Quantity::kEnergy;
    dom.name = power ? fmt::format("gpu:{}", d) : fmt::format("cpu:{}/package", d);
    int n = n_dist(rng);
    int64_t t = start_dist(rng);
    double v = std::ldexp(static_cast<double>(steps_dist(rng)), -14);
    for (int i = 0; i < n; ++i) {
      if (power) {
        v = power_dist(rng);
      } else if (i > 0) {
        int k = kind_dist(rng);
        if (k < 8) {
          v = std::ldexp(static_cast<double>(steps_dist(rng)), -14);  // re-based or reset
        } else if (k < 55) {
          v += std::ldexp(static_cast<double>(steps_dist(rng)), -14);
        }  // else unchanged
      }
      dom.t_ns.push_back(t);
      dom.value.push_back(v);
      t += dt_dist(rng);
    }
    out.push_back(std::move(dom));
  }
  return out;
}

// Rows of all domains interleaved at random, per-domain order kept.
std::string ToCsv(const std::vector<RandomDomain>& log, std::mt19937_64& rng) {
  std::vector<size_t> next(log.size(), 0);
  std::vector<size_t> pending;
  for (size_t d = 0; d < log.size(); ++d)
    for (size_t i = 0; i < log[d].t_ns.size(); ++i) pending.push_back(d);
  std::shuffle(pending.begin(), pending.end(), rng);
  std::string csv = "t_ns,domain,energy_j,power_w\n";
  for (size_t d : pending) {
    const RandomDomain& dom = log[d];
    size_t i = next[d]++;
    if (dom.quantity == Quantity::kPower)
      csv += fmt::format("{},{},,{}\n", dom.t_ns[i], dom.name, dom.value[i]);
    else
      csv += fmt::format("{},{},{},\n", dom.t_ns[i], dom.name, dom.value[i]);
  }
  return csv;
}

double SumOfPositiveDeltas(const std::vector<double>& v) {
  double sum = 0;
  for (size_t i = 1; i < v.size(); ++i) sum += std::max(0.0, v[i] - v[i - 1]);
  return sum;
}

double Trapezoid(const std::vector<int64_t>& t, const std::vector<double>& w) {
  double sum = 0;
  for (size_t i = 1; i < t.size(); ++i)
    sum += 0.5 * (w[i - 1] + w[i]) * (t[i] - t[i - 1]) * 1e-9;
  return sum;
}

TEST(NormalizePropertyTest, SeriesInvariantsHoldOnRandomLogs) {
  constexpr int kCases = 600;
  int measured = 0;
  for (int c = 0; c < kCases; ++c) {
    std::mt19937_64 rng(1000 + c);
    std::vector<RandomDomain> input = MakeRandomLog(rng);
    EnergyImportOptions options;
    Result<EnergyLog> log = ParseEnergyCsv("random.csv", ToCsv(input, rng), options);
    bool any_two = std::any_of(input.begin(), input.end(),
                               [](const RandomDomain& d) { return d.t_ns.size() >= 2; });
    if (!any_two) {
      ASSERT_FALSE(log.ok()) << "case " << c;
      EXPECT_EQ(log.error().code, ErrorCode::kNothingMeasurable);
      continue;
    }
    ASSERT_TRUE(log.ok()) << "case " << c << ": " << log.error().ToString();
    ++measured;
    ASSERT_EQ(log->domains.size(), input.size());
    int64_t kept_plus_removed = 0, energy_readings = 0, power_edge_drops = 0;
    for (size_t d = 0; d < input.size(); ++d) {
      SCOPED_TRACE(fmt::format("case {} domain {}", c, input[d].name));
      // The log lists domains in order of first appearance in the shuffled rows.
      auto found = std::find_if(log->domains.begin(), log->domains.end(),
                                [&](const DomainInfo& x) { return x.name == input[d].name; });
      ASSERT_NE(found, log->domains.end());
      const size_t index = static_cast<size_t>(found - log->domains.begin());
      const EnergySeries& s = log->series[index];
      ASSERT_EQ(found->quantity, input[d].quantity);
      EXPECT_EQ(found->device, GuessDevice(input[d].name));
      ASSERT_EQ(s.t_ns.size(), s.energy_j.size());
      // Random resets may look like isolated glitches (a low reading the next one
      // contradicts), and negative power is dropped: the energy is counted over
      // the readings JudgeReadings keeps.
      Diagnostics scratch;
      const DomainReadings judged =
          JudgeReadings(*found, DomainReadings{input[d].t_ns, input[d].value}, scratch);
      if (judged.t_ns.size() < 2) {
        EXPECT_TRUE(s.empty());
        continue;
      }
      ASSERT_GE(s.t_ns.size(), 2u);
      EXPECT_EQ(s.energy_j[0], 0.0);
      std::set<int64_t> input_times(input[d].t_ns.begin(), input[d].t_ns.end());
      for (size_t k = 0; k < s.t_ns.size(); ++k) {
        EXPECT_TRUE(input_times.count(s.t_ns[k])) << "invented time " << s.t_ns[k];
        if (k == 0) continue;
        EXPECT_LT(s.t_ns[k - 1], s.t_ns[k]);
        EXPECT_LE(s.energy_j[k - 1], s.energy_j[k]);
      }
      double expected = input[d].quantity == Quantity::kEnergy
                            ? SumOfPositiveDeltas(judged.value)
                            : Trapezoid(judged.t_ns, judged.value);
      EXPECT_NEAR(s.TotalJ(), expected, 1e-9 * std::max(1.0, expected));
      // The window's energy as attribution sees it, through EnergyAt.
      EXPECT_NEAR(s.EnergyAt(s.EndNs()) - s.EnergyAt(s.StartNs()), s.TotalJ(), 1e-12);
      if (input[d].quantity == Quantity::kEnergy) {
        kept_plus_removed += static_cast<int64_t>(s.t_ns.size());
        energy_readings += static_cast<int64_t>(input[d].t_ns.size());
      } else {
        // The edge rule judges power ends too, under the same name: not counter readings.
        power_edge_drops += scratch.Count("energy.edge_glitch_dropped");
      }
    }
    // Every counter reading is kept, coalesced, dropped as trailing, as a glitch or as
    // a decrease at an end: none vanish uncounted.
    kept_plus_removed += log->diagnostics.Count("energy.zero_delta_coalesced") +
                         log->diagnostics.Count("energy.trailing_unchanged_dropped") +
                         log->diagnostics.Count("energy.counter_glitch_dropped") +
                         log->diagnostics.Count("energy.edge_glitch_dropped") -
                         power_edge_drops +
                         log->diagnostics.Count("energy.edge_decrease_dropped");
    EXPECT_EQ(kept_plus_removed, energy_readings) << "case " << c;
  }
  EXPECT_GT(measured, kCases / 2);  // the generator must mostly make measurable logs
}

TEST(NormalizePropertyTest, RowOrderAcrossDomainsDoesNotMatter) {
  for (int c = 0; c < 200; ++c) {
    std::mt19937_64 rng(77 + c);
    std::vector<RandomDomain> input = MakeRandomLog(rng);
    std::mt19937_64 order_a(c), order_b(c + 100000);
    Result<EnergyLog> a = ParseEnergyCsv("a.csv", ToCsv(input, order_a), {});
    Result<EnergyLog> b = ParseEnergyCsv("b.csv", ToCsv(input, order_b), {});
    ASSERT_EQ(a.ok(), b.ok());
    if (!a.ok()) continue;
    // Domains are listed in order of first appearance, so match them by name.
    for (size_t d = 0; d < a->domains.size(); ++d) {
      auto it = std::find_if(b->domains.begin(), b->domains.end(),
                             [&](const DomainInfo& x) { return x.name == a->domains[d].name; });
      ASSERT_NE(it, b->domains.end());
      const EnergySeries& sb = b->series[static_cast<size_t>(it - b->domains.begin())];
      EXPECT_EQ(a->series[d].t_ns, sb.t_ns) << "case " << c;
      EXPECT_EQ(a->series[d].energy_j, sb.energy_j) << "case " << c;
    }
    EXPECT_EQ(a->diagnostics.counts(), b->diagnostics.counts());
  }
}

}  // namespace
}  // namespace smaragdine::energy
