// profile.json writer and reader (DESIGN §7.3; field by field in docs/profile-format.md).
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/io.h"
#include "common/json_text.h"
#include "common/output_file.h"
#include "profile/json_offset.h"
#include "profile/profile_stream.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

constexpr const char* kPhaseNames[kPhaseCount] = {"forward", "backward", "optimizer", "other"};
constexpr const char* kKindNames[3] = {"scope", "op", "kernel"};

using Buffer = fmt::memory_buffer;

// What WriteProfileJson hands its sink at a time: a 10 M-event profile is ~470 MB
// of text, which would otherwise be built whole and then copied (issue 16).
constexpr size_t kPieceBytes = size_t{1} << 20;

// The text being written and, when streaming, where it goes. The long lists (nodes,
// the timeline's columns, power tracks, data flow) call Spill() after each element,
// so at most about a piece is held; without a sink everything stays in `text`.
struct Output {
  Buffer text;
  const TextSink* sink = nullptr;
  Status status;  // the sink's first error; nothing is handed on after it
  // False once a hand-over has failed: the writer stops there.
  bool Spill() {
    if (sink == nullptr || text.size() < kPieceBytes) return status.ok();
    return HandOn();
  }
  // Hands whatever is held to the sink (at the end, and from Spill).
  bool HandOn() {
    if (status.ok() && text.size() > 0)
      status = (*sink)(std::string_view(text.data(), text.size()));
    text.clear();
    return status.ok();
  }
};

// Shortest representation that reads back to the same double (fmt's `{}`);
// JSON has no NaN or infinity, so those become null.
void AppendDouble(Buffer& out, double v) {
  if (!std::isfinite(v)) {
    out.append(std::string_view("null"));
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", v);
}

// {domain: joules}, zero entries left out: most nodes touch few domains, and
// this keeps a 100k-node profile small.
void AppendDomainMap(Buffer& out, const Profile& p, const std::vector<double>& v) {
  out.push_back('{');
  bool first = true;
  for (size_t d = 0; d < v.size() && d < p.domains.size(); ++d) {
    if (v[d] == 0) continue;
    if (!first) out.push_back(',');
    first = false;
    AppendJsonQuoted(out, p.domains[d].name);
    out.push_back(':');
    AppendDouble(out, v[d]);
  }
  out.push_back('}');
}

bool AnyNonZero(const std::vector<double>& v) {
  for (double x : v)
    if (x != 0) return true;
  return false;
}

void AppendNode(Buffer& out, const Profile& p, const ProfileNode& n, bool has_baseline) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"id\":{},\"parent\":", n.id);
  if (n.parent < 0)
    out.append(std::string_view("null"));
  else
    fmt::format_to(it, "{}", n.parent);
  out.append(std::string_view(",\"name\":"));
  AppendJsonQuoted(out, n.name);
  out.append(std::string_view(",\"path\":"));
  AppendJsonQuoted(out, n.path);
  fmt::format_to(it, ",\"kind\":\"{}\",\"self\":", kKindNames[static_cast<int>(n.kind)]);
  AppendDomainMap(out, p, n.self_j);
  out.append(std::string_view(",\"total\":"));
  AppendDomainMap(out, p, n.total_j);
  if (has_baseline || AnyNonZero(n.total_static_j)) {
    out.append(std::string_view(",\"total_static\":"));
    AppendDomainMap(out, p, n.total_static_j);
  }
  // Only when the method gives one (regression): a proportional profile reads as before.
  if (!n.total_ci95_j.empty()) {
    out.append(std::string_view(",\"total_ci95\":"));
    AppendDomainMap(out, p, n.total_ci95_j);
  }
  fmt::format_to(it, ",\"time_ns\":{},\"calls\":{},\"phases\":{{", n.time_ns, n.calls);
  bool first = true;
  for (int ph = 0; ph < kPhaseCount; ++ph) {
    const PhaseFigures& f = n.phases[ph];
    if (f.empty()) continue;
    if (!first) out.push_back(',');
    first = false;
    fmt::format_to(it, "\"{}\":{{\"self\":", kPhaseNames[ph]);
    AppendDomainMap(out, p, f.self_j);
    out.append(std::string_view(",\"total\":"));
    AppendDomainMap(out, p, f.total_j);
    fmt::format_to(it, ",\"time_ns\":{},\"calls\":{}}}", f.time_ns, f.calls);
  }
  fmt::format_to(it, "}},\"steps\":{{\"n\":{},\"mean_j\":", n.steps.n);
  AppendDouble(out, n.steps.mean_j);
  out.append(std::string_view(",\"std_j\":"));
  AppendDouble(out, n.steps.std_j);
  out.append(std::string_view(",\"ci95_j\":"));
  AppendDouble(out, n.steps.ci95_j);
  out.push_back('}');
  // Only in profiles with processes (ranks): one-process profiles read as before.
  if (!n.process_total_j.empty()) {
    const size_t nd = p.domains.size();
    out.append(std::string_view(",\"processes\":{\"total\":["));
    for (size_t q = 0; nd > 0 && (q + 1) * nd <= n.process_total_j.size(); ++q) {
      out.append(std::string_view(q ? ",[" : "["));
      for (size_t d = 0; d < nd; ++d) {
        if (d) out.push_back(',');
        AppendDouble(out, n.process_total_j[q * nd + d]);
      }
      out.push_back(']');
    }
    fmt::format_to(it, "],\"time_ns\":[{}],\"calls\":[{}]}}",
                   fmt::join(n.process_time_ns, ","), fmt::join(n.process_calls, ","));
  }
  // Only nodes that path rules merged from several originals have siblings.
  if (n.siblings.n > 0) {
    const SiblingStats& s = n.siblings;
    fmt::format_to(it, ",\"siblings\":{{\"n\":{},\"mean_j\":", s.n);
    AppendDouble(out, s.mean_j);
    out.append(std::string_view(",\"std_j\":"));
    AppendDouble(out, s.std_j);
    out.append(std::string_view(",\"min_j\":"));
    AppendDouble(out, s.min_j);
    out.append(std::string_view(",\"min_path\":"));
    AppendJsonQuoted(out, s.min_path);
    out.append(std::string_view(",\"max_j\":"));
    AppendDouble(out, s.max_j);
    out.append(std::string_view(",\"max_path\":"));
    AppendJsonQuoted(out, s.max_path);
    out.push_back('}');
  }
  out.push_back('}');
}

// False when a hand-over failed (the column is then cut short).
template <typename T, typename F>
bool AppendColumn(Output& o, const char* key, const std::vector<T>& rows, F value) {
  Buffer& out = o.text;
  fmt::format_to(std::back_inserter(out), "\"{}\":[", key);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out.push_back(',');
    value(rows[i]);
    if (!o.Spill()) return false;
  }
  out.push_back(']');
  return true;
}

