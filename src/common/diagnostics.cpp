#include "smaragdine/diagnostics.h"

#include <algorithm>

namespace smaragdine {

void Diagnostics::Warn(std::string message) {
  if (std::find(warnings_.begin(), warnings_.end(), message) == warnings_.end())
    warnings_.push_back(std::move(message));
}

void Diagnostics::Merge(const Diagnostics& other) {
  for (const auto& [name, n] : other.counts_) counts_[name] += n;
  for (const auto& w : other.warnings_) Warn(w);
}

int64_t Diagnostics::Count(std::string_view name) const {
  auto it = counts_.find(std::string(name));
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace smaragdine
