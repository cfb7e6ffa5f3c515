// `smaragdine simulate`: a trace and an energy log with a known answer.
#include <fmt/format.h>

#include <cstdio>
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
  std::string job;  // --job NxR: N machines of R ranks
  // Knobs; applied over the preset only when given on the command line.
  uint64_t seed = 1;
  std::string dialect;
  int steps = 0, ops = 0, threads = 0, nesting = 0;
  bool concurrent = false, sequential = false, shuffle = false;
  double counter_unit_j = 0, jitter = 0, idle_w = 0, dram_idle_w = 0;
  int64_t update_period_ns = 0, sample_period_ns = 0, op_min_ns = 0, op_max_ns = 0;
  std::string program, meter, phase;
  int layers = 0;
  bool no_optimizer = false;
  int64_t window_ns = 0;
  double power_unit_w = 0, scope_spread = 0, call_noise = 0;
  CLI::App* sub = nullptr;
};

bool Given(const SimulateOptions& o, const char* flag) { return o.sub->count(flag) > 0; }

// Flags that shape a synthetic program or its meter: --for-trace has neither.
constexpr const char* kScenarioOnlyFlags[] = {
    "--program", "--layers", "--no-optimizer", "--meter", "--phase-ns", "--window-ns",
    "--power-unit-w", "--scope-spread", "--call-noise"};

