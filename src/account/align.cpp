// Clock alignment (DESIGN §3): move trace times onto the energy log's clock.
#include <algorithm>
#include <limits>
#include <optional>

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

// In double: a span of hostile times may be wider than int64 holds.
double SecondsBetween(int64_t from_ns, int64_t to_ns) {
  return (static_cast<double>(to_ns) - static_cast<double>(from_ns)) * 1e-9;
}

std::string FormatSpan(const Span& s) {
  return fmt::format("[{}, {}] ns ({:.3f} s long)", s.start_ns, s.end_ns,
                     SecondsBetween(s.start_ns, s.end_ns));
}

// Times are int64 ns; every shift is checked, as the trace readers check
// ts + dur: a clock pair or an offset near the int64 limits would otherwise
// wrap times into the past or the far future (undefined behaviour, and
// events that end before they start). nullopt when the result passes the range.
std::optional<int64_t> Add(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}
std::optional<int64_t> Sub(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_sub_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// Maps a stamp of one clock to the other with the clock_sync pair in force
// at that moment: the last pair whose time on the stamp's clock is not after
// it. Using the pair in force, rather than one global offset, keeps a
// wall-clock step during the run (NTP, a manual date change) from shifting
// the whole trace.
class ClockMap {
 public:
  enum class From { kRealtime, kMonotonic };

  ClockMap(const std::vector<ClockSyncPair>& pairs, From from) : pairs_(pairs), from_(from) {
    std::sort(pairs_.begin(), pairs_.end(),
              [this](const auto& a, const auto& b) { return On(a) < On(b); });
  }
  // The pair used, for messages.
  const ClockSyncPair& PairFor(int64_t t_ns) const {
    auto it = std::upper_bound(pairs_.begin(), pairs_.end(), t_ns,
                               [this](int64_t t, const ClockSyncPair& p) { return t < On(p); });
    return it == pairs_.begin() ? pairs_.front() : *(it - 1);
  }
  std::optional<int64_t> operator()(int64_t t_ns) const {
    // A trace's times mostly fall between the same two pairs: a time in the
    // range of the pair found last needs no search (twice per event here).
    if (!(t_ns >= lo_ns_ && t_ns < hi_ns_)) Locate(t_ns);
    const std::optional<int64_t>& realtime_minus_monotonic = offset_ns_;
    if (!realtime_minus_monotonic) return std::nullopt;
    return from_ == From::kRealtime ? Sub(t_ns, *realtime_minus_monotonic)
                                    : Add(t_ns, *realtime_minus_monotonic);
  }

 private:
  // The pair's time on the clock the stamps are on.
  int64_t On(const ClockSyncPair& p) const {
    return from_ == From::kRealtime ? p.realtime_ns : p.monotonic_ns;
  }

  // Keeps the pair PairFor(t_ns) gives and the times that give the same:
  // below the first pair's time, or from the pair's time to the next
  // greater one (INT64_MAX itself is searched each time). Out of line, so
  // that operator() (twice an event) is small enough to inline into MapTimes.
  [[gnu::noinline]] void Locate(int64_t t_ns) const {
    auto it = std::upper_bound(pairs_.begin(), pairs_.end(), t_ns,
                               [this](int64_t t, const ClockSyncPair& p) { return t < On(p); });
    const ClockSyncPair& p = it == pairs_.begin() ? pairs_.front() : *(it - 1);
    lo_ns_ = it == pairs_.begin() ? std::numeric_limits<int64_t>::min() : On(p);
    hi_ns_ = it == pairs_.begin() ? On(p)
             : it == pairs_.end() ? std::numeric_limits<int64_t>::max()
                                  : On(*it);
    offset_ns_ = Sub(p.realtime_ns, p.monotonic_ns);
  }

  std::vector<ClockSyncPair> pairs_;
  From from_;
  mutable int64_t lo_ns_ = 0, hi_ns_ = 0;  // Locate's range; empty at first
  mutable std::optional<int64_t> offset_ns_;  // realtime - monotonic of its pair
};

// Maps every event and step start with `f` (which gives nullopt when a time
// cannot be mapped within int64), keeping durations. Returns the first start
// that could not be mapped, with the trace unchanged; nullopt when all were,
// with `mapped` the events' span after (TraceSpan's, without another pass).
template <typename F>
std::optional<int64_t> MapTimes(Trace& trace, F&& f, Span& mapped) {
  // Checked first, changed after: an error leaves the trace as it was.
  auto maps = [&](int64_t start_ns, int64_t end_ns) {
    const std::optional<int64_t> start = f(start_ns);
    const std::optional<int64_t> dur = Sub(end_ns, start_ns);
    return start && dur && Add(*start, *dur);
  };
  for (const Event& e : trace.events)
    if (!maps(e.start_ns, e.end_ns)) return e.start_ns;
  for (const Step& s : trace.steps)
    if (!maps(s.start_ns, s.end_ns)) return s.start_ns;
  Span span;
  for (Event& e : trace.events) {
    int64_t dur = e.end_ns - e.start_ns;
    e.start_ns = *f(e.start_ns);
    // Durations are measured on one clock by the framework; keep them exact.
    e.end_ns = e.start_ns + dur;
    span.start_ns = std::min(span.start_ns, e.start_ns);
    span.end_ns = std::max(span.end_ns, e.end_ns);
  }
  mapped = span;
  for (Step& s : trace.steps) {
    int64_t dur = s.end_ns - s.start_ns;
    s.start_ns = *f(s.start_ns);
    s.end_ns = s.start_ns + dur;
  }
  return std::nullopt;
}

std::string PairText(const ClockSyncPair& p) {
  return fmt::format("{{\"realtime_ns\": {}, \"monotonic_ns\": {}}}", p.realtime_ns,
                     p.monotonic_ns);
}

// Why a clock pair could not map a trace time: a pair of real clock readings
// never does this (both clocks are well inside int64 ns for centuries).
std::string ClockPairOverflow(int64_t t, const ClockSyncPair& p, const char* from) {
  return fmt::format(
      "clock_sync pair {}: mapping the trace's {} time {} through it passes the largest time "
      "there is (int64 ns); it is not a pair of real clock readings (record writes them); "
      "remove clock_sync and pass --trace-offset-ns instead",
      PairText(p), from, t);
}

}  // namespace

