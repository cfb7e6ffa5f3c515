// record_torch.h — `record --torch`: a Python program's torch operators,
// recorded in its own process by the Python package's bootstrap
// (python/bootstrap/sitecustomize.py, docs/python.md), accounted by record
// once the program has ended.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "smaragdine/status.h"

namespace smaragdine::cli {

// The folder holding the bootstrap's sitecustomize.py and the smaragdine
// package: $SMARAGDINE_PYTHON_PATH, else next to this executable (build tree:
// <dir>/python; installed: <prefix>/lib/smaragdine/python). Errors (kUsage)
// say how to build it.
Result<std::string> FindPythonBootstrap();

// The environment CMD gets under --torch: the bootstrap first on PYTHONPATH
// (before the caller's own), SMARAGDINE_TORCH=1.
std::vector<std::pair<std::string, std::string>> TorchChildEnvironment(const std::string& bootstrap);

// After CMD ended (exit status `status`, as record returns it): finds the
// torch traces the bootstrap wrote into run_dir, says what happened to each
// process that started recording, accounts them into run_dir/profile.json and
// prints the tree. Returns false when a profile could not be made from
// traces that exist (the message is printed).
bool AccountTorchRun(const std::string& run_dir, int status, bool quiet);

}  // namespace smaragdine::cli
