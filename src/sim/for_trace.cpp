// `simulate --for-trace`: a plausible energy log for a real trace.
#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "sim/model.h"
#include "smaragdine/device.h"
#include "smaragdine/simulate.h"

namespace smaragdine {

namespace {

bool Contains(const std::string& haystack, std::initializer_list<const char*> needles) {
  for (const char* n : needles)
    if (haystack.find(n) != std::string::npos) return true;
  return false;
}

// Dynamic power of the innermost event on a lane, from its name: matrix
// engines draw most, reductions and normalisations less, elementwise and
// copies least, a bare scope (Python between ops) a little. ±15 % per name.
double DynPowerW(const std::string& name, NodeKind kind, bool gpu, uint64_t seed) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  double w;
  if (kind == NodeKind::kScope) {
    w = gpu ? 20 : 3;
  } else if (Contains(n, {"gemm", "matmul", "aten::mm", "bmm", "addmm", "linear", "conv",
                          "sm90", "sm80", "cutlass", "flash", "attention", "xmma"})) {
    w = gpu ? 300 : 30;
  } else if (Contains(n, {"softmax", "norm", "reduce", "gelu", "sum", "mean", "embedding",
                          "index"})) {
    w = gpu ? 160 : 15;
  } else if (Contains(n, {"memcpy", "memset", "copy", "::to", "cudalaunch", "cudamemcpy"})) {
    w = gpu ? 60 : 8;
  } else {
    w = gpu ? 110 : 7;
  }
  double u = static_cast<double>(sim::HashName(seed, name) >> 11) * 0x1.0p-53;
  return w * (0.85 + 0.3 * u);
}

// "CPU:1" → "cpu:1/package", "GPU:0" → "gpu:0"; empty for anything else.
std::string DomainOf(const std::string& device) {
  const Device dev = ParseDevice(device);
  if (dev.index < 0) return "";
  if (dev.kind == DeviceKind::kCpu) return fmt::format("cpu:{}/package", dev.index);
  if (dev.kind == DeviceKind::kGpu) return fmt::format("gpu:{}", dev.index);
  return "";
}

}  // namespace

Result<SimResult> SimulateEnergyForTrace(const Trace& trace, const TraceEnergyOptions& opt) {
  if (trace.events.empty()) {
    return BadInput(trace.sources.empty() ? "" : trace.sources.front(),
                    "the trace has no events to simulate energy for");
  }
  const int64_t period = std::max<int64_t>(1, opt.sample_period_ns);
  int64_t t_min = INT64_MAX, t_max = INT64_MIN;
  for (const Event& e : trace.events) {
    t_min = std::min(t_min, e.start_ns);
    t_max = std::max(t_max, e.end_ns);
  }
  // trace time + shift = monotonic time. Realtime traces land ~1000 s into
  // the monotonic clock (realtime = monotonic + offset); relative traces need
  // --trace-start-ns, which the hint gives.
  constexpr int64_t kMonoBase = 1'000'000'000'000;
  SimResult r;
  int64_t shift = 0, realtime_offset = 0;
  switch (trace.time_base) {
    case TimeBase::kRealtime:
      realtime_offset = sim::RoundDown(t_min - kMonoBase, 1'000'000);
      shift = -realtime_offset;
      break;
    case TimeBase::kMonotonic:
      realtime_offset = 1'700'000'000'000'000'000;
      break;
    case TimeBase::kRelative:
      shift = kMonoBase;
      realtime_offset = 1'700'000'000'000'000'000;
      r.align_hint = fmt::format("--trace-start-ns {}", kMonoBase);
      break;
  }

  std::vector<sim::DomainSpec> domains;
  std::map<std::string, size_t> domain_of_device;
  for (const Lane& lane : trace.lanes) {
    std::string name = DomainOf(lane.device);
    if (name.empty() || domain_of_device.count(lane.device)) continue;
    bool gpu = IsGpuDevice(lane.device);
    domain_of_device[lane.device] = domains.size();
    domains.push_back({name, lane.device, gpu ? opt.gpu_idle_w : opt.cpu_idle_w,
                       gpu ? opt.gpu_update_period_ns : opt.cpu_update_period_ns,
                       gpu ? opt.gpu_unit_j : opt.cpu_unit_j});
  }
  if (domains.empty()) {
    return BadInput(trace.sources.empty() ? "" : trace.sources.front(),
                    "the trace's lanes name no CPU:N or GPU:N device");
  }
  std::vector<sim::LaneSpec> lanes;
  for (const Lane& lane : trace.lanes) lanes.push_back({lane.device});

  std::vector<sim::Interval> intervals;
  intervals.reserve(trace.events.size());
  std::map<NodeId, std::string> path_cache;
  for (const Event& e : trace.events) {
    if (e.lane >= trace.lanes.size()) continue;
    auto d = domain_of_device.find(trace.lanes[e.lane].device);
    if (d == domain_of_device.end()) continue;
    sim::Interval iv;
    iv.start_ns = e.start_ns + shift;
    iv.end_ns = e.end_ns + shift;
    iv.lane = e.lane;
    auto [it, fresh] = path_cache.try_emplace(e.node);
    if (fresh) it->second = trace.nodes.Path(e.node);
    iv.path = it->second;
    iv.scope = trace.nodes.Kind(e.node) == NodeKind::kScope;
    iv.dyn_w.assign(domains.size(), 0.0);
    iv.dyn_w[d->second] = DynPowerW(trace.nodes.Name(e.node), trace.nodes.Kind(e.node),
                                    IsGpuDevice(domains[d->second].device), opt.seed);
    intervals.push_back(std::move(iv));
  }

  const int64_t window_start = t_min + shift, window_end = t_max + shift;
  const int64_t log_start = sim::RoundDown(window_start - opt.margin_ns, period);
  const int64_t log_end = sim::RoundUp(window_end + opt.margin_ns, period);
  std::vector<sim::PowerCurve> curves;
  sim::AnalyticAttribution(intervals, lanes, domains, log_start, log_end, window_start, window_end,
                           &r.truth, &curves);
  // Real op boundaries fall anywhere between readings; a simulated trace on the
  // sampling grid, read without jitter, is aligned.
  r.truth.aligned = opt.jitter == 0;
  for (const sim::DomainSpec& d : domains)
    if (d.update_period_ns != period) r.truth.aligned = false;
  for (const sim::Interval& iv : intervals)
    if (iv.start_ns % period != log_start % period || iv.end_ns % period != log_start % period)
      r.truth.aligned = false;
  r.readings = sim::SampleReadings(curves, domains, log_start, log_end, period, opt.jitter, opt.seed);
  std::vector<std::string> command = {"smaragdine", "simulate", "--for-trace"};
  for (const auto& s : trace.sources) command.push_back(s);
  r.meta = sim::MakeMeta(domains, log_start, log_end, realtime_offset, period, command);
  return r;
}

}  // namespace smaragdine
