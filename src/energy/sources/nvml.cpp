// NVML source: dlopen'd table of function pointers, GPU energy counter or power.
#include "energy/sources/nvml.h"

#include <dlfcn.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace smaragdine {
namespace {

constexpr const char* kDefaultLibrary = "libnvidia-ml.so.1";
constexpr const char* kSourceName = "nvml";
constexpr int kPreference = 15;
constexpr double kMillijouleJ = 1e-3;

std::string CodeName(int code) {
  switch (code) {
    case kNvmlSuccess: return "NVML_SUCCESS";
    case kNvmlUninitialized: return "NVML_ERROR_UNINITIALIZED";
    case kNvmlInvalidArgument: return "NVML_ERROR_INVALID_ARGUMENT";
    case kNvmlNotSupported: return "NVML_ERROR_NOT_SUPPORTED";
    case kNvmlNoPermission: return "NVML_ERROR_NO_PERMISSION";
    case kNvmlAlreadyInitialized: return "NVML_ERROR_ALREADY_INITIALIZED";
    case kNvmlNotFound: return "NVML_ERROR_NOT_FOUND";
    case kNvmlInsufficientSize: return "NVML_ERROR_INSUFFICIENT_SIZE";
    case kNvmlInsufficientPower: return "NVML_ERROR_INSUFFICIENT_POWER";
    case kNvmlDriverNotLoaded: return "NVML_ERROR_DRIVER_NOT_LOADED";
    case kNvmlTimeout: return "NVML_ERROR_TIMEOUT";
    case kNvmlIrqIssue: return "NVML_ERROR_IRQ_ISSUE";
    case kNvmlLibraryNotFound: return "NVML_ERROR_LIBRARY_NOT_FOUND";
    case kNvmlFunctionNotFound: return "NVML_ERROR_FUNCTION_NOT_FOUND";
    case kNvmlCorruptedInforom: return "NVML_ERROR_CORRUPTED_INFOROM";
    case kNvmlGpuIsLost: return "NVML_ERROR_GPU_IS_LOST";
    case kNvmlResetRequired: return "NVML_ERROR_RESET_REQUIRED";
    case kNvmlOperatingSystem: return "NVML_ERROR_OPERATING_SYSTEM";
    case kNvmlLibRmVersionMismatch: return "NVML_ERROR_LIB_RM_VERSION_MISMATCH";
    case kNvmlInUse: return "NVML_ERROR_IN_USE";
    case kNvmlMemory: return "NVML_ERROR_MEMORY";
    case kNvmlNoData: return "NVML_ERROR_NO_DATA";
    case kNvmlVgpuEccNotSupported: return "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED";
    case kNvmlInsufficientResources: return "NVML_ERROR_INSUFFICIENT_RESOURCES";
    case kNvmlFreqNotSupported: return "NVML_ERROR_FREQ_NOT_SUPPORTED";
    case kNvmlArgumentVersionMismatch: return "NVML_ERROR_ARGUMENT_VERSION_MISMATCH";
    case kNvmlDeprecated: return "NVML_ERROR_DEPRECATED";
    case kNvmlNotReady: return "NVML_ERROR_NOT_READY";
    case kNvmlGpuNotFound: return "NVML_ERROR_GPU_NOT_FOUND";
    case kNvmlInvalidState: return "NVML_ERROR_INVALID_STATE";
    case kNvmlUnknown: return "NVML_ERROR_UNKNOWN";
    default: return fmt::format("NVML error {}", code);
  }
}

std::string Describe(int code) {
  switch (code) {
    case kNvmlSuccess: return "success";
    case kNvmlUninitialized: return "NVML was not initialized (nvmlInit_v2 not called or failed)";
    case kNvmlInvalidArgument: return "NVML rejected an argument (a GPU index that does not exist?)";
    case kNvmlNotSupported: return "this GPU does not support the query";
    case kNvmlNoPermission: return "this user is not allowed to query the GPU";
    case kNvmlAlreadyInitialized: return "NVML was already initialized";
    case kNvmlNotFound: return "NVML did not find the GPU";
    case kNvmlInsufficientSize: return "NVML needed a larger buffer";
    case kNvmlInsufficientPower: return "the GPU's external power cables are not properly attached";
    case kNvmlDriverNotLoaded: return "the NVIDIA kernel driver is not loaded";
    case kNvmlTimeout: return "the query to the GPU timed out";
    case kNvmlIrqIssue: return "the NVIDIA kernel driver detected an interrupt problem with a GPU";
    case kNvmlLibraryNotFound: return "the NVML library (libnvidia-ml.so.1) could not be found or loaded";
    case kNvmlFunctionNotFound:
      return "this NVML library does not implement the function (driver too old)";
    case kNvmlCorruptedInforom: return "the GPU's infoROM is corrupted";
    case kNvmlGpuIsLost: return "the GPU has fallen off the bus or is otherwise inaccessible";
    case kNvmlResetRequired: return "the GPU needs a reset before it can be used again";
    case kNvmlOperatingSystem:
      return "the operating system or a cgroup blocks access to the GPU device";
    case kNvmlLibRmVersionMismatch:
      return "the NVML library and the loaded NVIDIA kernel driver are different versions";
    case kNvmlInUse: return "the GPU is in use and the operation cannot be performed";
    case kNvmlMemory: return "NVML ran out of memory";
    case kNvmlNoData: return "NVML has no data for the query yet";
    case kNvmlVgpuEccNotSupported: return "the vGPU operation is not available while ECC is enabled";
    case kNvmlInsufficientResources: return "NVML ran out of resources other than memory";
    case kNvmlFreqNotSupported: return "the frequency is not supported";
    case kNvmlArgumentVersionMismatch: return "the NVML library expects another struct version";
    case kNvmlDeprecated: return "the NVML function is deprecated";
    case kNvmlNotReady: return "the system is not ready for the request";
    case kNvmlGpuNotFound: return "the GPU was not found";
    case kNvmlInvalidState: return "the GPU is in an invalid state";
    case kNvmlUnknown: return "an internal NVIDIA driver error occurred";
    default: return "an error code this version of Smaragdine does not know";
  }
}

}  // namespace

