#include "energy/sources/perf_power.h"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "energy/sources/sysfs_util.h"

namespace smaragdine {
namespace {

constexpr const char* kName = "perf";

int RealEventOpen(uint32_t type, uint64_t config, int cpu, int group_fd, uint64_t read_format) {
  perf_event_attr attr{};
  attr.type = type;
  attr.size = sizeof attr;
  attr.config = config;
  attr.read_format = read_format;
  return static_cast<int>(
      syscall(SYS_perf_event_open, &attr, /*pid=*/-1, cpu, group_fd, PERF_FLAG_FD_CLOEXEC));
}

// perf's event names → the domain suffixes powercap and MSR use (energy-gpu is PP1).
std::string SuffixOf(const std::string& event) {
  static const std::map<std::string, std::string> kMap = {
      {"pkg", "package"}, {"cores", "core"}, {"gpu", "uncore"}, {"ram", "dram"}, {"psys", "psys"}};
  auto it = kMap.find(event);
  return it == kMap.end() ? event : it->second;
}

struct Event {
  std::string domain;
  std::string event;  // "energy-pkg"
  uint64_t config = 0;
  double scale_j = 0;
  int cpu = 0;
};

// One perf event group: a package's events, read together. fds[0] leads.
struct PerfGroup {
  std::vector<int> fds;        // empty once the group stopped
  std::vector<size_t> domain;  // the session's domain index of each member
};

class PerfSession : public SamplingSession {
 public:
  PerfSession(const PerfSyscalls& sys, std::vector<DomainInfo> infos, std::vector<PerfGroup> groups,
              std::vector<uint64_t> first, std::vector<double> scale)
      : sys_(sys), infos_(std::move(infos)), groups_(std::move(groups)), first_(std::move(first)),
        scale_(std::move(scale)) {}
  ~PerfSession() override {
    for (PerfGroup& g : groups_) CloseGroup(sys_, g);
  }
  const std::vector<DomainInfo>& domains() const override { return infos_; }
  void Read(std::vector<double>& values, Diagnostics& diag) override {
    values.assign(infos_.size(), std::numeric_limits<double>::quiet_NaN());
    for (PerfGroup& g : groups_) {
      if (g.fds.empty()) continue;
      int err = 0;
      if (!ReadGroup(sys_, g, counts_, &err)) {
        // One read for the group: when it fails, each of its domains stops.
        for (size_t d : g.domain) {
          diag.Add(kDiagReadFailed);
          diag.Warn(fmt::format("{}: reading the perf counter failed ({}); the domain stops here",
                                infos_[d].name, ErrnoText(err)));
        }
        CloseGroup(sys_, g);
        continue;
      }
      for (size_t k = 0; k < g.domain.size(); ++k) {
        const size_t d = g.domain[k];
        values[d] = static_cast<double>(counts_[k] - first_[d]) * scale_[d];
      }
    }
  }

  static void CloseGroup(const PerfSyscalls& sys, PerfGroup& g) {
    // Members before the leader: closing a leader first would leave them singletons.
    for (size_t k = g.fds.size(); k-- > 0;) sys.close(g.fds[k]);
    g.fds.clear();
  }
  // One read of the leader (PERF_FORMAT_GROUP): counts[k] is member k's count.
  // false with *err set when the read fails or is not the group's size.
  static bool ReadGroup(const PerfSyscalls& sys, const PerfGroup& g, std::vector<uint64_t>& counts,
                        int* err) {
    const size_t m = g.fds.size();
    counts.resize(m + 1);
    const ssize_t want = static_cast<ssize_t>((m + 1) * sizeof(uint64_t));
    const ssize_t n = sys.read(g.fds[0], counts.data(), static_cast<size_t>(want));
    if (n != want || counts[0] != m) {
      *err = n < 0 ? errno : EIO;
      return false;
    }
    counts.erase(counts.begin());  // {nr, v0, v1, …} → {v0, v1, …}
    return true;
  }

 private:
  PerfSyscalls sys_;
  std::vector<DomainInfo> infos_;
  std::vector<PerfGroup> groups_;
  std::vector<uint64_t> first_;
  std::vector<double> scale_;
  std::vector<uint64_t> counts_;  // kept between passes
};

class PerfPowerSource : public EnergySource {
 public:
  PerfPowerSource(const SourceOptions& options, const PerfSyscalls& sys)
      : roots_(options.roots), pmu_dir_(options.roots.sysfs + "/bus/event_source/devices/power"),
        sys_(sys) {}

  std::string Name() const override { return kName; }
  RateClass Rate() const override { return RateClass::kFast; }
  int Preference() const override { return kPerfPreference; }

