// model.h — modeled CPU energy when no hardware counter covers the CPU.
//
// Domain "cpu:0/package", source "model", DomainInfo::modeled = true:
//   E(t) = idle_w × (t − t0) + core_w × (CPU time of the process tree since Open)
// CPU time per thread comes from <proc>/<pid>/task/<tid>/schedstat (first field:
// ns on CPU). It is a model, never a measurement; every output says so.
//
//   SourceOptions o; o.model_pid = child;
//   auto model = MakeModelSource(o);
//   SMG_ASSIGN_OR_RETURN(auto session, model->Open({"cpu:0/package"}));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "energy/cputime.h"  // ProcessTreeCpuTime, shared with record's cputime.csv
#include "smaragdine/sources.h"

namespace smaragdine {

// The model source. options.model_pid is the tree's root; with 0 there is no
// tree yet and only the idle term counts. `now_ns` (CLOCK_MONOTONIC by
// default) is a seam for tests. Rate slow, preference 100 (last).
std::unique_ptr<EnergySource> MakeModelSource(const SourceOptions& options,
                                              std::function<int64_t()> now_ns = {});

}  // namespace smaragdine
