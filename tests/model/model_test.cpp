// The CPU-time model: a fake /proc tree with schedstat as the kernel prints it, and the real /proc.
#include "energy/sources/model.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ctime>

namespace smaragdine {
namespace {

namespace fs = std::filesystem;

// A fake procfs: <root>/<pid>/task/<tid>/{schedstat,children}.
class FakeProc {
 public:
  explicit FakeProc(const std::string& name)
      : root_(fs::path(::testing::TempDir()) / ("smg_model_" + name + std::to_string(getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~FakeProc() { fs::remove_all(root_); }
  std::string root() const { return root_.string(); }

  // Sets a thread's CPU time; the kernel prints "<run ns> <wait ns> <slices>\n".
  void Thread(int pid, int tid, int64_t cpu_ns, const std::string& children = "",
              bool children_file = true) {
    fs::path dir = root_ / std::to_string(pid) / "task" / std::to_string(tid);
    fs::create_directories(dir);
    Write(dir / "schedstat", std::to_string(cpu_ns) + " 29247600 86\n");
    if (children_file) {
      Write(dir / "children", children);
    } else {
      fs::remove(dir / "children");
    }
    if (pid == tid) Write(root_ / std::to_string(pid) / "schedstat", std::to_string(cpu_ns) + " 0 1\n");
  }
  void Stat(int pid, const std::string& comm, int ppid) {
    Write(root_ / std::to_string(pid) / "stat",
          std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) + " 1 1 0 -1 4194560\n");
  }
  void RemoveThread(int pid, int tid) {
    fs::remove_all(root_ / std::to_string(pid) / "task" / std::to_string(tid));
  }
  void RemoveProcess(int pid) { fs::remove_all(root_ / std::to_string(pid)); }

 private:
  static void Write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
  fs::path root_;
};

TEST(ProcessTreeCpuTimeTest, SumsEveryThreadOfEveryProcessInTheTree) {
  FakeProc proc("sum");
  proc.Thread(100, 100, 5'000'000, "101 103 ");
  proc.Thread(100, 102, 2'000'000);
  proc.Thread(101, 101, 1'000'000);
  proc.Thread(101, 104, 500'000);
  proc.Thread(103, 103, 250'000);
  proc.Thread(200, 200, 9'999'999'999);  // not in the tree
  ProcessTreeCpuTime tree(proc.root(), 100);
  EXPECT_EQ(tree.SampleNs(), 8'750'000);
  EXPECT_EQ(tree.live_threads(), 5u);
  EXPECT_FALSE(tree.scanned_stat());
  proc.Thread(101, 104, 1'500'000);  // a thread runs for 1 ms more
  EXPECT_EQ(tree.SampleNs(), 9'750'000);
}

TEST(ProcessTreeCpuTimeTest, ExitedThreadsAndProcessesKeepTheirLastCpuTime) {
  FakeProc proc("exit");
  proc.Thread(100, 100, 5'000'000, "101");
  proc.Thread(100, 102, 2'000'000);
  proc.Thread(101, 101, 1'000'000);
  ProcessTreeCpuTime tree(proc.root(), 100);
  EXPECT_EQ(tree.SampleNs(), 8'000'000);
  proc.RemoveThread(100, 102);
  EXPECT_EQ(tree.SampleNs(), 8'000'000);
  proc.RemoveProcess(101);
  proc.Thread(100, 100, 6'000'000, "");  // the child is reaped, the parent ran 1 ms more
  EXPECT_EQ(tree.SampleNs(), 9'000'000);
  EXPECT_EQ(tree.live_threads(), 1u);
  proc.RemoveProcess(100);  // the whole tree is gone: time stays
  EXPECT_EQ(tree.SampleNs(), 9'000'000);
}

TEST(ProcessTreeCpuTimeTest, ReusedThreadIdCountsTheOldAndTheNewThread) {
  FakeProc proc("reuse");
  proc.Thread(100, 100, 1'000'000);
  proc.Thread(100, 105, 4'000'000);
  ProcessTreeCpuTime tree(proc.root(), 100);
  EXPECT_EQ(tree.SampleNs(), 5'000'000);
  proc.Thread(100, 105, 300'000);  // tid 105 exited and a new 105 started between samples
  Diagnostics diag;
  EXPECT_EQ(tree.SampleNs(&diag), 5'300'000);
  EXPECT_EQ(diag.Count("model.tid_reused"), 1);
}

TEST(ProcessTreeCpuTimeTest, WithoutChildrenFilesTheTreeComesFromStatParents) {
  FakeProc proc("stat");
  proc.Thread(100, 100, 5'000'000, "", false);
  proc.Thread(101, 101, 1'000'000, "", false);
  proc.Thread(102, 102, 7'000'000, "", false);
  proc.Stat(100, "python3", 1);
  proc.Stat(101, "a) S 1 (b", 100);  // comm may hold spaces and ')': the ppid is still 100
  proc.Stat(102, "other", 1);
  ProcessTreeCpuTime tree(proc.root(), 100);
  EXPECT_EQ(tree.SampleNs(), 6'000'000);
  EXPECT_TRUE(tree.scanned_stat());
}

TEST(ProcessTreeCpuTimeTest, TotalNeverDecreasesWhileThreadsComeAndGo) {
  FakeProc proc("random");
  std::mt19937 rng(42);
  std::vector<int64_t> cpu(8, 0);
  std::vector<bool> alive(8, false);
  proc.Thread(100, 100, 0);
  ProcessTreeCpuTime tree(proc.root(), 100);
  int64_t last = tree.SampleNs();
  for (int step = 0; step < 200; ++step) {
    int t = static_cast<int>(rng() % 8);
    const int tid = 101 + t;
    if (alive[t] && rng() % 4 == 0) {
      proc.RemoveThread(100, tid);
      alive[t] = false;
    } else {
      cpu[t] += rng() % 1'000'000;
      proc.Thread(100, tid, cpu[t]);
      alive[t] = true;
    }
    int64_t now = tree.SampleNs();
    ASSERT_GE(now, last) << "step " << step;
    last = now;
  }
}

TEST(ModelSourceTest, EnergyIsIdlePowerPlusCorePowerTimesCpuTime) {
  FakeProc proc("energy");
  proc.Thread(100, 100, 1'000'000'000, "101");
  proc.Thread(101, 101, 0);
  SourceOptions o;
  o.roots.proc = proc.root();
  o.model_pid = 100;
  o.model_core_w = 15;
  o.model_idle_w = 10;
  int64_t now_ns = 5'000'000'000;
  auto source = MakeModelSource(o, [&] { return now_ns; });
  EXPECT_EQ(source->Name(), "model");
  EXPECT_EQ(source->Preference(), 100);
  EXPECT_EQ(source->Rate(), RateClass::kSlow);
  auto session = source->Open({"cpu:0/package"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  const DomainInfo& info = (*session)->domains().at(0);
  EXPECT_EQ(info.name, "cpu:0/package");
  EXPECT_EQ(info.source, "model");
  EXPECT_TRUE(info.modeled);
  EXPECT_EQ(info.quantity, Quantity::kEnergy);
  Diagnostics diag;
  std::vector<double> v;
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v.at(0), 0.0) << "CPU time before Open does not count";
  // One second later, the two processes ran 0.25 s + 0.25 s: 10 W × 1 s + 15 W × 0.5 s.
  now_ns += 1'000'000'000;
  proc.Thread(100, 100, 1'250'000'000, "101");
  proc.Thread(101, 101, 250'000'000);
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v.at(0), 17.5);
  // The child exits: its CPU time stays; energy does not go back.
  proc.RemoveProcess(101);
  proc.Thread(100, 100, 1'250'000'000, "");
  now_ns += 100'000'000;
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v.at(0), 18.5);
}

TEST(ModelSourceTest, ProbeSaysItIsAModelAndOnlyOffersCpuPackage) {
  FakeProc proc("probe");
  proc.Thread(100, 100, 1);
  SourceOptions o;
  o.roots.proc = proc.root();
  o.model_pid = 100;
  auto probes = MakeModelSource(o)->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_TRUE(probes[0].readable);
  EXPECT_TRUE(probes[0].info.modeled);
  EXPECT_EQ(probes[0].info.name, "cpu:0/package");
  EXPECT_NE(probes[0].reason.find("a model, not a measurement"), std::string::npos);
  EXPECT_FALSE(MakeModelSource(o)->Open({"cpu:1/package"}).ok());
  EXPECT_FALSE(MakeModelSource(o)->Open({"gpu:0"}).ok());
}

TEST(ModelSourceTest, ProcWithoutSchedstatIsUnreadableWithReasonAndFix) {
  FakeProc proc("noproc");
  SourceOptions o;
  o.roots.proc = proc.root();  // empty: no <proc>/self/schedstat
  auto probes = MakeModelSource(o)->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_NE(probes[0].reason.find("self/schedstat"), std::string::npos) << probes[0].reason;
  EXPECT_NE(probes[0].fix.find("procfs"), std::string::npos);
}

TEST(ModelSourceTest, WithoutAProcessOnlyIdlePowerCounts) {
  SourceOptions o;
  o.model_pid = 0;
  o.model_idle_w = 10;
  int64_t now_ns = 0;
  auto session = MakeModelSource(o, [&] { return now_ns; })->Open({"cpu:0/package"});
  ASSERT_TRUE(session.ok());
  Diagnostics diag;
  std::vector<double> v;
  now_ns = 2'000'000'000;
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v[0], 20.0);
}

// The real /proc, with this test process as the tree: its CPU time grows while it spins.
int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

TEST(ModelRealProcTest, OwnCpuTimeGrowsWhileSpinning) {
  ProcessTreeCpuTime tree("/proc", getpid());
  const int64_t before = tree.SampleNs();
  EXPECT_GE(tree.live_threads(), 1u);
  // Spin until this thread has used 200 ms of CPU (not wall) time, so that a
  // busy machine makes the test slower, never wrong.
  volatile uint64_t x = 0;
  const int64_t thread_start_ns = ThreadCpuNs();
  while (ThreadCpuNs() - thread_start_ns < 200'000'000) x = x + 1;
  const int64_t after = tree.SampleNs();
  // schedstat and the thread clock count the same run time; allow for the
  // scheduler's accounting granularity.
  EXPECT_GT(after - before, 150'000'000) << "CPU ns before " << before << " after " << after;

  SourceOptions o;
  o.model_pid = getpid();
  o.model_idle_w = 0;  // only the CPU term, so the spin alone must show
  o.model_core_w = 10;
  auto session = MakeModelSource(o)->Open({"cpu:0/package"});
  ASSERT_TRUE(session.ok());
  Diagnostics diag;
  std::vector<double> v;
  const int64_t spin_start_ns = ThreadCpuNs();
  while (ThreadCpuNs() - spin_start_ns < 100'000'000) x = x + 1;
  (*session)->Read(v, diag);
  EXPECT_GT(v[0], 10 * 0.075);  // ≥ 75 ms of the 100 ms spin at 10 W
}

}  // namespace
}  // namespace smaragdine
