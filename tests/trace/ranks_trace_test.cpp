// The processes of a trace (issue 13): a Kineto file names its process (the
// CPU pid) and, through distributedInfo, its rank; reading one file per rank
// gives one trace whose lanes say which rank ran them and whose steps are the
// job's.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "smaragdine/trace.h"
#include "trace/trace_test_util.h"

namespace smaragdine {
namespace {

// A rank's trace: two steps of one forward op on its CPU thread and a kernel
// on its own GPU (device = rank), as PyTorch's profiler writes them.
std::string RankTrace(int rank, int pid, int64_t shift_us, bool with_info = true) {
  std::string head = "{\"schemaVersion\": 1, ";
  if (with_info)
    head += fmt::format(
        "\"distributedInfo\": {{\"backend\": \"gloo\", \"rank\": {}, \"world_size\": 2, "
        "\"local_rank\": {}}}, \"host_name\": \"node-a\", ",
        rank, rank);
  std::string events;
  for (int s = 0; s < 2; ++s) {
    const int64_t t0 = shift_us + s * 1000;
    events += fmt::format(
        "{{\"ph\": \"X\", \"cat\": \"user_annotation\", \"name\": \"ProfilerStep#{}\", "
        "\"pid\": {}, \"tid\": 1, \"ts\": {}, \"dur\": 900}},\n",
        s, pid, t0);
    events += fmt::format(
        "{{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"aten::mm\", \"pid\": {}, \"tid\": 1, "
        "\"ts\": {}, \"dur\": 500, \"args\": {{\"External id\": {}, \"correlation\": {}}}}},\n",
        pid, t0 + 100, 10 + s, 10 + s);
    events += fmt::format(
        "{{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"gemm\", \"pid\": {}, \"tid\": 7, "
        "\"ts\": {}, \"dur\": 300, \"args\": {{\"device\": {}, \"correlation\": {}, "
        "\"External id\": {}}}}},\n",
        rank, t0 + 200, rank, 10 + s, 10 + s);
  }
  events.resize(events.size() - 2);  // the last ",\n"
  return head + "\"traceEvents\": [\n" + events + "\n]}\n";
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = fmt::format("{}/{}-{}", tmp && *tmp ? tmp : "/tmp", getpid(), name);
  std::ofstream(path) << text;
  return path;
}

TEST(RanksTraceTest, AKinetoFileNamesItsProcessAndRank) {
  const std::string path = WriteTemp("rank1.pt.trace.json", RankTrace(1, 4201, 0));
  auto t = ReadTrace(path, {});
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_EQ(t->processes.size(), 1u);
  const Process& p = t->processes[0];
  EXPECT_EQ(p.pid, 4201);
  EXPECT_EQ(p.rank, 1);
  EXPECT_EQ(p.world_size, 2);
  EXPECT_EQ(p.local_rank, 1);
  EXPECT_EQ(p.host, "node-a");
  EXPECT_EQ(p.source, path);
  // Every lane, the GPU stream too, is that process's.
  for (const Lane& lane : t->lanes) EXPECT_EQ(lane.process, 0) << lane.device << " " << lane.name;
  std::remove(path.c_str());
}

TEST(RanksTraceTest, OneFilePerRankReadsAsOneJobWithTheRanksApart) {
  const std::string a = WriteTemp("r0.pt.trace.json", RankTrace(0, 4200, 0));
  const std::string b = WriteTemp("r1.pt.trace.json", RankTrace(1, 4201, 37));
  auto t = ReadTraces({a, b}, {});
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_EQ(t->processes.size(), 2u);
  EXPECT_EQ(t->processes[0].rank, 0);
  EXPECT_EQ(t->processes[1].rank, 1);
  // Each rank's steps "ProfilerStep#0/1" are the job's two steps, spanning both ranks.
  ASSERT_EQ(t->steps.size(), 2u);
  EXPECT_EQ(t->steps[0].name, "ProfilerStep#0");
  EXPECT_EQ(t->steps[0].end_ns - t->steps[0].start_ns, (900 + 37) * 1000);
  // The ops of both ranks are one node with events on each rank's lanes.
  const NodeId mm = t->nodes.Find("aten::mm");
  ASSERT_NE(mm, NodeTable::kNoNode);
  int on_rank[2] = {0, 0};
  for (const Event& e : t->events)
    if (e.node == mm) ++on_rank[t->lanes[e.lane].process];
  EXPECT_EQ(on_rank[0], 2);
  EXPECT_EQ(on_rank[1], 2);
  // Each rank's kernels are on its own GPU.
  for (const Lane& lane : t->lanes)
    if (lane.device.rfind("GPU:", 0) == 0)
      EXPECT_EQ(lane.device, fmt::format("GPU:{}", t->processes[lane.process].rank));
  std::remove(a.c_str());
  std::remove(b.c_str());
}

TEST(RanksTraceTest, TwoFilesOfOneProcessAreOneProcessWithItsOwnSteps) {
  // A profiler schedule writes one file per cycle: same pid, no rank.
  const std::string a = WriteTemp("c0.pt.trace.json", RankTrace(0, 4300, 0, false));
  const std::string b = WriteTemp("c1.pt.trace.json", RankTrace(0, 4300, 5000, false));
  auto t = ReadTraces({a, b}, {});
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_EQ(t->processes.size(), 1u);
  EXPECT_EQ(t->processes[0].rank, -1);
  EXPECT_EQ(t->processes[0].Label(), "pid 4300");
  // Same step names in the same process are two cycles' steps, not one.
  EXPECT_EQ(t->steps.size(), 4u);
  std::remove(a.c_str());
  std::remove(b.c_str());
}

}  // namespace
}  // namespace smaragdine
