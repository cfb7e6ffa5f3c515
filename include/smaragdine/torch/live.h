// live.h — energy accounting inside a LibTorch program, while it runs.
//
//   auto session = smaragdine::live::Session::Start({});   // Result<unique_ptr<Session>>
//   for (int i = 0; i < steps; ++i) {
//     { SMARAGDINE_SCOPE("model"); loss = model->forward(x); }
//     loss.backward();
//     { SMARAGDINE_PHASE(smaragdine::Phase::kOptimizer); optimizer.step(); }
//     (*session)->Step();                                  // ends this step
//   }
//   smaragdine::Result<smaragdine::Profile> profile = (*session)->Stop();
//
// While a Session runs, a LibTorch RecordFunction callback records every
// operator (thread, start and end on CLOCK_MONOTONIC, name, sequence number,
// the SMARAGDINE_SCOPE that was open). Stop() turns the records into a Trace,
// lines it up with the energy readings and attributes the joules (account.h):
// the Profile is the one `smaragdine account` would give for the same run.
//
// Energy comes from one of two places:
//  - in-process: the session samples the energy domains `smaragdine record`
//    would use (sources.h); with no readable counter, the CPU-time model of
//    this process (labelled MODELED in the profile);
//  - a `smaragdine record` run (SMARAGDINE_RUN_DIR, set by record, or
//    SessionOptions::run_dir): record samples; Stop() writes the trace into the
//    run directory (Kineto JSON, docs/live.md) so that
//    `smaragdine account --energy RUN --trace RUN/live.trace.json` works too.
//
// One Session at a time per process. This header does not include torch
// headers: the CLI and code that only starts and stops sessions compile
// without them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "smaragdine/energy_log.h"
#include "smaragdine/profile.h"
#include "smaragdine/recording.h"
#include "smaragdine/sources.h"
#include "smaragdine/status.h"
#include "smaragdine/trace.h"

namespace smaragdine::live {

struct SessionOptions {
  // Join this `record` run instead of sampling. Empty: $SMARAGDINE_RUN_DIR
  // when set (and use_run_dir_env), else sample in-process.
  std::string run_dir;
  bool use_run_dir_env = true;

  // In-process sampling: where to keep run.json, energy.csv, the trace and
  // profile.json (created if missing). Empty: a temporary directory that
  // Stop() removes, and nothing is written.
  std::string output_dir;
  // File name of the trace written into output_dir or the joined run
  // directory. When a joined run already has it (a second session in the
  // same program), "-2", "-3", … is added before ".json".
  std::string trace_name = "live.trace.json";
  // Also write profile.json next to the trace (output_dir or run directory).
  bool write_profile = true;

  // Energy sources and sampling periods, as `smaragdine record` takes them.
  SamplingOptions sampling;

