// attribute_fixture_util.h — hand-built traces and energy logs for the
// attribution tests, whose answers can be worked out on paper. Times in ns.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "smaragdine/account.h"

namespace smaragdine::testing {

struct AttributeFixture {
  Trace trace;
  EnergyLog log;

  // `log_path` is the name the energy log goes by in warnings.
  explicit AttributeFixture(std::string log_path = "test-log");

  // A lane on `device`, named "lane <index>"; returns its index.
  uint32_t AddLane(const std::string& device);
  // An op event at `path` over [start, end) on `lane`.
  NodeId Op(uint32_t lane, const std::string& path, int64_t start, int64_t end,
            Phase phase = Phase::kForward, int32_t step = -1);
  // A counter domain (source "test", or "model" and marked modeled) with
  // cumulative energies in J at the given times; returns its index.
  size_t Domain(const std::string& name, const std::string& device,
                std::vector<std::pair<int64_t, double>> points, bool modeled = false);
  // Attributes the trace to the log; a failure fails the test and yields an
  // empty profile.
  Profile Run(AttributeOptions options = {}) const;
};

// The node's self or total energy in `domain`, J; a missing node fails the test.
double SelfJ(const Profile& p, const std::string& path, size_t domain = 0);
double TotalJ(const Profile& p, const std::string& path, size_t domain = 0);

}  // namespace smaragdine::testing
