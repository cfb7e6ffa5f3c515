// run.json + energy.csv (DESIGN §7.1): reading and writing a run directory.
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <cmath>
#include <set>
#include <system_error>

#include <limits>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/io.h"
#include "common/json_text.h"
#include "energy/energy_csv.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {

namespace {

constexpr std::string_view kFormatPrefix = "smaragdine-run/";
constexpr int kFormatMajor = 1;

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Reads run.json fields with messages that name the field ("domains[2].quantity").
class RunJsonReader {
 public:
  explicit RunJsonReader(std::string file) : file_(std::move(file)) {}

  Error Bad(std::string message) const { return BadInput(file_, std::move(message)); }

  static bool IsNull(simdjson::dom::element e) { return e.is_null(); }

  // Absent or null → nullopt.
  Result<std::optional<int64_t>> OptionalInt(simdjson::dom::object o, std::string_view key,
                                             const std::string& where) const {
    simdjson::dom::element e;
    if (o[key].get(e) != simdjson::SUCCESS || IsNull(e)) return std::optional<int64_t>();
    int64_t v = 0;
    if (e.get_int64().get(v) != simdjson::SUCCESS)
      return Bad(fmt::format("{}{} must be an integer", where, key));
    return std::optional<int64_t>(v);
  }

  Result<std::optional<double>> OptionalDouble(simdjson::dom::object o, std::string_view key,
                                               const std::string& where) const {
    simdjson::dom::element e;
    if (o[key].get(e) != simdjson::SUCCESS || IsNull(e)) return std::optional<double>();
    double v = 0;
    if (e.get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v))
      return Bad(fmt::format("{}{} must be a number", where, key));
    return std::optional<double>(v);
  }

  Result<std::optional<std::string>> OptionalString(simdjson::dom::object o,
                                                    std::string_view key,
                                                    const std::string& where) const {
    simdjson::dom::element e;
    if (o[key].get(e) != simdjson::SUCCESS || IsNull(e)) return std::optional<std::string>();
    std::string_view v;
    if (e.get_string().get(v) != simdjson::SUCCESS)
      return Bad(fmt::format("{}{} must be a string", where, key));
    return std::optional<std::string>(std::string(v));
  }

  // Absent or null → nullopt; otherwise it must be a T (a simdjson object or
  // array), or the error says what it must be.
  template <typename T>
  Result<std::optional<T>> Optional(simdjson::dom::object o, std::string_view key,
                                    std::string_view must_be) const {
    simdjson::dom::element e;
    if (o[key].get(e) != simdjson::SUCCESS || IsNull(e)) return std::optional<T>();
    T v;
    if (e.get<T>().get(v) != simdjson::SUCCESS)
      return Bad(fmt::format("{} must be {}", key, must_be));
    return std::optional<T>(v);
  }

