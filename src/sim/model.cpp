#include "sim/model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

#include <fmt/format.h>

namespace smaragdine::sim {

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

int64_t Rng::Range(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(Next() % span);
}

uint64_t HashName(uint64_t seed, std::string_view name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  Rng mix(h ^ (seed * 0xD6E8FEB86659FD93ull));
  return mix.Next();
}

int64_t RoundUp(int64_t x, int64_t q) {
  if (q <= 1) return x;
  int64_t r = x % q;
  if (r < 0) r += q;
  return r == 0 ? x : x + (q - r);
}

int64_t RoundDown(int64_t x, int64_t q) {
  if (q <= 1) return x;
  int64_t r = x % q;
  if (r < 0) r += q;
  return x - r;
}

double PowerCurve::EnergyAt(int64_t t) const {
  if (t_ns.empty() || t == t_ns.front()) return 0.0;
  if (t < t_ns.front()) return power_w.front() * static_cast<double>(t - t_ns.front()) * 1e-9;
  size_t i = std::upper_bound(t_ns.begin(), t_ns.end(), t) - t_ns.begin() - 1;
  return cum_j[i] + power_w[i] * static_cast<double>(t - t_ns[i]) * 1e-9;
}

double PowerCurve::PowerAt(int64_t t) const {
  if (t_ns.empty()) return 0.0;
  if (t <= t_ns.front()) return power_w.front();
  size_t i = std::upper_bound(t_ns.begin(), t_ns.end(), t) - t_ns.begin() - 1;
  return power_w[i];
}

namespace {

struct Segment {
  int64_t start_ns;
  int64_t end_ns;
  uint32_t interval;
};

// The innermost running interval of one lane over time (a stack sweep). A
// partial overlap, which the simulator never writes but a real trace may
// hold, is clipped to the enclosing interval.
std::vector<Segment> InnermostSegments(const std::vector<Interval>& intervals,
                                       std::vector<uint32_t> idx) {
  std::sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
    const Interval& x = intervals[a];
    const Interval& y = intervals[b];
    if (x.start_ns != y.start_ns) return x.start_ns < y.start_ns;
    if (x.end_ns != y.end_ns) return x.end_ns > y.end_ns;
    return a < b;
  });
  std::vector<Segment> out;
  struct Open {
    int64_t end_ns;
    uint32_t interval;
  };
  std::vector<Open> stack;
  int64_t cur = 0;
  auto emit = [&](int64_t a, int64_t b, uint32_t i) {
    if (b > a) out.push_back({a, b, i});
  };
  auto close_until = [&](int64_t t) {
    while (!stack.empty() && stack.back().end_ns <= t) {
      emit(cur, stack.back().end_ns, stack.back().interval);
      cur = std::max(cur, stack.back().end_ns);
      stack.pop_back();
    }
    if (!stack.empty() && t > cur) emit(cur, t, stack.back().interval);
    cur = std::max(cur, t);
  };
  for (uint32_t i : idx) {
    const Interval& e = intervals[i];
    if (e.end_ns <= e.start_ns) continue;
    close_until(e.start_ns);
    int64_t end = e.end_ns;
    if (!stack.empty()) end = std::min(end, stack.back().end_ns);
    if (end <= e.start_ns) continue;
    stack.push_back({end, i});
  }
  close_until(INT64_MAX);
  return out;
}

// A path's node of the truth, its per-domain vectors sized on first use.
SimTruthNode& TruthNode(SimTruth* truth, const std::string& path, size_t nd) {
  SimTruthNode& n = truth->nodes[path];
  if (n.self_j.size() != nd) {
    n.self_j.assign(nd, 0.0);
    n.physical_j.assign(nd, 0.0);
    n.tolerance_j.assign(nd, 0.0);
    for (auto& v : n.phase_self_j) v.assign(nd, 0.0);
    for (auto& v : n.phase_physical_j) v.assign(nd, 0.0);
  }
  return n;
}

// The truth emptied for these domains and window, and one empty curve per domain.
void ResetTruth(const std::vector<DomainSpec>& domains, int64_t window_start_ns,
                int64_t window_end_ns, SimTruth* truth, std::vector<PowerCurve>* curves) {
  const size_t nd = domains.size();
  truth->domains.clear();
  for (const auto& d : domains) truth->domains.push_back(d.name);
  truth->window_start_ns = window_start_ns;
  truth->window_end_ns = window_end_ns;
  truth->measured_j.assign(nd, 0.0);
  truth->idle_j.assign(nd, 0.0);
  truth->idle_tolerance_j.assign(nd, 0.0);
  truth->measured_tolerance_j.assign(nd, 0.0);
  truth->nodes.clear();
  curves->assign(nd, PowerCurve{});
}

