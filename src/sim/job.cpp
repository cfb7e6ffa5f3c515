// A simulated distributed job (simulate.h, SimulateJob): machines whose ranks
// share each machine's meters, every machine on its own clock.
#include <algorithm>
#include <charconv>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/io.h"
#include "common/output_file.h"
#include "common/json_text.h"
#include "smaragdine/simulate.h"

namespace smaragdine {
namespace {

// The number after `key` in one line of the simulator's trace ("\"tid\": 31338").
int64_t NumberAfter(std::string_view line, std::string_view key) {
  const size_t at = line.find(key);
  if (at == std::string_view::npos) return -1;
  const char* p = line.data() + at + key.size();
  int64_t v = -1;
  std::from_chars(p, line.data() + line.size(), v);
  return v;
}

// The line with `"pid": <from>` written as `"pid": <to>`.
std::string WithPid(std::string_view line, int64_t from, int64_t to) {
  const std::string key = fmt::format("\"pid\": {}", from);
  std::string out(line);
  const size_t at = out.find(key);
  if (at != std::string::npos) out.replace(at, key.size(), fmt::format("\"pid\": {}", to));
  return out;
}

// The simulator's one-process trace (one event per line, lanes as thread ids)
// as one trace per lane: the lane is a rank. ProfilerStep#N, written on the
// first lane, goes to every rank: each rank's steps are the same steps.
std::vector<std::pair<std::string, std::string>> SplitByLane(const std::string& trace,
                                                             int machine, int ranks,
                                                             int world_size,
                                                             const std::string& host) {
  std::vector<std::string_view> events;
  std::map<int64_t, int> lane_of_tid;
  int64_t pid = -1;
  size_t start = 0;
  while (start < trace.size()) {
    size_t end = trace.find('\n', start);
    if (end == std::string::npos) end = trace.size();
    std::string_view line(trace.data() + start, end - start);
    start = end + 1;
    if (line.find("\"ph\": \"X\"") == std::string_view::npos) continue;
    while (!line.empty() && (line.front() == ' ' || line.front() == ',')) line.remove_prefix(1);
    while (!line.empty() && line.back() == ',') line.remove_suffix(1);
    events.push_back(line);
    lane_of_tid.emplace(NumberAfter(line, "\"tid\": "), 0);
    pid = NumberAfter(line, "\"pid\": ");
  }
  int lane = 0;
  for (auto& [tid, l] : lane_of_tid) l = lane++;
  std::vector<std::vector<std::string>> per_rank(static_cast<size_t>(ranks));
  for (std::string_view e : events) {
    const bool step = e.find("\"name\": \"ProfilerStep#") != std::string_view::npos;
    const int l = lane_of_tid[NumberAfter(e, "\"tid\": ")];
    for (int r = 0; r < ranks; ++r) {
      if (!step && r != l) continue;
      per_rank[static_cast<size_t>(r)].push_back(WithPid(e, pid, 1000 * (machine + 1) + r));
    }
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (int r = 0; r < ranks; ++r) {
    const int rank = machine * ranks + r;
    std::string text = fmt::format(
        "{{\n  \"schemaVersion\": 1,\n  \"distributedInfo\": {{\"backend\": \"gloo\", \"rank\": {}, "
        "\"world_size\": {}, \"local_rank\": {}}},\n  \"host_name\": {},\n  \"traceEvents\": [\n",
        rank, world_size, r, JsonQuote(host));
    const std::vector<std::string>& mine = per_rank[static_cast<size_t>(r)];
    for (size_t i = 0; i < mine.size(); ++i) text += (i ? ",\n  " : "  ") + mine[i];
    text += "\n  ],\n  \"traceName\": \"smaragdine simulate --job\"\n}\n";
    out.emplace_back(fmt::format("rank-{}.pt.trace.json", rank), std::move(text));
  }
  return out;
}

}  // namespace

Result<std::vector<SimJobNode>> SimulateJob(const SimScenario& scenario, const SimJobShape& shape) {
  if (shape.nodes < 1 || shape.ranks_per_node < 1 || shape.nodes > 1000 ||
      shape.ranks_per_node > 64)
    return UsageError(fmt::format("--job {}x{}: machines must be 1–1000 and ranks per machine "
                                  "1–64",
                                  shape.nodes, shape.ranks_per_node));
  if (scenario.program != "random" || scenario.dialect != "pytorch")
    return UsageError("--job simulates PyTorch ranks of the \"random\" program (one lane per "
                      "rank); use it without --program bert and --dialect tf1");
  std::vector<SimJobNode> job;
  const int world = shape.nodes * shape.ranks_per_node;
  for (int m = 0; m < shape.nodes; ++m) {
    SimScenario sc = scenario;
    sc.seed = scenario.seed + static_cast<uint64_t>(m);
    sc.threads = shape.ranks_per_node;
    sc.concurrent = shape.ranks_per_node > 1 || scenario.concurrent;
    // Machines booted at different times (monotonic clocks far apart) and
    // keep realtime a few ms apart: nothing may compare them.
    sc.monotonic_start_ns = scenario.monotonic_start_ns + int64_t{m} * 977'000'000'000;
    sc.realtime_offset_ns =
        scenario.realtime_offset_ns - int64_t{m} * 977'000'000'000 + int64_t{m} * 7'300'000;
    SimJobNode node;
    node.host = fmt::format("node-{}", m);
    node.sim = Simulate(sc);
    node.sim.meta.launch.host = node.host;
    node.rank_traces =
        SplitByLane(node.sim.trace_text, m, shape.ranks_per_node, world, node.host);
    job.push_back(std::move(node));
  }
  return job;
}

Status WriteSimulatedJob(const std::vector<SimJobNode>& job, const std::string& dir) {
  // Each file relative to its machine's directory descriptor, as
  // WriteSimulation writes the rest (docs/security.md).
  SMG_ASSIGN_OR_RETURN(OutputDirectory out, OutputDirectory::Open(dir));
  for (const SimJobNode& node : job) {
    SMG_ASSIGN_OR_RETURN(OutputDirectory node_dir, out.Sub(node.host));
    SimResult run = node.sim;
    run.trace_name.clear();  // the ranks' traces are written instead
    SMG_RETURN_IF_ERROR(WriteSimulation(run, node_dir.path()));
    for (const auto& [name, text] : node.rank_traces)
      SMG_RETURN_IF_ERROR(node_dir.WriteFile(name, text));
  }
  return {};
}

}  // namespace smaragdine
