// Recording: the run directory, the sampler, the CPU-time recorder and run.json
// (recording.h), shared by `record` and live sessions.
#include "smaragdine/recording.h"

#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/clock.h"
#include "common/output_file.h"
#include "energy/cputime.h"
#include "energy/sampler.h"

namespace smaragdine {

namespace {

// The files a recording writes in its run directory.
constexpr const char* kRunFiles[] = {"run.json", "energy.csv", "cputime.csv"};

// How long Start() waits for a first reading of every domain: a sampling
// thread may take a few ms to start on a busy machine, and a slow source's
// first read is up to one slow period away.
constexpr int64_t kFirstReadingWaitNs = 2'000'000'000;

}  // namespace

struct Recording::Impl {
  RecordingOptions options;
  std::optional<OutputDirectory> run_dir;  // open from OpenDirectory() on
  std::string dir;  // absolute
  // Sources outlive the sampler that reads their sessions (members are
  // destroyed in reverse order).
  std::vector<std::unique_ptr<EnergySource>> sources;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<CpuTimeRecorder> cputime;
  EnergyLog meta;
  Diagnostics diag;
  bool stopped = false;

  ~Impl() {
    if (!stopped) {
      if (cputime) cputime->Stop();
      if (sampler) sampler->Stop();
    }
  }

