// rapl_powercap.h — RAPL energy counters through the powercap sysfs class.
//
// Zones <sysfs>/class/powercap/intel-rapl:N[:M] (and intel-rapl-mmio:N, which
// duplicates a package zone) become domains cpu:N/package, cpu:N/core, … by
// their `name` files; counters are unwrapped with max_energy_range_uj.
//
//   auto src = MakeRaplPowercapSource(options, SysIo{});
//   SMG_ASSIGN_OR_RETURN(auto session, src->Open({"cpu:0/package"}));
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "energy/sources/sysfs_sources.h"
#include "energy/sources/sysfs_util.h"

namespace smaragdine {

// The factory with its syscalls behind `io` (tests); MakeRaplPowercapSource uses SysIo{}.
std::unique_ptr<EnergySource> MakeRaplPowercapSource(const SourceOptions& options,
                                                     const SysIo& io);

// Domain name of a zone from its `name` and its parent zone's `name` (empty
// for a top-level zone): "package-1" → "cpu:1/package", ("dram", "package-1")
// → "cpu:1/dram", "package-0-die-1" → "cpu:0/package-die-1", ("core",
// "package-0-die-1") → "cpu:0/core-die-1", "psys" → "cpu:0/psys". nullopt
// for a subzone whose parent is not a package.
std::optional<std::string> PowercapDomainName(const std::string& name,
                                              const std::string& parent_name);

}  // namespace smaragdine
