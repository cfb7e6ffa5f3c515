// trace_parse_bench — throughput of the Chrome-trace reader, stage by stage.
//
//   build/trace_parse_bench                          (the ResNet fixture, inflated)
//   SMARAGDINE_BENCH_TRACE=bench/data/1000000/trace.pt.trace.json build/trace_parse_bench
//
// Reports events/s (items) and input bytes/s for: the JSON reader alone
// (ParseChromeJson, per slice size; 0 = whole document), the reader plus the
// dialect (ParseTrace on bytes in memory), and ReadTrace from the file (read
// + parse + dialect). The machine is shared: compare CPU time, not wall.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/io.h"
#include "smaragdine/trace.h"
#include "trace/chrome_json.h"

namespace smaragdine {
namespace {

std::string TracePath() {
  const char* env = std::getenv("SMARAGDINE_BENCH_TRACE");
  if (env && *env) return env;
  // CMake compiles with absolute source paths: the repository is two levels up.
  std::string here = __FILE__;
  std::string root = here.substr(0, here.rfind("/bench/"));
  return root + "/tests/data/fixtures/pt2_resnet_ddp_train_v100_2024.pt.trace.json.gz";
}

// The inflated input, read once.
const std::string& Input() {
  static const std::string* bytes = [] {
    auto r = ReadFileMaybeGzip(TracePath());
    if (!r.ok()) {
      std::fprintf(stderr, "trace_parse_bench: %s\n", r.error().message.c_str());
      std::exit(1);
    }
    return new std::string(std::move(*r));
  }();
  return *bytes;
}

void BM_ParseChromeJson(benchmark::State& state) {
  const std::string& input = Input();
  int64_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string copy;
    copy.reserve(input.size() + trace_internal::kParsePadding);
    copy.assign(input);
    state.ResumeTiming();
    auto raw = trace_internal::ParseChromeJson("bench", std::move(copy),
                                               static_cast<size_t>(state.range(0)));
    if (!raw.ok()) {
      state.SkipWithError(raw.error().message.c_str());
      return;
    }
    events = static_cast<int64_t>(raw->events.size());
    benchmark::DoNotOptimize(raw->events.data());
  }
  state.SetItemsProcessed(state.iterations() * events);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.counters["events"] = static_cast<double>(events);
}
// The argument is the slice size in bytes (0: the whole document at once).
BENCHMARK(BM_ParseChromeJson)
    ->Arg(0)
    ->Arg(64 << 10)
    ->Arg(256 << 10)
    ->Arg(trace_internal::kDefaultSliceBytes)
    ->Arg(4 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ParseTrace(benchmark::State& state) {
  const std::string& input = Input();
  int64_t events = 0;
  for (auto _ : state) {
    auto t = ParseTrace("bench", input, TraceReadOptions{});
    if (!t.ok()) {
      state.SkipWithError(t.error().message.c_str());
      return;
    }
    events = static_cast<int64_t>(t->events.size());
    benchmark::DoNotOptimize(t->events.data());
  }
  state.SetItemsProcessed(state.iterations() * events);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.counters["events"] = static_cast<double>(events);
}
BENCHMARK(BM_ParseTrace)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ReadTrace(benchmark::State& state) {
  const std::string path = TracePath();
  int64_t events = 0;
  for (auto _ : state) {
    auto t = ReadTrace(path, TraceReadOptions{});
    if (!t.ok()) {
      state.SkipWithError(t.error().message.c_str());
      return;
    }
    events = static_cast<int64_t>(t->events.size());
    benchmark::DoNotOptimize(t->events.data());
  }
  state.SetItemsProcessed(state.iterations() * events);
  state.counters["events"] = static_cast<double>(events);
}
BENCHMARK(BM_ReadTrace)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace smaragdine

BENCHMARK_MAIN();
