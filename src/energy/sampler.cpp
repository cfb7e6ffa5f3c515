// The sampler: rate-class threads on absolute deadlines, a writer thread for energy.csv.
#include "energy/sampler.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/io.h"

namespace smaragdine {

namespace {

constexpr int kClockSyncTries = 5;


}  // namespace

ClockSyncPair ReadClockSyncPair(const std::function<int64_t()>& realtime_ns) {
  ClockSyncPair best;
  int64_t best_gap_ns = INT64_MAX;
  for (int i = 0; i < kClockSyncTries; ++i) {
    const int64_t m0 = MonotonicNowNs();
    const int64_t r = realtime_ns ? realtime_ns() : RealtimeNowNs();
    const int64_t m1 = MonotonicNowNs();
    if (m1 - m0 < best_gap_ns) {
      best_gap_ns = m1 - m0;
      best = {r, m0 + (m1 - m0) / 2};
    }
  }
  return best;
}

// One rate class: its sessions, the global index of each session domain, its counters.
struct Sampler::Group {
  RateClass rate = RateClass::kFast;
  int64_t period_ns = 0;
  std::vector<std::unique_ptr<SamplingSession>> sessions;
  std::vector<std::vector<uint32_t>> global;  // per session: domain i → index in domains_
  Diagnostics diag;                           // only this group's thread touches it
  std::vector<double> values;
  std::vector<RawReading> local;  // one pass's readings, handed over under the lock
  int64_t samples = 0, overruns = 0;
  std::thread thread;
};

Result<std::unique_ptr<Sampler>> Sampler::Start(std::vector<SamplerSession> sessions,
                                                const std::string& csv_path,
                                                const SamplerOptions& options) {
  const int fd = ::open(csv_path.c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return BadInput(csv_path, fmt::format("cannot create the energy log: {}", strerror(errno)));
  return Start(std::move(sessions), fd, csv_path, options);
}

Result<std::unique_ptr<Sampler>> Sampler::Start(std::vector<SamplerSession> sessions,
                                                int csv_fd, const std::string& csv_path,
                                                const SamplerOptions& options) {
  std::unique_ptr<Sampler> s(new Sampler());
  s->log_ = std::make_unique<RowLog>(csv_fd);
  s->options_ = options;
  s->csv_path_ = csv_path;
  for (RateClass rate : {RateClass::kFast, RateClass::kSlow}) {
    auto g = std::make_unique<Group>();
    g->rate = rate;
    g->period_ns = rate == RateClass::kFast ? options.fast_period_ns : options.slow_period_ns;
    for (SamplerSession& ss : sessions) {
      if (ss.rate != rate || !ss.session) continue;
      std::vector<uint32_t> idx;
      for (const DomainInfo& d : ss.session->domains()) {
        idx.push_back(static_cast<uint32_t>(s->domains_.size()));
        s->domains_.push_back(d);
        const bool power = d.quantity == Quantity::kPower;
        s->is_power_.push_back(power ? 1 : 0);
        s->row_middle_.push_back(fmt::format(",{},{}", EnergyCsvField(d.name), power ? "," : ""));
      }
      g->global.push_back(std::move(idx));
      g->sessions.push_back(std::move(ss.session));
    }
    if (!g->sessions.empty()) s->groups_.push_back(std::move(g));
  }
  s->tallies_.resize(s->domains_.size());
  s->last_value_.assign(s->domains_.size(), std::nan(""));
  s->unreadable_since_ns_.assign(s->domains_.size(), 0);
  s->unreadable_reason_.assign(s->domains_.size(), "");

  static constexpr std::string_view kHeader = "t_ns,domain,energy_j,power_w\n";
  if (!s->log_->Append(kHeader))
    return BadInput(csv_path,
                    fmt::format("cannot write the energy log: {}", s->log_->first_error()));

  s->start_sync_.push_back(ReadClockSyncPair(options.realtime_ns));
  s->clock_sync_ = s->start_sync_;
  s->writer_ = std::thread([p = s.get()] { p->WriterLoop(); });
  for (auto& g : s->groups_) g->thread = std::thread([p = s.get(), gp = g.get()] {
    p->SampleLoop(*gp);
  });
  return s;
}

Sampler::~Sampler() {
  if (!stopped_) Stop();
}

void Sampler::ReadOnce(Group& g) {
  g.local.clear();
  for (size_t k = 0; k < g.sessions.size(); ++k) {
    g.sessions[k]->Read(g.values, g.diag);
    // Stamped right after the read: the value is the counter at (about) this moment.
    const int64_t t_ns = MonotonicNowNs();
    const auto& idx = g.global[k];
    for (size_t i = 0; i < idx.size() && i < g.values.size(); ++i) {
      const uint32_t d = idx[i];
      if (std::isnan(g.values[i])) {
        g.diag.Add("sampler.unreadable_reading");
        if (unreadable_since_ns_[d] == 0) {
          unreadable_since_ns_[d] = t_ns;
          // The source's own warning about this domain ("NAME: reading … failed"), if any.
          const std::string prefix = domains_[d].name + ": ";
          const auto& warnings = g.diag.warnings();
          unreadable_reason_[d] = "the source gave no reading from then on";
          for (auto w = warnings.rbegin(); w != warnings.rend(); ++w)
            if (w->rfind(prefix, 0) == 0) {
              unreadable_reason_[d] = w->substr(prefix.size());
              break;
            }
        }
        continue;
      }
      if (unreadable_since_ns_[d] != 0) unreadable_since_ns_[d] = 0;
      g.local.push_back({t_ns, d, g.values[i]});
    }
  }
  ++g.samples;
  std::lock_guard<std::mutex> lock(mu_);
  for (const RawReading& r : g.local) {
    DomainTally& tally = tallies_[r.domain];
    double& last = last_value_[r.domain];
    if (tally.readings == 0) {
      tally.first_t_ns = r.t_ns;
    } else if (is_power_[r.domain]) {
      tally.energy_j += 0.5 * (last + r.value) * (r.t_ns - tally.last_t_ns) * 1e-9;
    } else if (r.value >= last) {
      // A session that lost a reading resumes from a new base: only increases count.
      tally.energy_j += r.value - last;
    }
    last = r.value;
    tally.last_t_ns = r.t_ns;
    ++tally.readings;
    pending_.push_back(r);
  }
}

void Sampler::SampleLoop(Group& g) {
  // The default 50 µs slack would blur a 1 ms period; 1 ns asks for the tightest wakeup.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  int64_t deadline_ns = MonotonicNowNs();
  // At least one reading before the last, even when Stop() comes before this
  // thread first runs (a command that exits at once): one reading alone
  // measures no interval, and the run would have nothing to account.
  do {
    ReadOnce(g);
    deadline_ns += g.period_ns;
    const int64_t now_ns = MonotonicNowNs();
    if (deadline_ns <= now_ns) {
      // Late: re-base the schedule on now instead of bursting reads to catch up.
      ++g.overruns;
      deadline_ns = now_ns;
      continue;
    }
    SleepUntilMonotonicNs(deadline_ns);
  } while (!stop_.load(std::memory_order_relaxed));
  // The last reading closes the run's final interval.
  ReadOnce(g);
}

void Sampler::WriteRows(std::vector<RawReading>& rows) {
  if (rows.empty()) return;
  // "t_ns,NAME,energy_j,\n" or "t_ns,NAME,,power_w\n": the text of
  // fmt::format("{},{},{},\n") and ("{},{},,{}\n"), without parsing a format per row.
  std::string& out = row_buffer_;
  out.clear();
  char value[32];  // the shortest text of a double is at most 24 characters
  for (const RawReading& r : rows) {
    const fmt::format_int t(r.t_ns);
    out.append(t.data(), t.size());
    out += row_middle_[r.domain];
    // {} is the shortest text that reads back as the same double.
    const auto n = fmt::format_to_n(value, sizeof value, "{}", r.value).size;
    out.append(value, std::min(n, sizeof value));
    out += is_power_[r.domain] ? "\n" : ",\n";
  }
  // One write per flush: rows reach the kernel's page cache, so they survive the
  // process being killed (the reader drops a torn last line).
  if (log_->Append(out)) rows_written_ += static_cast<int64_t>(rows.size());
  rows.clear();
}

void Sampler::WriterLoop() {
  std::vector<RawReading> rows;
  int64_t next_sync_ns = clock_sync_.back().monotonic_ns + options_.clock_sync_period_ns;
  std::unique_lock<std::mutex> wlock(writer_mu_);
  for (;;) {
    const bool stopping = writer_stop_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rows.swap(pending_);
    }
    wlock.unlock();
    WriteRows(rows);
    const int64_t now_ns = MonotonicNowNs();
    if (now_ns >= next_sync_ns) {
      clock_sync_.push_back(ReadClockSyncPair(options_.realtime_ns));
      next_sync_ns = now_ns + options_.clock_sync_period_ns;
    }
    wlock.lock();
    if (stopping) break;
    writer_cv_.wait_for(wlock, std::chrono::nanoseconds(options_.flush_period_ns),
                        [this] { return writer_stop_; });
  }
}

std::vector<DomainTally> Sampler::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tallies_;
}

