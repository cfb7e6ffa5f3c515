#include "torch/live/gpu_activity.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <simdjson.h>

namespace smaragdine::live::internal {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

bool IsGpuCat(std::string_view cat) {
  return cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset";
}
bool IsRuntimeCat(std::string_view cat) { return cat == "cuda_runtime" || cat == "cuda_driver"; }

// A whole string of decimal digits as a number; nullopt for anything else.
template <typename T>
std::optional<T> Digits(std::string_view s) {
  T v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || s[0] == '-' || ec != std::errc() || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

// Kineto writes pid and tid as numbers, some versions as strings.
std::optional<int64_t> IntField(object o, std::string_view key) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return i;
  uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS && u <= uint64_t(INT64_MAX))
    return static_cast<int64_t>(u);
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d) && std::trunc(d) == d &&
      std::fabs(d) < 9e18)
    return static_cast<int64_t>(d);
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return Digits<int64_t>(s);
  return std::nullopt;
}

// ts and dur are µs with fractions; base (PyTorch >= 2.4) is epoch ns.
std::optional<double> Micros(object o, std::string_view key) {
  element e;
  double d;
  if (o[key].get(e) != simdjson::SUCCESS || e.get_double().get(d) != simdjson::SUCCESS ||
      !std::isfinite(d) || std::fabs(d) > 1e15)
    return std::nullopt;
  return d;
}

struct RawActivity {
  GpuActivityEvent ev;
  int64_t kineto_start_ns = 0;  // base + ts, on Kineto's clock
  int64_t kineto_end_ns = 0;
};

}  // namespace

Result<GpuActivity> ReadGpuActivity(std::string_view json, const std::string& name,
                                    const GpuActivityFile& file) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto error = parser.parse(padded).get(root))
    return BadInput(name, fmt::format("invalid JSON: {}", simdjson::error_message(error)));
  object top;
  simdjson::dom::array events;
  if (root.get_object().get(top) != simdjson::SUCCESS ||
      top["traceEvents"].get_array().get(events) != simdjson::SUCCESS)
    return BadInput(name, "expected a Chrome trace: an object with a \"traceEvents\" array");
  int64_t base_ns = 0;
  if (auto b = IntField(top, "baseTimeNanoseconds")) base_ns = *b;

  GpuActivity out;
  std::vector<RawActivity> raws;
  std::optional<RawActivity> sync;  // the calibration call: the first on its thread
  for (element e : events) {
    object o;
    std::string_view ph, cat, ev_name;
    if (e.get_object().get(o) != simdjson::SUCCESS || o["ph"].get_string().get(ph) ||
        ph != "X" || o["cat"].get_string().get(cat) || o["name"].get_string().get(ev_name))
      continue;
    const bool gpu = IsGpuCat(cat);
    if (!gpu && !IsRuntimeCat(cat)) continue;
    const std::optional<double> ts_us = Micros(o, "ts"), dur_us = Micros(o, "dur");
    const std::optional<int64_t> pid = IntField(o, "pid"), tid = IntField(o, "tid");
    if (!ts_us || !dur_us || *dur_us < 0 || !pid || !tid) {
      out.skipped += gpu ? 1 : 0;
      continue;
    }
    RawActivity r;
    r.ev.cat = std::string(cat);
    r.ev.name = std::string(ev_name);
    r.ev.on_gpu = gpu;
    object args;
    std::optional<int64_t> device;
    if (o["args"].get_object().get(args) == simdjson::SUCCESS) {
      if (auto c = IntField(args, "correlation")) r.ev.correlation = *c;
      device = IntField(args, "device");
    }
    if (gpu) {
      r.ev.device = device.value_or(*pid);  // Kineto's GPU "process" is the device
      r.ev.stream = *tid;
    } else {
      r.ev.os_tid = static_cast<uint64_t>(*tid);
    }
    r.kineto_start_ns = base_ns + std::llround(*ts_us * 1000.0);
    r.kineto_end_ns = r.kineto_start_ns + std::llround(*dur_us * 1000.0);
    if (!gpu && ev_name == "cudaDeviceSynchronize" && r.ev.os_tid == file.sync_os_tid &&
        (!sync || r.kineto_start_ns < sync->kineto_start_ns))
      sync = r;
    // A launch without a correlation cannot be matched to its kernel.
    if (gpu || r.ev.correlation >= 0) raws.push_back(std::move(r));
  }
  if (!sync)
    return BadInput(name, fmt::format("no cudaDeviceSynchronize call on thread {} to tie the "
                                      "profiler's clock to the session's (was the profiler "
                                      "started with its CUDA activity?)",
                                      file.sync_os_tid));

  // The two brackets' midpoints are the same instant; error ≤ half the
  // difference of their lengths.
  out.kineto_minus_monotonic_ns = (sync->kineto_start_ns + sync->kineto_end_ns) / 2 -
                                  (file.sync_begin_ns + file.sync_end_ns) / 2;
  out.events.reserve(raws.size());
  for (int pass = 0; pass < 2; ++pass)
    for (RawActivity& r : raws) {
      if (r.ev.on_gpu != (pass == 0)) continue;
      r.ev.start_ns = r.kineto_start_ns - out.kineto_minus_monotonic_ns;
      r.ev.end_ns = r.kineto_end_ns - out.kineto_minus_monotonic_ns;
      out.gpu_events += r.ev.on_gpu ? 1 : 0;
      out.events.push_back(std::move(r.ev));
    }
  return out;
}

