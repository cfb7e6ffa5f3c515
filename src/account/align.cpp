// Clock alignment (DESIGN §3): move trace times onto the energy log's clock.
#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "smaragdine/account.h"

namespace smaragdine {
namespace {

struct Span {
  int64_t start_ns = std::numeric_limits<int64_t>::max();
  int64_t end_ns = std::numeric_limits<int64_t>::min();
  bool empty() const { return start_ns >= end_ns; }
};

Span TraceSpan(const Trace& trace) {
  Span s;
  for (const Event& e : trace.events) {
    s.start_ns = std::min(s.start_ns, e.start_ns);
    s.end_ns = std::max(s.end_ns, e.end_ns);
  }
  return s;
}

Span EnergySpan(const EnergyLog& log) {
  Span s;
  for (const EnergySeries& series : log.series) {
    if (series.empty()) continue;
    s.start_ns = std::min(s.start_ns, series.StartNs());
    s.end_ns = std::max(s.end_ns, series.EndNs());
  }
  return s;
}

std::string FormatSpan(const Span& s) {
  return fmt::format("[{}, {}] ns ({:.3f} s long)", s.start_ns, s.end_ns,
                     (s.end_ns - s.start_ns) * 1e-9);
}

// Maps one realtime stamp to monotonic with the pair in force at that
// moment: the last pair whose realtime is not after it. Using the pair in
// force, rather than one global offset, keeps a wall-clock step during the
// run (NTP, a manual date change) from shifting the whole trace.
class RealtimeToMonotonic {
 public:
  explicit RealtimeToMonotonic(const std::vector<ClockSyncPair>& pairs) : pairs_(pairs) {
    std::sort(pairs_.begin(), pairs_.end(),
              [](const auto& a, const auto& b) { return a.realtime_ns < b.realtime_ns; });
  }
  int64_t operator()(int64_t realtime_ns) const {
    auto it = std::upper_bound(pairs_.begin(), pairs_.end(), realtime_ns,
                               [](int64_t t, const ClockSyncPair& p) { return t < p.realtime_ns; });
    const ClockSyncPair& p = it == pairs_.begin() ? pairs_.front() : *(it - 1);
    return realtime_ns - (p.realtime_ns - p.monotonic_ns);
  }

 private:
  std::vector<ClockSyncPair> pairs_;
};

class MonotonicToRealtime {
 public:
  explicit MonotonicToRealtime(const std::vector<ClockSyncPair>& pairs) : pairs_(pairs) {
    std::sort(pairs_.begin(), pairs_.end(),
              [](const auto& a, const auto& b) { return a.monotonic_ns < b.monotonic_ns; });
  }
  int64_t operator()(int64_t monotonic_ns) const {
    auto it = std::upper_bound(pairs_.begin(), pairs_.end(), monotonic_ns,
                               [](int64_t t, const ClockSyncPair& p) { return t < p.monotonic_ns; });
    const ClockSyncPair& p = it == pairs_.begin() ? pairs_.front() : *(it - 1);
    return monotonic_ns + (p.realtime_ns - p.monotonic_ns);
  }