// The timeline, column by column (one array per field): a million events
// cost a few tens of MB instead of an object each. Start times are deltas
// from the previous event's start (the first from 0), durations follow.
// False when a hand-over failed.
bool AppendTimeline(Output& o, const Timeline& t) {
  Buffer& out = o.text;
  auto it = std::back_inserter(out);
  out.append(std::string_view("\"timeline\":{\"lanes\":["));
  for (size_t i = 0; i < t.lanes.size(); ++i) {
    out.append(std::string_view(i ? ",{\"device\":" : "{\"device\":"));
    AppendJsonQuoted(out, t.lanes[i].device);
    out.append(std::string_view(",\"name\":"));
    AppendJsonQuoted(out, t.lanes[i].name);
    out.push_back('}');
  }
  out.append(std::string_view("],\n\"steps\":["));
  for (size_t i = 0; i < t.steps.size(); ++i) {
    out.append(std::string_view(i ? ",{\"name\":" : "{\"name\":"));
    AppendJsonQuoted(out, t.steps[i].name);
    fmt::format_to(it, ",\"start_ns\":{},\"end_ns\":{}}}", t.steps[i].start_ns, t.steps[i].end_ns);
    if (!o.Spill()) return false;
  }
  fmt::format_to(it, "],\n\"events\":{{\"n\":{},\n", t.events.size());
  const auto& ev = t.events;
  const auto number = [&](auto v) { fmt::format_to(it, "{}", v); };
  if (!AppendColumn(o, "lane", ev, [&](const TimelineEvent& e) { number(e.lane); })) return false;
  out.append(std::string_view(",\n"));
  int64_t previous_ns = 0;
  if (!AppendColumn(o, "start_delta_ns", ev, [&](const TimelineEvent& e) {
        number(e.start_ns - previous_ns);
        previous_ns = e.start_ns;
      }))
    return false;
  out.append(std::string_view(",\n"));
  if (!AppendColumn(o, "dur_ns", ev, [&](const TimelineEvent& e) { number(e.end_ns - e.start_ns); }))
    return false;
  out.append(std::string_view(",\n"));
  if (!AppendColumn(o, "node", ev, [&](const TimelineEvent& e) { number(e.node); })) return false;
  out.append(std::string_view(",\n"));
  if (!AppendColumn(o, "step", ev, [&](const TimelineEvent& e) { number(e.step); })) return false;
  out.append(std::string_view(",\n"));
  if (!AppendColumn(o, "phase", ev,
                    [&](const TimelineEvent& e) { number(static_cast<int>(e.phase)); }))
    return false;
  out.append(std::string_view(",\n"));
  if (!AppendColumn(o, "self_j", ev, [&](const TimelineEvent& e) { AppendDouble(out, e.self_j); }))
    return false;
  out.append(std::string_view("},\n\"power\":["));
  for (size_t d = 0; d < t.power.size(); ++d) {
    const PowerTrack& track = t.power[d];
    out.append(std::string_view(d ? ",\n{\"domain\":" : "\n{\"domain\":"));
    AppendJsonQuoted(out, track.domain);
    fmt::format_to(it, ",\"start_ns\":{},", track.t_ns.empty() ? 0 : track.t_ns[0]);
    // dt_ns[i] = t_ns[i + 1] − t_ns[i]: the length of power_w[i]'s step.
    std::vector<int64_t> dt(track.power_w.size());
    for (size_t i = 0; i < dt.size() && i + 1 < track.t_ns.size(); ++i)
      dt[i] = track.t_ns[i + 1] - track.t_ns[i];
    if (!AppendColumn(o, "dt_ns", dt, [&](int64_t v) { number(v); })) return false;
    out.push_back(',');
    if (!AppendColumn(o, "power_w", track.power_w, [&](double v) { AppendDouble(out, v); }))
      return false;
    out.push_back('}');
  }
  out.append(std::string_view("]}"));
  return true;
}

}  // namespace

// "processes": [{"pid":…,"rank":…,…}, …] — the ranks the nodes' per-process
// figures are of; -1 (unknown) and "" are left out.
void AppendProcesses(Buffer& out, const std::vector<Process>& processes) {
  auto it = std::back_inserter(out);
  out.append(std::string_view("\"processes\":[\n"));
  for (size_t i = 0; i < processes.size(); ++i) {
    const Process& q = processes[i];
    out.append(std::string_view(i ? ",\n{" : "{"));
    bool first = true;
    auto number = [&](std::string_view key, int64_t v) {
      if (v < 0) return;
      fmt::format_to(it, "{}\"{}\":{}", first ? "" : ",", key, v);
      first = false;
    };
    auto text = [&](std::string_view key, const std::string& v) {
      if (v.empty()) return;
      fmt::format_to(it, "{}\"{}\":", first ? "" : ",", key);
      AppendJsonQuoted(out, v);
      first = false;
    };
    number("pid", q.pid);
    number("rank", q.rank);
    number("local_rank", q.local_rank);
    number("world_size", q.world_size);
    text("host", q.host);
    text("trace", q.source);
    out.push_back('}');
  }
  out.append(std::string_view("],\n"));
}

// "machines": each merged machine's own window and domains (MergeProfiles).
void AppendMachines(Buffer& out, const Profile& p) {
  auto it = std::back_inserter(out);
  out.append(std::string_view("\"machines\":[\n"));
  for (size_t i = 0; i < p.machines.size(); ++i) {
    const ProfileMachine& m = p.machines[i];
    out.append(std::string_view(i ? ",\n{\"host\":" : "{\"host\":"));
    AppendJsonQuoted(out, m.host);
    out.append(std::string_view(",\"profile\":"));
    AppendJsonQuoted(out, m.profile);
    out.append(std::string_view(",\"clock\":"));
    AppendJsonQuoted(out, m.clock);
    fmt::format_to(it, ",\"window_start_ns\":{},\"window_end_ns\":{},\"steps\":{},\"processes\":[{}],\"domains\":[",
                   m.window_start_ns, m.window_end_ns, m.steps, fmt::join(m.processes, ","));
    for (size_t d = 0; d < m.domains.size(); ++d) {
      const ProfileDomain& dom = m.domains[d];
      out.append(std::string_view(d ? ",{\"name\":" : "{\"name\":"));
      AppendJsonQuoted(out, dom.name);
      out.append(std::string_view(",\"device\":"));
      AppendJsonQuoted(out, dom.device);
      out.append(std::string_view(",\"measured_j\":"));
      AppendDouble(out, dom.measured_j);
      out.append(std::string_view(",\"idle_j\":"));
      AppendDouble(out, dom.idle_j);
      out.append(std::string_view(",\"other_j\":"));
      AppendDouble(out, dom.other_j);
      out.push_back('}');
    }
    out.append(std::string_view("]}"));
  }
  out.append(std::string_view("],\n"));
}

namespace {

// "format", "meta" and "domains"; whether any domain has a baseline (the nodes
// then all carry total_static).
bool AppendHead(Buffer& out, const Profile& p) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"format\":\"{}\",\n\"meta\":{{\"tool\":", kProfileFormat);
  const ProfileMeta& m = p.meta;
  AppendJsonQuoted(out, m.tool);
  out.append(std::string_view(",\"energy_source\":"));
  AppendJsonQuoted(out, m.energy_source);
  out.append(std::string_view(",\"traces\":["));
  for (size_t i = 0; i < m.traces.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonQuoted(out, m.traces[i]);
  }
  out.append(std::string_view("],\"dialect\":"));
  AppendJsonQuoted(out, m.dialect);
  out.append(std::string_view(",\"method\":"));
  AppendJsonQuoted(out, m.method);
  if (!m.method_reason.empty()) {
    out.append(std::string_view(",\"method_reason\":"));
    AppendJsonQuoted(out, m.method_reason);
  }
  if (!m.meter.empty()) {
    out.append(std::string_view(",\"meter\":"));
    AppendJsonQuoted(out, m.meter);
  }
  out.append(std::string_view(",\"alignment\":"));
  AppendJsonQuoted(out, m.alignment);
  out.append(std::string_view(",\"clock\":"));
  AppendJsonQuoted(out, m.clock);
  if (!m.host.empty()) {
    out.append(std::string_view(",\"host\":"));
    AppendJsonQuoted(out, m.host);
  }
  if (!m.job_id.empty()) {
    out.append(std::string_view(",\"job_id\":"));
    AppendJsonQuoted(out, m.job_id);
  }
  fmt::format_to(it, ",\"window_start_ns\":{},\"window_end_ns\":{},\"steps\":{},\"warnings\":[",
                 m.window_start_ns, m.window_end_ns, m.steps);
  const auto& warnings = p.diagnostics.warnings();
  for (size_t i = 0; i < warnings.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonQuoted(out, warnings[i]);
  }
  out.append(std::string_view("]},\n\"domains\":[\n"));
  bool has_baseline = false;
  for (size_t d = 0; d < p.domains.size(); ++d) {
    const ProfileDomain& dom = p.domains[d];
    if (!std::isnan(dom.baseline_w)) has_baseline = true;
    out.append(std::string_view(d ? ",\n{\"name\":" : "{\"name\":"));
    AppendJsonQuoted(out, dom.name);
    out.append(std::string_view(",\"device\":"));
    AppendJsonQuoted(out, dom.device);
    out.append(std::string_view(",\"source\":"));
    AppendJsonQuoted(out, dom.source);
    out.append(std::string_view(",\"measured_j\":"));
    AppendDouble(out, dom.measured_j);
    out.append(std::string_view(",\"idle_j\":"));
    AppendDouble(out, dom.idle_j);
    out.append(std::string_view(",\"baseline_w\":"));
    AppendDouble(out, dom.baseline_w);
    out.append(std::string_view(",\"static_j\":"));
    AppendDouble(out, dom.static_j);
    if (!dom.share.empty()) {
      // Only for a split domain: profiles without a process share read as before.
      out.append(std::string_view(",\"other_j\":"));
      AppendDouble(out, dom.other_j);
      out.append(std::string_view(",\"share\":"));
      AppendJsonQuoted(out, dom.share);
    }
    fmt::format_to(it, ",\"modeled\":{}}}", dom.modeled ? "true" : "false");
  }
  out.append(std::string_view("],\n"));
  return has_baseline;
}

