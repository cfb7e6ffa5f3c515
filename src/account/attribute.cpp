// Attribution (DESIGN §6): split each domain's energy among the leaves that
// were running on that domain's device.
//
// Per lane, nested events are flattened into segments of constant innermost
// event. A sweep over segment boundaries and reading times keeps
//
//   F(t) = ∫ p(s) / k(s) ds   over the times where k(s) > 0,
//
// where p is the domain's power (constant between two readings) and k the
// number of lanes with an active leaf. A segment [a, b) of one lane then
// receives F(b) − F(a): its equal share of every slice it spans, in O(1).
//
//   lane 0  |==MatMul==|   |==Add==|
//   lane 1       |====Conv====|
//   power   |--p0--|---p1---|--p2--|       readings at the '|' below
//   slices  ^    ^ ^   ^   ^  ^    ^       each boundary: one update of F
//
// Cost: O((events + readings) · log lanes) time; memory per event is the
// event, a combo id and two change points.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <queue>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "account/regression.h"
#include "account/slices.h"
#include "common/huge_pages.h"
#include "smaragdine/account.h"

namespace smaragdine {
namespace {

using Joules = long double;  // sweep accumulators: 10 M segment differences stay below 1e-12 relative

// One (node, phase, step) combination; events with the same combo share accumulators.
struct ComboKey {
  NodeId node;
  Phase phase;
  int32_t step;
  bool operator==(const ComboKey& o) const {
    return node == o.node && phase == o.phase && step == o.step;
  }
};

constexpr int kPhaseSlots = kPhaseCount + 1;
constexpr uint32_t kNotInTimeline = std::numeric_limits<uint32_t>::max();

// Credits [start, end) to `node` and its ancestors in one phase slot. Events
// arrive in start order per lane, so each (node, slot) keeps the end of its
// union so far; once an ancestor already covers the interval, all further
// ancestors do too (their unions contain it), so the walk stops there —
// usually after one or two steps, since nested ops sit inside their parents.
struct BusyTimeAccumulator {
  const NodeTable& nodes;
  std::vector<int64_t>& busy_ns;
  std::vector<int64_t> covered_until;
  std::vector<uint32_t> covered_lane;  // lane + 1 that set covered_until; 0 = none

  BusyTimeAccumulator(const NodeTable& n, std::vector<int64_t>& busy)
      : nodes(n), busy_ns(busy), covered_until(busy.size(), 0), covered_lane(busy.size(), 0) {}

  void Credit(uint32_t lane, NodeId node, int slot, int64_t start, int64_t end) {
    for (NodeId a = node;; a = nodes.Parent(a)) {
      const size_t k = size_t{a} * kPhaseSlots + slot;
      if (covered_lane[k] != lane + 1 || start >= covered_until[k]) {
        busy_ns[k] += end - start;
        covered_until[k] = end;
        covered_lane[k] = lane + 1;
      } else if (end > covered_until[k]) {
        busy_ns[k] += end - covered_until[k];
        covered_until[k] = end;
      } else {
        break;
      }
      if (a == kRootNode) break;
    }
  }
};

// An event's interval clipped to the attribution window [w0, w1). Events
// wholly outside (other than zero-length ones on its edge) get end < start,
// which every later pass skips.
struct Window {
  int64_t w0;
  int64_t w1;
  bool Outside(const Event& e) const {
    return (e.end_ns <= w0 || e.start_ns >= w1) &&
           !(e.start_ns == e.end_ns && e.start_ns >= w0 && e.start_ns <= w1);
  }
  int64_t Start(const Event& e) const { return Outside(e) ? e.start_ns : std::max(e.start_ns, w0); }
  int64_t End(const Event& e) const {
    return Outside(e) ? e.start_ns - 1 : std::min(e.end_ns, w1);
  }
};

// Sorts each lane's events, repairs partial overlaps (the later event is
// clipped to its parent's end: real traces have them from µs rounding and
// async work) and flattens the nesting into change points. Reads the
// trace's events through `window` instead of a clipped copy (32 bytes an
// event of fresh memory, and a pass).
//
// With `timeline`, each event in the window is also appended to it as
// attribution sees it (clipped, repaired; zero-length ones too), in lane
// order, and `timeline_index` maps the event to its position there.
PreparedLanes PrepareLanes(const Trace& trace, const Window& window,
                           std::vector<std::vector<uint32_t>>& by_lane, Diagnostics& diag,
                           Timeline* timeline, std::vector<uint32_t>* timeline_index) {
  const std::vector<Event>& events = trace.events;
  const size_t lane_count = trace.lanes.size();
  PreparedLanes out;
  out.changes.resize(lane_count);
  out.busy_ns.assign(trace.nodes.size() * kPhaseSlots, 0);
  BusyTimeAccumulator busy(trace.nodes, out.busy_ns);
  // An open event and its end, which partial-overlap repair may move earlier.
  struct Open {
    uint32_t event;
    int64_t end_ns;
  };
  std::vector<Open> stack;
  auto record = [&](uint32_t i, int64_t start, int64_t end) {
    const Event& e = events[i];
    if (e.node >= trace.nodes.size()) return;
    (*timeline_index)[i] = static_cast<uint32_t>(timeline->events.size());
    const int32_t step =
        e.step >= 0 && static_cast<size_t>(e.step) < trace.steps.size() ? e.step : -1;
    timeline->events.push_back({start, end, e.node, e.lane, step, e.phase, 0.0});
  };
  for (size_t lane = 0; lane < lane_count; ++lane) {
    auto& idx = by_lane[lane];
    auto before = [&](uint32_t a, uint32_t b) {
      const Event& ea = events[a];
      const Event& eb = events[b];
      const int64_t sa = window.Start(ea), sb = window.Start(eb);
      if (sa != sb) return sa < sb;
      const int64_t ta = window.End(ea), tb = window.End(eb);
      if (ta != tb) return ta > tb;  // parent first
      return a < b;  // stable for identical intervals
    };
    // The dialects emit each lane's events in this order: check before sorting.
    if (!std::is_sorted(idx.begin(), idx.end(), before)) std::sort(idx.begin(), idx.end(), before);
    auto& changes = out.changes[lane];
    changes.reserve(idx.size() * 2);
    AdviseHugePages(changes.data(), changes.capacity() * sizeof(ChangePoint));
    auto emit = [&](int64_t t, int64_t ev) {
      if (!changes.empty() && changes.back().t_ns == t) {
        changes.back().event = ev;
      } else if (changes.empty() ? ev != -1 : changes.back().event != ev) {
        changes.push_back({t, ev});
      }
    };
    stack.clear();
    for (uint32_t i : idx) {
      const Event& e = events[i];
      const int64_t start = window.Start(e);
      int64_t end = window.End(e);
      if (end <= start) {  // zero-length: a call, but no time to attribute
        if (timeline && end == start) record(i, start, end);
        continue;
      }
      while (!stack.empty() && stack.back().end_ns <= start) {
        const int64_t t = stack.back().end_ns;
        stack.pop_back();
        emit(t, stack.empty() ? int64_t{-1} : int64_t{stack.back().event});
      }
      if (!stack.empty() && end > stack.back().end_ns) {
        diag.Add("account.partial_overlap_clipped");
        end = stack.back().end_ns;
        if (end <= start) continue;
      }
      stack.push_back({i, end});
      emit(start, i);
      if (timeline) record(i, start, end);
      if (e.node < trace.nodes.size()) {
        busy.Credit(static_cast<uint32_t>(lane), e.node, kPhaseCount, start, end);
        busy.Credit(static_cast<uint32_t>(lane), e.node, static_cast<int>(e.phase), start, end);
      }
    }
    while (!stack.empty()) {
      const int64_t t = stack.back().end_ns;
      stack.pop_back();
      emit(t, stack.empty() ? int64_t{-1} : int64_t{stack.back().event});
    }
    std::vector<uint32_t>().swap(idx);  // done with this lane: give its memory back
  }
  return out;
}

bool LaneOnDevice(const Lane& lane, const std::string& device) {
  // Traces do not say which CPU socket ran a thread, so every CPU lane counts
  // for every CPU domain; GPUs match by index.
  if (device.rfind("CPU", 0) == 0) return lane.device.rfind("CPU", 0) == 0;
  return lane.device == device;
}

struct DomainResult {
  // The model sweep's energy per reading interval inside the window, from
  // track_t_ns[k] to track_t_ns[k + 1] (for the power track; empty otherwise).
  std::vector<int64_t> track_t_ns;
  std::vector<Joules> track_j;
  Joules idle_j = 0;
  Joules idle_static_j = 0;
  Joules measured_j = 0;
  Joules static_j = 0;
};

// The sweep's queue of next change times, one entry per lane at most. Same
// order as a min-heap of (time, lane): the earliest time, and among equal
// times the lowest lane first, so segments are closed (and their energy
// summed) in the same order either way. Few lanes (the usual CPU trace) are
// scanned linearly: cheaper than heap pushes and pops.
class LaneQueue {
 public:
  using Item = std::pair<int64_t, uint32_t>;  // (time, index into the domain's lanes)
  explicit LaneQueue(size_t lanes)
      : linear_(lanes <= kLinearMax), next_(linear_ ? lanes : 0, kNone) {}
  bool empty() const { return linear_ ? min_.first == kNone : heap_.empty(); }
  Item top() const { return linear_ ? min_ : heap_.top(); }
  void pop() {
    if (!linear_) return heap_.pop();
    next_[min_.second] = kNone;
    Refresh();
  }
  void push(Item item) {
    if (!linear_) return heap_.push(item);
    next_[item.second] = item.first;
    Refresh();
  }