// Dense ids for the paths: the sweep touches a node per active lane per
// slice, and hashing its path each time was most of Simulate's time.
struct NodeIds {
  std::vector<uint32_t> id_of;             // per interval
  std::vector<SimTruthNode*> node_of_id;   // std::map: stable addresses
};

// Every interval's node, with its calls and time counted.
NodeIds CountNodes(const std::vector<Interval>& intervals, size_t nd, SimTruth* truth) {
  NodeIds ids;
  ids.id_of.resize(intervals.size());
  {
    std::unordered_map<std::string_view, uint32_t> by_path;
    for (size_t i = 0; i < intervals.size(); ++i) {
      auto [it, fresh] =
          by_path.try_emplace(intervals[i].path, static_cast<uint32_t>(ids.node_of_id.size()));
      if (fresh) ids.node_of_id.push_back(&TruthNode(truth, intervals[i].path, nd));
      ids.id_of[i] = it->second;
    }
  }
  for (const Interval& e : intervals) {
    SimTruthNode& n = TruthNode(truth, e.path, nd);
    n.calls += 1;
    n.phase_calls[static_cast<int>(e.phase)] += 1;
    n.time_ns += e.end_ns - e.start_ns;
    n.scope = e.scope;
  }
  return ids;
}

// A change of the innermost interval of a lane.
struct Change {
  int64_t t_ns;
  int kind;  // 0 end, 1 start
  uint32_t lane;
  uint32_t interval;
};

// The changes of the innermost interval on each of the device's lanes, in
// time order: ends sort before starts at one time.
std::vector<Change> InnermostChanges(const std::vector<Interval>& intervals,
                                     const std::vector<LaneSpec>& lanes, const std::string& device) {
  std::vector<std::vector<uint32_t>> by_lane(lanes.size());
  for (uint32_t i = 0; i < intervals.size(); ++i)
    if (intervals[i].lane < lanes.size() && lanes[intervals[i].lane].device == device)
      by_lane[intervals[i].lane].push_back(i);
  std::vector<Change> changes;
  for (uint32_t l = 0; l < lanes.size(); ++l) {
    if (by_lane[l].empty()) continue;
    for (const Segment& s : InnermostSegments(intervals, by_lane[l])) {
      changes.push_back({s.start_ns, 1, l, s.interval});
      changes.push_back({s.end_ns, 0, l, s.interval});
    }
  }
  std::sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
    return a.t_ns != b.t_ns ? a.t_ns < b.t_ns : a.kind < b.kind;
  });
  return changes;
}

// One device's sweep over time: between two changes the running intervals
// are fixed, and each such slice extends the device's power curves, charges
// the window's energy to the running nodes, and adds to each node's total
// variation of share (for its tolerance).
class DeviceSweep {
 public:
  DeviceSweep(const std::vector<Interval>& intervals, const std::vector<DomainSpec>& domains,
              std::vector<size_t> doms, const NodeIds& ids, int64_t window_start_ns,
              int64_t window_end_ns, SimTruth* truth, std::vector<PowerCurve>* curves)
      : intervals_(intervals),
        domains_(domains),
        doms_(std::move(doms)),
        ids_(ids),
        window_start_ns_(window_start_ns),
        window_end_ns_(window_end_ns),
        truth_(truth),
        curves_(curves),
        tv_(ids.node_of_id.size(), 0.0),
        tv_touched_(ids.node_of_id.size(), 0) {}

  void Run(const std::vector<Change>& changes, size_t lane_count, int64_t log_start_ns,
           int64_t log_end_ns) {
    std::vector<int64_t> active(lane_count, -1);
    int64_t t_prev = log_start_ns;
    size_t k = 0;
    while (k < changes.size()) {
      int64_t t = std::clamp(changes[k].t_ns, log_start_ns, log_end_ns);
      Slice(t_prev, t, active);
      t_prev = std::max(t_prev, t);
      int64_t at = changes[k].t_ns;
      for (; k < changes.size() && changes[k].t_ns == at; ++k) {
        if (changes[k].kind == 0) {
          if (active[changes[k].lane] == changes[k].interval) active[changes[k].lane] = -1;
        } else {
          active[changes[k].lane] = changes[k].interval;
        }
      }
    }
    Slice(t_prev, log_end_ns, active);
    Finish(log_start_ns);
  }

