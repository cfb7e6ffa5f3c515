// gen_trace_tool — a large synthetic trace and a 1 kHz run directory for it.
//
//   gen_trace_tool EVENTS [LANES] [OUT_DIR]        (defaults: 4 lanes, bench/data/EVENTS)
//   gen_trace_tool --tf1 EVENTS [LANES] [OUT_DIR]  (defaults: 4 threads, bench/data/tf1-EVENTS)
//
// PyTorch: writes OUT_DIR/trace.pt.trace.json (Kineto-style: ProfilerStep#N ⊃
// layer_K scope ⊃ cpu_op, on LANES threads running side by side).
// --tf1: writes OUT_DIR/trace.json, a TensorFlow 1 timeline as
// `Timeline.generate_chrome_trace_format()` writes it (pretty-printed with an
// indent of 4, integer epoch µs, "cat": "Op", the op type as `name`, the
// scoped node name in args.name, args.op and args.inputN, DataFlow s/t pairs
// for inputs made on another thread; see tests/data and the TF1 fixture): a
// BERT-like training step of 4 encoder layers, forward
// (`bert/encoder/layer_3/attention/self/query/MatMul`), backward
// (`gradients/bert/encoder/layer_3/attention/self/query/MatMul_grad/MatMul_1`)
// and GradientDescent updates, on one main executor thread with parallel
// branches (query/key/value) on up to LANES - 1 others.
// Both: OUT_DIR/run/ (cpu:0/package read at 1 kHz over the whole trace) and
// OUT_DIR/events.txt (the number of op events, X; flows and metadata are not
// counted). The JSON is streamed through a small buffer: memory does not grow
// with EVENTS.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
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


// One TF1 node of the BERT-like step: its scoped name and op type.
struct TfNode {
  std::string name;
  std::string op;
};

// The forward ops of one encoder layer, relative to its scope.
std::vector<TfNode> LayerForward() {
  std::vector<TfNode> v;
  for (const char* head : {"query", "key", "value"}) {
    v.push_back({fmt::format("attention/self/{}/MatMul", head), "MatMul"});
    v.push_back({fmt::format("attention/self/{}/BiasAdd", head), "BiasAdd"});
  }
  for (const char* n : {"Reshape", "transpose", "Reshape_1", "transpose_1", "Reshape_2",
                        "transpose_2"})
    v.push_back({fmt::format("attention/self/{}", n), n[0] == 'R' ? "Reshape" : "Transpose"});
  v.push_back({"attention/self/MatMul", "BatchMatMul"});
  v.push_back({"attention/self/Mul", "Mul"});
  v.push_back({"attention/self/add", "Add"});
  v.push_back({"attention/self/Softmax", "Softmax"});
  v.push_back({"attention/self/dropout/mul", "Mul"});
  v.push_back({"attention/self/MatMul_1", "BatchMatMul"});
  v.push_back({"attention/self/transpose_3", "Transpose"});
  v.push_back({"attention/self/Reshape_3", "Reshape"});
  auto dense = [&](const std::string& scope) {
    v.push_back({scope + "/dense/MatMul", "MatMul"});
    v.push_back({scope + "/dense/BiasAdd", "BiasAdd"});
  };
  auto layer_norm = [&](const std::string& scope) {
    for (auto [n, op] : {std::pair{"moments/mean", "Mean"}, {"moments/SquaredDifference",
                         "SquaredDifference"}, {"moments/variance", "Mean"}, {"batchnorm/add",
                         "Add"}, {"batchnorm/Rsqrt", "Rsqrt"}, {"batchnorm/mul", "Mul"},
                         {"batchnorm/mul_1", "Mul"}, {"batchnorm/sub", "Sub"},
                         {"batchnorm/add_1", "Add"}})
      v.push_back({fmt::format("{}/LayerNorm/{}", scope, n), op});
  };
  dense("attention/output");
  v.push_back({"attention/output/dropout/mul", "Mul"});
  v.push_back({"attention/output/add", "Add"});
  layer_norm("attention/output");
  dense("intermediate");
  for (auto [n, op] : {std::pair{"Pow", "Pow"}, {"mul", "Mul"}, {"add", "Add"}, {"mul_1", "Mul"},
                       {"Tanh", "Tanh"}, {"add_1", "Add"}, {"mul_2", "Mul"}, {"mul_3", "Mul"}})
    v.push_back({fmt::format("intermediate/dense/{}", n), op});
  dense("output");
  v.push_back({"output/dropout/mul", "Mul"});
  v.push_back({"output/add", "Add"});
  layer_norm("output");
  return v;
}

