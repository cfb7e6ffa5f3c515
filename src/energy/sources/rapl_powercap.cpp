#include "energy/sources/rapl_powercap.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include <fmt/format.h>

namespace smaragdine {
namespace {

constexpr const char* kName = "rapl-powercap";

// A zone directory name: "intel-rapl:0:1" → control type "intel-rapl", ids {0, 1} (hex).
struct ZoneId {
  std::string control;
  std::vector<uint64_t> ids;
};

std::optional<ZoneId> ParseZoneId(const std::string& entry) {
  size_t colon = entry.find(':');
  if (colon == std::string::npos) return std::nullopt;  // the control type itself
  ZoneId z;
  z.control = entry.substr(0, colon);
  if (z.control != "intel-rapl" && z.control != "intel-rapl-mmio") return std::nullopt;
  std::string_view rest = std::string_view(entry).substr(colon + 1);
  while (!rest.empty()) {
    size_t next = rest.find(':');
    auto id = ParseU64(rest.substr(0, next), 16);  // the kernel prints zone ids with %x
    if (!id) return std::nullopt;
    z.ids.push_back(*id);
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
  }
  if (z.ids.empty()) return std::nullopt;
  return z;
}

// "package-N" or "package-N-die-M" → (N, M or -1).
std::optional<std::pair<uint64_t, int64_t>> ParsePackageName(std::string_view name) {
  if (name.substr(0, 8) != "package-") return std::nullopt;
  name.remove_prefix(8);
  size_t die = name.find("-die-");
  auto pkg = ParseU64(name.substr(0, die));
  if (!pkg) return std::nullopt;
  if (die == std::string_view::npos) return std::make_pair(*pkg, int64_t{-1});
  auto d = ParseU64(name.substr(die + 5));
  if (!d) return std::nullopt;
  return std::make_pair(*pkg, static_cast<int64_t>(*d));
}

struct Zone {
  std::string entry;  // "intel-rapl:0:1"
  std::string dir;    // <sysfs>/class/powercap/intel-rapl:0:1
  ZoneId id;
  std::string domain;
  std::string device;
};

std::string EnergyPath(const Zone& z) { return z.dir + "/energy_uj"; }

class RaplPowercapSource : public EnergySource {
 public:
  RaplPowercapSource(const SourceOptions& options, const SysIo& io)
      : class_dir_(options.roots.sysfs + "/class/powercap"), io_(io) {}

  std::string Name() const override { return kName; }
  RateClass Rate() const override { return RateClass::kFast; }
  int Preference() const override { return kRaplPowercapPreference; }

  std::vector<DomainProbe> Probe() override {
    std::vector<DomainProbe> probes;
    std::vector<Zone> zones = Enumerate();
    if (zones.empty()) {
      DomainProbe p;
      p.info = Info("cpu:0/package");
      p.location = class_dir_;
      p.reason =
          "no RAPL powercap zones (intel_rapl_common / intel_rapl_msr not loaded, or not "
          "supported by this CPU/VM)";
      p.fix = "sudo modprobe intel_rapl_msr";
      probes.push_back(std::move(p));
      return probes;
    }
    for (const Zone& z : zones) probes.push_back(ProbeZone(z));
    return probes;
  }

  Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>& domains) override {
    std::vector<Zone> zones = Enumerate();
    std::vector<CounterChannel> channels;
    for (const std::string& name : domains) {
      auto it = std::find_if(zones.begin(), zones.end(),
                             [&](const Zone& z) { return z.domain == name; });
      if (it == zones.end()) return Nothing(fmt::format("{}: no domain {} here", kName, name));
      CounterChannel c;
      c.info = Info(name);
      c.path = EnergyPath(*it);
      c.kind = CounterChannel::Kind::kDecimalEnergy;
      c.unit = 1e-6;  // energy_uj is in µJ
      c.range = Range(*it);
      channels.push_back(std::move(c));
    }
    return OpenFileCounterSession(io_, kName, std::move(channels));
  }

 private:
  // The file counts µJ; the hardware unit behind it is coarser (2^-14 J ≈ 61 µJ typically).
  // powercap shows neither that unit nor the RAPL time unit: the period is nominal.
  DomainInfo Info(const std::string& domain) const {
    DomainInfo info = CpuCounterInfo(domain, kName, 1e-6);
    SetRaplCounterMeter(info, "energy_uj", kRaplNominalUpdateNs,
                        "RAPL energy counter; update period 1 ms nominal (powercap does not show "
                        "the RAPL time unit), phase unknown; energy_uj counts µJ, the hardware "
                        "unit is coarser (2^-ESU J, often 61 µJ)");
    return info;
  }

