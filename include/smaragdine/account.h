// account.h — align a trace with an energy log and attribute every joule.
//
// Account() is what `smaragdine account` and a live session do: align the
// trace with the log, attribute, and fill the profile's meta. Its stages are
// public for callers that need one of them:
// AlignTrace moves event times onto the energy log's clock (DESIGN §3);
// Attribute splits each domain's energy among the leaves active on that
// domain's device (§6) and builds the Profile. Conservation — for each domain,
// nodes plus (idle) equal the measured energy — is checked on every call.
//
//   SMG_ASSIGN_OR_RETURN(EnergyLog log, ReadEnergy("run", {}));
//   SMG_ASSIGN_OR_RETURN(Trace trace, ReadTraces({"run/trace.json"}, {}));
//   SMG_ASSIGN_OR_RETURN(Profile p, Account(std::move(trace), log, AccountOptions{}));
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "smaragdine/energy_log.h"
#include "smaragdine/profile.h"
#include "smaragdine/status.h"
#include "smaragdine/trace.h"

namespace smaragdine {

struct AlignOptions {
  // The energy-clock time of the trace's time 0 (--trace-start-ns); for
  // traces whose times are relative to the profiler's start.
  std::optional<int64_t> trace_start_ns;
  // Added to every trace time after any realtime→monotonic mapping is
  // skipped (--trace-offset-ns): energy_time = trace_time + offset.
  std::optional<int64_t> trace_offset_ns;
};

struct AlignResult {
  std::string description;  // for profile meta: how the mapping was done
};

// Rewrites the trace's event and step times onto the log's clock. Errors:
// kNothingMeasurable when the trace needs an anchor it does not have, or when
// trace and energy log do not overlap (the message gives both spans and the fix).
Result<AlignResult> AlignTrace(Trace& trace, const EnergyLog& log, const AlignOptions& options);

// Process share (--process-share): split each measured CPU domain's energy between
// the recorded process tree and the machine's other processes by CPU time.
enum class ProcessShare {
  kAuto,  // on when the energy log has CPU-time data (a run directory with cputime.csv)
  kOn,    // required: an error when the log has none
  kOff,   // every joule goes to the trace's operations and (idle), as without the data
};
const char* ToString(ProcessShare s);  // "auto" | "on" | "off"
// The inverse of ToString; nullopt for anything else.
std::optional<ProcessShare> ParseProcessShare(std::string_view text);

// The share is taken over intervals of at least this long (merging CPU-time
// samples): /proc/stat counts the machine's busy time in 10 ms ticks, too coarse
// for a 20 ms sample on its own.
constexpr int64_t kProcessShareMinIntervalNs = 100'000'000;

// How each slice's energy is split (account --method; DESIGN §6).
enum class AttributionMethod {
  kAuto,          // regression where the run supports a fit, else proportional (the default)
  kProportional,  // the paper's rule: power constant between readings, equal split
  kRegression,    // the meter-aware fit; a domain that cannot be fitted falls back, with a warning
};
const char* ToString(AttributionMethod m);  // "auto" | "proportional" | "regression"
std::optional<AttributionMethod> ParseAttributionMethod(std::string_view text);

struct AttributeOptions {
  AttributionMethod method = AttributionMethod::kAuto;
  // Resampled fits behind each node's total_ci95 (regression only); 0: none.
  int ci_replicates = 40;
  std::map<std::string, double> baseline_w;  // --baseline-w, overrides run.json's
  ProcessShare process_share = ProcessShare::kAuto;
  bool check_conservation = true;
  double conservation_tolerance = 1e-9;  // relative
  // Keep Profile::timeline: every event in the window with its self energy,
  // and each domain's power as steps (--timeline). Costs ~40 bytes per event
  // and one add per segment of the sweep; nothing when off.
  bool keep_timeline = false;
  // Called at coarse points (per stage and per domain) for a progress line:
  // `stage` in words, `done` of `total` units. Empty: not called.
  std::function<void(std::string_view stage, int64_t done, int64_t total)> progress;
};

// `account --timeline auto` keeps the timeline up to this many trace events:
// beyond, profile.json would grow by tens of MB for a view that needs it.
constexpr int64_t kTimelineAutoMaxEvents = 1'000'000;

// Whether the profile keeps its timeline (account --timeline).
enum class TimelinePolicy {
  kAuto,    // up to kTimelineAutoMaxEvents trace events, with a warning beyond
  kAlways,
  kNever,
};
const char* ToString(TimelinePolicy p);  // "auto" | "always" | "never"
// The inverse of ToString; nullopt for anything else.
std::optional<TimelinePolicy> ParseTimelinePolicy(std::string_view text);

struct AccountOptions {
  AlignOptions align;
  // attribute.keep_timeline is decided by `timeline`.
  AttributeOptions attribute;
  TimelinePolicy timeline = TimelinePolicy::kAuto;
  // Called as each stage begins, with the stage in words ("aligning …",
  // "attributing N events"), for a progress line. Empty: not called.
  std::function<void(std::string_view stage)> on_stage;
};

// The whole accounting of one trace (one step per file already merged by
// ReadTraces) against one energy log: checks that every --baseline-w domain
// exists (kUsage naming it), aligns, attributes, and records in the profile's
// meta how the trace was aligned, and in its diagnostics a timeline left out.
// Errors: those of AlignTrace and Attribute.
Result<Profile> Account(Trace trace, const EnergyLog& log, const AccountOptions& options);

// Account() on a run directory of `record` and trace files
// read as one trace, as `smaragdine account --energy RUN --trace T…` does;
// used where a program's run ends in a profile (`record --torch`).
Result<Profile> AccountRun(const std::string& run_dir, const std::vector<std::string>& traces,
                           const AccountOptions& options);

// Attributes the log's energy to the trace's nodes. The trace must already be
// aligned. With the process share, a measured CPU domain's energy in each
// interval is first split: tree CPU time / machine busy time (clamped to [0, 1];
// no busy time: all to the tree) goes to the trace as usual, the rest to
// ProfileDomain::other_j. Conservation: nodes + idle + other = measured.
// Errors: kNothingMeasurable when no domain overlaps the trace; kBadInput when
// kOn is asked of a log without CPU-time data; kInternal when conservation
// fails (a bug; the message has the numbers).
Result<Profile> Attribute(const Trace& trace, const EnergyLog& log, const AttributeOptions& options);

}  // namespace smaragdine
