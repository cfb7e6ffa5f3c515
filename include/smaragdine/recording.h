// recording.h — sample every readable energy domain into a run directory.
//
// The one way a run directory (DESIGN §7.1: run.json, energy.csv, cputime.csv)
// comes to be: `smaragdine record`, a live LibTorch session and anything else
// that measures a program start a Recording, run the workload, and stop it.
//
//   RecordingOptions o;
//   o.dir = "run";
//   o.pid = child;                 // whose CPU time the model and the process share follow
//   SMG_ASSIGN_OR_RETURN(std::unique_ptr<Recording> rec, Recording::Start(o));
//   …run the workload…
//   RecordingSummary s = rec->Stop(exit_code);   // run.json finalised; s.errors if it was not
//
// Start() chooses the domains (sources.h), opens them, starts the sampling
// threads and the CPU-time recorder, waits for a first reading of every
// domain, measures the idle baseline when asked, and writes run.json; when it
// returns, the workload may begin. Every file is created inside the run
// directory relative to its descriptor (O_CREAT|O_EXCL|O_NOFOLLOW, renames
// within it), so nothing planted in the directory redirects a write
// (docs/security.md).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smaragdine/diagnostics.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/sources.h"
#include "smaragdine/status.h"

namespace smaragdine {

// What to sample and how often, as `smaragdine record` takes it; a live
// session and the Python recorder take the same.
struct SamplingOptions {
  std::vector<std::string> forced_sources;  // --source: preferred where several cover a domain
  SourceOptions sources;  // where the sources look, the CPU model's watts (model_pid is Start()'s)
  int64_t fast_period_ns = 1'000'000;   // RAPL, perf, MSR (--rate-hz)
  int64_t slow_period_ns = 20'000'000;  // NVML, hwmon, the model (--slow-period-ms)
};

// What Start() does with a run directory that already has entries.
enum class ExistingRunDirectory {
  kRefuse,           // kBadInput naming it and the first entries (record without --force)
  kReplaceOwnFiles,  // run.json, energy.csv, cputime.csv removed first; others left, listed
};

struct RecordingOptions {
  // The run directory: created with its parents when missing; never followed
  // when it is itself a symbolic link.
  std::string dir;
  ExistingRunDirectory existing = ExistingRunDirectory::kRefuse;
  // A directory Start() creates is handed to this user (record --user), so
  // the command can write its trace there; an existing one keeps its owner.
  std::optional<uid_t> owner_uid;
  std::optional<gid_t> owner_gid;

  SamplingOptions sampling;

  // The process tree whose CPU time the CPU model follows and cputime.csv
  // records; 0: this process.
  pid_t pid = 0;
  // cputime.csv, for account's process share. A live session inside the
  // measured process leaves it off: its model already counts only itself.
  bool record_cpu_time = true;
  // Measure each domain's idle power for this long before Start() returns
  // (record --baseline-s); run.json's baseline_w. 0: none.
  double baseline_s = 0;
  // Known idle powers (account --baseline-w's), written to run.json as given.
  std::map<std::string, double> baseline_w;
  // For run.json: the command line measured.
  std::vector<std::string> command;
};

// Per domain, what the readings so far add up to.
struct DomainTally {
  int64_t first_t_ns = 0, last_t_ns = 0;  // CLOCK_MONOTONIC; 0 before the first valid reading
  // Joules since the first valid reading: counter deltas for energy domains, power
  // integrated (trapezoids) for power domains.
  double energy_j = 0;
  int64_t readings = 0;  // valid (non-NaN) readings
};

struct CpuTimeStats {
  int64_t samples = 0;
  int64_t threads = 0;          // distinct threads seen
  int64_t tree_cpu_ns = 0;      // the tree's CPU time between the first and the last sample
  int64_t machine_busy_ns = 0;  // the machine's busy time over the same span
  int64_t overruns = 0;
  Diagnostics diagnostics;      // cputime.* and model.tid_reused
};

// What a stopped Recording measured, for a summary.
struct RecordingSummary {
  EnergyLog meta;                   // run.json as written at the end (no readings)
  std::vector<DomainTally> tallies;  // parallel to meta.domains
  std::optional<CpuTimeStats> cpu;  // when cputime.csv was recorded
  int64_t overruns = 0;             // sampling deadlines already past when due
  // The sampler's and the CPU-time recorder's counts (sampler.*, cputime.*).
  Diagnostics diagnostics;
  // What went wrong with the run's own files (energy.csv or cputime.csv writes
  // that failed, run.json not finalised): a run with errors is incomplete and
  // must not look like a good one.
  std::vector<Error> errors;
};

// The tightest of a few bracketed reads (mono, real, mono): realtime paired with
// the midpoint of the two monotonic reads with the smallest gap.
ClockSyncPair ReadClockSyncPair(const std::function<int64_t()>& realtime_ns = nullptr);

class Recording {
 public:
  // Errors: kUsage for an unknown forced source; kNothingMeasurable when no
  // domain can be read or opened (the message says how to find out why);
  // kBadInput naming the directory or file that cannot be created or used.
  static Result<std::unique_ptr<Recording>> Start(const RecordingOptions& options);
  ~Recording();  // stops sampling if Stop() was not called (run.json stays unfinalised)
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  // The run directory, absolute.
  const std::string& dir() const;
  // run.json's contents so far: the domains with their meters, clock pairs.
  const EnergyLog& meta() const;
  // Warnings and counts of Start(): sources that could not be opened, domains
  // left out, no CPU-time log, entries left in the run directory.
  const Diagnostics& diagnostics() const;
  // The tallies now (thread-safe).
  std::vector<DomainTally> Snapshot() const;

  // Stops sampling (one last reading of every domain), closes energy.csv and
  // cputime.csv and writes the final run.json with `exit_code` (when the
  // workload has one), the end time, the clock pairs and the domains that
  // stopped mid-run. Call once.
  RecordingSummary Stop(std::optional<int> exit_code = std::nullopt);

  struct Impl;

 private:
  explicit Recording(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smaragdine
