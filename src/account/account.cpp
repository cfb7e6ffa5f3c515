// Account(): align → attribute → meta, the one sequence behind `smaragdine
// account` and live sessions (account.h).
#include <fmt/format.h>

#include <utility>

#include "smaragdine/account.h"

namespace smaragdine {

std::optional<TimelinePolicy> ParseTimelinePolicy(std::string_view text) {
  if (text == "auto") return TimelinePolicy::kAuto;
  if (text == "always") return TimelinePolicy::kAlways;
  if (text == "never") return TimelinePolicy::kNever;
  return std::nullopt;
}

Result<Profile> Account(Trace trace, const EnergyLog& log, const AccountOptions& options) {
  for (const auto& [domain, w] : options.attribute.baseline_w) {
    bool known = false;
    for (const DomainInfo& d : log.domains) known |= d.name == domain;
    if (!known)
      return UsageError(fmt::format("--baseline-w names domain '{}', which {} does not have",
                                    domain, log.path));
  }
  auto stage = [&options](std::string_view what) {
    if (options.on_stage) options.on_stage(what);
  };

  // The timeline costs ~40 bytes an event in memory and ~50 in profile.json:
  // kept by default only up to kTimelineAutoMaxEvents events.
  const int64_t event_count = static_cast<int64_t>(trace.events.size());
  AttributeOptions attribute = options.attribute;
  attribute.keep_timeline =
      options.timeline == TimelinePolicy::kAlways ||
      (options.timeline == TimelinePolicy::kAuto && event_count <= kTimelineAutoMaxEvents);

  stage("aligning the trace with the energy log");
  SMG_ASSIGN_OR_RETURN(AlignResult aligned, AlignTrace(trace, log, options.align));

  stage(fmt::format("attributing {} events", event_count));
  SMG_ASSIGN_OR_RETURN(Profile profile, Attribute(trace, log, attribute));
  profile.meta.alignment = std::move(aligned.description);
  if (options.timeline == TimelinePolicy::kAuto && !attribute.keep_timeline)
    profile.diagnostics.Warn(fmt::format(
        "the timeline (for `report --format perfetto`) was left out: the trace has {} events, "
        "more than the {} that --timeline auto keeps; run account with --timeline always to keep "
        "it (about 40 bytes an event in memory and 50 in the profile, plus the power tracks)",
        event_count, kTimelineAutoMaxEvents));
  return profile;
}

Result<Profile> AccountRun(const std::string& run_dir, const std::vector<std::string>& traces,
                           const AccountOptions& options) {
  SMG_ASSIGN_OR_RETURN(EnergyLog log, ReadRunDirectory(run_dir));
  SMG_ASSIGN_OR_RETURN(Trace trace, ReadTraces(traces, {}));
  return Account(std::move(trace), log, options);
}

}  // namespace smaragdine