namespace {

// The thread id at the end of a live lane's name, "pid P thread T".
std::optional<uint64_t> LaneThread(const std::string& name) {
  const size_t at = name.rfind(" thread ");
  if (at == std::string::npos) return std::nullopt;
  return Digits<uint64_t>(std::string_view(name).substr(at + 8));
}

int32_t StepOf(const Trace& t, int64_t t_ns) {
  for (size_t i = 0; i < t.steps.size(); ++i)
    if (t.steps[i].start_ns <= t_ns && t_ns < t.steps[i].end_ns) return static_cast<int32_t>(i);
  return -1;
}

}  // namespace

void AddGpuActivityToTrace(const std::vector<GpuActivityEvent>& gpu, Trace* trace) {
  if (gpu.empty()) return;
  Trace& t = *trace;
  std::vector<std::optional<uint64_t>> lane_thread;
  for (const Lane& lane : t.lanes) lane_thread.push_back(LaneThread(lane.name));
  // Each launching thread's operators, by start: the innermost one running
  // at a time is the latest started that has not ended (they nest).
  std::unordered_map<uint64_t, std::vector<uint32_t>> ops_by_thread;
  for (uint32_t i = 0; i < t.events.size(); ++i)
    if (const auto& tid = lane_thread[t.events[i].lane]) ops_by_thread[*tid].push_back(i);
  for (auto& [tid, idx] : ops_by_thread)
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
      return t.events[a].start_ns < t.events[b].start_ns;
    });
  std::unordered_map<int64_t, const Event*> launched_in;  // correlation → operator
  for (const GpuActivityEvent& g : gpu) {
    if (g.on_gpu || g.correlation < 0) continue;
    auto it = ops_by_thread.find(g.os_tid);
    if (it == ops_by_thread.end()) continue;
    const std::vector<uint32_t>& idx = it->second;
    auto after = std::upper_bound(idx.begin(), idx.end(), g.start_ns, [&](int64_t x, uint32_t e) {
      return x < t.events[e].start_ns;
    });
    for (auto e = after; e != idx.begin();) {
      --e;
      if (t.events[*e].end_ns > g.start_ns) {
        launched_in[g.correlation] = &t.events[*e];
        break;
      }
    }
  }
  std::map<std::pair<int64_t, int64_t>, uint32_t> stream_lanes;
  std::vector<Event> added;
  for (const GpuActivityEvent& g : gpu) {
    if (!g.on_gpu) continue;
    auto [lane, fresh] = stream_lanes.try_emplace({g.device, g.stream},
                                                  static_cast<uint32_t>(t.lanes.size()));
    if (fresh)
      t.lanes.push_back(Lane{fmt::format("GPU:{}", g.device), fmt::format("stream {}", g.stream)});
    Event ev{g.start_ns, g.end_ns, kRootNode, lane->second, StepOf(t, g.start_ns),
             Phase::kOther};
    auto op = launched_in.find(g.correlation);
    if (op != launched_in.end()) {
      ev.node = t.nodes.Child(op->second->node, g.name, NodeKind::kKernel);
      ev.step = op->second->step;
      ev.phase = op->second->phase;
    } else {
      ev.node = t.nodes.Child(kRootNode, g.name, NodeKind::kKernel);
    }
    added.push_back(ev);
  }
  t.events.insert(t.events.end(), added.begin(), added.end());
}

}  // namespace smaragdine::live::internal
