// Simulation results as files (trace, run directory, truth.json) and as an
// in-memory EnergyLog.
#include <set>

#include <fmt/format.h>

#include "common/io.h"
#include "common/json_text.h"
#include "energy/energy_csv.h"
#include "sim/model.h"
#include "smaragdine/simulate.h"

namespace smaragdine {

namespace {

bool Under(const std::string& path, const std::string& prefix) {
  return path == prefix ||
         (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
          path[prefix.size()] == '/');
}

template <typename F>
double SumUnder(const SimTruth& t, const std::string& prefix, F f) {
  double s = 0;
  for (auto it = t.nodes.lower_bound(prefix); it != t.nodes.end(); ++it) {
    if (!Under(it->first, prefix)) {
      // Paths sharing the prefix but not under it ("model/layer_1" vs "model/layer_10")
      // interleave in the map's order; stop only past every string starting with prefix.
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      continue;
    }
    s += f(it->second);
  }
  return s;
}

std::string DomainMap(const std::vector<std::string>& names, const std::vector<double>& v) {
  std::string out = "{";
  for (size_t d = 0; d < names.size(); ++d)
    out += fmt::format("{}{}: {:.17g}", d ? ", " : "", JsonQuote(names[d]), d < v.size() ? v[d] : 0.0);
  return out + "}";
}

}  // namespace

double SimTruth::SelfJ(const std::string& path, size_t d) const {
  auto it = nodes.find(path);
  return it == nodes.end() || d >= it->second.self_j.size() ? 0.0 : it->second.self_j[d];
}

double SimTruth::TotalJ(const std::string& path, size_t d) const {
  return SumUnder(*this, path, [d](const SimTruthNode& n) { return n.self_j[d]; });
}

double SimTruth::TotalToleranceJ(const std::string& path, size_t d) const {
  return SumUnder(*this, path, [d](const SimTruthNode& n) { return n.tolerance_j[d]; });
}

double SimTruth::TotalPhysicalJ(const std::string& path, size_t d) const {
  return SumUnder(*this, path, [d](const SimTruthNode& n) { return n.physical_j[d]; });
}

double SimTruth::PhaseTotalJ(const std::string& path, Phase phase, size_t d) const {
  const int ph = static_cast<int>(phase);
  return SumUnder(*this, path, [d, ph](const SimTruthNode& n) { return n.phase_self_j[ph][d]; });
}

double SimTruth::PhaseTotalPhysicalJ(const std::string& path, Phase phase, size_t d) const {
  const int ph = static_cast<int>(phase);
  return SumUnder(*this, path,
                  [d, ph](const SimTruthNode& n) { return n.phase_physical_j[ph][d]; });
}

bool SimTruth::HasPhases() const {
  for (const auto& [path, n] : nodes)
    if (n.calls != n.phase_calls[static_cast<int>(Phase::kForward)]) return true;
  return false;
}

std::string TruthToJson(const SimTruth& t) {
  std::string out = "{\n  \"format\": \"smaragdine-sim-truth/1\",\n";
  out += "  \"model\": \"DESIGN §6: power of each slice split equally among the innermost events "
         "of the device's lanes; no event active: (idle). Exact, no sampling.\",\n";
  out += fmt::format("  \"window_start_ns\": {},\n  \"window_end_ns\": {},\n  \"aligned\": {},\n",
                     t.window_start_ns, t.window_end_ns, t.aligned ? "true" : "false");
  out += "  \"domains\": [";
  for (size_t d = 0; d < t.domains.size(); ++d) {
    out += fmt::format(
        "{}\n    {{\"name\": {}, \"measured_j\": {:.17g}, \"idle_j\": {:.17g}, "
        "\"measured_tolerance_j\": {:.17g}, \"idle_tolerance_j\": {:.17g}}}",
        d ? "," : "", JsonQuote(t.domains[d]), t.measured_j[d], t.idle_j[d],
        t.measured_tolerance_j[d], t.idle_tolerance_j[d]);
  }
  out += "\n  ],\n  \"nodes\": {";
  // Every prefix of a path is a node too (TF1 writes no scope events).
  std::set<std::string> paths;
  for (const auto& [path, n] : t.nodes) {
    for (size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1))
      paths.insert(path.substr(0, pos));
    paths.insert(path);
  }
  bool first = true;
  const size_t nd = t.domains.size();
  // Per phase only where some event is not forward: older truths read as before.
  const bool phases = t.HasPhases();
  for (const std::string& path : paths) {
    auto it = t.nodes.find(path);
    std::vector<double> self(nd), total(nd), phys(nd), tol(nd);
    for (size_t d = 0; d < nd; ++d) {
      self[d] = t.SelfJ(path, d);
      total[d] = t.TotalJ(path, d);
      phys[d] = t.TotalPhysicalJ(path, d);
      tol[d] = t.TotalToleranceJ(path, d);
    }
    bool op = it != t.nodes.end() && !it->second.scope;
    std::string by_phase;
    if (phases) {
      for (int ph = 0; ph < kPhaseCount; ++ph) {
        const Phase phase = static_cast<Phase>(ph);
        std::vector<double> pself(nd), ptotal(nd), pphys(nd);
        double sum = 0;
        for (size_t d = 0; d < nd; ++d) {
          pself[d] = it == t.nodes.end() ? 0.0 : it->second.phase_self_j[ph][d];
          ptotal[d] = t.PhaseTotalJ(path, phase, d);
          pphys[d] = t.PhaseTotalPhysicalJ(path, phase, d);
          sum += ptotal[d];
        }
        const int64_t calls = it == t.nodes.end() ? 0 : it->second.phase_calls[ph];
        if (calls == 0 && sum == 0) continue;
        by_phase += fmt::format(
            "{}\"{}\": {{\"calls\": {}, \"self_j\": {}, \"total_j\": {}, \"physical_total_j\": {}}}",
            by_phase.empty() ? "" : ", ", ToString(phase), calls, DomainMap(t.domains, pself),
            DomainMap(t.domains, ptotal), DomainMap(t.domains, pphys));
      }
      by_phase = ", \"phases\": {" + by_phase + "}";
    }
    out += fmt::format(
        "{}\n    {}: {{\"kind\": \"{}\", \"calls\": {}, \"time_ns\": {}, \"self_j\": {}, "
        "\"total_j\": {}, \"physical_total_j\": {}, \"tolerance_total_j\": {}{}}}",
        first ? "" : ",", JsonQuote(path), op ? "op" : "scope",
        it == t.nodes.end() ? 0 : it->second.calls, it == t.nodes.end() ? 0 : it->second.time_ns,
        DomainMap(t.domains, self), DomainMap(t.domains, total), DomainMap(t.domains, phys),
        DomainMap(t.domains, tol), by_phase);
    first = false;
  }
  out += "\n  }\n}\n";
  return out;
}

