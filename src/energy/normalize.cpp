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
// Energy is judged as a power over at least this long: counters update in
// steps (RAPL ~1 ms, NVML up to 100 ms), so a rise over a few µs says little,
// and a power reading stands for its share of the time between its
// neighbours; more than 100 kJ within a second is implausible whatever the gap.
constexpr double kMinJudgedSpanS = 1.0;

double SpanS(int64_t from_ns, int64_t to_ns) {
  // Unsigned: times are strictly increasing, and the gap may exceed INT64_MAX.
  return static_cast<double>(static_cast<uint64_t>(to_ns) - static_cast<uint64_t>(from_ns)) *
         1e-9;
}

// `energy_j` spent over `span_s`, as a power judged over at least kMinJudgedSpanS.
double JudgedW(double energy_j, double span_s) {
  return energy_j / std::max(span_s, kMinJudgedSpanS);
}

double RiseW(double from_j, double to_j, int64_t from_ns, int64_t to_ns) {
  return JudgedW(to_j - from_j, SpanS(from_ns, to_ns));
}

// The trend rule every glitch judgement without a contradicting reading on the
// counter's own scale shares (a counter's first or last reading; any power
// reading): a judged power is off the trend `trend_w` when beyond kTrendFactor
// times it plus kTrendMarginW. The factor is generous on purpose: over at least
// 1 s, a burst of a few ms at full power after an idle run stays within it (a
// 700 W interval of 10 ms after 20 W reads as 7 W against 0.2 W).
constexpr double kTrendFactor = 10;
constexpr double kTrendMarginW = 10;
// A trend needs at least this many judged figures between the two ends.
constexpr size_t kEdgeMinBetween = 3;

bool OffTrend(double judged_w, double trend_w) {
  return judged_w > kTrendFactor * trend_w + kTrendMarginW;
}

// A power reading's energy, judged: the reading at `t_ns` stands for half the
// time to each neighbour (the trapezoid's weight), so a spike of one reading
// adds reading × share_s; as a power over at least kMinJudgedSpanS, so a real
// burst of one short sample is not mistaken for a glitch.
double PowerReadingJudgedW(double power_w, int64_t before_ns, int64_t after_ns) {
  const double share_s = 0.5 * SpanS(before_ns, after_ns);
  return JudgedW(power_w * share_s, share_s);
}

// How DropIsolated judges a reading `v` at `t` between the last reading kept
// before it and the next one.
struct Neighbours {
  int64_t prev_ns, t_ns, next_ns;
  double prev, v, next;
};

// A counter reading the next one contradicts: below the previous reading while
// the next is back at or above it (a reset continues from the low value
// instead), or above the next reading while the next is at or above the
// previous one.
bool CounterGlitch(const Neighbours& r) {
  return r.next >= r.prev && (r.v < r.prev || r.v > r.next);
}

// A power reading far above both neighbours (so the next reading went back on
// it; one that the next readings keep is a real change of load): off the
// trend of the higher neighbour by the trend rule, its energy judged over at
// least 1 s. Only highs are judged: a reading low by mistake costs at most its
// share of the trend's energy, and a real dip (idle between kernels) reads the
// same; a high one can cost up to 100 kW × its share.
bool PowerGlitch(const Neighbours& r) {
  return OffTrend(PowerReadingJudgedW(r.v, r.prev_ns, r.next_ns), std::max(r.prev, r.next));
}