  // Idle power per domain, for the static/dynamic split (account --baseline-w).
  std::map<std::string, double> baseline_w;
  // Joined run: how long Stop() waits for record's energy.csv to reach the
  // end of the trace (it is flushed every 50 ms).
  double join_wait_s = 2.0;
  // Whether the operators after the last Step() form a step of their own
  // (true: every step ends at a Step() or at Stop()). False where steps are
  // marked after each training step but the program goes on with other work
  // (the Python bootstrap: steps end at optimizer.step(), and what runs after
  // the last one — evaluation, saving — is in no step).
  bool step_after_last_mark = true;
};

// GPU work recorded beside a session by torch.profiler with its CUDA activity
// (Kineto/CUPTI: kernels, copies and the CUDA runtime calls that launched
// them), exported as a Chrome trace (`export_chrome_trace`). The profiler's
// clock is not the session's: `sync_begin_ns`/`sync_end_ns` bracket, on
// CLOCK_MONOTONIC, one cudaDeviceSynchronize made on thread `sync_os_tid`
// right after the profiler started, and the first such call on that thread
// in the file ties the two clocks (docs/python.md, GPUs).
struct GpuActivityFile {
  std::string path;
  uint64_t sync_os_tid = 0;
  int64_t sync_begin_ns = 0;
  int64_t sync_end_ns = 0;
};

// What a Session did, for messages ("modeled", "joined …").
struct SessionInfo {
  bool joined = false;          // true: a record run samples; false: in-process
  std::string run_dir;          // the joined run or output_dir ("" for a temporary one)
  std::string trace_path;       // written by Stop(); "" when nothing was written
  std::string profile_path;     // written by Stop(); "" when nothing was written
  std::vector<DomainInfo> domains;  // in-process: what is sampled
  int64_t events = 0;           // operator records taken (known after Stop)
  int64_t steps = 0;            // steps with at least one operator (after Stop)
  // StopAndWriteTrace() with GPU activity: the kernels and copies it joined
  // to the trace, or why it could not (the trace is then written without).
  int64_t gpu_events = 0;
  std::string gpu_activity_error;
};

class Session {
 public:
  // Starts recording (and, in-process, sampling). Errors: kUsage when another
  // Session is running; kNothingMeasurable when no energy domain can be read
  // (the message says why, as `smaragdine sources` does); kBadInput naming
  // the directory when run_dir/output_dir cannot be used.
  static Result<std::unique_ptr<Session>> Start(const SessionOptions& options = {});
  ~Session();  // stops recording if Stop() was not called (the result is dropped)
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Ends the current step and begins the next (Start() begins step 0). A step
  // in which no operator started is dropped, so calling Step() after every
  // iteration, also the last one, is right. Thread-safe.
  void Step();
  // The first step begins now instead of at Start(): what ran before it (model
  // set-up, data loading) is in no step. Only the first call counts.
  void BeginSteps();

  // Stops recording and sampling, builds the trace, aligns and attributes.
  // Call once, when the instrumented threads are done with their operators
  // (an operator still open ends at Stop(); see docs/live.md).
  Result<Profile> Stop();

  // Stops recording (and in-process sampling) and writes the trace into the
  // run or output directory without accounting: for a program run under
  // `smaragdine record`, which accounts the whole run itself once the program
  // has ended (the Python bootstrap, docs/python.md). Returns the trace's
  // path. Errors: kUsage after Stop(), or for a session with a temporary
  // directory (nowhere to write); kNothingMeasurable when no operator ran.
  Result<std::string> StopAndWriteTrace();
  // GPU work to join to the trace: each kernel and copy on its device's
  // stream, under the operator whose runtime call launched it. Call before
  // Stop() or StopAndWriteTrace(); the file is read then. A file that cannot
  // be used costs its kernels only (SessionInfo::gpu_activity_error).
  void AddGpuActivity(GpuActivityFile file);

  // The trace Stop() built (empty before Stop), e.g. for tests and views.
  const Trace& trace() const;
  const SessionInfo& info() const;

  struct Impl;

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Marks the operators this thread starts while the guard lives with a phase:
// SMARAGDINE_PHASE(smaragdine::Phase::kOptimizer) around optimizer.step().
// Without a guard, operators are forward; backward is found on its own
// (LibTorch's autograd functions), whatever guard is open.
class PhaseGuard {
 public:
  explicit PhaseGuard(Phase phase);
  ~PhaseGuard();
  PhaseGuard(const PhaseGuard&) = delete;
  PhaseGuard& operator=(const PhaseGuard&) = delete;

 private:
  uint8_t previous_;
};

}  // namespace smaragdine::live

#define SMARAGDINE_PHASE_CONCAT_INNER(a, b) a##b
#define SMARAGDINE_PHASE_CONCAT(a, b) SMARAGDINE_PHASE_CONCAT_INNER(a, b)
#define SMARAGDINE_PHASE(phase) \
  ::smaragdine::live::PhaseGuard SMARAGDINE_PHASE_CONCAT(smaragdine_phase_, __LINE__)(phase)