  Status ReadInto(std::string_view json, EnergyLog& log) const {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element root;
    if (auto error = parser.parse(padded).get(root))
      return Bad(fmt::format("invalid JSON: {}", simdjson::error_message(error)));
    simdjson::dom::object top;
    if (root.get_object().get(top) != simdjson::SUCCESS)
      return Bad("expected a JSON object at the top level");

    SMG_ASSIGN_OR_RETURN(std::optional<std::string> format, OptionalString(top, "format", ""));
    if (!format)
      return Bad(fmt::format("missing \"format\" (expected \"{}{}\")", kFormatPrefix,
                             kFormatMajor));
    SMG_RETURN_IF_ERROR(CheckFormat(*format));

    SMG_ASSIGN_OR_RETURN(std::optional<std::string> clock, OptionalString(top, "clock", ""));
    if (!clock || *clock == "CLOCK_MONOTONIC") {
      log.clock = Clock::kMonotonic;
    } else if (*clock == "CLOCK_REALTIME") {
      log.clock = Clock::kRealtime;
    } else {
      return Bad(fmt::format(
          "clock \"{}\" is not known (expected \"CLOCK_MONOTONIC\" or \"CLOCK_REALTIME\")",
          *clock));
    }

    SMG_RETURN_IF_ERROR(ReadClockSync(top, log));
    SMG_RETURN_IF_ERROR(ReadDomains(top, log));
    SMG_RETURN_IF_ERROR(ReadBaseline(top, log));

    simdjson::dom::element command;
    if (top["command"].get(command) == simdjson::SUCCESS && !IsNull(command)) {
      simdjson::dom::array args;
      if (command.get_array().get(args) != simdjson::SUCCESS)
        return Bad("command must be an array of strings");
      for (simdjson::dom::element a : args) {
        std::string_view s;
        if (a.get_string().get(s) != simdjson::SUCCESS)
          return Bad("command must be an array of strings");
        log.command.emplace_back(s);
      }
    }
    SMG_ASSIGN_OR_RETURN(log.pid, OptionalInt(top, "pid", ""));
    SMG_ASSIGN_OR_RETURN(log.exit_code, OptionalInt(top, "exit_code", ""));
    SMG_ASSIGN_OR_RETURN(log.started_ns, OptionalInt(top, "started_ns", ""));
    SMG_ASSIGN_OR_RETURN(log.ended_ns, OptionalInt(top, "ended_ns", ""));
    SMG_RETURN_IF_ERROR(ReadLaunch(top, log));
    return {};
  }