  std::vector<DomainProbe> Probe() override {
    std::vector<DomainProbe> probes;
    std::string why;
    std::vector<Event> events = Enumerate(&why);
    if (events.empty()) {
      DomainProbe p;
      p.info = Info("cpu:0/package", 0, "energy-pkg");
      p.location = pmu_dir_;
      p.reason = why;
      probes.push_back(std::move(p));
      return probes;
    }
    for (const Event& e : events) {
      DomainProbe p;
      p.info = Info(e.domain, e.scale_j, e.event);
      p.location = fmt::format("perf power/{}/ on CPU {}", e.event, e.cpu);
      int fd = sys_.event_open(type_, e.config, e.cpu, /*group_fd=*/-1, /*read_format=*/0);
      if (fd < 0) {
        int err = errno;
        if (err == EACCES || err == EPERM) {
          auto paranoid = ReadTrimmed(io_, roots_.proc + "/sys/kernel/perf_event_paranoid");
          p.reason = fmt::format(
              "perf_event_open denied ({}): kernel.perf_event_paranoid is {}; CPU-wide events "
              "need it at 0 or below, or CAP_PERFMON",
              ErrnoText(err), paranoid ? *paranoid : "unknown");
          p.fix =
              "sudo sysctl kernel.perf_event_paranoid=0, or run as root, or `sudo setcap "
              "cap_perfmon=ep $(which smaragdine)`";
        } else if (err == ENOENT || err == EOPNOTSUPP || err == EINVAL || err == ENODEV) {
          p.reason = fmt::format("event not supported by this CPU ({})", ErrnoText(err));
        } else {
          p.reason = fmt::format("perf_event_open failed: {}", ErrnoText(err));
        }
      } else {
        uint64_t count = 0;
        ssize_t n = sys_.read(fd, &count, sizeof count);
        if (n == static_cast<ssize_t>(sizeof count)) {
          p.readable = true;
        } else {
          p.reason = fmt::format("reading the counter failed: {}", ErrnoText(n < 0 ? errno : EIO));
        }
        sys_.close(fd);
      }
      probes.push_back(std::move(p));
    }
    return probes;
  }

  Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>& domains) override {
    std::string why;
    std::vector<Event> events = Enumerate(&why);
    std::vector<const Event*> chosen;
    for (const std::string& name : domains) {
      const Event* e = nullptr;
      for (const Event& c : events)
        if (c.domain == name) e = &c;
      if (e == nullptr) {
        return Nothing(fmt::format("{}: no domain {} here{}{}", kName, name,
                                   why.empty() ? "" : ": ", why));
      }
      chosen.push_back(e);
    }
    std::vector<PerfGroup> groups;
    auto close_all = [&] {
      for (PerfGroup& g : groups) PerfSession::CloseGroup(sys_, g);
    };
    for (size_t d = 0; d < chosen.size(); ++d) {
      Status joined = Join(groups, chosen, d);
      if (!joined.ok()) {
        close_all();
        return joined.error();
      }
    }
    // The first reading of each group: the origin of its counts.
    std::vector<uint64_t> first(chosen.size()), counts;
    for (const PerfGroup& g : groups) {
      int err = 0;
      if (!PerfSession::ReadGroup(sys_, g, counts, &err)) {
        close_all();
        return Nothing(fmt::format("{}: reading {} failed: {}", kName, domains[g.domain[0]],
                                   ErrnoText(err)));
      }
      for (size_t k = 0; k < g.domain.size(); ++k) first[g.domain[k]] = counts[k];
    }
    std::vector<DomainInfo> infos;
    std::vector<double> scale;
    for (const Event* e : chosen) {
      infos.push_back(Info(e->domain, e->scale_j, e->event));
      scale.push_back(e->scale_j);
    }
    return std::unique_ptr<SamplingSession>(std::make_unique<PerfSession>(
        sys_, std::move(infos), std::move(groups), std::move(first), std::move(scale)));
  }

 private:
  // Opens domain d's event into the group of its CPU (a new group when there is
  // none, or when the kernel will not add it to the one there is).
  Status Join(std::vector<PerfGroup>& groups, const std::vector<const Event*>& chosen, size_t d) {
    const Event& e = *chosen[d];
    PerfGroup* group = nullptr;
    for (PerfGroup& g : groups)
      if (chosen[g.domain[0]]->cpu == e.cpu) group = &g;
    int fd = -1;
    if (group != nullptr) {
      fd = sys_.event_open(type_, e.config, e.cpu, group->fds[0], PERF_FORMAT_GROUP);
      if (fd < 0) group = nullptr;
    }
    if (fd < 0) fd = sys_.event_open(type_, e.config, e.cpu, /*group_fd=*/-1, PERF_FORMAT_GROUP);
    if (fd < 0) {
      return Nothing(fmt::format("{}: perf_event_open for {} ({} on CPU {}) failed: {}", kName,
                                 e.domain, e.event, e.cpu, ErrnoText(errno)));
    }
    if (group == nullptr) group = &groups.emplace_back();
    group->fds.push_back(fd);
    group->domain.push_back(d);
    return Status();
  }

