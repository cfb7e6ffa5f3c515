// cputime.csv (the process share's CPU time) and a run's stopped-domain markers:
// reading, errors, and runs without the file.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/cputime.h"
#include "energy/energy_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_energy::ScratchDir;

constexpr std::string_view kJson =
    R"({"format": "smaragdine-run/1", "domains": [{"name": "cpu:0/package"}]})";
constexpr std::string_view kCsv =
    "t_ns,domain,energy_j,power_w\n"
    "0,cpu:0/package,10,\n"
    "1000000000,cpu:0/package,12,\n";

TEST(CpuTimeCsvTest, SumsTheTreesThreadsAndKeepsTheMachinesBusyTime) {
  CpuTimeLog c;
  Diagnostics diag;
  // Thread 11 exits after t=200 (keeps its 30 ms); 12 appears at t=200 with 5 ms it had
  // used already; rows come only when a thread's time changed.
  Status s = ParseCpuTimeCsv("cputime.csv",
                             "t_ns,thread,cpu_ns\n"
                             "100,machine,1000000000\n"
                             "100,10/10,1000000\n"
                             "100,10/11,0\n"
                             "200,machine,1040000000\n"
                             "200,10/11,30000000\n"
                             "200,10/12,5000000\n"
                             "300,machine,1100000000\n"
                             "300,10/10,21000000\n",
                             c, diag);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_THAT(c.t_ns, ElementsAre(100, 200, 300));
  EXPECT_THAT(c.tree_ns, ElementsAre(0, 35'000'000, 55'000'000));
  EXPECT_THAT(c.machine_busy_ns, ElementsAre(0, 40'000'000, 100'000'000));
  EXPECT_EQ(c.threads, 3);
  EXPECT_FALSE(c.empty());
}

TEST(CpuTimeCsvTest, ReusedThreadIdsCountAfreshAndATornLastLineIsDropped) {
  CpuTimeLog c;
  Diagnostics diag;
  Status s = ParseCpuTimeCsv("cputime.csv",
                             "t_ns,thread,cpu_ns\n"
                             "1,machine,0\n"
                             "1,7/8,50\n"
                             "2,machine,100\n"
                             "2,7/8,20\n"  // less than 50: a new thread under the same ids
                             "3,machine,20",  // cut by a kill: no newline
                             c, diag);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_THAT(c.tree_ns, ElementsAre(0, 20));
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(diag.Count("cputime.truncated_last_line"), 1);
}

// Issue 13: each process of the tree on its own (a rank's PID), cumulative
// since the first sample like the tree, kept only where it changed.
TEST(CpuTimeCsvTest, EachProcessKeepsItsOwnCpuTimeAndWhenItWasLastSeen) {
  CpuTimeLog c;
  Diagnostics diag;
  Status s = ParseCpuTimeCsv("cputime.csv",
                             "t_ns,thread,cpu_ns\n"
                             "100,machine,0\n"
                             "100,20/20,4000000\n"   // rank 0, two threads
                             "100,20/21,1000000\n"
                             "100,30/30,2000000\n"   // rank 1
                             "200,machine,90000000\n"
                             "200,20/21,11000000\n"  // +10 ms
                             "200,30/30,32000000\n"  // +30 ms
                             "300,machine,150000000\n"
                             "300,20/20,9000000\n"   // +5 ms; rank 1 used nothing
                             "300,40/40,7000000\n",  // a worker appears with 7 ms
                             c, diag);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_EQ(c.processes.size(), 3u);
  const CpuTimeLog::Process* r0 = c.FindProcess(20);
  const CpuTimeLog::Process* r1 = c.FindProcess(30);
  const CpuTimeLog::Process* worker = c.FindProcess(40);
  ASSERT_TRUE(r0 && r1 && worker);
  EXPECT_EQ(c.FindProcess(25), nullptr);
  EXPECT_THAT((std::vector<int64_t>{r0->CpuNsAt(0), r0->CpuNsAt(1), r0->CpuNsAt(2)}),
              ElementsAre(0, 10'000'000, 15'000'000));
  EXPECT_THAT((std::vector<int64_t>{r1->CpuNsAt(0), r1->CpuNsAt(1), r1->CpuNsAt(2)}),
              ElementsAre(0, 30'000'000, 30'000'000));
  EXPECT_EQ(worker->CpuNsAt(1), 0);
  EXPECT_EQ(worker->CpuNsAt(2), 7'000'000);
  // The processes add up to the tree.
  EXPECT_THAT(c.tree_ns, ElementsAre(0, 40'000'000, 52'000'000));
  EXPECT_EQ(r1->LastSeenNs(c), 200);
  EXPECT_EQ(r0->LastSeenNs(c), 300);
}