 private:
  // "host" and "launch" (written by record since issue 13); both optional.
  Status ReadLaunch(simdjson::dom::object top, EnergyLog& log) const {
    LaunchInfo& li = log.launch;
    SMG_ASSIGN_OR_RETURN(std::optional<std::string> host, OptionalString(top, "host", ""));
    if (host) li.host = *host;
    SMG_ASSIGN_OR_RETURN(std::optional<simdjson::dom::object> given,
                         Optional<simdjson::dom::object>(top, "launch", "an object"));
    if (!given) return {};
    const simdjson::dom::object launch = *given;
    const std::string where = "launch.";
    for (auto [key, slot] : {std::pair{"launcher", &li.launcher}, std::pair{"job_id", &li.job_id},
                             std::pair{"step_id", &li.step_id}, std::pair{"node_id", &li.node_id},
                             std::pair{"cuda_visible_devices", &li.cuda_visible_devices}}) {
      SMG_ASSIGN_OR_RETURN(std::optional<std::string> v, OptionalString(launch, key, where));
      if (v) *slot = *v;
    }
    for (auto [key, slot] : {std::pair{"rank", &li.rank}, std::pair{"local_rank", &li.local_rank},
                             std::pair{"world_size", &li.world_size},
                             std::pair{"local_world_size", &li.local_world_size}}) {
      SMG_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptionalInt(launch, key, where));
      if (!v) continue;
      if (*v < 0 || *v > std::numeric_limits<int32_t>::max())
        return Bad(fmt::format("{}{} must be a non-negative integer", where, key));
      *slot = static_cast<int32_t>(*v);
    }
    return {};
  }

  Status CheckFormat(const std::string& format) const {
    auto unsupported = [&] {
      return Bad(fmt::format("unsupported run format '{}' (this smaragdine reads {}{})", format,
                             kFormatPrefix, kFormatMajor));
    };
    if (!std::string_view(format).starts_with(kFormatPrefix)) return unsupported();
    // "smaragdine-run/1" or a compatible minor revision "smaragdine-run/1.3".
    std::string_view version = std::string_view(format).substr(kFormatPrefix.size());
    std::string_view major = version.substr(0, version.find('.'));
    if (major != std::to_string(kFormatMajor)) return unsupported();
    return {};
  }

  Status ReadClockSync(simdjson::dom::object top, EnergyLog& log) const {
    SMG_ASSIGN_OR_RETURN(
        std::optional<simdjson::dom::array> pairs,
        Optional<simdjson::dom::array>(top, "clock_sync",
                                       "an array of {\"realtime_ns\", \"monotonic_ns\"} objects"));
    if (!pairs) return {};
    size_t i = 0;
    for (simdjson::dom::element p : *pairs) {
      std::string where = fmt::format("clock_sync[{}].", i++);
      simdjson::dom::object o;
      if (p.get_object().get(o) != simdjson::SUCCESS)
        return Bad(fmt::format("clock_sync[{}] must be an object", i - 1));
      SMG_ASSIGN_OR_RETURN(std::optional<int64_t> realtime, OptionalInt(o, "realtime_ns", where));
      SMG_ASSIGN_OR_RETURN(std::optional<int64_t> monotonic,
                           OptionalInt(o, "monotonic_ns", where));
      if (!realtime || !monotonic)
        return Bad(fmt::format("clock_sync[{}] needs both realtime_ns and monotonic_ns", i - 1));
      log.clock_sync.push_back({*realtime, *monotonic});
    }
    std::stable_sort(log.clock_sync.begin(), log.clock_sync.end(),
                     [](const ClockSyncPair& a, const ClockSyncPair& b) {
                       return a.monotonic_ns < b.monotonic_ns;
                     });
    return {};
  }

  Status ReadDomains(simdjson::dom::object top, EnergyLog& log) const {
    simdjson::dom::element e;
    if (top["domains"].get(e) != simdjson::SUCCESS || IsNull(e))
      return Bad("missing \"domains\" (the list of energy domains the run recorded)");
    simdjson::dom::array domains;
    if (e.get_array().get(domains) != simdjson::SUCCESS) return Bad("domains must be an array");
    std::set<std::string> seen;
    size_t i = 0;
    for (simdjson::dom::element d : domains) {
      std::string where = fmt::format("domains[{}].", i++);
      simdjson::dom::object o;
      if (d.get_object().get(o) != simdjson::SUCCESS)
        return Bad(fmt::format("domains[{}] must be an object", i - 1));
      DomainInfo info;
      SMG_ASSIGN_OR_RETURN(std::optional<std::string> name, OptionalString(o, "name", where));
      if (!name || name->empty()) return Bad(fmt::format("{}name is missing or empty", where));
      info.name = *name;
      if (!seen.insert(info.name).second)
        return Bad(fmt::format("domain '{}' is listed twice in domains", info.name));
      SMG_ASSIGN_OR_RETURN(std::optional<std::string> device, OptionalString(o, "device", where));
      info.device = device ? *device : GuessDevice(info.name);
      if (info.device.empty()) {
        return Bad(fmt::format(
            "{}device is missing and cannot be guessed from the name '{}'; add \"device\": "
            "\"CPU:0\" (or GPU:N)",
            where, info.name));
      }
      SMG_ASSIGN_OR_RETURN(std::optional<std::string> source, OptionalString(o, "source", where));
      info.source = source.value_or("");
      SMG_ASSIGN_OR_RETURN(std::optional<std::string> quantity,
                           OptionalString(o, "quantity", where));
      if (!quantity || *quantity == "energy") {
        info.quantity = Quantity::kEnergy;
      } else if (*quantity == "power") {
        info.quantity = Quantity::kPower;
      } else {
        return Bad(fmt::format("{}quantity is \"{}\" (expected \"energy\" or \"power\")", where,
                               *quantity));
      }
      SMG_ASSIGN_OR_RETURN(std::optional<double> resolution, OptionalDouble(o, "resolution_j", where));
      if (resolution && *resolution < 0)
        return Bad(fmt::format("{}resolution_j is {} J: a resolution cannot be negative", where,
                               *resolution));
      info.resolution_j = resolution.value_or(0.0);
      SMG_ASSIGN_OR_RETURN(std::optional<int64_t> interval,
                           OptionalInt(o, "update_interval_ns", where));
      info.update_interval_ns = interval.value_or(0);
      simdjson::dom::element modeled;
      if (o["modeled"].get(modeled) == simdjson::SUCCESS && !IsNull(modeled)) {
        if (modeled.get_bool().get(info.modeled) != simdjson::SUCCESS)
          return Bad(fmt::format("{}modeled must be true or false", where));
      }
      simdjson::dom::element meter_e;
      if (o["meter"].get(meter_e) == simdjson::SUCCESS && !IsNull(meter_e)) {
        simdjson::dom::object meter;
        if (meter_e.get_object().get(meter) != simdjson::SUCCESS)
          return Bad(fmt::format("{}meter must be an object", where));
        const std::string mwhere = where + "meter: ";
        SMG_ASSIGN_OR_RETURN(std::optional<std::string> kind, OptionalString(meter, "kind", mwhere));
        if (kind) {
          std::optional<MeterKind> k = ParseMeterKind(*kind);
          if (!k)
            return Bad(fmt::format(
                "{}kind is \"{}\" (expected counter, windowed-power, instant-power or unknown)",
                mwhere, *kind));
          info.meter.kind = *k;
        }
        SMG_ASSIGN_OR_RETURN(std::optional<int64_t> window, OptionalInt(meter, "window_ns", mwhere));
        if (window && *window < 0)
          return Bad(fmt::format("{}window_ns is negative ({})", mwhere, *window));
        info.meter.window_ns = window.value_or(0);
        SMG_ASSIGN_OR_RETURN(std::optional<std::string> field, OptionalString(meter, "field", mwhere));
        info.meter.field = field.value_or("");
        SMG_ASSIGN_OR_RETURN(std::optional<std::string> note, OptionalString(meter, "note", mwhere));
        info.meter.note = note.value_or("");
      }
      SMG_ASSIGN_OR_RETURN(info.stopped_ns, OptionalInt(o, "stopped_ns", where));
      SMG_ASSIGN_OR_RETURN(std::optional<std::string> stopped_reason,
                           OptionalString(o, "stopped_reason", where));
      info.stopped_reason = stopped_reason.value_or("");
      log.domains.push_back(std::move(info));
    }
    return {};
  }

  Status ReadBaseline(simdjson::dom::object top, EnergyLog& log) const {
    SMG_ASSIGN_OR_RETURN(std::optional<simdjson::dom::object> baseline,
                         Optional<simdjson::dom::object>(top, "baseline_w",
                                                         "an object {\"domain\": watts}"));
    if (!baseline) return {};
    for (auto [key, value] : *baseline) {
      double w = 0;
      if (value.get_double().get(w) != simdjson::SUCCESS || !std::isfinite(w))
        return Bad(fmt::format("baseline_w.{} must be a number of watts", key));
      if (w < 0)
        return Bad(fmt::format("baseline_w.{} is {} W: a baseline power cannot be negative", key,
                               w));
      log.baseline_w[std::string(key)] = w;
    }
    return {};
  }

  std::string file_;
};

