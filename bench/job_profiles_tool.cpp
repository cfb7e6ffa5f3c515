// job_profiles_tool — the machine profiles of a simulated multi-machine job, as
// inputs for `smaragdine merge` (issue 13, item 4: the 1,000-rank merge figure).
//
//   job_profiles_tool OUT_DIR --machines M --ranks-per-machine R [--layers 12]
//                     [--steps 4] [--seed 1] [--timeline]
//
// One profile is made by accounting a simulated BERT training run (the
// "bert-rapl" scenario with --layers encoder layers and --steps steps: trace,
// RAPL-like readings, Account), so the tree is the one `account` builds for
// such a model. Every machine m (0 … M−1) gets a copy as
// OUT_DIR/node-m/profile.json with meta.host "node-m" and R processes: global
// ranks m·R … m·R+R−1 of a world of M·R, local ranks 0 … R−1, pids 40000+local
// rank, each with its own trace name. Each node's figures are split among the
// machine's ranks with a deterministic variation (a per-rank factor ±10 % and
// a per-node-and-rank one ±5 %):
//   - energy: each node's self energy per domain × the rank's share, then
//     rolled up the tree, so a rank's totals nest like the node's and the
//     ranks' totals add up to the node's own (to rounding; checked here);
//   - busy time: the node's time_ns by the same shares (largest remainder, so
//     the parts add up exactly); calls: evenly (every rank runs the same
//     program), the remainder to the lowest local ranks.
// Domains, node totals, idle and other energy are the accounted profile's,
// unchanged: each machine is conserved on its own as it was. The timeline is
// not kept unless --timeline (then every machine carries the same one).
// Prints the tree's size, the method, the bytes written and the worst relative
// mismatch between a node's total and its ranks' sum; reads the first and the
// last machine's profile back with ReadProfileJson (exit 2 on failure).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "profile/tree.h"
#include "smaragdine/account.h"
#include "smaragdine/profile.h"
#include "smaragdine/simulate.h"
#include "smaragdine/trace.h"

