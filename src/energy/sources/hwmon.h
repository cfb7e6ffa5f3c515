// hwmon.h — energy and power sensors of the hwmon sysfs class.
//
// Every <sysfs>/class/hwmon/hwmonN with an energyK_input (µJ, cumulative) or
// a powerK_average / powerK_input (µW) file offers a domain, named by the rule
// in HwmonDomainName (docs/sources.md): amdgpu power → gpu:K, amd_energy
// socket energy → cpu:K/package, anything else → hwmon:<chip>/<label>.
//
//   auto src = MakeHwmonSource(options, SysIo{});
//   for (const DomainProbe& p : src->Probe()) fmt::print("{} {}\n", p.info.name, p.location);
#pragma once

#include <memory>

#include "energy/sources/sysfs_sources.h"
#include "energy/sources/sysfs_util.h"

namespace smaragdine {

// The factory with its syscalls behind `io` (tests); MakeHwmonSource uses SysIo{}.
std::unique_ptr<EnergySource> MakeHwmonSource(const SourceOptions& options, const SysIo& io);

}  // namespace smaragdine