  Status OpenDirectory();
  Status WriteRunJson() const;
  Status StartSampling();
  void WaitForFirstReadings() const;
  void MeasureBaseline();
};

// Creates the directory (its parents too), or opens an existing one: empty, or
// with kReplaceOwnFiles, where the recording's own files are removed first and
// anything else is left (and named in a warning). OutputDirectory makes and
// opens it (O_NOFOLLOW: a link there is refused), and every file after is made
// relative to its descriptor.
Status Recording::Impl::OpenDirectory() {
  const RecordingOptions& o = options;
  dir = std::filesystem::absolute(o.dir).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  Result<OutputDirectory> opened =
      OutputDirectory::Open(dir, OutputDirectoryOptions{"run directory", 0755});
  if (!opened.ok()) {
    Error e = opened.error();
    e.file = o.dir;  // as the user gave it
    return e;
  }
  const OutputDirectory& run = run_dir.emplace(std::move(*opened));
  if (!run.created()) {
    const std::vector<std::string> entries = run.Entries();
    if (!entries.empty() && o.existing == ExistingRunDirectory::kRefuse) {
      std::string shown;
      for (size_t i = 0; i < entries.size() && i < 4; ++i) shown += (i ? ", " : "") + entries[i];
      if (entries.size() > 4) shown += fmt::format(" and {} more", entries.size() - 4);
      return BadInput(o.dir, fmt::format(
          "the run directory is not empty ({}): a new run would overwrite or mix with what is "
          "there; give a new -o, or add --force to replace record's files in it",
          shown));
    }
    std::vector<std::string> left;
    for (const std::string& e : entries) {
      bool ours = false;
      for (const char* f : kRunFiles) ours |= e == f;
      if (!ours) {
        left.push_back(e);
        continue;
      }
      // Removed before the workload starts: a killed run must not leave the old
      // files beside new ones.
      SMG_RETURN_IF_ERROR(run.Remove(e));
    }
    if (!left.empty())
      diag.Warn(fmt::format("{} left in the run directory from before: {} (only {} are "
                            "replaced)",
                            left.size() == 1 ? "one entry is" : "entries are",
                            fmt::join(left, ", "), fmt::join(kRunFiles, ", ")));
  }
  // Only a directory record made is handed over: an existing one keeps its
  // owner (the command must already be able to write it).
  if (run.created()) return run.HandTo(o.owner_uid, o.owner_gid);
  return {};
}

// run.json, replaced whole (a temporary file in the run directory, fsync, renameat).
Status Recording::Impl::WriteRunJson() const {
  SMG_ASSIGN_OR_RETURN(AtomicFile f, run_dir->CreateReplacing("run.json"));
  SMG_RETURN_IF_ERROR(f.Write(RunJsonText(meta)));
  return f.Commit();
}

Status Recording::Impl::StartSampling() {
  const RecordingOptions& o = options;
  const pid_t pid = o.pid > 0 ? o.pid : ::getpid();
  SourceOptions so = o.sampling.sources;
  so.model_pid = pid;
  sources = MakeSources(so);
  for (const std::string& f : o.sampling.forced_sources) {
    bool known = false;
    for (const auto& s : sources) known |= s->Name() == f;
    if (!known) return UsageError(fmt::format("--source {}: no such source", f));
  }
  std::vector<DomainChoice> left_out;
  const std::vector<DomainChoice> choices = ChooseDomains(sources, o.sampling.forced_sources, &left_out);
  if (choices.empty())
    return Nothing(
        "no energy domain can be read on this machine; `smaragdine sources` says why and how to "
        "fix it");
  for (const DomainChoice& c : left_out)
    diag.Warn(fmt::format(
        "--source model: {} ({}) is measurable but left out of the run: the model's CPU power "
        "stands for the whole CPU, memory included, so recording both would count the same "
        "energy twice; drop --source model to measure it",
        c.probe.info.name, c.source->Name()));
  std::vector<SamplerSession> sessions;
  for (const auto& s : sources) {
    std::vector<std::string> names;
    for (const DomainChoice& c : choices)
      if (c.source == s.get()) names.push_back(c.probe.info.name);
    if (names.empty()) continue;
    auto session = s->Open(names);
    if (!session.ok()) {
      diag.Warn(fmt::format("{}: cannot open {}: {}", s->Name(), fmt::join(names, ", "),
                            session.error().message));
      diag.Add("record.source_open_failed");
      continue;
    }
    sessions.push_back({s->Rate(), std::move(*session)});
  }
  if (sessions.empty())
    return Nothing(fmt::format("no energy source could be opened: {}",
                               fmt::join(diag.warnings(), "; ")));

  SamplerOptions sampler_options;
  sampler_options.fast_period_ns = o.sampling.fast_period_ns;
  sampler_options.slow_period_ns = o.sampling.slow_period_ns;
  SMG_ASSIGN_OR_RETURN(const int energy_fd, run_dir->CreateNew("energy.csv"));
  SMG_ASSIGN_OR_RETURN(sampler, Sampler::Start(std::move(sessions), energy_fd,
                                               dir + "/energy.csv", sampler_options));
  if (o.record_cpu_time) {
    CpuTimeRecorderOptions cpu_options;
    cpu_options.period_ns = o.sampling.slow_period_ns;
    SMG_ASSIGN_OR_RETURN(const int cputime_fd, run_dir->CreateNew("cputime.csv"));
    auto recorder =
        CpuTimeRecorder::Start(o.sampling.sources.roots.proc, pid, cputime_fd, dir + "/cputime.csv", cpu_options);
    if (recorder.ok()) {
      cputime = std::move(*recorder);
    } else {
      diag.Warn(fmt::format("no CPU-time log (account cannot split the CPU's energy with other "
                            "processes): {}",
                            recorder.error().ToString()));
      diag.Add("record.no_cputime");
      (void)run_dir->Remove("cputime.csv");  // the empty file made for it
    }
  }
  meta.path = dir;
  meta.clock = Clock::kMonotonic;
  meta.domains = sampler->domains();
  meta.clock_sync = sampler->start_clock_sync();
  meta.command = o.command;
  meta.pid = pid;
  meta.launch = ReadLaunchInfo();
  meta.baseline_w = o.baseline_w;
  return {};
}

// The first reading of every domain before the workload starts, so the energy
// log covers all of it.
void Recording::Impl::WaitForFirstReadings() const {
  const int64_t give_up_ns = MonotonicNowNs() + kFirstReadingWaitNs;
  for (;;) {
    bool all = true;
    for (const DomainTally& t : sampler->Snapshot()) all &= t.readings > 0;
    if (all || MonotonicNowNs() > give_up_ns) return;
    SleepUntilMonotonicNs(MonotonicNowNs() + 1'000'000);
  }
}

// The workload has not started: what the domains draw now is the idle baseline.
void Recording::Impl::MeasureBaseline() {
  const std::vector<DomainTally> before = sampler->Snapshot();
  SleepUntilMonotonicNs(MonotonicNowNs() + static_cast<int64_t>(options.baseline_s * 1e9));
  const std::vector<DomainTally> after = sampler->Snapshot();
  for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
    const double dt_s = (after[i].last_t_ns - before[i].last_t_ns) * 1e-9;
    if (before[i].readings == 0 || dt_s <= 0) continue;  // too few readings to say
    meta.baseline_w[meta.domains[i].name] = (after[i].energy_j - before[i].energy_j) / dt_s;
  }
}

