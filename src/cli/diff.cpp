// `smaragdine diff`: compare two profiles node by node.
#include <cstdio>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "cli/command.h"
#include "common/io.h"
#include "smaragdine/report.h"
#include "smaragdine/report_presets.h"
#include "smaragdine/views.h"

namespace smaragdine::cli {
namespace {

struct DiffArgs {
  std::string a, b;
  std::vector<std::string> folds;
  std::vector<std::string> maps;
  std::string preset;
  int depth = -1;  // -1: all levels
  int top = 0;
  std::string format = "table";
  std::string output;
};

int RunDiff(const DiffArgs& args) {
  DiffOptions o;
  o.a_file = args.a;
  o.b_file = args.b;
  o.top = args.top;
  if (args.depth >= 0) o.depth = args.depth;
  o.format = args.format == "csv" ? ReportFormat::kCsv : ReportFormat::kTable;
  // A preset's rules come first, so --fold and --map see the renamed paths.
  if (!args.preset.empty()) {
    auto r = PathRulePreset(args.preset);
    if (!r.ok()) return PrintError(r.error());
    for (PathRule& rule : *r) o.rules.push_back(std::move(rule));
  }
  for (const std::string& f : args.folds) {
    auto r = ParseFoldRule(f);
    if (!r.ok()) return PrintError(r.error());
    o.rules.push_back(std::move(*r));
  }
  for (const std::string& m : args.maps) {
    auto r = ParseMapRule(m);
    if (!r.ok()) return PrintError(r.error());
    o.rules.push_back(std::move(*r));
  }
  if (!args.output.empty())
    if (Status s = CheckOutput(args.output, {{"A", args.a}, {"B", args.b}}); !s.ok())
      return PrintError(s.error());
  auto a = ReadProfileJson(args.a);
  if (!a.ok()) return PrintError(a.error());
  auto b = ReadProfileJson(args.b);
  if (!b.ok()) return PrintError(b.error());
  // As report does: every format folds with the rules, which take paths of
  // at most kMaxRulePathBytes (docs/security.md, "Names are data").
  for (const auto& [profile, file] : {std::pair{&*a, &args.a}, std::pair{&*b, &args.b}})
    if (Status s = CheckPathsForRules(*profile, o.rules, *file); !s.ok())
      return PrintError(s.error());
  // --format html: the comparison as a self-contained HTML page (views.h).
  auto html = args.format == "html" ? RenderDiffHtml(*a, *b, o, HtmlOptions{})
                                    : Result<std::string>(std::string());
  if (!html.ok()) return PrintError(html.error());
  // --format svg: side-by-side module bars (views.h), at --depth (default 2).
  std::string text = args.format == "html" ? *html : args.format == "svg"
      ? RenderModuleBarsChart({&*a, &*b}, {ProfileLabel(args.a), ProfileLabel(args.b)},
                              args.depth >= 0 ? args.depth : 2, o.rules)
      : RenderDiff(DiffProfiles(*a, *b, o), o);
  return WriteOutput(text, args.output);
}

// `smaragdine diff --help` after the summary.
constexpr char kDetails[] =
    "Energy in A and B, B-A, B/A, the change in power, the nodes found in only one,\n"
    "and how well the leaf energies correlate.";

// `smaragdine diff --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  smaragdine diff bert.json albert.json --preset albert-to-bert --depth 4\n"
    "  smaragdine diff bert.json albert.json --preset albert-to-bert --fold 'layer_\\d+' --top 15\n"
    "  smaragdine diff before.json after.json --top 20 --format csv -o changes.csv\n"
    "Rows are sorted by |B-A|; the summary gives the Pearson correlation of the matched\n"
    "leaves' energies. Exit status: 0 ok, 1 bad option, 2 unreadable profile.\n";

const CommandRegistration kRegistration{
    "diff", 40, {"Compare two profiles node by node", kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      auto args = std::make_shared<DiffArgs>();
      sub.add_option("A", args->a, "the baseline profile.json")->required();
      sub.add_option("B", args->b, "the profile compared with it")->required();
      Repeatable(sub.add_option(
          "--fold", args->folds,
          "Repeatable. Applied to both profiles: digits inside every match of RE in a "
          "path component become '*'. Example: --fold 'layer_\\d+'"));
      Repeatable(
          sub.add_option("--map", args->maps,
                         "Repeatable. RE=REPL applied to both profiles' paths (every match of RE "
                         "replaced by REPL, $1 for a group; RE2 syntax). "
                         "Example: --map 'albert=bert' lines ALBERT up with BERT"));
      std::string preset_help =
          "Apply a named set of --map rules before --fold and --map. Presets:";
      for (const PathRulePresetInfo& p : PathRulePresets())
        preset_help += "\n  " + p.name + ": " + p.description;
      sub.add_option("--preset", args->preset, preset_help);
      sub.add_option("--depth", args->depth,
                     "Compare nodes down to this many levels (top-level scopes are 1). "
                     "Example: --depth 3")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--top", args->top,
                     "Show only the N matched nodes with the largest |B-A|. Example: --top 10")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--format", args->format,
                     "table (for people), csv, svg (module bars side by side at --depth, "
                     "default 2) or html (one page: summary, tree table, both flame graphs, "
                     "charts). Example: --format html -o diff.html")
          ->check(CLI::IsMember({"table", "csv", "svg", "html"}));
      sub.add_option("-o,--output", args->output, "Write to this file instead of stdout");
      return [args] { return RunDiff(*args); };
    }};

}  // namespace
}  // namespace smaragdine::cli
