#include "sim/sim_util.h"

#include <filesystem>

#include <gtest/gtest.h>

namespace smaragdine::simtest {

AttributeOptions ProportionalOptions() {
  AttributeOptions options;
  options.method = AttributionMethod::kProportional;
  return options;
}

Result<Profile> AccountInMemory(const SimResult& sim) {
  SMG_ASSIGN_OR_RETURN(Trace trace, ParseTrace(sim.trace_name, sim.trace_text, TraceReadOptions{}));
  SMG_ASSIGN_OR_RETURN(EnergyLog log, SimulatedEnergyLog(sim));
  SMG_RETURN_IF_ERROR(AlignTrace(trace, log, AlignOptions{}));
  return Attribute(trace, log, ProportionalOptions());
}

Result<Profile> AccountFromFiles(const SimResult& sim, const std::string& dir) {
  SMG_RETURN_IF_ERROR(WriteSimulation(sim, dir));
  SMG_ASSIGN_OR_RETURN(Trace trace, ReadTraces({dir + "/" + sim.trace_name}, TraceReadOptions{}));
  SMG_ASSIGN_OR_RETURN(EnergyLog log, ReadEnergy(dir + "/run", EnergyImportOptions{}));
  SMG_RETURN_IF_ERROR(AlignTrace(trace, log, AlignOptions{}));
  return Attribute(trace, log, ProportionalOptions());
}

int DomainIndex(const Profile& p, const std::string& name) {
  for (size_t i = 0; i < p.domains.size(); ++i)
    if (p.domains[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string TempDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/smaragdine_sim_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace smaragdine::simtest
