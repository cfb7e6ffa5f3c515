// simulate.h — traces and energy logs with a known answer.
//
// Simulate() builds a synthetic program (lanes, steps, nested scopes, ops with
// a per-name dynamic power; or a BERT-like training run with forward,
// backward and optimizer phases), the trace a profiler would have written for
// it (PyTorch Kineto or TF1 timeline JSON), the readings a meter would have
// given (a quantised, slowly updating counter like RAPL, or a power meter
// reporting window averages like NVML), and the exact answer of the
// attribution model of DESIGN §6 (the "truth"), keyed by the paths the trace
// reader builds. SimulateEnergyForTrace() does the energy half for a real
// trace. Everything is deterministic in the seed.
//
//   SimResult sim = Simulate(*ScenarioPreset("bert-rapl"));
//   SMG_ASSIGN_OR_RETURN(Trace t, ParseTrace(sim.trace_name, sim.trace_text, {}));
//   SMG_ASSIGN_OR_RETURN(EnergyLog log, SimulatedEnergyLog(sim));
//   double j = sim.truth.TotalPhysicalJ("bert/encoder/layer_0/attention", 0);
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/energy_log.h"
#include "smaragdine/status.h"
#include "smaragdine/trace.h"

namespace smaragdine {

// One synthetic run. Times are ns; powers W; energies J. Every op boundary is a
// multiple of quantum_ns after the first op, so a scenario whose quantum is a
// multiple of the sample period (and no jitter, update period = sample period,
// phase 0, a counter) has readings exactly at every slice boundary: its answer
// is exact up to the counter unit.
struct SimScenario {
  uint64_t seed = 1;
  std::string dialect = "pytorch";  // "pytorch" (Kineto JSON) | "tf1" (TF1 timeline)
  // "random": ops drawn from the knobs below. "bert": a BERT-like training
  // run: embeddings, `layers` encoder layers, pooler, classifier and loss
  // forward, every op's backward in reverse order, then (optimizer_step) an
  // SGD update per parameter group; ops of 20–500 µs (median ~100 µs). Of
  // the knobs below it uses steps, step_gap_ns, quantum_ns, the powers and
  // the meter; threads > 1 adds data-loader lanes running beside the model.
  std::string program = "random";
  int layers = 4;                   // bert: encoder layers
  bool optimizer_step = true;       // bert: the optimizer phase after backward
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
  // The same op name in different places draws different power: × (1 + s·u),
  // u in [-1, 1] from a hash of the op's full path and phase (a big MatMul in
  // the MLP, a small one in attention). 0: one power per name. Clamped to [0, 0.95].
  double scope_spread = 0;
  // Each call's power × (1 + n·U(-1, 1)), drawn per call. 0: every call of a
  // class draws the same power. Clamped to [0, 0.95]. The truth's physical_j
  // uses each call's own power.
  double call_noise = 0;
  double cpu_idle_w = 12;           // idle power of cpu:0/package
  double dram_idle_w = 0;           // > 0 adds cpu:0/dram, dynamic power 0.15 × the package's
  bool concurrent = false;          // false: lanes take turns; true: lanes run side by side
  int nesting = 3;                  // 0 flat; 1 model/op; 2 model/layer_N/op; 3 …/attention|mlp/op
  int distinct_ops = 6;             // how many op names (MatMul, Add, …) the ops draw from
  // The meter (DESIGN §6.7), the same for every domain. It updates at
  // monotonic_start_ns + update_phase_ns + k·update_period_ns; a reading
  // shows its value at the last update. kCounter (RAPL): energy since the
  // update the first reading shows, floored to counter_unit_j. kWindowedPower
  // (NVML on A100/H100): the average power over window_ns before the update;
  // kInstantPower: the power at the update; both floored to power_unit_w and
  // written as power_w (quantity "power").
  MeterKind meter = MeterKind::kCounter;
  double counter_unit_j = 0;        // readings are floor(E / unit) · unit; 0 = exact
  int64_t update_period_ns = 1'000'000;  // the meter's value changes only this often
  // Offset of the update grid, taken modulo the period; nullopt: drawn from
  // the seed, uniform in [0, update_period_ns) (SimResult says which).
  std::optional<int64_t> update_phase_ns = 0;
  int64_t window_ns = 0;            // kWindowedPower; 0 = the update period
  double power_unit_w = 0;          // power meters; 0 = exact (NVML: 1e-3, whole mW)
  int64_t sample_period_ns = 1'000'000;  // the sampler reads this often …
  double jitter = 0;                     // … ± jitter/2 · period (uniform)
  int64_t monotonic_start_ns = 1'000'000'000'000;            // first reading, CLOCK_MONOTONIC
  int64_t realtime_offset_ns = 1'700'000'000'000'000'000;    // realtime = monotonic + offset
  bool shuffle_events = false;      // write the trace's events in random order
};

// A named scenario. Exact-answer checks: "sequential", "concurrent",
// "nested", "quantised", "tf1", "accuracy". BERT-like training for the
// meter-aware attribution (docs/simulate.md has every figure): "bert-rapl"
// (PyTorch, RAPL-like counter: 1 ms, random phase, 15.3 µJ, 1 kHz ± 5 %),
// "bert-rapl-tf1", "bert-rapl-concurrent" (+ a data-loader lane),
// "bert-nvml" (A100-like: 25 ms average every 100 ms), "bert-nvml-1s" (1 s
// average every 100 ms). Errors: kUsage naming the known presets.
Result<SimScenario> ScenarioPreset(std::string_view name);
std::vector<std::string> ScenarioPresetNames();
// Each preset with what it is, wrapped to 80 columns, for --help.
std::string ScenarioPresetHelp();

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
  // self_j, physical_j and calls split by the phase the trace reader gives
  // each event (index: Phase). A backward op lands on its forward op's path.
  std::array<std::vector<double>, kPhaseCount> phase_self_j;
  std::array<std::vector<double>, kPhaseCount> phase_physical_j;
  std::array<int64_t, kPhaseCount> phase_calls{};
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
  // The same restricted to one phase.
  double PhaseTotalJ(const std::string& path, Phase phase, size_t d) const;
  double PhaseTotalPhysicalJ(const std::string& path, Phase phase, size_t d) const;
  // True when some event is not in the forward phase (truth.json then has "phases").
  bool HasPhases() const;
};

