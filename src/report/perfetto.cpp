// `report --format perfetto`: the profile's timeline as Chrome trace JSON
// (the "JSON Array/Object Format" that ui.perfetto.dev and chrome://tracing
// open): one process per device, one thread track per lane with the events as
// complete ("X") slices, one counter ("C") track per energy domain with its
// power in W, and the steps on a track of their own.
//
// Timestamps are the run's clock (ProfileMeta::clock) in µs, written as
// exact decimals with three fractional digits, so nothing is lost of the ns.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/json_text.h"
#include "smaragdine/account.h"
#include "smaragdine/views.h"

namespace smaragdine {
namespace {

// RenderPerfetto writes the trace straight into the string it returns,
// reserved at its estimated size: a growing buffer would hold up to twice the
// trace while it grows, and a copy of it at the end (at 1 M events the trace
// is ~260 MB). WritePerfetto hands the same text on a megabyte at a time.
using Buffer = std::string;

// ns as µs with exactly three decimals: 1234567 ns → 1234.567.
void AppendMicros(Buffer& out, int64_t ns) {
  uint64_t magnitude = ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  if (ns < 0) out.push_back('-');
  fmt::format_to(std::back_inserter(out), "{}.{:03}", magnitude / 1000, magnitude % 1000);
}

// Shortest text that reads back to the same double; JSON has no NaN.
void AppendDouble(Buffer& out, double v) {
  if (!std::isfinite(v)) v = 0;
  fmt::format_to(std::back_inserter(out), "{}", v);
}

void AppendMetadata(Buffer& out, const char* what, int pid, int tid, std::string_view key,
                    std::string_view name) {
  fmt::format_to(std::back_inserter(out), ",\n{{\"ph\":\"M\",\"name\":\"{}\",\"pid\":{},\"tid\":{},"
                 "\"args\":{{\"{}\":", what, pid, tid, key);
  AppendJsonQuoted(out, name);
  out.append(std::string_view("}}"));
}

void AppendSortIndex(Buffer& out, const char* what, int pid, int tid, int index) {
  fmt::format_to(std::back_inserter(out),
                 ",\n{{\"ph\":\"M\",\"name\":\"{}\",\"pid\":{},\"tid\":{},"
                 "\"args\":{{\"sort_index\":{}}}}}",
                 what, pid, tid, index);
}

// Event order within the timeline: lane, then start, then the longer (the
// enclosing) first. The timeline is kept in this order; a profile edited by
// hand may not be, so it is checked and, if needed, sorted.
std::vector<uint32_t> LaneOrder(const Timeline& t) {
  std::vector<uint32_t> order(t.events.size());
  std::iota(order.begin(), order.end(), 0u);
  auto before = [&](uint32_t a, uint32_t b) {
    const TimelineEvent& x = t.events[a];
    const TimelineEvent& y = t.events[b];
    if (x.lane != y.lane) return x.lane < y.lane;
    if (x.start_ns != y.start_ns) return x.start_ns < y.start_ns;
    if (x.end_ns != y.end_ns) return x.end_ns > y.end_ns;
    return a < b;
  };
  if (!std::is_sorted(order.begin(), order.end(), before))
    std::sort(order.begin(), order.end(), before);
  return order;
}

// Each event's energy including the events nested in it on its lane: a stack
// of open events per lane; a closed event adds its energy to the one below.
std::vector<double> InclusiveEnergy(const Timeline& t, const std::vector<uint32_t>& order) {
  std::vector<double> inclusive_j(t.events.size());
  for (size_t i = 0; i < t.events.size(); ++i) inclusive_j[i] = t.events[i].self_j;
  std::vector<uint32_t> stack;
  auto close_top = [&] {
    const uint32_t top = stack.back();
    stack.pop_back();
    if (!stack.empty()) inclusive_j[stack.back()] += inclusive_j[top];
  };
  uint32_t lane = UINT32_MAX;
  for (uint32_t i : order) {
    const TimelineEvent& e = t.events[i];
    if (e.lane != lane) {
      while (!stack.empty()) close_top();
      lane = e.lane;
    }
    while (!stack.empty()) {
      const TimelineEvent& top = t.events[stack.back()];
      if (top.start_ns <= e.start_ns && e.end_ns <= top.end_ns) break;  // nested in it
      close_top();
    }
    stack.push_back(i);
  }
  while (!stack.empty()) close_top();
  return inclusive_j;
}

// An upper estimate of the trace's size. Reserved pages that are never
// written are not resident, so estimating high costs nothing.
size_t EstimatedSize(const Profile& p) {
  const Timeline& t = p.timeline;
  // Per slice: the fixed keys and punctuation, three doubles of up to 24
  // characters, two times and the ids: under 260 bytes, names aside.
  constexpr size_t kSliceBytes = 260, kCounterBytes = 96;
  size_t bytes = 4096 + t.lanes.size() * 256 + t.steps.size() * 160;
  for (const Lane& lane : t.lanes) bytes += 2 * lane.name.size();
  for (const Step& step : t.steps) bytes += 2 * step.name.size();
  for (const TimelineEvent& e : t.events) {
    if (e.node >= p.nodes.size()) continue;
    const ProfileNode& n = p.nodes[e.node];
    bytes += kSliceBytes + n.name.size() + n.path.size();
    if (e.step >= 0 && static_cast<size_t>(e.step) < t.steps.size())
      bytes += 16 + t.steps[e.step].name.size();
  }
  for (const PowerTrack& track : t.power)
    bytes += track.t_ns.size() * (kCounterBytes + track.domain.size());
  return bytes;
}

// What WritePerfetto hands its sink at a time.
constexpr size_t kPieceBytes = size_t{1} << 20;

// One process per device, in the order lanes and then domains name them;
// pid 1 is the steps' process.
class DevicePids {
 public:
  explicit DevicePids(const Profile& p) {
    for (const Lane& lane : p.timeline.lanes) Of(lane.device);
    for (const ProfileDomain& d : p.domains) Of(d.device);
  }
  int Of(const std::string& device) {
    auto it = std::find(devices_.begin(), devices_.end(), device);
    if (it == devices_.end()) {
      devices_.push_back(device);
      it = devices_.end() - 1;
    }
    return static_cast<int>(it - devices_.begin()) + 2;
  }
  const std::vector<std::string>& devices() const { return devices_; }

