// sources.h — hardware energy counters behind one interface.
//
// An EnergySource (RAPL powercap, RAPL MSR, perf power PMU, NVML, hwmon, the
// CPU-time model) says which domains this machine could offer and why the
// unreadable ones are unreadable (Probe), and opens a SamplingSession that
// reads the chosen domains (Open). The split follows Kineto's plugin/session.
// Every source reads below configurable roots so tests use fake trees.
//
//   auto sources = MakeSources(SourceOptions{});
//   for (auto& s : sources)
//     for (const DomainProbe& p : s->Probe())
//       fmt::print("{} {} {}\n", p.info.name, p.readable ? "ok" : p.reason, p.fix);
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "smaragdine/diagnostics.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/status.h"

namespace smaragdine {

// Where the sources look: tests point these at fake trees with real file contents.
struct SourceRoots {
  std::string sysfs = "/sys";
  std::string dev = "/dev";
  std::string proc = "/proc";
};

struct SourceOptions {
  SourceRoots roots;
  // The CPU-time model (only used when no counter covers the CPU): per-core
  // power while a thread of the recorded process tree runs, and idle power.
  double model_core_w = 15.0;
  double model_idle_w = 10.0;
  pid_t model_pid = 0;  // root of the process tree whose CPU time is modeled; 0 = none yet
  // Loads NVML from this path instead of "libnvidia-ml.so.1" (tests, odd installs).
  std::string nvml_library;
};

// How often a source is worth reading.
enum class RateClass {
  kFast,  // RAPL powercap, MSR, perf: ~1 ms updates, sampled at 1 kHz
  kSlow,  // NVML, hwmon, the model: 10–100 ms updates, sampled every 10–50 ms
};

// One domain a source could offer, readable or not.
struct DomainProbe {
  DomainInfo info;       // name ("cpu:0/package"), device, source, quantity, resolution_j, modeled
  std::string location;  // what it reads: "/sys/class/powercap/intel-rapl:0/energy_uj", "GPU 0 (NVML)"
  bool readable = false;
  std::string reason;    // why it cannot be read now; empty when readable
  std::string fix;       // what makes it readable ("sudo chmod a+r …", "sudo modprobe msr"); may be empty
};

// Reads a fixed set of domains. Not thread-safe: one sampling thread owns it.
class SamplingSession {
 public:
  virtual ~SamplingSession() = default;
  virtual const std::vector<DomainInfo>& domains() const = 0;
  // Reads every domain once into values (resized to domains().size()):
  // cumulative joules since Open, already unwrapped, for energy domains; watts
  // for power domains. NaN for a domain that could not be read this time —
  // a vanished or unreadable file, an interval too long to unwrap with
  // certainty — with the cause counted in `diag` (a domain that vanished stays
  // NaN; the other domains go on).
  virtual void Read(std::vector<double>& values, Diagnostics& diag) = 0;
};

class EnergySource {
 public:
  virtual ~EnergySource() = default;
  virtual std::string Name() const = 0;  // "rapl-powercap", "rapl-msr", "perf", "nvml", "hwmon", "model"
  virtual RateClass Rate() const = 0;
  // Lower is preferred when two sources cover one domain (DESIGN: counter over
  // power; perf over powercap over MSR; the model last).
  virtual int Preference() const = 0;
  // Every domain this source could offer here, readable or not, with reasons and fixes.
  virtual std::vector<DomainProbe> Probe() = 0;
  // Opens a session over these domains (names from Probe(), readable ones).
  // Errors: kNothingMeasurable with the reason when they cannot be opened.
  virtual Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>& domains) = 0;
};

// All built-in sources, in preference order.
std::vector<std::unique_ptr<EnergySource>> MakeSources(const SourceOptions& options);

// One source per readable domain: the preferred one, or the one named in
// `forced` ("perf", "rapl-powercap", …: --source) where it covers the domain.
struct DomainChoice {
  EnergySource* source = nullptr;
  DomainProbe probe;
};
// The CPU-time model is kept only where no measured source covers a CPU domain,
// unless `forced` names it; then the measured CPU domains beside it are left out
// (the model's CPU power already stands for them: keeping both would count the
// same energy twice) and listed in `left_out` when given.
std::vector<DomainChoice> ChooseDomains(const std::vector<std::unique_ptr<EnergySource>>& sources,
                                        const std::vector<std::string>& forced = {},
                                        std::vector<DomainChoice>* left_out = nullptr);

}  // namespace smaragdine
