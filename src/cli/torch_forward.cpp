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

// The subcommand's options are smaragdine-torch's: it checks them and prints
// the help, so everything after the name is passed on as it is.
CommandRun AddForwarder(const TorchCommand& c, CLI::App& sub) {
  sub.set_help_flag();
  sub.prefix_command();
  sub.allow_extras();
  return [&sub, name = c.name] { return RunInTorchHelper(name, sub.remaining()); };
}

const CommandRegistration kDemo{kDemoCommand.name, kDemoCommand.order,
                                {.summary = kDemoCommand.summary},
                                [](CLI::App& sub) { return AddForwarder(kDemoCommand, sub); }};
const CommandRegistration kSweep{kSweepCommand.name, kSweepCommand.order,
                                 {.summary = kSweepCommand.summary},
                                 [](CLI::App& sub) { return AddForwarder(kSweepCommand, sub); }};

}  // namespace
}  // namespace smaragdine::cli
