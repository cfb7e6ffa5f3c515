// The CPU-time model: idle power plus per-core power × CPU time of a process tree.
#include "energy/sources/model.h"
#include "common/clock.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace smaragdine {
namespace {

using procfs::ParseSchedstat;
using procfs::ReadSmallFile;

constexpr const char* kDomain = "cpu:0/package";
constexpr const char* kSourceName = "model";
constexpr int kPreference = 100;

}  // namespace

namespace {

DomainInfo ModelInfo() {
  DomainInfo info;
  info.name = kDomain;
  info.device = "CPU:0";
  info.source = kSourceName;
  info.quantity = Quantity::kEnergy;
  info.modeled = true;
  // No meter: energy computed on each read, so kind stays unknown and there is
  // no period to estimate.
  info.meter.note = "modeled: idle power plus per-core power × CPU time, not measured";
  return info;
}

class ModelSession : public SamplingSession {
 public:
  ModelSession(const SourceOptions& o, std::function<int64_t()> now_ns)
      : core_w_(o.model_core_w),
        idle_w_(o.model_idle_w),
        tree_(o.roots.proc, o.model_pid),
        now_ns_(std::move(now_ns)),
        infos_{ModelInfo()} {
    t0_ns_ = now_ns_();
    cpu0_ns_ = tree_.SampleNs();
  }

  const std::vector<DomainInfo>& domains() const override { return infos_; }

  void Read(std::vector<double>& values, Diagnostics& diag) override {
    values.resize(1);
    const int64_t cpu_ns = tree_.SampleNs(&diag) - cpu0_ns_;
    const int64_t dt_ns = now_ns_() - t0_ns_;
    values[0] = idle_w_ * static_cast<double>(dt_ns) * 1e-9 +
                core_w_ * static_cast<double>(cpu_ns) * 1e-9;
  }

 private:
  double core_w_, idle_w_;
  ProcessTreeCpuTime tree_;
  std::function<int64_t()> now_ns_;
  std::vector<DomainInfo> infos_;
  int64_t t0_ns_ = 0, cpu0_ns_ = 0;
};

class ModelSource : public EnergySource {
 public:
  ModelSource(SourceOptions o, std::function<int64_t()> now_ns)
      : o_(std::move(o)), now_ns_(now_ns ? std::move(now_ns) : MonotonicNowNs) {}

  std::string Name() const override { return kSourceName; }
  RateClass Rate() const override { return RateClass::kSlow; }
  int Preference() const override { return kPreference; }

  std::vector<DomainProbe> Probe() override {
    DomainProbe p;
    p.info = ModelInfo();
    const std::string who = o_.model_pid > 0 ? std::to_string(o_.model_pid) : "self";
    const std::string path = fmt::format("{}/{}/schedstat", o_.roots.proc, who);
    p.location = fmt::format("{}/<pid>/task/<tid>/schedstat × {:g} W per busy core + {:g} W idle",
                             o_.roots.proc, o_.model_core_w, o_.model_idle_w);
    int error = 0;
    auto text = ReadSmallFile(path, &error);
    if (text && ParseSchedstat(*text)) {
      p.readable = true;
      p.reason = fmt::format(
          "a model, not a measurement: CPU time of the recorded processes × {:g} W per busy core "
          "+ {:g} W idle",
          o_.model_core_w, o_.model_idle_w);
    } else {
      p.reason = text ? fmt::format("{} does not hold a CPU time", path)
                      : fmt::format("cannot read {}: {}", path, std::strerror(error));
      p.fix = fmt::format("mount procfs at {} (a kernel with CONFIG_SCHED_INFO provides schedstat)",
                          o_.roots.proc);
    }
    return {p};
  }

  Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>& domains) override {
    for (const auto& d : domains)
      if (d != kDomain) return Nothing(fmt::format("{}: the model only offers {}", d, kDomain));
    if (domains.empty()) return Nothing("the model was asked for no domain");
    return std::unique_ptr<SamplingSession>(std::make_unique<ModelSession>(o_, now_ns_));
  }

 private:
  SourceOptions o_;
  std::function<int64_t()> now_ns_;
};

}  // namespace

std::unique_ptr<EnergySource> MakeModelSource(const SourceOptions& options,
                                              std::function<int64_t()> now_ns) {
  return std::make_unique<ModelSource>(options, std::move(now_ns));
}

}  // namespace smaragdine
