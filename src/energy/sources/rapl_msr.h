// rapl_msr.h — RAPL energy counters read from model-specific registers.
//
// One CPU per package (<sysfs>/devices/system/cpu/cpuN/topology/
// physical_package_id) is read through <dev>/cpu/N/msr: pread of 8 bytes at
// the register address. The vendor (<proc>/cpuinfo) picks the registers.
//
//   auto src = MakeRaplMsrSource(options, SysIo{});
//   for (const DomainProbe& p : src->Probe()) fmt::print("{} {}\n", p.info.name, p.reason);
#pragma once

#include <cstdint>
#include <memory>

#include "energy/sources/sysfs_sources.h"
#include "energy/sources/sysfs_util.h"

namespace smaragdine {

// Register addresses (Intel SDM vol. 4; AMD PPR for family 17h).
inline constexpr uint32_t kMsrIntelPowerUnit = 0x606;
inline constexpr uint32_t kMsrIntelPkgEnergy = 0x611;
inline constexpr uint32_t kMsrIntelPp0Energy = 0x639;
inline constexpr uint32_t kMsrIntelPp1Energy = 0x641;
inline constexpr uint32_t kMsrIntelDramEnergy = 0x619;
inline constexpr uint32_t kMsrIntelPsysEnergy = 0x64D;
inline constexpr uint32_t kMsrAmdPowerUnit = 0xC0010299;
inline constexpr uint32_t kMsrAmdCoreEnergy = 0xC001029A;
inline constexpr uint32_t kMsrAmdPkgEnergy = 0xC001029B;

// The factory with its syscalls behind `io` (tests); MakeRaplMsrSource uses SysIo{}.
std::unique_ptr<EnergySource> MakeRaplMsrSource(const SourceOptions& options, const SysIo& io);

// Joules per count from a power-unit register (Intel 0x606, AMD 0xC0010299):
// the energy status unit is bits 12:8, one count = 1/2^ESU J.
double MsrEnergyUnitJ(uint64_t power_unit_reg);
// Nanoseconds of RAPL's time unit from the same register: bits 19:16, one
// unit = 1/2^TU s (TU = 10, the usual value: 976562 ns). It is the unit of the
// power-limit windows; the counters' update period is in no register.
int64_t MsrTimeUnitNs(uint64_t power_unit_reg);
// The register's name and address, as DomainInfo::meter.field says it
// ("MSR_PKG_ENERGY_STATUS 0x611").
std::string MsrEnergyFieldName(uint32_t reg);
// True for the Intel server parts (family 6) whose DRAM counter counts a
// fixed 2^-16 J (15.3 µJ) whatever the ESU says.
bool IntelDramFixedUnit(int family, int model);

}  // namespace smaragdine
