// torch_presets_tool — what a step of each built-in model costs (issue 4,
// item 5): for every preset and task, warm-up steps and then measured steps
// under live accounting (RunModel's loop, CPU-time model source), at the
// preset's default batch and sequence length. Reported per row: parameters,
// time per step (median of the measured steps, wall clock and the process's
// CPU time, live accounting included), tokens per CPU-second, and the
// modeled energy per step.
//
//   build/torch_presets_tool --help
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <ATen/Parallel.h>
#include <torch/version.h>

#include "smaragdine/torch/live.h"
#include "smaragdine/torch/models.h"
#include "torch/models/transformer.h"

namespace {

namespace models = smaragdine::models;

double MedianOf(std::vector<int64_t> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? static_cast<double>(v[n / 2]) : 0.5 * static_cast<double>(v[n / 2 - 1] + v[n / 2]);
}

int64_t NowNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string Seconds(double s) {
  return s < 1 ? fmt::format("{:.0f} ms", s * 1e3) : fmt::format("{:.2f} s", s);
}

struct Row {
  int64_t parameters = 0;
  double wall_s = 0;    // median over the measured steps
  double cpu_s = 0;     // the process's CPU time, median over the measured steps
  double energy_j = 0;  // the session's measured (here: modeled) joules per step
};

// RunModel's loop (warm-up, then measured steps under one live Session with
// the optimizer phase marked), with each step also timed on the process's
// CPU clock: on a shared machine, wall time says as much about the other
// jobs as about the model.
smaragdine::Result<Row> RunPreset(const models::ModelConfig& config, models::Task task,
                                  int warmup, int steps,
                                  const std::function<void(const char*, int, int)>& progress) {
  models::Trainer trainer(config, task);
  Row row;
  row.parameters = trainer.Parameters();
  std::optional<smaragdine::live::PhaseGuard> phase;
  auto mark = [&](bool begins) {
    if (begins) phase.emplace(smaragdine::Phase::kOptimizer);
    else phase.reset();
  };
  for (int i = 0; i < warmup; ++i) {
    trainer.Step(mark);
    progress("warm-up", i + 1, warmup);
  }
  smaragdine::live::SessionOptions options;
  options.use_run_dir_env = false;
  options.sampling.forced_sources = {"model"};
  options.write_profile = false;
  SMG_ASSIGN_OR_RETURN(auto session, smaragdine::live::Session::Start(options));
  std::vector<int64_t> wall_ns, cpu_ns;
  for (int i = 0; i < steps; ++i) {
    const int64_t w0 = NowNs(CLOCK_MONOTONIC), c0 = NowNs(CLOCK_PROCESS_CPUTIME_ID);
    trainer.Step(mark);
    session->Step();
    cpu_ns.push_back(NowNs(CLOCK_PROCESS_CPUTIME_ID) - c0);
    wall_ns.push_back(NowNs(CLOCK_MONOTONIC) - w0);
    progress("measured", i + 1, steps);
  }
  SMG_ASSIGN_OR_RETURN(smaragdine::Profile profile, session->Stop());
  row.wall_s = MedianOf(wall_ns) * 1e-9;
  row.cpu_s = MedianOf(cpu_ns) * 1e-9;
  row.energy_j = profile.MeasuredJ() / steps;
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> presets = {"bert-tiny",   "bert-mini",  "bert-small",
                                      "bert-medium", "bert-base",  "bert-large",
                                      "albert-base", "albert-large"};
  std::vector<std::string> tasks = {"pretrain", "finetune", "predict"};
  int warmup = 1, steps = 3, threads = 0;
  std::map<std::string, int> steps_for;
  std::string csv_path;
  CLI::App app{
      "The cost of a step of each built-in model (models.h) per preset and task. For every "
      "preset × task: --warmup steps, then --steps measured steps under live accounting on "
      "the CPU-time model (RunModel's loop), at the preset's batch and sequence length "
      "(8 × 128). Prints one row each: parameters, time per step (median of the measured "
      "steps, on the wall clock and on the process's CPU clock, accounting included), tokens "
      "per CPU-second and the modeled energy per step, as a Markdown table for "
      "docs/benchmarks.md.\n\n"
      "Example (docs/benchmarks.md):\n"
      "  torch_presets_tool --warmup 1 --steps 3 --steps-for bert-large=1 "
      "--steps-for albert-large=1",
      "torch_presets_tool"};
  app.add_option("--presets", presets, "Presets to run, in this order")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--tasks", tasks, "Tasks to run per preset: pretrain, finetune, predict")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--warmup", warmup, "Unmeasured steps per run (first-call allocations)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--steps", steps, "Measured steps per run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::vector<std::string> steps_for_args;
  app.add_option("--steps-for", steps_for_args,
                 "PRESET=N: measured steps for one preset (big ones take long on few cores); "
                 "repeatable")
      ->delimiter(',');
  app.add_option("--threads", threads, "LibTorch intra-op threads (default: LibTorch's choice)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--csv", csv_path, "Also write the rows as CSV to this file");
  CLI11_PARSE(app, argc, argv);
  for (const std::string& arg : steps_for_args) {
    const size_t eq = arg.find('=');
    int n = 0;
    try {
      n = eq == std::string::npos ? 0 : std::stoi(arg.substr(eq + 1));
    } catch (const std::exception&) {
      n = 0;
    }
    if (n < 1) {
      std::fprintf(stderr,
                   "torch_presets_tool: --steps-for takes PRESET=N with N ≥ 1, got '%s'\n",
                   arg.c_str());
      return 2;
    }
    steps_for[arg.substr(0, eq)] = n;
  }

  if (threads > 0) at::set_num_threads(threads);
  std::printf("torch_presets_tool: LibTorch %s, %d intra-op thread%s, %d warm-up + %d measured "
              "steps per run\n\n",
              TORCH_VERSION, at::get_num_threads(), at::get_num_threads() == 1 ? "" : "s", warmup,
              steps);
  std::printf("| preset | task | parameters | tokens/step | measured steps | wall/step | "
              "CPU/step | tokens per CPU-s | modeled energy/step |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  std::FILE* csv = nullptr;
  if (!csv_path.empty()) {
    csv = std::fopen(csv_path.c_str(), "w");
    if (csv == nullptr) {
      std::fprintf(stderr, "torch_presets_tool: cannot write %s\n", csv_path.c_str());
      return 2;
    }
    std::fprintf(csv, "preset,task,parameters,tokens_per_step,steps,wall_per_step_s,"
                      "cpu_per_step_s,tokens_per_cpu_s,energy_per_step_j\n");
  }
  int failures = 0;
  for (const std::string& preset : presets) {
    auto config = models::ParsePreset(preset);
    if (!config.ok()) {
      std::fprintf(stderr, "torch_presets_tool: %s\n", config.error().message.c_str());
      return 2;
    }
    for (const std::string& task_name : tasks) {
      auto task = models::ParseTask(task_name);
      if (!task.ok()) {
        std::fprintf(stderr, "torch_presets_tool: %s\n", task.error().message.c_str());
        return 2;
      }
      auto it = steps_for.find(preset);
      const int measured = it != steps_for.end() ? std::max(1, it->second) : steps;
      auto row = RunPreset(*config, *task, warmup, measured, [&](const char* stage, int done,
                                                                 int total) {
        std::fprintf(stderr, "\r  %s %s: %s %d/%d   ", preset.c_str(), task_name.c_str(), stage,
                     done, total);
      });
      std::fprintf(stderr, "\r%60s\r", "");
      if (!row.ok()) {
        std::fprintf(stderr, "torch_presets_tool: %s %s: %s\n", preset.c_str(), task_name.c_str(),
                     row.error().message.c_str());
        ++failures;
        continue;
      }
      const double tokens = static_cast<double>(config->TokensPerStep());
      std::printf("| %s | %s | %.1f M | %lld | %d | %s | %s | %.0f | %.1f J |\n", preset.c_str(),
                  task_name.c_str(), static_cast<double>(row->parameters) * 1e-6,
                  static_cast<long long>(config->TokensPerStep()), measured,
                  Seconds(row->wall_s).c_str(), Seconds(row->cpu_s).c_str(), tokens / row->cpu_s,
                  row->energy_j);
      if (csv)
        std::fprintf(csv, "%s,%s,%lld,%lld,%d,%.6f,%.6f,%.1f,%.4f\n", preset.c_str(),
                     task_name.c_str(), static_cast<long long>(row->parameters),
                     static_cast<long long>(config->TokensPerStep()), measured, row->wall_s,
                     row->cpu_s, tokens / row->cpu_s, row->energy_j);
      std::fflush(stdout);
    }
  }
  if (csv) std::fclose(csv);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("\npeak resident memory of the process: %.1f GiB\n", ru.ru_maxrss / 1048576.0);
  return failures == 0 ? 0 : 1;
}
