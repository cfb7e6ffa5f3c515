// clock.h — the process's clocks, in ns, and sleeping to an absolute deadline.
//
// Every time smaragdine stamps (readings, operators, run.json) is CLOCK_MONOTONIC
// unless it says otherwise; CLOCK_REALTIME only pairs with it (clock_sync).
// Inline: the live recorder stamps every operator twice.
#pragma once

#include <time.h>

#include <cerrno>
#include <cstdint>

namespace smaragdine {

inline int64_t ClockNowNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline int64_t MonotonicNowNs() { return ClockNowNs(CLOCK_MONOTONIC); }
inline int64_t RealtimeNowNs() { return ClockNowNs(CLOCK_REALTIME); }

// Sleeps until CLOCK_MONOTONIC reaches `deadline_ns` (absolute, so a signal or a
// late wake-up does not stretch a sampling period); returns at once when past.
inline void SleepUntilMonotonicNs(int64_t deadline_ns) {
  const timespec ts{static_cast<time_t>(deadline_ns / 1'000'000'000),
                    static_cast<long>(deadline_ns % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace smaragdine
