// energy_log.h — energy readings on one clock, per domain, ready to attribute.
//
// Two inputs give an EnergyLog: a run directory written by `record`
// (run.json + energy.csv, DESIGN §7.1) and a plain CSV import (§7.2). Either
// way the result holds, per domain, a cumulative energy series on the log's
// clock: counters unwrapped, zero-delta runs coalesced, power integrated.
//
//   SMG_ASSIGN_OR_RETURN(EnergyLog log, ReadEnergy("run", EnergyImportOptions{}));
//   for (size_t d = 0; d < log.domains.size(); ++d)
//     fmt::print("{}: {} J\n", log.domains[d].name, log.series[d].TotalJ());
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/diagnostics.h"
#include "smaragdine/launch.h"
#include "smaragdine/status.h"

namespace smaragdine {

enum class Quantity { kEnergy, kPower };
enum class Clock { kMonotonic, kRealtime };

const char* ToString(Quantity q);  // "energy" | "power"
const char* ToString(Clock c);     // "CLOCK_MONOTONIC" | "CLOCK_REALTIME"

// What one reading of a domain is, as a linear functional of the unknown power
// P(t) (DESIGN §6.7). The regression attribution builds its equations from it.
enum class MeterKind {
  kUnknown,        // nothing said: an energy quantity is taken as a counter, power as instantaneous
  kCounter,        // cumulative energy at the counter's last update before the read
  kWindowedPower,  // the average of P over window_ns ending at the meter's last update
  kInstantPower,   // P at the meter's last update
};
const char* ToString(MeterKind k);  // "unknown" | "counter" | "windowed-power" | "instant-power"
// "counter" | "windowed-power" | "instant-power" | "unknown"; nullopt for anything else.
std::optional<MeterKind> ParseMeterKind(std::string_view text);

// The meter behind a domain, as far as the source knows it. The update period
// and the quantisation unit are DomainInfo::update_interval_ns and
// DomainInfo::resolution_j; what is unknown there (0) `account` estimates from
// the readings and reports.
struct MeterModel {
  MeterKind kind = MeterKind::kUnknown;
  int64_t window_ns = 0;  // kWindowedPower: the averaging window; 0 when unknown
  std::string field;      // what the source read, e.g. "nvmlDeviceGetTotalEnergyConsumption"
  std::string note;       // where the figures come from, in words ("" when nothing to say)
  bool empty() const { return kind == MeterKind::kUnknown && window_ns == 0 && field.empty() && note.empty(); }
};

struct DomainInfo {
  std::string name;    // "cpu:0/package", "gpu:0"
  std::string device;  // "CPU:0", "GPU:0"
  std::string source;  // "rapl-powercap", "nvml", "csv", "simulated", …
  Quantity quantity = Quantity::kEnergy;  // what the source delivered
  double resolution_j = 0;                // 0 when unknown
  int64_t update_interval_ns = 0;         // 0 when unknown
  bool modeled = false;                   // true for the CPU-time model, never measured
  MeterModel meter;                       // run.json's "meter"; empty when not written
  // Set when the domain's source stopped giving readings before the run ended
  // (a counter file that vanished or turned unreadable): from then on its
  // energy is unknown. stopped_reason says why, in words.
  std::optional<int64_t> stopped_ns;
  std::string stopped_reason;
};

// Cumulative energy at strictly increasing times. energy_j[0] is 0 and
// energy_j never decreases. Between two points, power is constant (§6.2).
struct EnergySeries {
  std::vector<int64_t> t_ns;
  std::vector<double> energy_j;
  // The raw readings behind the points, for the meter model (regression
  // attribution); both may be empty (a series built in memory), else parallel
  // to t_ns. Counter: previous_ns[k] is the time of the last reading that
  // still showed point k-1's value, so the counter updated in
  // (previous_ns[k], t_ns[k]]; previous_ns[0] = t_ns[0]. Power meter:
  // power_w[k] is the reading at t_ns[k].
  std::vector<int64_t> previous_ns;
  std::vector<double> power_w;

