// fake_rapl_util.h — a fake RAPL powercap tree whose counters advance while `record` runs.
//
// FakeRaplTree lays out <root>/sys/class/powercap/intel-rapl:N[:M]/{name,energy_uj,
// max_energy_range_uj} as the kernel does (helpers copied from tests/sources, which this
// folder does not share). CounterFeeder is a thread that adds a fixed step to each zone's
// energy_uj every ~1 ms, rewriting the file in place (pwrite + ftruncate) so the
// sampler's held-open fd sees each new value, and logs what it wrote and when, so a test
// can compare the recorded joules with the written ones.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace smaragdine::testing {

// The kernel's default max_energy_range_uj (about 262 kJ).
inline constexpr uint64_t kDefaultRangeUj = 262143328850;

class FakeRaplTree {
 public:
  FakeRaplTree();
  ~FakeRaplTree();
  FakeRaplTree(const FakeRaplTree&) = delete;
  FakeRaplTree& operator=(const FakeRaplTree&) = delete;

  const std::string& root() const { return root_; }
  std::string SysfsRoot() const { return root_ + "/sys"; }
  std::string EmptyRoot() const { return root_ + "/empty"; }
  // Adds sys/class/powercap/<entry> with `name`; returns the energy_uj path.
  std::string AddZone(const std::string& entry, const std::string& name, uint64_t energy_uj,
                      uint64_t max_energy_range_uj = kDefaultRangeUj);

 private:
  std::string root_;
};

// energy_uj as written by the feeder: zero-padded to a fixed width, so a rewrite never
// leaves a shorter value followed by the tail of a longer one (the sampler reads at
// any moment; the kernel renders the file afresh, which a regular file cannot).
std::string CounterText(uint64_t value_uj);

class CounterFeeder {
 public:
  struct Zone {
    std::string path;       // energy_uj
    uint64_t start_uj = 0;  // its content before the feeder starts
    uint64_t step_uj = 0;   // added per update
    uint64_t range_uj = kDefaultRangeUj;  // the written value wraps here
  };
  explicit CounterFeeder(std::vector<Zone> zones);
  ~CounterFeeder();  // stops

  void Start();
  void Stop();
  // Replaces zone `i`'s content with non-numeric text and stops feeding it;
  // returns the CLOCK_MONOTONIC time just after the file was rewritten.
  int64_t Garble(size_t i);
  // µJ added to zone `i` (unwrapped) by the writes finished at or before t_ns.
  uint64_t WrittenUjAt(size_t i, int64_t t_ns) const;
  // Number of updates written to zone `i` so far.
  size_t Updates(size_t i) const;

 private:
  struct State {
    Zone zone;
    int fd = -1;
    bool garbled = false;
    uint64_t total_uj = 0;
    std::vector<std::pair<int64_t, uint64_t>> log;  // (t_ns after the write, total_uj)
  };
  void Loop();
  void WriteAll(State& s, const std::string& text);

  mutable std::mutex mu_;
  std::vector<State> states_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int64_t MonoNowNs();
int64_t RealNowNs();

}  // namespace smaragdine::testing
