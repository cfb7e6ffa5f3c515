// `smaragdine record` end to end over a fake RAPL powercap tree: the binary samples
// energy_uj files that a test thread advances while CMD runs, so what was recorded can be
// checked against what was written (measured counters, wraps, a counter that breaks).
// /dev points at an empty directory and NVML at a missing file, so only powercap (and
// the model, which it outranks) can be chosen even on a machine with real counters.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "record_fake/fake_rapl_util.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::CounterFeeder;
using testing::FakeRaplTree;
using testing::MonoNowNs;
using testing::RealNowNs;
using testing::TempDir;

constexpr uint64_t kPackageStepUj = 20'000;  // 20 mJ per ~1 ms update: ~20 W
constexpr uint64_t kDramStepUj = 5'000;      // 5 mJ: ~5 W

struct CsvRow {
  int64_t t_ns;
  std::string domain;
  double energy_j;
};

struct TraceOp {
  std::string name;
  int64_t start_real_ns, end_real_ns;
};

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

class RecordFakeRaplTest : public ::testing::Test {
 protected:
  void SetUp() override { run_ = tmp_.path() + "/run"; }

  // Zones as a one-package machine shows them: package-0 and its dram subzone.
  void AddPackageAndDram(uint64_t package_range_uj = testing::kDefaultRangeUj,
                         uint64_t package_start_uj = 100'000'000'000) {
    package_path_ = tree_.AddZone("intel-rapl:0", "package-0", package_start_uj, package_range_uj);
    package_start_uj_ = package_start_uj;
    package_range_uj_ = package_range_uj;
    dram_path_ = tree_.AddZone("intel-rapl:0:1", "dram", kDramStartUj);
  }
  std::unique_ptr<CounterFeeder> MakeFeeder(uint64_t package_step_uj) {
    return std::make_unique<CounterFeeder>(std::vector<CounterFeeder::Zone>{
        {package_path_, package_start_uj_, package_step_uj, package_range_uj_},
        {dram_path_, kDramStartUj, kDramStepUj, testing::kDefaultRangeUj}});
  }

  std::vector<std::string> Record(const std::vector<std::string>& cmd,
                                  const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> a = {SMARAGDINE_BINARY, "record",         "-o",
                                  run_,              "--sysfs-root",   tree_.SysfsRoot(),
                                  "--dev-root",      tree_.EmptyRoot(), "--nvml-library",
                                  "/nonexistent/libnvidia-ml.so.1"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back("--");
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
  }

  std::vector<CsvRow> ReadCsv() const {
    std::ifstream in(run_ + "/energy.csv");
    std::vector<CsvRow> rows;
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream ss(line);
      for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
      if (f.size() < 3 || f[2].empty()) continue;  // a power-only row
      rows.push_back({std::stoll(f[0]), f[1], std::stod(f[2])});
    }
    return rows;
  }
  static std::vector<CsvRow> RowsOf(const std::vector<CsvRow>& rows, const std::string& d) {
    std::vector<CsvRow> out;
    for (const CsvRow& r : rows)
      if (r.domain == d) out.push_back(r);
    return out;
  }

  // A Kineto-style trace (PyTorch < 2.4: epoch µs timestamps) of CPU ops on this process.
  std::string WriteTrace(const std::vector<TraceOp>& ops) const {
    const std::string path = tmp_.path() + "/trace.json";
    std::string events;
    const int pid = static_cast<int>(getpid());
    for (const TraceOp& op : ops) {
      if (!events.empty()) events += ",\n";
      events += fmt::format(
          R"({{"ph": "X", "cat": "cpu_op", "name": "{}", "pid": {}, "tid": {}, "ts": {}, )"
          R"("dur": {}, "args": {{}}}})",
          op.name, pid, pid, op.start_real_ns / 1000,
          (op.end_real_ns - op.start_real_ns) / 1000);
    }
    std::ofstream(path) << "{\"schemaVersion\": 1, \"traceEvents\": [\n" << events << "\n]}\n";
    return path;
  }

  // account + report over the run; returns report's output.
  testing::Ran AccountAndReport(const std::string& trace) const {
    const std::string profile = tmp_.path() + "/profile.json";
    testing::Ran acc = testing::Run(
        {SMARAGDINE_BINARY, "account", "--energy", run_, "--trace", trace, "-o", profile},
        tmp_.path());
    EXPECT_EQ(acc.status, 0) << acc.err << acc.out;
    if (acc.status != 0) return acc;
    return testing::Run({SMARAGDINE_BINARY, "report", profile}, tmp_.path());
  }