// Non-finite doubles have no JSON spelling; they mean "unknown" there.
std::string JsonNumber(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

}  // namespace

// A domain name as a CSV field: quoted when it holds a comma, a quote or edge blanks.
std::string EnergyCsvField(std::string_view s) {
  bool quote = s.find_first_of(",\"") != std::string_view::npos ||
               (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.back() == ' ' ||
                               s.back() == '\t'));
  if (!quote) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  out.push_back('"');
  return out;
}

std::string RunJsonText(const EnergyLog& meta) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\n  \"format\": \"{}{}\",\n  \"clock\": \"{}\",\n", kFormatPrefix,
                 kFormatMajor, ToString(meta.clock));
  fmt::format_to(it, "  \"clock_sync\": [");
  for (size_t i = 0; i < meta.clock_sync.size(); ++i) {
    fmt::format_to(it, "{}\n    {{\"realtime_ns\": {}, \"monotonic_ns\": {}}}", i ? "," : "",
                   meta.clock_sync[i].realtime_ns, meta.clock_sync[i].monotonic_ns);
  }
  fmt::format_to(it, "{}],\n  \"domains\": [", meta.clock_sync.empty() ? "" : "\n  ");
  for (size_t i = 0; i < meta.domains.size(); ++i) {
    const DomainInfo& d = meta.domains[i];
    fmt::format_to(it,
                   "{}\n    {{\"name\": {}, \"device\": {}, \"source\": {}, \"quantity\": \"{}\", "
                   "\"resolution_j\": {}, \"update_interval_ns\": {}, \"modeled\": {}",
                   i ? "," : "", JsonQuote(d.name), JsonQuote(d.device), JsonQuote(d.source),
                   ToString(d.quantity), JsonNumber(d.resolution_j), d.update_interval_ns,
                   d.modeled ? "true" : "false");
    if (!d.meter.empty())
      fmt::format_to(it, ", \"meter\": {{\"kind\": \"{}\", \"window_ns\": {}, \"field\": {}, \"note\": {}}}",
                     ToString(d.meter.kind), d.meter.window_ns, JsonQuote(d.meter.field),
                     JsonQuote(d.meter.note));
    // Only for a domain that stopped mid-run, so older readers see nothing new otherwise.
    if (d.stopped_ns)
      fmt::format_to(it, ", \"stopped_ns\": {}, \"stopped_reason\": {}", *d.stopped_ns,
                     JsonQuote(d.stopped_reason));
    fmt::format_to(it, "}}");
  }
  fmt::format_to(it, "{}],\n  \"baseline_w\": {{", meta.domains.empty() ? "" : "\n  ");
  bool first = true;
  for (const auto& [domain, w] : meta.baseline_w) {
    fmt::format_to(it, "{}{}: {}", first ? "" : ", ", JsonQuote(domain), JsonNumber(w));
    first = false;
  }
  fmt::format_to(it, "}},\n  \"command\": [");
  for (size_t i = 0; i < meta.command.size(); ++i)
    fmt::format_to(it, "{}{}", i ? ", " : "", JsonQuote(meta.command[i]));
  fmt::format_to(it, "]");
  // Absent, not null, while unknown: a run.json written at start has no exit_code yet.
  auto optional = [&](std::string_view key, const std::optional<int64_t>& v) {
    if (v) fmt::format_to(it, ",\n  \"{}\": {}", key, *v);
  };
  optional("pid", meta.pid);
  // Only what is known: runs outside a launcher, and older runs, read as before.
  const LaunchInfo& li = meta.launch;
  if (!li.host.empty()) fmt::format_to(it, ",\n  \"host\": {}", JsonQuote(li.host));
  if (!li.launcher.empty() || !li.job_id.empty() || !li.cuda_visible_devices.empty()) {
    fmt::format_to(it, ",\n  \"launch\": {{\"launcher\": {}", JsonQuote(li.launcher));
    auto number = [&](std::string_view key, int32_t v) {
      if (v >= 0) fmt::format_to(it, ", \"{}\": {}", key, v);
    };
    number("rank", li.rank);
    number("local_rank", li.local_rank);
    number("world_size", li.world_size);
    number("local_world_size", li.local_world_size);
    auto text = [&](std::string_view key, const std::string& v) {
      if (!v.empty()) fmt::format_to(it, ", \"{}\": {}", key, JsonQuote(v));
    };
    text("job_id", li.job_id);
    text("step_id", li.step_id);
    text("node_id", li.node_id);
    text("cuda_visible_devices", li.cuda_visible_devices);
    fmt::format_to(it, "}}");
  }
  optional("exit_code", meta.exit_code);
  optional("started_ns", meta.started_ns);
  optional("ended_ns", meta.ended_ns);
  fmt::format_to(it, "\n}}\n");
  return fmt::to_string(out);
}