TEST(CpuTimeCsvTest, MalformedRowsNameTheFileAndLine) {
  auto error_of = [](std::string_view text) {
    CpuTimeLog c;
    Diagnostics diag;
    Status s = ParseCpuTimeCsv("run/cputime.csv", text, c, diag);
    return s.ok() ? std::string("ok") : s.error().ToString();
  };
  EXPECT_THAT(error_of("t,x\n"), HasSubstr("run/cputime.csv:1: expected the header"));
  EXPECT_THAT(error_of("t_ns,thread,cpu_ns\n5,machine,1\n4,machine,2\n"),
              HasSubstr("run/cputime.csv:3: time goes backwards"));
  EXPECT_THAT(error_of("t_ns,thread,cpu_ns\n5,machine,1\n5,abc,2\n"),
              HasSubstr(":3: thread 'abc' is neither 'machine' nor PID/TID"));
  EXPECT_THAT(error_of("t_ns,thread,cpu_ns\n5,1/1,2\n"),
              HasSubstr(":2: thread row at t_ns 5 does not follow a machine row"));
  EXPECT_THAT(error_of("t_ns,thread,cpu_ns\n5,machine,x\n"), HasSubstr(":2: cpu_ns 'x'"));
  EXPECT_THAT(error_of("t_ns,thread,cpu_ns\n5,machine,1,2\n"), HasSubstr(":2: expected 3 fields"));
}

// A job's processes with their parents: a launcher (10) starts two ranks (20,
// 30); rank 20 starts a DataLoader worker (40), which starts one of its own (41).
constexpr std::string_view kJobWithParents =
    "t_ns,thread,cpu_ns\n"
    "100,machine,0\n"
    "100,10/10,1000000\n"
    "100,parent:20,10\n"
    "100,20/20,4000000\n"
    "100,parent:30,10\n"
    "100,30/30,2000000\n"
    "200,machine,90000000\n"
    "200,parent:40,20\n"
    "200,40/40,7000000\n"
    "200,parent:41,40\n"
    "200,41/41,1000000\n"
    "200,30/30,32000000\n"
    "300,machine,150000000\n"
    "300,40/40,27000000\n";

// The same file as written before parent rows were.
std::string WithoutParentRows(std::string_view text) {
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    const std::string_view line = text.substr(pos, nl + 1 - pos);
    if (line.find(",parent:") == std::string_view::npos) out += line;
    pos = nl + 1;
  }
  return out;
}