// The gradient ops of a forward op, as TF1's graph gradients name them.
std::vector<std::string_view> GradOps(std::string_view op) {
  if (op == "MatMul" || op == "BatchMatMul") return {"MatMul", "MatMul_1"};
  if (op == "BiasAdd") return {"BiasAddGrad"};
  if (op == "Mul") return {"Mul", "Mul_1"};
  if (op == "Add" || op == "Sub") return {"Sum"};
  if (op == "Softmax") return {"mul", "Sum", "sub", "mul_1"};
  if (op == "Mean") return {"Tile", "truediv"};
  if (op == "Reshape") return {"Reshape"};
  if (op == "Transpose") return {"transpose"};
  if (op == "Tanh") return {"TanhGrad"};
  if (op == "Pow") return {"mul", "mul_1"};
  if (op == "Rsqrt") return {"RsqrtGrad"};
  if (op == "SquaredDifference") return {"mul", "sub", "mul_1"};
  return {std::string_view("Identity")};
}

// The op type TF1 writes for a gradient op (its last name part, roughly).
std::string_view GradOpType(std::string_view part) {
  if (part.substr(0, 6) == "MatMul") return "MatMul";
  if (part == "BiasAddGrad" || part == "TanhGrad" || part == "RsqrtGrad" || part == "Tile" ||
      part == "Reshape" || part == "Sum")
    return part;
  if (part.substr(0, 3) == "mul" || part.substr(0, 3) == "Mul") return "Mul";
  if (part.substr(0, 3) == "sub") return "Sub";
  if (part == "truediv") return "RealDiv";
  if (part == "transpose") return "Transpose";
  return "Identity";
}

// One training step's ops in execution order, in waves: the ops of a wave
// run side by side on different threads (query/key/value), the waves one
// after another.
std::vector<std::vector<TfNode>> Tf1Step(int layers) {
  std::vector<std::vector<TfNode>> waves;
  auto single = [&](TfNode n) { waves.push_back({std::move(n)}); };
  single({"bert/embeddings/GatherV2", "GatherV2"});
  single({"bert/embeddings/add", "Add"});
  single({"bert/embeddings/LayerNorm/batchnorm/add_1", "Add"});
  const std::vector<TfNode> layer = LayerForward();
  std::vector<TfNode> forward;  // every forward op, for the backward pass
  for (int l = 0; l < layers; ++l) {
    const std::string scope = fmt::format("bert/encoder/layer_{}/", l);
    for (size_t k = 0; k < layer.size(); ++k) {
      TfNode n{scope + layer[k].name, layer[k].op};
      forward.push_back(n);
      // query/key/value MatMul then BiasAdd: two waves of three.
      if (k < 6) {
        if (k % 2 == 0 && k < 6) {
          if (k == 0) waves.emplace_back(), waves.emplace_back();
          waves[waves.size() - 2].push_back(n);
        } else {
          waves.back().push_back(n);
        }
        continue;
      }
      single(std::move(n));
    }
  }
  single({"cls/predictions/transform/dense/MatMul", "MatMul"});
  single({"cls/predictions/MatMul", "MatMul"});
  single({"cls/predictions/LogSoftmax", "LogSoftmax"});
  single({"loss/Mean", "Mean"});
  single({"gradients/Shape", "Shape"});
  single({"gradients/Fill", "Fill"});
  for (size_t k = forward.size(); k-- > 0;) {
    const TfNode& f = forward[k];
    const size_t slash = f.name.rfind('/');
    const std::string prefix = fmt::format("gradients/{}/{}_grad/", f.name.substr(0, slash),
                                           f.name.substr(slash + 1));
    for (std::string_view g : GradOps(f.op))
      single({prefix + std::string(g), std::string(GradOpType(g))});
  }
  for (int l = 0; l < layers; ++l) {
    for (const char* var : {"attention/self/query/kernel", "attention/self/query/bias",
                            "attention/self/key/kernel", "attention/self/key/bias",
                            "attention/self/value/kernel", "attention/self/value/bias",
                            "attention/output/dense/kernel", "attention/output/dense/bias",
                            "attention/output/LayerNorm/beta", "attention/output/LayerNorm/gamma",
                            "intermediate/dense/kernel", "intermediate/dense/bias",
                            "output/dense/kernel", "output/dense/bias", "output/LayerNorm/beta",
                            "output/LayerNorm/gamma"})
      single({fmt::format("GradientDescent/update_bert/encoder/layer_{}/{}/"
                          "ApplyGradientDescent",
                          l, var),
              "ApplyGradientDescent"});
  }
  return waves;
}

