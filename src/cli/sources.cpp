// `smaragdine sources`: which energy domains this machine offers, how often they
// update (measured), why the others cannot be read and how to fix that, and
// which domains `record` would use.
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "common/clock.h"
#include "cli/command.h"
#include "cli/source_options.h"
#include "common/json_text.h"
#include "smaragdine/device.h"
#include "smaragdine/sources.h"

namespace smaragdine::cli {
namespace {

constexpr int64_t kFastPeriodNs = 1'000'000;   // 1 kHz, as record samples fast sources
constexpr int64_t kSlowPeriodNs = 10'000'000;  // 10 ms for NVML, hwmon, the model
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct SourcesOptions {
  int sample_ms = 300;
  bool json = false;
  SourceRoots roots;
  std::vector<std::string> forced;
  std::string nvml_library;
};

// What sampling one domain for a while showed.
struct Measured {
  int samples = 0;
  int unreadable_samples = 0;  // NaN readings
  int changes = 0;             // readings that differed from the previous one
  double median_interval_ms = kNaN;  // between changes; NaN with fewer than 2 changes
  double power_w = kNaN;  // mean power: ΔE/Δt for energy domains, mean reading for power ones
  std::string error;      // the session could not be opened
};

struct Row {
  const EnergySource* source;
  DomainProbe probe;
  Measured measured;
};

// Samples one source's readable domains for `sample_ns` at its rate class's period
// (absolute deadlines, so slow reads do not stretch the period).
void SampleSource(EnergySource* source, std::vector<Row*> rows, int64_t sample_ns,
                  Diagnostics* diag) {
  std::vector<std::string> names;
  for (Row* r : rows) names.push_back(r->probe.info.name);
  auto session = source->Open(names);
  if (!session.ok()) {
    for (Row* r : rows) r->measured.error = session.error().message;
    return;
  }
  // The session may order its domains differently: map them back by name.
  const auto& domains = (*session)->domains();
  std::vector<Row*> by_index(domains.size(), nullptr);
  for (size_t i = 0; i < domains.size(); ++i)
    for (Row* r : rows)
      if (r->probe.info.name == domains[i].name) by_index[i] = r;

  const int64_t period_ns = source->Rate() == RateClass::kFast ? kFastPeriodNs : kSlowPeriodNs;
  std::vector<double> values;
  std::vector<double> prev(domains.size(), kNaN), first(domains.size(), kNaN);
  std::vector<int64_t> first_t(domains.size(), 0), last_t(domains.size(), 0);
  std::vector<double> last(domains.size(), kNaN), sum(domains.size(), 0);
  std::vector<std::vector<int64_t>> change_t(domains.size());
  const int64_t start_ns = MonotonicNowNs();
  int64_t deadline_ns = start_ns;
  Measured scratch;  // for a domain the session added on its own (none expected)
  for (;;) {
    (*session)->Read(values, *diag);
    const int64_t t = MonotonicNowNs();
    for (size_t i = 0; i < domains.size() && i < values.size(); ++i) {
      Measured& m = by_index[i] ? by_index[i]->measured : scratch;
      ++m.samples;
      const double v = values[i];
      if (std::isnan(v)) {
        ++m.unreadable_samples;
        continue;
      }
      if (std::isnan(first[i])) {
        first[i] = v;
        first_t[i] = t;
      } else if (v != prev[i]) {
        ++m.changes;
        change_t[i].push_back(t);
      }
      prev[i] = last[i] = v;
      last_t[i] = t;
      sum[i] += v;
    }
    if (t - start_ns >= sample_ns) break;
    deadline_ns += period_ns;
    if (deadline_ns < t) deadline_ns = t;  // overran: do not try to catch up in a burst
    SleepUntilMonotonicNs(deadline_ns);
  }
  for (size_t i = 0; i < domains.size(); ++i) {
    if (by_index[i] == nullptr) continue;
    Measured& m = by_index[i]->measured;
    std::vector<int64_t> gaps;
    for (size_t k = 1; k < change_t[i].size(); ++k) gaps.push_back(change_t[i][k] - change_t[i][k - 1]);
    if (!gaps.empty()) {
      std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
      m.median_interval_ms = gaps[gaps.size() / 2] * 1e-6;
    }
    const int good = m.samples - m.unreadable_samples;
    if (domains[i].quantity == Quantity::kPower) {
      if (good > 0) m.power_w = sum[i] / good;
    } else if (last_t[i] > first_t[i]) {
      m.power_w = (last[i] - first[i]) / ((last_t[i] - first_t[i]) * 1e-9);
    }
  }
}

std::string Num(double v, const char* spec = "{:.6g}") {
  return std::isnan(v) ? "null" : fmt::format(fmt::runtime(spec), v);
}

std::string Resolution(const DomainInfo& d) {
  if (d.resolution_j <= 0) return "-";
  if (d.resolution_j >= 1) return fmt::format("{:.3g} J", d.resolution_j);
  if (d.resolution_j >= 1e-3) return fmt::format("{:.3g} mJ", d.resolution_j * 1e3);
  return fmt::format("{:.3g} µJ", d.resolution_j * 1e6);
}

std::string Updates(const Row& r, int sample_ms) {
  const Measured& m = r.measured;
  if (!r.probe.readable) return "-";
  if (!m.error.empty()) return "open failed";
  if (sample_ms == 0) return "not sampled";
  if (r.probe.info.modeled) return "on each read";
  if (m.samples > 0 && m.unreadable_samples == m.samples) return "read failed";
  if (m.changes == 0) return fmt::format("no change in {} ms", sample_ms);
  if (std::isnan(m.median_interval_ms)) return fmt::format("changed once in {} ms", sample_ms);
  return fmt::format("{:.3g} ms ({} changes)", m.median_interval_ms, m.changes);
}

// "1 ms", "976.6 µs", "25 ms", "1 s".
std::string Duration(int64_t ns) {
  if (ns >= 1'000'000'000) return fmt::format("{:.4g} s", ns * 1e-9);
  if (ns >= 1'000'000) return fmt::format("{:.4g} ms", ns * 1e-6);
  return fmt::format("{:.4g} µs", ns * 1e-3);
}

// The meter model in a few words (what `record` writes to run.json as
// "meter"): "counter, 1 ms", "avg 25 ms every 100 ms", "avg 1 s", "instant";
// "unknown" when the source cannot tell (an NVML power reading of an
// unidentified GPU). The figures are the source's nominal ones; UPDATES EVERY
// is what sampling saw.
std::string MeterBrief(const DomainInfo& d) {
  const MeterModel& m = d.meter;
  const std::string every =
      d.update_interval_ns > 0 ? " every " + Duration(d.update_interval_ns) : std::string();
  switch (m.kind) {
    case MeterKind::kCounter:
      return d.update_interval_ns > 0 ? "counter, " + Duration(d.update_interval_ns) : "counter";
    case MeterKind::kWindowedPower:
      return (m.window_ns > 0 ? "avg " + Duration(m.window_ns) : std::string("average")) + every;
    case MeterKind::kInstantPower:
      return "instant" + every;
    case MeterKind::kUnknown:
      break;
  }
  return d.modeled ? "modeled" : "unknown";
}

std::string Status(const Row& r) {
  if (!r.probe.readable) return "no";
  return r.probe.info.modeled ? "MODELED" : "yes";
}

// Why the CPU has no counter, from the unreadable CPU rows of the measuring sources.
std::vector<std::string> CpuCounterSources(const std::vector<Row>& rows) {
  std::vector<std::string> names;
  for (const Row& r : rows) {
    const std::string n = r.source->Name();
    if (r.probe.info.modeled || r.probe.readable) continue;
    if (r.probe.info.name.rfind("cpu", 0) != 0 && !IsCpuDevice(r.probe.info.device))
      continue;
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  return names;
}

std::string ModeledSentence(const SourcesOptions& o, const std::vector<Row>& rows,
                            const DomainChoice& model) {
  std::vector<std::string> why = CpuCounterSources(rows);
  return fmt::format(
      "No hardware counter can be read for the CPU here, so `record` would MODEL {} "
      "instead of measuring it ({}). Every output of such a run is labelled modeled.{}",
      model.probe.info.name, model.probe.reason,
      why.empty() ? std::string()
                  : fmt::format(" Reasons for {} are listed above.", fmt::join(why, ", ")));
}

void PrintText(const SourcesOptions& o, const std::vector<Row>& rows,
               const std::vector<DomainChoice>& chosen, const Diagnostics& diag) {
  fmt::print("Energy domains on this machine");
  if (o.sample_ms > 0) fmt::print(" (each readable one sampled for {} ms)", o.sample_ms);
  fmt::print(":\n\n");
  std::vector<std::vector<std::string>> table;
  table.push_back({"DOMAIN", "SOURCE", "READABLE", "QUANTITY", "RESOLUTION", "METER",
                   "UPDATES EVERY", "POWER NOW", "READS"});
  for (const Row& r : rows) {
    const bool ok = r.probe.readable;
    table.push_back({r.probe.info.name, r.source->Name(), Status(r),
                     ok ? ToString(r.probe.info.quantity) : "-", ok ? Resolution(r.probe.info) : "-",
                     ok ? MeterBrief(r.probe.info) : "-", Updates(r, o.sample_ms),
                     ok && !std::isnan(r.measured.power_w)
                         ? fmt::format("{:.4g} W", r.measured.power_w)
                         : "-",
                     r.probe.location});
  }
  // Columns count code points: "µ" is two bytes but one column.
  auto columns = [](const std::string& s) {
    size_t n = 0;
    for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    return n;
  };
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto& line : table)
    for (size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], columns(line[c]));
  for (const auto& line : table) {
    std::string out = " ";
    for (size_t c = 0; c < line.size(); ++c) {
      out += " " + line[c];
      if (c + 1 < line.size()) out += std::string(width[c] - columns(line[c]) + 1, ' ');
    }
    fmt::print("{}\n", out);
  }

  // Unreadable domains, grouped by source, reason and fix so each explanation appears once.
  std::vector<std::tuple<std::string, std::string, std::string>> groups;
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<std::string>> members;
  for (const Row& r : rows) {
    if (r.probe.readable && r.measured.error.empty()) continue;
    auto key = std::make_tuple(r.source->Name(), r.probe.readable ? r.measured.error : r.probe.reason,
                               r.probe.fix);
    if (!members.count(key)) groups.push_back(key);
    members[key].push_back(r.probe.info.name);
  }
  if (!groups.empty()) {
    fmt::print("\nCannot be read:\n");
    for (const auto& key : groups) {
      const auto& [source, reason, fix] = key;
      fmt::print("  {}: {}\n", source, fmt::join(members[key], ", "));
      fmt::print("    why: {}\n", reason.empty() ? "(no reason given)" : reason);
      if (!fix.empty()) fmt::print("    fix: {}\n", fix);
    }
  }

  fmt::print("\n`smaragdine record` would use");
  if (!o.forced.empty()) fmt::print(" (--source {})", fmt::join(o.forced, ", "));
  fmt::print(":\n");
  if (chosen.empty()) {
    fmt::print("  nothing: no domain can be read on this machine, not even the CPU-time model.\n");
  }
  const DomainChoice* model = nullptr;
  for (const DomainChoice& c : chosen) {
    const DomainInfo& d = c.probe.info;
    fmt::print("  {:<16} from {} ({}{})\n", d.name, c.source->Name(), ToString(d.quantity),
               d.modeled ? ", MODELED" : d.quantity == Quantity::kPower ? ", power readings integrated" : " counter");
    if (d.modeled) model = &c;
  }
  if (model != nullptr) fmt::print("\n{}\n", ModeledSentence(o, rows, *model));
  PrintDiagnostics(diag);
}

void PrintJson(const SourcesOptions& o, const std::vector<Row>& rows,
               const std::vector<DomainChoice>& chosen, const Diagnostics& diag) {
  std::string out = fmt::format("{{\n  \"sample_ms\": {},\n  \"domains\": [", o.sample_ms);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const DomainInfo& d = r.probe.info;
    const Measured& m = r.measured;
    out += fmt::format(
        "{}\n    {{\"name\": {}, \"device\": {}, \"source\": {}, \"readable\": {}, "
        "\"modeled\": {}, \"quantity\": {}, \"resolution_j\": {}, \"update_interval_ns\": {}, "
        "\"meter\": {{\"kind\": {}, \"window_ns\": {}, \"field\": {}, \"note\": {}}}, "
        "\"location\": {}, "
        "\"reason\": {}, \"fix\": {}, \"sampling\": {{\"samples\": {}, \"unreadable_samples\": {}, "
        "\"changes\": {}, \"median_update_interval_ms\": {}, \"power_w\": {}, \"error\": {}}}}}",
        i ? "," : "", JsonQuote(d.name), JsonQuote(d.device), JsonQuote(r.source->Name()),
        r.probe.readable, d.modeled, JsonQuote(ToString(d.quantity)),
        d.resolution_j > 0 ? Num(d.resolution_j) : "null",
        d.update_interval_ns > 0 ? std::to_string(d.update_interval_ns) : "null",
        JsonQuote(ToString(d.meter.kind)),
        d.meter.window_ns > 0 ? std::to_string(d.meter.window_ns) : "null",
        JsonQuote(d.meter.field), JsonQuote(d.meter.note), JsonQuote(r.probe.location),
        JsonQuote(r.probe.reason), JsonQuote(r.probe.fix), m.samples, m.unreadable_samples,
        m.changes, Num(m.median_interval_ms), Num(m.power_w),
        m.error.empty() ? "null" : JsonQuote(m.error));
  }
  out += "\n  ],\n  \"record_would_use\": [";
  const DomainChoice* model = nullptr;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const DomainInfo& d = chosen[i].probe.info;
    if (d.modeled) model = &chosen[i];
    out += fmt::format("{}\n    {{\"domain\": {}, \"source\": {}, \"quantity\": {}, \"modeled\": {}}}",
                       i ? "," : "", JsonQuote(d.name), JsonQuote(chosen[i].source->Name()),
                       JsonQuote(ToString(d.quantity)), d.modeled);
  }
  out += fmt::format("\n  ],\n  \"modeled\": {},\n  \"modeled_reason\": {},\n  \"diagnostics\": {{",
                     model != nullptr,
                     model ? JsonQuote(ModeledSentence(o, rows, *model)) : "null");
  bool first = true;
  for (const auto& [name, n] : diag.counts()) {
    out += fmt::format("{}{}: {}", first ? "" : ", ", JsonQuote(name), n);
    first = false;
  }
  out += "}\n}\n";
  fmt::print("{}", out);
}