  bool empty() const { return t_ns.size() < 2; }
  int64_t StartNs() const { return t_ns.empty() ? 0 : t_ns.front(); }
  int64_t EndNs() const { return t_ns.empty() ? 0 : t_ns.back(); }
  double TotalJ() const { return energy_j.empty() ? 0.0 : energy_j.back(); }
  // Cumulative energy at t, linear inside an interval, clamped outside.
  double EnergyAt(int64_t t_ns) const;
};

struct ClockSyncPair {
  int64_t realtime_ns = 0;
  int64_t monotonic_ns = 0;
};

// CPU time of the recorded process tree and of the whole machine (a run
// directory's cputime.csv), for the process share: both cumulative since the
// first sample (so [0] is 0), at strictly increasing t_ns on the log's clock.
struct CpuTimeLog {
  std::vector<int64_t> t_ns;
  std::vector<int64_t> tree_ns;          // CPU time of every thread of CMD and its descendants
  std::vector<int64_t> machine_busy_ns;  // busy CPU time of the whole machine (/proc/stat)
  int64_t threads = 0;                   // distinct threads seen in the tree
  // Each process of the tree on its own (the threads of one PID), so that a
  // job's ranks can be told apart: kept as the samples where its time changed
  // (a run's DataLoader workers come and go, so a dense table per process
  // would grow with processes × samples). Sorted by pid.
  struct Process {
    int64_t pid = 0;
    std::vector<uint32_t> sample;  // indices into t_ns, increasing
    std::vector<int64_t> cpu_ns;   // cumulative since the log's first sample, at each of `sample`
    // The process that started it (a rank, for its DataLoader workers), from
    // cputime.csv's parent rows; 0 when unknown (the recorded command itself,
    // files written before parent rows were).
    int64_t parent_pid = 0;
    // CPU time at sample k: the last change at or before k (0 before the first).
    int64_t CpuNsAt(size_t k) const;
    // t_ns of the last sample in which the process used CPU.
    int64_t LastSeenNs(const CpuTimeLog& log) const { return log.t_ns[sample.back()]; }
  };
  std::vector<Process> processes;
  const Process* FindProcess(int64_t pid) const;
  bool empty() const { return t_ns.size() < 2; }
};

struct EnergyLog {
  std::string path;                  // the run directory or CSV it came from
  Clock clock = Clock::kMonotonic;   // the clock of every t_ns below
  std::vector<DomainInfo> domains;
  std::vector<EnergySeries> series;  // parallel to domains
  std::vector<ClockSyncPair> clock_sync;  // sorted by monotonic_ns; may be empty
  std::map<std::string, double> baseline_w;  // domain name → idle power
  // From run.json when present.
  std::vector<std::string> command;
  std::optional<int64_t> pid, exit_code, started_ns, ended_ns;
  // The machine the run was recorded on and what its launcher said (Slurm's
  // job, step and node; a rank when record itself was started as one): what
  // `merge` tells machines apart by. Empty in older runs and CSV imports.
  LaunchInfo launch;
  CpuTimeLog cpu_time;  // empty when the run has no cputime.csv (older runs, CSV imports)
  Diagnostics diagnostics;
};

struct EnergyImportOptions {
  Clock clock = Clock::kMonotonic;                  // --energy-clock (CSV import only)
  std::map<std::string, std::string> device_of;     // --device DOMAIN=DEVICE
};

// Device of a domain when nothing says otherwise: "cpu:N/…" → "CPU:N",
// "gpu:N…" → "GPU:N"; empty when it cannot be guessed.
std::string GuessDevice(const std::string& domain);

// Reads a run directory (if `path` is a directory or a run.json) or a CSV file.
// Errors: kBadInput naming the file and line, for unreadable or malformed input.
Result<EnergyLog> ReadEnergy(const std::string& path, const EnergyImportOptions& options);
Result<EnergyLog> ReadRunDirectory(const std::string& dir);
Result<EnergyLog> ReadEnergyCsv(const std::string& path, const EnergyImportOptions& options);
// The CSV reader on text already in memory (`name` is used in messages); the fuzz target's entry.
Result<EnergyLog> ParseEnergyCsv(const std::string& name, std::string_view text,
                                 const EnergyImportOptions& options);

// Reads cputime.csv text (header t_ns,thread,cpu_ns; machine, PID/TID and
// parent:PID rows; docs/energy-log.md) into `out`. Errors: kBadInput naming `name` and the line.
Status ParseCpuTimeCsv(const std::string& name, std::string_view text, CpuTimeLog& out,
                       Diagnostics& diag);

// Writes a run directory (run.json + energy.csv) — used by `simulate` and,
// later, by `record`. Energy domains get cumulative energy_j, power domains power_w.
struct RawReading {
  int64_t t_ns;
  uint32_t domain;  // index into domains
  double value;     // cumulative J for energy domains, W for power domains
};
Status WriteRunDirectory(const std::string& dir, const EnergyLog& meta,
                         const std::vector<RawReading>& readings);

// The run.json text for a run's metadata, as WriteRunDirectory writes it;
// `record` writes it at start and replaces it at the end.
std::string RunJsonText(const EnergyLog& meta);
// A domain name as an energy.csv field: quoted when it holds a comma, a quote
// or blanks at its edges.
std::string EnergyCsvField(std::string_view name);

}  // namespace smaragdine
