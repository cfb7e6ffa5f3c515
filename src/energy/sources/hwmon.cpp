#include "energy/sources/hwmon.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include <fmt/format.h>

namespace smaragdine {
namespace {

constexpr const char* kName = "hwmon";

struct Sensor {
  std::string domain;
  std::string device;
  std::string path;
  Quantity quantity = Quantity::kEnergy;
  MeterModel meter;             // from the file's name and the chip's interval attributes
  int64_t update_ns = 0;        // the chip's update_interval; 0 when it has none
};

// A chip's or sensor's interval attribute (hwmon ABI: milliseconds) in ns;
// 0 when absent or not a number.
int64_t IntervalNs(const SysIo& io, const std::string& path) {
  auto text = ReadTrimmed(io, path);
  auto ms = text ? ParseU64(*text) : std::nullopt;
  return ms ? static_cast<int64_t>(*ms) * 1'000'000 : 0;
}

// What a sensor file is, by the hwmon ABI (Documentation/hwmon/sysfs-interface):
// energyN_input a cumulative counter, powerN_average an average over
// powerN_average_interval, powerN_input the power now (as the chip samples it).
MeterModel SensorMeter(const SysIo& io, const std::string& chip_dir, const std::string& file,
                       int64_t update_ns) {
  MeterModel m;
  m.field = file;
  const std::string stem = file.substr(0, file.find('_'));
  const std::string chip_period =
      update_ns > 0 ? "update period from the chip's update_interval"
                    : "update period unknown (the chip has no update_interval)";
  if (file.rfind("energy", 0) == 0) {
    m.kind = MeterKind::kCounter;
    m.note = "hwmon energy counter in µJ; " + chip_period;
  } else if (file.size() > 8 && file.compare(file.size() - 8, 8, "_average") == 0) {
    m.kind = MeterKind::kWindowedPower;
    m.window_ns = IntervalNs(io, chip_dir + "/" + stem + "_average_interval");
    m.note = fmt::format("hwmon average power; window {}; {}",
                         m.window_ns > 0 ? "from " + stem + "_average_interval"
                                         : "unknown (no " + stem + "_average_interval)",
                         chip_period);
  } else {
    m.kind = MeterKind::kInstantPower;
    m.note = "hwmon power reading; " + chip_period;
  }
  return m;
}

// "hwmon12" → 12, for numeric order (hwmon10 after hwmon9).
std::optional<uint64_t> ChipIndex(const std::string& entry) {
  if (entry.rfind("hwmon", 0) != 0) return std::nullopt;
  return ParseU64(std::string_view(entry).substr(5));
}

// "energy3_input" with prefix "energy" and suffix "_input" → 3.
std::optional<uint64_t> SensorIndex(const std::string& file, std::string_view prefix,
                                    std::string_view suffix) {
  if (file.size() <= prefix.size() + suffix.size()) return std::nullopt;
  if (file.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  if (file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  return ParseU64(std::string_view(file).substr(prefix.size(),
                                                file.size() - prefix.size() - suffix.size()));
}

std::string Sanitize(std::string s) {
  for (char& c : s)
    if (c == '/' || std::isspace(static_cast<unsigned char>(c))) c = '_';
  return s;
}

class HwmonSource : public EnergySource {
 public:
  HwmonSource(const SourceOptions& options, const SysIo& io)
      : class_dir_(options.roots.sysfs + "/class/hwmon"), io_(io) {}

  std::string Name() const override { return kName; }
  RateClass Rate() const override { return RateClass::kSlow; }
  int Preference() const override { return kHwmonPreference; }

  std::vector<DomainProbe> Probe() override {
    std::vector<DomainProbe> probes;
    for (const Sensor& s : Enumerate()) {
      DomainProbe p;
      p.info = Info(s);
      p.location = s.path;
      FileText t = ReadFileText(io_, s.path);
      if (t.err == EACCES || t.err == EPERM) {
        p.reason = fmt::format("permission denied ({})", ErrnoText(t.err));
        p.fix = fmt::format("run as root, or: sudo chmod a+r {}", s.path);
      } else if (t.err != 0) {
        p.reason = fmt::format("cannot read: {}", ErrnoText(t.err));
      } else if (!ParseU64(t.text)) {
        p.reason = fmt::format("not a number: \"{}\"", Trim(t.text));
      } else {
        p.readable = true;
      }
      probes.push_back(std::move(p));
    }
    return probes;
  }

  Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>& domains) override {
    std::vector<Sensor> sensors = Enumerate();
    std::vector<CounterChannel> channels;
    for (const std::string& name : domains) {
      auto it = std::find_if(sensors.begin(), sensors.end(),
                             [&](const Sensor& s) { return s.domain == name; });
      if (it == sensors.end()) return Nothing(fmt::format("{}: no domain {} here", kName, name));
      CounterChannel c;
      c.info = Info(*it);
      c.path = it->path;
      c.kind = it->quantity == Quantity::kEnergy ? CounterChannel::Kind::kDecimalEnergy
                                                 : CounterChannel::Kind::kDecimalPower;
      c.unit = 1e-6;  // µJ and µW
      c.range = 0;    // hwmon says nothing about wrapping: a decrease is NaN
      channels.push_back(std::move(c));
    }
    return OpenFileCounterSession(io_, kName, std::move(channels));
  }

 private:
  DomainInfo Info(const Sensor& s) const {
    DomainInfo info;
    info.name = s.domain;
    info.device = s.device;
    info.source = kName;
    info.quantity = s.quantity;
    info.resolution_j = s.quantity == Quantity::kEnergy ? 1e-6 : 0;
    info.update_interval_ns = s.update_ns;
    info.meter = s.meter;
    return info;
  }

  std::vector<Sensor> Enumerate() const {
    std::vector<std::pair<uint64_t, std::string>> chips;
    for (const std::string& entry : ListDir(class_dir_))
      if (auto idx = ChipIndex(entry)) chips.emplace_back(*idx, entry);
    std::sort(chips.begin(), chips.end());

    struct Chip {
      std::string dir, name;
    };
    std::vector<Chip> named;
    std::map<std::string, int> chips_per_name;
    for (const auto& [idx, entry] : chips) {
      std::string dir = class_dir_ + "/" + entry;
      auto name = ReadTrimmed(io_, dir + "/name");
      if (!name) continue;
      named.push_back(Chip{dir, Sanitize(*name)});
      ++chips_per_name[named.back().name];
    }

    std::vector<Sensor> sensors;
    std::map<std::string, int> seen_per_name;
    for (const Chip& chip : named) {
      const int k = seen_per_name[chip.name]++;  // this chip's rank among chips of its name
      const std::vector<std::string> files = ListDir(chip.dir);
      const int64_t update_ns = IntervalNs(io_, chip.dir + "/update_interval");
      const std::set<std::string> file_set(files.begin(), files.end());
      // Sensors in index order: energy first, then power (average preferred over input).
      std::vector<std::pair<std::string, Quantity>> picked;  // (file, quantity)
      for (const std::string& f : files)
        if (SensorIndex(f, "energy", "_input")) picked.emplace_back(f, Quantity::kEnergy);
      std::set<uint64_t> power_done;
      for (const char* suffix : {"_average", "_input"}) {
        for (const std::string& f : files) {
          auto n = SensorIndex(f, "power", suffix);
          if (!n || !power_done.insert(*n).second) continue;
          picked.emplace_back(f, Quantity::kPower);
        }
      }
      int gpu_power_sensors = 0;
      for (const auto& [file, quantity] : picked) {
        const std::string stem = file.substr(0, file.find('_'));  // "power1"
        auto label = ReadTrimmed(io_, chip.dir + "/" + stem + "_label");
        const std::string sensor = label && !label->empty() ? Sanitize(*label) : stem;
        Sensor s;
        s.path = chip.dir + "/" + file;
        s.quantity = quantity;
        s.update_ns = update_ns;
        s.meter = SensorMeter(io_, chip.dir, file, update_ns);
        if (chip.name == "amdgpu" && quantity == Quantity::kPower) {
          // amdgpu exposes power only; chips in hwmon order are GPUs 0, 1, …
          s.device = fmt::format("GPU:{}", k);
          s.domain = gpu_power_sensors++ == 0 ? fmt::format("gpu:{}", k)
                                              : fmt::format("gpu:{}/{}", k, sensor);
        } else if ((chip.name == "amd_energy" || chip.name == "zenergy") &&
                   quantity == Quantity::kEnergy && sensor.rfind("Esocket", 0) == 0 &&
                   ParseU64(std::string_view(sensor).substr(7))) {
          const uint64_t socket = *ParseU64(std::string_view(sensor).substr(7));
          s.domain = fmt::format("cpu:{}/package", socket);
          s.device = fmt::format("CPU:{}", socket);
        } else {
          // A chip name used by several chips gets its rank: hwmon:nvme.1/…
          const std::string chip_id =
              chips_per_name[chip.name] > 1 ? fmt::format("{}.{}", chip.name, k) : chip.name;
          s.domain = fmt::format("hwmon:{}/{}", chip_id, sensor);
        }
        const bool dup = std::any_of(sensors.begin(), sensors.end(),
                                     [&](const Sensor& o) { return o.domain == s.domain; });
        if (dup) s.domain += "-" + stem;  // two sensors with one label
        sensors.push_back(std::move(s));
      }
    }
    return sensors;
  }

  std::string class_dir_;
  SysIo io_;
};

}  // namespace

std::unique_ptr<EnergySource> MakeHwmonSource(const SourceOptions& options, const SysIo& io) {
  return std::make_unique<HwmonSource>(options, io);
}

std::unique_ptr<EnergySource> MakeHwmonSource(const SourceOptions& options) {
  return MakeHwmonSource(options, SysIo());
}

}  // namespace smaragdine