// Isolated glitches: every reading with a kept reading before it and one after
// that `glitch` judges off the trend is dropped. The readings left; `name` and a
// warning (`what`: "energy counter", "power meter") for the others.
DomainReadings DropIsolated(const std::string& domain, const DomainReadings& c,
                            bool (*glitch)(const Neighbours&), const char* name,
                            const char* what, const char* unit, const char* why,
                            Diagnostics& diagnostics) {
  int64_t glitches = 0;
  std::optional<size_t> first_glitch;
  DomainReadings judged;
  judged.t_ns.reserve(c.t_ns.size());
  judged.value.reserve(c.value.size());
  for (size_t i = 0; i < c.t_ns.size(); ++i) {
    if (!judged.t_ns.empty() && i + 1 < c.t_ns.size() &&
        glitch({judged.t_ns.back(), c.t_ns[i], c.t_ns[i + 1], judged.value.back(), c.value[i],
                c.value[i + 1]})) {
      if (glitches++ == 0) first_glitch = i;
      continue;
    }
    judged.t_ns.push_back(c.t_ns[i]);
    judged.value.push_back(c.value[i]);
  }
  if (glitches > 0) {
    diagnostics.Add(name, glitches);
    diagnostics.Warn(fmt::format(
        "the {} of '{}' had {} isolated reading(s) off its trend (first at t_ns {}: {} {}), "
        "contradicted by the next reading; dropped, {}",
        what, domain, glitches, c.t_ns[*first_glitch], c.value[*first_glitch] + 0.0, unit, why));
  }
  return judged;
}

// Which of a domain's first and last reading are off the trend: `first_w` and
// `last_w` are the judged powers of the two ends, `between_w` those of the
// figures between (the trend is the largest of them; at least kEdgeMinBetween
// needed). `trend_w` is set to that trend.
std::pair<bool, bool> EdgesOffTrend(double first_w, double last_w,
                                    const std::vector<double>& between_w, double& trend_w) {
  trend_w = 0;
  for (double w : between_w) trend_w = std::max(trend_w, w);
  if (between_w.size() < kEdgeMinBetween) return {false, false};
  return {OffTrend(first_w, trend_w), OffTrend(last_w, trend_w)};
}

// The ends of a counter (judged readings, ≥ 2): the first is off the trend when
// its interval rises far more than any interval between (it sits far below the
// second), the last when its interval does (far above the one before). Each
// rise is judged over the time since the counter's value last changed, as the
// jump rule (step 2) does. A decrease at an end is not a rise: DropEdgeDecreases.
std::pair<bool, bool> CounterEdgesOffTrend(const DomainReadings& c, double& trend_w) {
  const size_t n = c.t_ns.size();
  trend_w = 0;
  if (n < 2) return {false, false};
  std::vector<double> between_w;
  int64_t changed_ns = c.t_ns[1];
  double last_w = 0;
  for (size_t i = 2; i < n; ++i) {
    const double prev = c.value[i - 1], v = c.value[i];
    const double w = v > prev ? RiseW(prev, v, changed_ns, c.t_ns[i]) : 0.0;
    if (i + 1 < n) {
      between_w.push_back(w);
    } else {
      last_w = w;
    }
    if (v != prev) changed_ns = c.t_ns[i];
  }
  const double first_w =
      c.value[1] > c.value[0] ? RiseW(c.value[0], c.value[1], c.t_ns[0], c.t_ns[1]) : 0.0;
  return EdgesOffTrend(first_w, last_w, between_w, trend_w);
}

// The ends of a power meter's readings (≥ 2): each end's reading, its energy
// judged over at least 1 s (it has a neighbour on one side only: its share is
// half the gap to it), against the trend of the readings between.
std::pair<bool, bool> PowerEdgesOffTrend(const DomainReadings& c, double& trend_w) {
  const size_t n = c.t_ns.size();
  trend_w = 0;
  if (n < 2) return {false, false};
  const std::vector<double> between_w(c.value.begin() + 1, c.value.end() - 1);
  const double first_w = PowerReadingJudgedW(c.value[0], c.t_ns[0], c.t_ns[1]);
  const double last_w = PowerReadingJudgedW(c.value[n - 1], c.t_ns[n - 2], c.t_ns[n - 1]);
  return EdgesOffTrend(first_w, last_w, between_w, trend_w);
}

