// process_share.h — how a CPU domain's energy is divided by CPU time: the
// recorded process tree's part (account --process-share), and that part among
// the ranks of a job. Internal to attribution (attribute.cpp); the tests check
// the arithmetic directly.
#pragma once

#include <cstdint>
#include <vector>

#include "smaragdine/energy_log.h"

namespace smaragdine {

// The energy of `series` that the recorded process tree used, as a cumulative
// series of its own: breakpoints at the union of the series' readings and the
// CPU-time samples (merged to kProcessShareMinIntervalNs), each interval's
// energy times the tree's share there. Outside the CPU-time samples the share
// is 1.
EnergySeries ProcessTreeSeries(const EnergySeries& series, const CpuTimeLog& cpu_time);

// The recorded tree's part of a CPU domain (`tree_series`, from
// ProcessTreeSeries, or a modeled domain's own series) divided among the
// processes `pids` of a job by each one's own CPU time (issue 13): in each
// kept CPU-time interval, process p's part is its CPU time over the tree's
// (scaled down if they add up to more than 1). The last series is the rest:
// the tree's processes that are not listed (a launcher, DataLoader workers),
// and all of the energy outside the samples. The parts add up to tree_series.
std::vector<EnergySeries> SplitTreeByProcess(const EnergySeries& tree_series,
                                             const CpuTimeLog& cpu_time,
                                             const std::vector<int64_t>& pids);

}  // namespace smaragdine