std::string NvmlErrorReason(int code) {
  return fmt::format("{} ({})", Describe(code), CodeName(code));
}

std::string NvmlErrorFix(int code) {
  switch (code) {
    case kNvmlUninitialized:
    case kNvmlDriverNotLoaded:
      return "load the NVIDIA kernel module (sudo modprobe nvidia) and check `nvidia-smi`";
    case kNvmlNotSupported:
      return "";  // the GPU cannot do it; nothing to fix
    case kNvmlNoPermission:
      return "run as a user allowed to open /dev/nvidia* (e.g. in the video group), or as root";
    case kNvmlInsufficientPower:
      return "attach the GPU's external power cables";
    case kNvmlTimeout:
    case kNvmlNotReady:
    case kNvmlInUse:
    case kNvmlNoData:
      return "retry; if it persists, check `nvidia-smi` and the kernel log (dmesg)";
    case kNvmlIrqIssue:
    case kNvmlGpuIsLost:
    case kNvmlResetRequired:
    case kNvmlInvalidState:
      return "reset the GPU (sudo nvidia-smi --gpu-reset -i N) or reboot; check dmesg for Xid errors";
    case kNvmlLibraryNotFound:
      return "install the NVIDIA driver (libnvidia-ml.so.1 comes with it); in a container, run "
             "with the NVIDIA container toolkit (--gpus all)";
    case kNvmlFunctionNotFound:
    case kNvmlArgumentVersionMismatch:
      return "update the NVIDIA driver (the energy counter needs driver >= 410 and a Volta or "
             "newer GPU)";
    case kNvmlCorruptedInforom:
      return "the GPU's infoROM needs repair by the vendor (see `nvidia-smi -q`)";
    case kNvmlOperatingSystem:
      return "allow access to /dev/nvidia* in the cgroup or container device rules";
    case kNvmlLibRmVersionMismatch:
      return "reboot or reload the nvidia kernel module (the driver was updated while loaded)";
    case kNvmlMemory:
    case kNvmlInsufficientResources:
      return "free memory or resources and retry";
    case kNvmlGpuNotFound:
    case kNvmlNotFound:
      return "check that the GPU is visible (`nvidia-smi -L`, CUDA_VISIBLE_DEVICES, container "
             "device list)";
    case kNvmlUnknown:
      return "check `nvidia-smi` and the kernel log (dmesg)";
    default:
      return "";
  }
}