 private:
  static constexpr size_t kLinearMax = 16;
  static constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  void Refresh() {
    min_ = {kNone, 0};
    for (uint32_t i = 0; i < next_.size(); ++i)
      if (next_[i] < min_.first) min_ = {next_[i], i};
  }
  bool linear_;
  std::vector<int64_t> next_;
  Item min_{kNone, 0};
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap_;
};

// The regression's weights for one domain's sweep: each leaf's fitted power
// (per combo, J/ns) and the static power shared by the leaves active at each
// instant; alpha scales each reading interval so that the split energy is the
// measured energy there (conservation stays exact).
struct ModelWeights {
  const std::vector<double>* alpha;       // per interval of the series
  Joules static_power;                    // J per ns
  const std::vector<Joules>* combo_power; // J per ns, per combo
  // Per (combo, domain), for the error bars: ∫ alpha dt and ∫ alpha·static/k dt
  // over the combo's segments, so that a resampled fit's energy is
  // power · g + (static' / static) · f without another sweep.
  std::vector<Joules>* combo_g;
  std::vector<Joules>* combo_f;
};

// Sweeps one domain over [w0, w1) and adds each segment's energy to its combo.
//
// Proportional (no weights): power p is constant within a reading interval
// and F(t) = ∫ p/k dt over the times k > 0 lanes are active; a segment [a, b)
// receives F(b) − F(a).
// Model (the regression's weights): a segment of a lane whose leaf has fitted
// power q receives q·(G(b) − G(a)) + F(b) − F(a), with G = ∫ alpha dt and
// F = ∫ alpha·static/k dt; a slice with no leaf gives alpha·static to (idle).
// kStatic: also the static (baseline) share; without a baseline it is never
// reported, and skipping it halves the long double divisions per boundary.
// kTimeline: also adds each segment's energy to its event in `timeline`
// (through `timeline_index`): one add per segment; with the model, also each
// reading interval's energy for the power track.
template <bool kStatic, bool kTimeline, bool kModel>
DomainResult SweepDomain(const EnergySeries& series, const ModelWeights* mw, double baseline_w,
                         int64_t w0, int64_t w1, const std::vector<uint32_t>& lanes,
                         const PreparedLanes& prepared, const std::vector<uint32_t>& combo_of_event,
                         size_t domain_count, size_t d, std::vector<Joules>& combo_j,
                         std::vector<Joules>& combo_static_j, Timeline* timeline,
                         const std::vector<uint32_t>* timeline_index) {
  DomainResult r;
  const auto& t = series.t_ns;
  const auto& e = series.energy_j;
  // The reading interval that contains w0.
  size_t i = std::upper_bound(t.begin(), t.end(), w0) - t.begin();
  i = i == 0 ? 0 : i - 1;
  // Per reading interval: the measured power (proportional) or alpha (model).
  auto factor_of = [&](size_t k) -> Joules {
    if constexpr (kModel) {
      return k < mw->alpha->size() ? (*mw->alpha)[k] : 0;
    } else {
      if (k + 1 >= t.size()) return 0;
      return (static_cast<Joules>(e[k + 1]) - e[k]) / static_cast<Joules>(t[k + 1] - t[k]);
    }
  };
  Joules p = factor_of(i);  // J per ns (proportional), or alpha
  const Joules base = std::isnan(baseline_w) ? 0 : static_cast<Joules>(baseline_w) * 1e-9L;
  const Joules static_power = kModel ? mw->static_power : 0;
  auto power_of_event = [&](int64_t ev) -> Joules {
    if constexpr (kModel) return ev < 0 ? 0 : (*mw->combo_power)[combo_of_event[ev]];
    return 0;
  };

  // Per-lane cursor into its change points, current innermost event and the
  // running integrals at its start.
  struct LaneState {
    size_t next = 0;
    int64_t event = -1;
    Joules g_start = 0;
    Joules f_start = 0;
    Joules fs_start = 0;
  };
  std::vector<LaneState> state(lanes.size());
  LaneQueue heap(lanes.size());
  int64_t active = 0;
  Joules active_power = 0;  // model: Σ fitted power of the active leaves, J/ns
  Joules g = 0, f = 0, fs = 0;
  auto enter = [&](const LaneState& s) {
    if (s.event < 0) return;
    ++active;
    if constexpr (kModel) active_power += power_of_event(s.event);
  };
  auto leave = [&](const LaneState& s) {
    if (s.event < 0) return;
    --active;
    if constexpr (kModel) active_power -= power_of_event(s.event);
  };

  // State at w0: apply every change up to and including w0 without energy.
  for (size_t li = 0; li < lanes.size(); ++li) {
    const auto& ch = prepared.changes[lanes[li]];
    auto& s = state[li];
    while (s.next < ch.size() && ch[s.next].t_ns <= w0) s.event = ch[s.next++].event;
    enter(s);
    if (s.next < ch.size()) heap.push({ch[s.next].t_ns, static_cast<uint32_t>(li)});
  }

  auto close_segment = [&](LaneState& s) {
    if (s.event < 0) return;
    const uint32_t combo = combo_of_event[s.event];
    const size_t c = combo * domain_count + d;
    Joules energy = f - s.f_start;
    if constexpr (kModel) {
      const Joules dg = g - s.g_start;
      (*mw->combo_g)[c] += dg;
      (*mw->combo_f)[c] += energy;
      energy += (*mw->combo_power)[combo] * dg;
    }
    combo_j[c] += energy;
    if constexpr (kStatic) combo_static_j[c] += fs - s.fs_start;
    if constexpr (kTimeline) {
      const uint32_t k = (*timeline_index)[s.event];
      if (k != kNotInTimeline) timeline->events[k].self_j += static_cast<double>(energy);
    }
  };

  int64_t now = w0;
  Joules interval_j = 0;  // model with timeline: this reading interval's energy so far
  if constexpr (kModel && kTimeline) r.track_t_ns.push_back(w0);
  while (now < w1) {
    int64_t next_reading = i + 1 < t.size() ? t[i + 1] : std::numeric_limits<int64_t>::max();
    int64_t next_change = heap.empty() ? std::numeric_limits<int64_t>::max() : heap.top().first;
    int64_t tb = std::min({next_reading, next_change, w1});
    const Joules dt = static_cast<Joules>(tb - now);
    Joules energy;
    if constexpr (kModel) {
      energy = p * (static_power + active_power) * dt;
      g += p * dt;
      if (active > 0) f += p * static_power * dt / active;
      if constexpr (kTimeline) interval_j += energy;
    } else {
      energy = p * dt;
      if (active > 0) f += energy / active;
    }
    if (active == 0) r.idle_j += energy;
    r.measured_j += energy;
    if constexpr (kStatic) {
      const Joules static_energy = kModel ? std::min(base * dt, energy) : std::min(base, p) * dt;
      if (active > 0) {
        fs += static_energy / active;
      } else {
        r.idle_static_j += static_energy;
      }
      r.static_j += static_energy;
    }
    now = tb;
    if constexpr (kModel && kTimeline) {
      if (tb == w1 || tb == next_reading) {
        r.track_j.push_back(interval_j);
        r.track_t_ns.push_back(tb);
        interval_j = 0;
      }
    }
    if (tb == w1) break;
    if (tb == next_reading) {
      ++i;
      p = factor_of(i);
    }
    while (!heap.empty() && heap.top().first == tb) {
      const uint32_t li = heap.top().second;
      heap.pop();
      auto& s = state[li];
      const auto& ch = prepared.changes[lanes[li]];
      close_segment(s);
      leave(s);
      s.event = ch[s.next++].event;
      s.g_start = g;
      s.f_start = f;
      s.fs_start = fs;
      enter(s);
      if (s.next < ch.size()) heap.push({ch[s.next].t_ns, li});
    }
    // The running sum drifts by rounding; with no lane active it is exactly 0.
    if constexpr (kModel) {
      if (active == 0) active_power = 0;
    }
  }
  for (auto& s : state) close_segment(s);
  return r;
}

// The domain's power over [d0, d1) as steps, the same constant-between-
// readings power the sweep uses (so the track integrates to measured_j);
// equal neighbours are merged.
PowerTrack BuildPowerTrack(const std::string& domain, const EnergySeries& series, int64_t d0,
                           int64_t d1) {
  PowerTrack track;
  track.domain = domain;
  const auto& t = series.t_ns;
  const auto& e = series.energy_j;
  size_t i = std::upper_bound(t.begin(), t.end(), d0) - t.begin();
  i = i == 0 ? 0 : i - 1;
  track.t_ns.push_back(d0);
  while (true) {
    const int64_t next = i + 1 < t.size() ? t[i + 1] : std::numeric_limits<int64_t>::max();
    const int64_t end = std::min(next, d1);
    const double power_w =
        i + 1 < t.size()
            ? static_cast<double>((static_cast<Joules>(e[i + 1]) - e[i]) /
                                  static_cast<Joules>(t[i + 1] - t[i]) * 1e9L)
            : 0.0;
    if (!track.power_w.empty() && track.power_w.back() == power_w) {
      track.t_ns.back() = end;
    } else {
      track.power_w.push_back(power_w);
      track.t_ns.push_back(end);
    }
    if (end >= d1) break;
    ++i;
  }
  return track;
}

// The model sweep's power track: each reading interval's split energy over
// its length (so the track integrates to measured_j); equal neighbours merged.
PowerTrack PowerTrackOf(const std::string& domain, const DomainResult& r) {
  PowerTrack track;
  track.domain = domain;
  if (r.track_t_ns.empty()) return track;
  track.t_ns.push_back(r.track_t_ns[0]);
  for (size_t k = 0; k < r.track_j.size(); ++k) {
    const int64_t a = r.track_t_ns[k], b = r.track_t_ns[k + 1];
    const double power_w =
        b > a ? static_cast<double>(r.track_j[k] / static_cast<Joules>(b - a) * 1e9L) : 0.0;
    if (!track.power_w.empty() && track.power_w.back() == power_w) {
      track.t_ns.back() = b;
    } else {
      track.power_w.push_back(power_w);
      track.t_ns.push_back(b);
    }
  }
  return track;
}

// The CPU-time samples the share is taken between: the first, then each one at
// least kProcessShareMinIntervalNs after the last kept, and the last (a short
// tail is merged into the interval before it).
std::vector<size_t> ShareSamples(const CpuTimeLog& c) {
  std::vector<size_t> kept;
  if (c.t_ns.empty()) return kept;
  kept.push_back(0);
  for (size_t k = 1; k < c.t_ns.size(); ++k)
    if (c.t_ns[k] - c.t_ns[kept.back()] >= kProcessShareMinIntervalNs) kept.push_back(k);
  const size_t last = c.t_ns.size() - 1;
  if (kept.back() != last) {
    if (kept.size() > 1) kept.back() = last;
    else kept.push_back(last);
  }
  return kept;
}

// Error bars of the regression (DESIGN §6.10): each resampled fit's energy per
// combo (power · ∫alpha + static ratio · ∫alpha·static/k, from the sweep),
// scaled so that the domain's split energy is unchanged, rolled up the tree;
// a node's total_ci95 is 1.96 × the root of the resamples' variance plus
// their mean's squared distance from the fit. Domains without a fit get 0.
void TotalCi95(const NodeTable& nodes, const std::vector<ComboKey>& combos,
               const std::vector<uint32_t>& class_of_combo,
               const std::vector<regression::DomainFit>& fits, const std::vector<Joules>& combo_g,
               const std::vector<Joules>& combo_f, const std::vector<Joules>& swept_measured_j,
               int replicates_asked, Profile& profile) {
  const size_t node_count = nodes.size();
  const size_t domain_count = fits.size();
  if (std::none_of(fits.begin(), fits.end(), [](const auto& f) { return f.ok; })) return;
  std::vector<Joules> sum(node_count * domain_count, 0), sum_sq(node_count * domain_count, 0);
  std::vector<Joules> node_j(node_count * domain_count);
  int replicates = 0;
  for (int rep = 0; rep < replicates_asked; ++rep) {
    std::fill(node_j.begin(), node_j.end(), 0);
    bool any = false;
    for (size_t d = 0; d < domain_count; ++d) {
      const regression::DomainFit& fit = fits[d];
      if (!fit.ok || static_cast<size_t>(rep) >= fit.replicate_static_w.size()) continue;
      any = true;
      const Joules static_ratio = static_cast<Joules>(fit.replicate_static_w[rep]) / fit.static_w;
      const std::vector<double>& power = fit.replicate_class_power_w[rep];
      Joules split_j = static_cast<Joules>(profile.domains[d].idle_j) * static_ratio;
      for (size_t c = 0; c < combos.size(); ++c) {
        const size_t k = c * domain_count + d;
        const Joules e = static_cast<Joules>(power[class_of_combo[c]]) * 1e-9L * combo_g[k] +
                         static_ratio * combo_f[k];
        split_j += e;
        if (combos[c].node < node_count) node_j[size_t{combos[c].node} * domain_count + d] += e;
      }
      const Joules scale = split_j > 0 ? swept_measured_j[d] / split_j : 0;
      for (NodeId n = 0; n < node_count; ++n) node_j[size_t{n} * domain_count + d] *= scale;
    }
    if (!any) break;
    ++replicates;
    for (NodeId n = static_cast<NodeId>(node_count); n-- > 1;) {
      const NodeId parent = nodes.Parent(n);
      for (size_t d = 0; d < domain_count; ++d)
        node_j[size_t{parent} * domain_count + d] += node_j[size_t{n} * domain_count + d];
    }
    for (size_t k = 0; k < node_j.size(); ++k) {
      sum[k] += node_j[k];
      sum_sq[k] += node_j[k] * node_j[k];
    }
  }
  if (replicates < 2) return;
  for (NodeId n = 0; n < node_count; ++n) {
    std::vector<double>& ci = profile.nodes[n].total_ci95_j;
    ci.assign(domain_count, 0.0);
    for (size_t d = 0; d < domain_count; ++d) {
      if (!fits[d].ok) continue;
      const size_t k = size_t{n} * domain_count + d;
      const Joules mean = sum[k] / replicates;
      const Joules var =
          std::max<Joules>(0, (sum_sq[k] - replicates * mean * mean) / (replicates - 1));
      // The resamples' spread, and how far their mean sits from the fit
      // (a bias the spread alone would hide).
      const Joules bias = mean - static_cast<Joules>(profile.nodes[n].total_j[d]);
      ci[d] = static_cast<double>(1.96L * std::sqrt(var + bias * bias));
    }
  }
}

// meta.method (per domain, in words), meta.method_reason (why `auto` chose
// so, or why an asked-for regression fell back) and meta.meter.
void DescribeMethod(AttributionMethod asked, const EnergyLog& log,
                    const std::vector<regression::DomainFit>& fits,
                    const std::vector<std::string>& fallback_reasons,
                    const std::vector<std::string>& meters, Profile& profile) {
  constexpr const char* kProportionalWords =
      "proportional: power constant between readings, each slice split equally among the leaves "
      "active on the domain's device";
  constexpr const char* kRegressionWords =
      "regression: per-leaf-class power fitted to every reading through the meter's model "
      "(non-negative, shrunk toward the op's mean), each reading interval's energy split in "
      "proportion to the fitted power of the leaves active in it";
  std::vector<std::string> fitted, not_fitted;
  for (size_t d = 0; d < fits.size(); ++d) {
    if (profile.domains[d].measured_j == 0 && profile.domains[d].idle_j == 0 && !fits[d].ok)
      continue;
    (fits[d].ok ? fitted : not_fitted).push_back(log.domains[d].name);
  }
  if (fitted.empty()) {
    profile.meta.method = kProportionalWords;
  } else if (not_fitted.empty()) {
    profile.meta.method = kRegressionWords;
  } else {
    profile.meta.method = fmt::format("{} (for {}); {} (for {})", kRegressionWords,
                                      fmt::join(fitted, ", "), kProportionalWords,
                                      fmt::join(not_fitted, ", "));
  }
  if (asked == AttributionMethod::kAuto) {
    profile.meta.method_reason =
        fallback_reasons.empty()
            ? std::string("auto: every domain with lanes had enough readings and repetitions to fit")
            : fmt::format("auto: {}", fmt::join(fallback_reasons, "; "));
  } else if (asked == AttributionMethod::kRegression && !fallback_reasons.empty()) {
    profile.meta.method_reason =
        fmt::format("regression asked for, but {}", fmt::join(fallback_reasons, "; "));
  }
  profile.meta.meter = fmt::format("{}", fmt::join(meters, " | "));
}

// Conservation (§6.5): for each domain, the nodes' self energy plus (idle)
// plus (other processes) equals the measured energy, and no node is negative.
// A failure is a bug: kInternal with the numbers.
Status CheckConservation(const Profile& profile,
                         const std::vector<std::vector<Joules>>& self_precise,
                         const std::vector<Joules>& other_precise, double tolerance) {
  const size_t node_count = self_precise.size();
  for (size_t d = 0; d < profile.domains.size(); ++d) {
    const ProfileDomain& pd = profile.domains[d];
    Joules nodes_j = 0;
    for (NodeId n = 0; n < node_count; ++n) nodes_j += self_precise[n][d];
    for (NodeId n = 0; n < node_count; ++n)
      if (self_precise[n][d] < 0)
        return Internal(fmt::format("negative energy {} J on node '{}' in domain {}",
                                    static_cast<double>(self_precise[n][d]),
                                    profile.nodes[n].path, pd.name));
    const Joules accounted = nodes_j + pd.idle_j + other_precise[d];
    const Joules err = std::fabs(accounted - pd.measured_j);
    if (err > tolerance * std::max<Joules>(std::fabs(pd.measured_j), 1e-12L))
      return Internal(fmt::format(
          "conservation check failed for domain {}: nodes {:.12g} J + idle {:.12g} J + other "
          "processes {:.12g} J = {:.12g} J, but {:.12g} J were measured in the window "
          "(difference {:.3g} J). This is a bug in smaragdine; please report it with the inputs.",
          pd.name, static_cast<double>(nodes_j), pd.idle_j, pd.other_j,
          static_cast<double>(accounted), pd.measured_j, static_cast<double>(err)));
  }
  return {};
}

}  // namespace

const char* ToString(AttributionMethod m) {
  switch (m) {
    case AttributionMethod::kProportional: return "proportional";
    case AttributionMethod::kRegression: return "regression";
    case AttributionMethod::kAuto: break;
  }
  return "auto";
}

std::optional<AttributionMethod> ParseAttributionMethod(std::string_view text) {
  for (AttributionMethod m : {AttributionMethod::kAuto, AttributionMethod::kProportional,
                              AttributionMethod::kRegression})
    if (text == ToString(m)) return m;
  return std::nullopt;
}

std::optional<ProcessShare> ParseProcessShare(std::string_view text) {
  if (text == "auto") return ProcessShare::kAuto;
  if (text == "on") return ProcessShare::kOn;
  if (text == "off") return ProcessShare::kOff;
  return std::nullopt;
}

EnergySeries ProcessTreeSeries(const EnergySeries& series, const CpuTimeLog& cpu_time) {
  if (series.empty() || cpu_time.empty()) return series;
  const std::vector<size_t> kept = ShareSamples(cpu_time);
  // Share per kept CPU-time interval [t_kept[j], t_kept[j + 1]).
  std::vector<int64_t> share_t;
  std::vector<double> share;
  for (size_t j = 0; j < kept.size(); ++j) {
    share_t.push_back(cpu_time.t_ns[kept[j]]);
    if (j + 1 == kept.size()) break;
    const int64_t busy = cpu_time.machine_busy_ns[kept[j + 1]] - cpu_time.machine_busy_ns[kept[j]];
    const int64_t tree = cpu_time.tree_ns[kept[j + 1]] - cpu_time.tree_ns[kept[j]];
    // No busy time: nothing ran that could have used the energy but idling, as without a split.
    share.push_back(busy > 0 ? std::clamp(static_cast<double>(tree) / busy, 0.0, 1.0) : 1.0);
  }
  // Breakpoints: every reading, and every kept sample inside the series.
  std::vector<int64_t> t;
  t.reserve(series.t_ns.size() + share_t.size());
  std::merge(series.t_ns.begin(), series.t_ns.end(), share_t.begin(), share_t.end(),
             std::back_inserter(t));
  t.erase(std::unique(t.begin(), t.end()), t.end());
  t.erase(std::remove_if(t.begin(), t.end(),
                         [&](int64_t x) { return x < series.StartNs() || x > series.EndNs(); }),
          t.end());
  EnergySeries out;
  out.t_ns = t;
  out.energy_j.assign(t.size(), 0.0);
  Joules tree_j = 0;
  size_t j = 0;  // the share interval containing [t[k], t[k + 1])
  for (size_t k = 0; k + 1 < t.size(); ++k) {
    while (j < share_t.size() && share_t[j] <= t[k]) ++j;
    // share_t[j - 1] <= t[k] < share_t[j]: inside interval j - 1 when both exist.
    const double s = (j == 0 || j == share_t.size()) ? 1.0 : share[j - 1];
    const Joules de = static_cast<Joules>(series.EnergyAt(t[k + 1])) - series.EnergyAt(t[k]);
    tree_j += s * std::max<Joules>(de, 0);
    out.energy_j[k + 1] = static_cast<double>(tree_j);
  }
  return out;
}

double StudentT975(int64_t dof) {
  // Two-sided 95 % quantiles of Student's t; beyond 30 the normal 1.96 is
  // within 2 %.
  static constexpr double kTable[] = {0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                                      2.306,  2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                                      2.120,  2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
                                      2.064,  2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof <= 0) return NAN;
  if (dof <= 30) return kTable[dof];
  if (dof <= 60) return 2.000 + (2.042 - 2.000) * (60 - dof) / 30.0;
  if (dof <= 120) return 1.980 + (2.000 - 1.980) * (120 - dof) / 60.0;
  return 1.960;
}

Result<Profile> Attribute(const Trace& trace, const EnergyLog& log, const AttributeOptions& options) {
  Profile profile;
  Diagnostics& diag = profile.diagnostics;
  diag.Merge(log.diagnostics);
  diag.Merge(trace.diagnostics);

  const size_t domain_count = log.domains.size();
  const size_t node_count = trace.nodes.size();
  const std::vector<Event>& events = trace.events;
  const size_t lane_count = trace.lanes.size();

  // The window: where the trace and the energy log overlap. The same pass
  // counts each lane's events, so that the lane lists below are allocated
  // once at their size instead of growing by copies.
  int64_t trace_start = std::numeric_limits<int64_t>::max();
  int64_t trace_end = std::numeric_limits<int64_t>::min();
  std::vector<size_t> lane_events(lane_count, 0);
  for (const Event& e : events) {
    trace_start = std::min(trace_start, e.start_ns);
    trace_end = std::max(trace_end, e.end_ns);
    if (e.lane < lane_count) ++lane_events[e.lane];
  }
  int64_t energy_start = std::numeric_limits<int64_t>::max();
  int64_t energy_end = std::numeric_limits<int64_t>::min();
  for (const auto& s : log.series) {
    if (s.empty()) continue;
    energy_start = std::min(energy_start, s.StartNs());
    energy_end = std::max(energy_end, s.EndNs());
  }
  const int64_t w0 = std::max(trace_start, energy_start);
  const int64_t w1 = std::min(trace_end, energy_end);
  if (events.empty()) return Nothing("the trace has no events");
  if (w0 >= w1)
    return Nothing(fmt::format(
        "the trace [{}, {}] ns and the energy log [{}, {}] ns do not overlap; nothing to attribute",
        trace_start, trace_end, energy_start, energy_end));
  if (trace_start < w0 || trace_end > w1)
    diag.Warn(fmt::format(
        "the trace runs {:.3f} s before and {:.3f} s after the energy log; events there get no "
        "energy",
        std::max<int64_t>(0, w0 - trace_start) * 1e-9, std::max<int64_t>(0, trace_end - w1) * 1e-9));

  // Events are clipped to the window as they are read (Window): energy
  // outside it is not accounted, and calls and time follow the same window
  // so that power = energy / time holds.
  const Window window{w0, w1};

  // Combos and per-combo calls, in one pass that also counts the events
  // outside the window and lists each lane's events. Combo ids follow first
  // use in event order (the summation order of everything below). A combo
  // is looked up in its step's own small table (the steps' tables are
  // touched one after the other, so the one in use stays in cache; one
  // global table missed the cache on every new combo, ~0.6 per event), with
  // a shortcut for the previous event's combo.
  std::vector<ComboKey> combos;
  std::vector<uint32_t> combo_of_event;
  combo_of_event.reserve(events.size());
  AdviseHugePages(combo_of_event.data(), events.size() * sizeof(uint32_t));
  combo_of_event.resize(events.size());
  std::vector<int64_t> combo_calls;
  // Per step + 1 (index 0: no step): combo id + 1 per slot, power-of-two
  // size, indexed by the top bits of a multiplicative hash of (node, phase).
  struct StepTable {
    std::vector<uint32_t> slots;
    size_t used = 0;
  };
  std::vector<StepTable> step_tables(trace.steps.size() + 1);
  auto slot_hash = [](const ComboKey& k) {
    return (uint64_t{k.node} * 4 + static_cast<uint64_t>(k.phase)) * 0x9E3779B97F4A7C15ull;
  };
  // Step ids the trace has no Step for (the dialects never make them): their
  // tables follow the others, in this order.
  std::vector<int32_t> extra_steps;
  std::vector<std::vector<uint32_t>> by_lane(lane_count);
  for (size_t l = 0; l < lane_count; ++l) by_lane[l].reserve(lane_events[l]);
  int64_t outside = 0;
  int64_t negative = 0;
  uint32_t last_combo = std::numeric_limits<uint32_t>::max();
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    negative += e.end_ns < e.start_ns;
    const bool out_of_window = window.Outside(e);
    outside += out_of_window;
    if (e.lane < lane_count) by_lane[e.lane].push_back(static_cast<uint32_t>(i));
    const ComboKey key{e.node, e.phase, e.step};
    uint32_t c;
    if (last_combo < combos.size() && combos[last_combo] == key) {
      c = last_combo;
    } else {
      StepTable* table;
      if (e.step >= -1 && static_cast<size_t>(e.step + 1) <= trace.steps.size()) {
        table = &step_tables[e.step + 1];
      } else {
        auto it = std::find(extra_steps.begin(), extra_steps.end(), e.step);
        if (it == extra_steps.end()) {
          extra_steps.push_back(e.step);
          it = extra_steps.end() - 1;
          step_tables.emplace_back();
        }
        table = &step_tables[trace.steps.size() + 1 + (it - extra_steps.begin())];
      }
      std::vector<uint32_t>& slots = table->slots;
      if (slots.empty()) slots.assign(16, 0);
      const int shift = 64 - __builtin_ctzll(slots.size());
      size_t mask = slots.size() - 1;
      size_t slot = slot_hash(key) >> shift;
      while (slots[slot] != 0 && !(combos[slots[slot] - 1] == key)) slot = (slot + 1) & mask;
      if (slots[slot] != 0) {
        c = slots[slot] - 1;
      } else {
        c = static_cast<uint32_t>(combos.size());
        combos.push_back(key);
        combo_calls.push_back(0);
        slots[slot] = c + 1;
        if (++table->used * 2 > slots.size()) {  // keep the load <= 1/2
          std::vector<uint32_t> bigger(slots.size() * 2, 0);
          mask = bigger.size() - 1;
          for (uint32_t v : slots) {
            if (v == 0) continue;
            size_t b = slot_hash(combos[v - 1]) >> (shift - 1);
            while (bigger[b] != 0) b = (b + 1) & mask;
            bigger[b] = v;
          }
          slots = std::move(bigger);
        }
      }
      last_combo = c;
    }
    combo_of_event[i] = c;
    if (!out_of_window && window.End(e) >= window.Start(e) && e.node < node_count)
      combo_calls[c] += 1;  // in the window
  }
  diag.Add("account.events_outside_window", outside);
  diag.Add("account.negative_duration_dropped", negative);