 private:
  std::vector<ClockSyncPair> pairs_;
};

template <typename F>
void MapTimes(Trace& trace, F&& f) {
  for (Event& e : trace.events) {
    int64_t dur = e.end_ns - e.start_ns;
    e.start_ns = f(e.start_ns);
    // Durations are measured on one clock by the framework; keep them exact.
    e.end_ns = e.start_ns + dur;
  }
  for (Step& s : trace.steps) {
    int64_t dur = s.end_ns - s.start_ns;
    s.start_ns = f(s.start_ns);
    s.end_ns = s.start_ns + dur;
  }
}

}  // namespace

Result<AlignResult> AlignTrace(Trace& trace, const EnergyLog& log, const AlignOptions& options) {
  AlignResult result;
  const Span before = TraceSpan(trace);
  if (before.start_ns > before.end_ns) return Nothing("the trace has no events to align");
  const Span energy = EnergySpan(log);
  if (energy.start_ns > energy.end_ns)
    return Nothing(fmt::format("{}: no domain has two readings; nothing can be measured", log.path));

  const std::string energy_clock = ToString(log.clock);
  if (options.trace_offset_ns) {
    const int64_t off = *options.trace_offset_ns;
    MapTimes(trace, [off](int64_t t) { return t + off; });
    result.description = fmt::format("--trace-offset-ns {}: {} = trace time + offset", off,
                                     energy_clock);
  } else if (options.trace_start_ns) {
    // Relative traces: time 0 is the profiler's start. Absolute ones: the
    // first event is put at the given time.
    const int64_t zero = trace.time_base == TimeBase::kRelative ? 0 : before.start_ns;
    const int64_t off = *options.trace_start_ns - zero;
    MapTimes(trace, [off](int64_t t) { return t + off; });
    result.description =
        trace.time_base == TimeBase::kRelative
            ? fmt::format("--trace-start-ns {}: the trace's time 0 placed at {} {}",
                          *options.trace_start_ns, energy_clock, *options.trace_start_ns)
            : fmt::format("--trace-start-ns {}: the trace's first event placed at {} {}",
                          *options.trace_start_ns, energy_clock, *options.trace_start_ns);
  } else if (trace.time_base == TimeBase::kRelative) {
    return Nothing(fmt::format(
        "the trace's times are relative to the profiler's start (dialect {}), so it cannot be "
        "placed on the energy log's clock by itself.\n  trace:      {} relative\n  energy log: {} "
        "on {}\n  fix: pass --trace-start-ns T, where T is the {} time at which profiling started "
        "(for example the energy log's first reading, {}), or --trace-offset-ns",
        trace.dialect, FormatSpan(before), FormatSpan(energy), energy_clock, energy_clock,
        energy.start_ns));
  } else if ((trace.time_base == TimeBase::kRealtime) == (log.clock == Clock::kRealtime)) {
    result.description = fmt::format("identity: trace and energy log are both on {}",
                                      trace.time_base == TimeBase::kRealtime ? "CLOCK_REALTIME"
                                                                             : "CLOCK_MONOTONIC");
  } else if (log.clock_sync.empty()) {
    return Nothing(fmt::format(
        "the trace is stamped with {} but the energy log {} is on {} and has no clock_sync "
        "pairs to convert between them.\n  trace:      {}\n  energy log: {}\n  fix: record with "
        "`smaragdine record` (it writes clock_sync), or pass --trace-offset-ns "
        "(energy time = trace time + offset)",
        ToString(trace.time_base), log.path, energy_clock, FormatSpan(before), FormatSpan(energy)));
  } else if (trace.time_base == TimeBase::kRealtime) {
    RealtimeToMonotonic map(log.clock_sync);
    MapTimes(trace, map);
    result.description = fmt::format(
        "CLOCK_REALTIME → CLOCK_MONOTONIC through {} clock_sync pair(s) of the run",
        log.clock_sync.size());
  } else {
    MonotonicToRealtime map(log.clock_sync);
    MapTimes(trace, map);
    result.description = fmt::format(
        "CLOCK_MONOTONIC → CLOCK_REALTIME through {} clock_sync pair(s)", log.clock_sync.size());
  }

  const Span after = TraceSpan(trace);
  if (after.end_ns <= energy.start_ns || after.start_ns >= energy.end_ns) {
    const int64_t gap_ns = after.end_ns <= energy.start_ns ? energy.start_ns - after.end_ns
                                                           : after.start_ns - energy.end_ns;
    return Nothing(fmt::format(
        "the trace and the energy log do not overlap after alignment ({}), so no energy can be "
        "attributed.\n  trace:      {}\n  energy log: {}\n  the trace {} the energy log by {:.3f} "
        "s.\n  fix: check that both come from the same run; if the trace's clock differs, pass "
        "--trace-offset-ns {} (or --trace-start-ns) to shift it",
        result.description, FormatSpan(after), FormatSpan(energy),
        after.end_ns <= energy.start_ns ? "ends before the start of" : "starts after the end of",
        gap_ns * 1e-9,
        after.end_ns <= energy.start_ns ? energy.start_ns - after.start_ns
                                        : energy.start_ns - after.start_ns));
  }
  return result;
}

}  // namespace smaragdine
