// model.h — modeled CPU energy when no hardware counter covers the CPU.
//
// Domain "cpu:0/package", source "model", DomainInfo::modeled = true:
//   E(t) = idle_w × (t − t0) + core_w × (CPU time of the process tree since Open)
// CPU time per thread comes from <proc>/<pid>/task/<tid>/schedstat (first field:
// ns on CPU). It is a model, never a measurement; every output says so.
//
//   SourceOptions o; o.model_pid = child;
//   auto model = MakeModelSource(o);
//   SMG_ASSIGN_OR_RETURN(auto session, model->Open({"cpu:0/package"}));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "smaragdine/sources.h"

namespace smaragdine {

// CPU time of a process tree that never goes backwards. The tree is followed
// through <proc>/<pid>/task/<tid>/children; where the kernel has no children
// files (CONFIG_PROC_CHILDREN unset) it scans <proc>/*/stat for the parent pid
// instead. A thread that exits keeps the CPU time last read for it, so the
// total only grows. Not thread-safe.
class ProcessTreeCpuTime {
 public:
  ProcessTreeCpuTime(std::string proc_root, pid_t root);
  // Walks the tree now and returns the CPU time, ns, of every thread seen so
  // far (live ones at their current value, exited ones at their last value).
  // Counts "model.tid_reused" in `diag` when a thread id came back with less time.
  int64_t SampleNs(Diagnostics* diag = nullptr);
  // Threads currently tracked (alive at the last sample).
  size_t live_threads() const { return last_ns_.size(); }
  // True when the last sample had to scan <proc>/*/stat because children files were missing.
  bool scanned_stat() const { return scanned_stat_; }

 private:
  void Walk(pid_t pid, std::map<pid_t, int64_t>& now, std::map<pid_t, bool>& visited,
            std::multimap<pid_t, pid_t>* ppid_children);
  std::multimap<pid_t, pid_t> ScanParents() const;

  std::string proc_;
  pid_t root_;
  std::map<pid_t, int64_t> last_ns_;  // tid → CPU ns at the last sample
  int64_t retired_ns_ = 0;            // CPU ns of threads that have exited
  bool scanned_stat_ = false;
};

// The model source. options.model_pid is the tree's root; with 0 there is no
// tree yet and only the idle term counts. `now_ns` (CLOCK_MONOTONIC by
// default) is a seam for tests. Rate slow, preference 100 (last).
std::unique_ptr<EnergySource> MakeModelSource(const SourceOptions& options,
                                              std::function<int64_t()> now_ns = {});

}  // namespace smaragdine
