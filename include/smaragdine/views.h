// views.h — the profile as pictures: Perfetto timeline, energy flame graph,
// module graphs, charts and one self-contained HTML report (`report --format
// perfetto|svg|dot|graph-svg|html`, `diff --format html`).
//
// Like every report these are pure functions from a Profile to text (the CLI
// writes it out); RenderReport folds, restricts and cuts the subtree first,
// with the profile's tree algebra (profile.h: MergeNodesByPath,
// DomainProfile, SubtreeProfile).
//
//   SMG_ASSIGN_OR_RETURN(Profile p, ReadProfileJson("profile.json"));
//   std::string svg = RenderFlameSvg(p, 0, FlameOptions{});
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/profile.h"
#include "smaragdine/report.h"
#include "smaragdine/status.h"

namespace smaragdine {

// ---- Timeline (Perfetto / chrome://tracing JSON) ----
// Every timeline event as a complete slice on its lane's track (args: energy_j
// including nested slices, power_w, path, phase, step), one counter track per
// domain with its power in W. Errors: kBadInput naming `file` when the profile
// has no timeline (the message says to re-run account with --timeline always).
Result<std::string> RenderPerfetto(const Profile& profile, const std::string& file);
// The same written in pieces of about a megabyte as it is made, for traces too
// large to hold (~260 bytes an event): `sink` gets each piece in order; its
// error stops the writing and is returned. Nothing reaches `sink` when the
// profile has no timeline.
Status WritePerfetto(const Profile& profile, const std::string& file, const TextSink& sink);

// ---- Energy flame graph (SVG) ----
enum class FlameWeight { kEnergy, kTime };
struct FlameOptions {
  FlameWeight weight = FlameWeight::kEnergy;  // --weight energy|time: frame width
  std::string title;                          // "" → a title from the profile
  int width_px = 1200;
  std::optional<int> depth;                   // levels below the top frame; unset: all
};
// An icicle graph of the subtree under node `root`, width by weight, colour by
// average power, tooltips, click-to-zoom and search (inline JavaScript, scoped
// to its own <svg>, so it also works inlined in HTML). With root 0 and energy
// weight, the top frame is the window's measured energy, and (idle) and (other
// processes) frames (one child per domain) sit beside the root's children.
// Every frame is a <g class="fr"> with data-key (path), data-energy-j (exact).
// Tooltips give energy and power with the attribution's 95 % interval
// ("7.594 ± 0.27 J") where the profile has total_ci95.
std::string RenderFlameSvg(const Profile& profile, uint32_t root, const FlameOptions& options);

// `report --format svg`: the flame graph or the chart options.chart names, of
// the subtree under `root` (top ops and flame graph) or the whole profile
// (power, phases). options.step names a step by the number at the end of its
// name, as the trace numbers it (ProfilerStep#101 → 101; by position when
// step names carry no number). Errors: kBadInput naming options.file when the
// power chart has no timeline or no such step (the message names the steps).
Result<std::string> RenderSvgView(const Profile& profile, uint32_t root,
                                  const ReportOptions& options);

// How the charts name a profile file: its base name without .gz, .json and
// .profile ("runs/bert.profile.json" and "bert.profile.json.gz" → "bert").
std::string ProfileLabel(const std::string& file);

// ---- Charts (SVG) ----
// Top `n` ops/kernels by energy with 95 % confidence intervals over steps.
std::string RenderTopOpsChart(const Profile& profile, int n);
// Power over time of each domain for one step (index into the profile's steps,
// -1: the whole window) with forward/backward/optimizer spans marked; needs
// the timeline (empty string when the profile has none).
std::string RenderPowerChart(const Profile& profile, int step);
// Energy by phase (forward, backward, optimizer, other) for one or more
// profiles (e.g. pretrain / finetune / predict), labelled by `names`.
std::string RenderPhaseChart(const std::vector<const Profile*>& profiles,
                             const std::vector<std::string>& names);
// Side-by-side bars per module for two or more profiles (diff, sweep) at one
// depth below the root, after `rules`.
std::string RenderModuleBarsChart(const std::vector<const Profile*>& profiles,
                                  const std::vector<std::string>& names, int depth,
                                  const std::vector<PathRule>& rules);

// ---- Module graphs (Graphviz) ----
// The children of scope `scope` (sub-scopes and ops) as a DOT digraph: each
// node labelled with its name, its share of the scope's total energy and its
// energy in J, filled darker the larger its share (relative to the largest
// child). Edges follow the data flow where the profile has it
// (Profile::dataflow, from TensorFlow's inputN args), weighted by the number
// of producer → consumer pairs; without it, execution order (transitions on
// the timeline's lanes when present, else a chain in first-appearance order).
std::string RenderDot(const Profile& profile, uint32_t scope);
// The same graph laid out by Graphviz (libgvc, in process) as SVG. Errors:
// kInternal with Graphviz's message when layout fails.
Result<std::string> RenderGraphSvg(const Profile& profile, uint32_t scope);

// One file of `report --all-scopes`.
struct GraphFile {
  std::string name;        // file name inside the output folder ("bert~encoder.svg")
  std::string scope_path;  // the scope it shows ("" for the root)
  std::string text;
};
// Applies options' rules, --domain and --root as RenderReport does, then
// renders (options.format: kDot or kGraphSvg) the graph of --root and of
// every node with children down to options.depth levels below it (unset: all),
// parents first. Errors: kUsage for another format; kBadInput as RenderReport;
// kInternal from Graphviz.
Result<std::vector<GraphFile>> RenderAllScopeGraphs(const Profile& profile,
                                                    const ReportOptions& options);

// ---- HTML report ----
struct HtmlOptions {
  std::string title;         // "" → the profile file's name (or the trace's)
  std::string profile_file;  // shown in the summary
  uint32_t root = 0;         // node selected at first; its flame graph and module graph show
  int graph_depth = 2;       // module graphs embedded for scopes this many levels below root
  int open_depth = 2;        // tree levels open at first
};
// One file, everything inline (no network): run summary (sources, measured or
// modeled, window, diagnostics), a sortable and filterable node table that is
// a collapsible tree (with "±" columns for the energy's and the power's
// interval where the profile has total_ci95), the flame graph, the charts,
// and the module graph of the selected scope. The page is drawn by its own
// JavaScript from an embedded JSON block. Errors: kBadInput for a profile without nodes; kInternal from
// Graphviz.
Result<std::string> RenderHtml(const Profile& profile, const HtmlOptions& options);
// `report --format html` on a profile already folded and restricted:
// HtmlOptions from ReportOptions (file, --root, --depth as graph_depth).
Result<std::string> RenderHtmlView(const Profile& profile, uint32_t root,
                                   const ReportOptions& options);
// The same for a comparison of two profiles (`diff --format html`): the diff
// summary, a tree table of the matched and one-sided nodes (A J, B J, B−A,
// B/A, powers), both flame graphs, the module bars and phase charts.
Result<std::string> RenderDiffHtml(const Profile& a, const Profile& b, const DiffOptions& options,
                                   const HtmlOptions& html);

}  // namespace smaragdine
