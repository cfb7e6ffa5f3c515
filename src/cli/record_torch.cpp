// `record --torch`: finds the Python bootstrap, hands CMD its environment, and
// after CMD ends accounts the traces its torch processes wrote (record_torch.h).
#include "cli/record_torch.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <map>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/phase_table.h"
#include "common/io.h"
#include "smaragdine/account.h"
#include "smaragdine/profile.h"
#include "smaragdine/report.h"

namespace smaragdine::cli {
namespace {

namespace fs = std::filesystem;

bool IsBootstrap(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "sitecustomize.py", ec) &&
         fs::is_regular_file(dir / "smaragdine" / "__init__.py", ec);
}

// What the bootstrap left for one process (python/smaragdine/_auto.py).
struct TorchProcess {
  std::string trace;    // torch-<pid>.trace.json
  bool started = false; // torch-<pid>.started still there: ended without its exit handlers
  std::string rank;     // the launcher's rank, from the .started marker ("" when none)
  std::string error;    // torch-<pid>.error: why it recorded nothing
};

// The rank line the bootstrap writes into a .started marker ("rank 3").
std::string RankInMarker(const fs::path& marker) {
  Result<std::string> text = ReadFileMaybeGzip(marker.string());
  if (!text.ok()) return "";
  const size_t at = text->find("\nrank ");
  if (at == std::string::npos) return "";
  std::string rank = text->substr(at + 6, text->find('\n', at + 1) - (at + 6));
  if (rank.empty() || rank.size() > 9 ||
      !std::all_of(rank.begin(), rank.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return "";
  return rank;
}

// When a process was last seen using CPU, in s since the run started: the
// last cputime.csv row of one of its threads (rows are written when a
// thread's time changes, every 20 ms), so within a sample of when it died.
// nullopt when the run has no cputime.csv or never saw the process.
std::optional<double> LastSeenS(const std::string& run_dir, long pid) {
  Result<std::string> csv = ReadFileMaybeGzip(run_dir + "/cputime.csv");
  if (!csv.ok()) return std::nullopt;
  CpuTimeLog cpu_time;
  Diagnostics ignored;  // a torn last line is expected after a kill
  if (!ParseCpuTimeCsv(run_dir + "/cputime.csv", *csv, cpu_time, ignored).ok())
    return std::nullopt;
  const CpuTimeLog::Process* p = cpu_time.FindProcess(pid);
  if (!p) return std::nullopt;
  return (p->LastSeenNs(cpu_time) - cpu_time.t_ns.front()) * 1e-9;
}

// The first line of a file the program wrote, read through the bounded reader
// every input goes through (common/io.h), cut to a message's length.
std::string FirstLine(const fs::path& file) {
  Result<std::string> text = ReadFileMaybeGzip(file.string());
  if (!text.ok()) return "(its reason could not be read: " + text.error().message + ")";
  std::string line = text->substr(0, text->find('\n'));
  if (line.size() > 2000) line.resize(2000);
  return line;
}

std::map<long, TorchProcess> FindTorchProcesses(const std::string& run_dir) {
  std::map<long, TorchProcess> found;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(run_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("torch-")) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + 6, &end, 10);
    if (end == name.c_str() + 6 || pid <= 0) continue;
    const std::string suffix = end;
    if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
    if (suffix == ".trace.json") found[pid].trace = e.path().string();
    else if (suffix == ".started") {
      found[pid].started = true;
      found[pid].rank = RankInMarker(e.path());
    }
    else if (suffix == ".error") found[pid].error = FirstLine(e.path());
  }
  return found;
}

}  // namespace