  static size_t IndexOf(const EnergyLog& log, const std::string& domain) {
    for (size_t i = 0; i < log.domains.size(); ++i)
      if (log.domains[i].name == domain) return i;
    ADD_FAILURE() << "no domain " << domain;
    return 0;
  }

  static constexpr uint64_t kDramStartUj = 50'000'000'000;
  FakeRaplTree tree_;
  TempDir tmp_;
  std::string run_, package_path_, dram_path_;
  uint64_t package_start_uj_ = 0, package_range_uj_ = 0;
};

TEST_F(RecordFakeRaplTest, MeasuredCountersGiveTheJoulesWrittenAndAccountIsNotModeled) {
  AddPackageAndDram();
  auto feeder = MakeFeeder(kPackageStepUj);
  feeder->Start();
  testing::Spawned p = testing::Spawn(Record({"/bin/sh", "-c", "sleep 0.4"}), tmp_.path());
  ASSERT_GT(p.pid, 0);
  ASSERT_TRUE(testing::WaitForFile(run_ + "/run.json", std::chrono::seconds(5)));
  // Two ops inside the run, stamped with the realtime clock as Kineto does.
  const int64_t r0 = RealNowNs();
  SleepMs(100);
  const int64_t r1 = RealNowNs();
  SleepMs(100);
  const int64_t r2 = RealNowNs();
  const int status = testing::Wait(p.pid);
  feeder->Stop();
  const std::string err = testing::ReadText(p.err_path);
  ASSERT_EQ(status, 0) << err;

  auto log = ReadEnergy(run_, EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_EQ(log->domains.size(), 2u);
  const std::vector<CsvRow> rows = ReadCsv();
  const struct {
    const char* name;
    size_t feeder_index;
    uint64_t step_uj;
  } expected[] = {{"cpu:0/package", 0, kPackageStepUj}, {"cpu:0/dram", 1, kDramStepUj}};
  for (const auto& e : expected) {
    SCOPED_TRACE(e.name);
    const size_t d = IndexOf(*log, e.name);
    EXPECT_EQ(log->domains[d].source, "rapl-powercap");
    EXPECT_FALSE(log->domains[d].modeled);
    EXPECT_EQ(log->domains[d].device, "CPU:0");
    // ~1 kHz over the 0.4 s command (and the moments before it): loosely.
    EXPECT_GE(RowsOf(rows, e.name).size(), 150u);
    // The recorded joules are what the feeder wrote between the first and last reading,
    // give or take one update at each end (a read races the write next to it).
    const EnergySeries& s = log->series[d];
    ASSERT_FALSE(s.empty());
    const double written_j = (static_cast<double>(feeder->WrittenUjAt(e.feeder_index, s.EndNs())) -
                              static_cast<double>(feeder->WrittenUjAt(e.feeder_index, s.StartNs()))) *
                             1e-6;
    EXPECT_GT(written_j, 100 * e.step_uj * 1e-6);  // the feeder kept up at all
    EXPECT_NEAR(s.TotalJ(), written_j, 2.5 * e.step_uj * 1e-6);
  }
  EXPECT_THAT(err, HasSubstr("from rapl-powercap (measured)"));
  EXPECT_THAT(err, Not(HasSubstr("MODELED")));

  const std::string trace = WriteTrace({{"aten::mm", r0, r1}, {"aten::add", r1, r2}});
  testing::Ran rep = AccountAndReport(trace);
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_THAT(rep.out, HasSubstr("aten::mm"));
  EXPECT_THAT(rep.out, HasSubstr("aten::add"));
  EXPECT_THAT(rep.out, Not(HasSubstr("MODELED")));
}

TEST_F(RecordFakeRaplTest, CounterThatWrapsDuringTheRunIsUnwrapped) {
  // A 100 J range, 1 J per update (~1 kW): the package counter wraps every ~0.1 s. The
  // range still allows 100 J / 2 kW = 50 ms between readings, far above the 1 ms period.
  constexpr uint64_t kRangeUj = 100'000'000;
  constexpr uint64_t kStepUj = 1'000'000;
  AddPackageAndDram(kRangeUj, /*package_start_uj=*/kRangeUj - 3 * kStepUj);
  auto feeder = MakeFeeder(kStepUj);
  feeder->Start();
  testing::Ran r = testing::Run(Record({"/bin/sh", "-c", "sleep 0.4"}), tmp_.path());
  feeder->Stop();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("sources.counter_wrapped"));
  EXPECT_THAT(r.err, Not(HasSubstr("sources.interval_too_long")));

  // The recorded cumulative energy never goes down, though the file did.
  const std::vector<CsvRow> pkg = RowsOf(ReadCsv(), "cpu:0/package");
  ASSERT_GE(pkg.size(), 150u);
  for (size_t i = 1; i < pkg.size(); ++i)
    ASSERT_GE(pkg[i].energy_j, pkg[i - 1].energy_j) << "row " << i << " at " << pkg[i].t_ns;

  auto log = ReadEnergy(run_, EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  const EnergySeries& s = log->series[IndexOf(*log, "cpu:0/package")];
  ASSERT_FALSE(s.empty());
  const double written_j = (static_cast<double>(feeder->WrittenUjAt(0, s.EndNs())) -
                            static_cast<double>(feeder->WrittenUjAt(0, s.StartNs()))) *
                           1e-6;
  EXPECT_GT(written_j, 2.0 * kRangeUj * 1e-6);  // it wrapped at least twice while recorded
  EXPECT_NEAR(s.TotalJ(), written_j, 2.5 * kStepUj * 1e-6);
}

TEST_F(RecordFakeRaplTest, CounterThatTurnsUnreadableStopsItsDomainOnly) {
  AddPackageAndDram();
  auto feeder = MakeFeeder(kPackageStepUj);
  feeder->Start();
  testing::Spawned p = testing::Spawn(Record({"/bin/sh", "-c", "sleep 0.4"}), tmp_.path());
  ASSERT_GT(p.pid, 0);
  ASSERT_TRUE(testing::WaitForFile(run_ + "/run.json", std::chrono::seconds(5)));
  const int64_t r0 = RealNowNs();
  SleepMs(150);
  const int64_t r1 = RealNowNs();
  const int64_t garbled_ns = feeder->Garble(1);  // dram
  SleepMs(100);
  const int64_t r2 = RealNowNs();
  const int status = testing::Wait(p.pid);
  feeder->Stop();
  const std::string err = testing::ReadText(p.err_path);
  ASSERT_EQ(status, 0) << err;
  EXPECT_THAT(err, HasSubstr("sources.read_failed"));
  EXPECT_THAT(err, HasSubstr("cpu:0/dram: reading " + dram_path_ + " failed"));
  EXPECT_THAT(err, HasSubstr("the domain stops here"));
  EXPECT_THAT(err, HasSubstr("cpu:0/dram STOPPED"));

  const std::vector<CsvRow> rows = ReadCsv();
  const std::vector<CsvRow> dram = RowsOf(rows, "cpu:0/dram");
  const std::vector<CsvRow> pkg = RowsOf(rows, "cpu:0/package");
  ASSERT_GE(dram.size(), 50u);
  ASSERT_FALSE(pkg.empty());
  // No dram reading after the change (a read just before it may be stamped a moment late).
  EXPECT_LT(dram.back().t_ns, garbled_ns + 20'000'000);
  // The package goes on to the end of the run: past the change by the ~0.25 s left.
  EXPECT_GT(pkg.back().t_ns, garbled_ns + 150'000'000);
  auto log = ReadEnergy(run_, EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_TRUE(log->ended_ns.has_value());
  EXPECT_GT(pkg.back().t_ns, *log->ended_ns - 50'000'000);
  // run.json marks the domain that stopped, when and why; the package has no marker.
  const DomainInfo& dram_info = log->domains[IndexOf(*log, "cpu:0/dram")];
  ASSERT_TRUE(dram_info.stopped_ns.has_value());
  EXPECT_GT(*dram_info.stopped_ns, dram.back().t_ns);
  EXPECT_LT(*dram_info.stopped_ns, garbled_ns + 20'000'000);
  EXPECT_THAT(dram_info.stopped_reason, HasSubstr("reading " + dram_path_ + " failed"));
  EXPECT_FALSE(log->domains[IndexOf(*log, "cpu:0/package")].stopped_ns.has_value());

  const std::string trace = WriteTrace({{"aten::mm", r0, r1}, {"aten::add", r1, r2}});
  testing::Ran rep = AccountAndReport(trace);
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_THAT(rep.out, HasSubstr("aten::mm"));
  EXPECT_THAT(rep.out, HasSubstr("aten::add"));
  // account warns about the stopped domain, naming it and when it stopped.
  testing::Ran acc = testing::Run({SMARAGDINE_BINARY, "account", "--energy", run_, "--trace",
                                   trace, "-o", tmp_.path() + "/profile2.json"},
                                  tmp_.path());
  ASSERT_EQ(acc.status, 0) << acc.err;
  EXPECT_THAT(acc.err, HasSubstr("domain cpu:0/dram stopped "));
  EXPECT_THAT(acc.err, HasSubstr("s into the run (reading " + dram_path_ + " failed"));
  EXPECT_THAT(acc.err, HasSubstr("account.domain_stopped"));
}

TEST_F(RecordFakeRaplTest, SourceFlagPicksTheSourceInRunJson) {
  AddPackageAndDram();
  {
    testing::Ran r =
        testing::Run(Record({"/bin/sh", "-c", "sleep 0.05"}, {"--source", "rapl-powercap"}),
                     tmp_.path());
    ASSERT_EQ(r.status, 0) << r.err;
    auto log = ReadEnergy(run_, EnergyImportOptions{});
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    ASSERT_EQ(log->domains.size(), 2u);
    for (const DomainInfo& d : log->domains) {
      EXPECT_EQ(d.source, "rapl-powercap") << d.name;
      EXPECT_FALSE(d.modeled) << d.name;
    }
    EXPECT_THAT(testing::ReadText(run_ + "/run.json"), HasSubstr("\"rapl-powercap\""));
  }
  {
    // The same run directory again: --force replaces the first run's files.
    testing::Ran r = testing::Run(
        Record({"/bin/sh", "-c", "sleep 0.05"}, {"--source", "model", "--force"}), tmp_.path());
    ASSERT_EQ(r.status, 0) << r.err;
    auto log = ReadEnergy(run_, EnergyImportOptions{});
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    const DomainInfo& pkg = log->domains[IndexOf(*log, "cpu:0/package")];
    EXPECT_EQ(pkg.source, "model");
    EXPECT_TRUE(pkg.modeled);
    EXPECT_THAT(r.err, HasSubstr("MODELED"));
    // The model stands for the whole CPU: the measurable dram beside it is left out
    // (both would count memory's energy twice), and record says so.
    ASSERT_EQ(log->domains.size(), 1u);
    EXPECT_THAT(r.err, HasSubstr("--source model: cpu:0/dram (rapl-powercap) is measurable but "
                                 "left out of the run"));
  }
}

// Process share end to end: CMD burns CPU while a busy process outside its tree runs
// too; account gives the measured CPU domains' energy partly to (other processes), in
// about the proportion cputime.csv recorded.
TEST_F(RecordFakeRaplTest, OtherProcessesGetTheirCpuTimeShareOfMeasuredEnergy) {
  AddPackageAndDram();
  auto feeder = MakeFeeder(kPackageStepUj);
  feeder->Start();
  // The outsider: busy until killed.
  const std::string outsider_dir = tmp_.path() + "/outsider";
  std::filesystem::create_directories(outsider_dir);
  testing::Spawned outsider =
      testing::Spawn({"/usr/bin/python3", "-c", "while True: pass"}, outsider_dir);
  ASSERT_GT(outsider.pid, 0);
  const int64_t r0 = RealNowNs();
  testing::Ran r = testing::Run(
      Record({"/usr/bin/python3", "-c", "import time\nwhile time.process_time() < 0.5: pass"}),
      tmp_.path());
  const int64_t r1 = RealNowNs();
  ::kill(outsider.pid, SIGKILL);
  testing::Wait(outsider.pid);
  feeder->Stop();
  ASSERT_EQ(r.status, 0) << r.err;

  auto log = ReadEnergy(run_, EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  const CpuTimeLog& c = log->cpu_time;
  ASSERT_FALSE(c.empty());
  const double tree_fraction =
      static_cast<double>(c.tree_ns.back()) / static_cast<double>(c.machine_busy_ns.back());
  ASSERT_GT(c.tree_ns.back(), 400'000'000) << "CMD burnt its 0.5 s of CPU";
  ASSERT_LT(tree_fraction, 0.9) << "the outsider was busy too";

  // One op over the whole run, so the window is the run.
  const std::string trace = WriteTrace({{"burn", r0, r1}});
  const std::string profile_path = tmp_.path() + "/profile.json";
  testing::Ran acc = testing::Run({SMARAGDINE_BINARY, "account", "--energy", run_, "--trace",
                                   trace, "-o", profile_path},
                                  tmp_.path());
  ASSERT_EQ(acc.status, 0) << acc.err << acc.out;
  EXPECT_THAT(acc.out, HasSubstr("to other processes"));
  auto p = ReadProfileJson(profile_path);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  for (const ProfileDomain& d : p->domains) {
    SCOPED_TRACE(d.name);
    ASSERT_GT(d.measured_j, 0);
    EXPECT_GT(d.other_j, 0);
    EXPECT_NE(d.share, "");
    // Energy-weighted per-interval shares vs. the run's overall CPU split: close, not
    // equal (the load of the machine changes from one 100 ms interval to the next).
    EXPECT_NEAR(d.other_j / d.measured_j, 1 - tree_fraction, 0.2);
    double nodes = 0;
    for (const ProfileNode& n : p->nodes) nodes += n.self_j[&d - p->domains.data()];
    EXPECT_NEAR(nodes + d.idle_j + d.other_j, d.measured_j, 1e-9 * d.measured_j);
  }
  testing::Ran rep = testing::Run({SMARAGDINE_BINARY, "report", profile_path}, tmp_.path());
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_THAT(rep.out, HasSubstr("(other processes) cpu:0/package"));

  // --process-share off: everything to the op and (idle), as before.
  testing::Ran off = testing::Run({SMARAGDINE_BINARY, "account", "--energy", run_, "--trace",
                                   trace, "--process-share", "off", "-o", profile_path},
                                  tmp_.path());
  ASSERT_EQ(off.status, 0) << off.err;
  p = ReadProfileJson(profile_path);
  ASSERT_TRUE(p.ok());
  for (const ProfileDomain& d : p->domains) EXPECT_EQ(d.other_j, 0) << d.name;
}

// A job's DataLoader workers end to end: a launcher starts two ranks; rank 0
// hands its work to a child process (a worker's stand-in) that burns 0.8 s of
// CPU while the rank waits, rank 1 burns 0.2 s itself. record writes who
// started whom, and account gives the worker's CPU time to rank 0: rank 0's
// share of the package is the larger, where without parents (the worker
// counted with the launcher, spread over both ranks) rank 1's would be.
TEST_F(RecordFakeRaplTest, ARanksWorkerProcessCountsWithTheRankThatStartedIt) {
  AddPackageAndDram();
  auto feeder = MakeFeeder(kPackageStepUj);
  feeder->Start();
  const std::string launcher = tmp_.path() + "/launch.py";
  std::ofstream(launcher) << R"(import os, subprocess, sys
out = sys.argv[1]
rank_code = r"""
import os, subprocess, sys, time
rank = int(os.environ["RANK"])
with open(os.path.join(sys.argv[1], "rank%d.pid" % rank), "w") as f:
    f.write(str(os.getpid()))
if rank == 0:
    subprocess.run([sys.executable, "-c",
                    "import time\nwhile time.process_time() < 0.8: pass"], check=True)
else:
    while time.process_time() < 0.2: pass
"""
ranks = [subprocess.Popen([sys.executable, "-c", rank_code, out],
                          env=dict(os.environ, RANK=str(r), WORLD_SIZE="2")) for r in range(2)]
sys.exit(max(p.wait() for p in ranks))
)";
  const int64_t r0 = RealNowNs();
  testing::Ran r = testing::Run(Record({"/usr/bin/python3", launcher, tmp_.path()}), tmp_.path());
  const int64_t r1 = RealNowNs();
  feeder->Stop();
  ASSERT_EQ(r.status, 0) << r.err;
  int pids[2] = {};
  for (int rank = 0; rank < 2; ++rank)
    pids[rank] = std::stoi(testing::ReadText(fmt::format("{}/rank{}.pid", tmp_.path(), rank)));

  // The worker is a child of rank 0: cputime.csv says so, and the reader keeps it.
  auto log = ReadEnergy(run_, EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  const CpuTimeLog& c = log->cpu_time;
  auto worker = std::find_if(c.processes.begin(), c.processes.end(),
                             [&](const CpuTimeLog::Process& p) { return p.parent_pid == pids[0]; });
  ASSERT_NE(worker, c.processes.end()) << testing::ReadText(run_ + "/cputime.csv");
  EXPECT_GT(worker->cpu_ns.back(), 600'000'000) << "the worker burnt its 0.8 s";
  ASSERT_NE(c.FindProcess(pids[1]), nullptr);
  EXPECT_EQ(c.FindProcess(pids[0])->parent_pid, c.FindProcess(pids[1])->parent_pid)
      << "both ranks are the launcher's";
  EXPECT_THAT(testing::ReadText(run_ + "/cputime.csv"),
              HasSubstr(fmt::format(",parent:{},{}\n", worker->pid, pids[0])));

  // Each rank's trace: one op over the whole run on its own thread.
  std::vector<std::string> account = {SMARAGDINE_BINARY, "account", "--energy", run_, "--trace"};
  for (int rank = 0; rank < 2; ++rank) {
    const std::string path = fmt::format("{}/rank{}.trace.json", tmp_.path(), rank);
    std::ofstream(path) << fmt::format(
        R"({{"schemaVersion": 1, "distributedInfo": {{"backend": "gloo", "rank": {}, )"
        R"("world_size": 2, "local_rank": {}}}, "traceEvents": [)"
        R"({{"ph": "X", "cat": "cpu_op", "name": "step", "pid": {}, "tid": {}, "ts": {}, )"
        R"("dur": {}, "args": {{}}}}]}})",
        rank, rank, pids[rank], pids[rank], r0 / 1000, (r1 - r0) / 1000);
    account.push_back(path);
  }
  const std::string profile_path = tmp_.path() + "/profile.json";
  account.insert(account.end(), {"--method", "proportional", "-o", profile_path});
  // Each rank's share of each CPU domain's measured energy, checking conservation.
  auto rank_shares = [&]() {
    std::vector<std::pair<double, double>> shares;
    testing::Ran acc = testing::Run(account, tmp_.path());
    EXPECT_EQ(acc.status, 0) << acc.err << acc.out;
    auto p = ReadProfileJson(profile_path);
    EXPECT_TRUE(p.ok()) << p.error().ToString();
    if (acc.status != 0 || !p.ok() || p->processes.size() != 2) return shares;
    size_t of_rank[2] = {};
    for (size_t i = 0; i < 2; ++i) of_rank[p->processes[i].rank] = i;
    const size_t nd = p->domains.size();
    for (size_t d = 0; d < nd; ++d) {
      const ProfileDomain& dom = p->domains[d];
      const double rank0_j = p->nodes[0].process_total_j[of_rank[0] * nd + d];
      const double rank1_j = p->nodes[0].process_total_j[of_rank[1] * nd + d];
      EXPECT_NEAR(rank0_j + rank1_j + dom.idle_j + dom.other_j, dom.measured_j,
                  1e-9 * dom.measured_j)
          << dom.name;
      shares.emplace_back(rank0_j / dom.measured_j, rank1_j / dom.measured_j);
    }
    return shares;
  };
  const auto with_parents = rank_shares();
  ASSERT_EQ(with_parents.size(), 2u);  // package and dram
  // The same run as a file without parent rows reads as before this change.
  const std::string csv = testing::ReadText(run_ + "/cputime.csv");
  std::string old_csv;
  for (size_t pos = 0; pos < csv.size();) {
    const size_t nl = csv.find('\n', pos);
    const std::string line = csv.substr(pos, nl + 1 - pos);
    if (line.find(",parent:") == std::string::npos) old_csv += line;
    pos = nl + 1;
  }
  std::ofstream(run_ + "/cputime.csv") << old_csv;
  const auto without_parents = rank_shares();
  ASSERT_EQ(without_parents.size(), 2u);
  for (size_t d = 0; d < 2; ++d) {
    const auto [rank0, rank1] = with_parents[d];
    const auto [rank0_before, rank1_before] = without_parents[d];
    SCOPED_TRACE(fmt::format("domain {}: ranks' shares {:.3f} {:.3f}, without parents {:.3f} {:.3f}",
                             d, rank0, rank1, rank0_before, rank1_before));
    // Rank 0 with its worker used about 4 times rank 1's CPU time.
    EXPECT_GT(rank0, 2 * rank1);
    EXPECT_GT(rank1, 0);
    // Without parents the worker was the rest's, spread over both ranks' operators.
    EXPECT_GT(rank0, 1.3 * rank0_before);
    EXPECT_LT(rank0_before, 1.5 * rank1_before);
  }
}

}  // namespace
}  // namespace smaragdine