Result<EnergyLog> SimulatedEnergyLog(const SimResult& sim) {
  std::string csv = "t_ns,domain,energy_j,power_w\n";
  csv.reserve(sim.readings.size() * 40);
  for (const RawReading& r : sim.readings) {
    // energy.csv's columns: a power meter's reading goes to power_w.
    if (sim.meta.domains[r.domain].quantity == Quantity::kPower)
      csv += fmt::format("{},{},,{:.17g}\n", r.t_ns, sim.meta.domains[r.domain].name, r.value);
    else
      csv += fmt::format("{},{},{:.17g},\n", r.t_ns, sim.meta.domains[r.domain].name, r.value);
  }
  EnergyImportOptions options;
  options.clock = Clock::kMonotonic;
  for (const auto& d : sim.meta.domains) options.device_of[d.name] = d.device;
  SMG_ASSIGN_OR_RETURN(EnergyLog log, ParseEnergyCsv("<simulated energy.csv>", csv, options));
  for (DomainInfo& d : log.domains) {
    for (const DomainInfo& m : sim.meta.domains)
      if (m.name == d.name) d = m;
  }
  log.clock_sync = sim.meta.clock_sync;
  log.baseline_w = sim.meta.baseline_w;
  log.command = sim.meta.command;
  log.exit_code = sim.meta.exit_code;
  log.started_ns = sim.meta.started_ns;
  log.ended_ns = sim.meta.ended_ns;
  return log;
}

// DIR is created and opened once, DIR/run inside it relative to it, and every
// file is written relative to one of the two (docs/security.md).
Status WriteSimulation(const SimResult& sim, const std::string& dir) {
  SMG_ASSIGN_OR_RETURN(OutputDirectory out, OutputDirectory::Open(dir));
  if (!sim.trace_name.empty()) SMG_RETURN_IF_ERROR(out.WriteFile(sim.trace_name, sim.trace_text));
  SMG_ASSIGN_OR_RETURN(OutputDirectory run, out.Sub("run"));
  EnergyLog meta = sim.meta;
  meta.path = run.path();
  SMG_RETURN_IF_ERROR(energy::WriteRunDirectoryIn(run, meta, sim.readings));
  return out.WriteFile("truth.json", TruthToJson(sim.truth));
}

}  // namespace smaragdine
