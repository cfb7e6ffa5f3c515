// perfetto_sample.h — a small profile with a timeline, made by attributing a
// hand-built trace (so that events, nodes and power agree as account makes
// them): two CPU threads and one GPU stream, two steps, nested scopes, times
// with sub-µs parts, a CPU and a GPU domain.
#pragma once

#include <string>

#include "smaragdine/account.h"

namespace smaragdine::testing {

inline Profile SmallTimelineProfile() {
  Trace trace;
  trace.dialect = "pytorch";
  trace.sources = {"small.pt.trace.json"};
  trace.time_base = TimeBase::kMonotonic;
  trace.lanes = {{"CPU:0", "thread 11 (python)"}, {"CPU:0", "thread 12"}, {"GPU:0", "stream 7"}};
  constexpr int64_t t0 = 1'000'000'000'000;  // 1000 s on the monotonic clock
  trace.steps = {{"ProfilerStep#1", t0, t0 + 5'000'123}, {"ProfilerStep#2", t0 + 5'000'123, t0 + 9'000'000}};
  auto op = [&](uint32_t lane, const std::string& path, int64_t start, int64_t end, Phase phase,
                int32_t step, NodeKind kind = NodeKind::kOp) {
    NodeId n = trace.nodes.InternPath(path, kind);
    trace.events.push_back({t0 + start, t0 + end, n, lane, step, phase});
  };
  for (int s = 0; s < 2; ++s) {
    const int64_t base = s == 0 ? 0 : 5'000'123;
    op(0, "model/layer_0", base + 100, base + 2'000'250, Phase::kForward, s, NodeKind::kScope);
    op(0, "model/layer_0/aten::linear", base + 200, base + 900'001, Phase::kForward, s);
    op(0, "model/layer_0/aten::relu", base + 1'000'000, base + 1'500'500, Phase::kForward, s);
    op(1, "model/layer_0/aten::linear_backward", base + 2'100'000, base + 3'600'000,
       Phase::kBackward, s);
    op(2, "model/layer_0/aten::linear/gemm_kernel", base + 300'000, base + 1'700'000,
       Phase::kForward, s, NodeKind::kKernel);
    op(0, "optimizer/step", base + 3'700'000, base + 3'900'000, Phase::kOptimizer, s);
  }
  EnergyLog log;
  log.path = "small-run";
  log.clock = Clock::kMonotonic;
  log.domains = {{"cpu:0/package", "CPU:0", "rapl-powercap", Quantity::kEnergy},
                 {"gpu:0", "GPU:0", "nvml", Quantity::kEnergy}};
  log.series.resize(2);
  // Readings every ms from t0 − 1 ms to t0 + 10 ms: CPU 30 W then 50 W,
  // GPU 80 W then 200 W while the kernels run.
  double cpu_j = 0, gpu_j = 0;
  for (int k = -1; k <= 10; ++k) {
    const int64_t t = t0 + int64_t{k} * 1'000'000;
    log.series[0].t_ns.push_back(t);
    log.series[0].energy_j.push_back(cpu_j);
    log.series[1].t_ns.push_back(t);
    log.series[1].energy_j.push_back(gpu_j);
    cpu_j += (k % 5 < 3 ? 30.0 : 50.0) * 1e-3;
    gpu_j += (k % 5 < 2 ? 200.0 : 80.0) * 1e-3;
  }
  AttributeOptions options;
  options.keep_timeline = true;
  auto p = Attribute(trace, log, options);
  if (!p.ok()) return Profile{};
  p->meta.alignment = "identity (monotonic trace)";
  return *p;
}

}  // namespace smaragdine::testing
