// cputime.h — CPU time of a process tree and of the whole machine, from procfs.
//
// ProcessTreeCpuTime follows a recorded command's threads (the CPU-time model's
// input and the process share's); ReadMachineBusyNs reads the machine's busy time
// from <proc>/stat. CpuTimeRecorder samples both on its own thread and streams
// them into a run directory's cputime.csv (docs/energy-log.md):
//
//   SMG_ASSIGN_OR_RETURN(auto rec, CpuTimeRecorder::Start("/proc", child,
//                                                          "run/cputime.csv", {}));
//   ...;  CpuTimeStats s = rec->Stop();
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "energy/row_log.h"
#include "smaragdine/diagnostics.h"
#include "smaragdine/recording.h"
#include "smaragdine/status.h"

namespace smaragdine {

namespace procfs {
// A small procfs file in one read(2) loop (no iostreams at 50–100 Hz); nullopt
// and *error = errno when it cannot be read.
std::optional<std::string> ReadSmallFile(const std::string& path, int* error = nullptr);
// The numeric entries of a directory (pids under /proc, tids under task/).
std::vector<pid_t> NumericEntries(const std::string& dir);
// schedstat: "<ns on cpu> <ns waiting> <timeslices>\n" → ns on CPU.
std::optional<int64_t> ParseSchedstat(const std::string& text);
// The machine's busy CPU time from the "cpu " line of <proc>/stat, in ns: user +
// nice + system + irq + softirq + steal (guest time is already inside user). The
// kernel counts in USER_HZ ticks (10 ms each at 100 Hz), so this is that coarse.
std::optional<int64_t> ParseMachineBusyNs(const std::string& proc_stat_text);
std::optional<int64_t> ReadMachineBusyNs(const std::string& proc_root);
}  // namespace procfs

// CPU time of a process tree that never goes backwards. The tree is followed
// through <proc>/<pid>/task/<tid>/children; where the kernel has no children
// files (CONFIG_PROC_CHILDREN unset) it scans <proc>/*/stat for the parent pid
// instead. A thread that exits keeps the CPU time last read for it, so the
// total only grows. Not thread-safe.
class ProcessTreeCpuTime {
 public:
  struct Thread {
    pid_t pid = 0;       // the process (thread group) the thread belongs to
    int64_t cpu_ns = 0;  // its CPU time at the last sample
  };

  ProcessTreeCpuTime(std::string proc_root, pid_t root);
  // Walks the tree now and returns the CPU time, ns, of every thread seen so
  // far (live ones at their current value, exited ones at their last value).
  // Counts "model.tid_reused" in `diag` when a thread id came back with less time.
  int64_t SampleNs(Diagnostics* diag = nullptr);
  // Threads alive at the last sample, by thread id.
  const std::map<pid_t, Thread>& threads() const { return last_; }
  // The parent of each process of the tree at the last sample but the root
  // (the process whose children file, or stat's ppid, listed it), by pid.
  const std::map<pid_t, pid_t>& parents() const { return parents_; }
  // Threads currently tracked (alive at the last sample).
  size_t live_threads() const { return last_.size(); }
  // True when the last sample had to scan <proc>/*/stat because children files were missing.
  bool scanned_stat() const { return scanned_stat_; }

 private:
  void Walk(pid_t pid, pid_t parent, std::map<pid_t, Thread>& now,
            std::map<pid_t, bool>& visited, std::multimap<pid_t, pid_t>* ppid_children);
  std::multimap<pid_t, pid_t> ScanParents() const;

  std::string proc_;
  pid_t root_;
  std::map<pid_t, Thread> last_;  // tid → thread at the last sample
  std::map<pid_t, pid_t> parents_;  // pid → parent pid at the last sample (root excluded)
  int64_t retired_ns_ = 0;        // CPU ns of threads that have exited
  bool scanned_stat_ = false;
};

struct CpuTimeRecorderOptions {
  int64_t period_ns = 20'000'000;        // the slow rate class
  int64_t flush_period_ns = 50'000'000;  // cputime.csv is written at least this often
};

// Samples a process tree's per-thread CPU time and the machine's busy time every
// period on its own thread (absolute CLOCK_MONOTONIC deadlines) and appends them
// to cputime.csv: "t_ns,thread,cpu_ns", one `machine` row per sample, then one
// "parent:pid,ppid" row per process that is new or has another parent (so that
// a rank's DataLoader workers can be counted with it), then one "pid/tid" row
// per thread that is new or whose CPU time changed.
class CpuTimeRecorder {
 public:
  // Creates (truncates) `csv_path` and takes the first sample before returning.
  // Errors: kBadInput naming the file when it cannot be created; kNothingMeasurable
  // when <proc>/stat cannot be read (no busy time of the machine to share by).
  static Result<std::unique_ptr<CpuTimeRecorder>> Start(std::string proc_root, pid_t root,
                                                        const std::string& csv_path,
                                                        const CpuTimeRecorderOptions& options);
  // The same into `csv_fd`, an empty file opened for writing (O_APPEND) that the
  // recorder now owns (closed on error too); `csv_path` names it in messages.
  static Result<std::unique_ptr<CpuTimeRecorder>> Start(std::string proc_root, pid_t root,
                                                        int csv_fd, const std::string& csv_path,
                                                        const CpuTimeRecorderOptions& options);
  // Writes of cputime.csv that failed so far (valid after Stop) and the first one's reason.
  int64_t write_errors() const { return log_->errors(); }
  const std::string& write_error() const { return log_->first_error(); }
  ~CpuTimeRecorder();
  CpuTimeRecorder(const CpuTimeRecorder&) = delete;
  CpuTimeRecorder& operator=(const CpuTimeRecorder&) = delete;
  // Takes one last sample, joins the thread, writes and closes the file. Call once.
  CpuTimeStats Stop();

 private:
  CpuTimeRecorder(std::string proc_root, pid_t root);
  void SampleOnce();
  void Loop();
  void Flush();

  std::string proc_;
  ProcessTreeCpuTime tree_;
  CpuTimeRecorderOptions options_;
  std::string csv_path_;
  std::unique_ptr<RowLog> log_;         // cputime.csv
  std::string pending_;                 // rows not yet written (this thread only)
  std::map<pid_t, ProcessTreeCpuTime::Thread> written_;  // last value written per tid
  std::map<std::pair<pid_t, pid_t>, bool> seen_;         // (pid, tid) ever written
  std::map<pid_t, pid_t> written_parent_;                // last parent written per pid
  int64_t first_tree_ns_ = -1, first_busy_ns_ = -1, last_tree_ns_ = 0, last_busy_ns_ = 0;
  int64_t last_t_ns_ = 0;
  CpuTimeStats stats_;

  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace smaragdine
