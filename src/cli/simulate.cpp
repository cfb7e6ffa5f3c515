// `smaragdine simulate`: a trace and an energy log with a known answer.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/output_file.h"
#include "smaragdine/simulate.h"
#include "smaragdine/trace.h"

namespace smaragdine::cli {
namespace {

struct SimulateOptions {
  std::string scenario = "sequential";
  std::vector<std::string> for_trace;
  std::string output;
  // Knobs; applied over the preset only when given on the command line.
  uint64_t seed = 1;
  std::string dialect;
  int steps = 0, ops = 0, threads = 0, nesting = 0;
  bool concurrent = false, sequential = false, shuffle = false;
  double counter_unit_j = 0, jitter = 0, idle_w = 0, dram_idle_w = 0;
  int64_t update_period_ns = 0, sample_period_ns = 0, op_min_ns = 0, op_max_ns = 0;
  CLI::App* sub = nullptr;
};

bool Given(const SimulateOptions& o, const char* flag) { return o.sub->count(flag) > 0; }

int RunForTrace(const SimulateOptions& o) {
  auto trace = ReadTraces(o.for_trace, TraceReadOptions{});
  if (!trace.ok()) return PrintError(trace.error());
  TraceEnergyOptions options;
  options.seed = o.seed;
  if (Given(o, "--idle-w")) options.cpu_idle_w = o.idle_w;
  if (Given(o, "--sample-period-ns")) options.sample_period_ns = o.sample_period_ns;
  if (Given(o, "--update-period-ns")) options.gpu_update_period_ns = o.update_period_ns;
  auto sim = SimulateEnergyForTrace(*trace, options);
  if (!sim.ok()) return PrintError(sim.error());
  // The files WriteSimulation writes must not be one of the traces read.
  std::vector<NamedInput> inputs;
  for (const std::string& t : o.for_trace) inputs.push_back({"--for-trace", t});
  for (const std::string name : {"run/run.json", "run/energy.csv", "truth.json"})
    if (Status s = CheckOutput(o.output + "/" + name, inputs); !s.ok())
      return PrintError(s.error());
  Status st = WriteSimulation(*sim, o.output);
  if (!st.ok()) return PrintError(st.error());
  std::string traces;
  for (const auto& t : o.for_trace) traces += " " + t;
  fmt::print("simulated {} readings of {} domain(s) for {} trace event(s)\n", sim->readings.size(),
             sim->meta.domains.size(), trace->events.size());
  fmt::print("wrote {0}/run/ and {0}/truth.json\nnext: smaragdine account --energy {0}/run "
             "--trace{1}{2} -o {0}/profile.json\n",
             o.output, traces, sim->align_hint.empty() ? "" : " " + sim->align_hint);
  return 0;
}

int Run(const SimulateOptions& o) {
  if (o.output.empty()) return PrintError(UsageError("simulate needs -o DIR"));
  if (!o.for_trace.empty()) return RunForTrace(o);
  auto preset = ScenarioPreset(o.scenario);
  if (!preset.ok()) return PrintError(preset.error());
  SimScenario sc = *preset;
  if (Given(o, "--seed")) sc.seed = o.seed;
  if (Given(o, "--dialect")) sc.dialect = o.dialect;
  if (Given(o, "--steps")) sc.steps = o.steps;
  if (Given(o, "--ops")) sc.ops_per_step = o.ops;
  if (Given(o, "--threads")) sc.threads = o.threads;
  if (Given(o, "--nesting")) sc.nesting = o.nesting;
  if (Given(o, "--concurrent")) sc.concurrent = true;
  if (Given(o, "--sequential")) sc.concurrent = false;
  if (Given(o, "--shuffle")) sc.shuffle_events = true;
  if (Given(o, "--counter-unit-j")) sc.counter_unit_j = o.counter_unit_j;
  if (Given(o, "--update-period-ns")) sc.update_period_ns = o.update_period_ns;
  if (Given(o, "--sample-period-ns")) sc.sample_period_ns = o.sample_period_ns;
  if (Given(o, "--jitter")) sc.jitter = o.jitter;
  if (Given(o, "--idle-w")) sc.cpu_idle_w = o.idle_w;
  if (Given(o, "--dram-idle-w")) sc.dram_idle_w = o.dram_idle_w;
  if (Given(o, "--op-min-ns")) sc.op_min_ns = o.op_min_ns;
  if (Given(o, "--op-max-ns")) sc.op_max_ns = o.op_max_ns;
  // Slice boundaries stay on the sampling grid unless the user moves it.
  if ((Given(o, "--sample-period-ns") || Given(o, "--update-period-ns")) && sc.quantum_ns > 1000 &&
      sc.quantum_ns % sc.sample_period_ns != 0)
    sc.quantum_ns = 1000;
  SimResult sim = Simulate(sc);
  Status st = WriteSimulation(sim, o.output);
  if (!st.ok()) return PrintError(st.error());
  double measured = 0;
  for (double j : sim.truth.measured_j) measured += j;
  fmt::print("simulated scenario '{}' (seed {}, {} dialect): {} node(s), {:.6g} J in the window\n",
             o.scenario, sc.seed, sc.dialect, sim.truth.nodes.size(), measured);
  fmt::print("wrote {0}/{1}, {0}/run/ and {0}/truth.json (the exact answer{2})\n", o.output,
             sim.trace_name, sim.truth.aligned ? ", up to the counter unit" : "");
  fmt::print("next: smaragdine account --energy {0}/run --trace {0}/{1} -o {0}/profile.json\n",
             o.output, sim.trace_name);
  return 0;
}

CommandRegistration reg{"simulate", 60, [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SimulateOptions>();
  std::string presets;
  for (const auto& n : ScenarioPresetNames()) presets += (presets.empty() ? "" : ", ") + n;
  auto* sub = app.add_subcommand(
      "simulate",
      "Write a synthetic trace and energy log whose attribution is known exactly.\n"
      "The program: lanes (CPU threads) running steps of ops nested in scopes\n"
      "(model/layer_N/attention/MatMul); each op name draws its own power; a device\n"
      "draws idle power plus the power of its running ops. The counter is read like\n"
      "RAPL: quantised (--counter-unit-j), updating every --update-period-ns, sampled\n"
      "every --sample-period-ns with --jitter. truth.json holds the exact answer of\n"
      "the attribution model (DESIGN §6) per node and domain, plus each op's physical\n"
      "energy, so `account` can be checked against it.\n\n"
      "  smaragdine simulate --scenario concurrent -o sim\n"
      "  smaragdine account --energy sim/run --trace sim/trace.pt.trace.json -o sim/profile.json\n\n"
      "With --for-trace, simulate only the energy for a real trace (CPU package and\n"
      "one gpu:N domain per GPU in it, NVML-like 10 ms updates):\n"
      "  smaragdine simulate --for-trace step.pt.trace.json.gz -o example\n");
  o->sub = sub;
  sub->add_option("--scenario", o->scenario, "Preset: " + presets)->capture_default_str();
  sub->add_option("--for-trace", o->for_trace,
                  "Simulate energy for these real trace files instead of a scenario");
  sub->add_option("-o,--output", o->output, "Output directory")->required();
  sub->add_option("--seed", o->seed, "Random seed (the same seed gives the same files)");
  sub->add_option("--dialect", o->dialect, "Trace dialect: pytorch or tf1")
      ->check(CLI::IsMember({"pytorch", "tf1"}));
  sub->add_option("--steps", o->steps, "Steps (ProfilerStep#N)")->check(CLI::PositiveNumber);
  sub->add_option("--ops", o->ops, "Ops per lane and step")->check(CLI::PositiveNumber);
  sub->add_option("--threads", o->threads, "CPU lanes")->check(CLI::Range(1, 256));
  sub->add_option("--nesting", o->nesting,
                  "Scope depth: 0 flat, 1 model/op, 2 model/layer_N/op, 3 …/attention|mlp/op")
      ->check(CLI::Range(0, 3));
  sub->add_flag("--concurrent", o->concurrent, "Lanes run side by side");
  sub->add_flag("--sequential", o->sequential, "Lanes take turns: one op at a time");
  sub->add_flag("--shuffle", o->shuffle, "Write the trace's events in random order");
  sub->add_option("--counter-unit-j", o->counter_unit_j,
                  "Counter quantum in J (RAPL: 61e-6); 0 = exact")->check(CLI::NonNegativeNumber);
  sub->add_option("--update-period-ns", o->update_period_ns,
                  "The counter changes only this often (RAPL ~1e6, NVML ~1e8)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--sample-period-ns", o->sample_period_ns, "Sampling period")
      ->check(CLI::PositiveNumber);
  sub->add_option("--jitter", o->jitter, "Sampling jitter, fraction of the period")
      ->check(CLI::Range(0.0, 0.98));
  sub->add_option("--idle-w", o->idle_w, "Idle power of cpu:0/package (W)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--dram-idle-w", o->dram_idle_w, "> 0 adds a cpu:0/dram domain (W)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--op-min-ns", o->op_min_ns, "Shortest op")->check(CLI::PositiveNumber);
  sub->add_option("--op-max-ns", o->op_max_ns, "Longest op")->check(CLI::PositiveNumber);
  sub->callback([o, &exit_code] { exit_code = Run(*o); });
}};

}  // namespace
}  // namespace smaragdine::cli
