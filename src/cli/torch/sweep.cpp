// `smaragdine sweep`: the same model over a grid of sizes, each configuration
// measured with live accounting, repeated to see how stable the numbers are.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>

#include <fmt/format.h>
#include <re2/re2.h>

#include "cli/command.h"
#include "cli/torch_commands.h"
#include "cli/torch/model_options.h"
#include "common/io.h"
#include "smaragdine/torch/models.h"

namespace smaragdine::cli {
namespace {

constexpr const char* kDefaultPreset = "bert-tiny";

struct SweepArgs {
  ModelArgs model;
  std::vector<std::string> grid;
  int steps = 5;
  int warmup = 1;
  int repeat = 2;
  std::string output = "smaragdine-sweep";
};

struct GridAxis {
  std::string key;
  std::vector<int64_t> values;
};

Result<GridAxis> ParseGridAxis(const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return UsageError(fmt::format("--grid '{}': expected KEY=V1,V2,… (e.g. layers=2,4)", spec));
  GridAxis axis;
  axis.key = spec.substr(0, eq);
  const auto& keys = models::ConfigKeys();
  if (std::find(keys.begin(), keys.end(), axis.key) == keys.end())
    return UsageError(fmt::format("--grid '{}': unknown size '{}'; sizes: {}", spec, axis.key,
                                  fmt::join(keys, ", ")));
  std::string_view rest(spec);
  rest.remove_prefix(eq + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || ptr != item.data() + item.size() || v < 1)
      return UsageError(fmt::format("--grid '{}': '{}' is not a positive integer", spec, item));
    axis.values.push_back(v);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return axis;
}

// The modules whose shares the paper compares, by path.
const char* kModules[] = {"embeddings", "attention", "intermediate", "output", "heads", "other"};
constexpr int kModuleCount = 6;

int ModuleOf(const std::string& path) {
  // RE2 (linear time, as the rest of the project; issue 17): the same patterns,
  // the module's group made the first capture.
  static const re2::RE2 embeddings(
      R"(^(?:bert|albert)/(?:embeddings|encoder/embedding_hidden_mapping_in)(?:/|$))");
  static const re2::RE2 layer(
      R"(^(?:bert|albert)/encoder/layer_\d+/(attention|intermediate|output)(?:/|$))");
  static const re2::RE2 heads(R"(^(?:(?:bert|albert)/pooler|cls|classifier)(?:/|$))");
  std::string module;
  if (re2::RE2::PartialMatch(path, embeddings)) return 0;
  if (re2::RE2::PartialMatch(path, layer, &module)) {
    if (module == "attention") return 1;
    if (module == "intermediate") return 2;
    return 3;
  }
  if (re2::RE2::PartialMatch(path, heads)) return 4;
  return 5;
}

bool IsLeaf(const Profile& p, const std::vector<std::vector<uint32_t>>& children, size_t i) {
  return i != 0 && children[i].empty();
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2) return NAN;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : NAN;
}

// One repeat of one configuration.
struct RepeatFigures {
  std::vector<double> step_j;                      // measured energy per step
  std::vector<int64_t> step_ns;
  double window_s = 0;
  std::vector<std::map<std::string, double>> leaf_j;  // per step: leaf path → energy
  std::array<double, kModuleCount> module_j{};
  bool modeled = false;
};

struct ConfigFigures {
  models::ModelConfig config;
  std::string label;
  std::vector<RepeatFigures> repeats;
  double j_per_step = 0, j_std = 0, s_per_step = 0, power_w = 0, mj_per_token = 0;
  std::array<double, kModuleCount> share{};
  std::vector<double> r_by_steps;  // mean Pearson r over repeat pairs after k steps
};

RepeatFigures Summarize(const models::RunResult& r) {
  RepeatFigures f;
  f.step_ns = r.step_ns;
  for (const Profile& p : r.step_profiles) {
    f.step_j.push_back(p.MeasuredJ());
    f.window_s += (p.meta.window_end_ns - p.meta.window_start_ns) * 1e-9;
    for (const ProfileDomain& d : p.domains) f.modeled |= d.modeled;
    auto children = p.Children();
    std::map<std::string, double> leaves;
    for (size_t i = 0; i < p.nodes.size(); ++i) {
      const ProfileNode& n = p.nodes[i];
      if (i != 0) f.module_j[ModuleOf(n.path)] += n.SelfJ();
      if (IsLeaf(p, children, i)) leaves[n.path] += n.TotalJ();
    }
    f.leaf_j.push_back(std::move(leaves));
  }
  return f;
}

// Pearson r of leaf energies summed over the first k steps, between two repeats.
double RepeatCorrelation(const RepeatFigures& a, const RepeatFigures& b, size_t k) {
  std::map<std::string, std::pair<double, double>> sum;
  for (size_t s = 0; s < k && s < a.leaf_j.size(); ++s)
    for (const auto& [path, j] : a.leaf_j[s]) sum[path].first += j;
  for (size_t s = 0; s < k && s < b.leaf_j.size(); ++s)
    for (const auto& [path, j] : b.leaf_j[s]) sum[path].second += j;
  std::vector<double> x, y;
  for (const auto& [path, v] : sum) {
    x.push_back(v.first);
    y.push_back(v.second);
  }
  return Pearson(x, y);
}

void Finish(ConfigFigures& c, int steps) {
  std::vector<double> per_repeat_j;
  double total_j = 0, total_s = 0, total_window_s = 0;
  int64_t n_steps = 0;
  std::array<double, kModuleCount> module_j{};
  for (const RepeatFigures& r : c.repeats) {
    double j = std::accumulate(r.step_j.begin(), r.step_j.end(), 0.0);
    per_repeat_j.push_back(j / r.step_j.size());
    total_j += j;
    total_window_s += r.window_s;
    for (int64_t ns : r.step_ns) total_s += ns * 1e-9;
    n_steps += static_cast<int64_t>(r.step_j.size());
    for (int m = 0; m < kModuleCount; ++m) module_j[m] += r.module_j[m];
  }
  c.j_per_step = total_j / n_steps;
  if (per_repeat_j.size() > 1) {
    double var = 0;
    const double mean = std::accumulate(per_repeat_j.begin(), per_repeat_j.end(), 0.0) /
                        per_repeat_j.size();
    for (double j : per_repeat_j) var += (j - mean) * (j - mean);
    c.j_std = std::sqrt(var / (per_repeat_j.size() - 1));
  }
  c.s_per_step = total_s / n_steps;
  c.power_w = total_window_s > 0 ? total_j / total_window_s : 0;
  c.mj_per_token = c.j_per_step / c.config.TokensPerStep() * 1e3;
  const double attributed = std::accumulate(module_j.begin(), module_j.end(), 0.0);
  for (int m = 0; m < kModuleCount; ++m) c.share[m] = attributed > 0 ? module_j[m] / attributed : 0;
  for (int k = 1; k <= steps; ++k) {
    double sum = 0;
    int pairs = 0;
    for (size_t i = 0; i < c.repeats.size(); ++i)
      for (size_t j = i + 1; j < c.repeats.size(); ++j) {
        double r = RepeatCorrelation(c.repeats[i], c.repeats[j], k);
        if (!std::isnan(r)) {
          sum += r;
          ++pairs;
        }
      }
    c.r_by_steps.push_back(pairs > 0 ? sum / pairs : NAN);
  }
}

std::string FormatR(double r) { return std::isnan(r) ? "-" : fmt::format("{:.3f}", r); }

// The sweep's plan: the base model, the task and one configuration per point
// of the grid (the cartesian product of the axes, first axis slowest).
struct SweepPlan {
  models::ModelConfig base;
  models::Task task;
  std::vector<ConfigFigures> configs;
};

Result<SweepPlan> PlanSweep(const SweepArgs& a) {
  SweepPlan plan;
  SMG_ASSIGN_OR_RETURN(plan.base, BuildModelConfig(a.model, kDefaultPreset));
  SMG_ASSIGN_OR_RETURN(plan.task, BuildTask(a.model));
  std::vector<GridAxis> axes;
  for (const std::string& spec : a.grid) {
    SMG_ASSIGN_OR_RETURN(GridAxis axis, ParseGridAxis(spec));
    axes.push_back(std::move(axis));
  }
  // hidden first, since it resets heads and intermediate to H/64 and 4H.
  std::stable_sort(axes.begin(), axes.end(), [](const GridAxis& x, const GridAxis& y) {
    return x.key == "hidden" && y.key != "hidden";
  });
  std::vector<size_t> at(axes.size(), 0);
  while (true) {
    ConfigFigures c;
    c.config = plan.base;
    std::vector<std::string> label;
    for (size_t i = 0; i < axes.size(); ++i) {
      SMG_RETURN_IF_ERROR(models::SetConfigValue(c.config, axes[i].key, axes[i].values[at[i]]));
      label.push_back(fmt::format("{}={}", axes[i].key, axes[i].values[at[i]]));
    }
    if (a.model.heads > 0) c.config.heads = a.model.heads;
    if (a.model.intermediate > 0) c.config.intermediate = a.model.intermediate;
    if (c.config.architecture == models::Architecture::kAlbert)
      c.config.embedding = std::min(c.config.embedding, c.config.hidden);
    Status valid = models::ValidateConfig(c.config);
    if (!valid.ok()) {
      Error e = valid.error();
      e.message = fmt::format("configuration {}: {}", fmt::join(label, " "), e.message);
      return e;
    }
    c.label = label.empty() ? std::string("base") : fmt::format("{}", fmt::join(label, " "));
    plan.configs.push_back(std::move(c));
    size_t i = axes.size();
    while (i > 0 && ++at[i - 1] == axes[i - 1].values.size()) at[--i] = 0;
    if (i == 0) break;
  }
  return plan;
}

// What the measurements say about the energy source, for the header and the CSV.
struct SweepSource {
  bool modeled = false;
  std::string words;
};

// Runs every configuration --repeat times (one live session per step) and
// fills in its figures.
Result<SweepSource> MeasureConfigs(const SweepArgs& a, SweepPlan& plan) {
  SweepSource source;
  std::vector<ConfigFigures>& configs = plan.configs;
  for (size_t ci = 0; ci < configs.size(); ++ci) {
    ConfigFigures& c = configs[ci];
    for (int r = 0; r < a.repeat; ++r) {
      models::RunOptions run;
      run.config = c.config;
      run.task = plan.task;
      run.steps = a.steps;
      run.warmup_steps = a.warmup;
      run.session_per_step = true;
      run.session = BuildSessionOptions(a.model);
      run.progress = [&](std::string_view stage, int done, int total) {
        ShowProgress(fmt::format("[{}/{}] {} repeat {} {}", ci + 1, configs.size(), c.label,
                                 r + 1, stage),
                     done, total);
      };
      auto result = models::RunModel(run);
      EndProgress();
      if (!result.ok()) return result.error();
      if (source.words.empty() && !result->step_profiles.empty())
        source.words = DescribeEnergySource(result->step_profiles.front());
      c.repeats.push_back(Summarize(*result));
      source.modeled |= c.repeats.back().modeled;
    }
    Finish(c, a.steps);
  }
  return source;
}

// The tables on stdout: one row per configuration, the pairwise differences
// and the run-to-run stability.
void PrintSweepTables(const SweepArgs& a, const std::vector<ConfigFigures>& configs) {
  size_t label_w = 6;
  for (const ConfigFigures& c : configs) label_w = std::max(label_w, c.label.size());
  fmt::print("{:<{}}  {:>9} {:>8} {:>9} {:>8} {:>7}", "config", label_w, "J/step", "±std J",
             "mJ/token", "s/step", "W");
  for (const char* m : kModules) fmt::print(" {:>7.7}", m);
  fmt::print(" {:>7}\n", "r");
  for (const ConfigFigures& c : configs) {
    fmt::print("{:<{}}  {:>9.4g} {:>8.2g} {:>9.4g} {:>8.4g} {:>7.4g}", c.label, label_w,
               c.j_per_step, c.j_std, c.mj_per_token, c.s_per_step, c.power_w);
    for (double s : c.share) fmt::print(" {:>6.1f}%", 100 * s);
    fmt::print(" {:>7}\n", FormatR(c.r_by_steps.empty() ? NAN : c.r_by_steps.back()));
  }
  fmt::print("  shares: of the energy attributed to operations; heads = pooler + cls + "
             "classifier; other = optimizer and the rest\n");
  fmt::print("  r: Pearson correlation of leaf energies between repeats over all {} steps\n\n",
             a.steps);

  if (configs.size() > 1) {
    fmt::print("Pairwise (B against A):\n");
    fmt::print("{:<{}}  {:<{}}  {:>10} {:>7} {:>10} {:>9}\n", "A", label_w, "B", label_w,
               "ΔJ/step", "B/A", "Δs/step", "ΔW");
    for (size_t i = 0; i < configs.size(); ++i)
      for (size_t j = i + 1; j < configs.size(); ++j) {
        const ConfigFigures &x = configs[i], &y = configs[j];
        fmt::print("{:<{}}  {:<{}}  {:>+10.4g} {:>7.3f} {:>+10.4g} {:>+9.4g}\n", x.label,
                   label_w, y.label, label_w, y.j_per_step - x.j_per_step,
                   x.j_per_step > 0 ? y.j_per_step / x.j_per_step : NAN,
                   y.s_per_step - x.s_per_step, y.power_w - x.power_w);
      }
    fmt::print("\n");
  }

  if (a.repeat > 1) {
    fmt::print("Run-to-run stability: Pearson r of leaf energies between repeats, "
               "after k steps aggregated\n");
    fmt::print("{:<{}} ", "config", label_w);
    for (int k = 1; k <= a.steps; ++k) fmt::print(" {:>6}", fmt::format("k={}", k));
    fmt::print("\n");
    for (const ConfigFigures& c : configs) {
      fmt::print("{:<{}} ", c.label, label_w);
      for (double r : c.r_by_steps) fmt::print(" {:>6}", FormatR(r));
      fmt::print("\n");
    }
    fmt::print("\n");
  } else {
    fmt::print("Run-to-run stability needs --repeat 2 or more.\n\n");
  }
}

// sweep.csv (one row per configuration) and stability.csv (r by steps
// aggregated) in the folder -o, written relative to it (docs/security.md).
Status WriteSweepCsvs(const SweepArgs& a, const SweepPlan& plan, bool modeled) {
  std::string csv =
      "model,task,layers,hidden,heads,intermediate,embedding,seq,batch,vocab,repeats,steps,"
      "energy_j_per_step,energy_std_j,energy_mj_per_token,time_s_per_step,power_w";
  for (const char* m : kModules) csv += fmt::format(",share_{}", m);
  csv += ",pearson_r,modeled\n";
  for (const ConfigFigures& c : plan.configs) {
    const models::ModelConfig& m = c.config;
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}",
                       models::ArchitectureName(m.architecture), models::TaskName(plan.task),
                       m.layers, m.hidden, m.heads, m.intermediate, m.embedding, m.seq, m.batch,
                       m.vocab, a.repeat, a.steps, c.j_per_step, c.j_std, c.mj_per_token,
                       c.s_per_step, c.power_w);
    for (double s : c.share) csv += fmt::format(",{:.4f}", s);
    double r = c.r_by_steps.empty() ? NAN : c.r_by_steps.back();
    csv += fmt::format(",{},{}\n", std::isnan(r) ? std::string() : fmt::format("{:.4f}", r),
                       modeled ? "true" : "false");
  }
  std::string stability = "config,steps_aggregated,pearson_r\n";
  for (const ConfigFigures& c : plan.configs)
    for (size_t k = 0; k < c.r_by_steps.size(); ++k)
      stability += fmt::format("\"{}\",{},{}\n", c.label, k + 1,
                               std::isnan(c.r_by_steps[k])
                                   ? std::string()
                                   : fmt::format("{:.4f}", c.r_by_steps[k]));
  SMG_ASSIGN_OR_RETURN(OutputDirectory out, OutputDirectory::Open(a.output));
  SMG_RETURN_IF_ERROR(out.WriteFile("sweep.csv", csv));
  SMG_RETURN_IF_ERROR(out.WriteFile("stability.csv", stability));
  fmt::print("Written: {}/sweep.csv (one row per configuration), {}/stability.csv (r by steps "
             "aggregated)\n",
             a.output, a.output);
  return {};
}