  uint64_t Range(const Zone& z) const {
    auto text = ReadTrimmed(io_, z.dir + "/max_energy_range_uj");
    if (!text) return 0;
    return ParseU64(*text).value_or(0);
  }

  // Zones sorted MSR-backed first then by id, each named once: an mmio zone whose
  // domain an intel-rapl zone already gives is the same counter through another
  // interface, and is dropped.
  std::vector<Zone> Enumerate() const {
    std::vector<Zone> all;
    std::map<std::string, std::string> names;  // entry → name
    for (const std::string& entry : ListDir(class_dir_)) {
      auto id = ParseZoneId(entry);
      if (!id) continue;
      auto name = ReadTrimmed(io_, class_dir_ + "/" + entry + "/name");
      if (!name) continue;
      names[entry] = *name;
      all.push_back(Zone{entry, class_dir_ + "/" + entry, *id, "", ""});
    }
    std::sort(all.begin(), all.end(), [](const Zone& a, const Zone& b) {
      bool a_mmio = a.id.control != "intel-rapl", b_mmio = b.id.control != "intel-rapl";
      if (a_mmio != b_mmio) return !a_mmio;
      return a.id.ids < b.id.ids;
    });
    std::vector<Zone> zones;
    for (Zone& z : all) {
      std::string parent_name;
      if (z.id.ids.size() > 1) {
        std::string parent = z.entry.substr(0, z.entry.rfind(':'));
        auto it = names.find(parent);
        if (it == names.end()) continue;
        parent_name = it->second;
      }
      auto domain = PowercapDomainName(names[z.entry], parent_name);
      if (!domain) continue;
      bool dup = std::any_of(zones.begin(), zones.end(),
                             [&](const Zone& o) { return o.domain == *domain; });
      if (dup) continue;
      z.domain = *domain;
      z.device = CpuDeviceOf(*domain);
      zones.push_back(std::move(z));
    }
    return zones;
  }

  DomainProbe ProbeZone(const Zone& z) const {
    DomainProbe p;
    p.info = Info(z.domain);
    p.location = EnergyPath(z);
    int fd = io_.open(p.location.c_str(), O_RDONLY);
    if (fd < 0) {
      int err = errno;
      if (err == EACCES || err == EPERM) {
        p.reason = "permission denied (energy_uj is root-only since CVE-2020-8694)";
        p.fix = fmt::format(
            "run as root, or: sudo chmod a+r {} (until reboot); to keep it, a udev rule in "
            "/etc/udev/rules.d/90-smaragdine-rapl.rules: SUBSYSTEM==\"powercap\", "
            "ACTION==\"add\", RUN+=\"/bin/chmod a+r /sys%p/energy_uj\" then sudo udevadm "
            "trigger --subsystem-match=powercap",
            p.location);
      } else {
        p.reason = fmt::format("cannot open energy_uj: {}", ErrnoText(err));
      }
      return p;
    }
    int err = 0;
    auto raw = PreadU64(io_, fd, &err);
    io_.close(fd);
    if (!raw) {
      p.reason = fmt::format("cannot read energy_uj: {}", ErrnoText(err));
      return p;
    }
    p.readable = true;
    return p;
  }

  std::string class_dir_;
  SysIo io_;
};

}  // namespace

std::optional<std::string> PowercapDomainName(const std::string& name,
                                              const std::string& parent_name) {
  if (parent_name.empty()) {
    if (auto pkg = ParsePackageName(name)) {
      if (pkg->second < 0) return fmt::format("cpu:{}/package", pkg->first);
      return fmt::format("cpu:{}/package-die-{}", pkg->first, pkg->second);
    }
    // psys is a platform zone beside the packages; it is attributed to package 0.
    if (name == "psys") return std::string("cpu:0/psys");
    return std::nullopt;
  }
  auto pkg = ParsePackageName(parent_name);
  if (!pkg) return std::nullopt;
  if (pkg->second < 0) return fmt::format("cpu:{}/{}", pkg->first, name);
  return fmt::format("cpu:{}/{}-die-{}", pkg->first, name, pkg->second);
}

std::unique_ptr<EnergySource> MakeRaplPowercapSource(const SourceOptions& options,
                                                     const SysIo& io) {
  return std::make_unique<RaplPowercapSource>(options, io);
}

std::unique_ptr<EnergySource> MakeRaplPowercapSource(const SourceOptions& options) {
  return MakeRaplPowercapSource(options, SysIo());
}

}  // namespace smaragdine
