// models.h — the built-in BERT and ALBERT, their presets and tasks, and a
// runner that trains or runs one under live accounting and returns the Profile.
//
//   SMG_ASSIGN_OR_RETURN(models::ModelConfig config, models::ParsePreset("bert-mini"));
//   models::RunOptions run{.config = config, .task = models::Task::kPretrain};
//   SMG_ASSIGN_OR_RETURN(models::RunResult r, models::RunModel(run));
//   fmt::print("{:.2f} J per step\n", r.profile.MeasuredJ() / run.steps);
//
// This header does not include torch headers (the CLI includes it); the models
// themselves live in src/torch/models/. Weights are random from a fixed seed:
// nothing is downloaded, and the energy of a step does not depend on the values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/profile.h"
#include "smaragdine/status.h"
#include "smaragdine/torch/live.h"

namespace smaragdine::models {

enum class Architecture { kBert, kAlbert };

// The paper's three modes of use.
//  kPretrain: masked-LM and next-sentence heads, loss, backward, AdamW step.
//  kFinetune: sequence-classification head, loss, backward, AdamW step.
//  kPredict:  forward pass of the classifier model, no autograd.
enum class Task { kPretrain, kFinetune, kPredict };

struct ModelConfig {
  Architecture architecture = Architecture::kBert;
  std::string preset;         // the preset it came from ("" when built by hand)
  int64_t layers = 2;         // L: transformer layers (ALBERT: invocations of the shared layer)
  int64_t hidden = 128;       // H
  int64_t heads = 2;          // attention heads; must divide hidden
  int64_t intermediate = 512; // feed-forward size, 4H in the published models
  int64_t embedding = 128;    // E: ALBERT's factorized embedding size (BERT ignores it: E = H)
  int64_t seq = 128;          // tokens per sequence
  int64_t batch = 8;          // sequences per step
  int64_t vocab = 30522;
  int64_t max_position = 512;
  int64_t type_vocab = 2;
  int64_t labels = 2;         // fine-tuning classes
  double dropout = 0.1;
  uint64_t seed = 42;         // weights and inputs

  int64_t TokensPerStep() const { return batch * seq; }
  // "BERT bert-mini: L=4 H=256 A=4 I=1024, seq 128 × batch 8".
  std::string Describe() const;
};

// Presets: bert-tiny (L2/H128), bert-mini (4/256), bert-small (4/512),
// bert-medium (8/512), bert-base (12/768), bert-large (24/1024), the small-BERT
// grid bert-L{2,4,6,8,10,12}-H{128,256,512,768}, albert-base, albert-large.
// Heads H/64, intermediate 4H; seq 128, batch 8. Errors: kUsage listing the names.
Result<ModelConfig> ParsePreset(std::string_view name);
std::vector<std::string> PresetNames();

Result<Architecture> ParseArchitecture(std::string_view name);  // "bert" | "albert"
const char* ArchitectureName(Architecture a);                   // "bert" | "albert"
Result<Task> ParseTask(std::string_view name);  // "pretrain" | "finetune" | "predict"
const char* TaskName(Task task);

// Sets one size by name: layers, hidden, heads, intermediate, embedding, seq,
// batch, vocab. Setting hidden also sets heads to H/64 (at least 1) and
// intermediate to 4H, as the published sizes do; set those after hidden to
// override. Errors: kUsage for an unknown key or a value < 1.
Status SetConfigValue(ModelConfig& config, std::string_view key, int64_t value);
// The keys SetConfigValue takes, in a stable order.
const std::vector<std::string>& ConfigKeys();
int64_t GetConfigValue(const ModelConfig& config, std::string_view key);

// Checks sizes (positive, heads divide hidden, seq ≤ max_position, ALBERT's
// E ≤ H). Errors: kUsage naming the offending value.
Status ValidateConfig(const ModelConfig& config);

// Parameters the model has for this task (ALBERT counts its shared layer once).
int64_t ParameterCount(const ModelConfig& config, Task task);

// ---- running a model under live accounting ----

struct RunOptions {
  ModelConfig config;
  Task task = Task::kPretrain;
  int warmup_steps = 2;  // run before accounting starts: first-call allocations, caches
  int steps = 5;         // measured steps
  // One live Session per measured step instead of one for all of them: gives
  // a profile per step (sweep's run-to-run stability) at the price of the
  // short gaps between sessions, which are not accounted.
  bool session_per_step = false;
  live::SessionOptions session;  // energy sources, output directory, …
  // Called after every step: stage "warm-up" or "measured", steps done, total.
  std::function<void(std::string_view stage, int done, int total)> progress;
};

struct RunResult {
  Profile profile;                     // all measured steps (empty with session_per_step)
  std::vector<Profile> step_profiles;  // one per measured step (session_per_step only)
  std::vector<int64_t> step_ns;        // wall time of each measured step, accounting included
  int64_t parameters = 0;
  live::SessionInfo info;  // what the (last) session sampled and wrote
};

// Builds the model (weights from config.seed), runs the warm-up steps, then
// the measured steps under a live Session, and returns the profile. The
// optimizer step runs in Phase::kOptimizer. Errors: kUsage for an invalid
// config (ValidateConfig) or when a Session is already running;
// kNothingMeasurable when no energy domain can be read; the Session's errors.
Result<RunResult> RunModel(const RunOptions& options);

}  // namespace smaragdine::models
