// sampler.h — samples SamplingSessions on dedicated threads and streams energy.csv.
//
// One thread per rate class (fast: RAPL/perf/MSR, slow: NVML/hwmon/model) reads
// its sessions on absolute CLOCK_MONOTONIC deadlines and stamps each reading
// right after the read. A writer thread drains the readings into energy.csv
// (DESIGN §7.1) at least every 100 ms and records clock_sync pairs, so file I/O
// never delays a reading and a killed run keeps all but its last moments.
//
//   std::vector<SamplerSession> s;
//   s.push_back({RateClass::kFast, std::move(session)});
//   SMG_ASSIGN_OR_RETURN(auto sampler, Sampler::Start(std::move(s), "run/energy.csv", {}));
//   ...;  SamplerResult r = sampler->Stop();
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "energy/row_log.h"
#include "smaragdine/diagnostics.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/recording.h"
#include "smaragdine/sources.h"
#include "smaragdine/status.h"

namespace smaragdine {

struct SamplerOptions {
  int64_t fast_period_ns = 1'000'000;    // 1 kHz
  int64_t slow_period_ns = 20'000'000;   // 20 ms
  int64_t flush_period_ns = 50'000'000;  // energy.csv is written at least this often (≤ 100 ms)
  int64_t clock_sync_period_ns = 1'000'000'000;
  // Where clock_sync pairs read the wall clock; empty: CLOCK_REALTIME. A seam for the
  // wall-clock-step test (the machine's clock is not for tests to set).
  std::function<int64_t()> realtime_ns;
};

struct SamplerSession {
  RateClass rate = RateClass::kFast;
  std::unique_ptr<SamplingSession> session;
};

struct SamplerResult {
  // Every session's domains, in session order; a domain whose readings stopped
  // before the end (and never came back) has stopped_ns and stopped_reason set.
  std::vector<DomainInfo> domains;
  std::vector<DomainTally> tallies;      // parallel to domains
  std::vector<ClockSyncPair> clock_sync;  // at start, every second, at the end; sorted
  int64_t fast_samples = 0, slow_samples = 0;    // read passes per rate class
  int64_t fast_overruns = 0, slow_overruns = 0;  // deadlines already past when due
  int64_t rows_written = 0;
  // Writes of energy.csv that failed (each a flush's rows lost; a partial one is cut
  // back, so no torn row is left in the middle), and the first one's errno text.
  int64_t write_errors = 0;
  std::string write_error;
  Diagnostics diagnostics;  // the sessions' counts, plus sampler.* (see docs/record.md)
};


class Sampler {
 public:
  // Creates (truncates) `csv_path`, writes the header and starts the threads.
  // Errors: kBadInput naming the file when it cannot be created.
  // A link at `csv_path` is refused, not followed.
  static Result<std::unique_ptr<Sampler>> Start(std::vector<SamplerSession> sessions,
                                                const std::string& csv_path,
                                                const SamplerOptions& options);
  // The same into `csv_fd`, an empty file opened for writing (O_APPEND) that the
  // sampler now owns; `csv_path` names it in messages (record creates it with
  // O_EXCL|O_NOFOLLOW in its run directory).
  static Result<std::unique_ptr<Sampler>> Start(std::vector<SamplerSession> sessions,
                                                int csv_fd, const std::string& csv_path,
                                                const SamplerOptions& options);
  ~Sampler();  // stops if Stop() was not called
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  const std::vector<DomainInfo>& domains() const { return domains_; }
  const std::vector<ClockSyncPair>& start_clock_sync() const { return start_sync_; }
  // The tallies now (thread-safe; for a baseline: the difference of two snapshots).
  std::vector<DomainTally> Snapshot() const;
  // Reads every session one last time, joins the threads, writes, fsyncs and
  // closes energy.csv, and returns what was sampled. Call once.
  SamplerResult Stop();

 private:
  struct Group;
  Sampler() = default;
  void SampleLoop(Group& group);
  void WriterLoop();
  void ReadOnce(Group& group);
  void WriteRows(std::vector<RawReading>& rows);
  std::string row_buffer_;  // the writer thread's, kept between flushes

  SamplerOptions options_;
  std::vector<DomainInfo> domains_;
  // Per domain, what the hot paths need of domains_, packed: whether it reads power
  // (not energy), and the energy.csv row text between t_ns and the value
  // (",NAME," or ",NAME,,").
  std::vector<uint8_t> is_power_;
  std::vector<std::string> row_middle_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::unique_ptr<RowLog> log_;  // energy.csv
  std::string csv_path_;

  mutable std::mutex mu_;  // guards pending_, tallies_, last_value_
  std::vector<RawReading> pending_;
  std::vector<DomainTally> tallies_;
  std::vector<double> last_value_;  // last valid raw reading per domain (J or W)
  // Per domain, written only by the thread of its rate class, read after the join:
  // the first unreadable reading since the last valid one (0: none), and why.
  std::vector<int64_t> unreadable_since_ns_;
  std::vector<std::string> unreadable_reason_;

  std::mutex writer_mu_;
  std::condition_variable writer_cv_;
  bool writer_stop_ = false;
  std::vector<ClockSyncPair> start_sync_;
  std::vector<ClockSyncPair> clock_sync_;  // owned by the writer thread until joined
  int64_t rows_written_ = 0;

  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  std::thread writer_;
};

}  // namespace smaragdine