  // Leaf classes for the regression: a combo without its step (node + phase),
  // pooled by op name + phase where the data cannot separate them.
  std::vector<uint32_t> class_of_combo, group_of_class;
  size_t class_count = 0, group_count = 0;
  if (options.method != AttributionMethod::kProportional) {
    std::unordered_map<uint64_t, uint32_t> class_id;
    std::unordered_map<std::string, uint32_t> group_id;
    class_of_combo.resize(combos.size());
    for (size_t c = 0; c < combos.size(); ++c) {
      const ComboKey& k = combos[c];
      const uint64_t key = uint64_t{k.node} * kPhaseCount + static_cast<uint64_t>(k.phase);
      auto [it, added] = class_id.try_emplace(key, static_cast<uint32_t>(class_count));
      if (added) {
        ++class_count;
        std::string group = k.node < node_count ? trace.nodes.Name(k.node) : std::string();
        group.push_back('\0');
        group.push_back(static_cast<char>('0' + static_cast<int>(k.phase)));
        auto [g, new_group] = group_id.try_emplace(group, static_cast<uint32_t>(group_count));
        if (new_group) ++group_count;
        group_of_class.push_back(g->second);
      }
      class_of_combo[c] = it->second;
    }
  }
  std::vector<int64_t> step_starts;
  for (const Step& st : trace.steps) step_starts.push_back(st.start_ns);
  std::sort(step_starts.begin(), step_starts.end());

