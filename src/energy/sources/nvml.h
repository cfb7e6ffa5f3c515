// nvml.h — NVIDIA GPUs through NVML, loaded at run time.
//
// No build-time dependency: the functions come from dlopen("libnvidia-ml.so.1")
// and dlsym of the versioned names (as likwid and Tracy do), or from a table a
// test fills. Each GPU is domain "gpu:N" on device "GPU:N". The total energy
// counter (mJ, Volta and later) is used where the GPU supports it, else power
// readings (mW) — DomainInfo::quantity and DomainProbe::location say which.
//
//   auto nvml = MakeNvmlSource(SourceOptions{});
//   for (const DomainProbe& p : nvml->Probe()) fmt::print("{} {}\n", p.info.name, p.reason);
#pragma once

#include <memory>
#include <string>

#include "smaragdine/sources.h"

namespace smaragdine {

// nvmlReturn_t values from the public nvml.h (an enum: int-sized on every ABI we target).
enum NvmlCode : int {
  kNvmlSuccess = 0,
  kNvmlUninitialized = 1,
  kNvmlInvalidArgument = 2,
  kNvmlNotSupported = 3,
  kNvmlNoPermission = 4,
  kNvmlAlreadyInitialized = 5,
  kNvmlNotFound = 6,
  kNvmlInsufficientSize = 7,
  kNvmlInsufficientPower = 8,
  kNvmlDriverNotLoaded = 9,
  kNvmlTimeout = 10,
  kNvmlIrqIssue = 11,
  kNvmlLibraryNotFound = 12,
  kNvmlFunctionNotFound = 13,
  kNvmlCorruptedInforom = 14,
  kNvmlGpuIsLost = 15,
  kNvmlResetRequired = 16,
  kNvmlOperatingSystem = 17,
  kNvmlLibRmVersionMismatch = 18,
  kNvmlInUse = 19,
  kNvmlMemory = 20,
  kNvmlNoData = 21,
  kNvmlVgpuEccNotSupported = 22,
  kNvmlInsufficientResources = 23,
  kNvmlFreqNotSupported = 24,
  kNvmlArgumentVersionMismatch = 25,
  kNvmlDeprecated = 26,
  kNvmlNotReady = 27,
  kNvmlGpuNotFound = 28,
  kNvmlInvalidState = 29,
  kNvmlUnknown = 999,
};

// nvmlDevice_t is an opaque pointer.
using NvmlDevice = struct NvmlDeviceOpaque*;

// The NVML entry points Smaragdine uses, with their C signatures. A null
// pointer means "not in this library" (reported as FUNCTION_NOT_FOUND), except
// error_string, which is optional.
struct NvmlApi {
  int (*init)() = nullptr;                                               // nvmlInit_v2
  int (*shutdown)() = nullptr;                                           // nvmlShutdown
  int (*device_get_count)(unsigned int* count) = nullptr;                // nvmlDeviceGetCount_v2
  int (*device_get_handle_by_index)(unsigned int index, NvmlDevice* device) = nullptr;  // _v2
  int (*device_get_name)(NvmlDevice device, char* name, unsigned int length) = nullptr;
  // Millijoules since the driver was last reloaded (Volta and later).
  int (*device_get_total_energy_consumption)(NvmlDevice device, unsigned long long* mj) = nullptr;
  int (*device_get_power_usage)(NvmlDevice device, unsigned int* mw) = nullptr;  // milliwatts
  const char* (*error_string)(int code) = nullptr;                               // optional
  // nvmlDeviceGetArchitecture (driver >= 450), optional: only the meter model
  // of power readings (NvmlMeter) uses it.
  int (*device_get_architecture)(NvmlDevice device, unsigned int* arch) = nullptr;
};

// nvmlDeviceArchitecture_t values (NVML_DEVICE_ARCH_*).
inline constexpr unsigned int kNvmlArchPascal = 4;
inline constexpr unsigned int kNvmlArchVolta = 5;
inline constexpr unsigned int kNvmlArchAmpere = 7;
inline constexpr unsigned int kNvmlArchHopper = 9;
inline constexpr unsigned int kNvmlArchUnknown = 0xFFFFFFFF;

// Sets info's meter model and update_interval_ns for what the source reads of
// a GPU named `model` (nvmlDeviceGetName; "" when unknown) of architecture
// `arch` (kNvmlArchUnknown when unknown): the energy counter, or
// nvmlDeviceGetPowerUsage. Only what NVML's documentation or a published
// measurement says is filled in; the rest stays 0 and the note says so.
void SetNvmlMeter(DomainInfo& info, bool energy, const std::string& model, unsigned int arch);

// Why an NVML call failed, in words, for code `code` (any value, known or not).
std::string NvmlErrorReason(int code);
// What makes it work, for codes where something can be done; empty otherwise.
std::string NvmlErrorFix(int code);

// A loaded library: the table plus the handle that keeps it mapped.
struct NvmlLibrary {
  NvmlApi api;
  std::shared_ptr<void> handle;  // dlclose on last release; null for test tables
};

// dlopen(path or "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL) and dlsym of the
// versioned names. Errors: kNothingMeasurable with the reason (library not
// found, with dlerror's text; or a required function missing).
Result<NvmlLibrary> LoadNvml(const std::string& path);

// The NVML source. Loads the library lazily on the first Probe/Open from
// options.nvml_library (or the default name). Rate slow, preference 15.
std::unique_ptr<EnergySource> MakeNvmlSource(const SourceOptions& options);
// The same over a table a test fills (no dlopen); `location` names it in messages.
std::unique_ptr<EnergySource> MakeNvmlSource(NvmlApi api, std::string location = "test table");

}  // namespace smaragdine