 private:
  // (Few nodes are active at once: a short list beats a map.)
  using Shares = std::vector<std::pair<uint32_t, double>>;

  static const double* ShareOf(const Shares& v, uint32_t id) {
    for (const auto& [i, s] : v)
      if (i == id) return &s;
    return nullptr;
  }

  void Slice(int64_t a, int64_t b, const std::vector<int64_t>& active) {
    if (b <= a) return;
    std::vector<uint32_t> act;
    for (int64_t i : active)
      if (i >= 0) act.push_back(static_cast<uint32_t>(i));
    ExtendCurves(a, act);
    int64_t wa = std::max(a, window_start_ns_), wb = std::min(b, window_end_ns_);
    if (wb <= wa) return;
    const double dt_s = static_cast<double>(wb - wa) * 1e-9;
    ChargeWindow(act, dt_s);
    AddVariation(act);
  }

  // A point at `a` on each of the device's curves: the power of what runs.
  void ExtendCurves(int64_t a, const std::vector<uint32_t>& act) {
    for (size_t d : doms_) {
      double p = domains_[d].idle_w;
      for (uint32_t i : act) p += intervals_[i].dyn_w[d];
      PowerCurve& c = (*curves_)[d];
      double cum = c.t_ns.empty() ? 0.0
                                  : c.cum_j.back() + c.power_w.back() *
                                                         static_cast<double>(a - c.t_ns.back()) * 1e-9;
      c.t_ns.push_back(a);
      c.power_w.push_back(p);
      c.cum_j.push_back(cum);
    }
  }

  // The slice's part of the window: measured, idle, and each running node's
  // self (an equal share of the power) and physical (its own) energy.
  void ChargeWindow(const std::vector<uint32_t>& act, double dt_s) {
    const double n = static_cast<double>(act.size());
    for (size_t d : doms_) {
      double p = domains_[d].idle_w;
      for (uint32_t i : act) p += intervals_[i].dyn_w[d];
      truth_->measured_j[d] += p * dt_s;
      if (act.empty()) {
        truth_->idle_j[d] += p * dt_s;
        continue;
      }
      for (uint32_t i : act) {
        SimTruthNode& nd_ = *ids_.node_of_id[ids_.id_of[i]];
        const int ph = static_cast<int>(intervals_[i].phase);
        const double self = p * dt_s / n;
        const double physical = intervals_[i].dyn_w[d] * dt_s + domains_[d].idle_w * dt_s / n;
        nd_.self_j[d] += self;
        nd_.physical_j[d] += physical;
        nd_.phase_self_j[ph][d] += self;
        nd_.phase_physical_j[ph][d] += physical;
      }
    }
  }

  // Share of each node in this slice against the previous slice inside the
  // window, for the total-variation tolerance.
  void AddVariation(const std::vector<uint32_t>& act) {
    const double n = static_cast<double>(act.size());
    Shares share;
    for (uint32_t i : act) {
      const uint32_t id = ids_.id_of[i];
      auto it = std::find_if(share.begin(), share.end(), [&](const auto& x) { return x.first == id; });
      if (it == share.end()) share.push_back({id, 1.0 / n});
      else it->second += 1.0 / n;
    }
    double idle_share = act.empty() ? 1.0 : 0.0;
    tv_idle_ += std::fabs(idle_share - prev_idle_share_);
    prev_idle_share_ = idle_share;
    for (const auto& [id, s] : share) {
      const double* prev = ShareOf(prev_share_, id);
      tv_[id] += std::fabs(s - (prev ? *prev : 0.0));
      tv_touched_[id] = 1;
    }
    for (const auto& [id, s] : prev_share_)
      if (!ShareOf(share, id)) tv_[id] += s;
    prev_share_ = std::move(share);
  }

