// `smaragdine demo` and `smaragdine sweep`: hand the command line to
// smaragdine-torch, which has the LibTorch integration (torch_commands.h says
// why it is a second executable). Every argument after the subcommand's name,
// --help included, goes on unparsed.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/torch_commands.h"

namespace smaragdine::cli {
namespace {

// The directory this executable was started from (so a build tree and an
// installed tree each find their own helper).
std::string OwnDirectory() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string exe(path, static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "." : exe.substr(0, slash);
}

int RunInTorchHelper(const char* command, const std::vector<std::string>& args) {
  std::string helper = OwnDirectory() + "/" + kTorchHelperName;
  std::string name = command;
  std::vector<std::string> owned = args;
  std::vector<char*> argv{helper.data(), name.data()};
  for (std::string& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  execv(helper.c_str(), argv.data());
  // Only reached when the helper could not be started.
  const int err = errno;
  if (err == ENOENT)
    return PrintError(UsageError(fmt::format(
        "`{}` needs smaragdine's LibTorch integration, and this build has none ({} is missing). "
        "Install Debian's libtorch-dev (scripts/install-deps.sh does) and configure again "
        "(LibTorch is found on its own; -DSMARAGDINE_WITH_TORCH=ON makes its absence an error)",
        command, helper)));
  Error e = UsageError(fmt::format("cannot run {}: {}", helper, std::strerror(err)));
  e.code = ErrorCode::kInternal;
  return PrintError(e);
}

void AddForwarder(const TorchCommand& c, CLI::App& app, int& exit_code) {
  CLI::App* sub = app.add_subcommand(c.name, c.description);
  // No parsing here: smaragdine-torch checks the options and prints the help.
  sub->set_help_flag();
  sub->prefix_command();
  sub->allow_extras();
  sub->callback([sub, &exit_code, name = c.name] {
    exit_code = RunInTorchHelper(name, sub->remaining());
  });
}

const CommandRegistration kDemo{kDemoCommand.name, kDemoCommand.order,
                                [](CLI::App& app, int& exit_code) {
                                  AddForwarder(kDemoCommand, app, exit_code);
                                }};
const CommandRegistration kSweep{kSweepCommand.name, kSweepCommand.order,
                                 [](CLI::App& app, int& exit_code) {
                                   AddForwarder(kSweepCommand, app, exit_code);
                                 }};

}  // namespace
}  // namespace smaragdine::cli