int RunForTrace(const SimulateOptions& o) {
  for (const char* flag : kScenarioOnlyFlags)
    if (Given(o, flag))
      return PrintError(UsageError(fmt::format(
          "{} shapes a simulated scenario; with --for-trace the program is the trace's and "
          "the meters are RAPL/NVML-like counters",
          flag)));
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

// --job NxR: one directory per machine, each accounted on its own, then merged.
int RunJob(const SimulateOptions& o, const SimScenario& sc) {
  SimJobShape shape;
  char x = 0;
  int consumed = 0;
  if (std::sscanf(o.job.c_str(), "%d%c%d%n", &shape.nodes, &x, &shape.ranks_per_node,
                  &consumed) != 3 ||
      (x != 'x' && x != 'X') || static_cast<size_t>(consumed) != o.job.size())
    return PrintError(UsageError(fmt::format(
        "--job {}: expected MACHINESxRANKS, e.g. --job 3x2 (3 machines of 2 ranks)", o.job)));
  auto job = SimulateJob(sc, shape);
  if (!job.ok()) return PrintError(job.error());
  if (Status st = WriteSimulatedJob(*job, o.output); !st.ok()) return PrintError(st.error());
  fmt::print("simulated a job of {} machine(s) × {} rank(s) (scenario '{}', seed {}), each "
             "machine on its own clock:\n",
             shape.nodes, shape.ranks_per_node, o.scenario, sc.seed);
  for (const SimJobNode& n : *job) {
    double measured = 0;
    for (double j : n.sim.truth.measured_j) measured += j;
    fmt::print("  {}/{}/: {} rank traces, run/, truth.json ({:.6g} J in its window)\n", o.output,
               n.host, n.rank_traces.size(), measured);
  }
  fmt::print("next, for each machine M: smaragdine account --energy {0}/M/run --trace "
             "{0}/M/rank-*.pt.trace.json -o {0}/M/profile.json\n"
             "then: smaragdine merge {0}/node-* -o {0}/job.json\n",
             o.output);
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
  if (Given(o, "--program")) sc.program = o.program;
  if (Given(o, "--layers")) sc.layers = o.layers;
  if (Given(o, "--no-optimizer")) sc.optimizer_step = false;
  if (Given(o, "--meter")) sc.meter = *ParseMeterKind(o.meter);
  if (Given(o, "--phase-ns")) {
    if (o.phase == "random") sc.update_phase_ns = std::nullopt;
    else sc.update_phase_ns = std::stoll(o.phase);  // checked by the option's validator
  }
  if (Given(o, "--window-ns")) sc.window_ns = o.window_ns;
  if (Given(o, "--power-unit-w")) sc.power_unit_w = o.power_unit_w;
  if (Given(o, "--scope-spread")) sc.scope_spread = o.scope_spread;
  if (Given(o, "--call-noise")) sc.call_noise = o.call_noise;
  // A power meter has no energy unit; its own knob is --power-unit-w.
  if (Given(o, "--counter-unit-j") && sc.meter != MeterKind::kCounter)
    return PrintError(UsageError("--counter-unit-j quantises a counter; a power meter's "
                                 "readings are floored with --power-unit-w"));
  // Slice boundaries stay on the sampling grid unless the user moves it.
  if ((Given(o, "--sample-period-ns") || Given(o, "--update-period-ns")) && sc.quantum_ns > 1000 &&
      sc.quantum_ns % sc.sample_period_ns != 0)
    sc.quantum_ns = 1000;
  if (!o.job.empty()) return RunJob(o, sc);
  SimResult sim = Simulate(sc);
  Status st = WriteSimulation(sim, o.output);
  if (!st.ok()) return PrintError(st.error());
  double measured = 0;
  for (double j : sim.truth.measured_j) measured += j;
  fmt::print("simulated scenario '{}' (seed {}, {} dialect): {} node(s), {:.6g} J in the window\n",
             o.scenario, sc.seed, sc.dialect, sim.truth.nodes.size(), measured);
  fmt::print("meter: {}\n", sim.meta.domains.front().meter.note);
  fmt::print("wrote {0}/{1}, {0}/run/ and {0}/truth.json (the exact answer{2})\n", o.output,
             sim.trace_name, sim.truth.aligned ? ", up to the counter unit" : "");
  fmt::print("next: smaragdine account --energy {0}/run --trace {0}/{1} -o {0}/profile.json\n",
             o.output, sim.trace_name);
  return 0;
}

// `smaragdine simulate --help` before the options: the model, the meters and
// the presets.
std::string SimulateDetails() {
  return "The program: lanes (CPU threads) running steps of ops nested in scopes\n"
         "(model/layer_N/attention/MatMul), or with --program bert a BERT-like training\n"
         "run (forward in module scopes, backward on the forward ops' paths, an SGD\n"
         "step). Each op class draws its own power; a device draws idle power plus\n"
         "the power of its running ops. truth.json holds the exact answer of the\n"
         "attribution model (DESIGN §6) per node, domain and phase, plus each node's\n"
         "physical energy (own draw + share of idle), so `account` can be checked.\n\n"
         "The meter decides what a reading can tell (DESIGN §6.7):\n"
         "  counter         cumulative energy, like RAPL: changes only every\n"
         "                  --update-period-ns, on a grid shifted by --phase-ns,\n"
         "                  floored to --counter-unit-j. A 1 ms counter reads the\n"
         "                  same for ten 100 µs ops: only repetition at different\n"
         "                  offsets against its updates separates them.\n"
         "  windowed-power  the average power over --window-ns before each update,\n"
         "                  like NVML on A100 (25 ms of every 100 ms: 75 % of the\n"
         "                  time is never seen) or Ampere+ (a 1 s average).\n"
         "  instant-power   the power at each update.\n"
         "Every meter is read every --sample-period-ns with --jitter; run.json says\n"
         "which meter it was (domains[].meter).\n\n"
         "Presets (--scenario):\n" +
         ScenarioPresetHelp() +
         "\nWith --for-trace, simulate only the energy for a real trace (CPU package and\n"
         "one gpu:N domain per GPU in it, NVML-like 10 ms updates).";
}

// `smaragdine simulate --help` after the summary.
constexpr char kDetails[] =
    "The trace and the energy log come from one simulated program whose attribution\n"
    "is known exactly: for testing the method and the meter.";

// `smaragdine simulate --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  smaragdine simulate --scenario bert-rapl -o sim\n"
    "  smaragdine account --energy sim/run --trace sim/trace.pt.trace.json -o sim/profile.json\n"
    "  smaragdine simulate --for-trace step.pt.trace.json.gz -o example\n"
    "  smaragdine simulate --job 2x4 -o job     then account each machine and merge\n"
    "Exit status: 0 ok, 1 bad option, 2 an unreadable --for-trace input or an output\n"
    "that cannot be written.\n";

const CommandRegistration kRegistration{
    "simulate", 60,
    {"Write a synthetic trace and energy log with a known answer", kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      // The list of presets comes from the scenario table.
      sub.description(sub.get_description() + "\n\n" + SimulateDetails());
      auto o = std::make_shared<SimulateOptions>();
      std::string presets;
      for (const auto& n : ScenarioPresetNames()) presets += (presets.empty() ? "" : ", ") + n;
      o->sub = &sub;
      sub.add_option("--scenario", o->scenario, "Preset (listed above): " + presets)
          ->capture_default_str();
      sub.add_option("--job", o->job,
                     "MACHINESxRANKS: a distributed job, one directory per machine (its run/, "
                     "truth.json and one rank-K.pt.trace.json per rank, ranks sharing the "
                     "machine's meters, each machine on its own clock) to account per machine and "
                     "`smaragdine merge`. Example: --job 3x2");
      sub.add_option("--for-trace", o->for_trace,
                     "Simulate energy for these real trace files instead of a scenario");
      sub.add_option("-o,--output", o->output, "Output directory")->required();
      sub.add_option("--seed", o->seed, "Random seed (the same seed gives the same files)");
      sub.add_option("--dialect", o->dialect, "Trace dialect: pytorch or tf1")
          ->check(CLI::IsMember({"pytorch", "tf1"}));
      sub.add_option("--program", o->program,
                     "random: ops drawn from --ops/--op-min-ns/…; bert: BERT-like training "
                     "(forward, backward, optimizer; ops of 20-500 µs)")
          ->check(CLI::IsMember({"random", "bert"}));
      sub.add_option("--layers", o->layers, "bert: encoder layers")->check(CLI::Range(1, 1000));
      sub.add_flag("--no-optimizer", o->no_optimizer, "bert: no optimizer step after backward");
      sub.add_option("--steps", o->steps, "Steps (ProfilerStep#N)")->check(CLI::PositiveNumber);
      sub.add_option("--ops", o->ops, "Ops per lane and step")->check(CLI::PositiveNumber);
      sub.add_option("--threads", o->threads,
                     "CPU lanes (bert: lanes after the first run data-loader batches beside "
                     "the model)")
          ->check(CLI::Range(1, 256));
      sub.add_option("--nesting", o->nesting,
                     "Scope depth: 0 flat, 1 model/op, 2 model/layer_N/op, 3 …/attention|mlp/op")
          ->check(CLI::Range(0, 3));
      sub.add_flag("--concurrent", o->concurrent, "Lanes run side by side");
      sub.add_flag("--sequential", o->sequential, "Lanes take turns: one op at a time");
      sub.add_flag("--shuffle", o->shuffle, "Write the trace's events in random order");
      sub.add_option("--scope-spread", o->scope_spread,
                     "One op name, different power per place: x (1 + S·u), u in [-1, 1] from a "
                     "hash of the op's path and phase (0: one power per name)")
          ->check(CLI::Range(0.0, 0.95));
      sub.add_option("--call-noise", o->call_noise,
                     "Each call's power x (1 + N·U(-1, 1)); the truth uses each call's own")
          ->check(CLI::Range(0.0, 0.95));
      sub.add_option("--meter", o->meter, "counter, windowed-power or instant-power (see above)")
          ->check(CLI::IsMember({"counter", "windowed-power", "instant-power"}));
      sub.add_option("--counter-unit-j", o->counter_unit_j,
                     "Counter quantum in J (RAPL: 61e-6 or 15.3e-6); 0 = exact")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--update-period-ns", o->update_period_ns,
                     "The meter changes only this often (RAPL ~1e6, NVML ~1e8)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--phase-ns", o->phase,
                     "Offset of the meter's update grid from the log start, or 'random' "
                     "(drawn from the seed in [0, period)); 0 = updates at the log start")
          ->check([](const std::string& v) -> std::string {
            if (v == "random") return "";
            if (v.empty() || v.size() > 18 ||
                v.find_first_not_of("0123456789") != std::string::npos)
              return "expected a number of ns >= 0 or 'random'";
            return "";
          });
      sub.add_option("--window-ns", o->window_ns,
                     "windowed-power: the averaging window before each update (A100: 25e6, "
                     "Ampere+: 1e9); default the update period")
          ->check(CLI::PositiveNumber);
      sub.add_option("--power-unit-w", o->power_unit_w,
                     "Power meters: readings floored to this (NVML: 0.001); 0 = exact")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--sample-period-ns", o->sample_period_ns, "Sampling period")
          ->check(CLI::PositiveNumber);
      sub.add_option("--jitter", o->jitter, "Sampling jitter, fraction of the period")
          ->check(CLI::Range(0.0, 0.98));
      sub.add_option("--idle-w", o->idle_w, "Idle power of cpu:0/package (W)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--dram-idle-w", o->dram_idle_w, "> 0 adds a cpu:0/dram domain (W)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--op-min-ns", o->op_min_ns, "Shortest op")->check(CLI::PositiveNumber);
      sub.add_option("--op-max-ns", o->op_max_ns, "Longest op")->check(CLI::PositiveNumber);
      return [o] { return Run(*o); };
    }};

}  // namespace
}  // namespace smaragdine::cli
