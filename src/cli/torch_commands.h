// torch_commands.h — the subcommands that need LibTorch (demo, sweep).
//
// They run in a second executable, smaragdine-torch, built next to
// `smaragdine` with the LibTorch integration: `smaragdine demo …` replaces
// itself with `smaragdine-torch demo …` (torch_forward.cpp). Linking LibTorch
// into `smaragdine` itself would make every command pay for it: its static
// initialization registers thousands of operators (~1.5 s at start, on this
// project's 2-core VM) and its pages add ~150 MB to the resident set of
// `report` or `account`.
#pragma once

namespace smaragdine::cli {

struct TorchCommand {
  const char* name;
  int order;           // as CommandRegistration's
  const char* summary;  // as CommandHelp's
};

inline constexpr TorchCommand kDemoCommand{
    "demo", 5,
    "Train the built-in BERT or ALBERT and show where the joules went"};
inline constexpr TorchCommand kSweepCommand{
    "sweep", 6,
    "Measure the built-in model over a grid of sizes"};

// The executable's file name, looked for in the directory of `smaragdine`.
inline constexpr const char* kTorchHelperName = "smaragdine-torch";

}  // namespace smaragdine::cli
