// regression.h — meter-aware regression attribution (DESIGN §6.7–6.10;
// internal to src/account; docs/attribution.md explains the model).
//
// The paper's rule takes power as constant between two readings, so every
// leaf in an interval gets the interval's average power: biased whenever the
// meter is coarser than the operations. Here each reading is what the meter
// really reports — a counter's value at its last update, or a power meter's
// average over a window before its last update — written as a linear
// function of the unknown power
//
//   P(t) = static + Σ over the lanes' innermost leaves active at t of power[class]
//
// with one unknown power per leaf class (node + phase). Fitted to all readings
// of the run at once (non-negative least squares, shrunk toward the mean of
// the class's op name where the data cannot tell classes apart), the powers
// are identified far below the meter's period: the same leaves recur in many
// steps at different offsets against the meter's updates.
//
// FitDomain does the fit for one domain: it builds the meter's equations
// (estimating the counter's update period and phase from the data when they
// are not known), solves them, resamples steps for the uncertainty, and
// returns what the sweep needs to split each measured interval's energy in
// proportion to the fitted model (so conservation stays exact).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "account/slices.h"
#include "smaragdine/diagnostics.h"
#include "smaragdine/energy_log.h"

namespace smaragdine::regression {

struct DomainInput {
  const DomainInfo* info = nullptr;
  // The readings to split (after any process share); `raw` is the domain's own
  // series, whose previous_ns / power_w describe the meter's updates.
  const EnergySeries* series = nullptr;
  bool series_is_raw = true;  // false: split by CPU time; fit on it without moving its times
  const PreparedLanes* prepared = nullptr;
  std::vector<uint32_t> lanes;                      // the domain's lanes (trace lane indices)
  const std::vector<uint32_t>* combo_of_event = nullptr;  // event → combo (Attribute's)
  const std::vector<uint32_t>* class_of_combo = nullptr;  // combo → leaf class (node + phase)
  size_t class_count = 0;
  const std::vector<uint32_t>* group_of_class = nullptr;  // class → pooling group (op name + phase)
  size_t group_count = 0;
  int64_t w0_ns = 0, w1_ns = 0;           // the domain's part of the window
  std::vector<int64_t> block_starts_ns;   // sorted step starts: resampling blocks for the CI
  int replicates = 40;                    // resamples for the CI; 0: none
  uint64_t seed = 0x5eed;
};

struct DomainFit {
  bool ok = false;
  std::string reason;  // why the fit was not used (when !ok), in words

  double static_w = 0;
  std::vector<double> class_power_w;  // per class; pooled classes carry their group's power

  // The series the sweep splits: readings moved to the meter's update times
  // (counters), else the input series. alpha[i] is interval i's measured
  // energy over the model's predicted energy there (1 when the fit is perfect).
  EnergySeries series;
  std::vector<double> alpha;

  // Resampled fits (one per replicate): static and class powers.
  std::vector<double> replicate_static_w;
  std::vector<std::vector<double>> replicate_class_power_w;

  std::string meter;  // the meter model used, in words (estimated figures marked)
  int64_t rows = 0;            // equations fitted
  int64_t classes_fitted = 0;  // classes with activity
  int64_t classes_pooled = 0;  // classes the data could not separate: given their group's power
  double r2 = 0;               // 1 − residual / total sum of squares of the readings
};

// Fits the model for one domain. Never fails outright: when the data cannot
// support a fit (too few readings, nothing varies, …), ok is false and
// `reason` says why, and the caller falls back to the proportional rule.
DomainFit FitDomain(const DomainInput& in, Diagnostics& diag);

// What `auto` needs before it prefers the regression: equations per fitted class.
constexpr double kMinRowsPerClass = 1.5;
constexpr int64_t kMinRows = 30;

}  // namespace smaragdine::regression
