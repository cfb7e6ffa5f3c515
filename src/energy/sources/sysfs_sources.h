// sysfs_sources.h — factories of the kernel-interface energy sources.
//
// Four sources read counters the kernel exposes below SourceOptions::roots:
// RAPL through powercap (/sys/class/powercap), RAPL through the msr driver
// (/dev/cpu/N/msr), the perf power PMU (perf_event_open) and hwmon
// (/sys/class/hwmon). MakeSources (registry.cpp) calls these; tests call the
// overloads in each source's own header to put seams in front of syscalls.
//
//   auto powercap = MakeRaplPowercapSource(SourceOptions{});
//   for (const DomainProbe& p : powercap->Probe()) fmt::print("{}\n", p.info.name);
#pragma once

#include <memory>

#include "smaragdine/sources.h"

namespace smaragdine {

// Preference numbers (lower wins, EnergySource::Preference).
inline constexpr int kPerfPreference = 10;
inline constexpr int kRaplPowercapPreference = 20;
inline constexpr int kRaplMsrPreference = 30;
inline constexpr int kHwmonPreference = 40;

// "rapl-powercap", fast: cpu:N/{package,core,uncore,dram,psys} from <sysfs>/class/powercap.
std::unique_ptr<EnergySource> MakeRaplPowercapSource(const SourceOptions& options);
// "rapl-msr", fast: the same domains from <dev>/cpu/N/msr (Intel and AMD family 17h+).
std::unique_ptr<EnergySource> MakeRaplMsrSource(const SourceOptions& options);
// "perf", fast: the same domains from the perf "power" PMU via perf_event_open.
std::unique_ptr<EnergySource> MakePerfPowerSource(const SourceOptions& options);
// "hwmon", slow: energy*_input and power*_{input,average} of <sysfs>/class/hwmon/*.
std::unique_ptr<EnergySource> MakeHwmonSource(const SourceOptions& options);

}  // namespace smaragdine