// TF1's pretty-printed timeline (json.dumps(indent=4)), streamed.
class Tf1Writer {
 public:
  explicit Tf1Writer(FILE* f) : f_(f) {}
  ~Tf1Writer() { Flush(); }
  void Begin() {
    Raw("{\n    \"traceEvents\": [");
    const char* procs[] = {"Allocators", "/job:localhost/replica:0/task:0/cpu:0 Compute",
                           "/job:localhost/replica:0/task:0/cpu:0 Tensors"};
    for (int pid = 0; pid < 3; ++pid)
      Object(fmt::format("\n            \"args\": {{\n                \"name\": \"{}\"\n"
                         "            }},\n            \"pid\": {},\n"
                         "            \"name\": \"process_name\",\n            \"ph\": \"M\"",
                         procs[pid], pid));
  }
  void Op(const TfNode& n, int tid, int64_t start_us, int64_t dur_us,
          const std::vector<std::string_view>& inputs) {
    std::string args;
    for (size_t k = 0; k < inputs.size(); ++k)
      args += fmt::format("                \"input{}\": \"{}\",\n", k, inputs[k]);
    Object(fmt::format(
        "\n            \"pid\": 1,\n            \"tid\": {},\n            \"cat\": \"Op\",\n"
        "            \"args\": {{\n{}                \"name\": \"{}\",\n"
        "                \"op\": \"{}\"\n            }},\n            \"name\": \"{}\",\n"
        "            \"ts\": {},\n            \"dur\": {},\n            \"ph\": \"X\"",
        tid, args, n.name, n.op, n.op, start_us, dur_us));
  }
  void Flow(char ph, int64_t id, std::string_view name, int tid, int64_t ts_us) {
    Object(fmt::format("\n            \"pid\": 1,\n            \"tid\": {},\n"
                       "            \"cat\": \"DataFlow\",\n            \"id\": {},\n"
                       "            \"name\": \"{}\",\n            \"ts\": {},\n"
                       "            \"ph\": \"{}\"",
                       tid, id, name, ts_us, ph));
  }
  void End() { Raw("\n    ]\n}"); }

 private:
  void Object(const std::string& body) {
    Raw(first_ ? "\n        {" : ",\n        {");
    first_ = false;
    Raw(body);
    Raw("\n        }");
    if (buf_.size() > (1 << 20)) Flush();
  }
  void Raw(std::string_view s) { buf_.append(s.data(), s.data() + s.size()); }
  void Flush() {
    std::fwrite(buf_.data(), 1, buf_.size(), f_);
    buf_.clear();
  }
  FILE* f_;
  fmt::memory_buffer buf_;
  bool first_ = true;
};