// The whole profile.json into `o`, handed on as it grows when `o` has a sink.
// False when a hand-over failed.
bool AppendProfile(Output& o, const Profile& p) {
  Buffer& out = o.text;
  auto it = std::back_inserter(out);
  const bool has_baseline = AppendHead(out, p);
  if (!p.processes.empty()) AppendProcesses(out, p.processes);
  if (!p.machines.empty()) AppendMachines(out, p);
  out.append(std::string_view("\"nodes\":[\n"));
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    if (i) out.append(std::string_view(",\n"));
    AppendNode(out, p, p.nodes[i], has_baseline);
    if (!o.Spill()) return false;
  }
  out.append(std::string_view("],\n"));
  if (!p.dataflow.empty()) {
    // Only when the trace recorded data flow: other profiles read as before.
    out.append(std::string_view("\"dataflow\":["));
    for (size_t i = 0; i < p.dataflow.size(); ++i) {
      fmt::format_to(it, "{}[{},{}]", i ? "," : "", p.dataflow[i].first, p.dataflow[i].second);
      if (!o.Spill()) return false;
    }
    out.append(std::string_view("],\n"));
  }
  if (!p.timeline.empty()) {
    if (!AppendTimeline(o, p.timeline)) return false;
    out.append(std::string_view(",\n"));
  }
  out.append(std::string_view("\"diagnostics\":{"));
  bool first = true;
  for (const auto& [name, n] : p.diagnostics.counts()) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonQuoted(out, name);
    fmt::format_to(it, ":{}", n);
  }
  out.append(std::string_view("}}\n"));
  return true;
}

}  // namespace

std::string ProfileToJson(const Profile& p) {
  Output o;
  AppendProfile(o, p);
  return fmt::to_string(o.text);
}

Status WriteProfileJson(const Profile& p, const TextSink& sink) {
  Output o;
  o.sink = &sink;
  o.text.reserve(kPieceBytes + (kPieceBytes >> 4));
  if (AppendProfile(o, p)) o.HandOn();
  return o.status;
}

Status WriteProfileJson(const Profile& profile, const std::string& path) {
  SMG_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  SMG_RETURN_IF_ERROR(
      WriteProfileJson(profile, [&file](std::string_view piece) { return file.Write(piece); }));
  return file.Commit();
}


// ---------------------------------------------------------------------------
// Reader

namespace {

namespace dom = simdjson::dom;

class Reader {
 public:
  // `streamed`: the text is StreamProfileFile's `rest`, whose big arrays are
  // in `streamed` (taken from it as they are read).
  explicit Reader(const std::string& name, StreamedProfile* streamed = nullptr)
      : name_(name), streamed_(streamed) {}

  // After Parse: the streamed text held something the whole-file reader
  // must judge (its error message), so read the file whole.
  bool fell_back() const { return fell_back_; }

  Error Bad(const std::string& where, const std::string& what) const {
    return BadInput(name_, where.empty() ? what : fmt::format("{}: {}", where, what));
  }

  // Looks up `key` in `obj`; `required` fields missing are an error.
  Result<dom::element> Field(dom::object obj, const char* key, const std::string& where,
                             bool required, bool* present) const {
    dom::element e;
    auto err = obj[key].get(e);
    *present = !err;
    if (err && required) return Bad(where, fmt::format("missing field '{}'", key));
    return e;
  }

  Result<std::string> String(dom::object obj, const char* key, const std::string& where,
                             bool required = false) const {
    bool present;
    SMG_ASSIGN_OR_RETURN(dom::element e, Field(obj, key, where, required, &present));
    if (!present) return std::string();
    std::string_view s;
    if (e.get(s)) return Bad(where, fmt::format("'{}' must be a string", key));
    return std::string(s);
  }

  // null reads as NaN (the writer's spelling of a missing or non-finite value).
  Result<double> Double(dom::element e, const std::string& where, const char* key) const {
    if (e.is_null()) return NAN;
    double v;
    if (e.get_double().get(v)) return Bad(where, fmt::format("'{}' must be a number", key));
    return v;
  }

  Result<double> Double(dom::object obj, const char* key, const std::string& where,
                        double missing = 0) const {
    bool present;
    SMG_ASSIGN_OR_RETURN(dom::element e, Field(obj, key, where, false, &present));
    if (!present) return missing;
    return Double(e, where, key);
  }

  Result<int64_t> Int(dom::object obj, const char* key, const std::string& where,
                      bool required = false) const {
    bool present;
    SMG_ASSIGN_OR_RETURN(dom::element e, Field(obj, key, where, required, &present));
    if (!present) return int64_t{0};
    int64_t v;
    if (e.get_int64().get(v)) return Bad(where, fmt::format("'{}' must be an integer", key));
    return v;
  }

  Result<std::vector<double>> DomainMap(dom::object obj, const char* key, const std::string& where,
                                        const std::unordered_map<std::string, size_t>& index,
                                        size_t n_domains) const {
    std::vector<double> v(n_domains, 0.0);
    dom::element e;
    if (obj[key].get(e)) return v;
    dom::object map;
    if (e.get(map)) return Bad(where, fmt::format("'{}' must be an object", key));
    for (auto [k, value] : map) {
      auto it = index.find(std::string(k));
      if (it == index.end())
        return Bad(where, fmt::format("'{}' names domain '{}', which is not in 'domains'", key,
                                      std::string(k)));
      SMG_ASSIGN_OR_RETURN(double x, Double(value, where, key));
      v[it->second] = x;
    }
    return v;
  }