Result<NvmlLibrary> LoadNvml(const std::string& path) {
  const std::string name = path.empty() ? kDefaultLibrary : path;
  dlerror();
  void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Nothing(fmt::format("{}: {}", NvmlErrorReason(kNvmlLibraryNotFound),
                               why != nullptr ? why : name));
  }
  NvmlLibrary lib;
  lib.handle = std::shared_ptr<void>(handle, [](void* h) { dlclose(h); });
  auto sym = [&](auto& fn, const char* symbol) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, symbol));
  };
  sym(lib.api.init, "nvmlInit_v2");
  sym(lib.api.shutdown, "nvmlShutdown");
  sym(lib.api.device_get_count, "nvmlDeviceGetCount_v2");
  sym(lib.api.device_get_handle_by_index, "nvmlDeviceGetHandleByIndex_v2");
  sym(lib.api.device_get_name, "nvmlDeviceGetName");
  sym(lib.api.device_get_total_energy_consumption, "nvmlDeviceGetTotalEnergyConsumption");
  sym(lib.api.device_get_power_usage, "nvmlDeviceGetPowerUsage");
  sym(lib.api.error_string, "nvmlErrorString");
  sym(lib.api.device_get_architecture, "nvmlDeviceGetArchitecture");
  const char* missing = lib.api.init == nullptr                         ? "nvmlInit_v2"
                        : lib.api.shutdown == nullptr                   ? "nvmlShutdown"
                        : lib.api.device_get_count == nullptr           ? "nvmlDeviceGetCount_v2"
                        : lib.api.device_get_handle_by_index == nullptr ? "nvmlDeviceGetHandleByIndex_v2"
                                                                        : nullptr;
  if (missing != nullptr)
    return Nothing(fmt::format("{}: {} has no {}", NvmlErrorReason(kNvmlFunctionNotFound), name,
                               missing));
  return lib;
}

namespace {

// One failed step: which call, which code.
struct NvmlFailure {
  std::string what;  // "nvmlInit_v2"
  int code = kNvmlUnknown;
  std::string Reason() const { return fmt::format("{} failed: {}", what, NvmlErrorReason(code)); }
};

std::string DomainName(unsigned int index) { return fmt::format("gpu:{}", index); }

// Which reading a GPU supports, found by trying the energy counter first.
struct GpuProbe {
  NvmlDevice device = nullptr;
  std::string model;  // "NVIDIA A100-SXM4-40GB"
  unsigned int arch = kNvmlArchUnknown;
  bool readable = false;
  bool energy = false;
  unsigned long long energy_mj = 0;
  NvmlFailure failure;          // when !readable
  std::string energy_failure;   // why the counter is not used, when power is
};

GpuProbe ProbeGpu(const NvmlApi& api, unsigned int index) {
  GpuProbe g;
  if (int rc = api.device_get_handle_by_index(index, &g.device); rc != kNvmlSuccess) {
    g.failure = {"nvmlDeviceGetHandleByIndex_v2", rc};
    return g;
  }
  if (api.device_get_name != nullptr) {
    char name[96] = {};
    if (api.device_get_name(g.device, name, sizeof(name)) == kNvmlSuccess) g.model = name;
  }
  if (api.device_get_architecture != nullptr) {
    unsigned int arch = kNvmlArchUnknown;
    if (api.device_get_architecture(g.device, &arch) == kNvmlSuccess) g.arch = arch;
  }
  int energy_rc = kNvmlFunctionNotFound;
  if (api.device_get_total_energy_consumption != nullptr)
    energy_rc = api.device_get_total_energy_consumption(g.device, &g.energy_mj);
  if (energy_rc == kNvmlSuccess) {
    g.readable = g.energy = true;
    return g;
  }
  g.energy_failure = NvmlFailure{"nvmlDeviceGetTotalEnergyConsumption", energy_rc}.Reason();
  int power_rc = kNvmlFunctionNotFound;
  unsigned int mw = 0;
  if (api.device_get_power_usage != nullptr) power_rc = api.device_get_power_usage(g.device, &mw);
  if (power_rc == kNvmlSuccess) {
    g.readable = true;
    return g;
  }
  // Neither works: the energy counter's failure is the more telling one,
  // unless it is merely unsupported.
  g.failure = energy_rc == kNvmlNotSupported || energy_rc == kNvmlFunctionNotFound
                  ? NvmlFailure{"nvmlDeviceGetPowerUsage", power_rc}
                  : NvmlFailure{"nvmlDeviceGetTotalEnergyConsumption", energy_rc};
  return g;
}

DomainInfo GpuInfo(unsigned int index, const GpuProbe& g) {
  DomainInfo info;
  info.name = DomainName(index);
  info.device = fmt::format("GPU:{}", index);
  info.source = kSourceName;
  info.quantity = g.energy ? Quantity::kEnergy : Quantity::kPower;
  info.resolution_j = g.energy ? kMillijouleJ : 0;  // power readings: no energy resolution
  if (g.readable) SetNvmlMeter(info, g.energy, g.model, g.arch);
  return info;
}

class NvmlSession : public SamplingSession {
 public:
  struct Gpu {
    NvmlDevice device;
    bool energy;
    unsigned long long start_mj;
    unsigned long long last_mj;
    bool lost = false;
    bool warned = false;
  };