  // The timeline, when kept, is filled by PrepareLanes (events) and the sweeps (energy).
  Timeline* timeline = options.keep_timeline ? &profile.timeline : nullptr;
  std::vector<uint32_t> timeline_index;
  if (timeline) {
    timeline->lanes = trace.lanes;
    timeline->steps = trace.steps;
    timeline->events.reserve(events.size());
    timeline->power.resize(domain_count);
    timeline_index.assign(events.size(), kNotInTimeline);
  }
  auto progress = [&](int64_t done) {
    if (options.progress) options.progress("attributing", done, int64_t(domain_count) + 1);
  };
  PreparedLanes prepared =
      PrepareLanes(trace, window, by_lane, diag, timeline, timeline ? &timeline_index : nullptr);
  progress(1);

  // Process share: on when asked, or (auto) when the log has CPU-time data.
  const bool have_cpu_time = !log.cpu_time.empty();
  if (options.process_share == ProcessShare::kOn && !have_cpu_time)
    return BadInput(log.path,
                    "--process-share on, but the energy log has no CPU-time data (cputime.csv, "
                    "written by `smaragdine record`); use --process-share off or auto");
  const bool share_on = options.process_share != ProcessShare::kOff && have_cpu_time;
  std::vector<Joules> other_precise(domain_count, 0);
  for (const DomainInfo& info : log.domains) {
    if (!info.stopped_ns) continue;
    const int64_t since = log.started_ns.value_or(w0);
    diag.Add("account.domain_stopped");
    diag.Warn(fmt::format(
        "domain {} stopped {:.3f} s into the run ({}): its energy after that is unknown, so "
        "operations after it get none from it",
        info.name, (*info.stopped_ns - since) * 1e-9,
        info.stopped_reason.empty() ? "no reason recorded" : info.stopped_reason));
  }