TEST(CpuTimeCsvTest, ParentRowsGiveEachProcessTheProcessThatStartedIt) {
  CpuTimeLog c;
  Diagnostics diag;
  Status s = ParseCpuTimeCsv("cputime.csv", kJobWithParents, c, diag);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_EQ(c.processes.size(), 5u);
  auto parent = [&](int64_t pid) {
    const CpuTimeLog::Process* p = c.FindProcess(pid);
    return p ? p->parent_pid : -1;
  };
  EXPECT_EQ(parent(10), 0);  // the recorded command: no parent row
  EXPECT_EQ(parent(20), 10);
  EXPECT_EQ(parent(30), 10);
  EXPECT_EQ(parent(40), 20);
  EXPECT_EQ(parent(41), 40);
  // Parent rows carry no CPU time: the figures are those of the file without them.
  CpuTimeLog old;
  ASSERT_TRUE(ParseCpuTimeCsv("cputime.csv", WithoutParentRows(kJobWithParents), old, diag).ok());
  EXPECT_EQ(c.t_ns, old.t_ns);
  EXPECT_EQ(c.tree_ns, old.tree_ns);
  EXPECT_THAT(c.tree_ns, ElementsAre(0, 38'000'000, 58'000'000));
  EXPECT_EQ(c.threads, old.threads);
  ASSERT_EQ(old.processes.size(), c.processes.size());
  for (size_t i = 0; i < c.processes.size(); ++i) {
    EXPECT_EQ(c.processes[i].pid, old.processes[i].pid);
    EXPECT_EQ(c.processes[i].sample, old.processes[i].sample);
    EXPECT_EQ(c.processes[i].cpu_ns, old.processes[i].cpu_ns);
    EXPECT_EQ(old.processes[i].parent_pid, 0) << "a file without parent rows knows no parent";
  }
  EXPECT_EQ(diag.Count("cputime.parent_changed"), 0);
}

TEST(CpuTimeCsvTest, AReusedPidKeepsItsFirstParentAndSaysSo) {
  CpuTimeLog c;
  Diagnostics diag;
  Status s = ParseCpuTimeCsv("cputime.csv",
                             "t_ns,thread,cpu_ns\n"
                             "1,machine,0\n"
                             "1,parent:40,20\n"
                             "1,40/40,5\n"
                             "2,machine,100\n"
                             "2,parent:40,30\n"  // 40 exited; a child of 30 got its pid
                             "2,40/40,1\n",
                             c, diag);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_NE(c.FindProcess(40), nullptr);
  EXPECT_EQ(c.FindProcess(40)->parent_pid, 20);
  EXPECT_EQ(diag.Count("cputime.parent_changed"), 1);
}

TEST(CpuTimeCsvTest, MalformedParentRowsNameTheFileAndLine) {
  auto error_of = [](std::string_view rows) {
    CpuTimeLog c;
    Diagnostics diag;
    Status s = ParseCpuTimeCsv("run/cputime.csv",
                               std::string("t_ns,thread,cpu_ns\n5,machine,1\n") + std::string(rows),
                               c, diag);
    return s.ok() ? std::string("ok") : s.error().ToString();
  };
  EXPECT_EQ(error_of("5,parent:4,3\n"), "ok");
  EXPECT_THAT(error_of("5,parent:x,3\n"),
              HasSubstr("run/cputime.csv:3: parent row: 'x' is not a process id"));
  EXPECT_THAT(error_of("5,parent:,3\n"), HasSubstr("run/cputime.csv:3: parent row: ''"));
  EXPECT_THAT(error_of("5,parent:0,3\n"), HasSubstr(":3: parent row: '0' is not a process id"));
  EXPECT_THAT(error_of("5,parent:4,abc\n"),
              HasSubstr("run/cputime.csv:3: parent row of process 4: 'abc' is not the process "
                        "id of another process"));
  EXPECT_THAT(error_of("5,parent:4,-1\n"), HasSubstr(":3: parent row of process 4: '-1'"));
  EXPECT_THAT(error_of("5,parent:4,4\n"), HasSubstr(":3: parent row of process 4: '4'"));
  EXPECT_THAT(error_of("5,1/1,0\n6,parent:4,3\n"),
              HasSubstr(":4: parent row at t_ns 6 does not follow a machine row of that time"));
  EXPECT_THAT(error_of("5,parent:4,3,1\n"), HasSubstr(":3: expected 3 fields"));
}

TEST(CpuTimeRunTest, AMalformedParentRowFailsTheRunsReading) {
  ScratchDir dir;
  dir.Write("run.json", std::string(kJson));
  dir.Write("energy.csv", std::string(kCsv));
  dir.Write("cputime.csv", "t_ns,thread,cpu_ns\n0,machine,0\n0,9/9,0\n0,parent:12,nine\n");
  auto log = ReadEnergy(dir.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, ErrorCode::kBadInput);
  EXPECT_THAT(log.error().ToString(),
              HasSubstr("cputime.csv:4: parent row of process 12: 'nine' is not the process id"));
}