 private:
  std::vector<std::string> devices_;
};

// Hands `out` to the sink, if any, once it holds `at_least` bytes, and empties it.
Status FlushTo(const TextSink* sink, size_t at_least, Buffer& out) {
  if (sink == nullptr || out.size() < at_least || out.empty()) return {};
  Status s = (*sink)(out);
  out.clear();
  return s;
}

// The header, then the names and sort order of the processes and lanes.
// The first entry has no leading comma; the rest are appended with one.
void AppendHeaderAndNames(const Profile& p, const std::string& file, DevicePids& pids,
                          Buffer& out) {
  const Timeline& t = p.timeline;
  out.append(std::string_view("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":"));
  AppendJsonQuoted(out, p.meta.tool);
  out.append(std::string_view(",\"profile\":"));
  AppendJsonQuoted(out, file);
  out.append(std::string_view(",\"clock\":"));
  AppendJsonQuoted(out, p.meta.clock);
  out.append(std::string_view(",\"measured_j\":"));
  AppendDouble(out, p.MeasuredJ());
  out.append(std::string_view("},\n\"traceEvents\":[\n"));
  fmt::format_to(std::back_inserter(out),
                 "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,"
                 "\"args\":{{\"name\":\"steps\"}}}}");
  AppendSortIndex(out, "process_sort_index", 1, 0, 0);
  for (size_t i = 0; i < pids.devices().size(); ++i) {
    const int pid = static_cast<int>(i) + 2;
    AppendMetadata(out, "process_name", pid, 0, "name", pids.devices()[i]);
    AppendSortIndex(out, "process_sort_index", pid, 0, pid);
  }
  for (size_t l = 0; l < t.lanes.size(); ++l) {
    const int pid = pids.Of(t.lanes[l].device);
    const int tid = static_cast<int>(l) + 1;
    AppendMetadata(out, "thread_name", pid, tid, "name",
                   t.lanes[l].name.empty() ? fmt::format("lane {}", l) : t.lanes[l].name);
    AppendSortIndex(out, "thread_sort_index", pid, tid, tid);
  }
}

// Steps: one slice each, with the energy of the events in it.
void AppendSteps(const Timeline& t, Buffer& out) {
  if (t.steps.empty()) return;
  AppendMetadata(out, "thread_name", 1, 0, "name", "steps");
  std::vector<double> step_j(t.steps.size(), 0.0);
  for (const TimelineEvent& e : t.events)
    if (e.step >= 0 && static_cast<size_t>(e.step) < step_j.size()) step_j[e.step] += e.self_j;
  for (size_t s = 0; s < t.steps.size(); ++s) {
    const Step& step = t.steps[s];
    out.append(std::string_view(",\n{\"ph\":\"X\",\"pid\":1,\"tid\":0,\"name\":"));
    AppendJsonQuoted(out, step.name.empty() ? fmt::format("step {}", s) : step.name);
    out.append(std::string_view(",\"ts\":"));
    AppendMicros(out, step.start_ns);
    out.append(std::string_view(",\"dur\":"));
    AppendMicros(out, std::max<int64_t>(0, step.end_ns - step.start_ns));
    out.append(std::string_view(",\"args\":{\"energy_j\":"));
    AppendDouble(out, step_j[s]);
    out.append(std::string_view("}}"));
  }
}

// The events, lane by lane, with their inclusive and self energy.
Status AppendEvents(const Profile& p, DevicePids& pids, const TextSink* sink, Buffer& out) {
  const Timeline& t = p.timeline;
  auto it = std::back_inserter(out);
  const std::vector<uint32_t> order = LaneOrder(t);
  const std::vector<double> inclusive_j = InclusiveEnergy(t, order);
  for (uint32_t i : order) {
    const TimelineEvent& e = t.events[i];
    if (e.lane >= t.lanes.size() || e.node >= p.nodes.size()) continue;
    const ProfileNode& n = p.nodes[e.node];
    const int64_t dur_ns = e.end_ns - e.start_ns;
    fmt::format_to(it, ",\n{{\"ph\":\"X\",\"pid\":{},\"tid\":{},\"name\":",
                   pids.Of(t.lanes[e.lane].device), e.lane + 1);
    AppendJsonQuoted(out, n.path.empty() ? std::string_view("(root)") : std::string_view(n.name));
    out.append(std::string_view(",\"ts\":"));
    AppendMicros(out, e.start_ns);
    out.append(std::string_view(",\"dur\":"));
    AppendMicros(out, dur_ns);
    out.append(std::string_view(",\"args\":{\"path\":"));
    AppendJsonQuoted(out, n.path);
    out.append(std::string_view(",\"energy_j\":"));
    AppendDouble(out, inclusive_j[i]);
    out.append(std::string_view(",\"self_energy_j\":"));
    AppendDouble(out, e.self_j);
    out.append(std::string_view(",\"power_w\":"));
    AppendDouble(out, dur_ns > 0 ? inclusive_j[i] / (dur_ns * 1e-9) : 0.0);
    fmt::format_to(it, ",\"phase\":\"{}\"", ToString(e.phase));
    if (e.step >= 0 && static_cast<size_t>(e.step) < t.steps.size()) {
      out.append(std::string_view(",\"step\":"));
      AppendJsonQuoted(out, t.steps[e.step].name);
    }
    out.append(std::string_view("}}"));
    SMG_RETURN_IF_ERROR(FlushTo(sink, kPieceBytes, out));
  }
  return Status();
}

// Power: one counter track per domain, a sample at each change; it drops
// to 0 at the end of the domain's part of the window, where accounting stops.
Status AppendPower(const Profile& p, DevicePids& pids, const TextSink* sink, Buffer& out) {
  const Timeline& t = p.timeline;
  auto it = std::back_inserter(out);
  for (size_t d = 0; d < t.power.size(); ++d) {
    const PowerTrack& track = t.power[d];
    if (track.power_w.empty()) continue;
    std::string device;
    for (const ProfileDomain& dom : p.domains)
      if (dom.name == track.domain) device = dom.device;
    const int pid = device.empty() ? 1 : pids.Of(device);
    const std::string name = track.domain + " power";
    for (size_t i = 0; i < track.t_ns.size(); ++i) {
      fmt::format_to(it, ",\n{{\"ph\":\"C\",\"pid\":{},\"tid\":0,\"name\":", pid);
      AppendJsonQuoted(out, name);
      out.append(std::string_view(",\"ts\":"));
      AppendMicros(out, track.t_ns[i]);
      out.append(std::string_view(",\"args\":{\"W\":"));
      AppendDouble(out, i < track.power_w.size() ? track.power_w[i] : 0.0);
      out.append(std::string_view("}}"));
      SMG_RETURN_IF_ERROR(FlushTo(sink, kPieceBytes, out));
    }
  }
  return Status();
}

// Writes the trace into `out`; with a sink, hands `out` to it whenever it
// holds a piece's worth and empties it, and at the end.
Status BuildPerfetto(const Profile& p, const std::string& file, Buffer& out,
                     const TextSink* sink) {
  if (p.timeline.empty())
    return BadInput(file,
                    fmt::format("the profile has no timeline to show (account leaves it out with "
                                "--timeline never, and by default above {} trace events; older "
                                "profiles have none). Run `smaragdine account … --timeline "
                                "always` again to keep it",
                                kTimelineAutoMaxEvents));
  DevicePids pids(p);
  AppendHeaderAndNames(p, file, pids, out);
  AppendSteps(p.timeline, out);
  SMG_RETURN_IF_ERROR(AppendEvents(p, pids, sink, out));
  SMG_RETURN_IF_ERROR(AppendPower(p, pids, sink, out));
  out.append(std::string_view("\n]}\n"));
  return FlushTo(sink, 0, out);
}

}  // namespace

Result<std::string> RenderPerfetto(const Profile& p, const std::string& file) {
  Buffer out;
  out.reserve(EstimatedSize(p));
  SMG_RETURN_IF_ERROR(BuildPerfetto(p, file, out, nullptr));
  return out;
}

Status WritePerfetto(const Profile& p, const std::string& file, const TextSink& sink) {
  Buffer out;
  out.reserve(kPieceBytes + (kPieceBytes >> 4));
  return BuildPerfetto(p, file, out, &sink);
}

}  // namespace smaragdine
