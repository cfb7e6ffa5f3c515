// normalize.h — one domain's raw readings → its EnergySeries (DESIGN §6.1).
//
// The rules (re-base on a decreasing counter, coalescing of zero-delta runs,
// dropping of trailing unchanged readings, trapezoid integration of power) are
// documented with their diagnostic names in docs/energy-log.md.
//
//   DomainReadings r{{0, 1000, 2000}, {5.0, 5.0, 7.0}};
//   EnergySeries s = NormalizeReadings(info, r, diagnostics);  // t {0, 2000}, E {0, 2}
#pragma once

#include <cstdint>
#include <vector>

#include "smaragdine/diagnostics.h"
#include "smaragdine/energy_log.h"

namespace smaragdine::energy {

// Readings of one domain in file order. The readers guarantee t_ns strictly
// increasing; values may be anything until JudgeReadings has seen them.
struct DomainReadings {
  std::vector<int64_t> t_ns;
  std::vector<double> value;  // cumulative J (energy domains) or W (power domains)
};

// Cumulative counter readings → series: starts at 0, a decrease is an
// interval of 0 J (`energy.counter_decreased`), zero-delta runs followed by a
// jump are coalesced, trailing unchanged readings dropped. Needs ≥ 2 readings.
EnergySeries NormalizeCounterReadings(const std::string& domain, const DomainReadings& r,
                                      Diagnostics& diagnostics);

// Power readings (W) → cumulative energy by the trapezoid rule. Needs ≥ 2
// readings, judged (JudgeReadings drops negative ones; any left count as 0 W).
EnergySeries IntegratePowerReadings(const std::string& domain, const DomainReadings& r,
                                    Diagnostics& diagnostics);

// Judges raw readings before they are normalised (issue 17; docs/energy-log.md):
// non-finite values, negative or > 1e15 J counter values and power above
// 100 kW are dropped (`energy.reading_implausible`), so is a counter rise beyond
// 100 kW (judged over ≥ 1 s) that the next reading goes back on; a rise the
// next readings keep is a jump (`energy.counter_jumped`, 0 J, re-based); an
// isolated reading off the trend that the next reading contradicts is dropped
// (`energy.counter_glitch_dropped`) rather than taken as a reset. Each with a
// warning. A negative power reading is dropped (`energy.negative_power_dropped`,
// a warning): the trapezoid then spans its neighbours. A counter's first or
// last reading, which has a neighbour on one side only, is dropped when its
// interval rises more than 10 times the largest rise between the other
// readings plus 10 W (`energy.edge_glitch_dropped`; at least 3 other intervals),
// or when its interval goes down (`energy.edge_decrease_dropped`: a reset, a wrap
// or a glitch there leaves that interval's energy unknown; ≥ 3 readings). A
// power reading whose energy, judged over ≥ 1 s, is more than 10 times its
// higher neighbour plus 10 W is dropped (`energy.power_glitch_dropped`), and
// one at an end by the same rule against the readings between
// (`energy.edge_glitch_dropped`).
DomainReadings JudgeReadings(const DomainInfo& info, const DomainReadings& r,
                             Diagnostics& diagnostics);

// Judges the readings (JudgeReadings), then dispatches on info.quantity. With fewer than 2 readings the series keeps the
// single reading (or nothing) at 0 J and the domain is counted in
// `energy.single_reading_domain` / `energy.domain_without_readings`.
EnergySeries NormalizeReadings(const DomainInfo& info, const DomainReadings& r,
                               Diagnostics& diagnostics);

}  // namespace smaragdine::energy