// Removes the first and/or the last reading of `c`, and says which in words.
std::vector<std::string> DropEnds(DomainReadings& c, bool first, bool last, const char* unit) {
  std::vector<std::string> which;
  auto name = [&](size_t i, const char* edge) {
    which.push_back(fmt::format("the {} (t_ns {}: {} {})", edge, c.t_ns[i], c.value[i] + 0.0,
                                unit));
  };
  if (first) name(0, "first");
  if (last) name(c.t_ns.size() - 1, "last");
  if (last) {
    c.t_ns.pop_back();
    c.value.pop_back();
  }
  if (first) {
    c.t_ns.erase(c.t_ns.begin());
    c.value.erase(c.value.begin());
  }
  return which;
}

// Drops the edge readings off the trend (CounterEdgesOffTrend or
// PowerEdgesOffTrend by the domain's quantity), with a diagnostic
// (energy.edge_glitch_dropped) and a warning naming them.
void DropEdgeGlitches(const std::string& domain, bool counter, DomainReadings& c,
                      Diagnostics& diagnostics) {
  double trend_w = 0;
  const auto [first_off, last_off] =
      counter ? CounterEdgesOffTrend(c, trend_w) : PowerEdgesOffTrend(c, trend_w);
  if (!first_off && !last_off) return;
  const std::vector<std::string> which = DropEnds(c, first_off, last_off, counter ? "J" : "W");
  diagnostics.Add("energy.edge_glitch_dropped", static_cast<int64_t>(which.size()));
  diagnostics.Warn(fmt::format(
      "the {} of '{}' had {} reading off its trend: {} more than {} times the largest {} between "
      "the other readings ({:.3g} W, judged over at least {} s) plus {} W; dropped, so the "
      "domain's window starts or ends one reading inward",
      counter ? "energy counter" : "power meter", domain, fmt::join(which, " and "),
      counter ? "its interval rose" : "its energy was", kTrendFactor,
      counter ? "rise" : "reading", trend_w, kMinJudgedSpanS, kTrendMarginW));
}

// A counter's first reading above the second, or its last below the one
// before: a reset, a wrap or a glitch, which no reading can tell apart at an
// end. Whichever it is, that interval's energy is unknown; counting it as 0 J
// (as a decrease between other readings is) would claim the domain drew
// nothing there, so the end reading is dropped instead and the domain's window
// starts or ends one reading inward, as for trailing unchanged readings. Needs
// 3 readings: with 2, dropping one would leave no interval at all (the
// decrease then counts 0 J, energy.counter_decreased).
void DropEdgeDecreases(const std::string& domain, DomainReadings& c, Diagnostics& diagnostics) {
  const size_t n = c.t_ns.size();
  if (n < 3) return;
  const bool first = c.value[1] < c.value[0];
  const bool last = c.value[n - 1] < c.value[n - 2] && n - (first ? 1 : 0) >= 3;
  if (!first && !last) return;
  const std::vector<std::string> which = DropEnds(c, first, last, "J");
  diagnostics.Add("energy.edge_decrease_dropped", static_cast<int64_t>(which.size()));
  diagnostics.Warn(fmt::format(
      "the energy counter of '{}' went down at {} reading: a reset, a wrap or a glitch, "
      "which no reading can tell apart at an end, so that interval's energy is unknown; "
      "dropped, so the domain's window starts or ends one reading inward",
      domain, fmt::join(which, " and ")));
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
    // 2. Isolated spikes, which the next reading goes back on, and spikes at
    // the ends, judged by the same trend rule as a counter's ends.
    out = DropIsolated(info.name, out, PowerGlitch, "energy.power_glitch_dropped", "power meter",
                       "W", "the power between its neighbours is interpolated", diagnostics);
    DropEdgeGlitches(info.name, counter, out, diagnostics);
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
    DomainReadings judged =
        DropIsolated(info.name, out, CounterGlitch, "energy.counter_glitch_dropped",
                     "energy counter", "J", "not taken as a reset", diagnostics);
    // 4. Glitches at the ends, which step 3 cannot see (a neighbour is missing
    // on one side): judged against the trend of the readings between them.
    DropEdgeGlitches(info.name, counter, judged, diagnostics);
    // 5. A decrease at an end: its interval's energy is unknown.
    DropEdgeDecreases(info.name, judged, diagnostics);
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
