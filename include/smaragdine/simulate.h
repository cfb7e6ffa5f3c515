// simulate.h — traces and energy logs with a known answer.
//
// Simulate() builds a synthetic program (lanes, steps, nested scopes, ops with
// a per-name dynamic power), the trace a profiler would have written for it
// (PyTorch Kineto or TF1 timeline JSON), the energy readings a quantised,
// slowly updating counter would have given, and the exact answer of the
// attribution model of DESIGN §6 (the "truth"). SimulateEnergyForTrace() does
// the energy half for a real trace. Everything is deterministic in the seed.
//
//   SimResult sim = Simulate(*ScenarioPreset("sequential"));
//   SMG_ASSIGN_OR_RETURN(Trace t, ParseTrace(sim.trace_name, sim.trace_text, {}));
//   SMG_ASSIGN_OR_RETURN(EnergyLog log, SimulatedEnergyLog(sim));
//   double op_j = sim.truth.SelfJ("model/layer_0/attention/MatMul", 0);
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/energy_log.h"
#include "smaragdine/status.h"
#include "smaragdine/trace.h"

namespace smaragdine {

// One synthetic run. Times are ns; powers W; energies J. Every op boundary is a
// multiple of quantum_ns after the first op, so a scenario whose quantum is a
// multiple of the sample period (and no jitter, update period = sample period)
// has readings exactly at every slice boundary: its answer is exact up to the
// counter unit.
struct SimScenario {
  uint64_t seed = 1;
  std::string dialect = "pytorch";  // "pytorch" (Kineto JSON) | "tf1" (TF1 timeline)
  int threads = 1;                  // CPU lanes, all on device CPU:0
  int steps = 3;                    // ProfilerStep#N (pytorch); one file each is not done for tf1
  int ops_per_step = 8;             // per lane and step
  int64_t op_min_ns = 200'000;      // op duration, uniform in [min, max], rounded to quantum
  int64_t op_max_ns = 2'000'000;
  int64_t gap_max_ns = 100'000;     // idle gap before each op, uniform in [0, max]
  int64_t step_gap_ns = 500'000;    // all lanes idle between steps
  int64_t quantum_ns = 1000;        // time grid of op boundaries (≥ 1000: the trace is in µs)
  double dyn_min_w = 5;             // per-op-name dynamic power, uniform in [min, max]
  double dyn_max_w = 40;
  double cpu_idle_w = 12;           // idle power of cpu:0/package
  double dram_idle_w = 0;           // > 0 adds cpu:0/dram, dynamic power 0.15 × the package's
  bool concurrent = false;          // false: lanes take turns; true: lanes run side by side
  int nesting = 3;                  // 0 flat; 1 model/op; 2 model/layer_N/op; 3 …/attention|mlp/op
  int distinct_ops = 6;             // how many op names (MatMul, Add, …) the ops draw from
  double counter_unit_j = 0;        // readings are floor(E / unit) · unit; 0 = exact
  int64_t update_period_ns = 1'000'000;  // the counter's value changes only this often
  int64_t sample_period_ns = 1'000'000;  // the sampler reads this often …
  double jitter = 0;                     // … ± jitter/2 · period (uniform)
  int64_t monotonic_start_ns = 1'000'000'000'000;            // first reading, CLOCK_MONOTONIC
  int64_t realtime_offset_ns = 1'700'000'000'000'000'000;    // realtime = monotonic + offset
  bool shuffle_events = false;      // write the trace's events in random order
};

// A named scenario ("sequential", "concurrent", "nested", "quantised", "tf1",
// "accuracy"). Errors: kUsage naming the known presets.
Result<SimScenario> ScenarioPreset(std::string_view name);
std::vector<std::string> ScenarioPresetNames();

// Self energy of one node on one domain, under the attribution model (§6).
struct SimTruthNode {
  std::vector<double> self_j;       // per domain, inside the window
  std::vector<double> physical_j;   // per domain: own dynamic energy + its share of idle power
  // Largest error the quantised counter can cause in self_j (per domain):
  // unit × (total variation of the node's share over the slices) / 2. Valid
  // only when SimTruth::aligned (readings at every slice boundary).
  std::vector<double> tolerance_j;
  int64_t calls = 0;
  int64_t time_ns = 0;
  bool scope = false;
};

struct SimTruth {
  std::vector<std::string> domains;
  int64_t window_start_ns = 0;  // monotonic: first event start
  int64_t window_end_ns = 0;    // monotonic: last event end
  std::vector<double> measured_j;  // exact physical energy in the window, per domain
  std::vector<double> idle_j;      // nothing active
  std::vector<double> idle_tolerance_j;
  std::vector<double> measured_tolerance_j;
  bool aligned = false;            // readings fall on every slice boundary
  std::map<std::string, SimTruthNode> nodes;  // by path; scopes included

  // Self / total (self plus descendants) energy of `path` on domain `d`; 0 when absent.
  double SelfJ(const std::string& path, size_t d) const;
  double TotalJ(const std::string& path, size_t d) const;
  double TotalToleranceJ(const std::string& path, size_t d) const;
  double TotalPhysicalJ(const std::string& path, size_t d) const;
};

struct SimResult {
  std::string trace_name;   // "trace.pt.trace.json" or "trace.json"; empty for --for-trace
  std::string trace_text;
  EnergyLog meta;           // domains, clock_sync, baseline, command; series left empty
  std::vector<RawReading> readings;  // sorted by time; what energy.csv holds
  SimTruth truth;
  std::string align_hint;   // extra `account` flags the trace needs (e.g. --trace-start-ns)
};

// Deterministic in scenario.seed. Never fails on a scenario with positive
// periods and counts; out-of-range knobs are clamped.
SimResult Simulate(const SimScenario& scenario);

// The readings as an EnergyLog, in memory, through the project's own CSV
// reader (so zero-delta coalescing is the reader's), with meta's domains,
// clock_sync and baseline restored.
Result<EnergyLog> SimulatedEnergyLog(const SimResult& sim);

// Writes DIR/<trace_name> (if any), DIR/run/ (run.json + energy.csv) and DIR/truth.json.
Status WriteSimulation(const SimResult& sim, const std::string& dir);
std::string TruthToJson(const SimTruth& truth);

struct TraceEnergyOptions {
  uint64_t seed = 1;
  double cpu_idle_w = 25;
  double gpu_idle_w = 70;
  int64_t sample_period_ns = 1'000'000;        // 1 kHz
  int64_t cpu_update_period_ns = 1'000'000;    // RAPL
  int64_t gpu_update_period_ns = 10'000'000;   // NVML: 10–100 ms
  double cpu_unit_j = 61e-6;                   // RAPL's usual 2^-14 J
  double gpu_unit_j = 1e-3;                    // NVML's mJ
  int64_t margin_ns = 50'000'000;              // readings before and after the trace
  double jitter = 0.02;                        // sampling jitter, fraction of the period
};

// A plausible energy log for a real trace (already read, not yet aligned): a
// cpu:N/package domain per CPU device and gpu:N per GPU device in its lanes,
// power = idle + a per-name dynamic power of the innermost event on each lane
// (GEMM/conv high, elementwise low), and clock_sync pairs mapping the trace's
// realtime onto a monotonic clock. Errors: kBadInput when the trace has no events.
Result<SimResult> SimulateEnergyForTrace(const Trace& trace, const TraceEnergyOptions& options);

}  // namespace smaragdine
