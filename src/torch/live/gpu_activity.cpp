#include "torch/live/gpu_activity.h"

#include <cmath>
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
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    int64_t v = 0;
    if (s.empty() || s.size() > 18) return std::nullopt;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return v;
  }
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

}  // namespace smaragdine::live::internal
