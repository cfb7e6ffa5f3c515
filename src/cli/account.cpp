// `smaragdine account`: energy log + trace(s) → profile.json.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/output_file.h"
#include "common/progress.h"
#include "smaragdine/account.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/profile.h"
#include "smaragdine/trace.h"

namespace smaragdine::cli {
namespace {

struct AccountFlags {
  std::string energy;
  std::vector<std::string> traces;
  std::string format = "auto";
  std::string energy_clock = "monotonic";
  std::vector<std::string> devices;    // DOMAIN=DEVICE
  std::vector<std::string> baselines;  // DOMAIN=W
  std::optional<int64_t> trace_start_ns;
  std::optional<int64_t> trace_offset_ns;
  std::string output = "profile.json";
  std::string timeline = "auto";  // auto | always | never
  std::string process_share = "auto";
  std::string method = "auto";  // auto | proportional | regression
  bool quiet = false;
};

Result<std::pair<std::string, std::string>> SplitAssignment(const std::string& s,
                                                             const char* flag) {
  auto eq = s.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
    return UsageError(fmt::format("{} expects DOMAIN=VALUE, got '{}'", flag, s));
  return std::pair{s.substr(0, eq), s.substr(eq + 1)};
}

void PrintSummary(const Profile& p, size_t event_count, const std::string& output) {
  const double window_s = (p.meta.window_end_ns - p.meta.window_start_ns) * 1e-9;
  fmt::print("accounted {:.6g} J over a {:.3f} s window ({} steps, {} trace events)\n",
             p.MeasuredJ(), window_s, p.meta.steps, event_count);
  // The method in a few words (meta.method's first clause), and why `auto` chose it.
  if (!p.meta.method_reason.empty() || p.meta.method.rfind("regression", 0) == 0) {
    const std::string& m = p.meta.method;
    fmt::print("method: {}{}\n", m.substr(0, m.find(':')),
               p.meta.method_reason.empty() ? "" : " (" + p.meta.method_reason + ")");
  }
  if (!p.meta.meter.empty()) fmt::print("meter: {}\n", p.meta.meter);
  for (const ProfileDomain& d : p.domains) {
    const double share =
        d.measured_j > 0 ? 100.0 * (d.measured_j - d.idle_j - d.other_j) / d.measured_j : 0;
    fmt::print("  {:<20} {:>12.6g} J {}  {:5.1f} % on operations, {:.6g} J idle{}\n", d.name,
               d.measured_j, d.modeled ? "(MODELED)" : "", share, d.idle_j,
               std::isnan(d.baseline_w) ? ""
                                        : fmt::format(", {:.6g} J static at {:.3g} W baseline",
                                                      d.static_j, d.baseline_w));
    if (!d.share.empty())
      fmt::print("  {:<20} {:>12.6g} J to other processes ({:.1f} %, by CPU time)\n", "",
                 d.other_j, d.measured_j > 0 ? 100.0 * d.other_j / d.measured_j : 0.0);
  }
  fmt::print("profile written to {}\nnext: smaragdine report {} --depth 4\n", output, output);
}

int Run(const AccountFlags& o) {
  EnergyImportOptions energy_options;
  if (o.energy_clock == "monotonic") {
    energy_options.clock = Clock::kMonotonic;
  } else if (o.energy_clock == "realtime") {
    energy_options.clock = Clock::kRealtime;
  } else {
    return PrintError(UsageError(fmt::format(
        "--energy-clock must be monotonic or realtime, got '{}'", o.energy_clock)));
  }
  for (const auto& d : o.devices) {
    auto kv = SplitAssignment(d, "--device");
    if (!kv.ok()) return PrintError(kv.error());
    energy_options.device_of[kv->first] = kv->second;
  }
  AccountOptions account_options;
  AttributeOptions& attribute_options = account_options.attribute;
  if (auto m = ParseAttributionMethod(o.method)) {
    attribute_options.method = *m;
  } else {
    return PrintError(UsageError(fmt::format(
        "--method must be auto, proportional or regression, got '{}'", o.method)));
  }
  if (auto ps = ParseProcessShare(o.process_share)) {
    attribute_options.process_share = *ps;
  } else {
    return PrintError(UsageError(fmt::format("--process-share must be auto, on or off, got '{}'",
                                             o.process_share)));
  }
  for (const auto& b : o.baselines) {
    auto kv = SplitAssignment(b, "--baseline-w");
    if (!kv.ok()) return PrintError(kv.error());
    char* end = nullptr;
    const double w = std::strtod(kv->second.c_str(), &end);
    // Finite, not negative, and no more than one domain can draw (issue 17).
    if (end == kv->second.c_str() || *end != '\0' || !(w >= 0) || !std::isfinite(w) || w > 1e5)
      return PrintError(UsageError(fmt::format(
          "--baseline-w {}: '{}' is not a power in watts (finite, 0 to 100000)", b, kv->second)));
    attribute_options.baseline_w[kv->first] = w;
  }
  account_options.align.trace_start_ns = o.trace_start_ns;
  account_options.align.trace_offset_ns = o.trace_offset_ns;
  if (auto t = ParseTimelinePolicy(o.timeline)) {
    account_options.timeline = *t;
  } else {
    return PrintError(UsageError(
        fmt::format("--timeline must be auto, always or never, got '{}'", o.timeline)));
  }
  auto format = ParseTraceFormat(o.format);
  if (!format.ok()) return PrintError(format.error());

  // -o must not be an input (run.json, energy.csv, a trace): checked before the work.
  std::vector<NamedInput> inputs{{"--energy", o.energy}};
  for (const std::string& t : o.traces) inputs.push_back({"--trace", t});
  if (Status s = CheckOutput(o.output, inputs); !s.ok()) return PrintError(s.error());

  // On a terminal, a progress line while the inputs are read and attributed.
  ProgressLine progress("account");
  // Errors are printed on a clean line.
  auto fail = [&progress](const Error& e) {
    progress.Finish();
    return PrintError(e);
  };
  progress.Stage("reading energy log " + o.energy, InputBytes(o.energy), ProgressUnit::kBytes);
  auto log = ReadEnergy(o.energy, energy_options);
  if (!log.ok()) return fail(log.error());
  TraceReadOptions trace_options;
  trace_options.format = *format;
  int64_t trace_bytes = 0;
  for (const std::string& t : o.traces) trace_bytes += InputBytes(t);
  progress.Stage(o.traces.size() == 1 ? "reading trace " + o.traces[0]
                                      : fmt::format("reading {} traces", o.traces.size()),
                 trace_bytes, ProgressUnit::kBytes);
  auto trace = ReadTraces(o.traces, trace_options);
  if (!trace.ok()) return fail(trace.error());
  const size_t event_count = trace->events.size();

  account_options.on_stage = [&progress](std::string_view stage) {
    // Attribution reports its parts (per domain) through attribute.progress.
    const bool parts = stage.rfind("attributing", 0) == 0;
    progress.Stage(parts ? std::string(stage) + ", part" : std::string(stage), 0,
                   parts ? ProgressUnit::kSteps : ProgressUnit::kNone);
  };
  account_options.attribute.progress = [&progress](std::string_view, int64_t done,
                                                   int64_t total) {
    progress.Update(done, total);
  };
  auto profile = Account(std::move(*trace), *log, account_options);
  if (!profile.ok()) return fail(profile.error());

  progress.Stage("writing " + o.output);
  Status written = WriteProfileJson(*profile, o.output);
  progress.Finish();
  if (!written.ok()) return fail(written.error());
  if (!o.quiet) {
    PrintSummary(*profile, event_count, o.output);
    std::fflush(stdout);  // the summary before the diagnostics, also when piped
    PrintDiagnostics(profile->diagnostics);
  }
  return 0;
}

// `smaragdine account --help` before the options.
constexpr char kDetails[] =
    "Lines up the energy readings with the trace's timeline, splits each interval's energy\n"
    "among the operations running on the domain's device, and rolls the result up\n"
    "the model's scope hierarchy. Every joule measured in the window ends on a node or in\n"
    "(idle); the run fails if that ever does not hold.\n\n"
    "How the split is made (--method): `proportional` is the paper's rule, power constant\n"
    "between readings and an equal split; `regression` fits one power\n"
    "per leaf class (node + phase) to every reading through the meter's model (a counter's\n"
    "value at its last update, a power meter's window average), so operations far shorter\n"
    "than the meter's period get their own power, and gives each node an error bar\n"
    "(total_ci95); `auto` (the default) fits where the run has enough readings and repeated\n"
    "steps and says why when it does not. docs/attribution.md explains both.";

// `smaragdine account --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  smaragdine account --energy run/ --trace step.pt.trace.json.gz -o profile.json\n"
    "  smaragdine account --energy power.csv --energy-clock realtime --device wall=CPU:0 \\\n"
    "      --trace timeline_*.json\n"
    "  smaragdine account --energy run/ --trace trace.json.gz --trace-start-ns 81234000000\n"
    "Exit status: 0 ok, 1 bad option, 2 an unreadable or inconsistent input (the message\n"
    "names the file and where in it), 3 nothing to attribute (no events, or no readings\n"
    "inside the trace's window), 4 a broken invariant such as conservation (a bug).\n";

const CommandRegistration kRegistration{
    "account", 20,
    {"Attribute an energy log to a trace's operations: profile.json", kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      auto o = std::make_shared<AccountFlags>();
      sub.add_option(
             "-e,--energy", o->energy,
             "Run directory written by `smaragdine record` (run.json + energy.csv), or a CSV "
             "with columns t_ns|t_s, domain, energy_j|power_w")
          ->required();
      sub.add_option(
             "-t,--trace", o->traces,
             "Trace file(s): TensorFlow 1 timeline, TF2/JAX trace.json(.gz) or .xplane.pb, "
             "PyTorch profiler (Kineto or legacy) JSON, ONNX Runtime profile, plain or gzip. "
             "Several files are read as one trace, one step per file when they have no steps "
             "of their own")
          ->required()
          ->expected(1, -1);
      sub.add_option("--format", o->format,
                     "Trace dialect: auto (detect from content), tf1, tf2, jax, pytorch, "
                     "pytorch-legacy, onnxruntime, or xplane (an XPlane protobuf, TF2 or JAX told "
                     "from its content)")
          ->capture_default_str();
      sub.add_option("--energy-clock", o->energy_clock,
                     "Clock of a CSV's timestamps: monotonic (CLOCK_MONOTONIC) or realtime (Unix "
                     "epoch)")
          ->capture_default_str();
      sub.add_option("--device", o->devices,
                     "DOMAIN=DEVICE: which device a CSV domain measures, e.g. gpu0=GPU:0 or "
                     "socket=CPU:0 (repeatable)");
      sub.add_option("--baseline-w", o->baselines,
                     "DOMAIN=W: static (idle) power of a domain, to split energy into static and "
                     "dynamic; overrides a baseline in run.json (repeatable)");
      sub.add_option(
          "--trace-start-ns", o->trace_start_ns,
          "Energy-clock time (ns) of the trace's time 0, for traces stamped relative to "
          "the profiler's start (TF2/JAX trace.json, PyTorch legacy); for absolute traces, "
          "where to put the first event");
      sub.add_option("--trace-offset-ns", o->trace_offset_ns,
                     "Shift the trace by this many ns instead of converting clocks: energy time = "
                     "trace time + offset");
      sub.add_option(
             "--process-share", o->process_share,
             "Split each measured CPU domain's energy between the recorded processes and the "
             "machine's other processes by CPU time (cputime.csv from `record`): auto (when "
             "the run has it), on, off. The other processes' part is shown as (other "
             "processes)")
          ->capture_default_str();
      sub.add_option("--method", o->method,
                     "How each interval's energy is split: proportional (the paper's rule), "
                     "regression (meter-aware fit with error bars; a domain that cannot be fitted "
                     "falls back, with a warning), or auto (regression where the run has enough "
                     "readings and repetitions, else proportional; the choice and the reason go in "
                     "the output and meta.method)")
          ->check(CLI::IsMember({"auto", "proportional", "regression"}))
          ->capture_default_str();
      sub.add_option("-o,--output", o->output, "Where to write the profile")->capture_default_str();
      sub.add_option("--timeline", o->timeline,
                     fmt::format("Keep the timeline in the profile (every event with its energy, "
                                 "each domain's power over time) for `report --format perfetto`: "
                                 "auto keeps it up to {} trace events, always, or never",
                                 kTimelineAutoMaxEvents))
          ->check(CLI::IsMember({"auto", "always", "never"}))
          ->capture_default_str();
      sub.add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
      return [o] { return Run(*o); };
    }};

}  // namespace
}  // namespace smaragdine::cli
