#include "energy/normalize.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace smaragdine::energy {

EnergySeries NormalizeCounterReadings(const std::string& domain, const DomainReadings& r,
                                      Diagnostics& diagnostics) {
  const size_t n = r.t_ns.size();
  const std::vector<double>& v = r.value;

  // Cumulative energy with a re-base at every decrease. E[i] = v[i] - base keeps
  // the exact difference to the first reading while the counter behaves; after a
  // decrease the interval counts 0 J and base moves so that E continues from
  // where it was (the energy of that interval is unknown: giving it to nobody is
  // the only honest share).
  std::vector<double> cumulative_j(n);
  std::vector<bool> decreased(n, false);  // interval (i-1, i] went down
  double base_j = v[0];
  cumulative_j[0] = 0.0;
  int64_t decreases = 0;
  size_t first_decrease = 0;
  for (size_t i = 1; i < n; ++i) {
    if (v[i] < v[i - 1]) {
      if (decreases++ == 0) first_decrease = i;
      decreased[i] = true;
      cumulative_j[i] = cumulative_j[i - 1];
      base_j = v[i] - cumulative_j[i];
    } else if (v[i] == v[i - 1]) {
      cumulative_j[i] = cumulative_j[i - 1];
    } else {
      // max(): after a re-base, v - base may round a hair below the previous value.
      cumulative_j[i] = std::max(cumulative_j[i - 1], v[i] - base_j);
    }
  }
  if (decreases > 0) {
    diagnostics.Add("energy.counter_decreased", decreases);
    diagnostics.Warn(fmt::format(
        "the energy counter of '{}' went down {} time(s) (first at t_ns {}: from {} J to {} J); "
        "each such interval counts as 0 J",
        domain, decreases, r.t_ns[first_decrease], v[first_decrease - 1], v[first_decrease]));
  }

  // Coalescing. Reading indices i-1 → i form interval i.
  //
  //   value:  3   5   5   5   9          kept:  3   5           9
  //   t:      t0  t1  t2  t3  t4                t0  t1          t4
  //                   ^^^^^^ unchanged readings followed by a jump: the 4 J were
  //                   spent over t1..t4, so t2 and t3 are removed.
  //
  // An unchanged run that ends in a decrease is kept as it is (flat); one that
  // runs to the end of the log is dropped, since the energy spent after the last
  // change is unknown (the window shrinks to the last change).
  EnergySeries s;
  s.t_ns.reserve(n);
  s.energy_j.reserve(n);
  s.previous_ns.reserve(n);
  auto keep = [&](size_t i) {
    s.t_ns.push_back(r.t_ns[i]);
    s.energy_j.push_back(cumulative_j[i]);
    s.previous_ns.push_back(r.t_ns[i == 0 ? 0 : i - 1]);
  };
  keep(0);
  int64_t coalesced = 0;
  std::optional<size_t> run_start;  // first reading of the current unchanged run
  for (size_t i = 1; i < n; ++i) {
    bool unchanged = !decreased[i] && v[i] == v[i - 1];
    if (unchanged) {
      if (!run_start) run_start = i - 1;
      continue;
    }
    if (run_start) {
      if (decreased[i]) {
        for (size_t j = *run_start + 1; j < i; ++j) keep(j);
      } else {
        coalesced += static_cast<int64_t>(i - 1 - *run_start);
      }
      run_start.reset();
    }
    keep(i);
  }
  if (run_start) {
    if (*run_start == 0) {
      // Never changed at all: no jump to spread, and the meter said "nothing"
      // over the whole span; keep that span as 0 J rather than lose the domain.
      coalesced += static_cast<int64_t>(n - 2);
      keep(n - 1);
      diagnostics.Add("energy.constant_counter");
      diagnostics.Warn(fmt::format(
          "the energy counter of '{}' never changed over {} readings; it reads as 0 J", domain, n));
    } else {
      diagnostics.Add("energy.trailing_unchanged_dropped",
                      static_cast<int64_t>(n - 1 - *run_start));
    }
  }
  diagnostics.Add("energy.zero_delta_coalesced", coalesced);
  return s;
}

