// sampler_tool — the sampler's CPU cost at 1 kHz as a ratio to a bare 1 kHz wakeup
// loop measured in the same run, and its period jitter (DESIGN §9; issue 16, item 3).
//
// Builds a fake RAPL powercap tree (2 packages × package/core/dram, the kernel's
// file contents) in a temp dir, advances its energy_uj files every 1 ms from a
// background thread the way the hardware would (for the whole run), and measures
// three kinds of 1 kHz thread side by side:
//   - bare: one thread that only wakes on absolute 1 ms CLOCK_MONOTONIC deadlines
//     (timer slack 1 ns, as the sampler sets) and stamps the time — the floor any
//     1 kHz sampling thread pays on this machine;
//   - sampler: the real powercap source and Sampler at 1 kHz, writing energy.csv;
//   - null: the Sampler at 1 kHz on a session that reads nothing (same domains,
//     no system call): the sampler's own code and its writer, without the reads.
// R repetitions of S seconds. By default the three run at the same time, their
// wakeups staggered by a third of the period (so they never wake together) and
// their CPU windows opened and closed together: whatever else the machine does
// falls on all three alike. --alternate runs them one after another instead, the
// order rotating with the repetition.
// CPU of each: run time of its own threads (the bare thread; a sampler's sampling
// thread and energy.csv writer, plus every io_uring worker thread of the process,
// iou-wrk-*, so that a read the kernel hands to a worker is never left out; only
// the sampler uses io_uring here) from /proc/self/task/TID/schedstat, read right after
// the threads start and right before they stop, over the wall time between the
// reads. Each repetition gives the ratio sampler CPU / bare CPU; the tool prints
// every repetition, the median and min–max of the ratios, and the pooled ratio
// (all sampler CPU over all bare CPU, each per second of its windows).
// Jitter: |period − P| p50/p99/p99.9/max, for a sampler from the t_ns column of
// the energy.csv it wrote (one stamp per read pass), for the bare loop from its
// own stamps; overruns and diagnostics of the samplers.
// Breakdown: CPU per session Read() back to back (no sleeping between).
//
//   sampler_tool [--reps R] [--phase-s S] [--period-us P] [--sysfs DIR] [--alternate]
//                [--only sampler|bare|null] [--tree-dir DIR] [--energy-from FILE]
//                [--reads batch|pread] [--keep]
//
// --sysfs DIR samples the powercap zones under DIR instead of a fake tree
// (e.g. --sysfs /sys on a machine whose RAPL is readable); no advancer runs then.
// --tree-dir DIR puts the fake tree in DIR (default /dev/shm, an in-memory file
// system as sysfs is; /tmp if there is none); energy.csv always goes to /tmp.
// --only runs one kind (R phases of S s; no ratio), e.g. under perf.
// --energy-from FILE makes every energy_uj of the fake tree a symbolic link to
// FILE, a readable integer attribute of the real sysfs (e.g.
// /sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed): the reads then
// take the kernel's kernfs path, as RAPL's energy_uj does (a tmpfs file is read
// by a different path, and io_uring cannot read it without blocking). The value
// does not change (no advancer runs; the energies are 0), which does not matter
// for the CPU of reading it; RAPL's own read adds an MSR read in the kernel.
// --reads pread turns the io_uring batch off (one pread per file, as before
// it existed); batch, the default, is what record does.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "energy/sampler.h"
#include "energy/sources/rapl_powercap.h"
#include "energy/sources/sysfs_sources.h"
#include "energy/sources/sysfs_util.h"
#include "smaragdine/sources.h"

namespace fs = std::filesystem;
using namespace smaragdine;

namespace {

struct Zone {
  std::string entry, name;
  double power_w;  // how fast the advancer makes its counter grow
  uint64_t energy_uj = 0;
  int fd = -1;
};

// 12 digits: 10 s at the fake powers stays within them, so every rewrite has the
// same length and a reader never sees a stale trailing digit.
constexpr uint64_t kStartEnergyUj = 100'000'000'000;
constexpr uint64_t kMaxEnergyRangeUj = 262'143'328'850;  // a common package range

void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path);
  out << text;
  if (!out) {
    fmt::print(stderr, "sampler_tool: cannot write {}\n", path.string());
    std::exit(1);
  }
}

