#include "sim/model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

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
  if (t_ns.empty() || t <= t_ns.front()) return 0.0;
  size_t i = std::upper_bound(t_ns.begin(), t_ns.end(), t) - t_ns.begin() - 1;
  return cum_j[i] + power_w[i] * static_cast<double>(t - t_ns[i]) * 1e-9;
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

}  // namespace

void AnalyticAttribution(const std::vector<Interval>& intervals, const std::vector<LaneSpec>& lanes,
                         const std::vector<DomainSpec>& domains, int64_t log_start_ns,
                         int64_t log_end_ns, int64_t window_start_ns, int64_t window_end_ns,
                         SimTruth* truth, std::vector<PowerCurve>* curves) {
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

  auto node = [&](const std::string& path) -> SimTruthNode& {
    SimTruthNode& n = truth->nodes[path];
    if (n.self_j.size() != nd) {
      n.self_j.assign(nd, 0.0);
      n.physical_j.assign(nd, 0.0);
      n.tolerance_j.assign(nd, 0.0);
    }
    return n;
  };
  for (const Interval& e : intervals) {
    SimTruthNode& n = node(e.path);
    n.calls += 1;
    n.time_ns += e.end_ns - e.start_ns;
    n.scope = e.scope;
  }

  std::vector<std::string> devices;
  for (const auto& d : domains)
    if (std::find(devices.begin(), devices.end(), d.device) == devices.end())
      devices.push_back(d.device);

  for (const std::string& device : devices) {
    std::vector<size_t> doms;
    for (size_t d = 0; d < nd; ++d)
      if (domains[d].device == device) doms.push_back(d);
    std::vector<std::vector<uint32_t>> by_lane(lanes.size());
    for (uint32_t i = 0; i < intervals.size(); ++i)
      if (intervals[i].lane < lanes.size() && lanes[intervals[i].lane].device == device)
        by_lane[intervals[i].lane].push_back(i);
    // Changes of the innermost interval per lane: ends sort before starts at one time.
    struct Change {
      int64_t t_ns;
      int kind;  // 0 end, 1 start
      uint32_t lane;
      uint32_t interval;
    };
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

    std::vector<int64_t> active(lanes.size(), -1);
    // Share of each node in the previous slice inside the window, for the
    // total-variation tolerance.
    std::unordered_map<std::string, double> prev_share;
    double prev_idle_share = 0;
    double tv_idle = 0;
    std::unordered_map<std::string, double> tv;

    auto slice = [&](int64_t a, int64_t b) {
      if (b <= a) return;
      std::vector<uint32_t> act;
      for (int64_t i : active)
        if (i >= 0) act.push_back(static_cast<uint32_t>(i));
      const double n = static_cast<double>(act.size());
      for (size_t d : doms) {
        double p = domains[d].idle_w;
        for (uint32_t i : act) p += intervals[i].dyn_w[d];
        PowerCurve& c = (*curves)[d];
        double cum = c.t_ns.empty() ? 0.0
                                    : c.cum_j.back() + c.power_w.back() *
                                                           static_cast<double>(a - c.t_ns.back()) * 1e-9;
        c.t_ns.push_back(a);
        c.power_w.push_back(p);
        c.cum_j.push_back(cum);
      }
      int64_t wa = std::max(a, window_start_ns), wb = std::min(b, window_end_ns);
      if (wb <= wa) return;
      const double dt_s = static_cast<double>(wb - wa) * 1e-9;
      std::unordered_map<std::string, double> share;
      for (uint32_t i : act) share[intervals[i].path] += 1.0 / n;
      for (size_t d : doms) {
        double p = domains[d].idle_w;
        for (uint32_t i : act) p += intervals[i].dyn_w[d];
        truth->measured_j[d] += p * dt_s;
        if (act.empty()) {
          truth->idle_j[d] += p * dt_s;
          continue;
        }
        for (uint32_t i : act) {
          SimTruthNode& nd_ = node(intervals[i].path);
          nd_.self_j[d] += p * dt_s / n;
          nd_.physical_j[d] += intervals[i].dyn_w[d] * dt_s + domains[d].idle_w * dt_s / n;
        }
      }
      double idle_share = act.empty() ? 1.0 : 0.0;
      tv_idle += std::fabs(idle_share - prev_idle_share);
      prev_idle_share = idle_share;
      for (auto& [path, s] : share) {
        auto it = prev_share.find(path);
        tv[path] += std::fabs(s - (it == prev_share.end() ? 0.0 : it->second));
      }
      for (auto& [path, s] : prev_share)
        if (!share.count(path)) tv[path] += s;
      prev_share = std::move(share);
    };

    int64_t t_prev = log_start_ns;
    size_t k = 0;
    while (k < changes.size()) {
      int64_t t = std::clamp(changes[k].t_ns, log_start_ns, log_end_ns);
      slice(t_prev, t);
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
    slice(t_prev, log_end_ns);
    // Leaving the window: every share falls back to 0.
    tv_idle += prev_idle_share;
    for (auto& [path, s] : prev_share) tv[path] += s;
    for (size_t d : doms) {
      const double u = domains[d].unit_j;
      truth->idle_tolerance_j[d] = u * tv_idle / 2;
      truth->measured_tolerance_j[d] = u;
      for (auto& [path, v] : tv) node(path).tolerance_j[d] = u * v / 2;
    }
    for (size_t d : doms) {
      PowerCurve& c = (*curves)[d];
      if (c.t_ns.empty()) {  // a device with no lanes: idle all along
        c.t_ns.push_back(log_start_ns);
        c.power_w.push_back(domains[d].idle_w);
        c.cum_j.push_back(0.0);
      }
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
    const int64_t update = std::max<int64_t>(1, domains[d].update_period_ns);
    int64_t prev_t = INT64_MIN;
    for (int64_t k = 0; k <= k_last; ++k) {
      int64_t t = log_start_ns + k * period;
      if (k > 0 && k < k_last && j > 0)
        t += static_cast<int64_t>(std::llround((rng.Uniform() - 0.5) * j * period));
      if (t <= prev_t) t = prev_t + 1;
      prev_t = t;
      int64_t updated = log_start_ns + RoundDown(t - log_start_ns, update);
      double e = curves[d].EnergyAt(updated);
      if (domains[d].unit_j > 0) e = std::floor(e / domains[d].unit_j) * domains[d].unit_j;
      out.push_back({t, d, e});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const RawReading& a, const RawReading& b) {
    return a.t_ns != b.t_ns ? a.t_ns < b.t_ns : a.domain < b.domain;
  });
  return out;
}

EnergyLog MakeMeta(const std::vector<DomainSpec>& domains, int64_t log_start_ns,
                   int64_t log_end_ns, int64_t realtime_offset_ns, int64_t sample_period_ns,
                   std::vector<std::string> command) {
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
