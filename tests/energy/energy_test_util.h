// energy_test_util.h — helpers shared by the energy tests: a readable dump of an
// EnergyLog for golden files, golden comparison, scratch directories.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "smaragdine/energy_log.h"

namespace smaragdine::testing_energy {

inline std::string TestData(const std::string& relative) {
  return std::string(SMARAGDINE_TEST_DATA) + "/" + relative;
}

inline std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

// Every field of the log, one per line; the test-data prefix becomes <data> so
// the dump does not depend on where the checkout lives.
inline std::string DumpLog(const EnergyLog& log) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "path: {}\nclock: {}\n", log.path, ToString(log.clock));
  for (const ClockSyncPair& p : log.clock_sync)
    fmt::format_to(it, "clock_sync: realtime_ns={} monotonic_ns={}\n", p.realtime_ns,
                   p.monotonic_ns);
  for (size_t d = 0; d < log.domains.size(); ++d) {
    const DomainInfo& i = log.domains[d];
    fmt::format_to(it,
                   "domain {}: device={} source={} quantity={} resolution_j={} "
                   "update_interval_ns={} modeled={}\n",
                   i.name, i.device, i.source, ToString(i.quantity), i.resolution_j,
                   i.update_interval_ns, i.modeled);
    const EnergySeries& s = log.series[d];
    fmt::format_to(it, "  points={} empty={} total_j={}\n", s.t_ns.size(), s.empty(), s.TotalJ());
    for (size_t k = 0; k < s.t_ns.size(); ++k)
      fmt::format_to(it, "  t_ns={} energy_j={}\n", s.t_ns[k], s.energy_j[k]);
  }
  for (const auto& [name, w] : log.baseline_w) fmt::format_to(it, "baseline_w {}: {}\n", name, w);
  fmt::format_to(it, "command: [{}]\n", fmt::join(log.command, ", "));
  auto opt = [&](const char* name, const std::optional<int64_t>& v) {
    fmt::format_to(it, "{}: {}\n", name, v ? std::to_string(*v) : "absent");
  };
  opt("pid", log.pid);
  opt("exit_code", log.exit_code);
  opt("started_ns", log.started_ns);
  opt("ended_ns", log.ended_ns);
  for (const auto& [name, n] : log.diagnostics.counts())
    fmt::format_to(it, "diagnostic {}: {}\n", name, n);
  for (const std::string& w : log.diagnostics.warnings()) fmt::format_to(it, "warning: {}\n", w);
  return ReplaceAll(out, SMARAGDINE_TEST_DATA, "<data>");
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `actual` with tests/golden/<name>; SMARAGDINE_UPDATE_GOLDEN=1 rewrites it.
inline void ExpectGolden(const std::string& name, const std::string& actual) {
  std::string path = std::string(SMARAGDINE_GOLDEN_DIR) + "/" + name;
  const char* update = std::getenv("SMARAGDINE_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path))
      << path << " is missing; run with SMARAGDINE_UPDATE_GOLDEN=1 to create it";
  EXPECT_EQ(ReadText(path), actual) << "golden " << path
                                    << " differs; SMARAGDINE_UPDATE_GOLDEN=1 rewrites it";
}

// A fresh directory under the test temp dir, removed when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = fmt::format("{}/smaragdine_energy_{}_{}", ::testing::TempDir(), getpid(), counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& contents) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }

 private:
  std::string path_;
};

}  // namespace smaragdine::testing_energy
