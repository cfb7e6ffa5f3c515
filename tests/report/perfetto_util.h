// perfetto_util.h — parse `report --format perfetto` output with simdjson and
// check it against the profile it came from.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "smaragdine/profile.h"

namespace smaragdine::testing {

struct PerfettoSummary {
  size_t slices = 0;       // event slices (not steps)
  size_t step_slices = 0;
  double self_j = 0;       // Σ self_energy_j over the event slices
  std::map<std::string, double> counter_j;      // counter track name → ∫ W dt in J
  std::map<int64_t, std::string> thread_names;  // tid → name
};

// Checks (with gtest expectations) that `json` is valid JSON and that its
// slices are exactly the timeline's events of `p` (lane, ns times, path),
// each slice's energy_j being its self energy plus its nested slices', and
// every counter track ending at 0 W. Returns what the caller compares.
PerfettoSummary CheckPerfetto(const Profile& p, const std::string& json);

}  // namespace smaragdine::testing