int Run(const SourcesOptions& o) {
  if (o.sample_ms < 0 || o.sample_ms > 60'000)
    return PrintError(UsageError(fmt::format("--sample-ms must be 0 to 60000, got {}", o.sample_ms)));
  SourceOptions options;
  options.roots = o.roots;
  options.nvml_library = o.nvml_library;
  auto sources = MakeSources(options);
  std::set<std::string> known;
  for (const auto& s : sources) known.insert(s->Name());
  for (const auto& f : o.forced)
    if (!known.count(f))
      return PrintError(UsageError(fmt::format("--source {}: unknown source; known: {}", f,
                                               fmt::join(known, ", "))));

  std::vector<Row> rows;
  for (const auto& s : sources)
    for (DomainProbe& p : s->Probe()) rows.push_back(Row{s.get(), std::move(p), {}});

  // One thread per source, so every source is sampled over the same short while.
  Diagnostics diag;
  if (o.sample_ms > 0) {
    std::vector<std::thread> threads;
    std::vector<Diagnostics> per_source(sources.size());
    for (size_t s = 0; s < sources.size(); ++s) {
      std::vector<Row*> readable;
      for (Row& r : rows)
        if (r.source == sources[s].get() && r.probe.readable) readable.push_back(&r);
      if (readable.empty()) continue;
      threads.emplace_back(SampleSource, sources[s].get(), readable,
                           int64_t{o.sample_ms} * 1'000'000, &per_source[s]);
    }
    for (auto& t : threads) t.join();
    for (const auto& d : per_source) diag.Merge(d);
  }
  const auto chosen = ChooseDomains(sources, o.forced);
  if (o.json) {
    PrintJson(o, rows, chosen, diag);
  } else {
    PrintText(o, rows, chosen, diag);
  }
  return 0;
}

// `smaragdine sources --help` after the summary.
constexpr char kDetails[] =
    "For each domain: readable or not (with the reason and the fix), resolution,\n"
    "measured update interval, and whether `record` would use it.";

// `smaragdine sources --help` after the options.
constexpr char kFooter[] =
    "Examples:\n"
    "  smaragdine sources                  the table, each readable domain sampled for 300 ms\n"
    "  smaragdine sources --sample-ms 0    without sampling (no update intervals)\n"
    "  smaragdine sources --json           the same for programs\n"
    "A domain that cannot be read says why and how to make it readable (permissions, a\n"
    "module to load, a driver); docs/sources.md has the details. Exit status: 0 ok (also\n"
    "when nothing is readable: `record` then uses the CPU-time model), 1 bad option.\n";

const CommandRegistration kRegistration{
    "sources", 10,
    {"List this machine's energy domains: readable or not, and why", kDetails, kFooter},
    [](CLI::App& sub) -> CommandRun {
      auto o = std::make_shared<SourcesOptions>();
      sub.add_option("--sample-ms", o->sample_ms,
                     "Sample each readable domain this long to measure its update interval "
                     "(1 kHz for RAPL/perf/MSR, 10 ms for NVML/hwmon/model; 0: do not sample)")
          ->capture_default_str();
      sub.add_flag("--json", o->json, "Machine-readable output");
      AddSourceOption(sub, o->forced);
      AddSourceLocationOptions(sub, o->roots, o->nvml_library);
      return [o] { return Run(*o); };
    }};

}  // namespace
}  // namespace smaragdine::cli
