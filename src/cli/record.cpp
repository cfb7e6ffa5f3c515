// `smaragdine record [opts] -o RUN -- CMD…`: run CMD while sampling every readable
// energy domain into a run directory (DESIGN §7.1), then exit with CMD's status.
//
// Order of events (the child is forked first so the model source can follow its
// process tree from the start, but held on a pipe until sampling runs):
//
//   fork ──► child blocks reading `go` ─────────────────────► exec CMD
//   parent: sources → sampler + cputime.csv → run.json → [baseline] → write `go` → wait
//           → run.json (exit code, clock_sync pairs, stopped domains)
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/command.h"
#include "common/io.h"
#include "energy/cputime.h"
#include "energy/sampler.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/sources.h"

namespace smaragdine::cli {
namespace {

struct RecordOptions {
  std::string output;
  std::vector<std::string> command;
  std::vector<std::string> forced;
  SourceRoots roots;
  std::string nvml_library;
  double rate_hz = 1000;
  double slow_period_ms = 20;
  double model_core_w = 15.0;
  double model_idle_w = 10.0;
  double baseline_s = 0;
  std::string user;  // --user: run CMD as this user (record must be root)
  bool force = false;  // --force: record into a run directory that is not empty
  bool quiet = false;
};

// Who CMD runs as with --user, looked up before the fork: the child only makes
// async-signal-safe calls (setgroups, setgid, setuid) between fork and exec.
struct RunAs {
  std::string name, home;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

Result<RunAs> LookUpUser(const std::string& name) {
  // Exit status 2 (bad input), like a CMD that cannot be run.
  if (::geteuid() != 0)
    return Error{ErrorCode::kBadInput, fmt::format(
        "--user {}: record runs as uid {}, and only root can run CMD as another user; run "
        "record as root (sudo smaragdine record --user {} …) or drop --user",
        name, ::geteuid(), name), "", -1, -1};
  errno = 0;
  const passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr)
    return Error{ErrorCode::kBadInput,
                 fmt::format("--user {}: no such user{}", name,
                             errno ? fmt::format(" ({})", strerror(errno)) : ""),
                 "", -1, -1};
  RunAs r;
  r.name = pw->pw_name;
  r.home = pw->pw_dir ? pw->pw_dir : "/";
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  int n = 32;
  r.groups.resize(n);
  while (::getgrouplist(r.name.c_str(), r.gid, r.groups.data(), &n) < 0) r.groups.resize(n);
  r.groups.resize(n);
  return r;
}

std::atomic<pid_t> g_child{0};

// Every signal whose default action ends a process and that a handler can catch,
// less the ones a fault raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT,
// SIGSYS: a handler that returns would run the faulting instruction again).
std::vector<int> ForwardedSignals() {
  std::vector<int> s = {SIGHUP,  SIGINT,  SIGQUIT,   SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM,
                        SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,
                        SIGPWR};
  for (int rt = SIGRTMIN; rt <= SIGRTMAX; ++rt) s.push_back(rt);
  return s;
}

// A terminating signal sent to `record` by another process (kill, a job scheduler,
// a shell hanging up its jobs) goes on to CMD, and record, still alive, finalises run.json
// once CMD exits. Not forwarded: what the kernel raised (si_code SI_KERNEL: a
// terminal's Ctrl-C, Ctrl-\ or hang-up, which CMD in the same foreground process
// group already got, so forwarding would deliver it twice) and what record raised
// on itself (SIGPIPE from writing to a closed pipe: si_pid is record's own).
void ForwardSignal(int sig, siginfo_t* info, void*) {
  const pid_t child = g_child.load();
  if (child <= 0) return;
  if (info != nullptr && info->si_code == SI_KERNEL) return;
  if (info != nullptr && info->si_code <= 0 && info->si_pid == ::getpid()) return;
  ::kill(child, sig);
}

void InstallForwarding() {
  struct sigaction sa {};
  sa.sa_sigaction = ForwardSignal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : ForwardedSignals()) {
    // A signal ignored when record started (nohup's SIGHUP) stays ignored, as in CMD.
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sig, &sa, nullptr);
  }
}

