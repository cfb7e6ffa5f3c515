// The node trie and the small enum helpers declared in smaragdine/trace.h.
#include <functional>

#include <fmt/format.h>

#include "common/enum_text.h"
#include "smaragdine/trace.h"

namespace smaragdine {

const char* ToString(Phase p) {
  switch (p) {
    case Phase::kForward: return "forward";
    case Phase::kBackward: return "backward";
    case Phase::kOptimizer: return "optimizer";
    case Phase::kOther: return "other";
  }
  return "other";
}

const char* ToString(NodeKind k) {
  switch (k) {
    case NodeKind::kScope: return "scope";
    case NodeKind::kOp: return "op";
    case NodeKind::kKernel: return "kernel";
  }
  return "scope";
}

std::string Process::Label() const {
  if (rank >= 0) return fmt::format("rank {}", rank);
  if (pid >= 0) return fmt::format("pid {}", pid);
  return source.empty() ? std::string("process") : source;
}

const char* ToString(TimeBase b) {
  switch (b) {
    case TimeBase::kRealtime: return "realtime";
    case TimeBase::kMonotonic: return "monotonic";
    case TimeBase::kRelative: return "relative";
  }
  return "relative";
}

const char* ToString(TraceFormat f) {
  switch (f) {
    case TraceFormat::kAuto: return "auto";
    case TraceFormat::kTf1: return "tf1";
    case TraceFormat::kTf2: return "tf2";
    case TraceFormat::kJax: return "jax";
    case TraceFormat::kPytorch: return "pytorch";
    case TraceFormat::kPytorchLegacy: return "pytorch-legacy";
    case TraceFormat::kXplane: return "xplane";
    case TraceFormat::kOnnxRuntime: return "onnxruntime";
  }
  return "auto";
}

Result<TraceFormat> ParseTraceFormat(std::string_view s) {
  static constexpr TraceFormat kAll[] = {TraceFormat::kAuto,    TraceFormat::kTf1,
                                         TraceFormat::kTf2,     TraceFormat::kJax,
                                         TraceFormat::kPytorch, TraceFormat::kPytorchLegacy,
                                         TraceFormat::kXplane,  TraceFormat::kOnnxRuntime};
  return ParseEnumOption("trace format", s, kAll);
}

size_t NodeTable::KeyHash::operator()(const std::pair<NodeId, std::string>& k) const {
  return std::hash<std::string>()(k.second) * 31 + k.first;
}

NodeTable::NodeTable() {
  names_.emplace_back();
  parents_.push_back(kRootNode);
  kinds_.push_back(NodeKind::kScope);
}

NodeId NodeTable::Child(NodeId parent, std::string_view name, NodeKind kind) {
  // The key copy costs an allocation per lookup for long names; dialects cache
  // (parent, name) → child where it matters.
  auto key = std::make_pair(parent, std::string(name));
  auto it = index_.find(key);
  if (it != index_.end()) {
    NodeId id = it->second;
    if (kinds_[id] == NodeKind::kScope && kind != NodeKind::kScope) kinds_[id] = kind;
    return id;
  }
  NodeId id = static_cast<NodeId>(names_.size());
  names_.push_back(key.second);
  parents_.push_back(parent);
  kinds_.push_back(kind);
  index_.emplace(std::move(key), id);
  return id;
}

NodeId NodeTable::InternPath(std::string_view path, NodeKind leaf_kind, NodeId parent) {
  NodeId node = parent;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    bool last = path.find_first_not_of('/', slash) == std::string_view::npos;
    if (!part.empty()) node = Child(node, part, last ? leaf_kind : NodeKind::kScope);
    pos = slash + 1;
  }
  return node;
}

NodeId NodeTable::Find(std::string_view path) const {
  NodeId node = kRootNode;
  size_t pos = 0;
  bool any = false;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (!part.empty()) {
      auto it = index_.find(std::make_pair(node, std::string(part)));
      if (it == index_.end()) return kNoNode;
      node = it->second;
      any = true;
    }
    pos = slash + 1;
  }
  return any ? node : kNoNode;
}

NodeId NodeTable::EnclosingScope(NodeId id) const {
  while (id != kRootNode && kinds_[id] != NodeKind::kScope) id = parents_[id];
  return id;
}

int NodeTable::Depth(NodeId id) const {
  int depth = 0;
  while (id != kRootNode) {
    id = parents_[id];
    ++depth;
  }
  return depth;
}

std::string NodeTable::Path(NodeId id) const {
  if (id == kRootNode) return "";
  std::vector<NodeId> chain;
  for (NodeId n = id; n != kRootNode; n = parents_[n]) chain.push_back(n);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!out.empty()) out += '/';
    out += names_[*it];
  }
  return out;
}

}  // namespace smaragdine