  // Leaving the window: every share falls back to 0; the tolerances follow,
  // and a device with no lanes gets a curve idle all along.
  void Finish(int64_t log_start_ns) {
    tv_idle_ += prev_idle_share_;
    for (const auto& [id, s] : prev_share_) tv_[id] += s;
    for (size_t d : doms_) {
      const double u = domains_[d].unit_j;
      truth_->idle_tolerance_j[d] = u * tv_idle_ / 2;
      truth_->measured_tolerance_j[d] = u;
      for (size_t id = 0; id < tv_.size(); ++id)
        if (tv_touched_[id]) ids_.node_of_id[id]->tolerance_j[d] = u * tv_[id] / 2;
    }
    for (size_t d : doms_) {
      PowerCurve& c = (*curves_)[d];
      if (c.t_ns.empty()) {
        c.t_ns.push_back(log_start_ns);
        c.power_w.push_back(domains_[d].idle_w);
        c.cum_j.push_back(0.0);
      }
    }
  }

  const std::vector<Interval>& intervals_;
  const std::vector<DomainSpec>& domains_;
  const std::vector<size_t> doms_;  // the device's domains
  const NodeIds& ids_;
  const int64_t window_start_ns_, window_end_ns_;
  SimTruth* truth_;
  std::vector<PowerCurve>* curves_;
  Shares prev_share_;
  double prev_idle_share_ = 0;
  double tv_idle_ = 0;
  std::vector<double> tv_;
  std::vector<char> tv_touched_;
};

}  // namespace

void AnalyticAttribution(const std::vector<Interval>& intervals, const std::vector<LaneSpec>& lanes,
                         const std::vector<DomainSpec>& domains, int64_t log_start_ns,
                         int64_t log_end_ns, int64_t window_start_ns, int64_t window_end_ns,
                         SimTruth* truth, std::vector<PowerCurve>* curves) {
  const size_t nd = domains.size();
  ResetTruth(domains, window_start_ns, window_end_ns, truth, curves);
  const NodeIds ids = CountNodes(intervals, nd, truth);

  std::vector<std::string> devices;
  for (const auto& d : domains)
    if (std::find(devices.begin(), devices.end(), d.device) == devices.end())
      devices.push_back(d.device);

  for (const std::string& device : devices) {
    std::vector<size_t> doms;
    for (size_t d = 0; d < nd; ++d)
      if (domains[d].device == device) doms.push_back(d);
    DeviceSweep sweep(intervals, domains, std::move(doms), ids, window_start_ns, window_end_ns,
                      truth, curves);
    sweep.Run(InnermostChanges(intervals, lanes, device), lanes.size(), log_start_ns, log_end_ns);
  }
}

int64_t LastUpdateNs(const DomainSpec& d, int64_t log_start_ns, int64_t t_ns) {
  const int64_t period = std::max<int64_t>(1, d.update_period_ns);
  const int64_t grid_origin = log_start_ns + d.phase_ns;
  return grid_origin + RoundDown(t_ns - grid_origin, period);
}

double MeterReading(const PowerCurve& curve, const DomainSpec& d, int64_t log_start_ns,
                    int64_t t_ns) {
  const int64_t updated = LastUpdateNs(d, log_start_ns, t_ns);
  switch (d.meter) {
    case MeterKind::kWindowedPower:
    case MeterKind::kInstantPower: {
      double w;
      if (d.meter == MeterKind::kInstantPower) {
        w = curve.PowerAt(updated);
      } else {
        const int64_t window = std::max<int64_t>(1, d.window_ns);
        w = (curve.EnergyAt(updated) - curve.EnergyAt(updated - window)) /
            (static_cast<double>(window) * 1e-9);
      }
      return d.unit_w > 0 ? std::floor(w / d.unit_w) * d.unit_w : w;
    }
    default: {
      // What the log holds is the counter's difference from the first
      // reading, which shows the last update at or before log_start. The raw
      // counter is taken to sit on a unit boundary there: readings are whole
      // units, and the first tick comes after a whole unit was spent (a
      // boundary at log_start itself would make every phased counter tick at
      // its first update). With phase 0 that update is log_start: base 0.
      const int64_t first = LastUpdateNs(d, log_start_ns, log_start_ns);
      const double base = curve.EnergyAt(first);
      const double e = curve.EnergyAt(updated) - base;
      return d.unit_j > 0 ? std::floor(e / d.unit_j) * d.unit_j : e;
    }
  }
}