  // `text` is followed by simdjson::SIMDJSON_PADDING readable bytes.
  Result<Profile> Parse(std::string_view text) {
    dom::parser parser;
    dom::element doc;
    if (auto err = parser.parse(text.data(), text.size(), false).get(doc)) {
      if (streamed_) return FallBack();
      int64_t offset = FindJsonErrorOffset(text);
      return BadInput(name_, fmt::format("not valid JSON: {}", simdjson::error_message(err)), -1,
                      offset);
    }
    dom::object top;
    if (doc.get(top)) return Bad("", "a profile must be a JSON object");
    std::string_view format;
    if (top["format"].get(format))
      return Bad("", fmt::format("no \"format\" field: not a profile (expected \"{}\")",
                                 kProfileFormat));
    SMG_RETURN_IF_ERROR(CheckFormat(format));

    Profile p;
    dom::object meta;
    if (!top["meta"].get(meta)) SMG_RETURN_IF_ERROR(ReadMeta(meta, p));

    dom::array domains;
    if (top["domains"].get(domains)) return Bad("", "missing array 'domains'");
    std::unordered_map<std::string, size_t> index;
    for (dom::element e : domains) {
      std::string where = fmt::format("domains[{}]", p.domains.size());
      dom::object o;
      if (e.get(o)) return Bad(where, "must be an object");
      ProfileDomain d;
      SMG_ASSIGN_OR_RETURN(d.name, String(o, "name", where, true));
      SMG_ASSIGN_OR_RETURN(d.device, String(o, "device", where));
      SMG_ASSIGN_OR_RETURN(d.source, String(o, "source", where));
      SMG_ASSIGN_OR_RETURN(d.measured_j, Double(o, "measured_j", where));
      SMG_ASSIGN_OR_RETURN(d.idle_j, Double(o, "idle_j", where));
      SMG_ASSIGN_OR_RETURN(d.baseline_w, Double(o, "baseline_w", where, NAN));
      SMG_ASSIGN_OR_RETURN(d.static_j, Double(o, "static_j", where));
      SMG_ASSIGN_OR_RETURN(d.other_j, Double(o, "other_j", where));  // absent: not split
      if (std::isnan(d.other_j)) d.other_j = 0;
      for (const auto& [field, v] : {std::pair<const char*, double>{"measured_j", d.measured_j},
                                     std::pair<const char*, double>{"idle_j", d.idle_j},
                                     std::pair<const char*, double>{"other_j", d.other_j},
                                     std::pair<const char*, double>{"static_j", d.static_j}}) {
        if (!std::isfinite(v) || v < -1e-12 - 1e-9 * std::abs(v))
          return Bad(where, fmt::format("'{}' must be a finite number of joules, not negative "
                                        "(it is {})", field, v));
      }
      if (std::isinf(d.baseline_w) || d.baseline_w < 0)
        return Bad(where, fmt::format("'baseline_w' must be a finite number of watts, not "
                                      "negative (it is {})", d.baseline_w));
      SMG_ASSIGN_OR_RETURN(d.share, String(o, "share", where));
      bool modeled = false;
      dom::element m;
      if (!o["modeled"].get(m) && m.get(modeled)) return Bad(where, "'modeled' must be a boolean");
      d.modeled = modeled;
      if (!index.emplace(d.name, p.domains.size()).second)
        return Bad(where, fmt::format("domain '{}' appears twice", d.name));
      p.domains.push_back(std::move(d));
    }

    dom::element processes;
    if (!top["processes"].get(processes)) SMG_RETURN_IF_ERROR(ReadProcesses(processes, p));

    dom::array nodes;
    if (top["nodes"].get(nodes)) return Bad("", "missing array 'nodes'");
    p.nodes.reserve(nodes.size());
    for (dom::element e : nodes) {
      SMG_RETURN_IF_ERROR(ReadNode(e, index, p));
    }
    if (p.nodes.empty()) return Bad("nodes", "empty: a profile has at least the root node");
    SMG_RETURN_IF_ERROR(CheckTree(p));
    SMG_RETURN_IF_ERROR(CheckPhaseTree(p));

    dom::element machines;
    if (!top["machines"].get(machines)) SMG_RETURN_IF_ERROR(ReadMachines(machines, p));

    dom::element dataflow;
    if (!top["dataflow"].get(dataflow)) SMG_RETURN_IF_ERROR(ReadDataflow(dataflow, p));

    dom::element timeline;
    if (!top["timeline"].get(timeline)) SMG_RETURN_IF_ERROR(ReadTimeline(timeline, p));

    dom::object diags;
    if (!top["diagnostics"].get(diags)) {
      for (auto [k, v] : diags) {
        int64_t n;
        if (v.get_int64().get(n))
          return Bad("diagnostics", fmt::format("'{}' must be an integer", std::string(k)));
        p.diagnostics.Add(k, n);
      }
    }
    return p;
  }

 private:
  Status CheckFormat(std::string_view format) const {
    constexpr std::string_view kPrefix = "smaragdine-profile/";
    if (format.substr(0, kPrefix.size()) != kPrefix)
      return Bad("", fmt::format("format \"{}\" is not a Smaragdine profile (expected \"{}\")",
                                 std::string(format), kProfileFormat));
    std::string_view version = format.substr(kPrefix.size());
    // Saturated, not wrapped: "smaragdine-profile/4294967297" is a newer major
    // version, not 1 (a fuzzer found the int overflowing).
    int major = 0;
    size_t i = 0;
    for (; i < version.size() && version[i] >= '0' && version[i] <= '9'; ++i)
      major = std::min(major * 10 + (version[i] - '0'), 1'000'000);
    if (i == 0 || (i < version.size() && version[i] != '.'))
      return Bad("", fmt::format("format \"{}\" has no version number (expected \"{}\")",
                                 std::string(format), kProfileFormat));
    if (major != 1)
      return Bad("", fmt::format("format \"{}\" is not supported: this smaragdine reads \"{}\"{}",
                                 std::string(format), kProfileFormat,
                                 major > 1 ? " (the profile was written by a newer version)" : ""));
    return {};
  }

  Status ReadMeta(dom::object meta, Profile& p) const {
    ProfileMeta& m = p.meta;
    const std::string where = "meta";
    SMG_ASSIGN_OR_RETURN(m.tool, String(meta, "tool", where));
    SMG_ASSIGN_OR_RETURN(m.energy_source, String(meta, "energy_source", where));
    SMG_ASSIGN_OR_RETURN(m.dialect, String(meta, "dialect", where));
    SMG_ASSIGN_OR_RETURN(m.method, String(meta, "method", where));
    SMG_ASSIGN_OR_RETURN(m.method_reason, String(meta, "method_reason", where));
    SMG_ASSIGN_OR_RETURN(m.meter, String(meta, "meter", where));
    SMG_ASSIGN_OR_RETURN(m.alignment, String(meta, "alignment", where));
    SMG_ASSIGN_OR_RETURN(m.clock, String(meta, "clock", where));
    SMG_ASSIGN_OR_RETURN(m.window_start_ns, Int(meta, "window_start_ns", where));
    SMG_ASSIGN_OR_RETURN(m.window_end_ns, Int(meta, "window_end_ns", where));
    SMG_ASSIGN_OR_RETURN(m.steps, Int(meta, "steps", where));
    SMG_ASSIGN_OR_RETURN(m.host, String(meta, "host", where));
    SMG_ASSIGN_OR_RETURN(m.job_id, String(meta, "job_id", where));
    for (const char* key : {"traces", "warnings"}) {
      dom::element e;
      if (meta[key].get(e)) continue;
      dom::array a;
      if (e.get(a)) return Bad(where, fmt::format("'{}' must be an array of strings", key));
      for (dom::element s : a) {
        std::string_view sv;
        if (s.get(sv)) return Bad(where, fmt::format("'{}' must be an array of strings", key));
        if (key[0] == 't')
          m.traces.emplace_back(sv);
        else
          p.diagnostics.Warn(std::string(sv));
      }
    }
    return {};
  }

  // Energies are judged on reading (issue 17): a profile from someone else may
  // hold any number. Each must be finite and not negative, and a total not below
  // its self, beyond rounding (the writer prints doubles exactly; sums of
  // children round at ~1e-16 relative). null reads as NaN and is refused here.
  Status CheckEnergies(const std::string& where, const Profile& p,
                       const std::vector<double>& self_j,
                       const std::vector<double>& total_j) const {
    auto tolerance = [](double v) { return 1e-12 + 1e-9 * std::abs(v); };
    for (size_t d = 0; d < self_j.size() && d < p.domains.size(); ++d) {
      const std::string& domain = p.domains[d].name;
      for (const auto& [field, v] : {std::pair<const char*, double>{"self", self_j[d]},
                                     std::pair<const char*, double>{"total", total_j[d]}}) {
        if (!std::isfinite(v))
          return Bad(where, fmt::format("'{}' of domain '{}' is not a finite number", field,
                                        domain));
        if (v < -tolerance(v))
          return Bad(where, fmt::format("'{}' of domain '{}' is negative ({} J)", field, domain,
                                        v));
      }
      if (total_j[d] < self_j[d] - tolerance(self_j[d]))
        return Bad(where, fmt::format("'total' of domain '{}' ({} J) is below its 'self' ({} J)",
                                      domain, total_j[d], self_j[d]));
    }
    return {};
  }

  // How a node is named in a message about its values: its index and its
  // path (at most 200 bytes of it; printing escapes what a terminal would obey).
  static std::string NodeWhere(const std::string& where, const std::string& path) {
    if (path.empty()) return where + " (the root)";
    constexpr size_t kShown = 200;
    return path.size() <= kShown
               ? fmt::format("{} (node '{}')", where, path)
               : fmt::format("{} (node '{}…', {} bytes)", where, path.substr(0, kShown), path.size());
  }

  // Times and call counts are counts: never negative.
  Status CheckCounts(const std::string& where, int64_t time_ns, int64_t calls) const {
    if (time_ns < 0) return Bad(where, fmt::format("'time_ns' is negative ({})", time_ns));
    if (calls < 0) return Bad(where, fmt::format("'calls' is negative ({})", calls));
    return {};
  }