Result<EnergyLog> ReadRunDirectory(const std::string& dir) {
  const std::string json_path = dir + "/run.json";
  std::string csv_path = dir + "/energy.csv";
  // A finished run may have been compressed for archiving.
  if (!FileExists(csv_path) && FileExists(csv_path + ".gz")) csv_path += ".gz";

  SMG_ASSIGN_OR_RETURN(std::string json, ReadFileMaybeGzip(json_path));
  EnergyLog log;
  log.path = dir;
  SMG_RETURN_IF_ERROR(RunJsonReader(json_path).ReadInto(json, log));
  SMG_ASSIGN_OR_RETURN(std::string csv, ReadFileMaybeGzip(csv_path));
  SMG_RETURN_IF_ERROR(energy::ParseReadingsInto(csv_path, csv, energy::CsvKind::kRunDirectory,
                                                EnergyImportOptions{}, log));
  // cputime.csv came with the process share; runs recorded before it have none.
  const std::string cpu_path = dir + "/cputime.csv";
  std::string cpu_file = cpu_path;
  if (!FileExists(cpu_file) && FileExists(cpu_file + ".gz")) cpu_file += ".gz";
  if (FileExists(cpu_file)) {
    SMG_ASSIGN_OR_RETURN(std::string cpu_text, ReadFileMaybeGzip(cpu_file));
    SMG_RETURN_IF_ERROR(ParseCpuTimeCsv(cpu_file, cpu_text, log.cpu_time, log.diagnostics));
  }
  for (const auto& baseline : log.baseline_w) {
    const std::string& domain = baseline.first;
    bool known = std::any_of(log.domains.begin(), log.domains.end(),
                             [&](const DomainInfo& d) { return d.name == domain; });
    if (!known)
      log.diagnostics.Warn(fmt::format(
          "{}: baseline_w names domain '{}', which is not in domains; ignored", json_path, domain));
  }
  return log;
}

