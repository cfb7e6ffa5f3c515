// process_share.cpp — a job's ranks with the processes they started: each
// process of cputime.csv goes to its nearest listed ancestor, and each rank's
// CPU time is its own plus theirs (process_share.h).
#include "account/process_share.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace smaragdine {
namespace {

constexpr int kNone = -1;        // no listed ancestor
constexpr int kUnresolved = -2;  // not looked at yet
constexpr int kOnPath = -3;      // being resolved (a loop in the links stops here)

// For each process of `cpu_time` (by index), the index into the listed pids of
// its nearest listed ancestor, itself included, or kNone. Each process is
// resolved once: a walk up the parent links stops at a listed pid, a process
// already resolved, or a break in the links, and everything on the way gets
// the answer. A loop of links (PIDs the kernel reused) resolves to kNone.
std::vector<int> OwnerOfEachProcess(const CpuTimeLog& cpu_time,
                                    const std::unordered_map<int64_t, int>& listed) {
  const std::vector<CpuTimeLog::Process>& procs = cpu_time.processes;
  std::unordered_map<int64_t, size_t> index_of;
  index_of.reserve(procs.size());
  for (size_t i = 0; i < procs.size(); ++i) index_of.emplace(procs[i].pid, i);
  std::vector<int> owner(procs.size(), kUnresolved);
  std::vector<size_t> path;
  for (size_t start = 0; start < procs.size(); ++start) {
    path.clear();
    int found = kNone;
    int64_t pid = procs[start].pid;
    for (;;) {
      if (const auto l = listed.find(pid); l != listed.end()) {
        found = l->second;
        break;
      }
      const auto at = index_of.find(pid);
      if (at == index_of.end()) break;  // a parent cputime.csv never saw
      const int known = owner[at->second];
      if (known != kUnresolved) {
        found = known == kOnPath ? kNone : known;
        break;
      }
      owner[at->second] = kOnPath;
      path.push_back(at->second);
      pid = procs[at->second].parent_pid;
      if (pid <= 0) break;  // no parent row: the root, or a file written before them
    }
    for (size_t i : path) owner[i] = found;
    if (owner[start] == kUnresolved) owner[start] = found;  // a listed pid itself
  }
  return owner;
}

}  // namespace

std::vector<CpuTimeLog::Process> CpuTimeOfListedSubtrees(const CpuTimeLog& cpu_time,
                                                         const std::vector<int64_t>& pids) {
  std::unordered_map<int64_t, int> listed;
  for (size_t i = 0; i < pids.size(); ++i) listed.emplace(pids[i], static_cast<int>(i));
  const std::vector<int> owner = OwnerOfEachProcess(cpu_time, listed);

  // Per listed pid, every change of its processes' CPU time as (sample, ns
  // added), summed into one cumulative series below.
  std::vector<std::vector<std::pair<uint32_t, int64_t>>> steps(pids.size());
  std::vector<CpuTimeLog::Process> out(pids.size());
  for (size_t i = 0; i < pids.size(); ++i) out[i].pid = pids[i];
  for (size_t q = 0; q < cpu_time.processes.size(); ++q) {
    const CpuTimeLog::Process& p = cpu_time.processes[q];
    if (owner[q] < 0) continue;
    const size_t r = static_cast<size_t>(owner[q]);
    if (p.pid == pids[r]) out[r].parent_pid = p.parent_pid;
    for (size_t m = 0; m < p.sample.size(); ++m)
      steps[r].emplace_back(p.sample[m], p.cpu_ns[m] - (m == 0 ? 0 : p.cpu_ns[m - 1]));
  }
  for (size_t r = 0; r < pids.size(); ++r) {
    std::vector<std::pair<uint32_t, int64_t>>& s = steps[r];
    std::sort(s.begin(), s.end());
    CpuTimeLog::Process& p = out[r];
    int64_t total_ns = 0;
    for (const auto& [k, add_ns] : s) {
      total_ns += add_ns;
      if (!p.sample.empty() && p.sample.back() == k) {
        p.cpu_ns.back() = total_ns;
      } else {
        p.sample.push_back(k);
        p.cpu_ns.push_back(total_ns);
      }
    }
  }
  return out;
}

}  // namespace smaragdine