  // The tree, once every node is read (issue 17, items 2 and 5). Per domain:
  //  - a node's self plus its children's totals is at most its total, beyond
  //    rounding, and a node with children holds no more than that either:
  //    its total is its self plus its children's totals, to 1e-6 relative.
  //    Only a leaf may hold more than its self: `report --format json
  //    --depth N` keeps the dropped descendants' energy in the totals at the
  //    cut, and a cut drops all of a node's children or none;
  //  - the root's total plus (idle) plus (other processes) is at most the
  //    measured energy, and equal to it when the root is the whole tree (its
  //    path is empty; `--root` makes a subtree the root, with its path).
  // A profile that breaks them was not written by smaragdine, or was edited:
  // reports would draw shares above 100 % and negative remainders.
  Status CheckTree(const Profile& p) const {
    const size_t nd = p.domains.size();
    std::vector<double> children(p.nodes.size() * nd, 0.0);
    std::vector<bool> inner(p.nodes.size(), false);
    for (size_t i = 1; i < p.nodes.size(); ++i) {
      inner[static_cast<size_t>(p.nodes[i].parent)] = true;
      for (size_t d = 0; d < nd; ++d)
        children[static_cast<size_t>(p.nodes[i].parent) * nd + d] += p.nodes[i].total_j[d];
    }
    // Rounding: each double sum is off by ~1e-16 of its size per term.
    auto tolerance = [](double v) { return 1e-12 + 1e-9 * std::abs(v); };
    for (size_t i = 0; i < p.nodes.size(); ++i) {
      const ProfileNode& n = p.nodes[i];
      for (size_t d = 0; d < nd; ++d) {
        const double inside = n.self_j[d] + children[i * nd + d];
        if (inside > n.total_j[d] + tolerance(inside))
          return Bad(NodeWhere(fmt::format("nodes[{}]", i), n.path),
                     fmt::format("its 'self' ({} J) and its children's totals ({} J) of domain "
                                 "'{}' add up to more than its 'total' ({} J)",
                                 n.self_j[d], children[i * nd + d], p.domains[d].name,
                                 n.total_j[d]));
      }
    }
    // Conservation: what a parent holds beyond itself and its children is
    // energy no report can place (1e-6 of the larger: well beyond rounding,
    // well below what a report prints).
    for (size_t i = 0; i < p.nodes.size(); ++i) {
      const ProfileNode& n = p.nodes[i];
      for (size_t d = 0; d < nd && inner[i]; ++d) {
        const double inside = n.self_j[d] + children[i * nd + d];
        if (inside < n.total_j[d] - (1e-12 + 1e-6 * std::max(inside, n.total_j[d])))
          return Bad(NodeWhere(fmt::format("nodes[{}]", i), n.path),
                     fmt::format("its 'self' ({} J) and its children's totals ({} J) of domain "
                                 "'{}' add up to {} J, less than its 'total' ({} J): a node's "
                                 "total is its self plus its children's totals (only a leaf, at "
                                 "a --depth cut, holds more than its self)",
                                 n.self_j[d], children[i * nd + d], p.domains[d].name, inside,
                                 n.total_j[d]));
      }
    }
    const ProfileNode& root = p.nodes[0];
    for (size_t d = 0; d < nd; ++d) {
      const ProfileDomain& pd = p.domains[d];
      const double accounted = root.total_j[d] + pd.idle_j + pd.other_j;
      const double tol = tolerance(std::max(accounted, pd.measured_j));
      const bool whole_tree = root.path.empty();
      if (accounted > pd.measured_j + tol || (whole_tree && accounted < pd.measured_j - tol))
        return Bad(
            NodeWhere("nodes[0]", root.path),
            fmt::format("domain '{}': the root's total ({} J) plus idle ({} J) plus other "
                        "processes ({} J) is {} J, {} the measured {} J (energy is conserved: "
                        "they are equal in a profile smaragdine wrote{})",
                        pd.name, root.total_j[d], pd.idle_j, pd.other_j, accounted,
                        accounted > pd.measured_j ? "more than" : "less than", pd.measured_j,
                        whole_tree ? "" : ", and at most the measured under --root"));
    }
    return {};
  }

  // The per-phase figures, once the tree itself has passed CheckTree (issue
  // 17): each phase's figures are the node's restricted to that phase's
  // events, and roll up the same way (tree::RollUpPhaseTotals). Per phase and
  // domain, a node's phase self plus its children's phase totals is its phase
  // total, to 1e-6 relative (a leaf may hold more: a --depth cut keeps the
  // dropped descendants' phase energy at the cut, as it does their energy);
  // and the phases, being disjoint parts of the node's events, add up to no
  // more than the node's total (a profile may leave phases out, so less is
  // allowed).
  Status CheckPhaseTree(const Profile& p) const {
    const size_t nd = p.domains.size(), nn = p.nodes.size();
    auto tolerance = [](double a, double b) { return 1e-12 + 1e-6 * std::max(a, b); };
    std::vector<bool> inner(nn, false);
    for (size_t i = 1; i < nn; ++i) inner[static_cast<size_t>(p.nodes[i].parent)] = true;
    std::vector<double> children(nn * nd);
    for (int ph = 0; ph < kPhaseCount; ++ph) {
      std::fill(children.begin(), children.end(), 0.0);
      for (size_t i = 1; i < nn; ++i)
        for (size_t d = 0; d < nd; ++d)
          children[static_cast<size_t>(p.nodes[i].parent) * nd + d] += p.nodes[i].phases[ph].total_j[d];
      for (size_t i = 0; i < nn; ++i) {
        const PhaseFigures& f = p.nodes[i].phases[ph];
        for (size_t d = 0; d < nd; ++d) {
          const double inside = f.self_j[d] + children[i * nd + d];
          const bool more = inside > f.total_j[d] + tolerance(inside, f.total_j[d]);
          const bool less = inner[i] && inside < f.total_j[d] - tolerance(inside, f.total_j[d]);
          if (!more && !less) continue;
          return Bad(NodeWhere(fmt::format("nodes[{}].phases.{}", i, kPhaseNames[ph]),
                               p.nodes[i].path),
                     fmt::format("its 'self' ({} J) and its children's {} totals ({} J) of domain "
                                 "'{}' add up to {} J, {} its 'total' ({} J): a phase's total is "
                                 "its self plus its children's totals of that phase{}",
                                 f.self_j[d], kPhaseNames[ph], children[i * nd + d],
                                 p.domains[d].name, inside, more ? "more than" : "less than",
                                 f.total_j[d],
                                 more ? "" : " (only a leaf, at a --depth cut, holds more)"));
        }
      }
    }
    for (size_t i = 0; i < nn; ++i) {
      const ProfileNode& n = p.nodes[i];
      for (size_t d = 0; d < nd; ++d) {
        double phases_j = 0;
        for (const PhaseFigures& f : n.phases) phases_j += f.total_j[d];
        if (phases_j > n.total_j[d] + tolerance(phases_j, n.total_j[d]))
          return Bad(NodeWhere(fmt::format("nodes[{}].phases", i), n.path),
                     fmt::format("the phases' totals of domain '{}' add up to {} J, more than the "
                                 "node's 'total' ({} J): each phase is a part of the node's events",
                                 p.domains[d].name, phases_j, n.total_j[d]));
      }
    }
    return {};
  }

