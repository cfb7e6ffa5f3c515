// source_options.h — the options that choose and find energy sources. `record`,
// `sources`, `demo` and `sweep` take them from here, so that each means the
// same everywhere and a new source is named in one place.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "smaragdine/sources.h"

namespace smaragdine::cli {

// --source NAME, repeatable: which source to use where several cover a domain
// (RAPL through perf, powercap or the MSRs).
inline CLI::Option* AddSourceOption(CLI::App& sub, std::vector<std::string>& sources) {
  return Repeatable(sub.add_option(
      "--source", sources,
      "Repeatable. Prefer this energy source where it covers a domain: perf, rapl-powercap, "
      "rapl-msr, nvml, hwmon or model (`smaragdine sources` shows which covers what)"));
}

// Where the sources look: a test's fake tree, or a container's own mounts.
inline void AddSourceLocationOptions(CLI::App& sub, SourceRoots& roots,
                                     std::string& nvml_library) {
  sub.add_option("--sysfs-root", roots.sysfs, "Where sysfs is")->capture_default_str();
  sub.add_option("--dev-root", roots.dev, "Where /dev is")->capture_default_str();
  sub.add_option("--proc-root", roots.proc, "Where procfs is")->capture_default_str();
  sub.add_option("--nvml-library", nvml_library,
                 "Load NVML from this file instead of libnvidia-ml.so.1");
}

}  // namespace smaragdine::cli