SamplerResult Sampler::Stop() {
  SamplerResult result;
  if (stopped_) return result;
  stopped_ = true;
  stop_.store(true);
  for (auto& g : groups_)
    if (g->thread.joinable()) g->thread.join();
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    writer_stop_ = true;
  }
  writer_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  clock_sync_.push_back(ReadClockSyncPair(options_.realtime_ns));
  log_->Close();

  result.domains = domains_;
  for (size_t d = 0; d < domains_.size(); ++d) {
    // Unreadable at the end after at least one valid reading: the domain stopped mid-run.
    if (unreadable_since_ns_[d] != 0 && tallies_[d].readings > 0) {
      result.domains[d].stopped_ns = unreadable_since_ns_[d];
      result.domains[d].stopped_reason = unreadable_reason_[d];
    }
  }
  result.tallies = tallies_;
  result.clock_sync = clock_sync_;
  result.rows_written = rows_written_;
  result.write_errors = log_->errors();
  result.write_error = log_->first_error();
  for (auto& g : groups_) {
    result.diagnostics.Merge(g->diag);
    if (g->rate == RateClass::kFast) {
      result.fast_samples += g->samples;
      result.fast_overruns += g->overruns;
    } else {
      result.slow_samples += g->samples;
      result.slow_overruns += g->overruns;
    }
  }
  if (result.fast_overruns + result.slow_overruns > 0)
    result.diagnostics.Add("sampler.overrun", result.fast_overruns + result.slow_overruns);
  log_->ReportFailures(result.diagnostics, "sampler.write_failed", csv_path_, "energy log");
  return result;
}

}  // namespace smaragdine
