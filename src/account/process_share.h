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
// processes `pids` of a job by each one's own CPU time (issue 13) with that of
// the processes it started (CpuTimeOfListedSubtrees): in each kept CPU-time
// interval, process p's part is that CPU time over the tree's (scaled down if
// they add up to more than 1). The last series is the rest: the tree's
// processes that are neither listed nor started by a listed one (a launcher,
// its other children; every unlisted process when cputime.csv has no parent
// rows), and all of the energy outside the samples. The parts add up to
// tree_series.
std::vector<EnergySeries> SplitTreeByProcess(const EnergySeries& tree_series,
                                             const CpuTimeLog& cpu_time,
                                             const std::vector<int64_t>& pids);

// The CPU time of each process of `pids` together with that of every process
// whose nearest listed ancestor it is (from the log's parent_pid links): a
// rank's DataLoader workers, their own children, and so on, so that a rank
// that feeds itself through busy workers is given their CPU time. A process
// with no listed ancestor (the launcher, its other children), or whose chain
// of parents breaks (files without parent rows, a parent never seen), counts
// with none. Element i has pid pids[i], its own parent_pid, and cpu_ns
// cumulative over samples like any Process; a pid neither the log nor any
// parent link knows gets no samples (0 throughout). A pid listed twice
// counts in its first place only. Defined in process_share.cpp.
std::vector<CpuTimeLog::Process> CpuTimeOfListedSubtrees(const CpuTimeLog& cpu_time,
                                                         const std::vector<int64_t>& pids);

}  // namespace smaragdine