  std::vector<Joules> combo_j(combos.size() * domain_count, 0);
  std::vector<Joules> combo_static_j;  // only when a domain has a baseline
  // Regression: per domain its fit (ok = used), and per (combo, domain) the
  // sweep's ∫alpha and ∫alpha·static/k for the error bars.
  std::vector<regression::DomainFit> fits(domain_count);
  std::vector<Joules> combo_g, combo_f;
  std::vector<std::string> fallback_reasons, meters;
  std::vector<Joules> swept_measured_j(domain_count, 0);  // what each sweep split (the tree's part)
  profile.domains.resize(domain_count);
  bool any_measured = false;
  for (size_t d = 0; d < domain_count; ++d) {
    const DomainInfo& info = log.domains[d];
    ProfileDomain& pd = profile.domains[d];
    pd.name = info.name;
    pd.device = info.device;
    pd.source = info.source;
    pd.modeled = info.modeled;
    auto b = options.baseline_w.find(info.name);
    if (b != options.baseline_w.end()) {
      pd.baseline_w = b->second;
    } else if (auto lb = log.baseline_w.find(info.name); lb != log.baseline_w.end()) {
      pd.baseline_w = lb->second;
    }
    const EnergySeries& series = log.series[d];
    const int64_t d0 = std::max(w0, series.empty() ? w1 : series.StartNs());
    const int64_t d1 = std::min(w1, series.empty() ? w0 : series.EndNs());
    if (d0 >= d1) {
      diag.Warn(fmt::format("domain {} has no readings inside the window; it is left out",
                            info.name));
      if (timeline) timeline->power[d].domain = info.name;
      continue;
    }
    if (d0 > w0 || d1 < w1)
      diag.Warn(fmt::format("domain {} covers only {:.3f} s of the {:.3f} s window", info.name,
                            (d1 - d0) * 1e-9, (w1 - w0) * 1e-9));
    std::vector<uint32_t> lanes;
    for (uint32_t l = 0; l < trace.lanes.size(); ++l)
      if (LaneOnDevice(trace.lanes[l], info.device)) lanes.push_back(l);
    if (lanes.empty())
      diag.Warn(fmt::format(
          "domain {} (device {}) has no lanes of that device in the trace: all its {} energy is "
          "reported as (idle)",
          info.name, info.device, info.modeled ? "modeled" : "measured"));
    // A measured CPU domain under the process share is swept over the tree's part
    // only; the rest is the other processes'. Modeled domains count the tree alone.
    const bool split = share_on && !info.modeled && info.device.rfind("CPU", 0) == 0;
    EnergySeries tree_series;
    if (split) tree_series = ProcessTreeSeries(series, log.cpu_time);
    const EnergySeries& swept = split ? tree_series : series;
    regression::DomainFit& fit = fits[d];
    if (options.method != AttributionMethod::kProportional && !lanes.empty()) {
      regression::DomainInput in;
      in.info = &info;
      in.series = &swept;
      in.series_is_raw = !split;
      in.prepared = &prepared;
      in.lanes = lanes;
      in.combo_of_event = &combo_of_event;
      in.class_of_combo = &class_of_combo;
      in.class_count = class_count;
      in.group_of_class = &group_of_class;
      in.group_count = group_count;
      in.w0_ns = d0;
      in.w1_ns = d1;
      in.block_starts_ns = step_starts;
      in.replicates = options.ci_replicates;
      fit = regression::FitDomain(in, diag);
      if (!fit.ok) {
        fallback_reasons.push_back(fit.reason);
        if (options.method == AttributionMethod::kRegression) {
          diag.Add("account.regression_fallback");
          diag.Warn(fmt::format("--method regression: {}; the proportional rule was used for {}",
                                fit.reason, info.name));
        }
      }
    }
    const bool model = fit.ok;
    const EnergySeries& split_series = model ? fit.series : swept;
    const int64_t m0 = model ? std::max(w0, fit.series.StartNs()) : d0;
    const int64_t m1 = model ? std::min(w1, fit.series.EndNs()) : d1;
    DomainResult r;
    const bool has_baseline = !std::isnan(pd.baseline_w);
    if (has_baseline && combo_static_j.empty())
      combo_static_j.assign(combos.size() * domain_count, 0);
    std::vector<Joules> combo_power;
    if (model) {
      if (combo_g.empty()) {
        combo_g.assign(combos.size() * domain_count, 0);
        combo_f.assign(combos.size() * domain_count, 0);
      }
      combo_power.resize(combos.size());
      for (size_t c = 0; c < combos.size(); ++c)
        combo_power[c] = static_cast<Joules>(fit.class_power_w[class_of_combo[c]]) * 1e-9L;
      meters.push_back(fit.meter);
    }
    const ModelWeights weights{&fit.alpha, static_cast<Joules>(fit.static_w) * 1e-9L, &combo_power,
                               &combo_g, &combo_f};
    auto sweep = [&](auto with_static, auto with_timeline) {
      constexpr bool kS = decltype(with_static)::value, kT = decltype(with_timeline)::value;
      if (model)
        return SweepDomain<kS, kT, true>(split_series, &weights, pd.baseline_w, m0, m1, lanes,
                                         prepared, combo_of_event, domain_count, d, combo_j,
                                         combo_static_j, timeline, &timeline_index);
      return SweepDomain<kS, kT, false>(swept, nullptr, pd.baseline_w, d0, d1, lanes, prepared,
                                        combo_of_event, domain_count, d, combo_j, combo_static_j,
                                        timeline, &timeline_index);
    };
    using Yes = std::true_type;
    using No = std::false_type;
    if (timeline) {
      r = has_baseline ? sweep(Yes{}, Yes{}) : sweep(No{}, Yes{});
      timeline->power[d] = model ? PowerTrackOf(info.name, r) : BuildPowerTrack(info.name, series, d0, d1);
    } else {
      r = has_baseline ? sweep(Yes{}, No{}) : sweep(No{}, No{});
    }
    progress(static_cast<int64_t>(d) + 2);
    pd.measured_j = static_cast<double>(r.measured_j);
    if (split) {
      const Joules measured =
          static_cast<Joules>(series.EnergyAt(d1)) - static_cast<Joules>(series.EnergyAt(d0));
      other_precise[d] = std::max<Joules>(0, measured - r.measured_j);
      pd.measured_j = static_cast<double>(measured);
      pd.other_j = static_cast<double>(other_precise[d]);
      pd.share = fmt::format(
          "by CPU time: the recorded process tree's share of the machine's busy CPU time "
          "(cputime.csv, {} threads), per interval of at least {} ms, clamped to [0, 1]",
          log.cpu_time.threads, kProcessShareMinIntervalNs / 1'000'000);
    }
    pd.idle_j = static_cast<double>(r.idle_j);
    pd.static_j = std::isnan(pd.baseline_w) ? 0 : static_cast<double>(r.static_j);
    swept_measured_j[d] = r.measured_j;
    any_measured = true;
  }
  if (!any_measured) return Nothing("no energy domain has readings inside the trace's window");

