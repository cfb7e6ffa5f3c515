// xplane_parse_bench — the XPlane (protobuf) reader against the JSON reader
// on the same events.
//
//   build/xplane_parse_bench                                   (1,000,000 events)
//   SMARAGDINE_BENCH_XPLANE_EVENTS=200000 build/xplane_parse_bench
//
// Builds in memory a TF2-style XSpace (one /host:CPU plane, 4 executor
// threads; ops with a display name and their scope path as the metadata
// name, a group_id stat on every event, an ExecutorState::Process around
// every 16 ops) and its trace viewer JSON twin (what TensorBoard writes for
// it: long_name and group_id args, ts/dur in µs with ns decimals). Reports
// events/s and bytes/event for each reader alone (RawTrace) and with the
// tf2 rules (ParseTrace). The machine is shared: compare CPU time.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdlib>
#include <string>

#include "smaragdine/trace.h"
#include "trace/chrome_json.h"
#include "trace/xplane_reader.h"

namespace smaragdine {
namespace {

int64_t EventCount() {
  const char* env = std::getenv("SMARAGDINE_BENCH_XPLANE_EVENTS");
  return env && *env ? std::atoll(env) : 1'000'000;
}

// Protobuf bytes, field by field.
class Pb {
 public:
  Pb& Varint(uint32_t field, uint64_t v) {
    Raw(uint64_t{field} << 3);
    Raw(v);
    return *this;
  }
  Pb& Bytes(uint32_t field, std::string_view b) {
    Raw((uint64_t{field} << 3) | 2);
    Raw(b.size());
    s_.append(b);
    return *this;
  }
  Pb& Message(uint32_t field, const Pb& m) { return Bytes(field, m.s_); }
  const std::string& str() const { return s_; }

