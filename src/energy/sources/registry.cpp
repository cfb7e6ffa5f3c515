// MakeSources and ChooseDomains: which source reads which domain.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "energy/sources/model.h"
#include "energy/sources/nvml.h"
#include "energy/sources/sysfs_sources.h"
#include "smaragdine/device.h"
#include "smaragdine/sources.h"

namespace smaragdine {

std::vector<std::unique_ptr<EnergySource>> MakeSources(const SourceOptions& options) {
  // Preference order (DESIGN §4): perf over NVML over powercap over MSR over hwmon; the model last.
  std::vector<std::unique_ptr<EnergySource>> sources;
  sources.push_back(MakePerfPowerSource(options));
  sources.push_back(MakeNvmlSource(options));
  sources.push_back(MakeRaplPowercapSource(options));
  sources.push_back(MakeRaplMsrSource(options));
  sources.push_back(MakeHwmonSource(options));
  sources.push_back(MakeModelSource(options));
  return sources;
}

namespace {

bool IsCpuDomain(const DomainInfo& d) {
  return d.name.rfind("cpu:", 0) == 0 || IsCpuDevice(d.device);
}

}  // namespace

// Per domain, among the sources that can read it now:
//   1. a source named in `forced` wins (the earliest in `forced` if several);
//   2. else an energy counter beats power readings (DESIGN §4: counter over power);
//   3. else the lower Preference() (perf < NVML < powercap < MSR < hwmon < model);
//   4. else the earlier source in `sources`.
// The model is kept only while no measured source covers any CPU domain.
std::vector<DomainChoice> ChooseDomains(const std::vector<std::unique_ptr<EnergySource>>& sources,
                                        const std::vector<std::string>& forced,
                                        std::vector<DomainChoice>* left_out) {
  using Key = std::tuple<size_t, int, int, size_t>;
  struct Best {
    Key key;
    DomainChoice choice;
  };
  std::map<std::string, Best> best;
  for (size_t s = 0; s < sources.size(); ++s) {
    EnergySource* source = sources[s].get();
    const std::string name = source->Name();
    const size_t forced_rank =
        static_cast<size_t>(std::find(forced.begin(), forced.end(), name) - forced.begin());
    for (DomainProbe& probe : source->Probe()) {
      if (!probe.readable) continue;
      Key key{forced_rank, probe.info.quantity == Quantity::kPower ? 1 : 0, source->Preference(),
              s};
      const std::string domain = probe.info.name;  // before probe is moved from
      auto it = best.find(domain);
      if (it == best.end() || key < it->second.key)
        best[domain] = Best{key, DomainChoice{source, std::move(probe)}};
    }
  }
  bool measured_cpu = false;
  for (const auto& [name, b] : best)
    if (!b.choice.probe.info.modeled && IsCpuDomain(b.choice.probe.info)) measured_cpu = true;
  const bool model_forced = std::find(forced.begin(), forced.end(), "model") != forced.end();
  bool modeled_cpu = false;
  for (const auto& [name, b] : best)
    if (b.choice.probe.info.modeled && IsCpuDomain(b.choice.probe.info)) modeled_cpu = true;
  std::vector<DomainChoice> out;
  for (auto& [name, b] : best) {
    const DomainInfo& info = b.choice.probe.info;
    // A modeled CPU beside measured CPU domains would count the same energy twice:
    // without --source model the measurement wins; with it, the model does (it
    // stands for the whole CPU, memory included), and the measured ones are left out.
    if (info.modeled && measured_cpu && !model_forced) continue;
    if (!info.modeled && IsCpuDomain(info) && modeled_cpu && model_forced) {
      if (left_out) left_out->push_back(std::move(b.choice));
      continue;
    }
    out.push_back(std::move(b.choice));
  }
  return out;
}

}  // namespace smaragdine