std::vector<RawReading> SampleReadings(const std::vector<PowerCurve>& curves,
                                       const std::vector<DomainSpec>& domains,
                                       int64_t log_start_ns, int64_t log_end_ns,
                                       int64_t sample_period_ns, double jitter, uint64_t seed) {
  std::vector<RawReading> out;
  const int64_t period = std::max<int64_t>(1, sample_period_ns);
  const int64_t k_last = (log_end_ns - log_start_ns + period - 1) / period;
  // The jitter never reorders readings: it stays below half a period.
  const double j = std::clamp(jitter, 0.0, 0.98);
  for (uint32_t d = 0; d < domains.size(); ++d) {
    Rng rng(seed * 31 + d + 7);
    int64_t prev_t = INT64_MIN;
    for (int64_t k = 0; k <= k_last; ++k) {
      int64_t t = log_start_ns + k * period;
      if (k > 0 && k < k_last && j > 0)
        t += static_cast<int64_t>(std::llround((rng.Uniform() - 0.5) * j * period));
      if (t <= prev_t) t = prev_t + 1;
      prev_t = t;
      out.push_back({t, d, MeterReading(curves[d], domains[d], log_start_ns, t)});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const RawReading& a, const RawReading& b) {
    return a.t_ns != b.t_ns ? a.t_ns < b.t_ns : a.domain < b.domain;
  });
  return out;
}

namespace {

// "1 ms", "25 ms", "1 s", "123.456 µs": the figures of a meter note, readable.
std::string Duration(int64_t ns) {
  if (ns % 1'000'000'000 == 0 && ns != 0) return fmt::format("{} s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0 && ns != 0) return fmt::format("{} ms", ns / 1'000'000);
  return fmt::format("{} ns", ns);
}

void DescribeMeter(const DomainSpec& d, int64_t log_start_ns, DomainInfo& info) {
  MeterModel& m = info.meter;
  m.kind = d.meter == MeterKind::kUnknown ? MeterKind::kCounter : d.meter;
  const std::string grid = fmt::format(
      "updates every {} at t_ns = {} + k·{} (phase {} after the log start)",
      Duration(d.update_period_ns), log_start_ns + d.phase_ns, d.update_period_ns,
      Duration(d.phase_ns));
  switch (m.kind) {
    case MeterKind::kWindowedPower:
      info.quantity = Quantity::kPower;
      info.resolution_j = 0;
      m.window_ns = std::max<int64_t>(1, d.window_ns);
      m.field = "simulated windowed power";
      m.note = fmt::format("simulated: the average power over the {} before each update; {}; {}",
                           Duration(m.window_ns), grid,
                           d.unit_w > 0 ? fmt::format("floored to {:g} W", d.unit_w)
                                        : std::string("exact"));
      break;
    case MeterKind::kInstantPower:
      info.quantity = Quantity::kPower;
      info.resolution_j = 0;
      m.field = "simulated instant power";
      m.note = fmt::format("simulated: the power at each update; {}; {}", grid,
                           d.unit_w > 0 ? fmt::format("floored to {:g} W", d.unit_w)
                                        : std::string("exact"));
      break;
    default:
      m.field = "simulated counter";
      m.note = fmt::format("simulated: cumulative energy, {}; {}", grid,
                           d.unit_j > 0 ? fmt::format("unit {:g} J", d.unit_j)
                                        : std::string("exact (no unit)"));
      break;
  }
}

}  // namespace

EnergyLog MakeMeta(const std::vector<DomainSpec>& domains, int64_t log_start_ns,
                   int64_t log_end_ns, int64_t realtime_offset_ns, int64_t sample_period_ns,
                   std::vector<std::string> command, bool describe_meter) {
  EnergyLog meta;
  meta.clock = Clock::kMonotonic;
  for (const auto& d : domains) {
    DomainInfo info;
    info.name = d.name;
    info.device = d.device;
    info.source = "simulated";
    info.quantity = Quantity::kEnergy;
    info.resolution_j = d.unit_j;
    info.update_interval_ns = d.update_period_ns;
    if (describe_meter) DescribeMeter(d, log_start_ns, info);
    meta.domains.push_back(info);
    meta.baseline_w[d.name] = d.idle_w;
  }
  // Like the sampler: a pair at start, every second, and at the end.
  for (int64_t t = log_start_ns; t < log_end_ns; t += 1'000'000'000)
    meta.clock_sync.push_back({t + realtime_offset_ns, t});
  meta.clock_sync.push_back({log_end_ns + realtime_offset_ns, log_end_ns});
  meta.command = std::move(command);
  meta.exit_code = 0;
  meta.started_ns = log_start_ns;
  meta.ended_ns = log_end_ns;
  (void)sample_period_ns;
  return meta;
}

}  // namespace smaragdine::sim
