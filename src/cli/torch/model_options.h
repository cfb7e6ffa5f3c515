// model_options.h — the model options `demo` and `sweep` share: --model,
// --preset, --task and one option per size, turned into a ModelConfig.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "smaragdine/status.h"
#include "smaragdine/torch/live.h"
#include "smaragdine/torch/models.h"

namespace smaragdine::cli {

struct ModelArgs {
  std::string model;   // "" = the preset's, else bert
  std::string preset;  // "" = the command's default
  std::string task = "pretrain";
  std::string mode;  // DESIGN §8's --mode train|infer; "" = --task decides
  // Sizes given on the command line; 0 = the preset's.
  int64_t layers = 0, hidden = 0, heads = 0, intermediate = 0, embedding = 0, seq = 0,
          batch = 0, vocab = 0;
  uint64_t seed = 42;
  std::vector<std::string> sources;  // --source, as `record` takes them
};

// Adds --model, --preset, --task (or --mode), the sizes, --seed and --source to `sub`
// (sweep's --grid then overrides the sizes it sweeps).
void AddModelOptions(CLI::App& sub, ModelArgs& args, const std::string& default_preset);

// The preset (or `default_preset`), switched to --model when that differs
// (ALBERT gets E = min(128, H) and its 30000-token vocabulary), then the sizes
// given. Errors: kUsage for an unknown model, preset or task, or invalid sizes.
Result<models::ModelConfig> BuildModelConfig(const ModelArgs& args,
                                             const std::string& default_preset);
// --task, or --mode: train is pretrain, infer is predict.
Result<models::Task> BuildTask(const ModelArgs& args);

// Session options for in-process sampling with --source.
live::SessionOptions BuildSessionOptions(const ModelArgs& args);

// "cpu:0/package (rapl-powercap)", or a MODELED line that says why no counter
// could be read and what would fix it.
std::string DescribeEnergySource(const Profile& profile);

// Progress on stderr when it is a terminal: "\r  warm-up 1/2".
void ShowProgress(std::string_view stage, int done, int total);
void EndProgress();

}  // namespace smaragdine::cli
