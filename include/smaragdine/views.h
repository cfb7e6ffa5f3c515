// views.h — the profile as pictures: Perfetto timeline, energy flame graph,
// module graphs, charts and one self-contained HTML report (`report --format
// perfetto|svg|dot|graph-svg|html`, `diff --format html`).
//
// Like every report these are pure functions from a Profile (already folded
// and restricted by RenderReport) to text; the CLI writes the text out.
//
//   SMG_ASSIGN_OR_RETURN(Profile p, ReadProfileJson("profile.json"));
//   std::string svg = RenderFlameSvg(p, 0, FlameOptions{});
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smaragdine/profile.h"
#include "smaragdine/report.h"
#include "smaragdine/status.h"

namespace smaragdine {

// ---- Timeline (Perfetto / chrome://tracing JSON) ----
// Every timeline event as a complete slice on its lane's track (args: energy_j
// including nested slices, power_w, path, phase, step), one counter track per
// domain with its power in W. Errors: kBadInput naming `file` when the profile
// has no timeline (the message says to re-run account with --timeline).
Result<std::string> RenderPerfetto(const Profile& profile, const std::string& file);

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
std::string RenderFlameSvg(const Profile& profile, uint32_t root, const FlameOptions& options);

// `report --format svg`: the flame graph or the chart options.chart names, of
// the subtree under `root` (top ops and flame graph) or the whole profile
// (power, phases). Errors: kBadInput naming options.file when the power chart
// has no timeline or no such step.
Result<std::string> RenderSvgView(const Profile& profile, uint32_t root,
                                  const ReportOptions& options);

// How the charts name a profile file: its base name without .json and
// .profile ("runs/bert.profile.json" → "bert").
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
// node labelled with its name and share of the scope's energy and coloured by
// it; edges in execution order (from the timeline when present, else by first
// appearance).
std::string RenderDot(const Profile& profile, uint32_t scope);
// The same graph laid out by Graphviz (libgvc) as SVG. Errors: kInternal with
// Graphviz's message when layout fails.
Result<std::string> RenderGraphSvg(const Profile& profile, uint32_t scope);

// ---- HTML report ----
struct HtmlOptions {
  std::string title;         // "" → from the profile's meta
  std::string profile_file;  // shown in the summary
};
// One file, everything inline (no network): run summary, sortable/filterable
// node table with a collapsible tree, flame graph, charts, and the module graph
// of a selected scope.
Result<std::string> RenderHtml(const Profile& profile, const HtmlOptions& options);
// The same for a comparison of two profiles (`diff --format html`).
Result<std::string> RenderDiffHtml(const Profile& a, const Profile& b, const DiffOptions& options,
                                   const HtmlOptions& html);

}  // namespace smaragdine