// `energy_from` non-empty: each energy_uj is a symbolic link to it, not a file of its own.
std::vector<Zone> MakeFakePowercapTree(const fs::path& sysfs, const std::string& energy_from) {
  std::vector<Zone> zones = {
      {"intel-rapl:0", "package-0", 45.0},  {"intel-rapl:0:0", "core", 30.0},
      {"intel-rapl:0:1", "dram", 6.0},      {"intel-rapl:1", "package-1", 40.0},
      {"intel-rapl:1:0", "core", 27.0},     {"intel-rapl:1:1", "dram", 5.5},
  };
  for (Zone& z : zones) {
    const fs::path dir = sysfs / "class/powercap" / z.entry;
    z.energy_uj = kStartEnergyUj;
    WriteText(dir / "name", z.name + "\n");
    if (!energy_from.empty()) {
      std::error_code ec;
      fs::create_symlink(energy_from, dir / "energy_uj", ec);
      if (ec) {
        fmt::print(stderr, "sampler_tool: cannot link {} to {}: {}\n",
                   (dir / "energy_uj").string(), energy_from, ec.message());
        std::exit(1);
      }
      WriteText(dir / "max_energy_range_uj", fmt::format("{}\n", kMaxEnergyRangeUj));
      WriteText(dir / "enabled", "1\n");
      continue;
    }
    WriteText(dir / "energy_uj", fmt::format("{}\n", z.energy_uj));
    WriteText(dir / "max_energy_range_uj", fmt::format("{}\n", kMaxEnergyRangeUj));
    WriteText(dir / "enabled", "1\n");
    z.fd = ::open((dir / "energy_uj").c_str(), O_WRONLY | O_CLOEXEC);
    if (z.fd < 0) {
      fmt::print(stderr, "sampler_tool: cannot open {}: {}\n", (dir / "energy_uj").string(),
                 strerror(errno));
      std::exit(1);
    }
  }
  return zones;
}

