// phase_table.h — the "By phase" table that `demo` and `record --torch` print
// after the tree: energy, share and busy time of forward, backward, optimizer
// and other work at the root, then what no operator was running for.
// Header-only: smaragdine and smaragdine-torch both print it.
#pragma once

#include <string>

#include <fmt/format.h>

#include "smaragdine/profile.h"

namespace smaragdine::cli {

inline std::string PhaseTable(const Profile& p) {
  const ProfileNode& root = p.nodes[0];
  const double attributed_j = root.TotalJ();
  std::string out = "By phase:\n";
  out += fmt::format("  {:<10} {:>10} {:>8} {:>10}\n", "phase", "energy J", "share %", "time s");
  for (int ph = 0; ph < kPhaseCount; ++ph) {
    const PhaseFigures& f = root.phases[ph];
    const double j = PhaseFigures::SumOf(f.total_j);
    if (j == 0 && f.time_ns == 0) continue;
    out += fmt::format("  {:<10} {:>10.4g} {:>8.1f} {:>10.3f}\n", ToString(static_cast<Phase>(ph)),
                       j, attributed_j > 0 ? 100 * j / attributed_j : 0.0, f.time_ns * 1e-9);
  }
  out += fmt::format("  {:<10} {:>10.4g}   (no operator was running)\n\n", "(idle)", p.IdleJ());
  return out;
}

}  // namespace smaragdine::cli