Result<AlignResult> AlignTrace(Trace& trace, const EnergyLog& log, const AlignOptions& options) {
  AlignResult result;
  const Span before = TraceSpan(trace);
  Span after = before;  // the identity leaves it; MapTimes gives it otherwise
  if (before.start_ns > before.end_ns) return Nothing("the trace has no events to align");
  const Span energy = EnergySpan(log);
  if (energy.start_ns > energy.end_ns)
    return Nothing(fmt::format("{}: no domain has two readings; nothing can be measured", log.path));

  const std::string energy_clock = ToString(log.clock);
  if (options.trace_offset_ns) {
    const int64_t off = *options.trace_offset_ns;
    if (auto t = MapTimes(trace, [off](int64_t t) { return Add(t, off); }, after))
      return UsageError(fmt::format(
          "--trace-offset-ns {}: the trace's time {} plus the offset passes the largest time "
          "there is (int64 ns)",
          off, *t));
    result.description = fmt::format("--trace-offset-ns {}: {} = trace time + offset", off,
                                     energy_clock);
  } else if (options.trace_start_ns) {
    // Relative traces: time 0 is the profiler's start. Absolute ones: the
    // first event is put at the given time.
    const int64_t zero = trace.time_base == TimeBase::kRelative ? 0 : before.start_ns;
    const std::optional<int64_t> off = Sub(*options.trace_start_ns, zero);
    const std::optional<int64_t> bad =
        off ? MapTimes(trace, [off](int64_t t) { return Add(t, *off); }, after) : before.start_ns;
    if (bad)
      return UsageError(fmt::format(
          "--trace-start-ns {}: moving the trace's time {} there passes the largest time there "
          "is (int64 ns)",
          *options.trace_start_ns, *bad));
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
    ClockMap map(log.clock_sync, ClockMap::From::kRealtime);
    if (auto t = MapTimes(trace, map, after))
      return BadInput(log.path + "/run.json", ClockPairOverflow(*t, map.PairFor(*t), "CLOCK_REALTIME"));
    result.description = fmt::format(
        "CLOCK_REALTIME → CLOCK_MONOTONIC through {} clock_sync pair(s) of the run",
        log.clock_sync.size());
  } else {
    ClockMap map(log.clock_sync, ClockMap::From::kMonotonic);
    if (auto t = MapTimes(trace, map, after))
      return BadInput(log.path + "/run.json", ClockPairOverflow(*t, map.PairFor(*t), "CLOCK_MONOTONIC"));
    result.description = fmt::format(
        "CLOCK_MONOTONIC → CLOCK_REALTIME through {} clock_sync pair(s)", log.clock_sync.size());
  }

  if (after.end_ns <= energy.start_ns || after.start_ns >= energy.end_ns) {
    const double gap_s = after.end_ns <= energy.start_ns
                             ? SecondsBetween(after.end_ns, energy.start_ns)
                             : SecondsBetween(energy.end_ns, after.start_ns);
    // The offset that would put the trace's start at the energy log's start,
    // when it is an int64 at all.
    const std::optional<int64_t> fix_ns = Sub(energy.start_ns, after.start_ns);
    return Nothing(fmt::format(
        "the trace and the energy log do not overlap after alignment ({}), so no energy can be "
        "attributed.\n  trace:      {}\n  energy log: {}\n  the trace {} the energy log by {:.3f} "
        "s.\n  fix: check that both come from the same run; if the trace's clock differs, pass "
        "--trace-offset-ns {} (or --trace-start-ns) to shift it",
        result.description, FormatSpan(after), FormatSpan(energy),
        after.end_ns <= energy.start_ns ? "ends before the start of" : "starts after the end of",
        gap_s, fix_ns ? std::to_string(*fix_ns) : std::string("OFFSET")));
  }
  return result;
}

}  // namespace smaragdine
