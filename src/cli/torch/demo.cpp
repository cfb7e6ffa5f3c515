// `smaragdine demo`: train (or run) the built-in BERT for a few steps under
// live accounting and print where its joules went.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/phase_table.h"
#include "cli/torch_commands.h"
#include "cli/torch/model_options.h"
#include "smaragdine/report.h"
#include "smaragdine/torch/models.h"

namespace smaragdine::cli {
namespace {

// Small enough to finish in about a minute on two busy cores, with the full
// BERT structure (2 layers of 128, 30522-token vocabulary).
constexpr const char* kDefaultPreset = "bert-tiny";

struct DemoArgs {
  ModelArgs model;
  int steps = 5;
  int warmup = 2;
  std::string output = "smaragdine-demo";
  int depth = 4;
  int top = 8;
};

// A top-N table without its header block (from the "top N ops" line on) and
// without its diagnostics block (the tree above shows both once).
std::string TopListBody(const std::string& table) {
  size_t begin = table.find("\ntop ");
  begin = begin == std::string::npos ? 0 : begin + 1;
  size_t end = table.find("\ndiagnostics:", begin);
  return table.substr(begin, end == std::string::npos ? std::string::npos : end + 1 - begin);
}

const char* TaskWords(models::Task t) {
  switch (t) {
    case models::Task::kPretrain: return "pre-training (masked-LM + next-sentence heads, AdamW)";
    case models::Task::kFinetune: return "fine-tuning (classifier head, AdamW)";
    case models::Task::kPredict: return "prediction (forward only)";
  }
  return "";
}

int RunDemo(const DemoArgs& a) {
  auto config = BuildModelConfig(a.model, kDefaultPreset);
  if (!config.ok()) return PrintError(config.error());
  auto task = BuildTask(a.model);
  if (!task.ok()) return PrintError(task.error());

  models::RunOptions run;
  run.config = *config;
  run.task = *task;
  run.steps = a.steps;
  run.warmup_steps = a.warmup;
  run.session = BuildSessionOptions(a.model);
  run.session.output_dir = a.output;
  run.progress = ShowProgress;

  // A rerun replaces the previous demo's files instead of adding profile-2.json.
  for (const char* name : {"profile.json", "live.trace.json"}) {
    std::error_code ec;
    std::filesystem::remove(std::filesystem::path(a.output) / name, ec);
  }

  fmt::print("smaragdine demo: {}\n", config->Describe());
  fmt::print("  task: {}; {} warm-up steps, then {} measured with live accounting\n",
             TaskWords(*task), a.warmup, a.steps);
  std::fflush(stdout);
  auto result = models::RunModel(run);
  EndProgress();
  if (!result.ok()) return PrintError(result.error());
  const Profile& p = result->profile;

  const double measured_j = p.MeasuredJ();
  const double window_s = (p.meta.window_end_ns - p.meta.window_start_ns) * 1e-9;
  const double step_s = std::accumulate(result->step_ns.begin(), result->step_ns.end(), 0.0) *
                        1e-9 / static_cast<double>(result->step_ns.size());
  fmt::print("  {:.1f} M parameters; energy {}\n\n", result->parameters / 1e6,
             DescribeEnergySource(p));
  fmt::print("Per step: {:.3f} J, {:.3f} s, {:.1f} W average, {:.3f} mJ per token\n\n",
             measured_j / a.steps, step_s, window_s > 0 ? measured_j / window_s : 0.0,
             measured_j / a.steps / static_cast<double>(config->TokensPerStep()) * 1e3);

  ReportOptions o;
  o.file = result->info.profile_path.empty() ? "profile.json" : result->info.profile_path;
  o.depth = a.depth;
  auto tree = RenderReport(p, o);
  if (!tree.ok()) return PrintError(tree.error());
  fmt::print("Layer by layer (the tree to depth {}):\n\n{}\n", a.depth, *tree);

  o.top = a.top;
  o.sort = SortKey::kEnergy;
  auto top_energy = RenderReport(p, o);
  if (!top_energy.ok()) return PrintError(top_energy.error());
  fmt::print("Most energy-hungry operations:\n\n{}\n", TopListBody(*top_energy));
  bool modeled = false;
  for (const ProfileDomain& d : p.domains) modeled |= d.modeled;
  if (modeled) {
    // Modeled power is CPU time × a constant: every operation would read the
    // same few watts, and a ranking of them would be noise.
    fmt::print("(No power ranking: modeled energy is CPU time × a constant, so every operation "
               "draws about the same power.)\n\n");
  } else {
    o.sort = SortKey::kPower;
    auto top_power = RenderReport(p, o);
    if (!top_power.ok()) return PrintError(top_power.error());
    fmt::print("Most power-hungry operations (average power while they ran):\n\n{}\n",
               TopListBody(*top_power));
  }

  fmt::print("{}", PhaseTable(p));

  if (!result->info.profile_path.empty()) {
    fmt::print("Profile written to {}\n", result->info.profile_path);
    fmt::print("  smaragdine report {} --depth 6\n", result->info.profile_path);
    fmt::print("  smaragdine report {} --root {}/encoder --fold 'layer_\\d+'\n",
               result->info.profile_path, models::ArchitectureName(config->architecture));
  }
  return 0;
}

// `smaragdine demo --help` after the summary.
constexpr char kDetails[] =
    "Trains the built-in model for a few steps with live energy accounting and prints\n"
    "where the joules went: layer by layer, operation by operation, forward vs backward\n"
    "vs optimizer.";

// `smaragdine demo --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  smaragdine demo                                   BERT-tiny pre-training, about a minute\n"
    "  smaragdine demo --preset bert-base --steps 3      the real size\n"
    "  smaragdine demo --model albert --task finetune -o albert-ft\n"
    "  smaragdine demo --task predict --seq 256 --batch 4\n"
    "Energy comes from the best readable counter (`smaragdine sources`); where none is\n"
    "readable, from a CPU-time model, and the output says MODELED.\n"
    "Exit status: 0 ok, 1 bad option, 3 nothing measurable.\n";

const CommandRegistration kRegistration{
    kDemoCommand.name, kDemoCommand.order, {kDemoCommand.summary, kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      auto args = std::make_shared<DemoArgs>();
      AddModelOptions(sub, args->model, kDefaultPreset);
      sub.add_option("--steps", args->steps, "Measured steps (default 5)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--warmup", args->warmup,
                     "Steps run before accounting starts, so first-call allocations do not count "
                     "(default 2)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("-o,--output", args->output,
                     "Directory for profile.json, the live trace and the energy log; a previous "
                     "demo's files there are replaced (default ./smaragdine-demo)");
      sub.add_option("--depth", args->depth, "Levels of the tree to print (default 4)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--top", args->top, "Operations in each top list (default 8)")
          ->check(CLI::PositiveNumber);
      return [args] { return RunDemo(*args); };
    }};

}  // namespace
}  // namespace smaragdine::cli