 private:
  void Raw(uint64_t v) {
    while (v >= 0x80) {
      s_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    s_ += static_cast<char>(v);
  }
  std::string s_;
};

constexpr int kThreads = 4;
constexpr int kOpsPerProcess = 16;
constexpr int kDistinctOps = 400;
const char* kOpTypes[] = {"MatMul", "BiasAdd", "Relu",    "Softmax",
                          "AddV2",  "Mul",     "Reshape", "Tanh"};

struct Inputs {
  std::string xplane, json;
  int64_t events = 0;
};

const Inputs& Make() {
  static const Inputs* in = [] {
    auto* r = new Inputs;
    const int64_t n = EventCount();
    std::vector<std::string> long_names;
    for (int i = 0; i < kDistinctOps; ++i)
      long_names.push_back(fmt::format("model/layer_{}/block_{}/dense_{}/{}:{}", i / 40,
                                       (i / 8) % 5, i % 8, kOpTypes[i % 8], kOpTypes[i % 8]));
    Pb plane;
    plane.Varint(1, 1).Bytes(2, "/host:CPU");
    std::string& js = r->json;
    js = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
         "{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"/host:CPU\"}}";
    const int64_t per_thread = n / kThreads;
    for (int t = 0; t < kThreads; ++t) {
      Pb line;
      line.Varint(1, 100 + t).Bytes(2, fmt::format("tf_Compute/{}", t)).Varint(3, 1000);
      fmt::format_to(std::back_inserter(js),
                     ",\n{{\"ph\":\"M\",\"pid\":1,\"tid\":{},\"name\":\"thread_name\",\"args\":{{"
                     "\"name\":\"tf_Compute/{}\"}}}}",
                     100 + t, t);
      int64_t t_ps = 0;
      for (int64_t k = 0; k < per_thread; ++k) {
        const bool process = k % (kOpsPerProcess + 1) == 0;
        const int64_t op = process ? 0 : (k * 7 + t) % kDistinctOps + 1;
        const int64_t dur_ps = process ? int64_t{kOpsPerProcess} * 2'500'000 - 100'000 : 2'000'123;
        const int64_t start_ps = process ? t_ps : t_ps + 250'000;
        const int64_t group = k / 1000;
        Pb ev;
        ev.Varint(1, process ? kDistinctOps + 1 : op).Varint(2, start_ps).Varint(3, dur_ps);
        ev.Message(4, Pb().Varint(1, 1).Varint(4, group));
        line.Message(4, ev);
        const int64_t ts_ps = 1'000'000 + start_ps;  // line timestamp 1000 ns
        fmt::format_to(std::back_inserter(js),
                       ",\n{{\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{}.{:06d},\"dur\":{}.{:06d},"
                       "\"name\":\"{}\",\"args\":{{\"group_id\":\"{}\"",
                       100 + t, ts_ps / 1'000'000, ts_ps % 1'000'000, dur_ps / 1'000'000,
                       dur_ps % 1'000'000,
                       process ? "ExecutorState::Process" : kOpTypes[(op - 1) % 8], group);
        if (!process)
          fmt::format_to(std::back_inserter(js), ",\"long_name\":\"{}\"", long_names[op - 1]);
        js += "}}";
        t_ps = process ? t_ps : t_ps + 2'500'000;
        ++r->events;
      }
      plane.Message(3, line);
    }
    js += "\n]}\n";
    for (int i = 0; i < kDistinctOps; ++i)
      plane.Message(
          4, Pb().Varint(1, i + 1).Message(
                 2, Pb().Varint(1, i + 1).Bytes(2, long_names[i]).Bytes(4, kOpTypes[i % 8])));
    plane.Message(
        4, Pb().Varint(1, kDistinctOps + 1)
               .Message(2, Pb().Varint(1, kDistinctOps + 1).Bytes(2, "ExecutorState::Process")));
    plane.Message(5, Pb().Varint(1, 1).Message(2, Pb().Varint(1, 1).Bytes(2, "group_id")));
    r->xplane = Pb().Message(1, plane).str();
    return r;
  }();
  return *in;
}

void Report(benchmark::State& state, int64_t events, size_t bytes) {
  state.SetItemsProcessed(state.iterations() * events);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["events"] = static_cast<double>(events);
  state.counters["bytes_per_event"] = static_cast<double>(bytes) / static_cast<double>(events);
}

void BM_XPlaneReader(benchmark::State& state) {
  const Inputs& in = Make();
  int64_t events = 0;
  for (auto _ : state) {
    trace_internal::RawTrace raw;
    trace_internal::XSpaceInfo info;
    Status st = trace_internal::ParseXSpace("bench", in.xplane, &raw, &info);
    if (!st.ok()) {
      state.SkipWithError(st.error().message.c_str());
      return;
    }
    events = info.events;
    benchmark::DoNotOptimize(raw.events.data());
  }
  Report(state, events, in.xplane.size());
}
BENCHMARK(BM_XPlaneReader)->Unit(benchmark::kMillisecond);

void BM_JsonReader(benchmark::State& state) {
  const Inputs& in = Make();
  int64_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string copy;
    copy.reserve(in.json.size() + trace_internal::kParsePadding);
    copy.assign(in.json);
    state.ResumeTiming();
    auto raw = trace_internal::ParseChromeJson("bench", std::move(copy));
    if (!raw.ok()) {
      state.SkipWithError(raw.error().message.c_str());
      return;
    }
    events = 0;
    for (const auto& e : raw->events) events += e.ph == 'X';
    benchmark::DoNotOptimize(raw->events.data());
  }
  Report(state, events, in.json.size());
}
BENCHMARK(BM_JsonReader)->Unit(benchmark::kMillisecond);

// Reader + tf2 rules: what `account` pays per file.
void BM_ParseTrace(benchmark::State& state, bool xplane) {
  const Inputs& in = Make();
  const std::string& bytes = xplane ? in.xplane : in.json;
  int64_t events = 0;
  for (auto _ : state) {
    Result<Trace> t = ParseTrace("bench", bytes, {});
    if (!t.ok()) {
      state.SkipWithError(t.error().message.c_str());
      return;
    }
    events = static_cast<int64_t>(t->events.size());
    benchmark::DoNotOptimize(t->events.data());
  }
  Report(state, events, bytes.size());
}
BENCHMARK_CAPTURE(BM_ParseTrace, xplane, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ParseTrace, json, false)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace smaragdine

BENCHMARK_MAIN();
