// Presets, tasks and size keys of the built-in models. No torch headers here,
// so this compiles in a moment.
#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "smaragdine/torch/models.h"

namespace smaragdine::models {
namespace {

// The published sizes: attention heads are H/64 and the feed-forward layer is
// 4H in every BERT and ALBERT release (Turc et al. 2019 for the small BERTs).
ModelConfig Sized(Architecture a, std::string name, int64_t layers, int64_t hidden) {
  ModelConfig c;
  c.architecture = a;
  c.preset = std::move(name);
  c.layers = layers;
  c.hidden = hidden;
  c.heads = std::max<int64_t>(1, hidden / 64);
  c.intermediate = 4 * hidden;
  c.embedding = hidden;
  if (a == Architecture::kAlbert) {
    c.embedding = 128;  // ALBERT's E for every released size
    c.vocab = 30000;    // ALBERT's SentencePiece vocabulary
  }
  return c;
}

const std::vector<int64_t> kGridLayers = {2, 4, 6, 8, 10, 12};
const std::vector<int64_t> kGridHidden = {128, 256, 512, 768};

std::vector<ModelConfig> AllPresets() {
  std::vector<ModelConfig> p;
  p.push_back(Sized(Architecture::kBert, "bert-tiny", 2, 128));
  p.push_back(Sized(Architecture::kBert, "bert-mini", 4, 256));
  p.push_back(Sized(Architecture::kBert, "bert-small", 4, 512));
  p.push_back(Sized(Architecture::kBert, "bert-medium", 8, 512));
  p.push_back(Sized(Architecture::kBert, "bert-base", 12, 768));
  p.push_back(Sized(Architecture::kBert, "bert-large", 24, 1024));
  for (int64_t l : kGridLayers)
    for (int64_t h : kGridHidden)
      p.push_back(Sized(Architecture::kBert, fmt::format("bert-L{}-H{}", l, h), l, h));
  p.push_back(Sized(Architecture::kAlbert, "albert-base", 12, 768));
  p.push_back(Sized(Architecture::kAlbert, "albert-large", 24, 1024));
  return p;
}

}  // namespace

std::string ModelConfig::Describe() const {
  std::string s = architecture == Architecture::kBert ? "BERT" : "ALBERT";
  if (!preset.empty()) s += " " + preset;
  s += fmt::format(": L={} H={} A={} I={}", layers, hidden, heads, intermediate);
  if (architecture == Architecture::kAlbert) s += fmt::format(" E={}", embedding);
  s += fmt::format(", seq {} × batch {}", seq, batch);
  return s;
}

Result<ModelConfig> ParsePreset(std::string_view name) {
  for (ModelConfig& c : AllPresets())
    if (c.preset == name) return std::move(c);
  return UsageError(fmt::format("unknown preset '{}'; presets: {}", name,
                                fmt::join(PresetNames(), ", ")));
}

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const ModelConfig& c : AllPresets()) names.push_back(c.preset);
  return names;
}

Result<Architecture> ParseArchitecture(std::string_view name) {
  if (name == "bert") return Architecture::kBert;
  if (name == "albert") return Architecture::kAlbert;
  return UsageError(fmt::format("unknown model '{}'; models: bert, albert", name));
}

const char* ArchitectureName(Architecture a) {
  return a == Architecture::kBert ? "bert" : "albert";
}

Result<Task> ParseTask(std::string_view name) {
  if (name == "pretrain") return Task::kPretrain;
  if (name == "finetune") return Task::kFinetune;
  if (name == "predict") return Task::kPredict;
  return UsageError(fmt::format("unknown task '{}'; tasks: pretrain, finetune, predict", name));
}

const char* TaskName(Task task) {
  switch (task) {
    case Task::kPretrain: return "pretrain";
    case Task::kFinetune: return "finetune";
    case Task::kPredict: return "predict";
  }
  return "?";
}

const std::vector<std::string>& ConfigKeys() {
  static const std::vector<std::string> keys = {"layers", "hidden", "heads", "intermediate",
                                                "embedding", "seq", "batch", "vocab"};
  return keys;
}

Status SetConfigValue(ModelConfig& c, std::string_view key, int64_t value) {
  if (value < 1)
    return UsageError(fmt::format("{} must be at least 1, got {}", key, value));
  if (key == "layers") c.layers = value;
  else if (key == "hidden") {
    c.hidden = value;
    c.heads = std::max<int64_t>(1, value / 64);
    c.intermediate = 4 * value;
    if (c.architecture == Architecture::kBert) c.embedding = value;
  } else if (key == "heads") c.heads = value;
  else if (key == "intermediate") c.intermediate = value;
  else if (key == "embedding") c.embedding = value;
  else if (key == "seq") c.seq = value;
  else if (key == "batch") c.batch = value;
  else if (key == "vocab") c.vocab = value;
  else
    return UsageError(fmt::format("unknown size '{}'; sizes: {}", key,
                                  fmt::join(ConfigKeys(), ", ")));
  if (key != "seq" && key != "batch") c.preset.clear();  // no longer the published model
  return {};
}

int64_t GetConfigValue(const ModelConfig& c, std::string_view key) {
  if (key == "layers") return c.layers;
  if (key == "hidden") return c.hidden;
  if (key == "heads") return c.heads;
  if (key == "intermediate") return c.intermediate;
  if (key == "embedding") return c.embedding;
  if (key == "seq") return c.seq;
  if (key == "batch") return c.batch;
  if (key == "vocab") return c.vocab;
  return 0;
}

Status ValidateConfig(const ModelConfig& c) {
  for (const std::string& k : ConfigKeys())
    if (GetConfigValue(c, k) < 1)
      return UsageError(fmt::format("{} must be at least 1, got {}", k, GetConfigValue(c, k)));
  if (c.hidden % c.heads != 0)
    return UsageError(fmt::format("heads ({}) must divide hidden ({})", c.heads, c.hidden));
  if (c.seq > c.max_position)
    return UsageError(fmt::format("seq ({}) is longer than the {} positions the model embeds",
                                  c.seq, c.max_position));
  if (c.seq < 2)
    return UsageError("seq must be at least 2 (one token is masked for the masked-LM head)");
  if (c.architecture == Architecture::kAlbert && c.embedding > c.hidden)
    return UsageError(fmt::format(
        "ALBERT's embedding size ({}) must not exceed hidden ({}): factorization means E ≤ H",
        c.embedding, c.hidden));
  if (c.dropout < 0 || c.dropout >= 1)
    return UsageError(fmt::format("dropout must be in [0, 1), got {}", c.dropout));
  return {};
}

}  // namespace smaragdine::models
