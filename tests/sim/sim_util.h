// sim_util.h — running the whole accounting pipeline on a simulation.
#pragma once

#include <string>

#include "smaragdine/account.h"
#include "smaragdine/profile.h"
#include "smaragdine/simulate.h"

namespace smaragdine::simtest {

// The paper's rule (DESIGN §6.1-5), which the simulator's truth computes
// exactly; the default method (auto) may fit a regression instead.
AttributeOptions ProportionalOptions();

// ParseTrace + SimulatedEnergyLog + AlignTrace + Attribute (proportional), all in memory.
Result<Profile> AccountInMemory(const SimResult& sim);
// WriteSimulation into `dir`, then ReadTraces + ReadEnergy + AlignTrace + Attribute (proportional).
Result<Profile> AccountFromFiles(const SimResult& sim, const std::string& dir);

// Index of the profile domain with this name, or -1.
int DomainIndex(const Profile& p, const std::string& name);

// A fresh empty directory under the test's temporary directory.
std::string TempDir(const std::string& name);

}  // namespace smaragdine::simtest