EnergySeries IntegratePowerReadings(const std::string& domain, const DomainReadings& r,
                                    Diagnostics& diagnostics) {
  const size_t n = r.t_ns.size();
  EnergySeries s;
  s.t_ns = r.t_ns;
  s.power_w = r.value;
  s.energy_j.resize(n);
  // JudgeReadings dropped negative readings (energy.negative_power_dropped);
  // should one get here, it counts as 0 W, never as negative energy.
  auto power_w = [&](size_t i) { return std::max(r.value[i], 0.0); };
  double previous_w = power_w(0);
  s.energy_j[0] = 0.0;
  for (size_t i = 1; i < n; ++i) {
    double current_w = power_w(i);
    // Trapezoid: power moves linearly between two readings. For a meter that
    // reports averages over its period this is off by half a period at most.
    // Unsigned: times are strictly increasing, and the gap may exceed INT64_MAX.
    uint64_t dt_ns = static_cast<uint64_t>(r.t_ns[i]) - static_cast<uint64_t>(r.t_ns[i - 1]);
    double dt_s = static_cast<double>(dt_ns) * 1e-9;
    s.energy_j[i] = s.energy_j[i - 1] + 0.5 * (previous_w + current_w) * dt_s;
    previous_w = current_w;
  }
  return s;
}

namespace {

// What no single domain can do (issue 17): a counter beyond 10^15 J (100 kW for
// three centuries) or a power beyond 100 kW (a rack, not a domain).
constexpr double kMaxCounterJ = 1e15;
constexpr double kMaxPowerW = 1e5;
// A counter's rise is judged as a power over at least this long: counters
// update in steps (RAPL ~1 ms, NVML up to 100 ms), so a rise over a few µs says
// little; more than 100 kJ within a second is implausible whatever the gap.
constexpr double kMinJudgedSpanS = 1.0;

double RiseW(double from_j, double to_j, int64_t from_ns, int64_t to_ns) {
  const double dt_s = static_cast<double>(static_cast<uint64_t>(to_ns) -
                                          static_cast<uint64_t>(from_ns)) * 1e-9;
  return (to_j - from_j) / std::max(dt_s, kMinJudgedSpanS);
}

// Isolated glitches (step 3 of JudgeReadings): a reading off the trend that
// the next reading contradicts. Low: below the previous reading while the next
// is back at or above it (a reset continues from the low value instead). High:
// above the next reading while the next is at or above the previous one. The
// readings left; energy.counter_glitch_dropped and a warning for the others.
DomainReadings DropIsolatedGlitches(const std::string& domain, const DomainReadings& c,
                                    Diagnostics& diagnostics) {
  int64_t glitches = 0;
  std::optional<size_t> first_glitch;
  DomainReadings judged;
  judged.t_ns.reserve(c.t_ns.size());
  judged.value.reserve(c.value.size());
  for (size_t i = 0; i < c.t_ns.size(); ++i) {
    const double v = c.value[i];
    if (!judged.t_ns.empty() && i + 1 < c.t_ns.size()) {
      const double prev = judged.value.back(), next = c.value[i + 1];
      if (next >= prev && (v < prev || v > next)) {
        if (glitches++ == 0) first_glitch = i;
        continue;
      }
    }
    judged.t_ns.push_back(c.t_ns[i]);
    judged.value.push_back(v);
  }
  if (glitches > 0) {
    diagnostics.Add("energy.counter_glitch_dropped", glitches);
    diagnostics.Warn(fmt::format(
        "the energy counter of '{}' had {} isolated reading(s) off its trend (first at t_ns "
        "{}: {} J), contradicted by the next reading; dropped, not taken as a reset",
        domain, glitches, c.t_ns[*first_glitch], c.value[*first_glitch] + 0.0));
  }
  return judged;
}

// An edge reading (a domain's first or last) is judged against the trend of
// the readings between: its interval's rise (as RiseW) beyond kEdgeFactor
// times the largest rise of the other intervals plus kEdgeMarginW is off the
// trend. Needs kEdgeMinIntervals other intervals to have a trend at all.
constexpr double kEdgeFactor = 10;
constexpr double kEdgeMarginW = 10;
constexpr size_t kEdgeMinIntervals = 3;

// Which of the first and the last counter reading of `c` (judged readings,
// ≥ 2) are off the trend: the first when it sits far below the second (its
// interval rises far more than any other), the last when it sits far above
// the one before. A decrease at an edge is not judged here: like a reset
// anywhere, it counts 0 J (NormalizeCounterReadings), so it inflates nothing.
// `trend_w` is set to the largest rise of the other intervals.
std::pair<bool, bool> EdgeGlitches(const DomainReadings& c, double& trend_w) {
  const size_t n = c.t_ns.size();
  trend_w = 0;
  if (n < kEdgeMinIntervals + 3) return {false, false};
  // A stepped counter's rise is judged over the time since its value last
  // changed, as the jump rule (step 2) does.
  int64_t changed_ns = c.t_ns[1];
  double last_w = 0;
  for (size_t i = 2; i < n; ++i) {
    const double prev = c.value[i - 1], v = c.value[i];
    const double w = v > prev ? RiseW(prev, v, changed_ns, c.t_ns[i]) : 0.0;
    if (i + 1 < n) {
      trend_w = std::max(trend_w, w);
    } else {
      last_w = w;
    }
    if (v != prev) changed_ns = c.t_ns[i];
  }
  const double first_w =
      c.value[1] > c.value[0] ? RiseW(c.value[0], c.value[1], c.t_ns[0], c.t_ns[1]) : 0.0;
  const double limit_w = kEdgeFactor * trend_w + kEdgeMarginW;
  return {first_w > limit_w, last_w > limit_w};
}

// Drops the edge readings EdgeGlitches finds off the trend, with a diagnostic
// (energy.edge_glitch_dropped) and a warning naming them.
void DropEdgeGlitches(const std::string& domain, DomainReadings& c, Diagnostics& diagnostics) {
  double trend_w = 0;
  const auto [first_off, last_off] = EdgeGlitches(c, trend_w);
  if (!first_off && !last_off) return;
  std::vector<std::string> which;
  auto name = [&](size_t i, const char* edge) {
    which.push_back(fmt::format("the {} (t_ns {}: {} J)", edge, c.t_ns[i], c.value[i] + 0.0));
  };
  if (first_off) name(0, "first");
  if (last_off) name(c.t_ns.size() - 1, "last");
  if (last_off) {
    c.t_ns.pop_back();
    c.value.pop_back();
  }
  if (first_off) {
    c.t_ns.erase(c.t_ns.begin());
    c.value.erase(c.value.begin());
  }
  diagnostics.Add("energy.edge_glitch_dropped", static_cast<int64_t>(which.size()));
  diagnostics.Warn(fmt::format(
      "the energy counter of '{}' had {} reading off its trend: its interval rose more than {} "
      "times the largest rise between the other readings ({:.3g} W, judged over at least {} s) "
      "plus {} W; dropped, so the domain's window starts or ends one reading inward",
      domain, fmt::join(which, " and "), kEdgeFactor, trend_w, kMinJudgedSpanS, kEdgeMarginW));
}

}  // namespace