// A fake procfs for the recorder: <root>/stat and <root>/<pid>/task/<tid>/{schedstat,children}.
// Files are replaced whole (rename), since the recorder's thread reads them meanwhile.
class FakeProcTree {
 public:
  explicit FakeProcTree(const std::string& name)
      : root_(std::filesystem::path(::testing::TempDir()) /
              ("smg_cputime_" + name + std::to_string(getpid()))) {
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    Write(root_ / "stat", "cpu  100 0 50 900 0 0 0 0 0 0\n");
  }
  ~FakeProcTree() { std::filesystem::remove_all(root_); }
  std::string root() const { return root_.string(); }
  // A process with one thread (tid = pid), its CPU time, and its children.
  void Process(int pid, int64_t cpu_ns, const std::string& children, bool children_file = true) {
    const auto dir = root_ / std::to_string(pid) / "task" / std::to_string(pid);
    std::filesystem::create_directories(dir);
    Write(dir / "schedstat", std::to_string(cpu_ns) + " 0 1\n");
    if (children_file) Write(dir / "children", children);
  }
  void Stat(int pid, int ppid) {
    Write(root_ / std::to_string(pid) / "stat",
          std::to_string(pid) + " (python3) S " + std::to_string(ppid) + " 1 1 0 -1 4194560\n");
  }

 private:
  static void Write(const std::filesystem::path& p, const std::string& s) {
    const std::filesystem::path tmp = p.string() + ".tmp";
    std::ofstream(tmp) << s;
    std::filesystem::rename(tmp, p);
  }
  std::filesystem::path root_;
};

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// The recorded command (a rank, 100) starts a DataLoader worker (101) that
// starts one of its own (102); later a second worker (103) comes.
void CheckParentRowsOfAJob(FakeProcTree& proc, bool children_files) {
  proc.Process(100, 5'000'000, "101 ", children_files);
  proc.Process(101, 1'000'000, "102", children_files);
  proc.Process(102, 0, "", children_files);
  proc.Process(200, 9'000'000, "", children_files);  // not in the tree
  if (!children_files) {
    proc.Stat(100, 1);
    proc.Stat(101, 100);
    proc.Stat(102, 101);
    proc.Stat(200, 1);
  }
  ScratchDir dir;
  const std::string csv = dir.path() + "/cputime.csv";
  auto rec = CpuTimeRecorder::Start(proc.root(), 100, csv, {});
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  proc.Process(101, 30'000'000, "102", children_files);
  proc.Process(103, 2'000'000, "", children_files);
  proc.Process(100, 6'000'000, "101 103 ", children_files);
  if (!children_files) proc.Stat(103, 100);
  (*rec)->Stop();
  const std::string text = testing_energy::ReadText(csv);
  // One parent row per process, when it is first seen, before its threads' rows.
  EXPECT_EQ(Occurrences(text, ",parent:101,100\n"), 1u) << text;
  EXPECT_EQ(Occurrences(text, ",parent:102,101\n"), 1u) << text;
  EXPECT_EQ(Occurrences(text, ",parent:103,100\n"), 1u) << text;
  EXPECT_EQ(Occurrences(text, ",parent:100,"), 0u) << "the recorded command has no parent row";
  EXPECT_EQ(Occurrences(text, "parent:200"), 0u);
  EXPECT_LT(text.find(",parent:101,100\n"), text.find(",101/101,"));
  CpuTimeLog c;
  Diagnostics diag;
  Status s = ParseCpuTimeCsv(csv, text, c, diag);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_TRUE(c.FindProcess(101) && c.FindProcess(102) && c.FindProcess(103));
  EXPECT_EQ(c.FindProcess(100)->parent_pid, 0);
  EXPECT_EQ(c.FindProcess(101)->parent_pid, 100);
  EXPECT_EQ(c.FindProcess(102)->parent_pid, 101);
  EXPECT_EQ(c.FindProcess(103)->parent_pid, 100);
}

