// Account(): align → attribute → meta, the one sequence behind `smaragdine
// account` and live sessions (account.h).
#include <fmt/format.h>

#include <optional>
#include <string_view>
#include <utility>

#include "common/enum_text.h"
#include "smaragdine/account.h"
#include "smaragdine/device.h"

namespace smaragdine {

const char* ToString(TimelinePolicy p) {
  switch (p) {
    case TimelinePolicy::kAlways: return "always";
    case TimelinePolicy::kNever: return "never";
    case TimelinePolicy::kAuto: break;
  }
  return "auto";
}

std::optional<TimelinePolicy> ParseTimelinePolicy(std::string_view text) {
  static constexpr TimelinePolicy kAll[] = {TimelinePolicy::kAuto, TimelinePolicy::kAlways,
                                            TimelinePolicy::kNever};
  return ParseEnum(text, kAll);
}

namespace {

// A trace numbers GPUs as its process saw them (cuda:k, the k-th entry of
// CUDA_VISIBLE_DEVICES); the GPU domains number them as NVML does, every GPU
// of the machine. With the run's CUDA_VISIBLE_DEVICES the trace's lanes are
// renumbered to the machine's, so that each GPU's energy goes to the rank
// that used it. Returns what was renumbered, for meta.alignment ("" if nothing).
std::string RenumberGpuLanes(Trace& trace, const LaunchInfo& launch) {
  if (launch.cuda_visible_devices.empty()) return "";
  const std::optional<std::vector<int32_t>> visible = VisibleGpuIndices(launch.cuda_visible_devices);
  bool any_gpu = false;
  for (const Lane& lane : trace.lanes) any_gpu |= IsGpuDevice(lane.device);
  if (!any_gpu) return "";
  if (!visible) {
    trace.diagnostics.Add("account.gpus_not_renumbered");
    trace.diagnostics.Warn(fmt::format(
        "the run's CUDA_VISIBLE_DEVICES={} names GPUs by UUID: the trace's GPU lanes keep the "
        "numbers the program saw; if they are not NVML's, match them with --device DOMAIN=GPU:k",
        launch.cuda_visible_devices));
    return "";
  }
  std::string renumbered;
  for (Lane& lane : trace.lanes) {
    const Device dev = ParseDevice(lane.device);
    if (dev.kind != DeviceKind::kGpu || dev.index < 0) continue;
    const size_t k = static_cast<size_t>(dev.index);
    if (k >= visible->size() || (*visible)[k] == dev.index) continue;
    const std::string to = DeviceName(DeviceKind::kGpu, (*visible)[k]);
    if (renumbered.find(lane.device + " as " + to) == std::string::npos)
      renumbered += fmt::format("{}{} as {}", renumbered.empty() ? "" : ", ", lane.device, to);
    lane.device = to;
  }
  if (renumbered.empty()) return "";
  return fmt::format("; the trace's {} (CUDA_VISIBLE_DEVICES={} when recorded)", renumbered,
                     launch.cuda_visible_devices);
}

}  // namespace

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

  const std::string gpus_renumbered = RenumberGpuLanes(trace, log.launch);
  stage("aligning the trace with the energy log");
  SMG_ASSIGN_OR_RETURN(AlignResult aligned, AlignTrace(trace, log, options.align));

  stage(fmt::format("attributing {} events", event_count));
  SMG_ASSIGN_OR_RETURN(Profile profile, Attribute(trace, log, attribute));
  profile.meta.alignment = std::move(aligned.description) + gpus_renumbered;
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
