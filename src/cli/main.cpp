#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "build_features.h"
#include "cli/command.h"
#include "common/output_file.h"
#include "report/text.h"

namespace smaragdine::cli {

std::vector<RegisteredCommand>& Registry() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

CommandRegistration::CommandRegistration(std::string name, int order, CommandHelp help,
                                         AddOptionsFn add_options) {
  Registry().push_back({std::move(name), order, help, std::move(add_options)});
}

namespace {

// CLI11's help, with two changes: the list of subcommands shows each one's
// summary line only (its details are for its own --help), in a name column
// narrow enough that a summary fits an 80-column terminal, and a blank line
// separates the description from "Usage:".
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    constexpr size_t kCommandColumn = 12;  // "  simulate" and two spaces
    const std::string& description = sub->get_description();
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true),
                             description.substr(0, description.find('\n')), kCommandColumn);
    return out.str();
  }
  std::string make_description(const CLI::App* app) const override {
    std::string text = CLI::Formatter::make_description(app);
    return text.empty() ? text : text + "\n";
  }
};

// Adds a registered subcommand: its help, its options, and a callback that
// runs it and keeps its exit status.
void AddCommand(CLI::App& app, const RegisteredCommand& command, int& exit_code) {
  std::string description = command.help.summary;
  if (*command.help.details != '\0') description += fmt::format("\n\n{}", command.help.details);
  CLI::App* sub = app.add_subcommand(command.name, description);
  sub->footer(command.help.footer);
  CommandRun run = command.add_options(*sub);
  sub->callback([run = std::move(run), &exit_code] { exit_code = run(); });
}

// `smaragdine --version`: the version, then what this build can do, so that a
// bug report or a packager sees at once whether demo and graph-svg will work.
std::string VersionText() {
  return fmt::format(
      "smaragdine {}\n"
      "torch: {} (demo, sweep, live accounting)\n"
      "graphviz: {} (report --format graph-svg, module graphs in html)",
      SMARAGDINE_VERSION, SMARAGDINE_HAVE_TORCH ? "yes" : "no",
      SMARAGDINE_HAVE_GRAPHVIZ ? "yes" : "no");
}

// Messages go to stderr whatever its state: a closed or full stderr must not
// throw (fmt::print would) and turn a command's own exit status into an abort.
void ToStderr(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stderr); }

// Errors and warnings quote what inputs hold (a node path, a domain name, a
// file name): escaped as the table escapes names, so that a profile from
// someone else cannot make the terminal obey escapes through a message.
std::string ForTerminal(const std::string& message) {
  return report_text::Printable(message, /*keep_newlines=*/true);
}
}  // namespace

int PrintError(const Error& error) {
  ToStderr(fmt::format("smaragdine: error: {}\n", ForTerminal(error.ToString())));
  return error.ExitCode();
}

int WriteOutput(std::string_view text, const std::string& output) {
  Status written = output.empty() ? WriteStdout(text) : WriteFileAtomic(output, text);
  return written.ok() ? 0 : PrintError(written.error());
}

void PrintDiagnostics(const Diagnostics& diagnostics) {
  std::string text;
  for (const auto& w : diagnostics.warnings())
    text += fmt::format("smaragdine: warning: {}\n", ForTerminal(w));
  if (!diagnostics.counts().empty()) {
    text += "diagnostics:\n";
    for (const auto& [name, n] : diagnostics.counts())
      text += fmt::format("  {:<48} {}\n", name, n);
  }
  ToStderr(text);
}

}  // namespace smaragdine::cli

int main(int argc, char** argv) {
  using namespace smaragdine::cli;
  CLI::App app{
      "Smaragdine: tensor-aware energy accounting for deep-learning programs.\n"
      "Attributes measured energy (RAPL, NVML, CSV logs) to the operations of a\n"
      "TensorFlow or PyTorch trace and rolls it up the model's scope hierarchy.\n\n"
      "  smaragdine account --energy RUN --trace TRACE.json.gz -o profile.json\n"
      "  smaragdine report profile.json --depth 4",
      "smaragdine"};
  // Before any subcommand is added: each takes its parent's formatter.
  app.formatter(std::make_shared<HelpFormatter>());
  app.set_version_flag("--version", VersionText());
  app.require_subcommand(1);
  int exit_code = 0;
  auto commands = Registry();
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const RegisteredCommand& c : commands) AddCommand(app, c, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // CLI11 returns 0 for --help/--version; usage errors are exit status 1 (DESIGN §8).
    if (rc != 0) return 1;
  } catch (const std::system_error& e) {
    // fmt::print throws when a write fails (a full disk or a closed pipe on stdout).
    if (!std::ferror(stdout)) return PrintError(smaragdine::Internal(e.what()));
    return PrintError(smaragdine::Error{smaragdine::ErrorCode::kBadInput,
                                        fmt::format("cannot write: {}", e.code().message()),
                                        "standard output"});
  }
  // No command exits 0 after failing to write its output: what is still buffered
  // for standard output is written now, and an earlier failed write counts too.
  // (A command that failed already said why; its exit status stays.)
  if (smaragdine::Status flushed = smaragdine::FlushStdout(); !flushed.ok() && exit_code == 0)
    return PrintError(flushed.error());
  return exit_code;
}
