#include "energy/sources/rapl_msr.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace smaragdine {
namespace {

constexpr const char* kName = "rapl-msr";
constexpr uint64_t kCounterRange = 1ull << 32;  // the energy status counters are 32 bits
constexpr double kDramFixedUnitJ = 1.0 / 65536;  // 15.3 µJ

struct CpuId {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", "HygonGenuine"
  int family = -1;
  int model = -1;
};

CpuId ReadCpuId(const SysIo& io, const std::string& proc) {
  CpuId id;
  FileText t = ReadFileText(io, proc + "/cpuinfo");
  std::string_view text = t.text;
  // Only the first processor block matters: all packages are the same model.
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (Trim(line).empty()) {
      if (!id.vendor.empty()) break;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = Trim(line.substr(0, colon)), value = Trim(line.substr(colon + 1));
    if (key == "vendor_id") id.vendor = std::string(value);
    if (key == "cpu family") id.family = static_cast<int>(ParseU64(value).value_or(-1));
    if (key == "model") id.model = static_cast<int>(ParseU64(value).value_or(-1));
  }
  return id;
}

// Package id → the lowest CPU in it.
std::map<uint64_t, int> PackageCpus(const SysIo& io, const std::string& sysfs) {
  std::map<uint64_t, int> first_cpu;
  const std::string dir = sysfs + "/devices/system/cpu";
  for (const std::string& entry : ListDir(dir)) {
    if (entry.size() < 4 || entry.compare(0, 3, "cpu") != 0) continue;
    auto cpu = ParseU64(std::string_view(entry).substr(3));
    if (!cpu) continue;
    auto pkg = ReadTrimmed(io, dir + "/" + entry + "/topology/physical_package_id");
    if (!pkg) continue;
    auto id = ParseU64(*pkg);
    if (!id) continue;
    auto [it, inserted] = first_cpu.emplace(*id, static_cast<int>(*cpu));
    if (!inserted) it->second = std::min(it->second, static_cast<int>(*cpu));
  }
  return first_cpu;
}

struct MsrDomain {
  const char* suffix;  // "package" → cpu:N/package
  uint32_t reg;
};

class RaplMsrSource : public EnergySource {
 public:
  RaplMsrSource(const SourceOptions& options, const SysIo& io) : roots_(options.roots), io_(io) {}

  std::string Name() const override { return kName; }
  RateClass Rate() const override { return RateClass::kFast; }
  int Preference() const override { return kRaplMsrPreference; }

