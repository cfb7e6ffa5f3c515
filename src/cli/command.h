// command.h — how a subcommand plugs into the `smaragdine` executable.
//
// Each src/cli/<name>.cpp defines one subcommand and registers it with a
// static CommandRegistration: its name, its place in `smaragdine --help`, its
// help text, and a function that adds its options and returns what runs it.
// main() makes the CLI11 subcommand, sets the help text, and runs the command
// it returns when the subcommand is chosen; its exit status is main's.
//
//   int RunReport(const ReportArgs& a) { ...; return 0; }
//   const CommandRegistration kRegistration{
//       "report", 30, {.summary = "Print a profile", .footer = kFooter},
//       [](CLI::App& sub) -> CommandRun {
//         auto args = std::make_shared<ReportArgs>();
//         sub.add_option(...);
//         return [args] { return RunReport(*args); };
//       }};
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "smaragdine/diagnostics.h"
#include "smaragdine/status.h"

namespace smaragdine::cli {

// What --help says about a subcommand.
struct CommandHelp {
  // One line: the subcommand's entry in `smaragdine --help`, and the first
  // line of its own --help.
  const char* summary = "";
  // Paragraphs shown after the summary in the subcommand's own --help only, so
  // that the list of subcommands stays one line each.
  const char* details = "";
  // After the options: examples, and what each exit status means.
  const char* footer = "";
};

// Runs a parsed subcommand; returns the process's exit status.
using CommandRun = std::function<int()>;
// Adds a subcommand's options to `sub` and returns what runs it.
using AddOptionsFn = std::function<CommandRun(CLI::App& sub)>;

struct CommandRegistration {
  // `order` sorts the subcommands in --help (lower first).
  CommandRegistration(std::string name, int order, CommandHelp help, AddOptionsFn add_options);
};

struct RegisteredCommand {
  std::string name;
  int order;
  CommandHelp help;
  AddOptionsFn add_options;
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

// Writes a command's output to the file `output` (atomically: the file is
// replaced only once all of it is written) or, when `output` is empty, to
// standard output. Returns the exit status: 0, or the error's once printed.
int WriteOutput(std::string_view text, const std::string& output);

// Prints "smaragdine: error: <error>" to stderr and returns its exit status.
int PrintError(const Error& error);
// Prints a diagnostics block (non-zero counters and warnings) to stderr.
void PrintDiagnostics(const Diagnostics& diagnostics);

}  // namespace smaragdine::cli
