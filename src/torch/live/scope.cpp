// The scope table and per-thread scope stacks behind SMARAGDINE_SCOPE.
#include "smaragdine/torch/scope.h"

#include <ATen/record_function.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

namespace smaragdine::live {
namespace {

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
  if (inserted) table.entries.push_back(std::move(key));
  return it->second;
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

ScopeId CurrentScope() { return t_scopes.stack.empty() ? kNoScope : t_scopes.stack.back(); }

Scope::Scope(std::string_view name) {
  ThreadScopes& ts = t_scopes;
  const ScopeId parent = ts.stack.empty() ? kNoScope : ts.stack.back();
  ScopeId id;
  auto it = ts.cache.find(std::pair<ScopeId, std::string_view>{parent, name});
  if (it != ts.cache.end()) {
    id = it->second;
  } else {
    id = InternScope(parent, name);
    ts.cache.emplace(std::pair<ScopeId, std::string>{parent, std::string(name)}, id);
  }
  ts.stack.push_back(id);
  // Also a LibTorch user scope, only when some callback wants user scopes.
  if (at::hasCallbacks()) {
    auto rf = std::make_unique<at::RecordFunction>(at::RecordScope::USER_SCOPE);
    if (rf->isActive()) {
      rf->before(std::string(name));
      user_scope_ = rf.release();
    }
  }
}

Scope::~Scope() {
  delete static_cast<at::RecordFunction*>(user_scope_);  // runs the end callbacks
  t_scopes.stack.pop_back();
}

}  // namespace smaragdine::live
