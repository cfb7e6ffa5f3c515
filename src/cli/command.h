// command.h — how a subcommand plugs into the `smaragdine` executable.
//
// Each src/cli/<name>.cpp defines one subcommand and registers it with a
// static CommandRegistration; main() builds the CLI11 app from the registry.
//
//   static int Run(const Options& o) { ... return 0; }
//   static CommandRegistration reg{"report", 30, [](CLI::App& app, int& exit_code) {
//     auto* sub = app.add_subcommand("report", "Print a profile");
//     ...; sub->callback([&exit_code, opts] { exit_code = Run(*opts); });
//   }};
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "smaragdine/diagnostics.h"
#include "smaragdine/status.h"

namespace smaragdine::cli {

using AddCommandFn = std::function<void(CLI::App& app, int& exit_code)>;

struct CommandRegistration {
  // `order` sorts the subcommands in --help (lower first).
  CommandRegistration(std::string name, int order, AddCommandFn add);
};

struct RegisteredCommand {
  std::string name;
  int order;
  AddCommandFn add;
};
std::vector<RegisteredCommand>& Registry();

// A repeatable option (`--fold A --fold B`): every use kept, one value each.
// Without expected(1) and allow_extra_args(false) CLI11 takes the words after
// an option as more of its values: `record --source nvml -- CMD` would take the
// `--` as the end of --source's values and CMD's own options as record's.
inline CLI::Option* Repeatable(CLI::Option* option) {
  return option->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1)
      ->allow_extra_args(false);
}

// Prints "smaragdine: error: <error>" to stderr and returns its exit status.
int PrintError(const Error& error);
// Prints a diagnostics block (non-zero counters and warnings) to stderr.
void PrintDiagnostics(const Diagnostics& diagnostics);

}  // namespace smaragdine::cli
