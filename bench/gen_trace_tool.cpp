// gen_trace_tool — a large synthetic PyTorch trace and a 1 kHz run directory for it.
//
//   gen_trace_tool EVENTS [LANES] [OUT_DIR]     (defaults: 4 lanes, bench/data/EVENTS)
//
// Writes OUT_DIR/trace.pt.trace.json (Kineto-style: ProfilerStep#N ⊃ layer_K
// scope ⊃ cpu_op, on LANES threads running side by side) and OUT_DIR/run/
// (cpu:0/package read at 1 kHz over the whole trace). The JSON is streamed
// through a small buffer: memory does not grow with EVENTS.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sim/model.h"
#include "smaragdine/energy_log.h"

namespace {

constexpr int64_t kMonoStart = 1'000'000'000'000;
constexpr int64_t kRealtimeOffset = 1'700'000'000'000'000'000;
constexpr int kOpsPerLayer = 15;
constexpr int kLayersPerStep = 8;
constexpr const char* kOps[] = {"aten::mm", "aten::add", "aten::softmax", "aten::relu",
                                "aten::layer_norm", "aten::mul", "aten::gelu", "aten::view"};

class Writer {
 public:
  explicit Writer(FILE* f) : f_(f) {}
  ~Writer() { Flush(); }
  void Event(const char* cat, std::string_view name, int tid, int64_t start_ns, int64_t dur_ns) {
    int64_t ts = start_ns + kRealtimeOffset;
    fmt::format_to(std::back_inserter(buf_),
                   "{}\n{{\"ph\": \"X\", \"cat\": \"{}\", \"name\": \"{}\", \"pid\": 7, \"tid\": {}, "
                   "\"ts\": {}.{:03d}, \"dur\": {}.{:03d}, \"args\": {{\"External id\": {}}}}}",
                   first_ ? "" : ",", cat, name, tid, ts / 1000, ts % 1000, dur_ns / 1000,
                   dur_ns % 1000, ++ext_);
    first_ = false;
    if (buf_.size() > (1 << 20)) Flush();
  }
  void Raw(std::string_view s) {
    buf_.append(s.data(), s.data() + s.size());
  }
  void Flush() {
    std::fwrite(buf_.data(), 1, buf_.size(), f_);
    buf_.clear();
  }

 private:
  FILE* f_;
  fmt::memory_buffer buf_;
  bool first_ = true;
  int64_t ext_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: gen_trace_tool EVENTS [LANES] [OUT_DIR]\n");
    return 1;
  }
  const int64_t events = std::atoll(argv[1]);
  const int lanes = argc > 2 ? std::atoi(argv[2]) : 4;
  const std::string out = argc > 3 ? argv[3] : fmt::format("bench/data/{}", events);
  if (events <= 0 || lanes <= 0) {
    fmt::print(stderr, "gen_trace_tool: EVENTS and LANES must be positive\n");
    return 1;
  }
  std::filesystem::create_directories(out);
  FILE* f = std::fopen((out + "/trace.pt.trace.json").c_str(), "wb");
  if (!f) {
    fmt::print(stderr, "gen_trace_tool: cannot write {}\n", out);
    return 2;
  }
  smaragdine::sim::Rng rng(42);
  int64_t written = 0, end_ns = kMonoStart;
  {
    Writer w(f);
    w.Raw("{\"schemaVersion\": 1, \"deviceProperties\": [], \"traceEvents\": [");
    const int64_t per_lane = events / lanes;
    struct Op {
      int64_t start_ns, dur_ns;
      int name;
    };
    std::vector<Op> ops;
    for (int lane = 0; lane < lanes; ++lane) {
      const int tid = 100 + lane;
      int64_t t = kMonoStart + 2'000'000;
      int64_t lane_written = 0;
      for (int step = 0; lane_written < per_lane; ++step) {
        // One step: 1 + layers × (1 + ops) events; the last step is cut to fit.
        int64_t budget = per_lane - lane_written;
        std::string step_name = fmt::format("ProfilerStep#{}", step);
        const int64_t step_start = t;
        std::vector<std::pair<int64_t, std::vector<Op>>> layers;
        int64_t used = 1;
        for (int l = 0; l < kLayersPerStep && used + 2 <= budget; ++l) {
          ops.clear();
          int64_t layer_start = t;
          ++used;
          for (int k = 0; k < kOpsPerLayer && used + 1 <= budget; ++k, ++used) {
            t += 1000 * rng.Range(0, 2);  // launch gaps, µs
            int64_t dur = 1000 * rng.Range(2, 20) + rng.Range(0, 999);
            ops.push_back({t, dur, static_cast<int>(rng.Next() % 8)});
            t += dur;
          }
          layers.emplace_back(layer_start, ops);
        }
        w.Event("user_annotation", step_name, tid, step_start, t - step_start);
        for (size_t l = 0; l < layers.size(); ++l) {
          const auto& [start, lops] = layers[l];
          int64_t layer_end = lops.empty() ? start + 1000 : lops.back().start_ns + lops.back().dur_ns;
          w.Event("user_annotation", fmt::format("layer_{}", l), tid, start, layer_end - start);
          for (const Op& op : lops) w.Event("cpu_op", kOps[op.name], tid, op.start_ns, op.dur_ns);
        }
        lane_written += used;
        t += 5000;
      }
      written += lane_written;
      end_ns = std::max(end_ns, t);
    }
    w.Raw("\n], \"traceName\": \"gen_trace_tool\", \"displayTimeUnit\": \"ms\"}\n");
  }
  std::fclose(f);

  // 1 kHz readings of a package whose power wanders between 20 and 60 W.
  const int64_t log_end = end_ns + 2'000'000;
  smaragdine::EnergyLog meta;
  meta.domains.push_back({"cpu:0/package", "CPU:0", "simulated", smaragdine::Quantity::kEnergy,
                          61e-6, 1'000'000, false});
  for (int64_t t = kMonoStart; t < log_end; t += 1'000'000'000)
    meta.clock_sync.push_back({t + kRealtimeOffset, t});
  meta.clock_sync.push_back({log_end + kRealtimeOffset, log_end});
  meta.command = {"gen_trace_tool", std::to_string(events)};
  std::vector<smaragdine::RawReading> readings;
  double e = 0, p = 40;
  for (int64_t t = kMonoStart; t <= log_end + 1'000'000; t += 1'000'000) {
    readings.push_back({t, 0, std::floor(e / 61e-6) * 61e-6});
    p = std::clamp(p + (rng.Uniform() - 0.5) * 4, 20.0, 60.0);
    e += p * 1e-3;
  }
  smaragdine::Status st = smaragdine::WriteRunDirectory(out + "/run", meta, readings);
  if (!st.ok()) {
    fmt::print(stderr, "gen_trace_tool: {}\n", st.error().ToString());
    return 2;
  }
  fmt::print("{} events on {} lanes over {:.3f} s; {} readings\nwrote {}/trace.pt.trace.json and {}/run/\n",
             written, lanes, (end_ns - kMonoStart) * 1e-9, readings.size(), out, out);
  FILE* n = std::fopen((out + "/events.txt").c_str(), "w");
  if (n) {
    fmt::print(n, "{}\n", written);
    std::fclose(n);
  }
  return 0;
}