// Rewrites every energy_uj in place each 1 ms on absolute deadlines, as RAPL updates.
void AdvanceLoop(std::vector<Zone>& zones, const std::atomic<bool>& stop) {
  constexpr int64_t kUpdateNs = 1'000'000;
  int64_t deadline_ns = MonotonicNowNs();
  while (!stop.load(std::memory_order_relaxed)) {
    for (Zone& z : zones) {
      z.energy_uj += static_cast<uint64_t>(z.power_w * 1e6 * kUpdateNs * 1e-9);
      const std::string text = fmt::format("{}\n", z.energy_uj);
      if (::pwrite(z.fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        fmt::print(stderr, "sampler_tool: pwrite {}: {}\n", z.entry, strerror(errno));
        std::exit(1);
      }
    }
    deadline_ns += kUpdateNs;
    timespec ts{static_cast<time_t>(deadline_ns / 1'000'000'000),
                static_cast<long>(deadline_ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
  }
}

std::set<int> ThreadIds() {
  std::set<int> tids;
  for (const auto& e : fs::directory_iterator("/proc/self/task"))
    tids.insert(std::atoi(e.path().filename().c_str()));
  return tids;
}

// /proc/self/task/TID: run time (ns, from schedstat), voluntary and involuntary switches.
struct ThreadCpu {
  int64_t run_ns = -1;
  int64_t voluntary = 0, involuntary = 0;
};

ThreadCpu ReadThreadCpu(int tid) {
  ThreadCpu t;
  std::ifstream sched(fmt::format("/proc/self/task/{}/schedstat", tid));
  sched >> t.run_ns;
  if (!sched) t.run_ns = -1;
  std::ifstream status(fmt::format("/proc/self/task/{}/status", tid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
      t.voluntary = std::atoll(line.c_str() + 24);
    else if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
      t.involuntary = std::atoll(line.c_str() + 27);
  }
  return t;
}

// Nearest-rank percentile of sorted values.
int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// Run time of each io_uring worker thread of this process (comm "iou-wrk-TID").
std::map<int, int64_t> IoWorkerRunNs() {
  std::map<int, int64_t> out;
  for (int tid : ThreadIds()) {
    std::ifstream comm(fmt::format("/proc/self/task/{}/comm", tid));
    std::string name;
    if (!std::getline(comm, name) || name.rfind("iou-wrk", 0) != 0) continue;
    const int64_t ns = ReadThreadCpu(tid).run_ns;
    if (ns >= 0) out[tid] = ns;
  }
  return out;
}

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// One phase's CPU: run time of its threads over the wall time between the reads.
struct PhaseCpu {
  int64_t window_ns = 0;
  std::vector<int64_t> thread_ns;  // per thread, in the order the phase lists them
  int64_t voluntary = 0, involuntary = 0;
  int64_t passes = 0;  // wakeups (bare) or read passes (sampler) inside the window
  // io_uring workers' run time in the window (sampler only); a worker that
  // started inside the window counts from 0, one that ended inside it is lost.
  int64_t io_worker_ns = 0;
  int io_workers = 0;  // how many there were at the window's close
  int64_t total_ns() const {
    int64_t t = io_worker_ns;
    for (int64_t n : thread_ns) t += n;
    return t;
  }
  double pct() const { return 100.0 * static_cast<double>(total_ns()) / window_ns; }
};

struct Window {
  std::vector<int> tids;
  std::vector<ThreadCpu> cpu0;
  bool io_workers = false;  // add the process's io_uring workers
  std::map<int, int64_t> io0;
  int64_t t0_ns = 0;
  void Open(std::vector<int> t, bool with_io_workers) {
    tids = std::move(t);
    io_workers = with_io_workers;
    for (int tid : tids) cpu0.push_back(ReadThreadCpu(tid));
    if (io_workers) io0 = IoWorkerRunNs();
    t0_ns = MonotonicNowNs();
  }
  // Call before the threads end (their /proc entries go with them).
  PhaseCpu Close(int64_t* t1_ns) const {
    PhaseCpu c;
    std::vector<ThreadCpu> cpu1;
    for (int tid : tids) cpu1.push_back(ReadThreadCpu(tid));
    if (io_workers) {
      for (const auto& [tid, ns] : IoWorkerRunNs()) {
        const auto before = io0.find(tid);
        c.io_worker_ns += ns - (before == io0.end() ? 0 : before->second);
        ++c.io_workers;
      }
    }
    *t1_ns = MonotonicNowNs();
    c.window_ns = *t1_ns - t0_ns;
    for (size_t i = 0; i < tids.size(); ++i) {
      c.thread_ns.push_back(cpu1[i].run_ns - cpu0[i].run_ns);
      c.voluntary += cpu1[i].voluntary - cpu0[i].voluntary;
      c.involuntary += cpu1[i].involuntary - cpu0[i].involuntary;
    }
    return c;
  }
};

// Periods between consecutive stamps inside [t0, t1].
void AddPeriods(const std::vector<int64_t>& stamps, int64_t t0_ns, int64_t t1_ns,
                std::vector<int64_t>& periods) {
  for (size_t i = 1; i < stamps.size(); ++i) {
    if (stamps[i - 1] < t0_ns || stamps[i] > t1_ns) continue;
    periods.push_back(stamps[i] - stamps[i - 1]);
  }
}

// The floor under any 1 kHz sampler: a thread that only wakes on the same absolute
// deadlines with the same timer slack and stamps the time, reading nothing.
class BareLoop {
 public:
  BareLoop(double seconds, int64_t period_ns, int64_t first_deadline_ns) {
    stamps_.reserve(static_cast<size_t>(seconds * 1e9 / period_ns * 1.2) + 1000);
    thread_ = std::thread([this, period_ns, first_deadline_ns] {
      prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
      tid_ = static_cast<int>(gettid());
      int64_t deadline_ns = first_deadline_ns;
      SleepUntilMonotonicNs(deadline_ns);
      do {
        const int64_t now_ns = MonotonicNowNs();
        if (stamps_.size() < stamps_.capacity()) stamps_.push_back(now_ns);
        deadline_ns += period_ns;
        if (deadline_ns <= now_ns) deadline_ns = now_ns;  // late: re-base, as the sampler
        SleepUntilMonotonicNs(deadline_ns);
      } while (!stop_.load(std::memory_order_relaxed));
    });
    while (tid_.load() == 0) std::this_thread::yield();
  }
  std::vector<int> Tids() const { return {tid_.load()}; }
  // Stops and joins the thread; the times it woke.
  std::vector<int64_t> Stop() {
    stop_ = true;
    thread_.join();
    return std::move(stamps_);
  }

 private:
  std::vector<int64_t> stamps_;
  std::atomic<int> tid_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct SamplerTotals {
  int64_t overruns = 0, samples = 0, rows = 0;
  Diagnostics diagnostics;
};

// A session that reads nothing: the same domains as the real one, each counter
// growing by a fixed step per Read(), no system call, no clock read. The sampler
// on it costs its own code (stamping, tallies, the lock, the writer) and the wakeup.
class NullSession : public SamplingSession {
 public:
  explicit NullSession(std::vector<DomainInfo> domains) : domains_(std::move(domains)) {}
  const std::vector<DomainInfo>& domains() const override { return domains_; }
  void Read(std::vector<double>& values, Diagnostics&) override {
    values.resize(domains_.size());
    ++passes_;
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = static_cast<double>(passes_) * 0.001 * static_cast<double>(i + 1);
  }

 private:
  std::vector<DomainInfo> domains_;
  int64_t passes_ = 0;
};

// The Sampler at the period on `session`, writing `csv`; the threads it started.
class SamplerRun {
 public:
  SamplerRun(std::unique_ptr<SamplingSession> session, int64_t period_ns, std::string csv)
      : csv_(std::move(csv)) {
    std::vector<SamplerSession> sessions;
    sessions.push_back({RateClass::kFast, std::move(session)});
    SamplerOptions sopts;
    sopts.fast_period_ns = period_ns;
    const std::set<int> before = ThreadIds();
    auto sampler = Sampler::Start(std::move(sessions), csv_, sopts);
    if (!sampler.ok()) {
      fmt::print(stderr, "sampler_tool: {}\n", sampler.error().ToString());
      std::exit(1);
    }
    sampler_ = std::move(*sampler);
    // The threads Start made: the writer first, then the fast sampling thread.
    for (int tid : ThreadIds())
      if (!before.count(tid)) tids_.push_back(tid);
  }
  const std::vector<int>& Tids() const { return tids_; }
  // Stops the sampler; the t_ns of each read pass (of its first domain) in energy.csv.
  std::vector<int64_t> Stop(SamplerTotals& totals) {
    SamplerResult result = sampler_->Stop();
    totals.overruns += result.fast_overruns;
    totals.samples += result.fast_samples;
    totals.rows += result.rows_written;
    totals.diagnostics.Merge(result.diagnostics);
    std::vector<int64_t> stamps;
    std::ifstream in(csv_);
    std::string line;
    std::getline(in, line);  // header
    const std::string first = result.domains.empty() ? "" : result.domains[0].name;
    while (std::getline(in, line)) {
      const size_t c1 = line.find(',');
      const size_t c2 = line.find(',', c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) continue;
      if (line.compare(c1 + 1, c2 - c1 - 1, first) != 0) continue;
      stamps.push_back(std::atoll(line.c_str()));
    }
    return stamps;
  }

 private:
  std::string csv_;
  std::unique_ptr<Sampler> sampler_;
  std::vector<int> tids_;
};

// Closes a window and keeps the periods that lie inside it: the first pass after
// the threads start and the closing one are outside the steady state.
PhaseCpu Finish(const Window& w, int64_t t1_ns, PhaseCpu c, const std::vector<int64_t>& stamps,
                std::vector<int64_t>& periods) {
  const size_t n0 = periods.size();
  AddPeriods(stamps, w.t0_ns, t1_ns, periods);
  c.passes = static_cast<int64_t>(periods.size() - n0);
  return c;
}

double Us(int64_t ns) { return static_cast<double>(ns) / 1e3; }

struct Jitter {
  int64_t p50 = 0, p99 = 0, p999 = 0, max = 0, late_2x = 0;
  double rate_hz = 0;
};

Jitter JitterOf(const std::vector<int64_t>& periods, int64_t period_ns) {
  Jitter j;
  std::vector<int64_t> dev;
  int64_t sum_ns = 0;
  for (int64_t p : periods) {
    dev.push_back(std::llabs(p - period_ns));
    if (p >= 2 * period_ns) ++j.late_2x;
    sum_ns += p;
  }
  std::sort(dev.begin(), dev.end());
  j.p50 = Percentile(dev, 50);
  j.p99 = Percentile(dev, 99);
  j.p999 = Percentile(dev, 99.9);
  j.max = dev.empty() ? 0 : dev.back();
  j.rate_hz = sum_ns > 0 ? static_cast<double>(periods.size()) * 1e9 / sum_ns : 0.0;
  return j;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// What the session's reads will be: one pread each, or one io_uring batch per
// pass, and whether the kernel reads these files inline (a file it answers
// −EAGAIN for is read with pread by the session instead).
std::string DescribeReads(const std::string& reads, const fs::path& sysfs) {
  if (reads == "pread") return "one pread per file (--reads pread)";
  std::vector<int> fds;
  for (const char* z : {"intel-rapl:0", "intel-rapl:0:0"}) {
    int fd = ::open((sysfs / "class/powercap" / z / "energy_uj").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fds.push_back(fd);
  }
  std::string text;
  auto batch = OpenUringReadBatch(fds);
  if (!batch.ok()) {
    text = fmt::format("one pread per file: no io_uring batch ({})", batch.error().message);
  } else {
    char buf[2][32];
    std::vector<BatchRead> r(fds.size());
    for (size_t i = 0; i < r.size(); ++i) r[i] = BatchRead{i, buf[i], sizeof buf[i], 0, 0};
    (*batch)->Read(r);
    text = "io_uring batch; a trial batch here read";
    for (const BatchRead& x : r)
      text += x.result >= 0 ? fmt::format(" {} bytes", x.result)
                            : fmt::format(" {}", x.result == -EAGAIN ? "-EAGAIN (pread instead)"
                                                                     : std::to_string(x.result));
  }
  batch = Nothing("closed");
  for (int fd : fds) ::close(fd);
  return text;
}

[[noreturn]] void Usage() {
  fmt::print(stderr,
             "usage: sampler_tool [--reps R] [--phase-s S] [--period-us P] [--sysfs DIR] "
             "[--only sampler|bare|null] [--alternate] [--tree-dir DIR] [--energy-from FILE] "
             "[--reads batch|pread] [--keep]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  double phase_s = 2;
  int64_t period_us = 1000;
  std::string sysfs_arg, only, tree_dir, energy_from, reads = "batch";
  bool keep = false, alternate = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "--phase-s" && i + 1 < argc) phase_s = std::atof(argv[++i]);
    else if (a == "--period-us" && i + 1 < argc) period_us = std::atoll(argv[++i]);
    else if (a == "--sysfs" && i + 1 < argc) sysfs_arg = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--tree-dir" && i + 1 < argc) tree_dir = argv[++i];
    else if (a == "--energy-from" && i + 1 < argc) energy_from = argv[++i];
    else if (a == "--reads" && i + 1 < argc) reads = argv[++i];
    else if (a == "--alternate") alternate = true;
    else if (a == "--keep") keep = true;
    else Usage();
  }
  if (reps <= 0 || phase_s <= 0 || period_us <= 0) Usage();
  if (!only.empty() && only != "sampler" && only != "bare" && only != "null") Usage();
  if (reads != "batch" && reads != "pread") Usage();
  if (!energy_from.empty() && !sysfs_arg.empty()) Usage();
  if (!energy_from.empty()) {
    std::ifstream probe(energy_from);
    std::string text;
    if (!std::getline(probe, text) || text.empty() ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      fmt::print(stderr, "sampler_tool: --energy-from {}: not a readable integer attribute\n",
                 energy_from);
      return 2;
    }
  }
  const int64_t period_ns = period_us * 1000;

  // energy.csv goes to /tmp (a disk file system here, as a run directory would be);
  // the fake tree to an in-memory file system, as sysfs is: on ext4 each read of a
  // file rewritten since the last read also journals its access time, a cost that
  // sysfs does not have.
  std::error_code ec;
  if (tree_dir.empty()) tree_dir = fs::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
  std::string work_tmpl = "/tmp/smg_sampler_XXXXXX";
  std::string tree_tmpl = tree_dir + "/smg_sampler_tree_XXXXXX";
  if (!mkdtemp(work_tmpl.data()) || !mkdtemp(tree_tmpl.data())) {
    fmt::print(stderr, "sampler_tool: mkdtemp: {}\n", strerror(errno));
    return 1;
  }
  const fs::path work = work_tmpl;
  const bool fake = sysfs_arg.empty();
  const fs::path sysfs = fake ? fs::path(tree_tmpl) / "sys" : fs::path(sysfs_arg);

  std::vector<Zone> zones;
  std::atomic<bool> stop_advance{false};
  std::thread advancer;
  if (fake) {
    zones = MakeFakePowercapTree(sysfs, energy_from);
    if (energy_from.empty()) advancer = std::thread([&] { AdvanceLoop(zones, stop_advance); });
  }

  SourceOptions options;
  options.roots.sysfs = sysfs.string();
  SysIo io;
  if (reads == "pread") io.open_batch = nullptr;
  std::unique_ptr<EnergySource> source = MakeRaplPowercapSource(options, io);
  std::vector<std::string> names;
  for (const DomainProbe& p : source->Probe()) {
    if (p.readable) names.push_back(p.info.name);
    else fmt::print("unreadable: {} ({}): {}\n", p.info.name, p.location, p.reason);
  }
  if (names.empty()) {
    fmt::print(stderr, "sampler_tool: no readable powercap domain under {}\n", sysfs.string());
    return 1;
  }

  fmt::print("reads: {}\n", DescribeReads(reads, sysfs));
  fmt::print("sampler_tool: {} powercap domains under {}{}, period {} us; {} repetitions of "
             "{:.1f} s, {}\n",
             names.size(), sysfs.string(),
             !fake                 ? ""
             : energy_from.empty() ? " (fake tree, advanced every 1 ms)"
                                   : fmt::format(" (fake tree, energy_uj -> {}, not advanced)",
                                                 energy_from),
             period_us, reps, phase_s,
             !only.empty() ? only + " only"
             : alternate   ? "bare, sampler and null-session sampler one after another"
                           : "bare, sampler and null-session sampler at the same time, staggered");
  std::vector<int64_t> bare_periods, sampler_periods, null_periods;
  SamplerTotals totals, null_totals;
  std::vector<PhaseCpu> bare(reps), samp(reps), null(reps);
  std::vector<double> ratios, sampling_ratios, null_ratios;
  std::vector<DomainInfo> null_domains;
  const auto open_session = [&]() -> std::unique_ptr<SamplingSession> {
    auto session = source->Open(names);
    if (!session.ok()) {
      fmt::print(stderr, "sampler_tool: {}\n", session.error().ToString());
      std::exit(1);
    }
    if (null_domains.empty()) null_domains = (*session)->domains();
    return std::move(*session);
  };
  enum Kind { kBare, kSampler, kNull };
  std::vector<Kind> kinds;
  if (only.empty() || only == "bare") kinds.push_back(kBare);
  if (only.empty() || only == "sampler") kinds.push_back(kSampler);
  if (only.empty() || only == "null") kinds.push_back(kNull);
  const auto pct_of = [](int64_t ns, const PhaseCpu& c) {
    return 100.0 * static_cast<double>(ns) / static_cast<double>(c.window_ns);
  };
  const auto per_pass_us = [](const PhaseCpu& c) {
    return Us(c.total_ns()) / static_cast<double>(std::max<int64_t>(c.passes, 1));
  };
  // Runs `group` at once for phase_s, staggered by period / size within the period
  // (so their wakeups do not fall together), their CPU windows opened and closed together.
  const auto run_together = [&](const std::vector<Kind>& group, int r) {
    const int64_t stagger_ns = period_ns / static_cast<int64_t>(group.size());
    const int64_t t_ns = MonotonicNowNs() + 2 * period_ns;
    std::unique_ptr<BareLoop> bare_loop;
    std::unique_ptr<SamplerRun> samp_run, null_run;
    std::vector<Window> windows(group.size());
    for (size_t k = 0; k < group.size(); ++k) {
      const int64_t start_ns = t_ns + static_cast<int64_t>(k) * stagger_ns;
      if (group[k] == kBare) {
        bare_loop = std::make_unique<BareLoop>(phase_s, period_ns, start_ns);
      } else {
        // A sampler's first deadline is when Start is called.
        SleepUntilMonotonicNs(start_ns);
        if (group[k] == kSampler) {
          samp_run = std::make_unique<SamplerRun>(
              open_session(), period_ns, (work / fmt::format("energy-{}.csv", r)).string());
        } else {
          if (null_domains.empty()) open_session();
          null_run = std::make_unique<SamplerRun>(
              std::make_unique<NullSession>(null_domains), period_ns,
              (work / fmt::format("energy-null-{}.csv", r)).string());
        }
      }
    }
    for (size_t k = 0; k < group.size(); ++k)
      windows[k].Open(group[k] == kBare      ? bare_loop->Tids()
                      : group[k] == kSampler ? samp_run->Tids()
                                             : null_run->Tids(),
                      group[k] == kSampler);
    std::this_thread::sleep_for(std::chrono::duration<double>(phase_s));
    std::vector<PhaseCpu> cpu(group.size());
    std::vector<int64_t> t1(group.size());
    for (size_t k = 0; k < group.size(); ++k) cpu[k] = windows[k].Close(&t1[k]);
    for (size_t k = 0; k < group.size(); ++k) {
      if (group[k] == kBare)
        bare[r] = Finish(windows[k], t1[k], cpu[k], bare_loop->Stop(), bare_periods);
      else if (group[k] == kSampler)
        samp[r] = Finish(windows[k], t1[k], cpu[k], samp_run->Stop(totals), sampler_periods);
      else
        null[r] = Finish(windows[k], t1[k], cpu[k], null_run->Stop(null_totals), null_periods);
    }
  };
  static constexpr const char* kKindName[] = {"bare", "sampler", "null"};
  for (int r = 0; r < reps; ++r) {
    // The order rotates with the repetition: which kind starts first (together),
    // or runs first (one after another), so a drift of the load falls on all alike.
    std::vector<Kind> order;
    for (size_t k = 0; k < kinds.size(); ++k)
      order.push_back(kinds[(k + static_cast<size_t>(r)) % kinds.size()]);
    std::string order_text;
    for (Kind k : order) order_text += fmt::format("{}{}", order_text.empty() ? "" : ", ", kKindName[k]);
    if (alternate) {
      for (Kind k : order) run_together({k}, r);
    } else {
      run_together(order, r);
    }
    if (only.empty()) {
      const double ratio = samp[r].pct() / bare[r].pct();
      const double sampling_pct = pct_of(samp[r].thread_ns.back(), samp[r]);
      ratios.push_back(ratio);
      sampling_ratios.push_back(sampling_pct / bare[r].pct());
      null_ratios.push_back(null[r].pct() / bare[r].pct());
      fmt::print("  rep {} ({}): bare {:.3f} % ({:.1f} us/wakeup); sampler {:.3f} % = sampling "
                 "{:.3f} + writer {:.3f} + io_uring workers {:.3f} ({}) ({:.1f} us/pass); "
                 "null-session sampler {:.3f} % ({:.1f} us/pass); ratio {:.2f} (null {:.2f})\n",
                 r, order_text, bare[r].pct(), per_pass_us(bare[r]), samp[r].pct(), sampling_pct,
                 pct_of(samp[r].thread_ns.front(), samp[r]),
                 pct_of(samp[r].io_worker_ns, samp[r]), samp[r].io_workers,
                 per_pass_us(samp[r]), null[r].pct(), per_pass_us(null[r]), ratio,
                 null_ratios.back());
    } else {
      const PhaseCpu& c = only == "bare" ? bare[r] : only == "sampler" ? samp[r] : null[r];
      fmt::print("  rep {}: {} {:.3f} % of one core ({:.1f} us per pass, {} passes)\n", r, only,
                 c.pct(), per_pass_us(c), c.passes);
    }
  }

  // What one read pass of the session costs, back to back (no sleeping between).
  constexpr int kReadPasses = 20000;
  double read_us = 0;
  if (auto again = source->Open(names); again.ok()) {
    std::vector<double> values;
    Diagnostics diag;
    const int64_t c0_ns = ThreadCpuNs();
    for (int i = 0; i < kReadPasses; ++i) (*again)->Read(values, diag);
    read_us = Us(ThreadCpuNs() - c0_ns) / kReadPasses;
  }
  stop_advance = true;
  if (advancer.joinable()) advancer.join();
  for (Zone& z : zones) ::close(z.fd);

  const auto pooled_pct = [](const std::vector<PhaseCpu>& v) {
    int64_t cpu = 0, wall = 0;
    for (const PhaseCpu& c : v) cpu += c.total_ns(), wall += c.window_ns;
    return wall > 0 ? 100.0 * static_cast<double>(cpu) / wall : 0.0;
  };
  const auto spread = [](const char* what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    fmt::print("{}: median {:.2f}  min {:.2f}  max {:.2f}  (over {} repetitions)\n", what,
               Median(v), v.front(), v.back(), v.size());
  };
  if (only.empty()) {
    fmt::print("bare_pct_of_one_core (pooled): {:.3f}\n", pooled_pct(bare));
    fmt::print("sampler_pct_of_one_core (pooled): {:.3f}\n", pooled_pct(samp));
    int64_t io_ns = 0, wall_ns = 0;
    int io_max = 0;
    for (const PhaseCpu& c : samp) {
      io_ns += c.io_worker_ns, wall_ns += c.window_ns;
      io_max = std::max(io_max, c.io_workers);
    }
    fmt::print("  of which io_uring worker threads (pooled): {:.3f} (at most {} at a window's "
               "close)\n",
               wall_ns > 0 ? 100.0 * static_cast<double>(io_ns) / wall_ns : 0.0, io_max);
    fmt::print("null_session_sampler_pct_of_one_core (pooled): {:.3f}\n", pooled_pct(null));
    spread("ratio sampler/bare (bar: <= 1.5)", ratios);
    fmt::print("ratio sampler/bare pooled: {:.2f}\n", pooled_pct(samp) / pooled_pct(bare));
    spread("ratio sampling thread alone/bare", sampling_ratios);
    spread("ratio null-session sampler/bare", null_ratios);
  }
  const auto print_jitter = [&](const char* what, const std::vector<int64_t>& periods) {
    const Jitter j = JitterOf(periods, period_ns);
    fmt::print("jitter_us {} |period - {} us|: p50 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}"
               "  (rate {:.1f} Hz, {} periods, {} at least 2x)\n",
               what, period_us, Us(j.p50), Us(j.p99), Us(j.p999), Us(j.max), j.rate_hz,
               periods.size(), j.late_2x);
  };
  const auto print_totals = [](const char* what, const SamplerTotals& t) {
    fmt::print("{}: overruns {}  fast_samples {}  rows_written {}; diagnostics:{}\n", what,
               t.overruns, t.samples, t.rows, t.diagnostics.empty() ? " none" : "");
    for (const auto& [name, n] : t.diagnostics.counts()) fmt::print("  {} {}\n", name, n);
    for (const std::string& w : t.diagnostics.warnings()) fmt::print("  {}\n", w);
  };
  if (only.empty() || only == "bare") print_jitter("bare", bare_periods);
  if (only.empty() || only == "sampler") {
    print_jitter("sampler", sampler_periods);
    print_totals("sampler", totals);
  }
  if (only.empty() || only == "null") {
    print_jitter("null-session sampler", null_periods);
    print_totals("null-session sampler", null_totals);
  }
  fmt::print("breakdown: one session Read() ({} reads{} + unwrap) {:.2f} us of CPU back to back "
             "(this thread's; io_uring workers not included)\n",
             names.size(), reads == "pread" ? ", one pread each" : ", batched", read_us);

  if (keep) {
    fmt::print("kept {} and {}\n", work.string(), tree_tmpl);
  } else {
    fs::remove_all(work);
    fs::remove_all(tree_tmpl);
  }
  return 0;
}
