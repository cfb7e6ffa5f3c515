// The model options shared by `demo` and `sweep`.
#include "cli/torch/model_options.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/source_options.h"
#include "smaragdine/device.h"
#include "smaragdine/sources.h"

namespace smaragdine::cli {

void AddModelOptions(CLI::App& sub, ModelArgs& a, const std::string& default_preset) {
  sub.add_option("--model", a.model,
                 "bert or albert. Default: the preset's model (bert). With --model albert and "
                 "no --preset, an ALBERT of the default preset's sizes (E = 128)")
      ->check(CLI::IsMember({"bert", "albert"}));
  sub.add_option("--preset", a.preset,
                 fmt::format("Model size (default {}): bert-tiny, bert-mini, bert-small, "
                             "bert-medium, bert-base, bert-large, bert-L{{2..12}}-H{{128,256,512,"
                             "768}}, albert-base, albert-large. Example: --preset bert-base",
                             default_preset));
  CLI::Option* task =
      sub.add_option("--task", a.task,
                     "pretrain (masked-LM + next-sentence heads, backward, AdamW), finetune "
                     "(classifier, backward, AdamW) or predict (forward only, no autograd)")
          ->check(CLI::IsMember({"pretrain", "finetune", "predict"}));
  sub.add_option("--mode", a.mode, "Shorthand for --task: train (= pretrain) or infer (= predict)")
      ->check(CLI::IsMember({"train", "infer"}))
      ->excludes(task);
  sub.add_option("--layers", a.layers, "Transformer layers L (overrides the preset)")
      ->check(CLI::PositiveNumber);
  sub.add_option("--hidden", a.hidden,
                 "Hidden size H; also sets heads to H/64 and intermediate to 4H unless given")
      ->check(CLI::PositiveNumber);
  sub.add_option("--heads", a.heads, "Attention heads (must divide H)")->check(CLI::PositiveNumber);
  sub.add_option("--intermediate", a.intermediate, "Feed-forward size")->check(CLI::PositiveNumber);
  sub.add_option("--embedding", a.embedding, "ALBERT's factorized embedding size E (≤ H)")
      ->check(CLI::PositiveNumber);
  sub.add_option("--seq", a.seq, "Tokens per sequence (default 128, at most 512)")
      ->check(CLI::PositiveNumber);
  sub.add_option("--batch", a.batch, "Sequences per step (default 8)")->check(CLI::PositiveNumber);
  sub.add_option("--vocab", a.vocab, "Vocabulary size (default 30522; ALBERT 30000)")
      ->check(CLI::PositiveNumber);
  sub.add_option("--seed", a.seed, "Seed of the random weights and inputs (default 42)");
  AddSourceOption(sub, a.sources);
}

Result<models::ModelConfig> BuildModelConfig(const ModelArgs& a,
                                             const std::string& default_preset) {
  SMG_ASSIGN_OR_RETURN(models::ModelConfig c,
                       models::ParsePreset(a.preset.empty() ? default_preset : a.preset));
  if (!a.model.empty()) {
    SMG_ASSIGN_OR_RETURN(models::Architecture arch, models::ParseArchitecture(a.model));
    if (arch != c.architecture) {
      if (!a.preset.empty())
        return UsageError(fmt::format("--model {} contradicts --preset {} (a {} preset); drop one",
                                      a.model, a.preset,
                                      models::ArchitectureName(c.architecture)));
      c.architecture = arch;
      c.preset.clear();
      if (arch == models::Architecture::kAlbert) {
        c.embedding = std::min<int64_t>(128, c.hidden);
        c.vocab = 30000;
      } else {
        c.embedding = c.hidden;
        c.vocab = 30522;
      }
    }
  }
  // hidden first: it resets heads and intermediate to the published ratios.
  const std::pair<const char*, int64_t> sizes[] = {
      {"hidden", a.hidden},   {"layers", a.layers},     {"heads", a.heads},
      {"intermediate", a.intermediate}, {"embedding", a.embedding}, {"seq", a.seq},
      {"batch", a.batch},     {"vocab", a.vocab}};
  for (const auto& [key, value] : sizes)
    if (value > 0) SMG_RETURN_IF_ERROR(models::SetConfigValue(c, key, value));
  if (a.hidden > 0 && a.embedding == 0 && c.architecture == models::Architecture::kAlbert)
    c.embedding = std::min(c.embedding, c.hidden);
  c.seed = a.seed;
  SMG_RETURN_IF_ERROR(models::ValidateConfig(c));
  return c;
}

Result<models::Task> BuildTask(const ModelArgs& a) {
  if (a.mode == "train") return models::Task::kPretrain;
  if (a.mode == "infer") return models::Task::kPredict;
  return models::ParseTask(a.task);
}

live::SessionOptions BuildSessionOptions(const ModelArgs& a) {
  live::SessionOptions o;
  o.sampling.forced_sources = a.sources;
  // The demo and sweep measure themselves; a surrounding `record` run would
  // make every session write into its directory.
  o.use_run_dir_env = false;
  return o;
}

std::string DescribeEnergySource(const Profile& p) {
  std::vector<std::string> measured, modeled;
  for (const ProfileDomain& d : p.domains)
    (d.modeled ? modeled : measured).push_back(fmt::format("{} ({})", d.name, d.source));
  std::string s;
  if (!measured.empty()) s = fmt::format("measured: {}", fmt::join(measured, ", "));
  if (modeled.empty()) return s;
  if (!s.empty()) s += "\n  ";
  s += fmt::format(
      "MODELED, not measured: {} — estimated from this process's CPU time, because no CPU "
      "energy counter is readable here",
      fmt::join(modeled, ", "));
  // Say why, the way `smaragdine sources` does, for the first few CPU counters.
  int shown = 0;
  for (auto& source : MakeSources(SourceOptions{})) {
    if (source->Name() == "model" || source->Name() == "nvml") continue;
    for (const DomainProbe& probe : source->Probe()) {
      if (probe.readable || shown >= 2 || !IsCpuDevice(probe.info.device)) continue;
      s += fmt::format("\n    {} {}: {}", source->Name(), probe.location, probe.reason);
      if (!probe.fix.empty()) s += fmt::format(" (fix: {})", probe.fix);
      ++shown;
    }
  }
  if (shown == 0) s += "\n    no RAPL, perf power or hwmon counter exists on this machine";
  s += "\n    `smaragdine sources` lists every source and what would make it readable";
  return s;
}

namespace {
bool StderrIsTerminal() {
  static const bool tty = isatty(fileno(stderr)) != 0;
  return tty;
}
}  // namespace

void ShowProgress(std::string_view stage, int done, int total) {
  if (!StderrIsTerminal()) return;
  fmt::print(stderr, "\r  {} step {}/{}   ", stage, done, total);
  std::fflush(stderr);
}

void EndProgress() {
  if (StderrIsTerminal()) fmt::print(stderr, "\r{:40}\r", "");
}

}  // namespace smaragdine::cli