  // Build the node tree. NodeTable creates parents before children.
  profile.nodes.resize(node_count);
  for (NodeId n = 0; n < node_count; ++n) {
    ProfileNode& pn = profile.nodes[n];
    pn.id = n;
    pn.parent = n == kRootNode ? -1 : static_cast<int64_t>(trace.nodes.Parent(n));
    if (n != kRootNode && trace.nodes.Parent(n) >= n)
      return Internal(fmt::format("node table order: node {} before its parent", n));
    pn.name = n == kRootNode ? "" : trace.nodes.Name(n);
    pn.path = n == kRootNode ? "" : trace.nodes.Path(n);
    pn.kind = trace.nodes.Kind(n);
    pn.ZeroEnergies(domain_count);
  }
  std::vector<std::vector<Joules>> self_precise(node_count, std::vector<Joules>(domain_count, 0));
  std::vector<std::vector<Joules>> static_precise(node_count, std::vector<Joules>(domain_count, 0));
  // (step, node, energy over all domains) per combo; inclusive totals come below.
  struct StepPart {
    int32_t step;
    NodeId node;
    Joules j;
  };
  std::vector<StepPart> step_parts;
  for (size_t c = 0; c < combos.size(); ++c) {
    const ComboKey& k = combos[c];
    if (k.node >= node_count) continue;
    ProfileNode& pn = profile.nodes[k.node];
    PhaseFigures& ph = pn.phases[static_cast<int>(k.phase)];
    Joules combo_total = 0;
    for (size_t d = 0; d < domain_count; ++d) {
      const Joules j = combo_j[c * domain_count + d];
      self_precise[k.node][d] += j;
      if (!combo_static_j.empty()) static_precise[k.node][d] += combo_static_j[c * domain_count + d];
      ph.self_j[d] += static_cast<double>(j);
      combo_total += j;
    }
    pn.calls += combo_calls[c];
    ph.calls += combo_calls[c];
    if (k.step >= 0) step_parts.push_back({k.step, k.node, combo_total});
  }
  for (NodeId n = 0; n < node_count; ++n)
    for (size_t d = 0; d < domain_count; ++d)
      profile.nodes[n].self_j[d] = static_cast<double>(self_precise[n][d]);