  Status ReadNode(dom::element e, const std::unordered_map<std::string, size_t>& index,
                  Profile& p) const {
    const size_t i = p.nodes.size();
    std::string where = fmt::format("nodes[{}]", i);
    dom::object o;
    if (e.get(o)) return Bad(where, "must be an object");
    ProfileNode n;
    n.id = static_cast<uint32_t>(i);
    SMG_ASSIGN_OR_RETURN(int64_t id, Int(o, "id", where, true));
    if (id != static_cast<int64_t>(i))
      return Bad(where, fmt::format("id {} must equal its position {}", id, i));
    dom::element parent;
    if (o["parent"].get(parent) || parent.is_null()) {
      n.parent = -1;
    } else if (parent.get_int64().get(n.parent)) {
      return Bad(where, "'parent' must be an integer or null");
    }
    if (i == 0 && n.parent != -1) return Bad(where, "the first node must be the root (parent null)");
    if (i > 0 && (n.parent < 0 || n.parent >= static_cast<int64_t>(i)))
      return Bad(where, fmt::format("parent {} must be an earlier node", n.parent));
    SMG_ASSIGN_OR_RETURN(n.name, String(o, "name", where));
    SMG_ASSIGN_OR_RETURN(n.path, String(o, "path", where, i > 0));
    SMG_ASSIGN_OR_RETURN(std::string kind, String(o, "kind", where));
    if (kind.empty() || kind == "scope") {
      n.kind = NodeKind::kScope;
    } else if (kind == "op") {
      n.kind = NodeKind::kOp;
    } else if (kind == "kernel") {
      n.kind = NodeKind::kKernel;
    } else {
      return Bad(where, fmt::format("unknown kind '{}' (scope, op or kernel)", kind));
    }
    const size_t nd = p.domains.size();
    SMG_ASSIGN_OR_RETURN(n.self_j, DomainMap(o, "self", where, index, nd));
    SMG_ASSIGN_OR_RETURN(n.total_j, DomainMap(o, "total", where, index, nd));
    const std::string node_where = NodeWhere(where, n.path);
    SMG_RETURN_IF_ERROR(CheckEnergies(node_where, p, n.self_j, n.total_j));
    SMG_ASSIGN_OR_RETURN(n.total_static_j, DomainMap(o, "total_static", where, index, nd));
    if (dom::element ci; !o["total_ci95"].get(ci)) {
      SMG_ASSIGN_OR_RETURN(n.total_ci95_j, DomainMap(o, "total_ci95", where, index, nd));
    }
    SMG_ASSIGN_OR_RETURN(n.time_ns, Int(o, "time_ns", where));
    SMG_ASSIGN_OR_RETURN(n.calls, Int(o, "calls", where));
    SMG_RETURN_IF_ERROR(CheckCounts(node_where, n.time_ns, n.calls));
    for (PhaseFigures& f : n.phases) {
      f.self_j.assign(nd, 0.0);
      f.total_j.assign(nd, 0.0);
    }
    dom::element phases_e;
    if (!o["phases"].get(phases_e)) {
      dom::object phases;
      if (phases_e.get(phases)) return Bad(where, "'phases' must be an object");
      for (auto [k, v] : phases) {
        int ph = -1;
        for (int q = 0; q < kPhaseCount; ++q)
          if (k == kPhaseNames[q]) ph = q;
        std::string pw = fmt::format("{}.phases.{}", where, std::string(k));
        if (ph < 0) return Bad(pw, "unknown phase (forward, backward, optimizer or other)");
        dom::object po;
        if (v.get(po)) return Bad(pw, "must be an object");
        PhaseFigures& f = n.phases[ph];
        SMG_ASSIGN_OR_RETURN(f.self_j, DomainMap(po, "self", pw, index, nd));
        SMG_ASSIGN_OR_RETURN(f.total_j, DomainMap(po, "total", pw, index, nd));
        SMG_RETURN_IF_ERROR(CheckEnergies(NodeWhere(pw, n.path), p, f.self_j, f.total_j));
        SMG_ASSIGN_OR_RETURN(f.time_ns, Int(po, "time_ns", pw));
        SMG_ASSIGN_OR_RETURN(f.calls, Int(po, "calls", pw));
        SMG_RETURN_IF_ERROR(CheckCounts(NodeWhere(pw, n.path), f.time_ns, f.calls));
      }
    }
    dom::element steps_e;
    if (!o["steps"].get(steps_e)) {
      dom::object s;
      std::string sw = where + ".steps";
      if (steps_e.get(s)) return Bad(sw, "must be an object");
      SMG_ASSIGN_OR_RETURN(n.steps.n, Int(s, "n", sw));
      SMG_ASSIGN_OR_RETURN(n.steps.mean_j, Double(s, "mean_j", sw));
      SMG_ASSIGN_OR_RETURN(n.steps.std_j, Double(s, "std_j", sw));
      SMG_ASSIGN_OR_RETURN(n.steps.ci95_j, Double(s, "ci95_j", sw));
    }
    SMG_RETURN_IF_ERROR(ReadNodeProcesses(o, node_where, p, n));
    dom::element siblings_e;
    if (!o["siblings"].get(siblings_e)) {
      dom::object s;
      std::string sw = where + ".siblings";
      if (siblings_e.get(s)) return Bad(sw, "must be an object");
      SiblingStats& st = n.siblings;
      SMG_ASSIGN_OR_RETURN(st.n, Int(s, "n", sw));
      if (st.n < 0) return Bad(sw, fmt::format("'n' must not be negative (it is {})", st.n));
      SMG_ASSIGN_OR_RETURN(st.mean_j, Double(s, "mean_j", sw));
      SMG_ASSIGN_OR_RETURN(st.std_j, Double(s, "std_j", sw));
      SMG_ASSIGN_OR_RETURN(st.min_j, Double(s, "min_j", sw));
      SMG_ASSIGN_OR_RETURN(st.max_j, Double(s, "max_j", sw));
      SMG_ASSIGN_OR_RETURN(st.min_path, String(s, "min_path", sw));
      SMG_ASSIGN_OR_RETURN(st.max_path, String(s, "max_path", sw));
    }
    p.nodes.push_back(std::move(n));
    return {};
  }

  // "processes" of the whole profile: who the per-process figures are of.
  Status ReadProcesses(dom::element e, Profile& p) const {
    dom::array a;
    if (e.get(a)) return Bad("processes", "must be an array of objects");
    for (dom::element x : a) {
      const std::string where = fmt::format("processes[{}]", p.processes.size());
      dom::object o;
      if (x.get(o)) return Bad(where, "must be an object");
      Process q;
      if (dom::element v; !o["pid"].get(v)) {
        SMG_ASSIGN_OR_RETURN(q.pid, Int(o, "pid", where));
        if (q.pid < 0) return Bad(where, "'pid' must not be negative");
      }
      for (auto [key, slot] : {std::pair{"rank", &q.rank}, std::pair{"local_rank", &q.local_rank},
                               std::pair{"world_size", &q.world_size}}) {
        dom::element v;
        if (o[key].get(v)) continue;
        SMG_ASSIGN_OR_RETURN(int64_t n, Int(o, key, where));
        if (n < 0 || n > std::numeric_limits<int32_t>::max())
          return Bad(where, fmt::format("'{}' must be a non-negative 32-bit integer", key));
        *slot = static_cast<int32_t>(n);
      }
      SMG_ASSIGN_OR_RETURN(q.host, String(o, "host", where));
      SMG_ASSIGN_OR_RETURN(q.source, String(o, "trace", where));
      p.processes.push_back(std::move(q));
    }
    return {};
  }

  // A node's "processes": {"total": [[J per domain] per process], "time_ns":
  // [...], "calls": [...]}, one entry per profile process; absent when the
  // profile has none. Checked: sizes, finite non-negative values, and that
  // they add up to the node's own figures (to 1e-6).
  Status ReadNodeProcesses(dom::object o, const std::string& where, const Profile& p,
                           ProfileNode& n) const {
    dom::element e;
    const size_t np = p.processes.size(), nd = p.domains.size();
    if (o["processes"].get(e)) {
      if (np > 0) return Bad(where, "has no 'processes' figures, but the profile has processes");
      return {};
    }
    const std::string pw = where + ".processes";
    if (np == 0) return Bad(pw, "per-process figures in a profile without 'processes'");
    dom::object po;
    if (e.get(po)) return Bad(pw, "must be an object");
    dom::array total, time, calls;
    if (po["total"].get(total) || po["time_ns"].get(time) || po["calls"].get(calls))
      return Bad(pw, "must have arrays 'total', 'time_ns' and 'calls'");
    if (total.size() != np || time.size() != np || calls.size() != np)
      return Bad(pw, fmt::format("must have one entry per process ({})", np));
    n.process_total_j.reserve(np * nd);
    for (dom::element row : total) {
      dom::array r;
      if (row.get(r) || r.size() != nd)
        return Bad(pw, fmt::format("'total' entries must be arrays of {} numbers, one per domain", nd));
      for (dom::element v : r) {
        double j = 0;
        if (v.get(j) || !std::isfinite(j) || j < -1e-12 - 1e-9 * std::abs(j))
          return Bad(pw, "'total' must hold finite numbers of joules, not negative");
        n.process_total_j.push_back(j);
      }
    }
    for (auto [arr, into] : {std::pair{&time, &n.process_time_ns}, std::pair{&calls, &n.process_calls}})
      for (dom::element v : *arr) {
        int64_t x = 0;
        if (v.get(x) || x < 0) return Bad(pw, "'time_ns' and 'calls' must hold non-negative integers");
        into->push_back(x);
      }
    for (size_t d = 0; d < nd; ++d) {
      double sum = 0;
      for (size_t q = 0; q < np; ++q) sum += n.process_total_j[q * nd + d];
      if (std::abs(sum - n.total_j[d]) > 1e-9 + 1e-6 * std::max(std::abs(sum), std::abs(n.total_j[d])))
        return Bad(pw, fmt::format("the processes' totals of domain '{}' add up to {} J, not the "
                                   "node's {} J",
                                   p.domains[d].name, sum, n.total_j[d]));
    }
    return {};
  }