  std::vector<DomainProbe> Probe() override {
    probed_.clear();
    std::vector<DomainProbe> probes;
    CpuId cpu = ReadCpuId(io_, roots_.proc);
    std::map<uint64_t, int> packages = PackageCpus(io_, roots_.sysfs);
    if (packages.empty()) {
      DomainProbe p = Unreadable("cpu:0/package", roots_.sysfs + "/devices/system/cpu",
                                 "no CPU topology (physical_package_id) to pick one CPU per "
                                 "package",
                                 "");
      probes.push_back(std::move(p));
      return probes;
    }
    const bool intel = cpu.vendor == "GenuineIntel";
    const bool amd = (cpu.vendor == "AuthenticAMD" && cpu.family >= 0x17) ||
                     cpu.vendor == "HygonGenuine";
    const uint32_t unit_reg = intel ? kMsrIntelPowerUnit : kMsrAmdPowerUnit;
    std::vector<MsrDomain> regs;
    if (intel) {
      regs = {{"package", kMsrIntelPkgEnergy}, {"core", kMsrIntelPp0Energy},
              {"uncore", kMsrIntelPp1Energy},  {"dram", kMsrIntelDramEnergy},
              {"psys", kMsrIntelPsysEnergy}};
    } else if (amd) {
      // The core counter 0xC001029A is per core, not per package: summing it over
      // the cores is not done yet, so AMD offers the package only.
      regs = {{"package", kMsrAmdPkgEnergy}};
    }
    bool first_package = true;
    for (const auto& [pkg, cpu_n] : packages) {
      const std::string path = fmt::format("{}/cpu/{}/msr", roots_.dev, cpu_n);
      const std::string pkg_domain = fmt::format("cpu:{}/package", pkg);
      if (!intel && !amd) {
        probes.push_back(Unreadable(
            pkg_domain, path,
            fmt::format("RAPL registers are known only for Intel and AMD family 17h+ (this CPU: "
                        "{} family {:#x})",
                        cpu.vendor.empty() ? "unknown vendor" : cpu.vendor, cpu.family),
            ""));
        continue;
      }
      int fd = io_.open(path.c_str(), O_RDONLY);
      if (fd < 0) {
        int err = errno;
        std::string reason, fix;
        if (err == ENOENT || err == ENXIO || err == ENODEV) {
          reason = fmt::format("msr module not loaded (no {})", path);
          fix = "sudo modprobe msr";
        } else if (err == EACCES || err == EPERM) {
          reason = "needs root or CAP_SYS_RAWIO";
          fix = "run as root or `sudo setcap cap_sys_rawio=ep $(which smaragdine)`";
        } else {
          reason = fmt::format("cannot open {}: {}", path, ErrnoText(err));
        }
        probes.push_back(Unreadable(pkg_domain, path, reason, fix));
        continue;
      }
      uint64_t unit = 0;
      int err = ReadMsr(fd, unit_reg, &unit);
      if (err != 0) {
        probes.push_back(Unreadable(
            pkg_domain, path,
            fmt::format("RAPL not supported by this CPU (MSR {:#x}: {})", unit_reg,
                        ErrnoText(err)),
            ""));
        io_.close(fd);
        continue;
      }
      for (const MsrDomain& d : regs) {
        // psys is one platform counter, attributed to the first package (as powercap does).
        if (std::string_view(d.suffix) == "psys" && !first_package) continue;
        const std::string domain = fmt::format("cpu:{}/{}", pkg, d.suffix);
        double unit_j = MsrEnergyUnitJ(unit);
        if (d.reg == kMsrIntelDramEnergy && IntelDramFixedUnit(cpu.family, cpu.model))
          unit_j = kDramFixedUnitJ;
        DomainProbe p;
        p.info = Info(domain, unit_j, d.reg, MsrTimeUnitNs(unit));
        p.location = fmt::format("{} register {:#x}", path, d.reg);
        uint64_t value = 0;
        int rerr = ReadMsr(fd, d.reg, &value);
        if (rerr == EIO) {
          p.reason = fmt::format("not supported by this CPU (MSR {:#x}: {})", d.reg,
                                 ErrnoText(rerr));
        } else if (rerr != 0) {
          p.reason = fmt::format("cannot read MSR {:#x}: {}", d.reg, ErrnoText(rerr));
        } else if ((value & 0xFFFFFFFFull) == 0 && d.reg != kMsrIntelPsysEnergy) {
          // Linux's intel_rapl_common (rapl_check_domain) takes a zero counter as an
          // absent domain; psys may legitimately start at 0.
          p.reason = fmt::format("not present on this CPU (MSR {:#x} reads 0)", d.reg);
        } else {
          p.readable = true;
          probed_[domain] = Channel{path, d.reg, unit_j, MsrTimeUnitNs(unit)};
        }
        probes.push_back(std::move(p));
      }
      io_.close(fd);
      first_package = false;
    }
    return probes;
  }

  Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>& domains) override {
    if (probed_.empty()) Probe();
    std::vector<CounterChannel> channels;
    for (const std::string& name : domains) {
      auto it = probed_.find(name);
      if (it == probed_.end())
        return Nothing(fmt::format("{}: domain {} cannot be read here", kName, name));
      CounterChannel c;
      c.info = Info(name, it->second.unit_j, it->second.reg, it->second.time_unit_ns);
      c.path = it->second.path;
      c.kind = CounterChannel::Kind::kMsrEnergy;
      c.offset = static_cast<off_t>(it->second.reg);
      c.unit = it->second.unit_j;
      c.range = kCounterRange;
      channels.push_back(std::move(c));
    }
    return OpenFileCounterSession(io_, kName, std::move(channels));
  }

 private:
  struct Channel {
    std::string path;
    uint32_t reg = 0;
    double unit_j = 0;
    int64_t time_unit_ns = 0;
  };