  // Inclusive totals, children before parents.
  std::vector<std::vector<Joules>> total_precise = self_precise;
  for (NodeId n = static_cast<NodeId>(node_count); n-- > 1;) {
    const NodeId parent = trace.nodes.Parent(n);
    for (size_t d = 0; d < domain_count; ++d) {
      total_precise[parent][d] += total_precise[n][d];
      static_precise[parent][d] += static_precise[n][d];
    }
    ProfileNode& child = profile.nodes[n];
    ProfileNode& up = profile.nodes[parent];
    for (int p = 0; p < kPhaseCount; ++p) {
      auto& cph = child.phases[p];
      for (size_t d = 0; d < domain_count; ++d) cph.total_j[d] += cph.self_j[d];
      for (size_t d = 0; d < domain_count; ++d) up.phases[p].total_j[d] += cph.total_j[d];
    }
  }
  for (size_t d = 0; d < domain_count; ++d)
    for (int p = 0; p < kPhaseCount; ++p)
      profile.nodes[kRootNode].phases[p].total_j[d] += profile.nodes[kRootNode].phases[p].self_j[d];
  for (NodeId n = 0; n < node_count; ++n)
    for (size_t d = 0; d < domain_count; ++d) {
      profile.nodes[n].total_j[d] = static_cast<double>(total_precise[n][d]);
      profile.nodes[n].total_static_j[d] =
          std::isnan(profile.domains[d].baseline_w) ? 0 : static_cast<double>(static_precise[n][d]);
    }