  // "machines" of a merged job profile.
  Status ReadMachines(dom::element e, Profile& p) const {
    dom::array a;
    if (e.get(a)) return Bad("machines", "must be an array of objects");
    for (dom::element x : a) {
      const std::string where = fmt::format("machines[{}]", p.machines.size());
      dom::object o;
      if (x.get(o)) return Bad(where, "must be an object");
      ProfileMachine m;
      SMG_ASSIGN_OR_RETURN(m.host, String(o, "host", where));
      SMG_ASSIGN_OR_RETURN(m.profile, String(o, "profile", where));
      SMG_ASSIGN_OR_RETURN(m.clock, String(o, "clock", where));
      SMG_ASSIGN_OR_RETURN(m.window_start_ns, Int(o, "window_start_ns", where));
      SMG_ASSIGN_OR_RETURN(m.window_end_ns, Int(o, "window_end_ns", where));
      SMG_ASSIGN_OR_RETURN(m.steps, Int(o, "steps", where));
      dom::array procs, doms;
      if (o["processes"].get(procs) || o["domains"].get(doms))
        return Bad(where, "must have arrays 'processes' and 'domains'");
      for (dom::element v : procs) {
        int64_t q = -1;
        if (v.get(q) || q < 0 || static_cast<size_t>(q) >= p.processes.size())
          return Bad(where, "'processes' must hold indices into the profile's processes");
        m.processes.push_back(static_cast<uint32_t>(q));
      }
      for (dom::element v : doms) {
        dom::object d;
        if (v.get(d)) return Bad(where, "'domains' must hold objects");
        ProfileDomain pd;
        SMG_ASSIGN_OR_RETURN(pd.name, String(d, "name", where, true));
        SMG_ASSIGN_OR_RETURN(pd.device, String(d, "device", where));
        SMG_ASSIGN_OR_RETURN(pd.measured_j, Double(d, "measured_j", where));
        SMG_ASSIGN_OR_RETURN(pd.idle_j, Double(d, "idle_j", where));
        SMG_ASSIGN_OR_RETURN(pd.other_j, Double(d, "other_j", where));
        for (double v2 : {pd.measured_j, pd.idle_j, pd.other_j})
          if (!std::isfinite(v2) || v2 < -1e-12 - 1e-9 * std::abs(v2))
            return Bad(where, "a machine's domain energies must be finite, not negative");
        m.domains.push_back(std::move(pd));
      }
      p.machines.push_back(std::move(m));
    }
    return {};
  }

  // "dataflow": [[producer, consumer], ...], node indices.
  Status ReadDataflow(dom::element e, Profile& p) const {
    dom::array edges;
    if (e.get(edges)) return Bad("dataflow", "must be an array of [producer, consumer] pairs");
    for (dom::element edge : edges) {
      const std::string where = fmt::format("dataflow[{}]", p.dataflow.size());
      dom::array pair;
      int64_t ends[2];
      size_t k = 0;
      if (edge.get(pair) || pair.size() != 2)
        return Bad(where, "must be a [producer, consumer] pair of node indices");
      for (dom::element x : pair) {
        if (x.get_int64().get(ends[k]))
          return Bad(where, "must be a [producer, consumer] pair of node indices");
        if (ends[k] < 0 || static_cast<size_t>(ends[k]) >= p.nodes.size())
          return Bad(where,
                     fmt::format("{} is not a node (there are {})", ends[k], p.nodes.size()));
        ++k;
      }
      p.dataflow.emplace_back(static_cast<uint32_t>(ends[0]), static_cast<uint32_t>(ends[1]));
    }
    std::sort(p.dataflow.begin(), p.dataflow.end());
    p.dataflow.erase(std::unique(p.dataflow.begin(), p.dataflow.end()), p.dataflow.end());
    return {};
  }

  // One column of the timeline: an array of `n` numbers.
  template <typename T>
  Result<std::vector<T>> Column(dom::object obj, const char* key, const std::string& where,
                                size_t n) {
    const std::string w = where + "." + key;
    dom::element column;
    if (obj[key].get(column)) return Bad(where, fmt::format("missing array '{}'", key));
    const int64_t taken = Placeholder(column, std::is_same_v<T, double> ? 'D' : 'I');
    if (taken >= 0) {
      std::vector<T>* v;
      if constexpr (std::is_same_v<T, double>)
        v = &streamed_->double_arrays.at(static_cast<size_t>(taken));
      else
        v = &streamed_->int_arrays.at(static_cast<size_t>(taken));
      if (v->size() != n) return Bad(w, fmt::format("has {} entries, expected {}", v->size(), n));
      return std::move(*v);
    }
    dom::array a;
    if (column.get(a)) return Bad(where, fmt::format("missing array '{}'", key));
    if (a.size() != n)
      return Bad(w, fmt::format("has {} entries, expected {}", a.size(), n));
    std::vector<T> v;
    v.reserve(n);
    for (dom::element e : a) {
      if constexpr (std::is_same_v<T, double>) {
        SMG_ASSIGN_OR_RETURN(double x, Double(e, w, key));
        v.push_back(x);
      } else {
        int64_t x;
        if (e.get_int64().get(x))
          return Bad(fmt::format("{}[{}]", w, v.size()), "must be an integer");
        v.push_back(x);
      }
    }
    return v;
  }

  Status ReadTimeline(dom::element e, Profile& p) {
    const std::string where = "timeline";
    dom::object o;
    if (e.get(o)) return Bad(where, "must be an object");
    Timeline& t = p.timeline;
    dom::array lanes;
    if (o["lanes"].get(lanes)) return Bad(where, "missing array 'lanes'");
    for (dom::element l : lanes) {
      const std::string lw = fmt::format("timeline.lanes[{}]", t.lanes.size());
      dom::object lo;
      if (l.get(lo)) return Bad(lw, "must be an object");
      Lane lane;
      SMG_ASSIGN_OR_RETURN(lane.device, String(lo, "device", lw, true));
      SMG_ASSIGN_OR_RETURN(lane.name, String(lo, "name", lw));
      t.lanes.push_back(std::move(lane));
    }
    dom::array steps;
    if (!o["steps"].get(steps)) {
      for (dom::element s : steps) {
        const std::string sw = fmt::format("timeline.steps[{}]", t.steps.size());
        dom::object so;
        if (s.get(so)) return Bad(sw, "must be an object");
        Step step;
        SMG_ASSIGN_OR_RETURN(step.name, String(so, "name", sw));
        SMG_ASSIGN_OR_RETURN(step.start_ns, Int(so, "start_ns", sw, true));
        SMG_ASSIGN_OR_RETURN(step.end_ns, Int(so, "end_ns", sw, true));
        t.steps.push_back(std::move(step));
      }
    }
    dom::object ev;
    if (o["events"].get(ev)) return Bad(where, "missing object 'events'");
    const std::string ew = "timeline.events";
    SMG_ASSIGN_OR_RETURN(int64_t n, Int(ev, "n", ew, true));
    if (n < 0) return Bad(ew, fmt::format("'n' must not be negative (it is {})", n));
    const size_t count = static_cast<size_t>(n);
    if (streamed_ && streamed_->columns_taken != 0) {
      SMG_RETURN_IF_ERROR(TakeStreamedEvents(ev, count, p));
    } else {
      SMG_RETURN_IF_ERROR(ReadEventColumns(ev, count, p));
    }
    return ReadPowerTracks(o, p);
  }

