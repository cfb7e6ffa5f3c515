// StepCursor must give StepAt's answer for every time, in any order: steps
// that overlap (one ProfilerStep sequence per thread), empty steps, gaps,
// times that go back (the next thread) or jump far ahead.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "trace/dialect.h"

namespace smaragdine {
namespace {

using trace_internal::StepAt;
using trace_internal::StepCursor;

TEST(StepCursorTest, SameAnswerAsStepAtOnRandomStepsAndTimes) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<Step> steps;
    const int threads = 1 + static_cast<int>(rng() % 4);
    for (int th = 0; th < threads; ++th) {
      int64_t t = static_cast<int64_t>(rng() % 50);
      const int n = static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        const int64_t len = rng() % 7 == 0 ? 0 : 1 + static_cast<int64_t>(rng() % 100);
        steps.push_back({"s", t, t + len});
        t += len + static_cast<int64_t>(rng() % 3 == 0 ? rng() % 50 : 0);
      }
    }
    std::stable_sort(steps.begin(), steps.end(),
                     [](const Step& a, const Step& b) { return a.start_ns < b.start_ns; });
    StepCursor cursor(steps);
    // Ascending runs (a thread's events), restarting lower, with far jumps.
    int64_t t = -10;
    for (int k = 0; k < 2000; ++k) {
      const uint64_t r = rng() % 100;
      if (r < 3) t = static_cast<int64_t>(rng() % 200) - 10;  // the next thread
      else if (r < 6) t += static_cast<int64_t>(rng() % 2000);  // a jump
      else t += static_cast<int64_t>(rng() % 4);
      ASSERT_EQ(cursor.At(t), StepAt(steps, t)) << "round " << round << " t " << t;
    }
  }
}

}  // namespace
}  // namespace smaragdine