DomainReadings JudgeReadings(const DomainInfo& info, const DomainReadings& r,
                             Diagnostics& diagnostics) {
  const size_t n = r.t_ns.size();
  const bool counter = info.quantity == Quantity::kEnergy;
  int64_t implausible = 0, jumps = 0, negative_w = 0;
  std::optional<size_t> first_implausible, first_negative_w;

  // 1. Values no meter of one domain gives: dropped. A negative power is a
  // meter's error at that moment: dropped too (0 W would claim the domain drew
  // nothing), with a diagnostic of its own.
  std::vector<size_t> kept;
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const double v = r.value[i];
    if (!counter && v < 0) {
      if (negative_w++ == 0) first_negative_w = i;
      continue;
    }
    const bool bad = !std::isfinite(v) ||
                     (counter ? (v < 0 || v > kMaxCounterJ) : v > kMaxPowerW);
    if (bad) {
      if (implausible++ == 0) first_implausible = i;
      continue;
    }
    kept.push_back(i);
  }
  if (negative_w > 0) {
    diagnostics.Add("energy.negative_power_dropped", negative_w);
    diagnostics.Warn(fmt::format(
        "'{}' reported negative power {} time(s) (first at t_ns {}: {} W); dropped: the "
        "power between its neighbours is interpolated",
        info.name, negative_w, r.t_ns[*first_negative_w], r.value[*first_negative_w]));
  }

  DomainReadings out;
  out.t_ns.reserve(kept.size());
  out.value.reserve(kept.size());
  if (!counter) {
    for (size_t i : kept) {
      out.t_ns.push_back(r.t_ns[i]);
      out.value.push_back(r.value[i]);
    }
  } else {
    // 2. Rises beyond kMaxPowerW. A rise the next reading goes back on (it is
    // below this one) is a glitch and dropped; a rise the next readings keep
    // (they continue from the new level) is a jump of the counter: like a
    // decrease, that interval counts 0 J and later readings are re-based.
    double offset_j = 0;  // subtracted from readings after a jump
    int64_t changed_ns = 0;  // when the last kept value was first read
    for (size_t k = 0; k < kept.size(); ++k) {
      const size_t i = kept[k];
      double v = r.value[i] - offset_j;
      if (!out.t_ns.empty()) {
        const double prev = out.value.back();
        if (v > prev && RiseW(prev, v, changed_ns, r.t_ns[i]) > kMaxPowerW) {
          const bool next_keeps = k + 1 < kept.size() && r.value[kept[k + 1]] - offset_j >= v &&
                                  RiseW(v, r.value[kept[k + 1]] - offset_j, r.t_ns[i],
                                        r.t_ns[kept[k + 1]]) <= kMaxPowerW;
          if (!next_keeps) {
            if (implausible++ == 0) first_implausible = i;
            continue;
          }
          ++jumps;
          offset_j += v - prev;
          v = prev;
        }
        if (v != prev) changed_ns = r.t_ns[i];
      } else {
        changed_ns = r.t_ns[i];
      }
      out.t_ns.push_back(r.t_ns[i]);
      out.value.push_back(v);
    }

    // 3. Isolated glitches, which the next reading contradicts.
    DomainReadings judged = DropIsolatedGlitches(info.name, out, diagnostics);
    // 4. Glitches at the ends, which step 3 cannot see (a neighbour is missing
    // on one side): judged against the trend of the readings between them.
    DropEdgeGlitches(info.name, judged, diagnostics);
    if (jumps > 0) {
      diagnostics.Add("energy.counter_jumped", jumps);
      diagnostics.Warn(fmt::format(
          "the energy counter of '{}' jumped up by more than {} kW would explain {} time(s) and "
          "stayed there; each such interval counts as 0 J",
          info.name, kMaxPowerW / 1e3, jumps));
    }
    out = std::move(judged);
  }
  if (implausible > 0) {
    diagnostics.Add("energy.reading_implausible", implausible);
    diagnostics.Warn(fmt::format(
        "'{}' gave {} implausible reading(s) (first at t_ns {}: {} {}); dropped: {}", info.name,
        implausible, r.t_ns[*first_implausible], r.value[*first_implausible],
        counter ? "J" : "W",
        counter ? "not finite, negative, above 1e15 J, or a rise beyond 100 kW"
                : "not finite or above 100 kW"));
  }
  return out;
}

EnergySeries NormalizeReadings(const DomainInfo& info, const DomainReadings& raw,
                               Diagnostics& diagnostics) {
  const DomainReadings r = JudgeReadings(info, raw, diagnostics);
  if (r.t_ns.size() >= 2) {
    return info.quantity == Quantity::kPower
               ? IntegratePowerReadings(info.name, r, diagnostics)
               : NormalizeCounterReadings(info.name, r, diagnostics);
  }
  EnergySeries s;
  if (r.t_ns.empty()) {
    diagnostics.Add("energy.domain_without_readings");
    diagnostics.Warn(fmt::format("'{}' has no readings; it is left out of the accounting",
                                 info.name));
  } else {
    // One reading measures no interval; keep it so the report can say when it was.
    s.t_ns.push_back(r.t_ns[0]);
    s.energy_j.push_back(0.0);
    diagnostics.Add("energy.single_reading_domain");
    diagnostics.Warn(fmt::format(
        "'{}' has a single reading (t_ns {}), which measures no interval; it is left out of the "
        "accounting",
        info.name, r.t_ns[0]));
  }
  return s;
}

}  // namespace smaragdine::energy