struct SimResult {
  std::string trace_name;   // "trace.pt.trace.json" or "trace.json"; empty for --for-trace
  std::string trace_text;
  EnergyLog meta;           // domains, clock_sync, baseline, command; series left empty
  std::vector<RawReading> readings;  // sorted by time; what energy.csv holds
  SimTruth truth;
  std::string align_hint;   // extra `account` flags the trace needs (e.g. --trace-start-ns)
  // The meter's update phase actually used (the scenario's, or the one drawn
  // from the seed): updates at meta.started_ns + update_phase_ns + k·period.
  int64_t update_phase_ns = 0;
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

// ---- A distributed job (docs/distributed.md) ----

// `nodes` machines of `ranks_per_node` ranks each (simulate --job NxR).
struct SimJobShape {
  int nodes = 3;
  int ranks_per_node = 2;
};

// One machine of a simulated job: its own run (energy log and truth, on its
// own clock: each machine's monotonic clock starts elsewhere, and its
// realtime offset differs by some ms, as unsynchronised machines' do) and
// one Kineto trace per rank, named "rank-<K>.pt.trace.json", carrying the
// rank, world size and local rank in distributedInfo and the host name.
struct SimJobNode {
  std::string host;  // "node-<m>"
  SimResult sim;     // the machine's run; sim.trace_text is the ranks' trace before the split
  std::vector<std::pair<std::string, std::string>> rank_traces;  // file name, JSON
};

// Each machine runs `scenario` (program "random", PyTorch dialect) with one
// lane per rank running side by side; machine m uses seed scenario.seed + m.
// The ranks share their machine's domains, as ranks on one package do.
// Errors: kUsage for a shape below 1×1 or above 1,000 machines or 64 ranks per
// machine, and for a scenario that is not a PyTorch "random" program.
Result<std::vector<SimJobNode>> SimulateJob(const SimScenario& scenario, const SimJobShape& shape);
// Writes DIR/node-<m>/ for each machine: the ranks' traces, run/ and truth.json.
Status WriteSimulatedJob(const std::vector<SimJobNode>& job, const std::string& dir);
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
