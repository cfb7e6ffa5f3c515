// resolve.h — what every report starts from: the profile after --domain and
// the path rules, and the node --root names (internal to src/report).
#pragma once

#include <cstdint>
#include <optional>

#include "smaragdine/profile.h"
#include "smaragdine/report.h"
#include "smaragdine/status.h"

namespace smaragdine {

struct ResolvedReport {
  // The input restricted to options.domain, then folded by options.rules; the
  // input itself where neither changes it (no copy: with a 1 M-event timeline
  // a profile is ~100 MB). The input must outlive this.
  const Profile& profile() const { return owned ? *owned : *input; }
  std::optional<Profile> owned;
  const Profile* input = nullptr;
  uint32_t root = 0;  // index of options.root in profile() (0: the whole tree)
};

// The domain first: every figure FoldProfile adds is per domain, so the order
// does not change them, but the sibling statistics it takes are then of the
// --domain energy rather than of all domains. Errors (kBadInput): unknown
// --domain (naming options.file), unknown --root (with suggestions), no nodes.
Result<ResolvedReport> ResolveReport(const Profile& input, const ReportOptions& options);

}  // namespace smaragdine
