// The synthetic program behind `simulate`: lanes, steps, scopes and ops, the
// trace a profiler would write for it, and its readings and truth.
#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "common/json_text.h"
#include "sim/model.h"
#include "smaragdine/simulate.h"

namespace smaragdine {

namespace {

constexpr const char* kOpNames[] = {"MatMul", "Add",      "Softmax", "Relu",
                                    "LayerNorm", "Conv2D", "BiasAdd", "Mul",
                                    "Tanh",   "Gelu",     "Transpose", "Reshape"};
constexpr int kOpNameCount = sizeof(kOpNames) / sizeof(kOpNames[0]);
constexpr int kPid = 31337;

// Epoch microseconds with the nanoseconds as three decimals, as Kineto writes them.
std::string Micros(int64_t ns) { return fmt::format("{}.{:03d}", ns / 1000, ns % 1000); }

// TF1 writes integer microseconds; keep decimals only where the grid is finer.
std::string MicrosTf1(int64_t ns) {
  return ns % 1000 == 0 ? fmt::format("{}", ns / 1000) : Micros(ns);
}

std::string LastName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

struct Program {
  std::vector<sim::Interval> ops;     // leaves
  std::vector<sim::Interval> scopes;  // enclosing name scopes (pytorch only writes them)
  struct StepSpan {
    int64_t start_ns, end_ns;
  };
  std::vector<StepSpan> steps;  // ProfilerStep#N on lane 0
};

std::string OpPath(int nesting, int i, const std::string& name) {
  switch (nesting) {
    case 0: return name;
    case 1: return "model/" + name;
    case 2: return fmt::format("model/layer_{}/{}", i / 4, name);
    default: return fmt::format("model/layer_{}/{}/{}", i / 4, (i % 4) < 2 ? "attention" : "mlp", name);
  }
}

// Scopes are the runs of consecutive ops (on one lane, in one step) sharing a
// path prefix: the span of a record_function around them.
void AddScopes(const std::vector<sim::Interval>& block, int nesting, size_t nd,
               std::vector<sim::Interval>* scopes) {
  for (int level = 1; level <= nesting; ++level) {
    size_t i = 0;
    while (i < block.size()) {
      auto prefix = [&](const std::string& path) {
        size_t pos = 0;
        for (int k = 0; k < level; ++k) pos = path.find('/', pos) + 1;
        return path.substr(0, pos - 1);
      };
      std::string p = prefix(block[i].path);
      size_t j = i;
      while (j + 1 < block.size() && prefix(block[j + 1].path) == p) ++j;
      sim::Interval s;
      s.start_ns = block[i].start_ns;
      s.end_ns = block[j].end_ns;
      s.lane = block[i].lane;
      s.path = p;
      s.dyn_w.assign(nd, 0.0);
      s.scope = true;
      scopes->push_back(std::move(s));
      i = j + 1;
    }
  }
}

std::string PytorchTrace(const SimScenario& sc, const Program& prog, sim::Rng& rng) {
  std::vector<std::string> events;
  auto lane_tid = [](uint32_t lane) { return kPid + static_cast<int>(lane); };
  int64_t ext = 1;
  for (size_t s = 0; s < prog.steps.size(); ++s) {
    int64_t a = prog.steps[s].start_ns + sc.realtime_offset_ns;
    int64_t b = prog.steps[s].end_ns + sc.realtime_offset_ns;
    events.push_back(fmt::format(
        R"({{"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#{}", "pid": {}, "tid": {}, "ts": {}, "dur": {}, "args": {{"External id": {}, "Record function id": 0}}}})",
        s, kPid, lane_tid(0), Micros(a), Micros(b - a), ext++));
  }
  for (const sim::Interval& e : prog.scopes) {
    int64_t a = e.start_ns + sc.realtime_offset_ns;
    events.push_back(fmt::format(
        R"({{"ph": "X", "cat": "user_annotation", "name": {}, "pid": {}, "tid": {}, "ts": {}, "dur": {}, "args": {{"External id": {}, "Record function id": 0}}}})",
        JsonQuote(LastName(e.path)), kPid, lane_tid(e.lane), Micros(a),
        Micros(e.end_ns - e.start_ns), ext++));
  }
  for (const sim::Interval& e : prog.ops) {
    int64_t a = e.start_ns + sc.realtime_offset_ns;
    events.push_back(fmt::format(
        R"({{"ph": "X", "cat": "cpu_op", "name": {}, "pid": {}, "tid": {}, "ts": {}, "dur": {}, "args": {{"External id": {}, "Record function id": 0, "Sequence number": {}, "Fwd thread id": 0}}}})",
        JsonQuote(LastName(e.path)), kPid, lane_tid(e.lane), Micros(a),
        Micros(e.end_ns - e.start_ns), ext, ext));
    ++ext;
  }
  if (sc.shuffle_events) {
    for (size_t i = events.size(); i > 1; --i) std::swap(events[i - 1], events[rng.Next() % i]);
  } else {
    // Kineto sorts by start; keep the enclosing event first on ties.
    // (The strings carry the order implicitly; a stable order is enough here.)
  }
  std::string out =
      "{\n  \"schemaVersion\": 1,\n  \"deviceProperties\": [],\n  \"traceEvents\": [\n";
  out += fmt::format(
      R"(  {{"name": "process_name", "ph": "M", "ts": 0, "pid": {}, "tid": 0, "args": {{"name": "python3"}}}})",
      kPid);
  for (int l = 0; l < sc.threads; ++l)
    out += fmt::format(
        ",\n" R"j(  {{"name": "thread_name", "ph": "M", "ts": 0, "pid": {}, "tid": {}, "args": {{"name": "thread {} (python3)"}}}})j",
        kPid, lane_tid(l), lane_tid(l));
  for (const std::string& e : events) out += ",\n  " + e;
  out += "\n  ],\n  \"traceName\": \"smaragdine simulate\",\n  \"displayTimeUnit\": \"ms\"\n}\n";
  return out;
}

std::string Tf1Trace(const SimScenario& sc, const Program& prog, sim::Rng& rng) {
  std::vector<std::string> events;
  for (const sim::Interval& e : prog.ops) {
    std::string op = LastName(e.path);
    events.push_back(fmt::format(
        R"({{"pid": 1, "tid": {}, "cat": "Op", "name": {}, "ts": {}, "dur": {}, "ph": "X", "args": {{"name": {}, "op": {}}}}})",
        e.lane, JsonQuote(op), MicrosTf1(e.start_ns + sc.realtime_offset_ns),
        MicrosTf1(e.end_ns - e.start_ns), JsonQuote(e.path), JsonQuote(op)));
  }
  if (sc.shuffle_events)
    for (size_t i = events.size(); i > 1; --i) std::swap(events[i - 1], events[rng.Next() % i]);
  std::string out = "{\n    \"traceEvents\": [\n";
  out += R"(        {"args": {"name": "Allocators"}, "pid": 0, "name": "process_name", "ph": "M"})";
  out += ",\n" R"(        {"args": {"name": "/job:localhost/replica:0/task:0/device:CPU:0 Compute"}, "pid": 1, "name": "process_name", "ph": "M"})";
  for (const std::string& e : events) out += ",\n        " + e;
  out += "\n    ]\n}\n";
  return out;
}

SimScenario Clamped(SimScenario sc) {
  sc.threads = std::clamp(sc.threads, 1, 256);
  sc.steps = std::clamp(sc.steps, 1, 1'000'000);
  sc.ops_per_step = std::clamp(sc.ops_per_step, 1, 1'000'000);
  sc.quantum_ns = std::max<int64_t>(1000, sim::RoundUp(sc.quantum_ns, 1000));
  sc.op_min_ns = std::max(sc.op_min_ns, sc.quantum_ns);
  sc.op_max_ns = std::max(sc.op_max_ns, sc.op_min_ns);
  sc.gap_max_ns = std::max<int64_t>(0, sc.gap_max_ns);
  sc.step_gap_ns = std::max<int64_t>(0, sc.step_gap_ns);
  sc.nesting = std::clamp(sc.nesting, 0, 3);
  sc.distinct_ops = std::clamp(sc.distinct_ops, 1, kOpNameCount);
  sc.update_period_ns = std::max<int64_t>(1, sc.update_period_ns);
  sc.sample_period_ns = std::max<int64_t>(1, sc.sample_period_ns);
  sc.counter_unit_j = std::max(0.0, sc.counter_unit_j);
  sc.dyn_max_w = std::max(sc.dyn_max_w, sc.dyn_min_w);
  if (sc.dialect != "tf1") sc.dialect = "pytorch";
  return sc;
}

}  // namespace

std::vector<std::string> ScenarioPresetNames() {
  return {"sequential", "concurrent", "nested", "quantised", "tf1", "accuracy"};
}

Result<SimScenario> ScenarioPreset(std::string_view name) {
  SimScenario sc;
  // Readings finer than the ops and on their grid: the answer is exact up to the unit.
  sc.quantum_ns = 100'000;
  sc.sample_period_ns = 100'000;
  sc.update_period_ns = 100'000;
  sc.op_min_ns = 300'000;
  sc.op_max_ns = 3'000'000;
  sc.gap_max_ns = 200'000;
  sc.counter_unit_j = 1e-6;
  if (name == "sequential") {
    sc.threads = 2;
    sc.nesting = 2;
  } else if (name == "concurrent") {
    sc.threads = 4;
    sc.concurrent = true;
    sc.nesting = 2;
    sc.dram_idle_w = 3;
  } else if (name == "nested") {
    sc.threads = 2;
    sc.concurrent = true;
    sc.nesting = 3;
    sc.ops_per_step = 16;
  } else if (name == "quantised") {
    // RAPL-like: 61 µJ unit, 1 ms update and 1 kHz sampling with jitter.
    sc.threads = 2;
    sc.concurrent = true;
    sc.nesting = 3;
    sc.quantum_ns = 1000;
    sc.counter_unit_j = 61e-6;
    sc.update_period_ns = 1'000'000;
    sc.sample_period_ns = 1'000'000;
    sc.jitter = 0.1;
  } else if (name == "tf1") {
    sc.dialect = "tf1";
    sc.threads = 2;
    sc.concurrent = true;
    sc.nesting = 3;
  } else if (name == "accuracy") {
    // DESIGN §9: the counter period is 10× the median op.
    sc.threads = 1;
    sc.nesting = 3;
    sc.steps = 20;
    sc.ops_per_step = 16;
    sc.quantum_ns = 1000;
    sc.op_min_ns = 50'000;
    sc.op_max_ns = 150'000;
    sc.gap_max_ns = 10'000;
    sc.counter_unit_j = 61e-6;
    sc.update_period_ns = 1'000'000;
    sc.sample_period_ns = 1'000'000;
    sc.jitter = 0.05;
  } else {
    std::string known;
    for (const auto& n : ScenarioPresetNames()) known += (known.empty() ? "" : ", ") + n;
    return UsageError(fmt::format("unknown scenario '{}' (known: {})", name, known));
  }
  return sc;
}

SimResult Simulate(const SimScenario& input) {
  const SimScenario sc = Clamped(input);
  sim::Rng rng(sc.seed);

  std::vector<sim::DomainSpec> domains;
  domains.push_back({"cpu:0/package", "CPU:0", sc.cpu_idle_w, sc.update_period_ns, sc.counter_unit_j});
  if (sc.dram_idle_w > 0)
    domains.push_back({"cpu:0/dram", "CPU:0", sc.dram_idle_w, sc.update_period_ns, sc.counter_unit_j});
  const size_t nd = domains.size();
  std::vector<sim::LaneSpec> lanes(sc.threads, sim::LaneSpec{"CPU:0"});

  // Per-name power, from the seed: the same op name draws the same power everywhere.
  std::vector<std::string> names(kOpNames, kOpNames + sc.distinct_ops);
  auto dyn_of = [&](const std::string& name) {
    double u = static_cast<double>(sim::HashName(sc.seed, name) >> 11) * 0x1.0p-53;
    double pkg = sc.dyn_min_w + (sc.dyn_max_w - sc.dyn_min_w) * u;
    std::vector<double> w(nd, 0.0);
    w[0] = pkg;
    if (nd > 1) w[1] = 0.15 * pkg;
    return w;
  };

  const int64_t q = sc.quantum_ns;
  const int64_t grid = std::lcm(q, sc.sample_period_ns);
  const int64_t margin = sim::RoundUp(2 * std::max(sc.sample_period_ns, sc.update_period_ns), grid);
  const int64_t log_start = sc.monotonic_start_ns;
  auto on_grid = [&](int64_t ns) { return sim::RoundDown(ns + q / 2, q); };

  Program prog;
  auto run_block = [&](uint32_t lane, int64_t t) {
    std::vector<sim::Interval> block;
    for (int i = 0; i < sc.ops_per_step; ++i) {
      t += on_grid(rng.Range(0, sc.gap_max_ns));
      int64_t dur = std::max(q, on_grid(rng.Range(sc.op_min_ns, sc.op_max_ns)));
      const std::string& name = names[rng.Next() % names.size()];
      sim::Interval e;
      e.start_ns = t;
      e.end_ns = t + dur;
      e.lane = lane;
      e.path = OpPath(sc.nesting, i, name);
      e.dyn_w = dyn_of(name);
      block.push_back(std::move(e));
      t += dur;
    }
    if (sc.dialect == "pytorch") AddScopes(block, sc.nesting, nd, &prog.scopes);
    int64_t first = block.front().start_ns, last = block.back().end_ns;
    if (lane == 0) prog.steps.push_back({first, last});
    for (auto& e : block) prog.ops.push_back(std::move(e));
    return last;
  };

  int64_t cursor = log_start + margin;
  for (int s = 0; s < sc.steps; ++s) {
    if (s > 0) cursor += on_grid(sc.step_gap_ns);
    if (sc.concurrent) {
      int64_t end = cursor;
      for (int l = 0; l < sc.threads; ++l) end = std::max(end, run_block(l, cursor));
      cursor = end;
    } else {
      for (int l = 0; l < sc.threads; ++l) cursor = run_block(l, cursor);
    }
  }

  int64_t window_start = INT64_MAX, window_end = INT64_MIN;
  for (const auto& e : prog.ops) {
    window_start = std::min(window_start, e.start_ns);
    window_end = std::max(window_end, e.end_ns);
  }
  const int64_t log_end = log_start + sim::RoundUp(window_end + margin - log_start, grid);

  std::vector<sim::Interval> all = prog.ops;
  all.insert(all.end(), prog.scopes.begin(), prog.scopes.end());

  SimResult r;
  std::vector<sim::PowerCurve> curves;
  sim::AnalyticAttribution(all, lanes, domains, log_start, log_end, window_start, window_end,
                           &r.truth, &curves);
  r.truth.aligned = sc.jitter == 0 && sc.update_period_ns == sc.sample_period_ns &&
                    q % sc.sample_period_ns == 0;
  r.readings = sim::SampleReadings(curves, domains, log_start, log_end, sc.sample_period_ns,
                                   sc.jitter, sc.seed);
  r.meta = sim::MakeMeta(domains, log_start, log_end, sc.realtime_offset_ns, sc.sample_period_ns,
                         {"smaragdine", "simulate", "--seed", std::to_string(sc.seed)});
  if (sc.dialect == "tf1") {
    r.trace_name = "trace.json";
    r.trace_text = Tf1Trace(sc, prog, rng);
  } else {
    r.trace_name = "trace.pt.trace.json";
    r.trace_text = PytorchTrace(sc, prog, rng);
  }
  return r;
}

}  // namespace smaragdine