Result<std::string> FindPythonBootstrap() {
  if (const char* env = std::getenv("SMARAGDINE_PYTHON_PATH"); env != nullptr && *env != '\0') {
    if (IsBootstrap(env)) return fs::absolute(env).lexically_normal().string();
    return UsageError(fmt::format(
        "--torch: SMARAGDINE_PYTHON_PATH={} holds no sitecustomize.py and smaragdine/ package "
        "(it should name the python/ folder of a Smaragdine build)",
        env));
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    for (const fs::path& candidate :
         {dir / "python", dir.parent_path() / "lib" / "smaragdine" / "python"})
      if (IsBootstrap(candidate)) return candidate.lexically_normal().string();
  }
  return UsageError(
      "--torch: the Python package is not built next to this smaragdine: build it with "
      "`cmake --build build --target smaragdine_python` (it needs LibTorch, python3-torch and "
      "pybind11-dev; the configure says what is missing), or set SMARAGDINE_PYTHON_PATH to "
      "its python/ folder");
}

std::vector<std::pair<std::string, std::string>> TorchChildEnvironment(const std::string& bootstrap) {
  std::string path = bootstrap;
  if (const char* old = std::getenv("PYTHONPATH"); old != nullptr && *old != '\0')
    path += std::string(":") + old;
  return {{"PYTHONPATH", path}, {"SMARAGDINE_TORCH", "1"}};
}

bool AccountTorchRun(const std::string& run_dir, int status, bool quiet) {
  const std::map<long, TorchProcess> processes = FindTorchProcesses(run_dir);
  std::vector<std::string> traces;
  for (const auto& [pid, p] : processes) {
    if (!p.trace.empty()) traces.push_back(p.trace);
    if (!p.error.empty())
      fmt::print(stderr, "smaragdine: warning: process {} recorded nothing: {}\n", pid, p.error);
    else if (p.started && p.trace.empty()) {
      const std::optional<double> last_s = LastSeenS(run_dir, pid);
      fmt::print(stderr,
                 "smaragdine: warning: {}process {} began recording at `import torch` but its "
                 "trace is missing: it ended without running its exit handlers (os._exit, "
                 "SIGKILL, a crash{}){}, so its operators are not in the profile; the other "
                 "processes' are\n",
                 p.rank.empty() ? "" : fmt::format("rank {} (", p.rank),
                 p.rank.empty() ? fmt::format("{}", pid) : fmt::format("pid {})", pid),
                 status >= 128 ? fmt::format("; CMD ended with status {}", status) : "",
                 last_s ? fmt::format("; it was last seen using CPU {:.2f} s into the run", *last_s)
                        : std::string());
    }
  }
  if (traces.empty()) {
    if (processes.empty())
      fmt::print(stderr,
                 "smaragdine record --torch: no torch trace in {}: CMD never imported torch (or "
                 "is not a Python program); the energy log is complete, account it with a trace "
                 "of your own: smaragdine account --energy {} --trace TRACE\n",
                 run_dir, run_dir);
    return true;
  }
  std::sort(traces.begin(), traces.end());
  AccountOptions options;
  Result<Profile> profile = AccountRun(run_dir, traces, options);
  if (!profile.ok()) {
    PrintError(profile.error());
    return false;
  }
  const std::string out = run_dir + "/profile.json";
  if (Status s = WriteProfileJson(*profile, out); !s.ok()) {
    PrintError(s.error());
    return false;
  }
  if (quiet) return true;
  PrintDiagnostics(profile->diagnostics);
  ReportOptions o;
  o.file = out;
  Result<std::string> tree = RenderReport(*profile, o);
  if (!tree.ok()) {
    PrintError(tree.error());
    return false;
  }
  fmt::print("\n{}\n", *tree);
  fmt::print("{}", PhaseTable(*profile));
  fmt::print("Profile written to {} ({} trace{})\n  smaragdine report {} --depth 8\n", out,
             traces.size(), traces.size() == 1 ? "" : "s", out);
  // Ranks of a job (or several processes): where to see them side by side.
  if (profile->processes.size() >= 2)
    fmt::print("  smaragdine report {} --by rank       # {} processes side by side, the "
               "straggler per module\n",
               out, profile->processes.size());
  std::fflush(stdout);
  return true;
}

}  // namespace smaragdine::cli
