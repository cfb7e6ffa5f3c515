// autograd_names.h — the names PyTorch's autograd engine gives its records,
// read the same way by the PyTorch trace reader (dialect_pytorch.cpp) and by
// live accounting (src/torch/live/build_trace.cpp), so both build one tree.
// Where those records go in the tree: autograd_rules.h.
#pragma once

#include <cctype>
#include <string_view>

namespace smaragdine {

// The engine's wrapper around each backward function it runs:
// "autograd::engine::evaluate_function: AddmmBackward0".
inline constexpr std::string_view kEvaluateFunctionPrefix = "autograd::engine::evaluate_function: ";

// "torch::autograd::AccumulateGrad" or its evaluate_function wrapper: the
// autograd node that adds a gradient into a parameter's .grad. It has no
// forward operator (its sequence number is UINT64_MAX).
inline bool IsAccumulateGrad(std::string_view name) {
  constexpr std::string_view kName = "torch::autograd::AccumulateGrad";
  return name.size() >= kName.size() && name.substr(name.size() - kName.size()) == kName;
}

// A backward function's name: "AddmmBackward0", "AddmmBackward1",
// "torch::autograd::CopyBackwards", or the engine's evaluate_function
// wrapper around one.
inline bool IsBackwardName(std::string_view name) {
  if (name.substr(0, kEvaluateFunctionPrefix.size()) == kEvaluateFunctionPrefix) return true;
  size_t p = name.rfind("Backward");
  if (p == std::string_view::npos || p == 0) return false;
  for (size_t i = p + 8; i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i])) && name[i] != 's') return false;
  return true;
}

// The node a backward function gets under its forward op: the function's own
// name, without the engine's wrapper ("AddmmBackward0"), so the tree reads
// …/aten::addmm/AddmmBackward0/aten::mm and the backward work is named as
// such, not an aten::mm inside an aten::addmm. The wrapper and the function
// it wraps share the node.
inline std::string_view BackwardNodeName(std::string_view name) {
  if (name.substr(0, kEvaluateFunctionPrefix.size()) == kEvaluateFunctionPrefix)
    name.remove_prefix(kEvaluateFunctionPrefix.size());
  return name;
}

}  // namespace smaragdine
