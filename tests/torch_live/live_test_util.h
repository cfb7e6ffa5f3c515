// live_test_util.h — a model-only session and checks on the profile it gives,
// shared by the live tests of module scopes and intra-op threads.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "record/record_test_util.h"
#include "smaragdine/profile.h"
#include "smaragdine/torch/live.h"

namespace smaragdine::live::testing {

// Only the CPU-time model is readable (empty sysfs and /dev, no NVML), so the
// tests run the same on every machine.
inline SessionOptions ModelOnly(const smaragdine::testing::TempDir& tmp) {
  SessionOptions o;
  const std::string empty = tmp.path() + "/empty";
  std::filesystem::create_directories(empty);
  o.sampling.sources.roots.sysfs = empty;
  o.sampling.sources.roots.dev = empty;
  o.sampling.sources.nvml_library = tmp.path() + "/no-libnvidia-ml.so.1";
  o.sampling.slow_period_ns = 5'000'000;
  o.use_run_dir_env = false;
  return o;
}

inline const ProfileNode* Node(const Profile& p, const std::string& path) {
  const int64_t i = p.Find(path);
  return i < 0 ? nullptr : &p.nodes[static_cast<size_t>(i)];
}

// Every node's path, one a line (for failure messages).
inline std::string Paths(const Profile& p) {
  std::string s;
  for (const ProfileNode& n : p.nodes) s += n.path + "\n";
  return s;
}

// The paths of the scope nodes (not the root, not operators).
inline std::set<std::string> ScopePaths(const Profile& p) {
  std::set<std::string> s;
  for (const ProfileNode& n : p.nodes)
    if (n.parent >= 0 && n.kind == NodeKind::kScope) s.insert(n.path);
  return s;
}

// Per domain: the nodes' own joules plus idle and other add up to what was measured.
inline void ExpectConservation(const Profile& p) {
  for (const ProfileDomain& dom : p.domains) {
    const size_t d = static_cast<size_t>(&dom - p.domains.data());
    double nodes_j = 0;
    for (const ProfileNode& n : p.nodes) nodes_j += n.self_j[d];
    EXPECT_NEAR(nodes_j + dom.idle_j + dom.other_j, dom.measured_j,
                1e-9 * std::max(1.0, dom.measured_j))
        << dom.name;
  }
}

}  // namespace smaragdine::live::testing
