// sampler_tool — the sampler's overhead and period jitter at 1 kHz (issue 3, item 7).
//
// Builds a fake RAPL powercap tree (2 packages × package/core/dram, the kernel's
// file contents) in a temp dir, advances its energy_uj files every 1 ms from a
// background thread the way the hardware would, samples it with the real
// powercap source and Sampler at 1 kHz for N seconds, and reports:
//   - CPU time of the sampler's own threads (the fast sampling thread and the
//     energy.csv writer) as percent of one core, from /proc/self/task/TID/schedstat
//     (nanosecond run time per thread; the advancer thread and main are excluded);
//   - the achieved rate and |period − 1 ms| p50/p99/p99.9/max, from the t_ns
//     column of the energy.csv the sampler wrote (one stamp per read pass);
//   - the sampler's overrun count and diagnostics;
//   - a breakdown: CPU per session Read() back to back, and the CPU of a bare
//     thread waking on the same 1 ms deadlines (the floor any 1 kHz sampler pays).
//
//   sampler_tool [--seconds N] [--period-us P] [--sysfs DIR] [--keep]
//
// --sysfs DIR samples the powercap zones under DIR instead of a fake tree
// (e.g. --sysfs /sys on a machine whose RAPL is readable); no advancer runs then.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "energy/sampler.h"
#include "energy/sources/sysfs_sources.h"
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