TEST(CpuTimeRecorderTest, WritesEachProcesssParentOnceFromTheChildrenFiles) {
  FakeProcTree proc("children");
  CheckParentRowsOfAJob(proc, true);
}

TEST(CpuTimeRecorderTest, WritesEachProcesssParentOnceFromStatWithoutChildrenFiles) {
  FakeProcTree proc("stat");
  CheckParentRowsOfAJob(proc, false);
}

TEST(CpuTimeRunTest, RunWithoutCputimeCsvReadsWithNoCpuTime) {
  ScratchDir dir;
  dir.Write("run.json", std::string(kJson));
  dir.Write("energy.csv", std::string(kCsv));
  auto log = ReadEnergy(dir.path(), {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_TRUE(log->cpu_time.empty());
  EXPECT_FALSE(log->domains[0].stopped_ns);

  dir.Write("cputime.csv", "t_ns,thread,cpu_ns\n0,machine,0\n0,9/9,0\n"
                           "1000000000,machine,500000000\n1000000000,9/9,250000000\n");
  log = ReadEnergy(dir.path(), {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_THAT(log->cpu_time.tree_ns, ElementsAre(0, 250'000'000));

  dir.Write("cputime.csv", "t_ns,thread,cpu_ns\n0,machine,0\n0,9/9,-5\n");
  log = ReadEnergy(dir.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.error().ToString(), HasSubstr("cputime.csv:3: cpu_ns '-5'"));
}

TEST(CpuTimeRunTest, StoppedDomainMarkerRoundTripsThroughRunJson) {
  EnergyLog meta;
  meta.domains.push_back({"cpu:0/package", "CPU:0", "rapl-powercap", Quantity::kEnergy});
  meta.domains.push_back({"cpu:0/dram", "CPU:0", "rapl-powercap", Quantity::kEnergy});
  meta.domains[1].stopped_ns = 1'500'000'000;
  meta.domains[1].stopped_reason = "reading /sys/x/energy_uj failed (\"EIO\")";
  const std::string json = RunJsonText(meta);
  EXPECT_EQ(json.find("stopped_ns", json.find("cpu:0/package")),
            json.find("stopped_ns", json.find("cpu:0/dram")));  // only on the stopped one
  ScratchDir dir;
  dir.Write("run.json", json);
  dir.Write("energy.csv", "t_ns,domain,energy_j,power_w\n0,cpu:0/package,1,\n1,cpu:0/package,2,\n"
                          "0,cpu:0/dram,1,\n1,cpu:0/dram,2,\n");
  auto log = ReadEnergy(dir.path(), {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_FALSE(log->domains[0].stopped_ns);
  ASSERT_TRUE(log->domains[1].stopped_ns);
  EXPECT_EQ(*log->domains[1].stopped_ns, 1'500'000'000);
  EXPECT_EQ(log->domains[1].stopped_reason, meta.domains[1].stopped_reason);
}

TEST(MachineBusyTest, ParsesTheCpuLineOfProcStat) {
  // user nice system idle iowait irq softirq steal guest guest_nice, in USER_HZ ticks.
  auto ns = procfs::ParseMachineBusyNs("cpu  100 5 20 900 40 1 2 3 7 0\ncpu0 1 2 3\n");
  ASSERT_TRUE(ns);
  const long hz = sysconf(_SC_CLK_TCK);
  EXPECT_EQ(*ns, int64_t{100 + 5 + 20 + 1 + 2 + 3} * (1'000'000'000 / hz));  // no idle, iowait, guest
  EXPECT_FALSE(procfs::ParseMachineBusyNs("intr 1 2 3\n"));
  // This machine's /proc/stat reads and its busy time never goes backwards.
  auto a = procfs::ReadMachineBusyNs("/proc");
  auto b = procfs::ReadMachineBusyNs("/proc");
  ASSERT_TRUE(a && b);
  EXPECT_LE(*a, *b);
}

}  // namespace
}  // namespace smaragdine