Recording::Recording(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Recording::~Recording() = default;

Result<std::unique_ptr<Recording>> Recording::Start(const RecordingOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  SMG_RETURN_IF_ERROR(impl->OpenDirectory());
  SMG_RETURN_IF_ERROR(impl->StartSampling());
  // A first run.json at once: a run killed from here on is still readable.
  SMG_RETURN_IF_ERROR(impl->WriteRunJson());
  impl->WaitForFirstReadings();
  if (options.baseline_s > 0) impl->MeasureBaseline();
  impl->meta.started_ns = MonotonicNowNs();
  SMG_RETURN_IF_ERROR(impl->WriteRunJson());
  return std::unique_ptr<Recording>(new Recording(std::move(impl)));
}

const std::string& Recording::dir() const { return impl_->dir; }
const EnergyLog& Recording::meta() const { return impl_->meta; }
const Diagnostics& Recording::diagnostics() const { return impl_->diag; }
std::vector<DomainTally> Recording::Snapshot() const { return impl_->sampler->Snapshot(); }

RecordingSummary Recording::Stop(std::optional<int> exit_code) {
  Impl& s = *impl_;
  RecordingSummary summary;
  if (s.stopped) {
    summary.errors.push_back(UsageError("Recording::Stop() was already called"));
    return summary;
  }
  s.stopped = true;
  const int64_t ended_ns = MonotonicNowNs();
  SamplerResult r = s.sampler->Stop();
  if (s.cputime) summary.cpu = s.cputime->Stop();

  s.meta.domains = r.domains;  // now with stopped_ns where a domain stopped mid-run
  s.meta.clock_sync = r.clock_sync;
  s.meta.exit_code = exit_code;
  s.meta.ended_ns = ended_ns;
  const Status run_json = s.WriteRunJson();

  summary.tallies = std::move(r.tallies);
  summary.overruns = r.fast_overruns + r.slow_overruns;
  summary.diagnostics = std::move(r.diagnostics);
  if (summary.cpu) summary.diagnostics.Merge(summary.cpu->diagnostics);
  if (r.write_errors > 0)
    summary.errors.push_back(BadInput(
        s.dir + "/energy.csv",
        fmt::format("writing the energy log failed {} time{} ({}): the readings of those "
                    "moments are missing, so the run's energy is incomplete",
                    r.write_errors, r.write_errors == 1 ? "" : "s", r.write_error)));
  if (s.cputime && s.cputime->write_errors() > 0)
    summary.errors.push_back(BadInput(
        s.dir + "/cputime.csv",
        fmt::format("writing the CPU-time log failed {} time{} ({}): account's process share "
                    "of this run is incomplete",
                    s.cputime->write_errors(), s.cputime->write_errors() == 1 ? "" : "s",
                    s.cputime->write_error())));
  if (!run_json.ok()) {
    Error e = run_json.error();
    e.message += "; run.json was not finalised (the one written at the start stays, without "
                 "exit_code and ended_ns)";
    summary.errors.push_back(std::move(e));
  }
  summary.meta = s.meta;
  return summary;
}

}  // namespace smaragdine
