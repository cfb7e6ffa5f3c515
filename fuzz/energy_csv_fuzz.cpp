// libFuzzer target: the energy CSV reader and the normalisation behind it.
//
//   cmake -S . -B build-fuzz-energy -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
//     -DSMARAGDINE_BUILD_FUZZERS=ON -DSMARAGDINE_BUILD_TESTS=OFF -DSMARAGDINE_BUILD_BENCH=OFF
//   ninja -C build-fuzz-energy energy_csv_fuzz
//   build-fuzz-energy/energy_csv_fuzz -max_total_time=60 -dict=tests/data/energy/energy_csv.dict \
//     CORPUS tests/data/energy/fuzz_seeds
//
// Besides "no crash", it checks the series invariants on every accepted input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smaragdine/energy_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace smaragdine;
  static const EnergyImportOptions options = [] {
    EnergyImportOptions o;
    // Short names a mutator finds easily, mapped so rows get past the device check
    // and reach the normalisation; cpu:N/gpu:N names are guessed anyway.
    o.device_of = {{"a", "CPU:0"}, {"b", "GPU:0"}, {"wall", "CPU:0"}};
    return o;
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<EnergyLog> log = ParseEnergyCsv("fuzz", text, options);
  if (!log.ok()) return 0;
  if (log->series.size() != log->domains.size()) std::abort();
  for (const EnergySeries& s : log->series) {
    if (s.t_ns.size() != s.energy_j.size()) std::abort();
    if (!s.energy_j.empty() && s.energy_j[0] != 0.0) std::abort();
    for (size_t i = 1; i < s.t_ns.size(); ++i) {
      if (s.t_ns[i] <= s.t_ns[i - 1]) std::abort();
      if (!(s.energy_j[i] >= s.energy_j[i - 1])) std::abort();  // also catches NaN
    }
    if (s.t_ns.size() >= 2) {
      // Midpoint without signed overflow: the span may exceed INT64_MAX.
      uint64_t span = static_cast<uint64_t>(s.EndNs()) - static_cast<uint64_t>(s.StartNs());
      int64_t mid = static_cast<int64_t>(static_cast<uint64_t>(s.StartNs()) + span / 2);
      double e = s.EnergyAt(mid);
      if (!(e >= 0.0 && e <= s.TotalJ())) std::abort();
    }
  }
  return 0;
}
