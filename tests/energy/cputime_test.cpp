// cputime.csv (the process share's CPU time) and a run's stopped-domain markers:
// reading, errors, and runs without the file.
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