namespace {

using namespace smaragdine;

// A number in [0, 1) from (a, b, c), the same on every machine: splitmix64.
double Unit(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full ^
               (c + 0x165667B19E3779F9ull);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

// Splits `whole` into parts proportional to `shares` (which add up to 1) that
// add up to `whole` exactly: floors, then the remainder one by one to the
// largest fractional parts (ties to the lower index).
void SplitInteger(int64_t whole, const std::vector<double>& shares, int64_t* out) {
  const size_t n = shares.size();
  std::vector<double> frac(n);
  int64_t given = 0;
  for (size_t r = 0; r < n; ++r) {
    const double exact = static_cast<double>(whole) * shares[r];
    out[r] = static_cast<int64_t>(std::floor(exact));
    frac[r] = exact - static_cast<double>(out[r]);
    given += out[r];
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return frac[a] > frac[b]; });
  for (size_t k = 0; given < whole; k = (k + 1) % n, ++given) ++out[order[k]];
  for (size_t k = 0; given > whole; k = (k + 1) % n)  // rounding overshoot (never seen)
    if (out[order[n - 1 - k]] > 0) --out[order[n - 1 - k]], --given;
}

int Usage() {
  fmt::print(stderr,
             "usage: job_profiles_tool OUT_DIR --machines M --ranks-per-machine R [--layers 12] "
             "[--steps 4] [--seed 1] [--timeline]\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return Usage();
  const std::string out = argv[1];
  int machines = 0, ranks = 0, layers = 12, steps = 4;
  uint64_t seed = 1;
  bool timeline = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--machines" && i + 1 < argc) machines = std::atoi(argv[++i]);
    else if (a == "--ranks-per-machine" && i + 1 < argc) ranks = std::atoi(argv[++i]);
    else if (a == "--layers" && i + 1 < argc) layers = std::atoi(argv[++i]);
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--timeline") timeline = true;
    else return Usage();
  }
  if (machines <= 0 || ranks <= 0 || layers <= 0 || steps <= 0) {
    fmt::print(stderr, "job_profiles_tool: --machines, --ranks-per-machine, --layers and --steps "
                       "must be positive\n");
    return 1;
  }

  // One machine's profile, accounted as `account` would.
  Result<SimScenario> preset = ScenarioPreset("bert-rapl");
  if (!preset.ok()) {
    fmt::print(stderr, "job_profiles_tool: {}\n", preset.error().ToString());
    return 2;
  }
  SimScenario sc = *preset;
  sc.layers = layers;
  sc.steps = steps;
  sc.seed = seed;
  const SimResult sim = Simulate(sc);
  Result<Trace> trace = ParseTrace(sim.trace_name, sim.trace_text, TraceReadOptions{});
  Result<EnergyLog> log = trace.ok() ? SimulatedEnergyLog(sim) : Result<EnergyLog>(trace.error());
  if (!log.ok()) {
    fmt::print(stderr, "job_profiles_tool: {}\n", log.error().ToString());
    return 2;
  }
  const size_t events = trace->events.size();
  AccountOptions options;
  options.timeline = timeline ? TimelinePolicy::kAlways : TimelinePolicy::kNever;
  Result<Profile> accounted = Account(std::move(*trace), *log, options);
  if (!accounted.ok()) {
    fmt::print(stderr, "job_profiles_tool: {}\n", accounted.error().ToString());
    return 2;
  }
  Profile& base = *accounted;
  const size_t nn = base.nodes.size(), nd = base.domains.size();
  size_t scopes = 0, leaves = 0;
  {
    std::vector<bool> inner(nn, false);
    for (size_t n = 1; n < nn; ++n) inner[static_cast<size_t>(base.nodes[n].parent)] = true;
    for (size_t n = 1; n < nn; ++n) (inner[n] ? scopes : leaves) += 1;
  }
  fmt::print("bert-rapl, {} layers, {} steps, seed {}: {} trace events; profile: {} nodes "
             "({} with children, {} leaves, and the root), {} domain{}; method: {}\n",
             layers, steps, seed, events, nn, scopes, leaves, nd, nd == 1 ? "" : "s",
             base.meta.method.substr(0, base.meta.method.find(':')));

  const int world = machines * ranks;
  const std::string trace_dir = "runs";
  std::vector<double> w(static_cast<size_t>(ranks)), share(static_cast<size_t>(ranks));
  std::vector<int64_t> part(static_cast<size_t>(ranks));
  std::vector<double> rank_factor(static_cast<size_t>(world));
  for (int r = 0; r < world; ++r)
    rank_factor[static_cast<size_t>(r)] = 1 + 0.2 * (Unit(seed, 0xF00D, static_cast<uint64_t>(r)) - 0.5);
  double worst = 0;
  uintmax_t bytes = 0;
  for (int m = 0; m < machines; ++m) {
    Profile p = base;  // totals, domains, meta as accounted
    const std::string host = fmt::format("node-{}", m);
    p.meta.host = host;
    p.meta.job_id = "4242";
    p.meta.energy_source = fmt::format("{}/{}", trace_dir, host);
    p.meta.traces.clear();
    p.processes.clear();
    for (int l = 0; l < ranks; ++l) {
      Process q;
      q.pid = 40000 + l;
      q.rank = m * ranks + l;
      q.local_rank = l;
      q.world_size = world;
      q.host = host;
      q.source = fmt::format("{}/{}/torch-{}.trace.json", trace_dir, host, q.pid);
      p.meta.traces.push_back(q.source);
      p.processes.push_back(std::move(q));
    }
    const size_t np = static_cast<size_t>(ranks);
    for (size_t n = 0; n < nn; ++n) {
      ProfileNode& node = p.nodes[n];
      double sum = 0;
      for (size_t l = 0; l < np; ++l) {
        const int r = m * ranks + static_cast<int>(l);
        w[l] = rank_factor[static_cast<size_t>(r)] *
               (1 + 0.1 * (Unit(seed, n + 1, static_cast<uint64_t>(r)) - 0.5));
        sum += w[l];
      }
      for (size_t l = 0; l < np; ++l) share[l] = w[l] / sum;
      // Self energy by share: RollUpProcessTotals below makes the totals.
      node.process_total_j.assign(np * nd, 0.0);
      for (size_t l = 0; l < np; ++l)
        for (size_t d = 0; d < nd; ++d) node.process_total_j[l * nd + d] = node.self_j[d] * share[l];
      node.process_time_ns.assign(np, 0);
      SplitInteger(node.time_ns, share, node.process_time_ns.data());
      node.process_calls.assign(np, 0);
      for (size_t l = 0; l < np; ++l)
        node.process_calls[l] = node.calls / ranks + (static_cast<int64_t>(l) < node.calls % ranks ? 1 : 0);
    }
    tree::RollUpProcessTotals(p.nodes);
    for (const ProfileNode& node : p.nodes)
      for (size_t d = 0; d < nd; ++d) {
        double s = 0;
        for (size_t l = 0; l < np; ++l) s += node.process_total_j[l * nd + d];
        const double big = std::max(std::abs(s), std::abs(node.total_j[d]));
        if (big > 0) worst = std::max(worst, std::abs(s - node.total_j[d]) / big);
      }
    const std::string dir = fmt::format("{}/{}", out, host);
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/profile.json";
    if (Status st = WriteProfileJson(p, path); !st.ok()) {
      fmt::print(stderr, "job_profiles_tool: {}\n", st.error().ToString());
      return 2;
    }
    bytes += std::filesystem::file_size(path);
    if (m == 0 || m == machines - 1) {
      Result<Profile> back = ReadProfileJson(path);
      if (!back.ok()) {
        fmt::print(stderr, "job_profiles_tool: reading back: {}\n", back.error().ToString());
        return 2;
      }
    }
  }
  fmt::print("wrote {} machines × {} ranks (world {}) to {}/node-*/profile.json: {:.2f} MB "
             "({:.1f} kB each on average); ranks' sums vs node totals: worst relative "
             "difference {:.3g}\n",
             machines, ranks, world, out, bytes / 1e6, bytes / 1e3 / machines, worst);
  return 0;
}