int64_t CpuTimeLog::Process::CpuNsAt(size_t k) const {
  const auto it = std::upper_bound(sample.begin(), sample.end(), k);
  return it == sample.begin() ? 0 : cpu_ns[static_cast<size_t>(it - sample.begin()) - 1];
}

const CpuTimeLog::Process* CpuTimeLog::FindProcess(int64_t pid) const {
  const auto it = std::lower_bound(processes.begin(), processes.end(), pid,
                                   [](const Process& p, int64_t v) { return p.pid < v; });
  return it != processes.end() && it->pid == pid ? &*it : nullptr;
}

namespace {
// A parent row's fields, "parent:PID" and "PPID" (PID was started by PPID):
// the message of what is wrong with them, empty when they are right.
std::string ParseParentRow(std::string_view f_thread, std::string_view f_parent, int64_t& pid,
                           int64_t& ppid) {
  auto positive = [](std::string_view f, int64_t& v) {
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    return ec == std::errc() && p == f.data() + f.size() && v > 0;
  };
  const std::string_view f_pid = f_thread.substr(std::string_view("parent:").size());
  if (!positive(f_pid, pid)) return fmt::format("parent row: '{}' is not a process id", f_pid);
  if (!positive(f_parent, ppid) || ppid == pid)
    return fmt::format("parent row of process {}: '{}' is not the process id of another process",
                       pid, f_parent);
  return {};
}

// The parsed log made cumulative since its first sample (tree, machine and
// each process), each process given its parent, processes sorted by pid.
void FinishCpuTimeLog(const std::map<int64_t, int64_t>& parent_of, CpuTimeLog& out) {
  if (out.t_ns.empty()) return;
  const int64_t tree0 = out.tree_ns.front(), busy0 = out.machine_busy_ns.front();
  for (size_t i = 0; i < out.t_ns.size(); ++i) {
    out.tree_ns[i] -= tree0;
    out.machine_busy_ns[i] -= busy0;
  }
  for (CpuTimeLog::Process& p : out.processes) {
    const int64_t p0 = p.CpuNsAt(0);
    for (int64_t& v : p.cpu_ns) v -= p0;
    const auto it = parent_of.find(p.pid);
    if (it != parent_of.end()) p.parent_pid = it->second;
  }
  std::sort(out.processes.begin(), out.processes.end(),
            [](const CpuTimeLog::Process& a, const CpuTimeLog::Process& b) { return a.pid < b.pid; });
}
}  // namespace

