// `smaragdine report`: print a profile.json as a table, CSV, JSON or folded stacks.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/command.h"
#include "common/io.h"
#include "common/progress.h"
#include "smaragdine/report.h"
#include "smaragdine/views.h"

namespace smaragdine::cli {
namespace {

struct ReportArgs {
  std::string profile;
  int depth = -1;  // -1: the format's default
  std::string root;
  int top = 0;
  std::string sort = "energy";
  std::vector<std::string> folds;
  std::vector<std::string> maps;
  std::string format = "table";
  std::string output;
  std::string domain;
  std::string weight = "energy";
  std::string chart = "flame";
  int step = -1;
  std::vector<std::string> also;  // more profiles for --chart phases
  bool all_scopes = false;
  std::string by;  // --by rank; "" for the tree
};

// Compiles --fold and --map into rules, folds first (in the order given), then maps.
Result<std::vector<PathRule>> BuildRules(const std::vector<std::string>& folds,
                                         const std::vector<std::string>& maps) {
  std::vector<PathRule> rules;
  for (const std::string& f : folds) {
    SMG_ASSIGN_OR_RETURN(PathRule r, ParseFoldRule(f));
    rules.push_back(std::move(r));
  }
  for (const std::string& m : maps) {
    SMG_ASSIGN_OR_RETURN(PathRule r, ParseMapRule(m));
    rules.push_back(std::move(r));
  }
  return rules;
}

// WriteReport into `output` (atomically: nothing replaces it unless all was
// written) or, without one, standard output.
Status StreamReport(const Profile& profile, const ReportOptions& o, const std::string& output) {
  if (output.empty())
    return WriteReport(profile, o, [](std::string_view piece) { return WriteStdout(piece); });
  SMG_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(output));
  SMG_RETURN_IF_ERROR(
      WriteReport(profile, o, [&file](std::string_view piece) { return file.Write(piece); }));
  return file.Commit();
}

// --chart phases with --also: one bar per profile (each after --domain).
// `first` is moved in, not copied: with a timeline it is most of the memory.
int RunPhaseChart(Profile first, const ReportArgs& a, const ReportOptions& o) {
  std::vector<Profile> profiles;
  profiles.push_back(std::move(first));
  std::vector<std::string> names{ProfileLabel(a.profile)};
  for (const std::string& file : a.also) {
    auto p = ReadProfileJson(file);
    if (!p.ok()) return PrintError(p.error());
    profiles.push_back(std::move(*p));
    names.push_back(ProfileLabel(file));
  }
  std::vector<const Profile*> ptrs;
  for (size_t i = 0; i < profiles.size(); ++i) {
    if (!o.domain.empty()) {
      auto one = RestrictToDomain(profiles[i], o.domain, i == 0 ? a.profile : a.also[i - 1]);
      if (!one.ok()) return PrintError(one.error());
      profiles[i] = std::move(*one);
    }
    if (profiles[i].nodes.empty())
      return PrintError(BadInput(i == 0 ? a.profile : a.also[i - 1], "the profile has no nodes"));
  }
  for (const Profile& p : profiles) ptrs.push_back(&p);
  return WriteOutput(RenderPhaseChart(ptrs, names), a.output);
}

// --all-scopes: one graph file per scope into the folder `dir` (created, and
// opened once: every file is written relative to it, as record writes its run
// directory; docs/security.md).
int WriteAllScopeGraphs(const Profile& profile, const ReportOptions& o, const std::string& dir) {
  auto files = RenderAllScopeGraphs(profile, o);
  if (!files.ok()) return PrintError(files.error());
  auto out = OutputDirectory::Open(dir);
  if (!out.ok()) return PrintError(out.error());
  for (const GraphFile& f : *files) {
    Status s = out->Check(f.name, {{"profile", o.file}});
    if (s.ok()) s = out->WriteFile(f.name, f.text);
    if (!s.ok()) return PrintError(s.error());
  }
  std::fprintf(stderr, "wrote %zu module graph%s to %s/\n", files->size(),
               files->size() == 1 ? "" : "s", dir.c_str());
  return 0;
}

int RunReport(const ReportArgs& a) {
  ReportOptions o;
  o.file = a.profile;
  if (a.depth >= 0) o.depth = a.depth;
  o.root = a.root;
  o.top = a.top;
  o.domain = a.domain;
  o.weight_time = a.weight == "time";
  o.step = a.step;
  auto chart = ParseSvgChart(a.chart);
  if (!chart.ok()) return PrintError(chart.error());
  o.chart = *chart;
  auto format = ParseReportFormat(a.format);
  if (!format.ok()) return PrintError(format.error());
  o.format = *format;
  auto sort = ParseSortKey(a.sort);
  if (!sort.ok()) return PrintError(sort.error());
  o.sort = *sort;
  auto rules = BuildRules(a.folds, a.maps);
  if (!rules.ok()) return PrintError(rules.error());
  o.rules = std::move(*rules);
  if (!a.by.empty()) {
    auto by = ParseReportBy(a.by);
    if (!by.ok()) return PrintError(by.error());
    o.by = *by;
    if (Status s = CheckRankReportOptions(o); !s.ok()) return PrintError(s.error());
  }

  if (a.all_scopes) {
    if (o.format != ReportFormat::kDot && o.format != ReportFormat::kGraphSvg)
      return PrintError(UsageError(
          "--all-scopes writes module graphs: add --format dot or --format graph-svg"));
    if (a.output.empty())
      return PrintError(
          UsageError("--all-scopes writes one file per scope: name a folder with -o DIR"));
  }
  if (!a.also.empty() && (o.format != ReportFormat::kSvg || o.chart != SvgChart::kPhases))
    return PrintError(UsageError("--also only applies to --format svg --chart phases"));

  // An output that would be refused, or would destroy an input, fails before the work.
  if (!a.output.empty() && !a.all_scopes) {
    std::vector<NamedInput> inputs{{"profile", a.profile}};
    for (const std::string& f : a.also) inputs.push_back({"--also", f});
    if (Status s = CheckOutput(a.output, inputs); !s.ok()) return PrintError(s.error());
  }
  // On a terminal, a progress line while a large profile is read and rendered.
  ProgressLine progress("report");
  progress.Stage("reading " + a.profile, InputBytes(a.profile), ProgressUnit::kBytes);
  auto profile = ReadProfileJson(a.profile);
  progress.Finish();
  if (!profile.ok()) return PrintError(profile.error());
  if (o.format == ReportFormat::kSvg && o.chart == SvgChart::kPhases && !a.also.empty())
    return RunPhaseChart(std::move(*profile), a, o);
  if (a.all_scopes) return WriteAllScopeGraphs(*profile, o, a.output);
  progress.Stage(profile->timeline.events.empty()
                     ? fmt::format("rendering {} nodes as {}", profile->nodes.size(), a.format)
                     : fmt::format("rendering {} nodes and {} events as {}", profile->nodes.size(),
                                   profile->timeline.events.size(), a.format));
  if (o.format == ReportFormat::kPerfetto || o.format == ReportFormat::kJson) {
    // Written as it is made: the trace is ~6× the profile's size, the JSON its
    // size (a 10 M-event profile is ~470 MB), neither held whole.
    Status written = StreamReport(*profile, o, a.output);
    progress.Finish();
    return written.ok() ? 0 : PrintError(written.error());
  }
  auto text = RenderReport(*profile, o);
  progress.Finish();
  if (!text.ok()) return PrintError(text.error());
  // The table carries its diagnostics block; when it goes to a file, the
  // terminal still hears about warnings and anomalies.
  if (o.format == ReportFormat::kTable && !a.output.empty())
    PrintDiagnostics(profile->diagnostics);
  return WriteOutput(*text, a.output);
}

// `smaragdine report --help` after the summary.
constexpr char kDetails[] =
    "The energy tree by name scope, the top operations, or the profile as CSV, JSON,\n"
    "flame-graph stacks, SVG charts, an HTML page or a Perfetto timeline.";

// `smaragdine report --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  smaragdine report profile.json --depth 3\n"
    "  smaragdine report profile.json --root bert/encoder --fold 'layer_\\d+'\n"
    "  smaragdine report profile.json --top 15 --domain cpu:0/package\n"
    "  smaragdine report profile.json --format folded -o energy.folded\n"
    "  smaragdine report profile.json --format svg --root bert/encoder -o encoder.svg\n"
    "  smaragdine report profile.json --format svg --chart top --top 10 -o top.svg\n"
    "  smaragdine report pretrain.json --format svg --chart phases --also finetune.json \\\n"
    "      -o phases.svg\n"
    "  smaragdine report profile.json --format graph-svg --root bert/encoder -o encoder.svg\n"
    "  smaragdine report profile.json --all-scopes --depth 2 --format dot -o graphs/\n"
    "  smaragdine report profile.json --format html -o report.html\n"
    "  smaragdine report job.json --by rank --depth 3\n"
    "  smaragdine report profile.json --format perfetto -o run.perfetto.json\n"
    "      (then ui.perfetto.dev → Open trace file, or chrome://tracing → Load)\n"
    "Exit status: 0 ok, 1 bad option, 2 unreadable profile, unknown --root/--domain, or\n"
    "--by rank on a profile recorded as one process.\n";

const CommandRegistration kRegistration{
    "report", 30,
    {"Print a profile: tree, top ops, CSV, JSON, SVG, HTML, Perfetto", kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      auto args = std::make_shared<ReportArgs>();
      sub.add_option("profile", args->profile, "profile.json written by `smaragdine account`")
          ->required();
      sub.add_option("--depth", args->depth,
                     "Levels of the tree to show below the root (its children are level 1). "
                     "Default 6 for the table, all for csv/json. Example: --depth 3")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--root", args->root,
                     "Show only the subtree under this path. "
                     "Example: --root bert/encoder/layer_3/attention");
      sub.add_option("--top", args->top,
                     "Instead of the tree, list the N ops/kernels with the highest self energy "
                     "(or --sort). Example: --top 20")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--sort", args->sort,
                     "Order children (and --top) by total energy, average power or time. "
                     "Example: --sort power")
          ->check(CLI::IsMember({"energy", "power", "time"}));
      sub.add_option(
             "--fold", args->folds,
             "Repeatable. In each path component, digits inside every match of RE become "
             "'*', and nodes that then share a path are merged. Example: --fold 'layer_\\d+' "
             "turns layer_0 … layer_11 into one layer_*; merged nodes show n, mean ± std, min and "
             "max of their originals (per sibling J)")
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
          ->expected(1)
          ->allow_extra_args(false);
      sub.add_option("--map", args->maps,
                     "Repeatable. RE=REPL: every match of RE in the whole path is replaced by REPL "
                     "($1 for a group; RE2 syntax, no lookaround), applied after --fold. Example: "
                     "--map 'tf_bert_for_masked_lm/=' drops a wrapper scope")
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
          ->expected(1)
          ->allow_extra_args(false);
      sub.add_option(
             "--format", args->format,
             "table (for people), csv (one row per node), json (the folded, filtered "
             "profile), folded (flamegraph.pl stacks, self energy in µJ), svg (an energy "
             "flame graph to open in a browser: hover for figures, click to zoom, Ctrl-F "
             "to search), dot / graph-svg (the module graph of --root: its children with "
             "their share of its energy, as Graphviz DOT or laid out as SVG), html (one "
             "self-contained page to open in a browser: summary, tree table, flame graph, "
             "charts, module graphs down to --depth, default 2), perfetto (the timeline as "
             "Chrome trace JSON: every event as a slice with its energy, each domain's power "
             "as a counter track; open it in ui.perfetto.dev; needs a profile accounted with "
             "a timeline). Example: --format html -o report.html")
          ->check(CLI::IsMember(
              {"table", "csv", "json", "folded", "svg", "dot", "graph-svg", "html", "perfetto"}));
      sub.add_option("--weight", args->weight,
                     "--format svg: frame widths by energy (default) or by busy time, to see "
                     "where time and energy part ways. Example: --weight time")
          ->check(CLI::IsMember({"energy", "time"}));
      sub.add_option(
             "--chart", args->chart,
             "--format svg: flame (the flame graph, default), top (the --top N ops, default "
             "15, by energy per step with 95 % confidence intervals), power (power of each "
             "domain over --step with its phases; needs a profile with a timeline, which "
             "account --timeline always keeps), "
             "phases (energy by forward/backward/optimizer, one bar per profile; add more "
             "with --also). Example: --chart top --top 10")
          ->check(CLI::IsMember({"flame", "top", "power", "phases"}));
      sub.add_option(
          "--step", args->step,
          "--chart power: the step to draw, numbered as in the trace; -1 (default) is the "
          "whole window. Example: --step 3");
      sub.add_option("--also", args->also,
                     "Repeatable. --chart phases: another profile to put beside this one, named by "
                     "its file name. Example: --also finetune.json --also predict.json")
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
          ->expected(1)
          ->allow_extra_args(false);
      sub.add_flag("--all-scopes", args->all_scopes,
                   "With --format dot|graph-svg and -o DIR: write the graph of --root and of every "
                   "scope down to --depth levels below it, one file per scope (bert~encoder.svg). "
                   "Example: --all-scopes --depth 2 --format graph-svg -o graphs");
      sub.add_option(
             "--by", args->by,
             "rank: each node's energy per rank of a job (the profile's processes), with "
             "min / median / max over the ranks, the spread and the straggler (table); one row "
             "per node and rank (csv); html has it as 'Imbalance across ranks'. "
             "Example: --by rank --fold 'layer_\\d+'")
          ->check(CLI::IsMember({"rank"}));
      sub.add_option("-o,--output", args->output, "Write to this file instead of stdout");
      sub.add_option("--domain", args->domain,
                     "Only this energy domain instead of all summed. Example: --domain gpu:0");
      return [args] { return RunReport(*args); };
    }};

}  // namespace
}  // namespace smaragdine::cli
