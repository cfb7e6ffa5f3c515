// cli_util.h — running the smaragdine binary from the report tests.
#pragma once

#include <string>

namespace smaragdine::testing {

struct CliRun {
  int status = -1;  // exit status; -1 when killed by a signal
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the CLI with `args` (already shell-quoted), stdout and stderr going to
// files (not terminals, so no progress line) that are read back.
CliRun RunSmaragdine(const std::string& args);
// The same with another executable (a copy of smaragdine somewhere else).
CliRun RunBinary(const std::string& binary, const std::string& args);

// The whole file; "" when it cannot be read.
std::string Slurp(const std::string& path);

}  // namespace smaragdine::testing