  NvmlSession(NvmlLibrary lib, std::vector<DomainInfo> infos, std::vector<Gpu> gpus)
      : lib_(std::move(lib)), infos_(std::move(infos)), gpus_(std::move(gpus)) {}
  ~NvmlSession() override { lib_.api.shutdown(); }

  const std::vector<DomainInfo>& domains() const override { return infos_; }

  void Read(std::vector<double>& values, Diagnostics& diag) override {
    values.resize(gpus_.size());
    for (size_t i = 0; i < gpus_.size(); ++i) {
      Gpu& g = gpus_[i];
      values[i] = std::numeric_limits<double>::quiet_NaN();
      if (g.lost) continue;  // a GPU that fell off the bus stays NaN
      int rc;
      if (g.energy) {
        unsigned long long mj = 0;
        rc = lib_.api.device_get_total_energy_consumption(g.device, &mj);
        if (rc == kNvmlSuccess) {
          // The counter only resets with the driver; going back means that happened.
          if (mj < g.last_mj) {
            diag.Add("nvml.counter_went_backwards");
            continue;
          }
          g.last_mj = mj;
          values[i] = static_cast<double>(mj - g.start_mj) * kMillijouleJ;
          continue;
        }
      } else {
        unsigned int mw = 0;
        rc = lib_.api.device_get_power_usage(g.device, &mw);
        if (rc == kNvmlSuccess) {
          values[i] = mw * 1e-3;
          continue;
        }
      }
      diag.Add("nvml.read_failed");
      if (rc == kNvmlGpuIsLost) {
        g.lost = true;
        diag.Add("nvml.gpu_lost");
      }
      if (!g.warned) {
        g.warned = true;
        diag.Warn(fmt::format("{}: NVML read failed: {}", infos_[i].name, NvmlErrorReason(rc)));
      }
    }
  }

 private:
  NvmlLibrary lib_;
  std::vector<DomainInfo> infos_;
  std::vector<Gpu> gpus_;
};

class NvmlSource : public EnergySource {
 public:
  explicit NvmlSource(std::string library_path) : library_path_(std::move(library_path)) {}
  NvmlSource(NvmlApi api, std::string location) : location_(std::move(location)) {
    if (api.init == nullptr || api.shutdown == nullptr || api.device_get_count == nullptr ||
        api.device_get_handle_by_index == nullptr) {
      load_error_ = fmt::format("{}: {} lacks a required function",
                                NvmlErrorReason(kNvmlFunctionNotFound), location_);
      load_code_ = kNvmlFunctionNotFound;
    } else {
      lib_ = NvmlLibrary{api, nullptr};
    }
  }

