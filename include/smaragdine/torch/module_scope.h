// module_scope.h — scopes named after a model's registered submodules, so the
// energy tree follows the model's structure with no scope names typed by hand.
//
//   auto model = MyModel(...);
//   smaragdine::live::NameModules(*model, "bert");   // once, after construction
//
//   torch::Tensor EncoderImpl::forward(torch::Tensor x) {
//     SMARAGDINE_MODULE_SCOPE(*this);                // "encoder", as registered
//     for (auto& layer : layers) x = layer->forward(x);   // each opens its own
//     return smaragdine::live::Call(norm, x);        // scope "norm", then forward
//   }
//
// gives bert/encoder/layers/0/attention/…, bert/encoder/norm/aten::layer_norm.
//
// The names are the segments that register_module gave: NameModules walks
// named_modules() once and remembers, for every submodule, the last segment of
// its path — with the path of a ModuleList or ModuleDict in front ("layers/0"),
// since those containers have no forward() that could open a scope of their
// own. The parent path is not remembered: it is whatever scopes are open when
// the module runs, so a module called from two places gets two paths, and a
// module shared by several callers (ALBERT's one layer called L times) gets
// per-call paths when its callers open per-call scopes around it.
//
// A module NameModules never saw takes its class name, without namespaces and
// without LibTorch's "Impl" suffix ("Linear" for torch::nn::Linear).
//
// Cost per module call: one hash lookup under a shared lock, plus the scope's
// own push (scope.h); the scope id is interned again only when the module runs
// under a different parent scope than the last time.
//
// This header includes torch headers (scope.h does not).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "smaragdine/torch/scope.h"

namespace smaragdine::live {

// Remembers the scope name of `root` (root_name; empty: its class name) and of
// every submodule of it, as registered. Call it once the model is built; call
// it again after registering more submodules. A module registered under two
// names keeps the first one named_modules() lists. Thread-safe.
void NameModules(const torch::nn::Module& root, std::string_view root_name = {});

// The scope name a module gets: its remembered name, or its class name.
std::string ModuleName(const torch::nn::Module& module);

// Opens the scope named after `module` under the scopes open now, until it is
// destroyed. Opening it again for the same module while that module's scope
// is the innermost one on this thread does nothing, so a module whose forward
// says SMARAGDINE_MODULE_SCOPE(*this) can also be run through Call() without
// showing up twice.
class ModuleScope {
 public:
  explicit ModuleScope(const torch::nn::Module& module);
  ~ModuleScope();
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;

 private:
  const torch::nn::Module* module_;
  ScopeId id_ = kNoScope;
  ModuleScope* outer_ = nullptr;  // the ModuleScope open before this one on this thread
  std::optional<Scope> scope_;    // empty when the module's scope was already open
};

// Runs module->forward(args...) inside the module's scope. `module` is a
// ModuleHolder (torch::nn::Linear, TORCH_MODULE types), a shared_ptr to a
// module or a module itself. A torch::nn::Sequential runs child by child, each
// in its own scope under the Sequential's ("ffn/0/aten::linear", "ffn/1/…"),
// and returns a Tensor.
template <typename M, typename... Args>
decltype(auto) Call(M&& module, Args&&... args) {
  using Plain = std::remove_cvref_t<M>;
  if constexpr (std::is_same_v<Plain, torch::nn::Sequential> ||
                std::is_same_v<Plain, torch::nn::SequentialImpl>) {
    torch::nn::SequentialImpl& seq = [&]() -> torch::nn::SequentialImpl& {
      if constexpr (std::is_same_v<Plain, torch::nn::Sequential>) return *module;
      else return module;
    }();
    ModuleScope outer(seq);
    TORCH_CHECK(!seq.is_empty(), "Cannot call forward() on an empty Sequential");
    auto it = seq.begin();
    torch::nn::AnyValue value = [&] {
      ModuleScope inner(*it->ptr());
      return it->any_forward(std::forward<Args>(args)...);
    }();
    for (++it; it != seq.end(); ++it) {
      ModuleScope inner(*it->ptr());
      value = it->any_forward(std::move(value));
    }
    return torch::Tensor(std::move(value.template get<torch::Tensor>()));
  } else if constexpr (std::is_base_of_v<torch::nn::Module, Plain>) {
    ModuleScope scope(module);
    return module.forward(std::forward<Args>(args)...);
  } else {
    ModuleScope scope(*module);
    return module->forward(std::forward<Args>(args)...);
  }
}

namespace internal {
// The scope a ModuleScope for `module` opens under `parent` (scope.cpp's
// table, keyed by module address; module_scope.cpp).
ScopeId ModuleScopeId(const torch::nn::Module& module, ScopeId parent);
}  // namespace internal

}  // namespace smaragdine::live

// Opens the scope named after `module` (a torch::nn::Module&, e.g. *this)
// until the end of the enclosing block.
#define SMARAGDINE_MODULE_SCOPE(module) \
  ::smaragdine::live::ModuleScope SMARAGDINE_SCOPE_CONCAT(smaragdine_module_scope_, __LINE__)(module)
