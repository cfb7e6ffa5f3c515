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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  // CUDA_VISIBLE_DEVICES as the launcher left it ("" when unset): a process
  // sees GPU k of this list as its cuda:k, while NVML numbers every GPU of the
  // machine. Slurm sets it to the GPUs a step was given.
  std::string cuda_visible_devices;
};

// The machine's GPU index of each GPU a process sees (`cuda:k` is the k-th),
// from a CUDA_VISIBLE_DEVICES value such as "2,3". nullopt when it does not
// list plain indices (GPU-<uuid> or MIG-<uuid> entries): those cannot be
// matched to NVML's indices from the text alone. CUDA stops at the first
// entry that is not a valid index, and so does this.
std::optional<std::vector<int32_t>> VisibleGpuIndices(std::string_view cuda_visible_devices);

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