  std::string Name() const override { return kSourceName; }
  RateClass Rate() const override { return RateClass::kSlow; }
  int Preference() const override { return kPreference; }

  std::vector<DomainProbe> Probe() override {
    if (!EnsureLoaded())
      return {Unavailable(load_error_, NvmlErrorFix(load_code_))};
    const NvmlApi& api = lib_->api;
    if (int rc = api.init(); rc != kNvmlSuccess) {
      NvmlFailure f{"nvmlInit_v2", rc};
      return {Unavailable(f.Reason(), NvmlErrorFix(rc))};
    }
    std::vector<DomainProbe> probes;
    unsigned int count = 0;
    if (int rc = api.device_get_count(&count); rc != kNvmlSuccess) {
      NvmlFailure f{"nvmlDeviceGetCount_v2", rc};
      probes.push_back(Unavailable(f.Reason(), NvmlErrorFix(rc)));
    } else if (count == 0) {
      probes.push_back(Unavailable("NVML works but sees no NVIDIA GPU",
                                   NvmlErrorFix(kNvmlGpuNotFound)));
    }
    for (unsigned int i = 0; i < count; ++i) {
      GpuProbe g = ProbeGpu(api, i);
      DomainProbe p;
      p.info = GpuInfo(i, g);
      p.readable = g.readable;
      const std::string model = g.model.empty() ? "" : " " + g.model;
      if (!g.readable) {
        p.location = fmt::format("GPU {}{} (NVML)", i, model);
        p.reason = g.failure.Reason();
        p.fix = NvmlErrorFix(g.failure.code);
      } else if (g.energy) {
        p.location = fmt::format("GPU {}{} (NVML total energy counter)", i, model);
      } else {
        p.location = fmt::format("GPU {}{} (NVML power readings, integrated; no energy counter: {})",
                                 i, model, g.energy_failure);
      }
      probes.push_back(std::move(p));
    }
    api.shutdown();
    return probes;
  }

  Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>& domains) override {
    if (!EnsureLoaded()) return Nothing(load_error_);
    const NvmlApi& api = lib_->api;
    if (int rc = api.init(); rc != kNvmlSuccess)
      return Nothing(NvmlFailure{"nvmlInit_v2", rc}.Reason());
    auto fail = [&](std::string message) -> Error {
      api.shutdown();
      return Nothing(std::move(message));
    };
    unsigned int count = 0;
    if (int rc = api.device_get_count(&count); rc != kNvmlSuccess)
      return fail(NvmlFailure{"nvmlDeviceGetCount_v2", rc}.Reason());
    std::vector<DomainInfo> infos;
    std::vector<NvmlSession::Gpu> gpus;
    for (const std::string& name : domains) {
      unsigned int index = 0;
      char tail = 0;
      if (std::sscanf(name.c_str(), "gpu:%u%c", &index, &tail) != 1)
        return fail(fmt::format("{}: not an NVML domain (expected gpu:N)", name));
      if (index >= count)
        return fail(fmt::format("{}: NVML sees only {} GPU(s)", name, count));
      GpuProbe g = ProbeGpu(api, index);
      if (!g.readable) return fail(fmt::format("{}: {}", name, g.failure.Reason()));
      infos.push_back(GpuInfo(index, g));
      gpus.push_back({g.device, g.energy, g.energy_mj, g.energy_mj});
    }
    // The session owns this nvmlInit_v2 and shuts NVML down when it ends.
    return std::unique_ptr<SamplingSession>(
        std::make_unique<NvmlSession>(*lib_, std::move(infos), std::move(gpus)));
  }

 private:
  bool EnsureLoaded() {
    if (lib_) return true;
    if (!load_error_.empty()) return false;
    auto lib = LoadNvml(library_path_);
    if (!lib.ok()) {
      load_error_ = lib.error().message;
      load_code_ = load_error_.find("FUNCTION_NOT_FOUND") != std::string::npos
                       ? kNvmlFunctionNotFound
                       : kNvmlLibraryNotFound;
      return false;
    }
    lib_ = std::move(lib).value();
    return true;
  }

