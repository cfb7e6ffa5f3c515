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
    "Train the built-in BERT (or ALBERT) for a few steps with live energy accounting and "
    "print where the joules went: layer by layer, operation by operation, forward vs "
    "backward vs optimizer"};
inline constexpr TorchCommand kSweepCommand{
    "sweep", 6,
    "Measure the built-in model over a grid of sizes: energy per step and per token, time, "
    "power, the modules' shares, pairwise differences and run-to-run stability"};

// The executable's file name, looked for in the directory of `smaragdine`.
inline constexpr const char* kTorchHelperName = "smaragdine-torch";

}  // namespace smaragdine::cli