Status ParseCpuTimeCsv(const std::string& name, std::string_view text, CpuTimeLog& out,
                       Diagnostics& diag) {
  out = CpuTimeLog{};
  // Per (pid, tid): the CPU time last read. A thread's time counts from its
  // first row (time it had used before a sample counts in that sample's interval).
  std::map<std::pair<int64_t, int64_t>, int64_t> last_ns;
  std::map<int64_t, size_t> process_of_pid;  // into out.processes
  std::map<int64_t, int64_t> parent_of;       // pid → its first parent row's parent
  int64_t tree_ns = 0;
  // A thread's new CPU time goes to its process's figure at the current sample.
  auto credit_process = [&](int64_t pid, int64_t delta_ns) {
    auto [it, fresh] = process_of_pid.try_emplace(pid, out.processes.size());
    if (fresh) out.processes.push_back(CpuTimeLog::Process{pid, {}, {}, 0});
    CpuTimeLog::Process& p = out.processes[it->second];
    const uint32_t k = static_cast<uint32_t>(out.t_ns.size() - 1);
    if (!fresh && delta_ns == 0) return;
    if (!p.sample.empty() && p.sample.back() == k) {
      p.cpu_ns.back() += delta_ns;
    } else {
      p.sample.push_back(k);
      p.cpu_ns.push_back((p.cpu_ns.empty() ? 0 : p.cpu_ns.back()) + delta_ns);
    }
  };
  size_t line_no = 0;
  size_t pos = 0;
  bool header = false;
  auto bad = [&](std::string message) {
    return Error{ErrorCode::kBadInput, std::move(message), name, static_cast<int64_t>(line_no), -1};
  };
  auto parse_int = [](std::string_view f, int64_t& v) {
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    return ec == std::errc() && p == f.data() + f.size();
  };
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    ++line_no;
    if (nl == std::string_view::npos) {
      // `record` ends every row with a newline: a last line without one was cut by a kill.
      diag.Add("cputime.truncated_last_line");
      break;
    }
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!header) {
      if (line != "t_ns,thread,cpu_ns")
        return bad(fmt::format("expected the header t_ns,thread,cpu_ns, found '{}'", line));
      header = true;
      continue;
    }
    const size_t c1 = line.find(',');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(',', c1 + 1);
    if (c2 == std::string_view::npos || line.find(',', c2 + 1) != std::string_view::npos)
      return bad("expected 3 fields: t_ns,thread,cpu_ns");
    const std::string_view f_t = line.substr(0, c1);
    const std::string_view f_thread = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string_view f_cpu = line.substr(c2 + 1);
    int64_t t = 0, cpu = 0;
    if (!parse_int(f_t, t)) return bad(fmt::format("t_ns '{}' is not an integer", f_t));
    if (f_thread.starts_with("parent:")) {
      int64_t pid = 0, ppid = 0;
      if (std::string e = ParseParentRow(f_thread, f_cpu, pid, ppid); !e.empty())
        return bad(std::move(e));
      if (out.t_ns.empty() || t != out.t_ns.back())
        return bad(fmt::format("parent row at t_ns {} does not follow a machine row of that time",
                               t));
      // A PID the kernel reused under another parent: its CPU time is one
      // figure (Process is per PID), so it keeps the parent it was first seen with.
      const auto [it, fresh] = parent_of.try_emplace(pid, ppid);
      if (!fresh && it->second != ppid) diag.Add("cputime.parent_changed");
      // The process exists from here, so that a chain of parents holds even
      // if one of them had no readable thread.
      credit_process(pid, 0);
      continue;
    }
    if (!parse_int(f_cpu, cpu) || cpu < 0)
      return bad(fmt::format("cpu_ns '{}' is not a non-negative integer", f_cpu));
    if (f_thread == "machine") {
      // A machine row opens a sample; the thread rows that follow belong to it.
      if (!out.t_ns.empty() && t <= out.t_ns.back())
        return bad(fmt::format("time goes backwards: sample at t_ns {} after t_ns {}", t,
                               out.t_ns.back()));
      if (!out.machine_busy_ns.empty() && cpu < out.machine_busy_ns.back())
        return bad(fmt::format("the machine's busy time decreases ({} after {})", cpu,
                               out.machine_busy_ns.back()));
      out.t_ns.push_back(t);
      out.machine_busy_ns.push_back(cpu);
      out.tree_ns.push_back(tree_ns);
      continue;
    }
    const size_t slash = f_thread.find('/');
    int64_t pid = 0, tid = 0;
    if (slash == std::string_view::npos || !parse_int(f_thread.substr(0, slash), pid) ||
        !parse_int(f_thread.substr(slash + 1), tid))
      return bad(fmt::format("thread '{}' is neither 'machine' nor PID/TID", f_thread));
    if (out.t_ns.empty() || t != out.t_ns.back())
      return bad(fmt::format("thread row at t_ns {} does not follow a machine row of that time", t));
    auto [it, fresh] = last_ns.try_emplace({pid, tid}, cpu);
    int64_t delta_ns = cpu;
    if (fresh) {
      ++out.threads;
    } else if (cpu >= it->second) {
      delta_ns = cpu - it->second;
      it->second = cpu;
    } else {
      // Less time under the same ids: a new thread reusing them; it counts afresh.
      ++out.threads;
      it->second = cpu;
    }
    tree_ns += delta_ns;
    credit_process(pid, delta_ns);
    out.tree_ns.back() = tree_ns;
  }
  if (!header) return bad("empty file: expected the header t_ns,thread,cpu_ns");
  FinishCpuTimeLog(parent_of, out);
  if (out.t_ns.size() < 2) diag.Add("cputime.too_few_samples");
  return {};
}