  // The perf scale (2^-32 J) is finer than the hardware's unit (the kernel shifts
  // the raw count by 32 − ESU), so this is the smallest step the count shows.
  // `event` is the PMU's name for it ("energy-pkg"). The kernel reads the same
  // RAPL counter, so its period is RAPL's nominal one.
  DomainInfo Info(const std::string& domain, double scale_j, const std::string& event) const {
    DomainInfo info = CpuCounterInfo(domain, kName, scale_j);
    SetRaplCounterMeter(info, fmt::format("perf power/{}/", event), kRaplNominalUpdateNs,
                        "RAPL energy counter read by the kernel's perf power PMU; update period "
                        "1 ms nominal (Intel SDM; perf does not show the RAPL time unit), phase "
                        "unknown");
    return info;
  }

  // The PMU's events × its package CPUs, or none with *why set.
  std::vector<Event> Enumerate(std::string* why) {
    std::vector<Event> events;
    auto type = ReadTrimmed(io_, pmu_dir_ + "/type");
    if (!type || !ParseU64(*type)) {
      *why =
          "no perf power PMU (the kernel's RAPL perf driver is missing, or this CPU/VM has no "
          "RAPL)";
      return events;
    }
    type_ = static_cast<uint32_t>(*ParseU64(*type));
    auto mask = ReadTrimmed(io_, pmu_dir_ + "/cpumask");
    auto cpus = mask ? ParseCpuList(*mask) : std::nullopt;
    if (!cpus || cpus->empty()) {
      *why = fmt::format("perf power PMU without a readable cpumask ({}/cpumask)", pmu_dir_);
      return events;
    }
    // Package of each CPU in the mask; the mask's order when topology is missing.
    std::vector<std::pair<uint64_t, int>> packages;
    for (size_t i = 0; i < cpus->size(); ++i) {
      int cpu = (*cpus)[i];
      auto pkg = ReadTrimmed(io_, fmt::format("{}/devices/system/cpu/cpu{}/topology/"
                                              "physical_package_id",
                                              roots_.sysfs, cpu));
      uint64_t id = i;
      if (pkg && ParseU64(*pkg)) id = *ParseU64(*pkg);
      packages.emplace_back(id, cpu);
    }
    std::sort(packages.begin(), packages.end());
    const std::string events_dir = pmu_dir_ + "/events";
    for (const std::string& entry : ListDir(events_dir)) {
      if (entry.rfind("energy-", 0) != 0 || entry.find('.') != std::string::npos) continue;
      auto spec = ReadTrimmed(io_, events_dir + "/" + entry);
      auto scale = ReadTrimmed(io_, events_dir + "/" + entry + ".scale");
      if (!spec || !scale) continue;
      std::optional<uint64_t> config;
      // "event=0x02" (terms separated by commas; the power PMU uses only `event`).
      std::string_view rest = *spec;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view term = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (term.rfind("event=", 0) == 0) config = ParseU64(term.substr(6), 0);
      }
      char* end = nullptr;
      double scale_j = std::strtod(scale->c_str(), &end);
      if (!config || end == scale->c_str() || !(scale_j > 0)) continue;
      const std::string suffix = SuffixOf(entry.substr(7));
      for (size_t i = 0; i < packages.size(); ++i) {
        // psys is one platform counter, attributed to the first package (as powercap does).
        if (suffix == "psys" && i > 0) break;
        events.push_back(Event{fmt::format("cpu:{}/{}", packages[i].first, suffix), entry,
                               *config, scale_j, packages[i].second});
      }
    }
    if (events.empty()) *why = fmt::format("perf power PMU lists no energy events ({})", events_dir);
    return events;
  }

  SourceRoots roots_;
  std::string pmu_dir_;
  PerfSyscalls sys_;
  SysIo io_;
  uint32_t type_ = 0;
};

}  // namespace

PerfSyscalls::PerfSyscalls() : event_open(&RealEventOpen), read(&::read), close(&::close) {}

std::unique_ptr<EnergySource> MakePerfPowerSource(const SourceOptions& options,
                                                  const PerfSyscalls& sys) {
  return std::make_unique<PerfPowerSource>(options, sys);
}

std::unique_ptr<EnergySource> MakePerfPowerSource(const SourceOptions& options) {
  return MakePerfPowerSource(options, PerfSyscalls());
}

}  // namespace smaragdine