int RunSweep(const SweepArgs& a) {
  auto plan = PlanSweep(a);
  if (!plan.ok()) return PrintError(plan.error());
  const std::vector<ConfigFigures>& configs = plan->configs;
  fmt::print("smaragdine sweep: {} {}, {} configuration{} × {} repeat{} × {} steps "
             "(one live session per step)\n",
             models::ArchitectureName(plan->base.architecture), models::TaskName(plan->task),
             configs.size(), configs.size() == 1 ? "" : "s", a.repeat, a.repeat == 1 ? "" : "s",
             a.steps);
  fmt::print("  base: {}\n", plan->base.Describe());
  std::fflush(stdout);
  auto source = MeasureConfigs(a, *plan);
  if (!source.ok()) return PrintError(source.error());
  fmt::print("  energy {}\n\n", source->words);
  PrintSweepTables(a, configs);
  Status written = WriteSweepCsvs(a, *plan, source->modeled);
  return written.ok() ? 0 : PrintError(written.error());
}

// `smaragdine sweep --help` after the summary.
constexpr char kDetails[] =
    "For each point of the grid: energy per step and per token, time, power and the\n"
    "modules' shares; then the pairwise differences and the run-to-run stability.";

// `smaragdine sweep --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  smaragdine sweep --grid layers=2,4 --grid hidden=128,256 --steps 5 --repeat 2\n"
    "  smaragdine sweep --model bert --grid layers=6,8,10,12 --grid hidden=512,768 --steps 10\n"
    "  smaragdine sweep --preset bert-mini --task predict --grid batch=1,8,32 --grid seq=64,128\n"
    "Each measured step runs under its own live session, so run-to-run stability can be\n"
    "shown as steps are aggregated (k = 1 … --steps).\n"
    "Exit status: 0 ok, 1 bad option, 3 nothing measurable.\n";

const CommandRegistration kRegistration{
    kSweepCommand.name, kSweepCommand.order, {kSweepCommand.summary, kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      auto args = std::make_shared<SweepArgs>();
      AddModelOptions(sub, args->model, kDefaultPreset);
      Repeatable(sub.add_option(
          "--grid", args->grid,
          "Repeatable. KEY=V1,V2,… over layers, hidden, heads, intermediate, embedding, "
          "seq, batch, vocab; the sweep runs every combination. Example: --grid "
          "layers=2,4 --grid hidden=128,256"));
      sub.add_option("--steps", args->steps, "Measured steps per run (default 5)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--warmup", args->warmup, "Unmeasured steps before each run (default 1)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--repeat", args->repeat,
                     "Runs per configuration, each with freshly built weights (default 2; "
                     "stability needs 2 or more)")
          ->check(CLI::PositiveNumber);
      sub.add_option("-o,--output", args->output,
                     "Directory for sweep.csv and stability.csv (default ./smaragdine-sweep)");
      return [args] { return RunSweep(*args); };
    }};

}  // namespace
}  // namespace smaragdine::cli
