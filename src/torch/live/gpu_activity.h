// gpu_activity.h — GPU kernels from torch.profiler (Kineto/CUPTI) joined to a
// live session's trace (internal).
//
// The live recorder sees CPU-side operators only. Where torch has CUDA and
// Kineto, the Python bootstrap also runs torch.profiler with its CUDA activity
// alone (kernels, copies, and the CUDA runtime calls that launched them, each
// pair sharing a correlation id) and exports it as a Chrome trace. This file
// reads that export and puts its events on the session's clock, so that the
// live Kineto JSON carries them: the runtime call on the launching thread, at
// the time it ran inside the operator that made it, and the kernel on its GPU
// stream with the same correlation. The PyTorch dialect then hangs each kernel
// under the operator (and so the module path) that launched it.
//
// Kineto's clock is not the session's: its time base differs between torch
// versions. One cudaDeviceSynchronize made right after the profiler started,
// bracketed on CLOCK_MONOTONIC by the caller, ties the two: the first such
// call on that thread in the export is that call.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/status.h"
#include "smaragdine/torch/live.h"
#include "smaragdine/trace.h"

namespace smaragdine::live::internal {

struct GpuActivityEvent {
  std::string cat;   // "kernel", "gpu_memcpy", "gpu_memset", "cuda_runtime", "cuda_driver"
  std::string name;
  bool on_gpu = false;
  int64_t device = 0;   // on_gpu: the CUDA device index
  int64_t stream = 0;   // on_gpu: the stream
  uint64_t os_tid = 0;  // !on_gpu: the launching thread
  int64_t start_ns = 0;  // CLOCK_MONOTONIC
  int64_t end_ns = 0;
  int64_t correlation = -1;
};

struct GpuActivity {
  std::vector<GpuActivityEvent> events;  // GPU events first, then runtime calls
  int64_t gpu_events = 0;                // kernels, copies, memsets
  int64_t skipped = 0;                   // X events of those kinds without a usable time
  int64_t kineto_minus_monotonic_ns = 0;  // the calibration's offset
};

// The export's GPU events and the runtime calls that launched them, on
// CLOCK_MONOTONIC. Errors (kBadInput, naming `name`): not JSON, no
// traceEvents, or no cudaDeviceSynchronize on the calibration thread.
Result<GpuActivity> ReadGpuActivity(std::string_view json, const std::string& name,
                                    const GpuActivityFile& file);

// Adds `gpu` to a trace BuildLiveTrace() made (Session::Stop, in process):
// each kernel and copy on a lane of its device's stream, under the innermost
// operator running on its launching thread at the launch (found by the
// correlation id), in that operator's phase and step; at the root, in the step
// of its own start, when no launch or operator is found. The launching
// threads' lanes are told by their names ("pid P thread T").
void AddGpuActivityToTrace(const std::vector<GpuActivityEvent>& gpu, Trace* trace);

}  // namespace smaragdine::live::internal