  Status ReadEventColumns(dom::object ev, size_t count, Profile& p) {
    const std::string ew = "timeline.events";
    Timeline& t = p.timeline;
    SMG_ASSIGN_OR_RETURN(auto lane, Column<int64_t>(ev, "lane", ew, count));
    SMG_ASSIGN_OR_RETURN(auto start, Column<int64_t>(ev, "start_delta_ns", ew, count));
    SMG_ASSIGN_OR_RETURN(auto dur, Column<int64_t>(ev, "dur_ns", ew, count));
    SMG_ASSIGN_OR_RETURN(auto node, Column<int64_t>(ev, "node", ew, count));
    SMG_ASSIGN_OR_RETURN(auto step, Column<int64_t>(ev, "step", ew, count));
    SMG_ASSIGN_OR_RETURN(auto phase, Column<int64_t>(ev, "phase", ew, count));
    SMG_ASSIGN_OR_RETURN(auto self_j, Column<double>(ev, "self_j", ew, count));
    t.events.resize(count);
    int64_t start_ns = 0;
    for (size_t i = 0; i < count; ++i) {
      auto bad = [&](const char* key, int64_t v, std::string why) {
        return Bad(fmt::format("{}.{}[{}]", ew, key, i), fmt::format("{} {}", v, why));
      };
      if (lane[i] < 0 || static_cast<size_t>(lane[i]) >= t.lanes.size())
        return bad("lane", lane[i], fmt::format("is not a lane (there are {})", t.lanes.size()));
      if (node[i] < 0 || static_cast<size_t>(node[i]) >= p.nodes.size())
        return bad("node", node[i], fmt::format("is not a node (there are {})", p.nodes.size()));
      if (step[i] < -1 || step[i] >= static_cast<int64_t>(t.steps.size()))
        return bad("step", step[i],
                   fmt::format("is not a step (-1 or below {})", t.steps.size()));
      if (phase[i] < 0 || phase[i] >= kPhaseCount)
        return bad("phase", phase[i], "is not a phase (0 forward … 3 other)");
      if (dur[i] < 0) return bad("dur_ns", dur[i], "is negative");
      start_ns += start[i];
      TimelineEvent& te = t.events[i];
      te.start_ns = start_ns;
      te.end_ns = start_ns + dur[i];
      te.lane = static_cast<uint32_t>(lane[i]);
      te.node = static_cast<uint32_t>(node[i]);
      te.step = static_cast<int32_t>(step[i]);
      te.phase = static_cast<Phase>(phase[i]);
      te.self_j = self_j[i];
    }
    return {};
  }

  // The events the stream scanner read into place: the same checks, in the
  // same order, as ReadEventColumns. Columns missing, given as something
  // other than the scanner's array, or of another length than `n`: read the
  // file whole, for the whole-file reader's message.
  Status TakeStreamedEvents(dom::object ev, size_t count, Profile& p) {
    const std::string ew = "timeline.events";
    for (int c = 0; c < kEventColumnCount; ++c) {
      dom::element column;
      if (ev[kEventColumns[c]].get(column) || Placeholder(column, 'E') != c ||
          streamed_->column_entries[static_cast<size_t>(c)] != count)
        return FallBack();
    }
    if (streamed_->events.size() != count) return FallBack();
    Timeline& t = p.timeline;
    t.events = std::move(streamed_->events);
    int64_t start_ns = 0;
    for (size_t i = 0; i < count; ++i) {
      TimelineEvent& te = t.events[i];
      auto bad = [&](const char* key, int64_t v, std::string why) {
        return Bad(fmt::format("{}.{}[{}]", ew, key, i), fmt::format("{} {}", v, why));
      };
      // Until here start_ns holds start_delta_ns and end_ns dur_ns.
      const int64_t delta_ns = te.start_ns, dur_ns = te.end_ns;
      if (te.lane >= t.lanes.size())
        return bad("lane", te.lane, fmt::format("is not a lane (there are {})", t.lanes.size()));
      if (te.node >= p.nodes.size())
        return bad("node", te.node, fmt::format("is not a node (there are {})", p.nodes.size()));
      if (te.step < -1 || te.step >= static_cast<int64_t>(t.steps.size()))
        return bad("step", te.step, fmt::format("is not a step (-1 or below {})", t.steps.size()));
      if (static_cast<int>(te.phase) >= kPhaseCount)
        return bad("phase", static_cast<int>(te.phase), "is not a phase (0 forward … 3 other)");
      if (dur_ns < 0) return bad("dur_ns", dur_ns, "is negative");
      start_ns += delta_ns;
      te.start_ns = start_ns;
      te.end_ns = start_ns + dur_ns;
    }
    return {};
  }

  Status ReadPowerTracks(dom::object o, Profile& p) {
    const std::string where = "timeline";
    Timeline& t = p.timeline;
    dom::array power;
    if (!o["power"].get(power)) {
      for (dom::element pe : power) {
        const std::string pw = fmt::format("timeline.power[{}]", t.power.size());
        dom::object po;
        if (pe.get(po)) return Bad(pw, "must be an object");
        PowerTrack track;
        SMG_ASSIGN_OR_RETURN(track.domain, String(po, "domain", pw, true));
        SMG_ASSIGN_OR_RETURN(int64_t t0, Int(po, "start_ns", pw));
        // Its length sets the expected length of both (a placeholder's is
        // that of the array it took out).
        size_t steps_n = 0;
        dom::element powers;
        dom::array dts;
        if (po["power_w"].get(powers)) return Bad(pw, "missing array 'power_w'");
        if (int64_t taken = Placeholder(powers, 'D'); taken >= 0)
          steps_n = streamed_->double_arrays.at(static_cast<size_t>(taken)).size();
        else if (powers.get(dts))
          return Bad(pw, "missing array 'power_w'");
        else
          steps_n = dts.size();
        SMG_ASSIGN_OR_RETURN(auto dt, Column<int64_t>(po, "dt_ns", pw, steps_n));
        SMG_ASSIGN_OR_RETURN(track.power_w, Column<double>(po, "power_w", pw, steps_n));
        for (size_t i = 0; i < steps_n; ++i)
          if (!std::isfinite(track.power_w[i]))
            return Bad(fmt::format("{}.power_w[{}]", pw, i), "is not a finite number");
        if (steps_n > 0) track.t_ns.push_back(t0);
        for (size_t i = 0; i < steps_n; ++i) {
          if (dt[i] < 0)
            return Bad(fmt::format("{}.dt_ns[{}]", pw, i), fmt::format("{} is negative", dt[i]));
          track.t_ns.push_back(track.t_ns.back() + dt[i]);
        }
        t.power.push_back(std::move(track));
      }
    }
    // Which lanes each domain metered is not written: it follows from the devices.
    t.domain_lanes = MeteredLanes(p.domains, t.lanes);
    return {};
  }

  Error FallBack() {
    fell_back_ = true;
    return Internal("the streamed profile is read again whole");
  }

  // The index in a placeholder the stream scanner left for `e` (its kind:
  // 'E' an events column, 'I' an int array, 'D' a double array), or -1.
  int64_t Placeholder(dom::element e, char kind) const {
    std::string_view s;
    if (!streamed_ || e.get(s)) return -1;
    const std::string& tag = streamed_->tag;
    if (s.size() <= tag.size() + 1 || s.substr(0, tag.size()) != tag || s[tag.size()] != kind)
      return -1;
    int64_t index = -1;
    std::from_chars(s.data() + tag.size() + 1, s.data() + s.size(), index);
    return index;
  }

  const std::string& name_;
  StreamedProfile* streamed_;
  bool fell_back_ = false;
};

}  // namespace

Result<Profile> ParseProfileJson(const std::string& name, std::string_view text) {
  const simdjson::padded_string padded(text);
  return Reader(name).Parse(padded);
}

// A large profile is streamed (profile_stream.h): its timeline's arrays go
// straight into the profile, and only the rest of its text is held. Read
// whole (once, with simdjson's padding in place: no copy) when it cannot be
// streamed, and when the streamed text holds something to report.
Result<Profile> ReadProfileJson(const std::string& path) {
  {
    std::optional<StreamedProfile> streamed = StreamProfileFile(path, simdjson::SIMDJSON_PADDING);
    if (streamed) {
      Reader reader(path, &*streamed);
      Result<Profile> p = reader.Parse(streamed->rest);
      if (!reader.fell_back()) return p;
    }
  }
  SMG_ASSIGN_OR_RETURN(std::string text,
                       ReadFileMaybeGzip(path, simdjson::SIMDJSON_PADDING));
  if (text.capacity() >= text.size() + simdjson::SIMDJSON_PADDING) return Reader(path).Parse(text);
  return ParseProfileJson(path, text);  // inflated text: no spare room, so a padded copy
}

}  // namespace smaragdine
