// live::Session: records operators with the RecordFunction callback, samples
// energy in-process (or joins a `record` run), and accounts at Stop().
#include "smaragdine/torch/live.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/io.h"
#include "energy/sampler.h"
#include "smaragdine/account.h"
#include "torch/live/build_trace.h"
#include "torch/live/recorder.h"

namespace smaragdine::live {

namespace fs = std::filesystem;

struct Session::Impl {
  SessionOptions options;
  SessionInfo info;
  std::string dir;        // where energy.csv (in-process) or the trace (joined) goes
  bool temporary_dir = false;
  // Sources outlive the sampler that reads their sessions (members are
  // destroyed in reverse order).
  std::vector<std::unique_ptr<EnergySource>> sources;
  std::unique_ptr<Sampler> sampler;
  EnergyLog meta;         // in-process: what run.json says
  Diagnostics diag;
  int64_t start_ns = 0;
  std::mutex marks_mu;
  std::vector<int64_t> marks_ns;
  bool stopped = false;
  Trace trace;

  ~Impl() {
    if (!stopped) {
      internal::StopRecording();
      if (sampler) sampler->Stop();
    }
    if (temporary_dir) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
};

namespace {

void SleepNs(int64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

Status StartSampling(Session::Impl& s) {
  const SessionOptions& o = s.options;
  SourceOptions so;
  so.roots = o.roots;
  so.model_core_w = o.model_core_w;
  so.model_idle_w = o.model_idle_w;
  so.model_pid = getpid();  // the model follows this process's threads
  so.nvml_library = o.nvml_library;
  s.sources = MakeSources(so);
  for (const std::string& f : o.forced_sources) {
    bool known = false;
    for (const auto& src : s.sources) known |= src->Name() == f;
    if (!known) return UsageError(fmt::format("live session: no energy source named '{}'", f));
  }
  std::vector<DomainChoice> choices = ChooseDomains(s.sources, o.forced_sources);
  if (choices.empty())
    return Nothing(
        "no energy domain can be read on this machine; `smaragdine sources` says why and how to "
        "fix it");
  std::vector<SamplerSession> sessions;
  for (const auto& src : s.sources) {
    std::vector<std::string> names;
    for (const DomainChoice& c : choices)
      if (c.source == src.get()) names.push_back(c.probe.info.name);
    if (names.empty()) continue;
    auto session = src->Open(names);
    if (!session.ok()) {
      s.diag.Warn(fmt::format("{}: cannot open {}: {}", src->Name(), fmt::join(names, ", "),
                              session.error().message));
      s.diag.Add("live.source_open_failed");
      continue;
    }
    sessions.push_back({src->Rate(), std::move(*session)});
  }
  if (sessions.empty()) return Nothing(fmt::format("no energy source could be opened: {}",
                                fmt::join(s.diag.warnings(), "; ")));
  SamplerOptions so2;
  so2.fast_period_ns = o.fast_period_ns;
  so2.slow_period_ns = o.slow_period_ns;
  SMG_ASSIGN_OR_RETURN(s.sampler, Sampler::Start(std::move(sessions), s.dir + "/energy.csv", so2));
  s.meta.path = s.dir;
  s.meta.clock = Clock::kMonotonic;
  s.meta.domains = s.sampler->domains();
  s.meta.clock_sync = s.sampler->start_clock_sync();
  s.meta.command = {fmt::format("(live session in pid {})", getpid())};
  s.meta.pid = getpid();
  s.meta.baseline_w = o.baseline_w;
  s.info.domains = s.meta.domains;
  // The first reading of every domain comes before the first operator, so
  // the energy log covers the whole trace (a sampling thread may take a few
  // ms to start on a busy machine).
  const int64_t give_up_ns = MonotonicNowNs() + 2'000'000'000;
  for (;;) {
    bool all = true;
    for (const DomainTally& t : s.sampler->Snapshot()) all &= t.readings > 0;
    if (all || MonotonicNowNs() > give_up_ns) break;
    SleepNs(1'000'000);
  }
  return WriteFileAtomic(s.dir + "/run.json", RunJsonText(s.meta));
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
    SleepNs(20'000'000);
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
  if (!s.info.joined) s.meta.started_ns = s.start_ns;
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

void Session::Step() {
  const int64_t now = MonotonicNowNs();
  std::lock_guard lock(impl_->marks_mu);
  impl_->marks_ns.push_back(now);
}

const Trace& Session::trace() const { return impl_->trace; }
const SessionInfo& Session::info() const { return impl_->info; }

Result<Profile> Session::Stop() {
  Impl& s = *impl_;
  if (s.stopped) return UsageError("live session: Stop() was already called");
  internal::LiveRecords rec;
  rec.threads = internal::StopRecording();
  rec.stop_ns = MonotonicNowNs();
  rec.start_ns = s.start_ns;
  {
    std::lock_guard lock(s.marks_mu);
    rec.step_marks_ns = s.marks_ns;
  }
  s.stopped = true;

  if (!s.info.joined) {
    SamplerResult r = s.sampler->Stop();
    s.meta.clock_sync = r.clock_sync;
    s.meta.ended_ns = MonotonicNowNs();
    s.meta.exit_code = 0;
    s.diag.Merge(r.diagnostics);
    SMG_RETURN_IF_ERROR(WriteFileAtomic(s.dir + "/run.json", RunJsonText(s.meta)));
  }

  s.trace = internal::BuildLiveTrace(rec);
  s.info.events = static_cast<int64_t>(s.trace.events.size());
  s.info.steps = static_cast<int64_t>(s.trace.steps.size());
  if (s.trace.events.empty())
    return Nothing(
        "the live session recorded no LibTorch operator between Start() and Stop() (was the "
        "model run in between, in this process?)");

  if (!s.temporary_dir) {
    // A trace `smaragdine account` reads: CLOCK_REALTIME through the same
    // kind of bracketed pair record takes, mapped back with run.json's pairs.
    const ClockSyncPair pair = ReadClockSyncPair();
    s.info.trace_path = UniqueTracePath(s.dir, s.options.trace_name);
    s.trace.sources.push_back(s.info.trace_path);
    SMG_RETURN_IF_ERROR(WriteFileAtomic(
        s.info.trace_path,
        internal::LiveTraceAsKineto(rec, getpid(), pair.realtime_ns - pair.monotonic_ns)));
  }

  EnergyLog log;
  if (s.info.joined) {
    SMG_ASSIGN_OR_RETURN(log, ReadJoinedLog(s.dir, TraceEndNs(s.trace), s.options.join_wait_s,
                                            s.diag));
  } else {
    SMG_ASSIGN_OR_RETURN(log, ReadRunDirectory(s.dir));
  }
  Trace aligned = s.trace;
  SMG_ASSIGN_OR_RETURN(AlignResult al, AlignTrace(aligned, log, AlignOptions{}));
  AttributeOptions ao;
  ao.baseline_w = s.options.baseline_w;
  // The timeline (per-event energy, power tracks) feeds `report --format
  // perfetto` and the power chart; kept under the same size rule as account's
  // --timeline auto.
  ao.keep_timeline = aligned.events.size() <= static_cast<size_t>(kTimelineAutoMaxEvents);
  SMG_ASSIGN_OR_RETURN(Profile p, Attribute(aligned, log, ao));
  p.meta.alignment = al.description;
  for (const ProfileDomain& d : p.domains)
    if (d.device.rfind("GPU:", 0) == 0) {
      // Only CPU-side operators are recorded (the CUDA path is not built).
      p.diagnostics.Warn(fmt::format(
          "{}: live accounting records no GPU kernels yet, so this domain's energy stays in "
          "(idle); see docs/live.md",
          d.name));
      p.diagnostics.Add("live.gpu_domain_without_kernels");
    }
  p.meta.dialect = s.trace.dialect;
  if (!s.info.trace_path.empty()) p.meta.traces = {s.info.trace_path};
  p.diagnostics.Merge(s.diag);
  if (!s.temporary_dir && s.options.write_profile) {
    s.info.profile_path = UniqueTracePath(s.dir, "profile.json");
    SMG_RETURN_IF_ERROR(WriteProfileJson(p, s.info.profile_path));
  }
  return p;
}

}  // namespace smaragdine::live