  // The whole source is unavailable: one row standing for every GPU.
  DomainProbe Unavailable(std::string reason, std::string fix) const {
    DomainProbe p;
    p.info.name = "gpu:*";
    p.info.device = "GPU:*";
    p.info.source = kSourceName;
    p.location = library_path_.empty() ? (location_.empty() ? kDefaultLibrary : location_)
                                       : library_path_;
    p.reason = std::move(reason);
    p.fix = std::move(fix);
    return p;
  }

  std::string library_path_;
  std::string location_;
  std::optional<NvmlLibrary> lib_;
  std::string load_error_;
  int load_code_ = kNvmlLibraryNotFound;
};

}  // namespace

void SetNvmlMeter(DomainInfo& info, bool energy, const std::string& model, unsigned int arch) {
  MeterModel& m = info.meter;
  info.update_interval_ns = 0;
  m.window_ns = 0;
  if (energy) {
    m.kind = MeterKind::kCounter;
    m.field = "nvmlDeviceGetTotalEnergyConsumption";
    m.note =
        "energy counter in mJ; its update period is not documented (Yang, Adámek, Armour, "
        "SC'24, measured 20-100 ms across GPUs): account estimates it";
    return;
  }
  m.field = "nvmlDeviceGetPowerUsage";
  // A model number as a word of its own: "A100" in "NVIDIA A100-SXM4-40GB",
  // not in "NVIDIA RTX A1000" (an Ampere laptop part).
  auto has = [&](std::string_view token) {
    for (size_t at = model.find(token); at != std::string::npos; at = model.find(token, at + 1)) {
      const size_t end = at + token.size();
      if (end == model.size() || !std::isdigit(static_cast<unsigned char>(model[end]))) return true;
    }
    return false;
  };
  // GA100 parts. NVML documents instantaneous power for them, but on A100 Yang,
  // Adámek and Armour (SC'24, "Part-time Power Measurements") measured the
  // reading as the average of 25 ms out of every 100 ms: 75 % of the run is
  // never seen by it.
  if (has("A100")) {
    m.kind = MeterKind::kWindowedPower;
    m.window_ns = 25'000'000;
    info.update_interval_ns = 100'000'000;
    m.note =
        "A100: average of the last 25 ms, updated every 100 ms (measured by Yang, Adámek, "
        "Armour, SC'24; 75 % of the run is not seen); NVML documents it as instantaneous";
    return;
  }
  if (has("A30")) {
    m.kind = MeterKind::kInstantPower;
    m.note = "GA100 (A30): NVML documents instantaneous power; update period unknown";
    return;
  }
  // NVML's documentation of nvmlDeviceGetPowerUsage: "On Ampere (except GA100)
  // or newer GPUs, the API returns power averaged over 1 sec interval. On GA100
  // and older architectures, instantaneous power is returned."
  const bool hopper_by_name = has("H100") || has("H200") || has("H800") || has("GH200");
  if (hopper_by_name || (arch != kNvmlArchUnknown && arch >= kNvmlArchAmpere)) {
    m.kind = MeterKind::kWindowedPower;
    m.window_ns = 1'000'000'000;
    m.note =
        "Ampere (except GA100) or newer: NVML documents a 1 s average; update period "
        "unknown (Yang et al., SC'24, found H100's instantaneous field, not read here, to "
        "average 25 ms of every 100 ms)";
    return;
  }
  if (arch != kNvmlArchUnknown) {
    m.kind = MeterKind::kInstantPower;
    m.note =
        "architecture before Ampere: NVML documents instantaneous power; update period "
        "unknown";
    return;
  }
  m.kind = MeterKind::kUnknown;
  m.note = "GPU architecture not identified: whether the reading is instantaneous or an "
           "average (1 s on Ampere and newer, except GA100) is unknown";
}

std::unique_ptr<EnergySource> MakeNvmlSource(const SourceOptions& options) {
  return std::make_unique<NvmlSource>(options.nvml_library);
}

std::unique_ptr<EnergySource> MakeNvmlSource(NvmlApi api, std::string location) {
  return std::make_unique<NvmlSource>(api, std::move(location));
}

}  // namespace smaragdine