Status WriteRunDirectory(const std::string& dir, const EnergyLog& meta,
                         const std::vector<RawReading>& readings) {
  SMG_ASSIGN_OR_RETURN(OutputDirectory run, OutputDirectory::Open(dir));
  return energy::WriteRunDirectoryIn(run, meta, readings);
}

Status energy::WriteRunDirectoryIn(const OutputDirectory& run, const EnergyLog& meta,
                                   const std::vector<RawReading>& readings) {
  for (const DomainInfo& d : meta.domains) {
    // energy.csv rows are single lines; a line break in a name could not be read back.
    if (d.name.empty() || d.name.find_first_of("\r\n") != std::string::npos)
      return Internal(fmt::format("WriteRunDirectory: domain name '{}' cannot be written",
                                  d.name));
  }
  std::vector<std::string> names;
  names.reserve(meta.domains.size());
  for (const DomainInfo& d : meta.domains) names.push_back(EnergyCsvField(d.name));

  fmt::memory_buffer csv;
  auto it = std::back_inserter(csv);
  fmt::format_to(it, "t_ns,domain,energy_j,power_w\n");
  for (size_t i = 0; i < readings.size(); ++i) {
    const RawReading& r = readings[i];
    if (r.domain >= meta.domains.size())
      return Internal(fmt::format("WriteRunDirectory: reading {} names domain {}, but there are {}",
                                  i, r.domain, meta.domains.size()));
    if (!std::isfinite(r.value))
      return Internal(fmt::format("WriteRunDirectory: reading {} of '{}' is not finite", i,
                                  meta.domains[r.domain].name));
    // {} is the shortest text that reads back as the same double.
    if (meta.domains[r.domain].quantity == Quantity::kPower)
      fmt::format_to(it, "{},{},,{}\n", r.t_ns, names[r.domain], r.value);
    else
      fmt::format_to(it, "{},{},{},\n", r.t_ns, names[r.domain], r.value);
  }
  SMG_RETURN_IF_ERROR(run.WriteFile("energy.csv", std::string_view(csv.data(), csv.size())));
  return run.WriteFile("run.json", RunJsonText(meta));
}

}  // namespace smaragdine
