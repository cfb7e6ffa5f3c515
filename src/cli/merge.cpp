// `smaragdine merge`: machine profiles of one job into a job profile.
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "common/io.h"
#include "common/int_ranges.h"
#include "common/output_file.h"
#include "smaragdine/profile.h"

namespace smaragdine::cli {
namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string output = "job.json";
  bool allow_partial = false;
  bool quiet = false;
};

// Per machine: host, ranks, and each domain's measured energy split into the
// ranks', (idle) and (other processes): conservation made visible.
std::string Summary(const Profile& job) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{} machine{}, {} process{} ({} rank{})\n", job.machines.size(),
                 job.machines.size() == 1 ? "" : "s", job.processes.size(),
                 job.processes.size() == 1 ? "" : "es",
                 std::count_if(job.processes.begin(), job.processes.end(),
                               [](const Process& p) { return p.rank >= 0; }),
                 job.processes.size() == 1 ? "" : "s");
  const size_t nd = job.domains.size();
  for (const ProfileMachine& m : job.machines) {
    // Ranks as runs ("ranks 0-7"), processes that no launcher numbered by pid.
    std::vector<int32_t> rank_numbers;
    std::string ranks;
    for (uint32_t p : m.processes) {
      if (job.processes[p].rank >= 0) {
        rank_numbers.push_back(job.processes[p].rank);
        continue;
      }
      if (!ranks.empty()) ranks += ", ";
      ranks += job.processes[p].Label();
    }
    if (!rank_numbers.empty())
      ranks = fmt::format("rank{} {}{}{}", rank_numbers.size() > 1 ? "s" : "",
                          IntRanges(rank_numbers), ranks.empty() ? "" : ", ", ranks);
    fmt::format_to(it, "  {}  [{}]  {}\n", m.host.empty() ? "(host unknown)" : m.host, ranks,
                   m.profile);
    for (const ProfileDomain& d : m.domains) {
      // The machine's processes' energy in this domain, from the job's root.
      double ranks_j = 0;
      size_t jd = nd;
      for (size_t k = 0; k < nd; ++k)
        if (job.domains[k].name == d.name) jd = k;
      if (jd < nd && !job.nodes.empty())
        for (uint32_t p : m.processes) ranks_j += job.nodes[0].process_total_j[p * nd + jd];
      fmt::format_to(it, "    {:<24} measured {:>12.3f} J = ranks {:.3f} + idle {:.3f} + other {:.3f}\n",
                     d.name, d.measured_j, ranks_j, d.idle_j, d.other_j);
    }
  }
  fmt::format_to(it, "job: {:.3f} J measured over all machines\n", job.MeasuredJ());
  return fmt::to_string(out);
}

int RunMerge(const MergeArgs& args) {
  // Each input's file and parse buffers are a few MB: with glibc's defaults
  // they are mmapped and given back after every input, and re-faulted for the
  // next (a quarter of a 1,000-input merge's time in page faults;
  // docs/benchmarks.md, "Merging a job's profiles"). Keeping them in the heap
  // costs ~13 MB of peak memory there.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  std::vector<NamedInput> named;
  for (const std::string& in : args.inputs) named.push_back({"input", in});
  if (Status s = CheckOutput(args.output, named); !s.ok()) return PrintError(s.error());
  MergeOptions o;
  o.allow_partial = args.allow_partial;
  auto job = MergeProfiles(args.inputs, o);
  if (!job.ok()) return PrintError(job.error());
  if (Status s = WriteProfileJson(*job, args.output); !s.ok()) return PrintError(s.error());
  if (!args.quiet) {
    std::fputs(Summary(*job).c_str(), stderr);
    std::fprintf(stderr, "wrote %s\n", args.output.c_str());
  }
  PrintDiagnostics(job->diagnostics);
  return 0;
}

// `smaragdine merge --help` after the summary.
constexpr char kDetails[] =
    "Each machine's profile was accounted where it ran; the job profile keeps\n"
    "per-machine and per-rank figures.";

// `smaragdine merge --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  srun --ntasks-per-node=1 smaragdine record --torch -o runs/%N -- torchrun ... train.py\n"
    "  smaragdine merge runs/* -o job.json\n"
    "  smaragdine report job.json --by rank\n"
    "Clocks of different machines are never compared: each machine's traces were aligned\n"
    "with its own energy log. Domains add by name across machines; each machine's own figures\n"
    "stay in the job profile's \"machines\". See docs/distributed.md.\n"
    "Exit status: 0 ok, 1 bad option, 2 a missing or unreadable input, a rank given twice, or\n"
    "ranks missing from the job's world (without --allow-partial).\n";

const CommandRegistration kRegistration{
    "merge", 35, {"Combine a job's per-machine profiles into one job profile", kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      auto args = std::make_shared<MergeArgs>();
      sub.add_option("inputs", args->inputs,
                     "profile.json files, or run directories holding one (one per machine)")
          ->required();
      sub.add_option("-o,--output", args->output, "The job profile to write (default job.json)");
      sub.add_flag("--allow-partial", args->allow_partial,
                   "Merge what is there when a rank is missing or an input cannot be read, with a "
                   "warning that lists what is left out (default: exit 2 naming it)");
      sub.add_flag("-q,--quiet", args->quiet, "Print nothing but errors and warnings");
      return [args] { return RunMerge(*args); };
    }};

}  // namespace
}  // namespace smaragdine::cli
