// launch.h — a process's place in a distributed job, as its launcher said it.
//
// torchrun, Slurm's srun and Open MPI's mpirun each tell the processes they
// start which rank they are through environment variables of their own.
// ReadLaunchInfo reads them in that order of precedence, so that a trace, a
// run directory and a profile name a rank the same way whichever launcher
// started it:
//
//   LaunchInfo li = ReadLaunchInfo();
//   if (li.rank >= 0) fmt::print("rank {} of {} on {}\n", li.rank, li.world_size, li.host);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "smaragdine/status.h"

namespace smaragdine {

struct LaunchInfo {
  std::string launcher;        // "torchrun" | "slurm" | "openmpi" | "" (none seen)
  int32_t rank = -1;           // global rank; -1 when no launcher said
  int32_t local_rank = -1;     // rank on this machine
  int32_t world_size = -1;     // ranks in the job
  int32_t local_world_size = -1;  // ranks on this machine
  std::string host;            // this machine's name (gethostname), "" if unknown
  // Slurm's job, step and node (SLURM_JOB_ID, SLURM_STEP_ID, SLURM_NODEID);
  // "" outside Slurm.
  std::string job_id, step_id, node_id;
};

// Reads the launcher's variables through `getenv` (tests pass their own):
// torchrun's RANK / LOCAL_RANK / WORLD_SIZE / LOCAL_WORLD_SIZE, else Slurm's
// SLURM_PROCID / SLURM_LOCALID / SLURM_NTASKS, else Open MPI's
// OMPI_COMM_WORLD_RANK / _LOCAL_RANK / _SIZE / _LOCAL_SIZE. A value that is not
// a non-negative integer is taken as absent. Slurm's job ids are read in any case.
LaunchInfo ReadLaunchInfo(const std::function<const char*(const char*)>& getenv);
LaunchInfo ReadLaunchInfo();  // the process's own environment

// A run directory per machine or per rank from one command line (`srun
// smaragdine record -o runs/%N -- …`): %N and %h are the host name up to its
// first '.', %j Slurm's job id, %r the launcher's rank, %% a '%'. Errors:
// kUsage naming the pattern for another %-letter, or for one whose value is
// unknown here (%j outside Slurm, %r outside a launcher).
Result<std::string> ExpandRunPattern(std::string_view pattern, const LaunchInfo& launch);

}  // namespace smaragdine
