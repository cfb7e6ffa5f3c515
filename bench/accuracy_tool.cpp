// accuracy_tool — attribution accuracy against a simulated meter (DESIGN §9).
//
//   accuracy_tool [SEEDS] [PRESET] [SAMPLE_PERIOD_NS] [JITTER] [UPDATE_PERIOD_NS] [METHOD] [STEPS]
//   (defaults: 20, accuracy, preset's, auto, preset's)
//
// Simulates PRESET for seeds 1..SEEDS (the "accuracy" preset: one lane, ops of
// 50–150 µs, a RAPL-like counter updating every 1 ms = 10× the median op,
// 61 µJ unit, 1 kHz sampling with 5 % jitter), accounts each run in memory and
// compares every node with (a) its physical energy (own dynamic energy + its
// share of idle) and (b) the exact §6 answer. Prints error percentiles for
// modules (scopes) and for ops with ≥ 1 % of the energy.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "smaragdine/account.h"
#include "smaragdine/simulate.h"

using namespace smaragdine;

namespace {

struct Errors {
  std::vector<double> v;
  void Add(double e) { v.push_back(e); }
  double Quantile(double q) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
  }
  double Within(double bar) const {
    if (v.empty()) return NAN;
    return 100.0 * std::count_if(v.begin(), v.end(), [&](double e) { return e <= bar; }) / v.size();
  }
};

void Print(const char* what, Errors& e, double bar) {
  fmt::print("{:<34} n={:<5} median {:6.2f} %  p95 {:6.2f} %  max {:6.2f} %  within {:.0f} %: {:.1f} %\n",
             what, e.v.size(), 100 * e.Quantile(0.5), 100 * e.Quantile(0.95), 100 * e.Quantile(1.0),
             100 * bar, e.Within(bar));
}

}  // namespace

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 20;
  const std::string preset = argc > 2 ? argv[2] : "accuracy";
  auto base = ScenarioPreset(preset);
  if (!base.ok()) {
    fmt::print(stderr, "accuracy_tool: {}\n", base.error().ToString());
    return 1;
  }
  if (argc > 3) base->sample_period_ns = std::atoll(argv[3]);
  if (argc > 4) base->jitter = std::atof(argv[4]);
  if (argc > 5) base->update_period_ns = std::atoll(argv[5]);
  if (argc > 7) base->steps = std::atoi(argv[7]);
  AttributeOptions options;
  if (argc > 6) {
    auto m = ParseAttributionMethod(argv[6]);
    if (!m) {
      fmt::print(stderr, "accuracy_tool: METHOD must be auto, proportional or regression\n");
      return 1;
    }
    options.method = *m;
  }
  if (const char* r = std::getenv("SMG_CI_REPLICATES")) options.ci_replicates = std::atoi(r);
  Errors ci_width;
  int64_t ci_modules = 0, ci_covered = 0;
  double conservation_worst = 0;
  Errors module_phys, op_phys, module_model, op_model;
  std::vector<int64_t> op_ns;
  for (int seed = 1; seed <= seeds; ++seed) {
    SimScenario sc = *base;
    sc.seed = seed;
    SimResult sim = Simulate(sc);
    auto trace = ParseTrace(sim.trace_name, sim.trace_text, TraceReadOptions{});
    auto log = trace.ok() ? SimulatedEnergyLog(sim) : Result<EnergyLog>(trace.error());
    if (!log.ok()) {
      fmt::print(stderr, "accuracy_tool: seed {}: {}\n", seed, log.error().ToString());
      return 2;
    }
    auto aligned = AlignTrace(*trace, *log, AlignOptions{});
    auto p = aligned.ok() ? Attribute(*trace, *log, options) : Result<Profile>(aligned.error());
    if (!p.ok()) {
      fmt::print(stderr, "accuracy_tool: seed {}: {}\n", seed, p.error().ToString());
      return 2;
    }
    const SimTruth& t = sim.truth;
    for (const ProfileDomain& d : p->domains) {
      double nodes = 0;
      for (const ProfileNode& n : p->nodes) nodes += n.self_j[&d - p->domains.data()];
      conservation_worst = std::max(
          conservation_worst, std::fabs(nodes + d.idle_j + d.other_j - d.measured_j) / d.measured_j);
    }
    if (seed == 1) fmt::print("method: {} ({})\n{}\n", p->meta.method.substr(0, p->meta.method.find(':')), p->meta.method_reason, p->meta.meter);
    const double measured = t.measured_j[0];
    for (const Event& e : trace->events)
      if (trace->nodes.Kind(e.node) != NodeKind::kScope) op_ns.push_back(e.end_ns - e.start_ns);
    for (const ProfileNode& n : p->nodes) {
      if (n.path.empty()) continue;
      auto it = t.nodes.find(n.path);
      bool op = it != t.nodes.end() && !it->second.scope;
      if (op) {
        double phys = it->second.physical_j[0];
        if (phys < 0.01 * measured) continue;  // DESIGN §9: ops with ≥ 1 % share
        op_phys.Add(std::fabs(n.self_j[0] - phys) / phys);
        op_model.Add(std::fabs(n.self_j[0] - it->second.self_j[0]) / it->second.self_j[0]);
      } else {
        double phys = t.TotalPhysicalJ(n.path, 0);
        double model = t.TotalJ(n.path, 0);
        if (phys <= 0) continue;
        module_phys.Add(std::fabs(n.total_j[0] - phys) / phys);
        if (!n.total_ci95_j.empty()) {
          ++ci_modules;
          ci_covered += std::fabs(n.total_j[0] - phys) <= n.total_ci95_j[0];
          ci_width.Add(n.total_ci95_j[0] / phys);
        }
        module_model.Add(std::fabs(n.total_j[0] - model) / model);
      }
    }
  }
  std::sort(op_ns.begin(), op_ns.end());
  const int64_t median_op = op_ns.empty() ? 0 : op_ns[op_ns.size() / 2];
  fmt::print("preset '{}', seeds 1..{}: median op {:.1f} µs, counter update {:.1f} µs ({:.1f}× the "
             "median op), unit {} J, sample period {:.1f} µs, jitter {}\n",
             preset, seeds, median_op * 1e-3, base->update_period_ns * 1e-3,
             median_op ? static_cast<double>(base->update_period_ns) / median_op : 0.0,
             base->counter_unit_j, base->sample_period_ns * 1e-3, base->jitter);
  fmt::print("errors against the physical per-op energy (own dynamic + idle share):\n");
  Print("  modules (scopes, total)", module_phys, 0.02);
  Print("  ops with >= 1 % share (self)", op_phys, 0.05);
  if (ci_modules > 0)
    fmt::print("  total_ci95 covers the physical energy for {:.1f} % of {} modules; median "
               "half-width {:.2f} %\n",
               100.0 * ci_covered / ci_modules, ci_modules, 100 * ci_width.Quantile(0.5));
  fmt::print("  conservation: worst relative error {:.3g}\n", conservation_worst);
  fmt::print("errors against the exact §6 answer (what a perfect meter would give):\n");
  Print("  modules (scopes, total)", module_model, 0.02);
  Print("  ops with >= 1 % share (self)", op_model, 0.05);
  return 0;
}
