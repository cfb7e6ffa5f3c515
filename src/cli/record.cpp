// `smaragdine record [opts] -o RUN -- CMD…`: run CMD while sampling every readable
// energy domain into a run directory (DESIGN §7.1), then exit with CMD's status.
// The run directory, sampling and run.json are the library's Recording
// (recording.h); this file runs CMD around it.
//
// Order of events (the child is forked first so the model source can follow its
// process tree from the start, but held on a pipe until sampling runs):
//
//   fork ──► child blocks reading `go` ─────────────────────► exec CMD
//   parent: Recording::Start (run directory, sources, sampler, cputime.csv, run.json,
//           [baseline]) → write `go` → wait → Recording::Stop (final run.json)
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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
#include "cli/source_options.h"
#include "cli/record_torch.h"
#include "common/io.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/launch.h"
#include "smaragdine/recording.h"
#include "smaragdine/sources.h"

namespace smaragdine::cli {
namespace {

struct RecordOptions {
  std::string output;
  std::vector<std::string> command;
  // --source, the roots, NVML's library and the model's watts; the periods
  // come from --rate-hz and --slow-period-ms.
  SamplingOptions sampling;
  double rate_hz = 1000;
  double slow_period_ms = 20;
  double baseline_s = 0;
  std::string user;  // --user: run CMD as this user (record must be root)
  bool force = false;  // --force: record into a run directory that is not empty
  bool quiet = false;
  bool torch = false;       // --torch: the Python bootstrap records CMD's torch operators
  bool no_account = false;  // --no-account: with --torch, leave the accounting to the user
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
                            const std::string& run_dir, const RunAs* run_as, pid_t record_pid,
                            const std::vector<std::pair<std::string, std::string>>& env) {
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
  for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
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

// --torch: the traces are CMD's files in a directory CMD could write, so with
// --user they are read, and profile.json written, as that user (a child that
// drops to it), never as root.
bool AccountAsCmdUser(const std::string& run_dir, int status, bool quiet, const RunAs* run_as) {
  if (run_as == nullptr) return AccountTorchRun(run_dir, status, quiet);
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    PrintError(Internal(fmt::format("fork: {}", strerror(errno))));
    return false;
  }
  if (pid == 0) {
    if (::setgroups(run_as->groups.size(), run_as->groups.data()) != 0 ||
        ::setgid(run_as->gid) != 0 || ::setuid(run_as->uid) != 0)
      _exit(2);
    const bool ok = AccountTorchRun(run_dir, status, quiet);
    fflush(nullptr);
    _exit(ok ? 0 : 2);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
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
  const SourceOptions& model = o.sampling.sources;
  if (!(model.model_core_w >= 0) || !(model.model_idle_w >= 0) ||
      !std::isfinite(model.model_core_w) || !std::isfinite(model.model_idle_w))
    return UsageError("--model-core-w and --model-idle-w must be finite and not negative");
  return {};
}

void PrintSummary(const RecordOptions& o, const RecordingSummary& r) {
  const EnergyLog& meta = r.meta;
  const double duration_s = (*meta.ended_ns - meta.started_ns.value_or(*meta.ended_ns)) * 1e-9;
  fmt::print(stderr, "\nsmaragdine record: {} exited with status {} after {:.3f} s\n",
             ShellQuote(o.command[0]), meta.exit_code.value_or(-1), duration_s);
  bool any_modeled = false;
  for (size_t i = 0; i < meta.domains.size() && i < r.tallies.size(); ++i) {
    const DomainInfo& d = meta.domains[i];
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
               o.sampling.sources.model_core_w, o.sampling.sources.model_idle_w);
  for (const DomainInfo& d : meta.domains)
    if (d.stopped_ns && meta.started_ns)
      fmt::print(stderr, "  {} STOPPED {:.3f} s into the run: {}\n", d.name,
                 (*d.stopped_ns - *meta.started_ns) * 1e-9, d.stopped_reason);
  if (r.cpu && r.cpu->samples > 0)
    fmt::print(stderr,
               "  CPU time: {:.3f} s by CMD's {} threads, {:.3f} s busy on the whole machine "
               "(cputime.csv, {} samples)\n",
               r.cpu->tree_cpu_ns * 1e-9, r.cpu->threads, r.cpu->machine_busy_ns * 1e-9,
               r.cpu->samples);
  if (r.overruns > 0)
    fmt::print(stderr, "  {} sampling deadlines were missed (the machine was busy)\n",
               r.overruns);
  fmt::print(stderr, "Next: smaragdine account --energy {} --trace TRACE.json -o profile.json\n",
             ShellQuote(meta.path));
}

RecordingOptions ToRecordingOptions(const RecordOptions& o, pid_t child, const RunAs* run_as) {
  RecordingOptions r;
  r.dir = o.output;
  r.existing = o.force ? ExistingRunDirectory::kReplaceOwnFiles : ExistingRunDirectory::kRefuse;
  if (run_as != nullptr) {
    r.owner_uid = run_as->uid;
    r.owner_gid = run_as->gid;
  }
  r.sampling = o.sampling;
  r.sampling.fast_period_ns = static_cast<int64_t>(1e9 / o.rate_hz);
  r.sampling.slow_period_ns = static_cast<int64_t>(o.slow_period_ms * 1e6);
  r.pid = child;
  r.baseline_s = o.baseline_s;
  r.command = o.command;
  return r;
}

// The run directory as Recording will open it (absolute, no trailing slash),
// for CMD's $SMARAGDINE_RUN_DIR, which the child needs before the run starts.
std::string AbsoluteRunDirectory(const std::string& output) {
  std::string path = std::filesystem::absolute(output).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

int Run(const RecordOptions& given) {
  // -o runs/%N: one command line for every machine of a job (launch.h).
  RecordOptions o = given;
  auto expanded = ExpandRunPattern(given.output, ReadLaunchInfo());
  if (!expanded.ok()) return PrintError(expanded.error());
  o.output = *expanded;
  if (Status s = Validate(o); !s.ok()) return PrintError(s.error());
  std::optional<RunAs> run_as;
  if (!o.user.empty()) {
    auto looked_up = LookUpUser(o.user);
    if (!looked_up.ok()) return PrintError(looked_up.error());
    run_as = std::move(*looked_up);
  }
  const std::string run_dir = AbsoluteRunDirectory(o.output);
  std::vector<std::pair<std::string, std::string>> child_env;
  if (o.torch) {
    auto bootstrap = FindPythonBootstrap();
    if (!bootstrap.ok()) return PrintError(bootstrap.error());
    child_env = TorchChildEnvironment(*bootstrap);
  }

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
    ChildMain(go[0], err[1], o.command, run_dir, run_as ? &*run_as : nullptr, record_pid,
              child_env);
  }
  ::close(go[0]);
  ::close(err[1]);
  g_child.store(child);
  InstallForwarding();

  // Sampling (and the baseline, CMD still held) before CMD runs.
  auto recording = Recording::Start(ToRecordingOptions(o, child, run_as ? &*run_as : nullptr));
  if (!recording.ok()) {
    ::close(go[1]);  // the held child sees EOF and exits without running CMD
    WaitChild(child);
    return PrintError(recording.error());
  }
  PrintDiagnostics((*recording)->diagnostics());

  // Release CMD and learn whether exec worked.
  (void)!::write(go[1], "x", 1);
  ::close(go[1]);
  ChildFailure failure;
  ssize_t n;
  while ((n = ::read(err[0], &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  ::close(err[0]);
  const int status = WaitChild(child);
  const bool exec_failed = n == static_cast<ssize_t>(sizeof failure);
  RecordingSummary summary =
      (*recording)->Stop(exec_failed ? std::nullopt : std::optional<int>(status));
  g_child.store(0);

  if (exec_failed) {
    const std::string what =
        failure.step == kStepUser
            ? fmt::format("cannot run {} as user {}: {}", ShellQuote(o.command[0]), o.user,
                          strerror(failure.error))
            : fmt::format("cannot run {}: {}", ShellQuote(o.command[0]), strerror(failure.error));
    return PrintError(Error{ErrorCode::kBadInput, what, "", -1, -1});
  }
  if (!o.quiet) {
    PrintDiagnostics(summary.diagnostics);
    try {
      PrintSummary(o, summary);
    } catch (const std::system_error&) {
      // stderr is closed or full (fmt::print throws): the run is written, and the
      // exit status stays CMD's.
    }
  }
  // A run that could not be written whole fails even when CMD succeeded: exit 2
  // then, CMD's own non-zero status otherwise.
  for (const Error& e : summary.errors) PrintError(e);
  if (!summary.errors.empty() && status == 0) return static_cast<int>(ErrorCode::kBadInput);
  if (o.torch && !o.no_account && summary.errors.empty() &&
      !AccountAsCmdUser(run_dir, status, o.quiet, run_as ? &*run_as : nullptr) && status == 0)
    return static_cast<int>(ErrorCode::kBadInput);
  return status;
}

// `smaragdine record --help` after the summary.
constexpr char kDetails[] =
    "Samples every readable energy domain into a run directory while CMD runs; with\n"
    "--torch, also records CMD's PyTorch operators, per module, with no change to the\n"
    "program.";

// `smaragdine record --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  smaragdine record -o run -- python train.py\n"
    "  smaragdine record --torch -o run -- python train.py     the operators too, per module,\n"
    "                                                          with no change to the program\n"
    "  sudo smaragdine record --user \"$USER\" -o run -- python train.py   root-only counters\n"
    "  srun smaragdine record -o runs/%N -- python train.py    one run directory per machine\n"
    "Then: smaragdine account --energy run --trace TRACE -o profile.json (docs/record.md).\n"
    "Exit status: CMD's own; 2 when CMD cannot be run or the run directory could not be\n"
    "written whole (even if CMD succeeded), 1 bad option, 128+N when CMD died of signal N.\n";

const CommandRegistration kRegistration{
    "record", 15,
    {"Run a command while sampling energy; --torch: its operators too", kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      auto o = std::make_shared<RecordOptions>();
      sub.add_option(
             "-o,--output", o->output,
             "Run directory to write (run.json, energy.csv). %N (or %h) is replaced by the "
             "host name, %j by Slurm's job id, %r by the launcher's rank: one command line "
             "for every machine of a job. Example: srun smaragdine record -o runs/%N -- ...")
          ->required();
      sub.add_option("command", o->command, "The command to run, after --")->expected(-1);
      AddSourceOption(sub, o->sampling.forced_sources);
      sub.add_option("--rate-hz", o->rate_hz, "Sampling rate of fast sources (RAPL, perf, MSR)")
          ->capture_default_str();
      sub.add_option("--slow-period-ms", o->slow_period_ms,
                     "Sampling period of slow sources (NVML, hwmon, the model)")
          ->capture_default_str();
      sub.add_option("--baseline-s", o->baseline_s,
                     "Measure the idle power for this long before starting CMD")
          ->capture_default_str();
      sub.add_option("--model-core-w", o->sampling.sources.model_core_w,
                     "Modeled CPU: watts per busy core (only when no counter can be read)")
          ->capture_default_str();
      sub.add_option("--model-idle-w", o->sampling.sources.model_idle_w, "Modeled CPU: idle watts")
          ->capture_default_str();
      AddSourceLocationOptions(sub, o->sampling.sources.roots, o->sampling.sources.nvml_library);
      sub.add_option(
             "--user", o->user,
             "Run CMD as this user (initgroups, setgid, setuid before exec; HOME, USER and "
             "LOGNAME set to theirs) while sampling keeps record's privileges, e.g. to read "
             "root-only RAPL counters. record must run as root")
          ->allow_extra_args(false);
      sub.add_flag("--force", o->force,
                   "Record into a run directory that is not empty: record's files in it "
                   "(run.json, energy.csv, cputime.csv) are replaced, anything else is left");
      sub.add_flag(
          "--torch", o->torch,
          "CMD is a Python program using PyTorch: record every torch operator in it with no "
          "change to the program (module names, forward/backward/optimizer, steps at "
          "optimizer.step()), then account the run into RUN/profile.json and print the "
          "tree. Needs the Python package (docs/python.md)");
      sub.add_flag("--no-account", o->no_account,
                   "With --torch: only record; account later with smaragdine account --energy RUN "
                   "--trace RUN/torch-*.trace.json");
      sub.add_flag("-q,--quiet", o->quiet, "Print no summary at the end");
      return [o] { return Run(*o); };
    }};

}  // namespace
}  // namespace smaragdine::cli