  // `reg` 0: the register is not known yet (the CPU or its msr file could not
  // be read); `time_unit_ns` 0: the unit register was not read.
  DomainInfo Info(const std::string& domain, double unit_j, uint32_t reg = 0,
                  int64_t time_unit_ns = 0) const {
    DomainInfo info = CpuCounterInfo(domain, kName, unit_j);
    // The SDM's ~1 ms stays the period: the time unit read beside it is the unit
    // of the power-limit windows, which the updates may or may not follow.
    std::string note = "RAPL energy counter; update period 1 ms nominal (Intel SDM), phase unknown";
    if (time_unit_ns > 0)
      note += fmt::format("; RAPL time unit {:.1f} µs (power-unit register bits 19:16)",
                          static_cast<double>(time_unit_ns) * 1e-3);
    SetRaplCounterMeter(info, reg != 0 ? MsrEnergyFieldName(reg) : "MSR energy status",
                        kRaplNominalUpdateNs, std::move(note));
    return info;
  }

  DomainProbe Unreadable(const std::string& domain, std::string location, std::string reason,
                         std::string fix) const {
    DomainProbe p;
    p.info = Info(domain, 0);
    p.location = std::move(location);
    p.reason = std::move(reason);
    p.fix = std::move(fix);
    return p;
  }

  // 0 or the errno; the msr driver answers EIO for a register the CPU lacks.
  int ReadMsr(int fd, uint32_t reg, uint64_t* value) const {
    ssize_t n;
    do {
      n = io_.pread(fd, value, sizeof *value, static_cast<off_t>(reg));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    return n == static_cast<ssize_t>(sizeof *value) ? 0 : EIO;
  }

  SourceRoots roots_;
  SysIo io_;
  std::map<std::string, Channel> probed_;  // readable domains of the last Probe
};

}  // namespace

int64_t MsrTimeUnitNs(uint64_t power_unit_reg) {
  const unsigned tu = static_cast<unsigned>((power_unit_reg >> 16) & 0xF);
  return static_cast<int64_t>(std::llround(1e9 / static_cast<double>(1u << tu)));
}

std::string MsrEnergyFieldName(uint32_t reg) {
  const char* name = reg == kMsrIntelPkgEnergy    ? "MSR_PKG_ENERGY_STATUS"
                     : reg == kMsrIntelPp0Energy  ? "MSR_PP0_ENERGY_STATUS"
                     : reg == kMsrIntelPp1Energy  ? "MSR_PP1_ENERGY_STATUS"
                     : reg == kMsrIntelDramEnergy ? "MSR_DRAM_ENERGY_STATUS"
                     : reg == kMsrIntelPsysEnergy ? "MSR_PLATFORM_ENERGY_STATUS"
                     : reg == kMsrAmdPkgEnergy    ? "MSR_PKG_ENERGY_STAT"
                     : reg == kMsrAmdCoreEnergy   ? "MSR_CORE_ENERGY_STAT"
                                                  : "MSR";
  return fmt::format("{} {:#x}", name, reg);
}

double MsrEnergyUnitJ(uint64_t power_unit_reg) {
  const unsigned esu = static_cast<unsigned>((power_unit_reg >> 8) & 0x1F);
  return 1.0 / static_cast<double>(1ull << esu);
}

bool IntelDramFixedUnit(int family, int model) {
  if (family != 6) return false;
  // The models Linux's intel_rapl_common.c gives rapl_defaults_hsw_server
  // (.dram_domain_energy_unit = 15300 pJ) in its rapl_ids table; perf's
  // arch/x86/events/rapl.c applies the same quirk (rapl_hsw_server_quirk).
  switch (model) {
    case 0x3F:  // Haswell-EP (HASWELL_X)
    case 0x4F:  // Broadwell-EP (BROADWELL_X)
    case 0x55:  // Skylake-SP / Cascade Lake (SKYLAKE_X)
    case 0x6A:  // Ice Lake-SP (ICELAKE_X)
    case 0x6C:  // Ice Lake-D (ICELAKE_D)
    case 0x57:  // Xeon Phi Knights Landing (XEON_PHI_KNL)
    case 0x85:  // Xeon Phi Knights Mill (XEON_PHI_KNM)
      return true;
    default:
      return false;
  }
}

std::unique_ptr<EnergySource> MakeRaplMsrSource(const SourceOptions& options, const SysIo& io) {
  return std::make_unique<RaplMsrSource>(options, io);
}

std::unique_ptr<EnergySource> MakeRaplMsrSource(const SourceOptions& options) {
  return MakeRaplMsrSource(options, SysIo());
}

}  // namespace smaragdine
