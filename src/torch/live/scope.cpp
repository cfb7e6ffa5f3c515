// The scope table and per-thread scope stacks behind SMARAGDINE_SCOPE.
#include "smaragdine/torch/scope.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "torch/live/recorder.h"

namespace smaragdine::live {
namespace {

// The innermost scope, carried by LibTorch's ThreadLocalDebugInfo so that
// work LibTorch hands to other threads with the caller's thread-local state
// (at::launch, the autograd engine) still knows which scope it belongs to.
// PRODUCER_INFO is the kind LibTorch reserves for such user information.
constexpr c10::DebugInfoKind kScopeInfoKind = c10::DebugInfoKind::PRODUCER_INFO;
struct ScopeDebugInfo : c10::DebugInfoBase {
  explicit ScopeDebugInfo(ScopeId s) : scope(s) {}
  ScopeId scope;
};

// Orders (parent, name) keys; transparent so a string_view name looks up
// without building a std::string.
struct KeyLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const std::pair<ScopeId, A>& a, const std::pair<ScopeId, B>& b) const {
    if (a.first != b.first) return a.first < b.first;
    return std::string_view(a.second) < std::string_view(b.second);
  }
};
using ScopeIndex = std::map<std::pair<ScopeId, std::string>, ScopeId, KeyLess>;

// Scopes are interned once per (parent, name) and never freed, so an id stays
// valid for the life of the process and the callback can store 4 bytes per
// operator instead of a path.
struct ScopeTable {
  std::shared_mutex mu;
  std::deque<std::pair<ScopeId, std::string>> entries{{kNoScope, ""}};  // [id] = (parent, name)
  ScopeIndex index;
  // One debug info object per scope, made on first use and shared by every
  // Scope that opens it while recording (so opening one allocates only
  // LibTorch's list node).
  std::deque<std::shared_ptr<ScopeDebugInfo>> debug_info{nullptr};
};

ScopeTable& Table() {
  static ScopeTable* table = new ScopeTable;  // never destroyed: callbacks may run at exit
  return *table;
}

struct ThreadScopes {
  std::vector<ScopeId> stack;
  // (parent, name) → id seen by this thread, so re-entering a scope in a
  // training loop takes no lock.
  ScopeIndex cache;
};

thread_local ThreadScopes t_scopes;

// The innermost scope of the thread that last opened or closed a scope. An
// intra-op pool thread (at::parallel_for; OpenMP in Debian's LibTorch) gets
// no thread-local state from the thread that entered the parallel region, so
// this is its best guess at that thread's scope: exact while one thread runs
// scoped work, which blocks in the region while the pool runs its chunks.
std::atomic<ScopeId> g_last_scope{kNoScope};

}  // namespace

ScopeId InternScope(ScopeId parent, std::string_view name) {
  ScopeTable& table = Table();
  {
    std::shared_lock lock(table.mu);
    auto it = table.index.find(std::pair<ScopeId, std::string_view>{parent, name});
    if (it != table.index.end()) return it->second;
  }
  std::pair<ScopeId, std::string> key{parent, std::string(name)};
  std::unique_lock lock(table.mu);
  auto [it, inserted] = table.index.try_emplace(key, static_cast<ScopeId>(table.entries.size()));
  if (inserted) {
    table.entries.push_back(std::move(key));
    table.debug_info.push_back(std::make_shared<ScopeDebugInfo>(it->second));
  }
  return it->second;
}

std::shared_ptr<ScopeDebugInfo> DebugInfoOf(ScopeId id) {
  ScopeTable& table = Table();
  std::shared_lock lock(table.mu);
  return table.debug_info[id];
}

std::string ScopePath(ScopeId id) {
  ScopeTable& table = Table();
  std::shared_lock lock(table.mu);
  std::vector<const std::string*> names;
  while (id != kNoScope && id < table.entries.size()) {
    names.push_back(&table.entries[id].second);
    id = table.entries[id].first;
  }
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (!path.empty()) path += '/';
    path += **it;
  }
  return path;
}

namespace internal {

ScopeId ScopeParent(ScopeId id) {
  ScopeTable& table = Table();
  std::shared_lock lock(table.mu);
  return id < table.entries.size() ? table.entries[id].first : kNoScope;
}

std::string ScopeName(ScopeId id) {
  ScopeTable& table = Table();
  std::shared_lock lock(table.mu);
  return id < table.entries.size() ? table.entries[id].second : std::string();
}

}  // namespace internal

ScopeId CurrentScope() {
  if (!t_scopes.stack.empty()) return t_scopes.stack.back();
  // A thread with no scope of its own: the scope of the code that handed it
  // this work, when LibTorch carried it over.
  if (auto* info = c10::ThreadLocalDebugInfo::get(kScopeInfoKind))
    if (auto* s = dynamic_cast<ScopeDebugInfo*>(info)) return s->scope;
  // A chunk of an intra-op parallel region on a pool thread (thread 0 of the
  // region is the caller itself, which has its own stack or none).
  if (at::in_parallel_region() && at::get_thread_num() != 0)
    return g_last_scope.load(std::memory_order_relaxed);
  return kNoScope;
}

Scope::Scope(std::string_view name) {
  ThreadScopes& ts = t_scopes;
  const ScopeId parent = CurrentScope();
  ScopeId id;
  auto it = ts.cache.find(std::pair<ScopeId, std::string_view>{parent, name});
  if (it != ts.cache.end()) {
    id = it->second;
  } else {
    id = InternScope(parent, name);
    ts.cache.emplace(std::pair<ScopeId, std::string>{parent, std::string(name)}, id);
  }
  Open(id, name);
}

Scope::Scope(Interned interned) { Open(interned.child, {}); }

void Scope::Open(ScopeId id, std::string_view name) {
  t_scopes.stack.push_back(id);
  g_last_scope.store(id, std::memory_order_relaxed);
  const bool recording = internal::Recording();
  if (recording) {
    c10::ThreadLocalDebugInfo::_push(kScopeInfoKind, DebugInfoOf(id));
    pushed_debug_info_ = true;
    record_generation_ = internal::RecordScopeOpen(id);
  }
  // Also a LibTorch user scope, so LibTorch's profiler shows it: only when
  // some callback other than live accounting's may want it (the profiler's
  // are thread-local), since a RecordFunction with a name costs allocations.
  if (at::hasThreadLocalCallbacks() || (!recording && at::hasGlobalCallbacks())) {
    auto rf = std::make_unique<at::RecordFunction>(at::RecordScope::USER_SCOPE);
    if (rf->isActive()) {
      internal::EnterOwnScope();
      rf->before(name.empty() ? internal::ScopeName(id) : std::string(name));
      internal::LeaveOwnScope();
      user_scope_ = rf.release();
    }
  }
}

Scope::~Scope() {
  if (user_scope_ != nullptr) {
    internal::EnterOwnScope();
    delete static_cast<at::RecordFunction*>(user_scope_);  // runs the end callbacks
    internal::LeaveOwnScope();
  }
  if (record_generation_ != 0) internal::RecordScopeClose(record_generation_);
  if (pushed_debug_info_) c10::ThreadLocalDebugInfo::_pop(kScopeInfoKind);
  t_scopes.stack.pop_back();
  g_last_scope.store(CurrentScope(), std::memory_order_relaxed);
}

}  // namespace smaragdine::live
