// autograd_names.h — the names PyTorch's autograd engine gives its records,
// read the same way by the PyTorch trace reader (dialect_pytorch.cpp) and by
// live accounting (src/torch/live/build_trace.cpp), so both build one tree.
#pragma once

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

}  // namespace smaragdine
