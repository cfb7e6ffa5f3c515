// live::Session: records operators with the RecordFunction callback, samples
// energy in-process (or joins a `record` run), and accounts at Stop().
#include "smaragdine/torch/live.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/io.h"
#include "common/clock.h"
#include "smaragdine/account.h"
#include "smaragdine/device.h"
#include "smaragdine/launch.h"
#include "smaragdine/recording.h"
#include "torch/live/build_trace.h"
#include "torch/live/gpu_activity.h"
#include "torch/live/recorder.h"

namespace smaragdine::live {

namespace fs = std::filesystem;

struct Session::Impl {
  SessionOptions options;
  SessionInfo info;
  std::string dir;        // where energy.csv (in-process) or the trace (joined) goes
  bool temporary_dir = false;
  std::unique_ptr<Recording> recording;  // in-process sampling; null when joined
  Diagnostics diag;
  int64_t start_ns = 0;
  std::mutex marks_mu;
  std::vector<int64_t> marks_ns;
  std::optional<int64_t> steps_begin_ns;  // BeginSteps(), under marks_mu
  bool stopped = false;
  Trace trace;
  std::optional<GpuActivityFile> gpu_activity;  // AddGpuActivity()

  ~Impl() {
    if (!stopped) {
      internal::StopRecording();
      recording.reset();  // stops sampling; run.json stays as started
    }
    if (temporary_dir) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
};

namespace {

// In-process: a Recording in the session's directory, following this process.
Status StartSampling(Session::Impl& s) {
  const SessionOptions& o = s.options;
  RecordingOptions ro;
  ro.dir = s.dir;
  // A directory used before keeps its traces and profiles (each session adds
  // its own, numbered); the previous run's energy files are replaced.
  ro.existing = ExistingRunDirectory::kReplaceOwnFiles;
  ro.sampling = o.sampling;
  ro.pid = getpid();
  // The CPU model already follows only this process; a process share on top
  // would count the other processes out twice.
  ro.record_cpu_time = false;
  ro.baseline_w = o.baseline_w;
  ro.command = {fmt::format("(live session in pid {})", getpid())};
  SMG_ASSIGN_OR_RETURN(s.recording, Recording::Start(ro));
  // Entries left from earlier sessions are expected here: only the rest is said.
  for (const std::string& w : s.recording->diagnostics().warnings())
    if (w.find("left in the run directory from before") == std::string::npos) s.diag.Warn(w);
  for (const auto& [name, n] : s.recording->diagnostics().counts()) s.diag.Add(name, n);
  s.info.domains = s.recording->meta().domains;
  return {};
}

std::string UniqueTracePath(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  if (!fs::exists(path)) return path;
  const std::string stem = name.size() > 5 && name.ends_with(".json")
                               ? name.substr(0, name.size() - 5)
                               : name;
  for (int k = 2;; ++k) {
    path = fmt::format("{}/{}-{}.json", dir, stem, k);
    if (!fs::exists(path)) return path;
  }
}

int64_t TraceEndNs(const Trace& t) {
  int64_t end = 0;
  for (const Event& e : t.events) end = std::max(end, e.end_ns);
  return end;
}

// The joined run's energy log once it reaches `until_ns` (record flushes
// energy.csv every 50 ms), or as far as it got after `wait_s`.
Result<EnergyLog> ReadJoinedLog(const std::string& dir, int64_t until_ns, double wait_s,
                                Diagnostics& diag) {
  const int64_t deadline = MonotonicNowNs() + static_cast<int64_t>(wait_s * 1e9);
  for (;;) {
    auto log = ReadRunDirectory(dir);
    if (log.ok()) {
      int64_t end = 0;
      for (const EnergySeries& s : log->series) end = std::max(end, s.EndNs());
      if (end >= until_ns) return log;
      if (MonotonicNowNs() >= deadline) {
        diag.Warn(fmt::format(
            "{}: the energy log ends {:.3f} ms before the trace; the last operators are left out "
            "of the profile (run `smaragdine account` on the run directory after `record` ends "
            "for all of it)",
            dir, (until_ns - end) * 1e-6));
        diag.Add("live.energy_log_short");
        return log;
      }
    } else if (MonotonicNowNs() >= deadline) {
      return log.error();
    }
    SleepUntilMonotonicNs(MonotonicNowNs() + 20'000'000);
  }
}

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::Start(const SessionOptions& options) {
  if (internal::Recording())
    return UsageError("a live session is already running in this process; Stop() it first");
  auto impl = std::make_unique<Impl>();
  Impl& s = *impl;
  s.options = options;
  std::string run_dir = options.run_dir;
  if (run_dir.empty() && options.use_run_dir_env)
    if (const char* env = std::getenv("SMARAGDINE_RUN_DIR"); env != nullptr && *env != '\0')
      run_dir = env;
  if (!run_dir.empty()) {
    // Joined: `record` samples; this session only writes its trace there.
    if (!fs::is_directory(run_dir) || !fs::exists(run_dir + "/run.json"))
      return BadInput(run_dir,
                      "not a run directory of `smaragdine record` (no run.json); unset "
                      "SMARAGDINE_RUN_DIR or start the program under `smaragdine record -o DIR --`");
    s.dir = run_dir;
    s.info.joined = true;
    s.info.run_dir = run_dir;
  } else {
    if (options.output_dir.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      std::string templ = fmt::format("{}/smaragdine-live-XXXXXX", tmp && *tmp ? tmp : "/tmp");
      if (mkdtemp(templ.data()) == nullptr)
        return BadInput(templ, fmt::format("cannot create a temporary directory: {}",
                                           std::strerror(errno)));
      s.dir = templ;
      s.temporary_dir = true;
    } else {
      std::error_code ec;
      fs::create_directories(options.output_dir, ec);
      if (ec)
        return BadInput(options.output_dir,
                        fmt::format("cannot create the output directory: {}", ec.message()));
      s.dir = options.output_dir;
      s.info.run_dir = options.output_dir;
    }
    SMG_RETURN_IF_ERROR(StartSampling(s));
  }
  if (!internal::StartRecording())
    return UsageError("a live session is already running in this process; Stop() it first");
  s.start_ns = MonotonicNowNs();
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

void Session::BeginSteps() {
  const int64_t now = MonotonicNowNs();
  std::lock_guard lock(impl_->marks_mu);
  if (!impl_->steps_begin_ns) impl_->steps_begin_ns = now;
}

void Session::Step() {
  const int64_t now = MonotonicNowNs();
  std::lock_guard lock(impl_->marks_mu);
  impl_->marks_ns.push_back(now);
}

const Trace& Session::trace() const { return impl_->trace; }
const SessionInfo& Session::info() const { return impl_->info; }

namespace {

// The GPU activity AddGpuActivity() named, on the session's clock. A file
// that cannot be used costs the GPU events only: the CPU trace is written
// all the same, and SessionInfo says why.
internal::GpuActivity ReadGpuActivityOrSay(Session::Impl& s) {
  if (!s.gpu_activity) return {};
  Result<std::string> text = ReadFileMaybeGzip(s.gpu_activity->path);
  Result<internal::GpuActivity> gpu =
      text.ok() ? internal::ReadGpuActivity(*text, s.gpu_activity->path, *s.gpu_activity)
                : Result<internal::GpuActivity>(text.error());
  if (!gpu.ok()) {
    s.info.gpu_activity_error = gpu.error().ToString();
    return {};
  }
  s.info.gpu_events = gpu->gpu_events;
  return std::move(*gpu);
}

// Stops the recorder (and in-process sampling), builds the trace and, where
// the session has a directory, writes it there: the part of Stop() that
// StopAndWriteTrace() shares.
Status FinishRecording(Session::Impl& s) {
  if (s.stopped) return UsageError("live session: Stop() was already called");
  internal::LiveRecords rec;
  rec.threads = internal::StopRecording();
  rec.stop_ns = MonotonicNowNs();
  rec.start_ns = s.start_ns;
  {
    std::lock_guard lock(s.marks_mu);
    rec.step_marks_ns = s.marks_ns;
    rec.steps_begin_ns = s.steps_begin_ns;
  }
  rec.tail_is_step = s.options.step_after_last_mark;
  s.stopped = true;

  if (!s.info.joined) {
    RecordingSummary r = s.recording->Stop(0);
    s.diag.Merge(r.diagnostics);
    if (!r.errors.empty()) return r.errors.front();
  }

  s.trace = internal::BuildLiveTrace(rec);
  s.info.events = static_cast<int64_t>(s.trace.events.size());
  s.info.steps = static_cast<int64_t>(s.trace.steps.size());
  if (s.trace.events.empty())
    return Nothing(
        "the live session recorded no LibTorch operator between Start() and Stop() (was the "
        "model run in between, in this process?)");
  const internal::GpuActivity gpu = ReadGpuActivityOrSay(s);
  internal::AddGpuActivityToTrace(gpu.events, &s.trace);

  if (!s.temporary_dir) {
    // A trace `smaragdine account` reads: CLOCK_REALTIME through the same
    // kind of bracketed pair record takes, mapped back with run.json's pairs.
    const ClockSyncPair pair = ReadClockSyncPair();
    s.info.trace_path = UniqueTracePath(s.dir, s.options.trace_name);
    s.trace.sources.push_back(s.info.trace_path);
    SMG_RETURN_IF_ERROR(WriteFileAtomic(
        s.info.trace_path,
        internal::LiveTraceAsKineto(rec, getpid(), pair.realtime_ns - pair.monotonic_ns,
                                    ReadLaunchInfo(), gpu.events)));
  }
  return {};
}

}  // namespace

Result<std::string> Session::StopAndWriteTrace() {
  Impl& s = *impl_;
  if (s.temporary_dir && !s.stopped)
    return UsageError(
        "live session: StopAndWriteTrace() needs a run directory (SMARAGDINE_RUN_DIR or "
        "SessionOptions::output_dir); this session keeps nothing");
  SMG_RETURN_IF_ERROR(FinishRecording(s));
  return s.info.trace_path;
}

void Session::AddGpuActivity(GpuActivityFile file) { impl_->gpu_activity = std::move(file); }

Result<Profile> Session::Stop() {
  Impl& s = *impl_;
  SMG_RETURN_IF_ERROR(FinishRecording(s));

  EnergyLog log;
  if (s.info.joined) {
    SMG_ASSIGN_OR_RETURN(log, ReadJoinedLog(s.dir, TraceEndNs(s.trace), s.options.join_wait_s,
                                            s.diag));
  } else {
    SMG_ASSIGN_OR_RETURN(log, ReadRunDirectory(s.dir));
  }
  // The timeline (per-event energy, power tracks) feeds `report --format
  // perfetto` and the power chart; kept under account's --timeline auto rule.
  AccountOptions ao;
  ao.attribute.baseline_w = s.options.baseline_w;
  SMG_ASSIGN_OR_RETURN(Profile p, Account(s.trace, log, ao));
  std::set<std::string> traced_devices;
  for (const Lane& lane : s.trace.lanes) traced_devices.insert(lane.device);
  for (const ProfileDomain& d : p.domains)
    if (IsGpuDevice(d.device) && !traced_devices.count(d.device)) {
      // No kernels on this device: none recorded (no GPU activity given, or
      // none ran there).
      p.diagnostics.Warn(fmt::format(
          "{}: no GPU kernel was recorded on this device, so its energy stays in (idle) "
          "(kernels come from torch.profiler's CUDA activity: docs/live.md)",
          d.name));
      p.diagnostics.Add("live.gpu_domain_without_kernels");
    }
  p.diagnostics.Merge(s.diag);
  if (!s.temporary_dir && s.options.write_profile) {
    s.info.profile_path = UniqueTracePath(s.dir, "profile.json");
    SMG_RETURN_IF_ERROR(WriteProfileJson(p, s.info.profile_path));
  }
  return p;
}

}  // namespace smaragdine::live
