// build_trace.h — the records of a live session as a Trace, and as a Kineto
// JSON file that `smaragdine account` reads back to the same tree (internal).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <optional>
#include <vector>

#include "smaragdine/launch.h"
#include "smaragdine/trace.h"
#include "torch/live/gpu_activity.h"
#include "torch/live/recorder.h"

namespace smaragdine::live::internal {

struct LiveRecords {
  std::vector<std::unique_ptr<ThreadBuffer>> threads;
  std::vector<int64_t> step_marks_ns;  // Step() calls, ascending
  int64_t start_ns = 0;                // Session::Start
  int64_t stop_ns = 0;                 // Session::Stop
  // Where the first step begins (Session::BeginSteps); start_ns when unset.
  // Records before it belong to no step.
  std::optional<int64_t> steps_begin_ns;
  // The part after the last mark is a step of its own (SessionOptions::
  // step_after_last_mark); when false its records belong to no step.
  bool tail_is_step = true;
};

// Builds the trace (TimeBase::kMonotonic, dialect "live-libtorch"): per
// thread a lane "CPU:0"; a record's node is its enclosing record's node plus
// its name, or, at the top of its thread, its scope path plus its name;
// backward functions land on the node of the forward op with their sequence
// number (docs/live.md). Records still open at stop end at stop_ns.
Trace BuildLiveTrace(const LiveRecords& rec);

// The same records as a Kineto (PyTorch profiler) trace: cpu_op events with
// their sequence numbers, the scopes as user_annotation intervals, phases as
// "## forward ##"-style markers and steps as ProfilerStep#N. Times are
// baseTimeNanoseconds (CLOCK_REALTIME, from `realtime_minus_monotonic_ns`) +
// ts, so account maps them back onto CLOCK_MONOTONIC through run.json's
// clock_sync pairs. `launch` (its rank, world size, local rank, host) goes in
// Kineto's distributedInfo and host_name, which the reader makes the trace's
// process of. `gpu` (ReadGpuActivity) adds the runtime calls on their threads
// and the kernels and copies on their devices' streams, with their
// correlation ids, as Kineto writes them.
std::string LiveTraceAsKineto(const LiveRecords& rec, pid_t pid, int64_t realtime_minus_monotonic_ns,
                              const LaunchInfo& launch,
                              const std::vector<GpuActivityEvent>& gpu = {});

}  // namespace smaragdine::live::internal
