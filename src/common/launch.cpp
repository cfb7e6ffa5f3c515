#include "smaragdine/launch.h"

#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

namespace smaragdine {
namespace {

int32_t NonNegative(const char* text) {
  if (text == nullptr || *text == '\0') return -1;
  const std::string_view s(text);
  int32_t v = -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return -1;
  return v;
}

struct LauncherVars {
  const char* name;
  const char* rank;
  const char* local_rank;
  const char* world_size;
  const char* local_world_size;
};

// In order of precedence: torchrun started under srun sets both, and its own
// numbering is the one the program's ranks use.
constexpr LauncherVars kLaunchers[] = {
    {"torchrun", "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"},
    {"slurm", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE"},
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_SIZE",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
};

}  // namespace

LaunchInfo ReadLaunchInfo(const std::function<const char*(const char*)>& getenv) {
  LaunchInfo li;
  for (const LauncherVars& l : kLaunchers) {
    const int32_t rank = NonNegative(getenv(l.rank));
    if (rank < 0) continue;
    li.launcher = l.name;
    li.rank = rank;
    li.local_rank = NonNegative(getenv(l.local_rank));
    li.world_size = NonNegative(getenv(l.world_size));
    li.local_world_size = NonNegative(getenv(l.local_world_size));
    break;
  }
  auto text = [&](const char* name) {
    const char* v = getenv(name);
    return std::string(v ? v : "");
  };
  li.job_id = text("SLURM_JOB_ID");
  li.step_id = text("SLURM_STEP_ID");
  li.node_id = text("SLURM_NODEID");
  li.cuda_visible_devices = text("CUDA_VISIBLE_DEVICES");
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) == 0) li.host = host;
  return li;
}

std::optional<std::vector<int32_t>> VisibleGpuIndices(std::string_view list) {
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view entry = list.substr(pos, comma - pos);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.starts_with("GPU-") || entry.starts_with("MIG-")) return std::nullopt;
    int32_t index = -1;
    const auto [end, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), index);
    if (ec != std::errc() || end != entry.data() + entry.size() || index < 0) break;
    out.push_back(index);
    pos = comma + 1;
  }
  return out;
}

Result<std::string> ExpandRunPattern(std::string_view pattern, const LaunchInfo& launch) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') {
      out.push_back(pattern[i]);
      continue;
    }
    if (i + 1 == pattern.size())
      return UsageError(fmt::format("-o {}: a '%' at the end (write %% for a '%')", pattern));
    const char c = pattern[++i];
    std::string value;
    const char* missing = nullptr;
    switch (c) {
      case '%': value = "%"; break;
      case 'N':
      case 'h':
        value = launch.host.substr(0, launch.host.find('.'));
        if (value.empty()) missing = "the host name could not be read";
        break;
      case 'j':
        value = launch.job_id;
        if (value.empty()) missing = "SLURM_JOB_ID is not set (not inside a Slurm job)";
        break;
      case 'r':
        if (launch.rank >= 0) value = std::to_string(launch.rank);
        else missing = "no launcher set a rank (RANK, SLURM_PROCID or OMPI_COMM_WORLD_RANK)";
        break;
      default:
        return UsageError(fmt::format(
            "-o {}: %{} is not known (%N or %h: host name, %j: Slurm job id, %r: rank, %%: '%')",
            pattern, c));
    }
    if (missing) return UsageError(fmt::format("-o {}: %{} has no value here: {}", pattern, c, missing));
    out += value;
  }
  return out;
}

LaunchInfo ReadLaunchInfo() {
  return ReadLaunchInfo([](const char* name) { return std::getenv(name); });
}

}  // namespace smaragdine