std::vector<Zone> MakeFakePowercapTree(const fs::path& sysfs) {
  std::vector<Zone> zones = {
      {"intel-rapl:0", "package-0", 45.0},  {"intel-rapl:0:0", "core", 30.0},
      {"intel-rapl:0:1", "dram", 6.0},      {"intel-rapl:1", "package-1", 40.0},
      {"intel-rapl:1:0", "core", 27.0},     {"intel-rapl:1:1", "dram", 5.5},
  };
  for (Zone& z : zones) {
    const fs::path dir = sysfs / "class/powercap" / z.entry;
    z.energy_uj = kStartEnergyUj;
    WriteText(dir / "name", z.name + "\n");
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

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The floor under any 1 kHz sampler: CPU time of a thread that only wakes on the
// same absolute deadlines (same timer slack) and stamps the time, reading nothing.
double WakeupFloorPct(double seconds, int64_t period_ns) {
  double pct = 0;
  std::thread t([&] {
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    const int64_t cpu0_ns = ThreadCpuNs();
    const int64_t start_ns = MonotonicNowNs();
    const int64_t end_ns = start_ns + static_cast<int64_t>(seconds * 1e9);
    int64_t deadline_ns = start_ns;
    while (MonotonicNowNs() < end_ns) {
      deadline_ns += period_ns;
      timespec ts{static_cast<time_t>(deadline_ns / 1'000'000'000),
                  static_cast<long>(deadline_ns % 1'000'000'000)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    }
    pct = 100.0 * static_cast<double>(ThreadCpuNs() - cpu0_ns) /
          static_cast<double>(MonotonicNowNs() - start_ns);
  });
  t.join();
  return pct;
}

double Us(int64_t ns) { return static_cast<double>(ns) / 1e3; }

[[noreturn]] void Usage() {
  fmt::print(stderr, "usage: sampler_tool [--seconds N] [--period-us P] [--sysfs DIR] [--keep]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  int64_t period_us = 1000;
  std::string sysfs_arg;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--period-us" && i + 1 < argc) period_us = std::atoll(argv[++i]);
    else if (a == "--sysfs" && i + 1 < argc) sysfs_arg = argv[++i];
    else if (a == "--keep") keep = true;
    else Usage();
  }
  if (seconds <= 0 || period_us <= 0) Usage();

  char tmpl[] = "/tmp/smg_sampler_XXXXXX";
  if (!mkdtemp(tmpl)) {
    fmt::print(stderr, "sampler_tool: mkdtemp: {}\n", strerror(errno));
    return 1;
  }
  const fs::path work = tmpl;
  const bool fake = sysfs_arg.empty();
  const fs::path sysfs = fake ? work / "sys" : fs::path(sysfs_arg);

  std::vector<Zone> zones;
  std::atomic<bool> stop_advance{false};
  std::thread advancer;
  if (fake) {
    zones = MakeFakePowercapTree(sysfs);
    advancer = std::thread([&] { AdvanceLoop(zones, stop_advance); });
  }

  SourceOptions options;
  options.roots.sysfs = sysfs.string();
  auto source = MakeRaplPowercapSource(options);
  std::vector<std::string> names;
  for (const DomainProbe& p : source->Probe()) {
    if (p.readable) names.push_back(p.info.name);
    else fmt::print("unreadable: {} ({}): {}\n", p.info.name, p.location, p.reason);
  }
  if (names.empty()) {
    fmt::print(stderr, "sampler_tool: no readable powercap domain under {}\n", sysfs.string());
    return 1;
  }
  auto session = source->Open(names);
  if (!session.ok()) {
    fmt::print(stderr, "sampler_tool: {}\n", session.error().ToString());
    return 1;
  }

  std::vector<SamplerSession> sessions;
  sessions.push_back({RateClass::kFast, std::move(*session)});
  SamplerOptions sopts;
  sopts.fast_period_ns = period_us * 1000;
  const std::string csv = (work / "energy.csv").string();

  const std::set<int> before = ThreadIds();
  auto sampler = Sampler::Start(std::move(sessions), csv, sopts);
  if (!sampler.ok()) {
    fmt::print(stderr, "sampler_tool: {}\n", sampler.error().ToString());
    return 1;
  }
  const int64_t t0_ns = MonotonicNowNs();
  // The threads Start made: the writer first, then the fast sampling thread.
  std::vector<int> tids;
  for (int tid : ThreadIds())
    if (!before.count(tid)) tids.push_back(tid);
  std::vector<ThreadCpu> cpu0;
  for (int tid : tids) cpu0.push_back(ReadThreadCpu(tid));
  rusage ru0{};
  getrusage(RUSAGE_SELF, &ru0);

  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));

  // Read before Stop joins the threads (their /proc entries go with them).
  std::vector<ThreadCpu> cpu1;
  for (int tid : tids) cpu1.push_back(ReadThreadCpu(tid));
  const int64_t t1_ns = MonotonicNowNs();
  rusage ru1{};
  getrusage(RUSAGE_SELF, &ru1);
  SamplerResult result = (*sampler)->Stop();

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
  const double floor_pct = WakeupFloorPct(std::min(seconds, 3.0), period_us * 1000);
  stop_advance = true;
  if (advancer.joinable()) advancer.join();
  for (Zone& z : zones) ::close(z.fd);

  // Periods: consecutive distinct t_ns of the first domain (one stamp per read pass).
  std::vector<int64_t> stamps;
  {
    std::ifstream in(csv);
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
  }
  // Only the passes inside the measured window [t0, t1]: Start's first read and
  // Stop's closing read are outside the steady state.
  std::vector<int64_t> periods, dev;
  for (size_t i = 1; i < stamps.size(); ++i) {
    if (stamps[i - 1] < t0_ns || stamps[i] > t1_ns) continue;
    periods.push_back(stamps[i] - stamps[i - 1]);
  }
  const int64_t period_ns = period_us * 1000;
  int64_t late_2x = 0;
  for (int64_t p : periods) {
    dev.push_back(std::llabs(p - period_ns));
    if (p >= 2 * period_ns) ++late_2x;
  }
  std::sort(dev.begin(), dev.end());

  const double window_s = static_cast<double>(t1_ns - t0_ns) * 1e-9;
  int64_t run_ns = 0;
  fmt::print("sampler_tool: {} powercap domains under {}{}, period {} us, {:.3f} s measured\n",
             names.size(), sysfs.string(), fake ? " (fake tree, advanced every 1 ms)" : "",
             period_us, window_s);
  for (size_t i = 0; i < tids.size(); ++i) {
    const int64_t d = cpu1[i].run_ns - cpu0[i].run_ns;
    run_ns += d;
    fmt::print("  thread {} ({}): cpu {:.1f} ms = {:.3f} % of one core; switches {} voluntary, "
               "{} involuntary\n",
               tids[i], i == 0 ? "writer" : "sampling", d / 1e6, 100.0 * d / (t1_ns - t0_ns),
               cpu1[i].voluntary - cpu0[i].voluntary, cpu1[i].involuntary - cpu0[i].involuntary);
  }
  const auto tv_ns = [](const timeval& tv) {
    return int64_t{tv.tv_sec} * 1'000'000'000 + int64_t{tv.tv_usec} * 1000;
  };
  const int64_t proc_ns = tv_ns(ru1.ru_utime) + tv_ns(ru1.ru_stime) - tv_ns(ru0.ru_utime) -
                          tv_ns(ru0.ru_stime);
  fmt::print("cpu_sampler_pct_of_one_core: {:.3f}\n", 100.0 * run_ns / (t1_ns - t0_ns));
  fmt::print("cpu_process_pct_of_one_core (incl. the fake-counter advancer): {:.3f}\n",
             100.0 * proc_ns / (t1_ns - t0_ns));
  int64_t sum_ns = 0;
  for (int64_t p : periods) sum_ns += p;
  const double rate_hz = sum_ns > 0 ? static_cast<double>(periods.size()) * 1e9 / sum_ns : 0.0;
  fmt::print("passes_in_window: {}  achieved_rate_hz: {:.1f}\n", periods.size() + 1, rate_hz);
  fmt::print("jitter_us |period - {} us|: p50 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}\n",
             period_us, Us(Percentile(dev, 50)), Us(Percentile(dev, 99)),
             Us(Percentile(dev, 99.9)), Us(dev.empty() ? 0 : dev.back()));
  fmt::print("periods_at_least_2x: {}  overruns: {}  fast_samples: {}  rows_written: {}\n",
             late_2x, result.fast_overruns, result.fast_samples, result.rows_written);
  fmt::print("diagnostics:{}\n", result.diagnostics.empty() ? " none" : "");
  for (const auto& [name, n] : result.diagnostics.counts()) fmt::print("  {} {}\n", name, n);
  for (const std::string& w : result.diagnostics.warnings()) fmt::print("  {}\n", w);

  fmt::print("breakdown: one session Read() (6 preads + unwrap) {:.2f} us of CPU back to back; "
             "a bare {} us absolute-deadline wakeup loop costs {:.3f} % of one core\n",
             read_us, period_us, floor_pct);

  if (keep) fmt::print("kept {}\n", work.string());
  else fs::remove_all(work);
  return 0;
}