// Writes the TF1 timeline: steps until `events` op events; returns the last
// event's end (CLOCK_MONOTONIC ns).
int64_t WriteTf1(FILE* f, int64_t events, int lanes, smaragdine::sim::Rng& rng) {
  const std::vector<std::vector<TfNode>> step = Tf1Step(4);
  Tf1Writer w(f);
  w.Begin();
  // TF1 writes whole µs: times stay on the µs grid.
  int64_t t_us = (kMonoStart + 2'000'000 + kRealtimeOffset) / 1000;
  std::vector<int64_t> free_us(lanes, 0);
  int64_t written = 0, flow_id = 0;
  const TfNode* prev = nullptr;  // the main chain's last op
  int prev_tid = 0;
  int64_t prev_start = 0;
  while (written < events) {
    for (const std::vector<TfNode>& wave : step) {
      if (written >= events) break;
      int64_t wave_end = t_us, first_start = t_us;
      for (size_t k = 0; k < wave.size() && written < events; ++k) {
        // The first op of a wave continues on the main thread (TF1's executor
        // runs one ready successor inline), the others go to the pool.
        const int tid = lanes > 1 && k > 0 ? 1 + static_cast<int>((k - 1) % (lanes - 1)) : 0;
        const int64_t start = std::max(t_us, free_us[tid]) + rng.Range(0, 2);
        const int64_t dur = rng.Range(5, 60);
        std::vector<std::string_view> inputs;
        if (prev) {
          inputs.push_back(prev->name);
          if (tid != prev_tid) {
            // An input made on another thread: TF1 draws it as a DataFlow pair.
            w.Flow('s', flow_id, prev->name, prev_tid, prev_start);
            w.Flow('t', flow_id, prev->name, tid, start);
            ++flow_id;
          }
        }
        w.Op(wave[k], tid, start, dur, inputs);
        if (k == 0) first_start = start;
        ++written;
        free_us[tid] = start + dur;
        wave_end = std::max(wave_end, start + dur);
      }
      prev = &wave[0];
      prev_tid = 0;
      prev_start = first_start;
      t_us = wave_end + rng.Range(1, 5);
    }
    t_us += 50;  // between session.run calls
  }
  w.End();
  return t_us * 1000 - kRealtimeOffset;
}

}  // namespace

int main(int argc, char** argv) {
  const bool tf1 = argc > 1 && std::string_view(argv[1]) == "--tf1";
  if (tf1) {
    --argc;
    ++argv;
  }
  if (argc < 2) {
    fmt::print(stderr, "usage: gen_trace_tool [--tf1] EVENTS [LANES] [OUT_DIR]\n");
    return 1;
  }
  const int64_t events = std::atoll(argv[1]);
  const int lanes = argc > 2 ? std::atoi(argv[2]) : 4;
  const std::string out =
      argc > 3 ? argv[3] : fmt::format("bench/data/{}{}", tf1 ? "tf1-" : "", events);
  if (events <= 0 || lanes <= 0) {
    fmt::print(stderr, "gen_trace_tool: EVENTS and LANES must be positive\n");
    return 1;
  }
  std::filesystem::create_directories(out);
  const std::string trace_file = tf1 ? "trace.json" : "trace.pt.trace.json";
  FILE* f = std::fopen((out + "/" + trace_file).c_str(), "wb");
  if (!f) {
    fmt::print(stderr, "gen_trace_tool: cannot write {}\n", out);
    return 2;
  }
  smaragdine::sim::Rng rng(42);
  int64_t written = 0, end_ns = kMonoStart;
  if (tf1) {
    end_ns = WriteTf1(f, events, lanes, rng);
    written = events;
  } else {
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
  fmt::print("{} events on {} lanes over {:.3f} s; {} readings\nwrote {}/{} and {}/run/\n",
             written, lanes, (end_ns - kMonoStart) * 1e-9, readings.size(), out, trace_file, out);
  FILE* n = std::fopen((out + "/events.txt").c_str(), "w");
  if (n) {
    fmt::print(n, "{}\n", written);
    std::fclose(n);
  }
  return 0;
}