  // Error bars (regression).
  if (options.ci_replicates > 0)
    TotalCi95(trace.nodes, combos, class_of_combo, fits, combo_g, combo_f, swept_measured_j,
              options.ci_replicates, profile);

  // Time: busy time of the node's subtree, per lane, summed over lanes.
  for (NodeId n = 0; n < node_count; ++n) {
    profile.nodes[n].time_ns = prepared.busy_ns[size_t{n} * kPhaseSlots + kPhaseCount];
    for (int ph = 0; ph < kPhaseCount; ++ph)
      profile.nodes[n].phases[ph].time_ns = prepared.busy_ns[size_t{n} * kPhaseSlots + ph];
  }

  // Steps: those that overlap the window.
  std::vector<bool> step_in_window(trace.steps.size(), false);
  int64_t steps_n = 0;
  for (size_t s = 0; s < trace.steps.size(); ++s) {
    // Step times were aligned with the events.
    if (trace.steps[s].end_ns > w0 && trace.steps[s].start_ns < w1) {
      step_in_window[s] = true;
      ++steps_n;
    }
  }
  profile.meta.steps = steps_n;
  if (steps_n > 0) {
    // Per step, each node's inclusive energy: the step's parts rolled up
    // their ancestors in a dense array; the nodes touched feed the sums.
    // Sorted, so the summation order (and the last bits) is deterministic.
    std::sort(step_parts.begin(), step_parts.end(), [](const StepPart& a, const StepPart& b) {
      return a.step != b.step ? a.step < b.step : a.node < b.node;
    });
    std::vector<Joules> sum(node_count, 0), sum_sq(node_count, 0);
    std::vector<Joules> inclusive(node_count, 0);
    std::vector<bool> touched(node_count, false);
    std::vector<NodeId> touched_nodes;
    for (size_t p = 0; p < step_parts.size();) {
      const int32_t step = step_parts[p].step;
      size_t q = p;
      for (; q < step_parts.size() && step_parts[q].step == step; ++q) {
        if (static_cast<size_t>(step) >= step_in_window.size() || !step_in_window[step]) continue;
        for (NodeId n = step_parts[q].node;; n = trace.nodes.Parent(n)) {
          inclusive[n] += step_parts[q].j;
          if (!touched[n]) {
            touched[n] = true;
            touched_nodes.push_back(n);
          }
          if (n == kRootNode) break;
        }
      }
      for (NodeId n : touched_nodes) {
        sum[n] += inclusive[n];
        sum_sq[n] += inclusive[n] * inclusive[n];
        inclusive[n] = 0;
        touched[n] = false;
      }
      touched_nodes.clear();
      p = q;
    }
    for (NodeId n = 0; n < node_count; ++n) {
      StepStats& st = profile.nodes[n].steps;
      st.n = steps_n;
      const Joules mean = sum[n] / steps_n;
      st.mean_j = static_cast<double>(mean);
      if (steps_n >= 2) {
        const Joules var = std::max<Joules>(0, (sum_sq[n] - steps_n * mean * mean) / (steps_n - 1));
        st.std_j = static_cast<double>(std::sqrt(var));
        st.ci95_j = StudentT975(steps_n - 1) * st.std_j / std::sqrt(static_cast<double>(steps_n));
      }
    }
  }

  // Conservation (§6.5): nodes plus (idle) plus (other processes) equal the measured energy.
  if (options.check_conservation)
    SMG_RETURN_IF_ERROR(CheckConservation(profile, self_precise, other_precise,
                                          options.conservation_tolerance));

  profile.meta.tool = std::string("smaragdine ") + SMARAGDINE_VERSION;
  profile.meta.energy_source = log.path;
  profile.meta.traces = trace.sources;
  profile.meta.dialect = trace.dialect;
  DescribeMethod(options.method, log, fits, fallback_reasons, meters, profile);
  profile.meta.clock = ToString(log.clock);
  profile.meta.window_start_ns = w0;
  profile.meta.window_end_ns = w1;
  // Profile node i is trace node i: the data flow carries over as it is.
  for (const auto& [from, to] : trace.dataflow)
    if (from < node_count && to < node_count) profile.dataflow.emplace_back(from, to);
  return profile;
}

}  // namespace smaragdine
