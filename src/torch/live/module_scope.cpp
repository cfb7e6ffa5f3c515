// Scopes named after registered submodules: a table from module address to
// its scope name, filled by NameModules, read once per module call.
#include "smaragdine/torch/module_scope.h"

#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>

namespace smaragdine::live {
namespace {

struct ModuleEntry {
  std::string name;            // one or more path segments ("attention", "layers/0")
  const std::type_info* type;  // the module's dynamic type when it was named
  // Modules held by a shared_ptr (every registered submodule) are watched, so
  // an entry of a destroyed module is not handed to another one that got its
  // address. A root on the stack has no owner to watch.
  std::weak_ptr<const torch::nn::Module> owner;
  bool owned = false;
  // (parent << 32) | scope of the last scope opened for this module: a module
  // called again under the same parent takes no interning lookup.
  std::atomic<uint64_t> last{0};
};

struct ModuleTable {
  std::shared_mutex mu;
  std::unordered_map<const torch::nn::Module*, ModuleEntry*> index;
  // Entries are never freed (a caller may still read one it looked up), only
  // replaced in the index; a model's worth per NameModules call.
  std::deque<ModuleEntry> entries;
};

ModuleTable& Table() {
  static ModuleTable* table = new ModuleTable;  // never destroyed: forward may run at exit
  return *table;
}

bool Describes(const ModuleEntry& e, const torch::nn::Module& m) {
  return e.type == &typeid(m) && (!e.owned || !e.owner.expired());
}

// "torch::nn::LinearImpl" → "Linear", "(anonymous namespace)::BlockImpl" →
// "Block": what a reader of the model's code calls it.
std::string ClassName(const torch::nn::Module& m) {
  std::string_view n = m.name();
  const size_t template_at = n.find('<');
  const size_t colons = n.substr(0, template_at).rfind("::");
  if (colons != std::string_view::npos) n.remove_prefix(colons + 2);
  if (n.size() > 4 && n.ends_with("Impl")) n.remove_suffix(4);
  return n.empty() ? std::string("module") : std::string(n);
}

// Names `m` (replacing any entry at its address) and returns its entry.
ModuleEntry* Remember(ModuleTable& t, const torch::nn::Module& m, std::string name) {
  ModuleEntry& e = t.entries.emplace_back();
  e.name = std::move(name);
  e.type = &typeid(m);
  e.owner = m.weak_from_this();
  e.owned = !e.owner.expired();
  t.index[&m] = &e;
  return &e;
}

ModuleEntry* Find(const torch::nn::Module& m) {
  ModuleTable& t = Table();
  {
    std::shared_lock lock(t.mu);
    auto it = t.index.find(&m);
    if (it != t.index.end() && Describes(*it->second, m)) return it->second;
  }
  // Never named (or a destroyed module's entry at this address): the class
  // name, remembered so the next call is one lookup again.
  std::string name = ClassName(m);
  std::unique_lock lock(t.mu);
  auto it = t.index.find(&m);
  if (it != t.index.end() && Describes(*it->second, m)) return it->second;
  return Remember(t, m, std::move(name));
}

bool IsContainer(const torch::nn::Module& m) {
  return dynamic_cast<const torch::nn::ModuleListImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::ModuleDictImpl*>(&m) != nullptr;
}

thread_local ModuleScope* t_innermost = nullptr;

}  // namespace

void NameModules(const torch::nn::Module& root, std::string_view root_name) {
  // include_self would need `root` held by a shared_ptr; the root is named apart.
  const auto children = root.named_modules(/*name_prefix=*/"", /*include_self=*/false);
  // Registered path ("encoder.layers.0") → module and scope name, for parents.
  struct Named {
    const torch::nn::Module* module;
    std::string name;
  };
  std::unordered_map<std::string, Named> by_key;
  std::unordered_set<const torch::nn::Module*> seen{&root};
  const std::string root_scope = root_name.empty() ? ClassName(root) : std::string(root_name);

  ModuleTable& t = Table();
  std::unique_lock lock(t.mu);
  Remember(t, root, root_scope);
  for (const auto& item : children) {
    const std::string& key = item.key();
    const torch::nn::Module* m = item.value().get();
    const size_t dot = key.rfind('.');
    const std::string segment = dot == std::string::npos ? key : key.substr(dot + 1);
    Named parent{&root, root_scope};
    if (dot != std::string::npos) {
      auto it = by_key.find(key.substr(0, dot));
      if (it != by_key.end()) parent = it->second;  // named_modules lists parents first
    }
    // A ModuleList/ModuleDict has no forward() to open its scope: its name
    // goes in front of its children's ("layers/0").
    std::string name = IsContainer(*parent.module) ? parent.name + "/" + segment : segment;
    by_key.emplace(key, Named{m, name});
    if (seen.insert(m).second) Remember(t, *m, std::move(name));
  }
}

std::string ModuleName(const torch::nn::Module& module) {
  const ModuleEntry* e = Find(module);
  return e->name;  // entries are never changed once made
}

namespace internal {

ScopeId ModuleScopeId(const torch::nn::Module& module, ScopeId parent) {
  ModuleEntry* e = Find(module);
  const uint64_t last = e->last.load(std::memory_order_relaxed);
  if (last != 0 && (last >> 32) == parent) return static_cast<ScopeId>(last);
  const ScopeId id = InternScope(parent, e->name);
  e->last.store((uint64_t{parent} << 32) | id, std::memory_order_relaxed);
  return id;
}

}  // namespace internal

ModuleScope::ModuleScope(const torch::nn::Module& module)
    : module_(&module), outer_(t_innermost) {
  const ScopeId parent = CurrentScope();
  if (outer_ != nullptr && outer_->module_ == &module && outer_->id_ == parent) {
    id_ = parent;  // this module's scope is the innermost one already
  } else {
    id_ = internal::ModuleScopeId(module, parent);
    scope_.emplace(Scope::Interned{id_});
  }
  t_innermost = this;
}

ModuleScope::~ModuleScope() {
  scope_.reset();
  t_innermost = outer_;
}

}  // namespace smaragdine::live