// What the child reports on the error pipe: which step failed and its errno.
struct ChildFailure {
  int step = 0;  // kStepExec or kStepUser
  int error = 0;
};
constexpr int kStepExec = 1;
constexpr int kStepUser = 2;

// The held child: waits for one byte on `go_fd`, drops to `run_as` if given, then
// execs. A failure's step and errno go back on `err_fd` (close-on-exec, so a
// successful exec closes it with nothing sent).
// The child is forked before record installs its forwarding handlers, so it
// keeps the dispositions record was started with (a signal nohup ignores stays
// ignored in CMD).
[[noreturn]] void ChildMain(int go_fd, int err_fd, const std::vector<std::string>& command,
                            const std::string& run_dir, const RunAs* run_as, pid_t record_pid) {
  char byte = 0;
  ssize_t n;
  while ((n = ::read(go_fd, &byte, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) _exit(125);  // record gave up (or died) before starting CMD
  if (run_as != nullptr) {
    // Groups first, then the gid, the uid last: once the uid is dropped nothing else can be.
    if (::setgroups(run_as->groups.size(), run_as->groups.data()) != 0 ||
        ::setgid(run_as->gid) != 0 || ::setuid(run_as->uid) != 0) {
      const ChildFailure f{kStepUser, errno};
      (void)!::write(err_fd, &f, sizeof f);
      _exit(126);
    }
    setenv("HOME", run_as->home.c_str(), 1);
    setenv("USER", run_as->name.c_str(), 1);
    setenv("LOGNAME", run_as->name.c_str(), 1);
  }
  setenv("SMARAGDINE_RUN_DIR", run_dir.c_str(), 1);
  // Should record die (SIGKILL, the OOM killer), CMD gets SIGTERM instead of running on
  // orphaned. Set after the uid switch, which clears it; a record already gone is
  // caught by the parent check.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != record_pid) _exit(125);
  std::vector<char*> argv;
  for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  const ChildFailure f{kStepExec, errno};
  (void)!::write(err_fd, &f, sizeof f);
  _exit(127);
}

int WaitChild(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return 1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void SleepSeconds(double s) {
  const int64_t deadline_ns = MonotonicNowNs() + static_cast<int64_t>(s * 1e9);
  const timespec ts{static_cast<time_t>(deadline_ns / 1'000'000'000),
                    static_cast<long>(deadline_ns % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=:,+@%") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Status Validate(const RecordOptions& o) {
  if (o.command.empty()) return UsageError("record needs a command: record -o RUN -- CMD ARGS…");
  if (!(o.rate_hz > 0 && o.rate_hz <= 10000))
    return UsageError(fmt::format("--rate-hz {} is outside (0, 10000]", o.rate_hz));
  if (!(o.slow_period_ms >= 1 && o.slow_period_ms <= 10000))
    return UsageError(fmt::format("--slow-period-ms {} is outside [1, 10000]", o.slow_period_ms));
  if (!(o.baseline_s >= 0 && o.baseline_s <= 3600))
    return UsageError(fmt::format("--baseline-s {} is outside [0, 3600]", o.baseline_s));
  if (!(o.model_core_w >= 0) || !(o.model_idle_w >= 0) || !std::isfinite(o.model_core_w) ||
      !std::isfinite(o.model_idle_w))
    return UsageError("--model-core-w and --model-idle-w must be finite and not negative");
  return {};
}

// The run directory, open for the whole run: every file record writes is created
// in it relative to `fd` (O_CREAT|O_EXCL|O_NOFOLLOW, renameat), so nothing CMD
// plants in it (CMD may own it, under --user) makes record write outside it.
struct RunDirectory {
  int fd = -1;
  std::string path;  // absolute, for messages and $SMARAGDINE_RUN_DIR
  RunDirectory() = default;
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;
  RunDirectory(RunDirectory&& o) noexcept : fd(o.fd), path(std::move(o.path)) { o.fd = -1; }
  ~RunDirectory() {
    if (fd >= 0) ::close(fd);
  }
};

// The files record writes in a run directory.
constexpr const char* kRecordFiles[] = {"run.json", "energy.csv", "cputime.csv"};

// The names in the directory open as `fd`, sorted ("." and ".." left out).
std::vector<std::string> Entries(int fd) {
  std::vector<std::string> names;
  const int dup_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return names;
  DIR* d = ::fdopendir(dup_fd);
  if (d == nullptr) {
    ::close(dup_fd);
    return names;
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Creates RUN (its parents too), or opens an existing one: empty, or with --force,
// where record's own files are removed first and anything else is left (and named
// in a warning). A directory record creates is handed to --user's user, so CMD can
// write its trace there; an existing one keeps its owner. RUN itself must not be a
// symbolic link.
Result<RunDirectory> OpenRunDirectory(const RecordOptions& o, const RunAs* run_as,
                                      Diagnostics& diag) {
  RunDirectory dir;
  dir.path = std::filesystem::absolute(o.output).lexically_normal().string();
  while (dir.path.size() > 1 && dir.path.back() == '/') dir.path.pop_back();
  const std::filesystem::path parent = std::filesystem::path(dir.path).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec)
    return BadInput(o.output, fmt::format("cannot create the run directory: {}", ec.message()));
  bool created = ::mkdir(dir.path.c_str(), 0755) == 0;
  if (!created && errno != EEXIST)
    return BadInput(o.output, fmt::format("cannot create the run directory: {}", strerror(errno)));
  dir.fd = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir.fd < 0) {
    struct stat st {};
    if ((errno == ELOOP || errno == ENOTDIR) && ::lstat(dir.path.c_str(), &st) == 0 &&
        S_ISLNK(st.st_mode))
      return BadInput(o.output,
                      "the run directory is a symbolic link: record does not follow it "
                      "(docs/security.md); give the directory it points to");
    return BadInput(o.output, fmt::format("cannot open the run directory: {}", strerror(errno)));
  }
  if (!created) {
    std::vector<std::string> entries = Entries(dir.fd);
    if (!entries.empty() && !o.force) {
      std::string shown;
      for (size_t i = 0; i < entries.size() && i < 4; ++i)
        shown += (i ? ", " : "") + entries[i];
      if (entries.size() > 4) shown += fmt::format(" and {} more", entries.size() - 4);
      return BadInput(o.output, fmt::format(
          "the run directory is not empty ({}): a new run would overwrite or mix with what is "
          "there; give a new -o, or add --force to replace record's files in it",
          shown));
    }
    std::vector<std::string> left;
    for (const std::string& e : entries) {
      bool ours = false;
      for (const char* f : kRecordFiles) ours |= e == f;
      if (!ours) {
        left.push_back(e);
        continue;
      }
      // Removed before CMD starts: a killed run must not leave the old files beside new ones.
      if (::unlinkat(dir.fd, e.c_str(), 0) != 0 && errno != ENOENT)
        return BadInput(dir.path + "/" + e,
                        fmt::format("--force: cannot remove it: {}", strerror(errno)));
    }
    if (!left.empty())
      diag.Warn(fmt::format("--force: {} left in the run directory from before: {}",
                            left.size() == 1 ? "one entry is" : "entries are",
                            fmt::join(left, ", ")));
  }
  if (created && run_as != nullptr && ::fchown(dir.fd, run_as->uid, run_as->gid) != 0)
    return BadInput(dir.path, fmt::format("cannot hand the run directory to {}: {}",
                                          run_as->name, strerror(errno)));
  return dir;
}

// A new file for record in the run directory: never an existing name, never a link.
Result<int> CreateRunFile(const RunDirectory& dir, const char* name) {
  const int fd = ::openat(dir.fd, name,
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return BadInput(dir.path + "/" + name, fmt::format("cannot create: {}", strerror(errno)));
  return fd;
}

// run.json, replaced whole (a temporary file in the run directory, fsync, renameat).
Status WriteRunJson(const RunDirectory& dir, const EnergyLog& meta) {
  SMG_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::CreateAt(dir.fd, dir.path, "run.json"));
  SMG_RETURN_IF_ERROR(f.Write(RunJsonText(meta)));
  return f.Commit();
}

// Everything up to the child's release; on error the child is let go (it exits 125).
struct Started {
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<CpuTimeRecorder> cputime;  // null when procfs gives no CPU time
  EnergyLog meta;
  Diagnostics diag;
};

Result<Started> StartSampling(const RecordOptions& o, pid_t child, const RunDirectory& dir) {
  const std::string& run_dir = dir.path;
  SourceOptions so;
  so.roots = o.roots;
  so.model_core_w = o.model_core_w;
  so.model_idle_w = o.model_idle_w;
  so.model_pid = child;
  so.nvml_library = o.nvml_library;
  // Sources live as long as their sessions may use them: for the whole process.
  static std::vector<std::unique_ptr<EnergySource>> sources;
  sources = MakeSources(so);
  for (const std::string& f : o.forced) {
    bool known = false;
    for (const auto& s : sources) known |= s->Name() == f;
    if (!known) return UsageError(fmt::format("--source {}: no such source", f));
  }
  std::vector<DomainChoice> left_out;
  std::vector<DomainChoice> choices = ChooseDomains(sources, o.forced, &left_out);
  if (choices.empty())
    return Nothing(
        "no energy domain can be read on this machine; `smaragdine sources` says why and how to "
        "fix it");

  Started st;
  for (const DomainChoice& c : left_out)
    st.diag.Warn(fmt::format(
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
      st.diag.Warn(fmt::format("{}: cannot open {}: {}", s->Name(), fmt::join(names, ", "),
                               session.error().message));
      st.diag.Add("record.source_open_failed");
      continue;
    }
    sessions.push_back({s->Rate(), std::move(*session)});
  }
  if (sessions.empty())
    return Nothing("no energy source could be opened (see the warnings above)");

  SamplerOptions sampler_options;
  sampler_options.fast_period_ns = static_cast<int64_t>(1e9 / o.rate_hz);
  sampler_options.slow_period_ns = static_cast<int64_t>(o.slow_period_ms * 1e6);
  SMG_ASSIGN_OR_RETURN(const int energy_fd, CreateRunFile(dir, "energy.csv"));
  SMG_ASSIGN_OR_RETURN(st.sampler, Sampler::Start(std::move(sessions), energy_fd,
                                                  run_dir + "/energy.csv", sampler_options));
  // CPU time of CMD's tree and of the machine, for account's process share.
  CpuTimeRecorderOptions cpu_options;
  cpu_options.period_ns = sampler_options.slow_period_ns;
  SMG_ASSIGN_OR_RETURN(const int cputime_fd, CreateRunFile(dir, "cputime.csv"));
  auto cputime = CpuTimeRecorder::Start(o.roots.proc, child, cputime_fd,
                                        run_dir + "/cputime.csv", cpu_options);
  if (cputime.ok()) {
    st.cputime = std::move(*cputime);
  } else {
    st.diag.Warn(fmt::format("no CPU-time log (account cannot split the CPU's energy with other "
                             "processes): {}",
                             cputime.error().ToString()));
    st.diag.Add("record.no_cputime");
    ::unlinkat(dir.fd, "cputime.csv", 0);  // the empty file record made for it
  }
  st.meta.path = run_dir;
  st.meta.clock = Clock::kMonotonic;
  st.meta.domains = st.sampler->domains();
  st.meta.clock_sync = st.sampler->start_clock_sync();
  st.meta.command = o.command;
  st.meta.pid = child;
  if (o.baseline_s <= 0) st.meta.started_ns = MonotonicNowNs();
  SMG_RETURN_IF_ERROR(WriteRunJson(dir, st.meta));
  return st;
}

void PrintSummary(const RecordOptions& o, const EnergyLog& meta, const SamplerResult& r,
                  const CpuTimeStats* cpu, const std::string& run_dir) {
  const double duration_s = (*meta.ended_ns - meta.started_ns.value_or(*meta.ended_ns)) * 1e-9;
  fmt::print(stderr, "\nsmaragdine record: {} exited with status {} after {:.3f} s\n",
             ShellQuote(o.command[0]), *meta.exit_code, duration_s);
  bool any_modeled = false;
  for (size_t i = 0; i < r.domains.size(); ++i) {
    const DomainInfo& d = r.domains[i];
    any_modeled |= d.modeled;
    const DomainTally& t = r.tallies[i];
    std::string baseline;
    if (auto b = meta.baseline_w.find(d.name); b != meta.baseline_w.end())
      baseline = fmt::format(", idle baseline {:.3g} W", b->second);
    fmt::print(stderr, "  {:<16} {:>12.3f} J  from {} ({}{}), {} readings{}\n", d.name,
               t.energy_j, d.source, d.modeled ? "MODELED, not measured" : "measured",
               d.quantity == Quantity::kPower ? ", power integrated" : "", t.readings, baseline);
  }
  if (any_modeled)
    fmt::print(stderr,
               "  MODELED domains are CPU time × {} W per busy core + {} W idle: no hardware "
               "counter could be read (`smaragdine sources` says why).\n",
               o.model_core_w, o.model_idle_w);
  for (const DomainInfo& d : meta.domains)
    if (d.stopped_ns && meta.started_ns)
      fmt::print(stderr, "  {} STOPPED {:.3f} s into the run: {}\n", d.name,
                 (*d.stopped_ns - *meta.started_ns) * 1e-9, d.stopped_reason);
  if (cpu != nullptr && cpu->samples > 0)
    fmt::print(stderr,
               "  CPU time: {:.3f} s by CMD's {} threads, {:.3f} s busy on the whole machine "
               "(cputime.csv, {} samples)\n",
               cpu->tree_cpu_ns * 1e-9, cpu->threads, cpu->machine_busy_ns * 1e-9, cpu->samples);
  if (r.fast_overruns + r.slow_overruns > 0)
    fmt::print(stderr, "  {} sampling deadlines were missed (the machine was busy)\n",
               r.fast_overruns + r.slow_overruns);
  fmt::print(stderr, "Next: smaragdine account --energy {} --trace TRACE.json -o profile.json\n",
             ShellQuote(run_dir));
}

// What went wrong with record's own files by the end: each printed as an error.
// A run whose files are incomplete must not look like a good one.
std::vector<Error> RunFileErrors(const RunDirectory& dir, const SamplerResult& r,
                                 const CpuTimeRecorder* cputime, const Status& run_json) {
  std::vector<Error> errors;
  if (r.write_errors > 0)
    errors.push_back(BadInput(
        dir.path + "/energy.csv",
        fmt::format("writing the energy log failed {} time{} ({}): the readings of those "
                    "moments are missing, so the run's energy is incomplete",
                    r.write_errors, r.write_errors == 1 ? "" : "s", r.write_error)));
  if (cputime != nullptr && cputime->write_errors() > 0)
    errors.push_back(BadInput(
        dir.path + "/cputime.csv",
        fmt::format("writing the CPU-time log failed {} time{} ({}): account's process share "
                    "of this run is incomplete",
                    cputime->write_errors(), cputime->write_errors() == 1 ? "" : "s",
                    cputime->write_error())));
  if (!run_json.ok()) {
    Error e = run_json.error();
    e.message += "; run.json was not finalised (the one written at the start stays, without "
                 "exit_code and ended_ns)";
    errors.push_back(std::move(e));
  }
  return errors;
}

int Run(const RecordOptions& o) {
  if (Status s = Validate(o); !s.ok()) return PrintError(s.error());
  std::optional<RunAs> run_as;
  if (!o.user.empty()) {
    auto looked_up = LookUpUser(o.user);
    if (!looked_up.ok()) return PrintError(looked_up.error());
    run_as = std::move(*looked_up);
  }
  Diagnostics dir_diag;
  auto opened = OpenRunDirectory(o, run_as ? &*run_as : nullptr, dir_diag);
  if (!opened.ok()) return PrintError(opened.error());
  const RunDirectory dir = std::move(*opened);
  const std::string& run_dir = dir.path;
  PrintDiagnostics(dir_diag);

  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    return PrintError(Internal(fmt::format("pipe: {}", strerror(errno))));
  const pid_t record_pid = ::getpid();
  fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) return PrintError(Internal(fmt::format("fork: {}", strerror(errno))));
  if (child == 0) {
    ::close(go[1]);
    ::close(err[0]);
    ChildMain(go[0], err[1], o.command, run_dir, run_as ? &*run_as : nullptr, record_pid);
  }
  ::close(go[0]);
  ::close(err[1]);
  g_child.store(child);
  InstallForwarding();

  auto started = StartSampling(o, child, dir);
  if (!started.ok()) {
    ::close(go[1]);  // the held child sees EOF and exits without running CMD
    WaitChild(child);
    return PrintError(started.error());
  }
  Started& st = *started;
  PrintDiagnostics(st.diag);

  if (o.baseline_s > 0) {
    // CMD has not started: what the domains draw now is the idle baseline.
    // Start from a reading of every domain (the slow thread's first may be a period away).
    std::vector<DomainTally> before = st.sampler->Snapshot();
    for (int i = 0; i < 200; ++i) {
      bool all = true;
      for (const DomainTally& t : before) all &= t.readings > 0;
      if (all) break;
      SleepSeconds(0.005);
      before = st.sampler->Snapshot();
    }
    SleepSeconds(o.baseline_s);
    const std::vector<DomainTally> after = st.sampler->Snapshot();
    for (size_t i = 0; i < after.size(); ++i) {
      const double dt_s = (after[i].last_t_ns - before[i].last_t_ns) * 1e-9;
      if (before[i].readings == 0 || dt_s <= 0) continue;  // too few readings to say
      st.meta.baseline_w[st.meta.domains[i].name] =
          (after[i].energy_j - before[i].energy_j) / dt_s;
    }
    st.meta.started_ns = MonotonicNowNs();
    if (Status s = WriteRunJson(dir, st.meta); !s.ok()) PrintError(s.error());
  }

  // Release CMD and learn whether exec worked.
  (void)!::write(go[1], "x", 1);
  ::close(go[1]);
  ChildFailure failure;
  ssize_t n;
  while ((n = ::read(err[0], &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  ::close(err[0]);
  const int status = WaitChild(child);
  const int64_t ended_ns = MonotonicNowNs();
  SamplerResult result = st.sampler->Stop();
  std::optional<CpuTimeStats> cpu;
  if (st.cputime) cpu = st.cputime->Stop();
  g_child.store(0);

  if (n == static_cast<ssize_t>(sizeof failure)) {
    const std::string what =
        failure.step == kStepUser
            ? fmt::format("cannot run {} as user {}: {}", ShellQuote(o.command[0]), o.user,
                          strerror(failure.error))
            : fmt::format("cannot run {}: {}", ShellQuote(o.command[0]), strerror(failure.error));
    return PrintError(Error{ErrorCode::kBadInput, what, "", -1, -1});
  }

  st.meta.domains = result.domains;  // now with stopped_ns where a domain stopped mid-run
  st.meta.clock_sync = result.clock_sync;
  st.meta.exit_code = status;
  st.meta.ended_ns = ended_ns;
  const Status run_json = WriteRunJson(dir, st.meta);
  if (!o.quiet) {
    PrintDiagnostics(result.diagnostics);
    if (cpu) PrintDiagnostics(cpu->diagnostics);
    try {
      PrintSummary(o, st.meta, result, cpu ? &*cpu : nullptr, run_dir);
    } catch (const std::system_error&) {
      // stderr is closed or full (fmt::print throws): the run is written, and the
      // exit status stays CMD's.
    }
  }
  // A run that could not be written whole fails even when CMD succeeded: exit 2
  // then, CMD's own non-zero status otherwise.
  const std::vector<Error> errors = RunFileErrors(dir, result, st.cputime.get(), run_json);
  for (const Error& e : errors) PrintError(e);
  if (!errors.empty() && status == 0) return static_cast<int>(ErrorCode::kBadInput);
  return status;
}

CommandRegistration registration{"record", 15, [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RecordOptions>();
  auto* sub = app.add_subcommand(
      "record",
      "Run CMD while sampling every readable energy domain into a run directory:\n"
      "  smaragdine record -o run -- python train.py");
  sub->add_option("-o,--output", o->output, "Run directory to write (run.json, energy.csv)")
      ->required();
  sub->add_option("command", o->command, "The command to run, after --")->expected(-1);
  sub->add_option("--source", o->forced,
                  "Prefer this source where it covers a domain (repeatable): perf, nvml, "
                  "rapl-powercap, rapl-msr, hwmon, model")
      // One value per --source: otherwise CLI11 takes the `--` before CMD as the end of
      // --source's values, and CMD's own options (`sh -c …`) become record's.
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1)
      ->allow_extra_args(false);
  sub->add_option("--rate-hz", o->rate_hz, "Sampling rate of fast sources (RAPL, perf, MSR)")
      ->capture_default_str();
  sub->add_option("--slow-period-ms", o->slow_period_ms,
                  "Sampling period of slow sources (NVML, hwmon, the model)")
      ->capture_default_str();
  sub->add_option("--baseline-s", o->baseline_s,
                  "Measure the idle power for this long before starting CMD")
      ->capture_default_str();
  sub->add_option("--model-core-w", o->model_core_w,
                  "Modeled CPU: watts per busy core (only when no counter can be read)")
      ->capture_default_str();
  sub->add_option("--model-idle-w", o->model_idle_w, "Modeled CPU: idle watts")
      ->capture_default_str();
  sub->add_option("--sysfs-root", o->roots.sysfs, "Where sysfs is")->capture_default_str();
  sub->add_option("--dev-root", o->roots.dev, "Where /dev is")->capture_default_str();
  sub->add_option("--proc-root", o->roots.proc, "Where procfs is")->capture_default_str();
  sub->add_option("--nvml-library", o->nvml_library,
                  "Load NVML from this file instead of libnvidia-ml.so.1");
  sub->add_option("--user", o->user,
                  "Run CMD as this user (initgroups, setgid, setuid before exec; HOME, USER and "
                  "LOGNAME set to theirs) while sampling keeps record's privileges, e.g. to read "
                  "root-only RAPL counters. record must run as root")
      ->allow_extra_args(false);
  sub->add_flag("--force", o->force,
                "Record into a run directory that is not empty: record's files in it "
                "(run.json, energy.csv, cputime.csv) are replaced, anything else is left");
  sub->add_flag("-q,--quiet", o->quiet, "Print no summary at the end");
  sub->callback([&exit_code, o] { exit_code = Run(*o); });
}};

}  // namespace
}  // namespace smaragdine::cli
