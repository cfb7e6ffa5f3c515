// attribute_bench — CPU time of Attribute alone (the trace read and aligned once).
//
//   build/gen_trace_tool 1000000 4 bench/data/1000000     (once)
//   SMARAGDINE_BENCH_DIR=bench/data/1000000 build/attribute_bench
//
// The directory holds gen_trace_tool's trace.pt.trace.json and run/. Reports
// events/s (items). The machine is shared: compare CPU time, not wall.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "smaragdine/account.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/trace.h"

namespace smaragdine {
namespace {

struct Input {
  Trace trace;
  EnergyLog log;
};

const Input& Load() {
  static const Input* input = [] {
    const char* env = std::getenv("SMARAGDINE_BENCH_DIR");
    const std::string dir = env && *env ? env : "bench/data/100000";
    auto fail = [&](const Error& e) {
      std::fprintf(stderr, "attribute_bench: %s (set SMARAGDINE_BENCH_DIR)\n",
                   e.ToString().c_str());
      std::exit(1);
    };
    auto* in = new Input;
    auto log = ReadEnergy(dir + "/run", EnergyImportOptions{});
    if (!log.ok()) fail(log.error());
    in->log = std::move(*log);
    auto trace = ReadTraces({dir + "/trace.pt.trace.json"}, TraceReadOptions{});
    if (!trace.ok()) fail(trace.error());
    in->trace = std::move(*trace);
    auto aligned = AlignTrace(in->trace, in->log, AlignOptions{});
    if (!aligned.ok()) fail(aligned.error());
    return in;
  }();
  return *input;
}

void BM_Attribute(benchmark::State& state) {
  const Input& in = Load();
  for (auto _ : state) {
    auto profile = Attribute(in.trace, in.log, AttributeOptions{});
    if (!profile.ok()) {
      state.SkipWithError(profile.error().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(profile->nodes.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(in.trace.events.size()));
}
BENCHMARK(BM_Attribute)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace
}  // namespace smaragdine

BENCHMARK_MAIN();
