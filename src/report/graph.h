// graph.h — the module graph of one scope, shared by the DOT/SVG renderers and
// the HTML report (internal to src/report).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "smaragdine/profile.h"
#include "smaragdine/status.h"

namespace smaragdine::report_graph {

// The children of one scope in execution order, with the edges between them.
struct ScopeGraph {
  struct Edge {
    size_t from = 0, to = 0;  // indices into `children`
    // Data flow: how many producer → consumer node pairs the edge stands for;
    // timeline: how many times the transition happened.
    int64_t count = 1;
    bool back = false;  // goes to a child that first ran earlier (next step, a loop, backward pass)
  };
  uint32_t scope = 0;
  std::vector<uint32_t> children;  // by first start on the timeline, then profile order
  std::vector<Edge> edges;
  // Which edges: data flow when the profile has any (Profile::dataflow), else
  // timeline transitions, else a chain in profile order. The timeline, when
  // there is one, orders the children in every case.
  bool from_dataflow = false;
  bool from_timeline = false;
};

// `children` is Profile::Children(). A timeline naming nodes outside the
// profile is ignored (the graph falls back to profile order), and so are
// data-flow edges naming such nodes.
ScopeGraph BuildScopeGraph(const Profile& p, const std::vector<std::vector<uint32_t>>& children,
                           uint32_t scope);

// "12.3 %" ("n/a" when not finite).
std::string ShareText(double share);
// Fill colour for a node whose share is `relative` (0–1) of the largest sibling's.
std::string FillColor(double relative);

// Lays out DOT text with Graphviz's dot engine in process; returns the SVG.
// Thread-safe (serialised). Errors: kInternal with Graphviz's message; kUsage
// with NoGraphvizText() in a build without Graphviz.
Result<std::string> LayoutDotAsSvg(const std::string& dot);

// Whether this build lays out graphs (configured with Graphviz's libgvc).
bool GraphvizAvailable();
// Why a build without Graphviz draws no graph, and the fix.
std::string NoGraphvizText();

// A file name for a scope's graph: '/' becomes '~', anything outside
// [A-Za-z0-9._-] becomes '_'; the root is "_root".
std::string GraphFileStem(const std::string& path);

}  // namespace smaragdine::report_graph
