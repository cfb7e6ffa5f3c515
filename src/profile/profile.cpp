#include "smaragdine/profile.h"

namespace smaragdine {

double Profile::MeasuredJ() const {
  double s = 0;
  for (const ProfileDomain& d : domains) s += d.measured_j;
  return s;
}

double Profile::IdleJ() const {
  double s = 0;
  for (const ProfileDomain& d : domains) s += d.idle_j;
  return s;
}

int64_t Profile::Find(const std::string& path) const {
  // Linear: reports look up one --root per run; a map would cost more to build.
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].path == path) return static_cast<int64_t>(i);
  return -1;
}

std::vector<std::vector<uint32_t>> Profile::Children() const {
  std::vector<std::vector<uint32_t>> children(nodes.size());
  for (size_t i = 1; i < nodes.size(); ++i) {
    int64_t p = nodes[i].parent;
    if (p >= 0 && static_cast<size_t>(p) < nodes.size())
      children[static_cast<size_t>(p)].push_back(static_cast<uint32_t>(i));
  }
  return children;
}

}  // namespace smaragdine
