// scope.h — name the parts of a model so that energy rolls up the way the
// model is built: bert → encoder → layer_3 → attention → self → query.
//
//   torch::Tensor Forward(const torch::Tensor& x) {
//     SMARAGDINE_SCOPE("encoder");
//     for (int i = 0; i < n; ++i) {
//       SMARAGDINE_SCOPE(fmt::format("layer_{}", i));
//       x = layers[i]->forward(x);
//     }
//   }
//
// A Scope is an RAII guard. It pushes its name on this thread's scope stack,
// which the live-accounting callback reads when an operator starts, and it is
// also a LibTorch user scope (RecordScope::USER_SCOPE), so LibTorch's own
// profiler shows the same hierarchy. Scopes nest per thread and must be
// closed in reverse order of opening (which RAII guarantees).
//
// This header does not include torch headers: code that only names scopes
// compiles without them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smaragdine::live {

// Id of a scope path in the process-wide scope table; 0 is "no scope".
using ScopeId = uint32_t;
constexpr ScopeId kNoScope = 0;

class Scope {
 public:
  explicit Scope(std::string_view name);
  // Opens `child`, a scope InternScope(CurrentScope(), name) returned, without
  // looking the name up again (for helpers that cache ids, module_scope.h).
  struct Interned {
    ScopeId child;
  };
  explicit Scope(Interned interned);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  // `name` is the scope's last name, "" to look it up (only needed when
  // LibTorch's profiler is on).
  void Open(ScopeId id, std::string_view name);

  void* user_scope_ = nullptr;  // the at::RecordFunction, when LibTorch's callbacks are on
  bool pushed_debug_info_ = false;  // the scope rides along LibTorch's thread-local state
  uint64_t record_generation_ = 0;  // the live recording that recorded its opening, 0 none
};

// The innermost open scope on this thread (kNoScope outside every scope). A
// thread with no scope of its own
//  - running work LibTorch handed over with the caller's thread-local state
//    (at::launch, the autograd engine) gets the caller's scope, when a live
//    session was recording as the scope opened;
//  - running a chunk of an intra-op parallel region (at::parallel_for on a
//    pool thread, which gets no thread-local state) gets the scope that was
//    innermost on the thread that last opened or closed a scope — the thread
//    that entered the parallel region, when one thread runs the model.
// Cheap: no lock, no allocation.
ScopeId CurrentScope();
// The child scope `name` of `parent`, created on first use. Thread-safe.
ScopeId InternScope(ScopeId parent, std::string_view name);
// The path of a scope, names joined with '/' ("" for kNoScope). Thread-safe.
std::string ScopePath(ScopeId id);

}  // namespace smaragdine::live

#define SMARAGDINE_SCOPE_CONCAT_INNER(a, b) a##b
#define SMARAGDINE_SCOPE_CONCAT(a, b) SMARAGDINE_SCOPE_CONCAT_INNER(a, b)
// Opens a scope named `name` (anything convertible to std::string_view) until
// the end of the enclosing block.
#define SMARAGDINE_SCOPE(name) \
  ::smaragdine::live::Scope SMARAGDINE_SCOPE_CONCAT(smaragdine_scope_, __LINE__)(name)
