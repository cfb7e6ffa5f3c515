#include "smaragdine/energy_log.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/enum_text.h"

namespace smaragdine {

const char* ToString(Quantity q) { return q == Quantity::kPower ? "power" : "energy"; }

const char* ToString(MeterKind k) {
  switch (k) {
    case MeterKind::kCounter: return "counter";
    case MeterKind::kWindowedPower: return "windowed-power";
    case MeterKind::kInstantPower: return "instant-power";
    case MeterKind::kUnknown: break;
  }
  return "unknown";
}

std::optional<MeterKind> ParseMeterKind(std::string_view text) {
  static constexpr MeterKind kAll[] = {MeterKind::kUnknown, MeterKind::kCounter,
                                       MeterKind::kWindowedPower, MeterKind::kInstantPower};
  return ParseEnum(text, kAll);
}

const char* ToString(Clock c) {
  return c == Clock::kRealtime ? "CLOCK_REALTIME" : "CLOCK_MONOTONIC";
}

std::string GuessDevice(const std::string& domain) {
  auto guess = [&](std::string_view prefix, std::string_view kind) -> std::string {
    if (domain.size() <= prefix.size()) return {};
    for (size_t i = 0; i < prefix.size(); ++i) {
      char c = domain[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != prefix[i]) return {};
    }
    size_t i = prefix.size();
    int64_t index = 0;
    size_t digits = 0;
    for (; i < domain.size() && domain[i] >= '0' && domain[i] <= '9'; ++i, ++digits) {
      if (digits >= 9) return {};  // no machine has a billion sockets: not an index
      index = index * 10 + (domain[i] - '0');
    }
    if (digits == 0) return {};
    // "cpu:0/package", "gpu:1", "gpu:0.power": the index must end at a separator,
    // so that "cpu:0x" or "gpu:1abc" are not taken for devices.
    if (i < domain.size()) {
      char c = domain[i];
      bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (alnum) return {};
    }
    return fmt::format("{}:{}", kind, index);
  };
  std::string device = guess("cpu:", "CPU");
  if (device.empty()) device = guess("gpu:", "GPU");
  return device;
}

double EnergySeries::EnergyAt(int64_t t) const {
  if (t_ns.empty()) return 0.0;
  if (t <= t_ns.front()) return energy_j.front();
  if (t >= t_ns.back()) return energy_j.back();
  size_t hi = static_cast<size_t>(std::upper_bound(t_ns.begin(), t_ns.end(), t) - t_ns.begin());
  size_t lo = hi - 1;
  if (t == t_ns[lo]) return energy_j[lo];
  // Constant power inside an interval (§6.2): linear in t. The fraction is taken
  // on integer offsets so that epoch-sized times lose no precision.
  // Unsigned differences: a gap may exceed INT64_MAX when times span the whole range.
  auto gap = [](int64_t a, int64_t b) {
    return static_cast<double>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  };
  double fraction = gap(t, t_ns[lo]) / gap(t_ns[hi], t_ns[lo]);
  double e = energy_j[lo] + (energy_j[hi] - energy_j[lo]) * fraction;
  return std::clamp(e, energy_j[lo], energy_j[hi]);
}

Result<EnergyLog> ReadEnergy(const std::string& path, const EnergyImportOptions& options) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return BadInput(path, fmt::format("cannot open: {}", std::strerror(errno)));
  std::string base = path.substr(path.find_last_of('/') == std::string::npos
                                     ? 0
                                     : path.find_last_of('/') + 1);
  bool run_directory = S_ISDIR(st.st_mode) || base == "run.json";
  if (!run_directory) return ReadEnergyCsv(path, options);

  std::string dir = path;
  if (!S_ISDIR(st.st_mode)) {
    size_t slash = path.find_last_of('/');
    dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  }
  SMG_ASSIGN_OR_RETURN(EnergyLog log, ReadRunDirectory(dir));
  // The run's clock is in run.json; --energy-clock only describes imported CSVs.
  // --device mappings still apply: they let a user correct a recorded device.
  for (const auto& mapping : options.device_of) {
    const std::string& domain = mapping.first;
    auto it = std::find_if(log.domains.begin(), log.domains.end(),
                           [&](const DomainInfo& d) { return d.name == domain; });
    if (it == log.domains.end()) {
      log.diagnostics.Warn(
          fmt::format("--device names domain '{}', which {} does not have", domain, dir));
    } else {
      it->device = mapping.second;
    }
  }
  return log;
}

}  // namespace smaragdine
