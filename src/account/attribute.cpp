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

#include "account/process_share.h"
#include "account/regression.h"
#include "account/slices.h"
#include "common/enum_text.h"
#include "common/huge_pages.h"
#include "profile/tree.h"
#include "smaragdine/account.h"
#include "smaragdine/device.h"

namespace smaragdine {
namespace {

using Joules = long double;  // sweep accumulators: 10 M segment differences stay below 1e-12 relative

// One (node, phase, step, process) combination; events with the same combo
// share accumulators. `process` is the lane's (Trace::processes), or -1 when
// the profile keeps no per-process figures, so that one process's runs cost
// nothing more.
struct ComboKey {
  NodeId node;
  Phase phase;
  int32_t step;
  int32_t process;
  bool operator==(const ComboKey& o) const {
    return node == o.node && phase == o.phase && step == o.step && process == o.process;
  }
};

constexpr int kPhaseSlots = kPhaseCount + 1;
constexpr uint32_t kNotInTimeline = std::numeric_limits<uint32_t>::max();

// Credits [start, end) to `node` and its ancestors in one phase slot. Events
// arrive in start order per lane, so each (node, slot) keeps the end of its
// union so far; once an ancestor already covers the interval, all further
// ancestors do too (their unions contain it), so the walk stops there —
// usually after one or two steps, since nested ops sit inside their parents.
// `busy_ns` is per (node, slot) with `slots` slots a node: the phases and all
// of them (kPhaseSlots), or one per process.
//
// Each (node, slot)'s figures sit together (one cache line a step of the
// walk, not three arrays), and are copied to `busy_ns` by Finish.
class BusyTimeAccumulator {
 public:
  BusyTimeAccumulator(const NodeTable& n, std::vector<int64_t>& busy, size_t slot_count)
      : nodes_(n), busy_ns_(busy), slots_(slot_count), entries_(busy.size()) {}

  void Credit(uint32_t lane, NodeId node, int slot, int64_t start, int64_t end) {
    for (NodeId a = node;; a = nodes_.Parent(a)) {
      Entry& x = entries_[size_t{a} * slots_ + static_cast<size_t>(slot)];
      if (x.covered_lane != lane + 1 || start >= x.covered_until) {
        x.busy_ns += end - start;
        x.covered_until = end;
        x.covered_lane = lane + 1;
      } else if (end > x.covered_until) {
        x.busy_ns += end - x.covered_until;
        x.covered_until = end;
      } else {
        break;
      }
      if (a == kRootNode) break;
    }
  }
  // The busy time into the caller's `busy_ns`.
  void Finish() {
    for (size_t k = 0; k < entries_.size(); ++k) busy_ns_[k] += entries_[k].busy_ns;
  }

 private:
  struct Entry {
    int64_t busy_ns = 0;
    int64_t covered_until = 0;
    uint32_t covered_lane = 0;  // lane + 1 that set covered_until; 0 = none
  };
  const NodeTable& nodes_;
  std::vector<int64_t>& busy_ns_;
  size_t slots_;
  std::vector<Entry> entries_;
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

// The order of a lane's events for PrepareLanes: by clipped start, the
// longer (the parent) first, then by index (stable for identical intervals).
bool LaneOrderLess(const Window& window, const Event& ea, uint32_t a, const Event& eb,
                   uint32_t b) {
  const int64_t sa = window.Start(ea), sb = window.Start(eb);
  if (sa != sb) return sa < sb;
  const int64_t ta = window.End(ea), tb = window.End(eb);
  if (ta != tb) return ta > tb;  // parent first
  return a < b;
}

// Whether `idx` is already in LaneOrderLess's order: each event's clipped
// interval computed once, not twice a comparison as std::is_sorted with the
// comparator did.
bool InLaneOrder(const std::vector<Event>& events, const Window& window,
                 const std::vector<uint32_t>& idx) {
  int64_t prev_start = 0, prev_end = 0;
  uint32_t prev = 0;
  for (size_t k = 0; k < idx.size(); ++k) {
    const uint32_t i = idx[k];
    const Event& e = events[i];
    const int64_t start = window.Start(e), end = window.End(e);
    if (k > 0 && (start < prev_start ||
                  (start == prev_start && (end > prev_end || (end == prev_end && i < prev)))))
      return false;
    prev_start = start;
    prev_end = end;
    prev = i;
  }
  return true;
}

// Sorts each lane's events, repairs partial overlaps (the later event is
// clipped to its parent's end: real traces have them from µs rounding and
// async work) and flattens the nesting into change points. Reads the
// trace's events through `window` instead of a clipped copy (32 bytes an
// event of fresh memory, and a pass).
//
// With `timeline`, each event in the window is also appended to it as
// attribution sees it (clipped, repaired; zero-length ones too), in lane
// order, and `timeline_index` maps the event to its position there.
//
// With `per_process`, busy time is also measured per process (the lanes'
// Lane::process).
PreparedLanes PrepareLanes(const Trace& trace, const Window& window,
                           std::vector<std::vector<uint32_t>>& by_lane, Diagnostics& diag,
                           Timeline* timeline, std::vector<uint32_t>* timeline_index,
                           bool per_process) {
  const std::vector<Event>& events = trace.events;
  const size_t lane_count = trace.lanes.size();
  PreparedLanes out;
  out.changes.resize(lane_count);
  out.busy_ns.assign(trace.nodes.size() * kPhaseSlots, 0);
  BusyTimeAccumulator busy(trace.nodes, out.busy_ns, kPhaseSlots);
  const size_t process_count = per_process ? trace.processes.size() : 0;
  out.process_busy_ns.assign(trace.nodes.size() * process_count, 0);
  BusyTimeAccumulator process_busy(trace.nodes, out.process_busy_ns, process_count);
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
    const int32_t lane_process = process_count > 0 ? trace.lanes[lane].process : -1;
    // The dialects emit each lane's events in this order: check before sorting.
    if (!InLaneOrder(events, window, idx)) {
      std::sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
        return LaneOrderLess(window, events[a], a, events[b], b);
      });
    }
    auto& changes = out.changes[lane];
    changes.reserve(idx.size() * 2);
    AdviseHugePages(changes.data(), changes.capacity() * sizeof(ChangePoint));
    // Inlined: three calls a change point cost more than the work.
    auto emit = [&](int64_t t, int64_t ev) __attribute__((always_inline)) {
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
        if (lane_process >= 0 && static_cast<size_t>(lane_process) < process_count)
          process_busy.Credit(static_cast<uint32_t>(lane), e.node, lane_process, start, end);
      }
    }
    while (!stack.empty()) {
      const int64_t t = stack.back().end_ns;
      stack.pop_back();
      emit(t, stack.empty() ? int64_t{-1} : int64_t{stack.back().event});
    }
    std::vector<uint32_t>().swap(idx);  // done with this lane: give its memory back
  }
  busy.Finish();
  process_busy.Finish();
  return out;
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

// The sweep's queues of next change times, one entry per lane at most, with
// one interface (empty, top, push, advance_top). Both give the order of a
// min-heap of (time, lane): the earliest time, and among equal times the
// lowest lane first, so segments are closed (and their energy summed) in the
// same order with either. The sweep is instantiated per queue so that its
// loop has no call in it with the linear one (see DomainSweep).
using LaneItem = std::pair<int64_t, uint32_t>;  // (time, index into the domain's lanes)
constexpr int64_t kNoChange = std::numeric_limits<int64_t>::max();

// Few lanes (the usual CPU trace): a branch-free scan, cheaper than heap
// pushes and pops.
class LinearLaneQueue {
 public:
  static constexpr size_t kMaxLanes = 16;
  explicit LinearLaneQueue(size_t lanes) : next_(lanes, kNoChange) {}
  bool empty() const { return min_.first == kNoChange; }
  LaneItem top() const { return min_; }
  void push(LaneItem item) {
    next_[item.second] = item.first;
    Refresh();
  }
  // The top's lane moves on to its next change at `t` (kNoChange: it has
  // none): pop and push with one scan instead of two.
  void advance_top(int64_t t) {
    next_[min_.second] = t;
    Refresh();
  }

 private:
  void Refresh() {
    int64_t best = kNoChange;
    uint32_t lane = 0;
    for (uint32_t i = 0; i < next_.size(); ++i) {
      const bool earlier = next_[i] < best;  // strict: the lowest lane among equal times
      best = earlier ? next_[i] : best;
      lane = earlier ? i : lane;
    }
    min_ = {best, lane};
  }
  std::vector<int64_t> next_;
  LaneItem min_{kNoChange, 0};
};

class HeapLaneQueue {
 public:
  explicit HeapLaneQueue(size_t) {}
  bool empty() const { return heap_.empty(); }
  LaneItem top() const { return heap_.top(); }
  void push(LaneItem item) { heap_.push(item); }
  void advance_top(int64_t t) {
    const uint32_t lane = heap_.top().second;
    heap_.pop();
    if (t != kNoChange) heap_.push({t, lane});
  }

 private:
  std::priority_queue<LaneItem, std::vector<LaneItem>, std::greater<>> heap_;
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

// What one domain's sweep reads and where it adds its energy.
struct SweepArgs {
  const EnergySeries* series;  // the readings split (raw, the tree's part, or the fit's)
  const ModelWeights* mw;      // the model's weights; null for proportional
  double baseline_w;           // NaN without a baseline
  int64_t w0, w1;              // the domain's part of the window
  const std::vector<uint32_t>* lanes;  // the lanes the domain meters
  const PreparedLanes* prepared;
  const std::vector<uint32_t>* combo_of_event;
  size_t domain_count, d;
  std::vector<Joules>* combo_j;         // per (combo, domain)
  std::vector<Joules>* combo_static_j;  // per (combo, domain), with kStatic
  Timeline* timeline;                   // with kTimeline
  const std::vector<uint32_t>* timeline_index;
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
//
// A class rather than one function so that each step of the loop has a name;
// the members are small and inline into Run's loop as the lambdas did.
//
// The running state (Running: the integrals, p, the active count) lives in a
// local of Run, passed by reference, not in members, and the loop has no
// call in it with LinearLaneQueue: the x87 registers do not survive a call,
// and a member's address escapes, so that GCC kept each integral in memory
// and stored and reloaded the 80-bit values every segment (slow x87 memory
// operations: most of the loop's time). Now they stay in registers. The same
// operations in the same order: the same bits.
template <bool kStatic, bool kTimeline, bool kModel, typename Queue>
class DomainSweep {
 public:
  explicit DomainSweep(const SweepArgs& a)
      : a_(a),
        t_(a.series->t_ns),
        e_(a.series->energy_j),
        base_(std::isnan(a.baseline_w) ? 0 : static_cast<Joules>(a.baseline_w) * 1e-9L),
        static_power_(kModel ? a.mw->static_power : 0),
        state_(a.lanes->size()),
        queue_(a.lanes->size()) {}

  DomainResult Run() {
    Running run;
    // The reading interval that contains w0.
    i_ = std::upper_bound(t_.begin(), t_.end(), a_.w0) - t_.begin();
    i_ = i_ == 0 ? 0 : i_ - 1;
    run.p = FactorOf(i_);
    Start(run);
    int64_t now = a_.w0;
    if constexpr (kModel && kTimeline) r_.track_t_ns.push_back(a_.w0);
    while (now < a_.w1) {
      const int64_t next_reading =
          i_ + 1 < t_.size() ? t_[i_ + 1] : std::numeric_limits<int64_t>::max();
      const int64_t next_change =
          queue_.empty() ? std::numeric_limits<int64_t>::max() : queue_.top().first;
      const int64_t tb = std::min({next_reading, next_change, a_.w1});
      Integrate(run, static_cast<Joules>(tb - now), tb == a_.w1 || tb == next_reading, tb);
      now = tb;
      if (tb == a_.w1) break;
      if (tb == next_reading) run.p = FactorOf(++i_);
      ChangeLanesAt(run, tb);
    }
    for (auto& s : state_) CloseSegment(run, s);
    r_.idle_j = run.idle_j;
    r_.idle_static_j = run.idle_static_j;
    r_.measured_j = run.measured_j;
    r_.static_j = run.static_j;
    return std::move(r_);
  }

 private:
  // Per-lane cursor into its change points, current innermost event and the
  // running integrals at its start.
  struct LaneState {
    const ChangePoint* next = nullptr;  // into the lane's change points, up to `end`
    const ChangePoint* end = nullptr;
    int64_t event = -1;
    Joules g_start = 0;
    Joules f_start = 0;
    Joules fs_start = 0;
  };

  // What changes as the sweep moves: Run's local (see the class comment).
  struct Running {
    Joules p = 0;             // J per ns (proportional), or alpha
    int64_t active = 0;       // lanes with a leaf active
    Joules active_power = 0;  // model: Σ fitted power of the active leaves, J/ns
    Joules g = 0, f = 0, fs = 0;  // the running integrals G, F and F of the static share
    Joules interval_j = 0;    // model with timeline: this reading interval's energy so far
    Joules idle_j = 0, idle_static_j = 0, measured_j = 0, static_j = 0;  // DomainResult's
  };

  // Per reading interval: the measured power (proportional) or alpha (model).
  Joules FactorOf(size_t k) const {
    if constexpr (kModel) {
      return k < a_.mw->alpha->size() ? (*a_.mw->alpha)[k] : 0;
    } else {
      if (k + 1 >= t_.size()) return 0;
      return (static_cast<Joules>(e_[k + 1]) - e_[k]) / static_cast<Joules>(t_[k + 1] - t_[k]);
    }
  }
  Joules PowerOfEvent(int64_t ev) const {
    if constexpr (kModel) return ev < 0 ? 0 : (*a_.mw->combo_power)[(*a_.combo_of_event)[ev]];
    return 0;
  }
  void Enter(Running& run, const LaneState& s) const {
    if (s.event < 0) return;
    ++run.active;
    if constexpr (kModel) run.active_power += PowerOfEvent(s.event);
  }
  void Leave(Running& run, const LaneState& s) const {
    if (s.event < 0) return;
    --run.active;
    if constexpr (kModel) run.active_power -= PowerOfEvent(s.event);
  }

  // State at w0: every change up to and including w0 applied, without energy.
  void Start(Running& run) {
    for (size_t li = 0; li < a_.lanes->size(); ++li) {
      const auto& ch = a_.prepared->changes[(*a_.lanes)[li]];
      auto& s = state_[li];
      s.next = ch.data();
      s.end = ch.data() + ch.size();
      while (s.next < s.end && s.next->t_ns <= a_.w0) s.event = (s.next++)->event;
      Enter(run, s);
      if (s.next < s.end) queue_.push({s.next->t_ns, static_cast<uint32_t>(li)});
    }
  }

  // The slice [now, now + dt): its energy to the running integrals, to (idle)
  // when no lane is active, and (model with timeline) to the reading
  // interval's energy, which is closed at `tb` when `closes_interval`.
  void Integrate(Running& run, Joules dt, bool closes_interval, int64_t tb) {
    Joules energy;
    if constexpr (kModel) {
      energy = run.p * (static_power_ + run.active_power) * dt;
      run.g += run.p * dt;
      if (run.active > 0) run.f += run.p * static_power_ * dt / run.active;
      if constexpr (kTimeline) run.interval_j += energy;
    } else {
      energy = run.p * dt;
      if (run.active > 0) run.f += energy / run.active;
    }
    if (run.active == 0) run.idle_j += energy;
    run.measured_j += energy;
    if constexpr (kStatic) {
      const Joules static_energy =
          kModel ? std::min(base_ * dt, energy) : std::min(base_, run.p) * dt;
      if (run.active > 0) {
        run.fs += static_energy / run.active;
      } else {
        run.idle_static_j += static_energy;
      }
      run.static_j += static_energy;
    }
    if constexpr (kModel && kTimeline) {
      if (closes_interval) {
        r_.track_j.push_back(run.interval_j);
        r_.track_t_ns.push_back(tb);
        run.interval_j = 0;
      }
    }
  }

  // A lane's segment ends: its energy since the segment began goes to its combo.
  void CloseSegment(const Running& run, LaneState& s) {
    if (s.event < 0) return;
    const uint32_t combo = (*a_.combo_of_event)[s.event];
    const size_t c = combo * a_.domain_count + a_.d;
    Joules energy = run.f - s.f_start;
    if constexpr (kModel) {
      const Joules dg = run.g - s.g_start;
      (*a_.mw->combo_g)[c] += dg;
      (*a_.mw->combo_f)[c] += energy;
      energy += (*a_.mw->combo_power)[combo] * dg;
    }
    (*a_.combo_j)[c] += energy;
    if constexpr (kStatic) (*a_.combo_static_j)[c] += run.fs - s.fs_start;
    if constexpr (kTimeline) {
      const uint32_t k = (*a_.timeline_index)[s.event];
      if (k != kNotInTimeline) a_.timeline->events[k].self_j += static_cast<double>(energy);
    }
  }

  // Every lane whose innermost event changes at tb closes its segment and
  // opens the next.
  void ChangeLanesAt(Running& run, int64_t tb) {
    while (!queue_.empty() && queue_.top().first == tb) {
      const uint32_t li = queue_.top().second;
      auto& s = state_[li];
      CloseSegment(run, s);
      Leave(run, s);
      s.event = (s.next++)->event;
      if constexpr (kModel) s.g_start = run.g;  // (a store of an 80-bit value costs)
      s.f_start = run.f;
      if constexpr (kStatic) s.fs_start = run.fs;
      Enter(run, s);
      queue_.advance_top(s.next < s.end ? s.next->t_ns : kNoChange);
    }
    // The running sum drifts by rounding; with no lane active it is exactly 0.
    if constexpr (kModel) {
      if (run.active == 0) run.active_power = 0;
    }
  }

  const SweepArgs& a_;
  const std::vector<int64_t>& t_;
  const std::vector<double>& e_;
  const Joules base_;          // baseline power, J per ns
  const Joules static_power_;  // model: the fit's static power, J per ns
  std::vector<LaneState> state_;
  Queue queue_;
  DomainResult r_;
  size_t i_ = 0;               // the reading interval of the sweep's time
};

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
  static constexpr AttributionMethod kAll[] = {
      AttributionMethod::kAuto, AttributionMethod::kProportional, AttributionMethod::kRegression};
  return ParseEnum(text, kAll);
}

const char* ToString(ProcessShare s) {
  switch (s) {
    case ProcessShare::kOn: return "on";
    case ProcessShare::kOff: return "off";
    case ProcessShare::kAuto: break;
  }
  return "auto";
}

std::optional<ProcessShare> ParseProcessShare(std::string_view text) {
  static constexpr ProcessShare kAll[] = {ProcessShare::kAuto, ProcessShare::kOn,
                                          ProcessShare::kOff};
  return ParseEnum(text, kAll);
}

namespace {

// `series` times a share that is constant inside each kept CPU-time interval
// [share_t[j], share_t[j + 1]) (share[j]) and `outside` before and after them:
// a cumulative series with breakpoints at every reading and every interval
// boundary inside the series. Decreases (none after normalisation) count 0.
EnergySeries SharedPart(const EnergySeries& series, const std::vector<int64_t>& share_t,
                        const std::vector<double>& share, double outside) {
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
  Joules part_j = 0;
  size_t j = 0;  // the share interval containing [t[k], t[k + 1])
  for (size_t k = 0; k + 1 < t.size(); ++k) {
    while (j < share_t.size() && share_t[j] <= t[k]) ++j;
    // share_t[j - 1] <= t[k] < share_t[j]: inside interval j - 1 when both exist.
    const double f = (j == 0 || j == share_t.size()) ? outside : share[j - 1];
    const Joules de = static_cast<Joules>(series.EnergyAt(t[k + 1])) - series.EnergyAt(t[k]);
    part_j += f * std::max<Joules>(de, 0);
    out.energy_j[k + 1] = static_cast<double>(part_j);
  }
  return out;
}

// The times of the kept CPU-time samples (ShareSamples).
std::vector<int64_t> ShareTimes(const CpuTimeLog& cpu_time, const std::vector<size_t>& kept) {
  std::vector<int64_t> t;
  t.reserve(kept.size());
  for (size_t k : kept) t.push_back(cpu_time.t_ns[k]);
  return t;
}

}  // namespace

EnergySeries ProcessTreeSeries(const EnergySeries& series, const CpuTimeLog& cpu_time) {
  if (series.empty() || cpu_time.empty()) return series;
  const std::vector<size_t> kept = ShareSamples(cpu_time);
  std::vector<double> share;
  for (size_t j = 0; j + 1 < kept.size(); ++j) {
    const int64_t busy = cpu_time.machine_busy_ns[kept[j + 1]] - cpu_time.machine_busy_ns[kept[j]];
    const int64_t tree = cpu_time.tree_ns[kept[j + 1]] - cpu_time.tree_ns[kept[j]];
    // No busy time: nothing ran that could have used the energy but idling, as without a split.
    share.push_back(busy > 0 ? std::clamp(static_cast<double>(tree) / busy, 0.0, 1.0) : 1.0);
  }
  return SharedPart(series, ShareTimes(cpu_time, kept), share, 1.0);
}

std::vector<EnergySeries> SplitTreeByProcess(const EnergySeries& tree_series,
                                             const CpuTimeLog& cpu_time,
                                             const std::vector<int64_t>& pids) {
  const size_t parts = pids.size() + 1;
  if (tree_series.empty() || cpu_time.empty()) {
    std::vector<EnergySeries> out(parts);
    out.back() = tree_series;
    return out;
  }
  const std::vector<size_t> kept = ShareSamples(cpu_time);
  // Each listed process's CPU time with that of the processes it started (its workers).
  const std::vector<CpuTimeLog::Process> procs = CpuTimeOfListedSubtrees(cpu_time, pids);
  // share[p][j]: process p's part of the tree in kept interval j; the last
  // row is what no listed process or its children used (the launcher, helpers).
  std::vector<std::vector<double>> share(parts, std::vector<double>(kept.size() - 1, 0.0));
  for (size_t j = 0; j + 1 < kept.size(); ++j) {
    const int64_t tree = cpu_time.tree_ns[kept[j + 1]] - cpu_time.tree_ns[kept[j]];
    double used = 0;
    for (size_t p = 0; p < procs.size(); ++p) {
      if (tree <= 0) continue;
      const int64_t own = procs[p].CpuNsAt(kept[j + 1]) - procs[p].CpuNsAt(kept[j]);
      share[p][j] = std::max(0.0, static_cast<double>(own) / tree);
      used += share[p][j];
    }
    // Shares of the same CPU time add up to 1 at most; more would count energy twice.
    if (used > 1) {
      for (size_t p = 0; p < procs.size(); ++p) share[p][j] /= used;
      used = 1;
    }
    share.back()[j] = 1.0 - used;
  }
  const std::vector<int64_t> share_t = ShareTimes(cpu_time, kept);
  std::vector<EnergySeries> out;
  out.reserve(parts);
  // Outside the samples nobody's CPU time is known: all of it to the rest.
  for (size_t p = 0; p < parts; ++p)
    out.push_back(SharedPart(tree_series, share_t, share[p], p + 1 == parts ? 1.0 : 0.0));
  return out;
}

namespace {

// ---- The stages of Attribute, in the order it runs them ----

// The window: where the trace and the energy log overlap. The same pass
// counts each lane's events (`lane_events`), so that the lane lists made
// next are allocated once at their size instead of growing by copies.
// Errors: kNothingMeasurable for an empty trace or no overlap.
Result<Window> FindWindow(const Trace& trace, const EnergyLog& log,
                          std::vector<size_t>& lane_events, Diagnostics& diag) {
  const size_t lane_count = trace.lanes.size();
  int64_t trace_start = std::numeric_limits<int64_t>::max();
  int64_t trace_end = std::numeric_limits<int64_t>::min();
  lane_events.assign(lane_count, 0);
  for (const Event& e : trace.events) {
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
  if (trace.events.empty()) return Nothing("the trace has no events");
  if (w0 >= w1)
    return Nothing(fmt::format(
        "the trace [{}, {}] ns and the energy log [{}, {}] ns do not overlap; nothing to attribute",
        trace_start, trace_end, energy_start, energy_end));
  if (trace_start < w0 || trace_end > w1)
    diag.Warn(fmt::format(
        "the trace runs {:.3f} s before and {:.3f} s after the energy log; events there get no "
        "energy",
        std::max<int64_t>(0, w0 - trace_start) * 1e-9, std::max<int64_t>(0, trace_end - w1) * 1e-9));
  return Window{w0, w1};
}

// Whether the profile keeps per-process figures: for several processes, or for
// one that a launcher numbered (a rank, so that a job's profiles merge).
bool KeepsProcesses(const Trace& trace) {
  if (trace.processes.size() >= 2) return true;
  return trace.processes.size() == 1 && trace.processes[0].rank >= 0;
}

// The leaves as the sweeps sum them: one combo per (node, phase, step), the
// combo of every event and each combo's calls inside the window.
struct Combos {
  std::vector<ComboKey> keys;
  std::vector<uint32_t> of_event;
  std::vector<int64_t> calls;
};

// Combo ids by key. A combo is looked up in its step's own small table (the
// steps' tables are touched one after the other, so the one in use stays in
// cache; one global table missed the cache on every new combo, ~0.6 per
// event). Per step + 1 (index 0: no step), open addressing: combo id + 1 per
// slot, power-of-two size, indexed by the top bits of a multiplicative hash
// of (node, phase), load kept at most 1/2.
class ComboIndex {
 public:
  explicit ComboIndex(size_t step_count) : step_count_(step_count), tables_(step_count + 1) {}

  // The id of `key`, added to `combos` (with 0 calls) at its first use, so
  // ids follow first use in event order: the summation order of everything after.
  uint32_t IdOf(const ComboKey& key, Combos& combos) {
    StepTable& table = TableOf(key.step);
    std::vector<uint32_t>& slots = table.slots;
    if (slots.empty()) slots.assign(16, 0);
    const int shift = 64 - __builtin_ctzll(slots.size());
    const size_t mask = slots.size() - 1;
    size_t slot = Hash(key) >> shift;
    while (slots[slot] != 0 && !(combos.keys[slots[slot] - 1] == key)) slot = (slot + 1) & mask;
    if (slots[slot] != 0) return slots[slot] - 1;
    const uint32_t c = static_cast<uint32_t>(combos.keys.size());
    combos.keys.push_back(key);
    combos.calls.push_back(0);
    slots[slot] = c + 1;
    if (++table.used * 2 > slots.size()) Grow(table, combos.keys, shift - 1);
    return c;
  }

 private:
  struct StepTable {
    std::vector<uint32_t> slots;
    size_t used = 0;
  };
  static uint64_t Hash(const ComboKey& k) {
    const uint64_t process = static_cast<uint32_t>(k.process + 1);
    return ((uint64_t{k.node} * 4 + static_cast<uint64_t>(k.phase)) ^ (process << 40)) *
           0x9E3779B97F4A7C15ull;
  }
  StepTable& TableOf(int32_t step) {
    if (step >= -1 && static_cast<size_t>(step + 1) <= step_count_) return tables_[step + 1];
    // Step ids the trace has no Step for (the dialects never make them): their
    // tables follow the others, in order of first use.
    auto it = std::find(extra_steps_.begin(), extra_steps_.end(), step);
    if (it == extra_steps_.end()) {
      extra_steps_.push_back(step);
      it = extra_steps_.end() - 1;
      tables_.emplace_back();
    }
    return tables_[step_count_ + 1 + (it - extra_steps_.begin())];
  }
  // Doubles the table; `shift` is the new size's (one bit less).
  static void Grow(StepTable& table, const std::vector<ComboKey>& keys, int shift) {
    std::vector<uint32_t> bigger(table.slots.size() * 2, 0);
    const size_t mask = bigger.size() - 1;
    for (uint32_t v : table.slots) {
      if (v == 0) continue;
      size_t b = Hash(keys[v - 1]) >> shift;
      while (bigger[b] != 0) b = (b + 1) & mask;
      bigger[b] = v;
    }
    table.slots = std::move(bigger);
  }
  size_t step_count_;
  std::vector<StepTable> tables_;
  std::vector<int32_t> extra_steps_;
};

// Combos and per-combo calls, in one pass that also counts the events
// outside the window and lists each lane's events (`by_lane`, sized by
// `lane_events`). The previous event's combo is tried first: a lane's
// events repeat combos in runs.
Combos LeafCombos(const Trace& trace, const Window& window,
                  const std::vector<size_t>& lane_events,
                  std::vector<std::vector<uint32_t>>& by_lane, bool per_process,
                  Diagnostics& diag) {
  const std::vector<Event>& events = trace.events;
  const size_t lane_count = trace.lanes.size();
  const size_t node_count = trace.nodes.size();
  Combos combos;
  combos.of_event.reserve(events.size());
  AdviseHugePages(combos.of_event.data(), events.size() * sizeof(uint32_t));
  combos.of_event.resize(events.size());
  ComboIndex index(trace.steps.size());
  by_lane.assign(lane_count, {});
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
    const int32_t process =
        per_process && e.lane < lane_count ? trace.lanes[e.lane].process : int32_t{-1};
    const ComboKey key{e.node, e.phase, e.step, process};
    const uint32_t c = last_combo < combos.keys.size() && combos.keys[last_combo] == key
                           ? last_combo
                           : index.IdOf(key, combos);
    last_combo = c;
    combos.of_event[i] = c;
    if (!out_of_window && window.End(e) >= window.Start(e) && e.node < node_count)
      combos.calls[c] += 1;  // in the window
  }
  diag.Add("account.events_outside_window", outside);
  diag.Add("account.negative_duration_dropped", negative);
  return combos;
}

// Leaf classes for the regression: a combo without its step (node + phase),
// grouped by op name + phase, toward which a class the data cannot separate
// is pooled. Empty for the proportional method, which needs none.
struct LeafClasses {
  std::vector<uint32_t> class_of_combo, group_of_class;
  size_t class_count = 0, group_count = 0;
};
LeafClasses ClassesOf(const Trace& trace, const std::vector<ComboKey>& combos) {
  LeafClasses out;
  std::unordered_map<uint64_t, uint32_t> class_id;
  std::unordered_map<std::string, uint32_t> group_id;
  out.class_of_combo.resize(combos.size());
  for (size_t c = 0; c < combos.size(); ++c) {
    const ComboKey& k = combos[c];
    const uint64_t key = uint64_t{k.node} * kPhaseCount + static_cast<uint64_t>(k.phase);
    auto [it, added] = class_id.try_emplace(key, static_cast<uint32_t>(out.class_count));
    if (added) {
      ++out.class_count;
      std::string group = k.node < trace.nodes.size() ? trace.nodes.Name(k.node) : std::string();
      group.push_back('\0');
      group.push_back(static_cast<char>('0' + static_cast<int>(k.phase)));
      auto [g, new_group] = group_id.try_emplace(group, static_cast<uint32_t>(out.group_count));
      if (new_group) ++out.group_count;
      out.group_of_class.push_back(g->second);
    }
    out.class_of_combo[c] = it->second;
  }
  return out;
}

// The profile's domains as the log names them, each with its baseline power:
// --baseline-w first, else run.json's.
void DescribeDomains(const EnergyLog& log, const AttributeOptions& options, Profile& profile) {
  profile.domains.resize(log.domains.size());
  for (size_t d = 0; d < log.domains.size(); ++d) {
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
  }
}

// Everything the domains' sweeps share: what they read, and what they add up
// (per (combo, domain), laid out combo-major).
struct Sweeps {
  Sweeps(const Trace& t, const EnergyLog& l, const AttributeOptions& o, Window w,
         const Combos& c, const LeafClasses& cl, const PreparedLanes& p,
         std::vector<std::vector<uint32_t>> lanes, Timeline* tl,
         const std::vector<uint32_t>* tl_index)
      : trace(t), log(l), options(o), window(w), combos(c), classes(cl), prepared(p),
        lanes_of(std::move(lanes)), timeline(tl), timeline_index(tl_index),
        combo_j(c.keys.size() * l.domains.size(), 0), fits(l.domains.size()),
        swept_measured_j(l.domains.size(), 0), other_precise(l.domains.size(), 0) {
    for (const Step& st : t.steps) step_starts_ns.push_back(st.start_ns);
    std::sort(step_starts_ns.begin(), step_starts_ns.end());
  }

  const Trace& trace;
  const EnergyLog& log;
  const AttributeOptions& options;
  Window window;
  const Combos& combos;
  const LeafClasses& classes;
  std::vector<int64_t> step_starts_ns;  // sorted: the regression's resampling blocks
  const PreparedLanes& prepared;
  std::vector<std::vector<uint32_t>> lanes_of;  // per domain: the lanes it meters
  Timeline* timeline;                            // null unless kept
  const std::vector<uint32_t>* timeline_index;
  bool share_on = false;  // process share
  // A job's ranks on this machine with CPU time of their own in cputime.csv:
  // their pids and indices into trace.processes (RanksByCpuTime); empty when
  // the tree's part of a CPU domain is not divided by rank.
  std::vector<int64_t> rank_pids;
  std::vector<int32_t> rank_process;

  std::vector<Joules> combo_j;
  std::vector<Joules> combo_static_j;  // only once a domain has a baseline
  // Regression: per domain its fit (ok = used), and per (combo, domain) the
  // sweep's ∫alpha and ∫alpha·static/k for the error bars.
  std::vector<regression::DomainFit> fits;
  std::vector<Joules> combo_g, combo_f;
  std::vector<std::string> fallback_reasons, meters;
  std::vector<Joules> swept_measured_j;  // what each sweep split (the tree's part)
  std::vector<Joules> other_precise;     // the other processes' energy per domain
};

// Process share: on when asked, or (auto) when the log has CPU-time data.
// Errors: kBadInput when asked for without the data. Also warns of the
// domains that stopped during the run.
Result<bool> ProcessShareOn(const EnergyLog& log, const AttributeOptions& options,
                            int64_t w0, Diagnostics& diag) {
  const bool have_cpu_time = !log.cpu_time.empty();
  if (options.process_share == ProcessShare::kOn && !have_cpu_time)
    return BadInput(log.path,
                    "--process-share on, but the energy log has no CPU-time data (cputime.csv, "
                    "written by `smaragdine record`); use --process-share off or auto");
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
  return options.process_share != ProcessShare::kOff && have_cpu_time;
}

// Domain d's regression, when the method asks for one and the domain has
// lanes; a fit that fails leaves the domain to the proportional rule, with
// its reason kept for meta (and a warning when regression was asked for by name).
void FitIfAsked(Sweeps& s, size_t d, const EnergySeries& swept, bool split, int64_t d0,
                int64_t d1, Diagnostics& diag) {
  const std::vector<uint32_t>& lanes = s.lanes_of[d];
  if (s.options.method == AttributionMethod::kProportional || lanes.empty()) return;
  const DomainInfo& info = s.log.domains[d];
  regression::DomainInput in;
  in.info = &info;
  in.series = &swept;
  in.series_is_raw = !split;
  in.prepared = &s.prepared;
  in.lanes = lanes;
  in.combo_of_event = &s.combos.of_event;
  in.class_of_combo = &s.classes.class_of_combo;
  in.class_count = s.classes.class_count;
  in.group_of_class = &s.classes.group_of_class;
  in.group_count = s.classes.group_count;
  in.w0_ns = d0;
  in.w1_ns = d1;
  in.block_starts_ns = s.step_starts_ns;
  in.replicates = s.options.ci_replicates;
  regression::DomainFit& fit = s.fits[d];
  fit = regression::FitDomain(in, diag);
  if (fit.ok) return;
  s.fallback_reasons.push_back(fit.reason);
  if (s.options.method == AttributionMethod::kRegression) {
    diag.Add("account.regression_fallback");
    diag.Warn(fmt::format("--method regression: {}; the proportional rule was used for {}",
                          fit.reason, info.name));
  }
}

// Domain d's sweep over [d0, d1) of `swept` (proportional), or of the fit's
// series with its weights: the instantiation for its baseline and timeline.
DomainResult SweepOne(Sweeps& s, size_t d, const EnergySeries& swept, double baseline_w,
                      int64_t d0, int64_t d1, const std::vector<uint32_t>& lanes) {
  const regression::DomainFit& fit = s.fits[d];
  const bool model = fit.ok;
  const size_t domain_count = s.log.domains.size();
  const size_t combo_count = s.combos.keys.size();
  const bool has_baseline = !std::isnan(baseline_w);
  if (has_baseline && s.combo_static_j.empty()) s.combo_static_j.assign(combo_count * domain_count, 0);
  std::vector<Joules> combo_power;
  if (model) {
    if (s.combo_g.empty()) {
      s.combo_g.assign(combo_count * domain_count, 0);
      s.combo_f.assign(combo_count * domain_count, 0);
    }
    combo_power.resize(combo_count);
    for (size_t c = 0; c < combo_count; ++c)
      combo_power[c] = static_cast<Joules>(fit.class_power_w[s.classes.class_of_combo[c]]) * 1e-9L;
    s.meters.push_back(fit.meter);
  }
  const ModelWeights weights{&fit.alpha, static_cast<Joules>(fit.static_w) * 1e-9L, &combo_power,
                             &s.combo_g, &s.combo_f};
  const int64_t w0 = s.window.w0, w1 = s.window.w1;
  const SweepArgs args{model ? &fit.series : &swept,
                       model ? &weights : nullptr,
                       baseline_w,
                       model ? std::max(w0, fit.series.StartNs()) : d0,
                       model ? std::min(w1, fit.series.EndNs()) : d1,
                       &lanes, &s.prepared, &s.combos.of_event, domain_count, d,
                       &s.combo_j, &s.combo_static_j, s.timeline, s.timeline_index};
  const bool linear = lanes.size() <= LinearLaneQueue::kMaxLanes;
  auto sweep = [&](auto with_static, auto with_timeline) {
    constexpr bool kS = decltype(with_static)::value, kT = decltype(with_timeline)::value;
    if (model) {
      return linear ? DomainSweep<kS, kT, true, LinearLaneQueue>(args).Run()
                    : DomainSweep<kS, kT, true, HeapLaneQueue>(args).Run();
    }
    return linear ? DomainSweep<kS, kT, false, LinearLaneQueue>(args).Run()
                  : DomainSweep<kS, kT, false, HeapLaneQueue>(args).Run();
  };
  using Yes = std::true_type;
  using No = std::false_type;
  if (s.timeline) return has_baseline ? sweep(Yes{}, Yes{}) : sweep(No{}, Yes{});
  return has_baseline ? sweep(Yes{}, No{}) : sweep(No{}, No{});
}

// Issue 13: the tree's part of CPU domain d divided among a job's ranks by
// each one's own CPU time, each rank's part swept over that rank's lanes and
// the rest (the launcher, its other children: CPU time of no rank) over every lane, as one
// part would be. Under a fit the model's powers already say whose operators
// drew the energy, so only the proportional rule is divided this way.
bool SplitsByRank(const Sweeps& s, size_t d) {
  return !s.rank_pids.empty() && !s.fits[d].ok &&
         IsCpuDevice(s.log.domains[d].device);
}

DomainResult SweepByRank(Sweeps& s, size_t d, const EnergySeries& swept, double baseline_w,
                         int64_t d0, int64_t d1) {
  const std::vector<EnergySeries> parts =
      SplitTreeByProcess(swept, s.log.cpu_time, s.rank_pids);
  const Joules whole_j = static_cast<Joules>(swept.EnergyAt(d1)) - swept.EnergyAt(d0);
  DomainResult sum;
  for (size_t p = 0; p < parts.size(); ++p) {
    const bool rest = p + 1 == parts.size();
    std::vector<uint32_t> lanes;
    for (uint32_t l : s.lanes_of[d])
      if (rest || s.trace.lanes[l].process == s.rank_process[p]) lanes.push_back(l);
    // A baseline is the whole domain's idle power: each part gets its share of it.
    const Joules part_j = static_cast<Joules>(parts[p].EnergyAt(d1)) - parts[p].EnergyAt(d0);
    const double base_w =
        std::isnan(baseline_w) ? baseline_w
                               : baseline_w * (whole_j > 0 ? static_cast<double>(part_j / whole_j) : 0.0);
    const DomainResult r = SweepOne(s, d, parts[p], base_w, d0, d1, lanes);
    sum.idle_j += r.idle_j;
    sum.idle_static_j += r.idle_static_j;
    sum.measured_j += r.measured_j;
    sum.static_j += r.static_j;
  }
  return sum;
}

// The ranks whose CPU time divides CPU domains (Sweeps::rank_pids): the
// processes of a job (two or more) that cputime.csv followed. Warns when the
// trace has ranks but the log has none of their pids (traces from another
// machine, or pids of another namespace).
void RanksByCpuTime(const Trace& trace, bool per_process, Sweeps& s, Diagnostics& diag) {
  if (!per_process || !s.share_on || trace.processes.size() < 2) return;
  for (size_t p = 0; p < trace.processes.size(); ++p) {
    const int64_t pid = trace.processes[p].pid;
    if (pid > 0 && s.log.cpu_time.FindProcess(pid)) {
      s.rank_pids.push_back(pid);
      s.rank_process.push_back(static_cast<int32_t>(p));
    }
  }
  if (s.rank_pids.size() >= 2) return;
  s.rank_pids.clear();
  s.rank_process.clear();
  diag.Add("account.ranks_without_cpu_time");
  diag.Warn(fmt::format(
      "the trace's {} processes are not (or only one is) among the processes cputime.csv "
      "followed: the recorded tree's part of each CPU domain goes to the ranks by their "
      "running operators, not by each one's own CPU time",
      trace.processes.size()));
}

// Domain d: its part of the window, its process share, its fit, its sweep and
// its figures in profile.domains. Returns false when it has no readings
// inside the window (left out, with a warning).
bool AttributeDomain(Sweeps& s, size_t d, Profile& profile) {
  Diagnostics& diag = profile.diagnostics;
  const DomainInfo& info = s.log.domains[d];
  ProfileDomain& pd = profile.domains[d];
  const int64_t w0 = s.window.w0, w1 = s.window.w1;
  const EnergySeries& series = s.log.series[d];
  const int64_t d0 = std::max(w0, series.empty() ? w1 : series.StartNs());
  const int64_t d1 = std::min(w1, series.empty() ? w0 : series.EndNs());
  if (d0 >= d1) {
    diag.Warn(fmt::format("domain {} has no readings inside the window; it is left out",
                          info.name));
    if (s.timeline) s.timeline->power[d].domain = info.name;
    return false;
  }
  if (d0 > w0 || d1 < w1)
    diag.Warn(fmt::format("domain {} covers only {:.3f} s of the {:.3f} s window", info.name,
                          (d1 - d0) * 1e-9, (w1 - w0) * 1e-9));
  if (s.lanes_of[d].empty())
    diag.Warn(fmt::format(
        "domain {} (device {}) has no lanes of that device in the trace: all its {} energy is "
        "reported as (idle)",
        info.name, info.device, info.modeled ? "modeled" : "measured"));
  // A measured CPU domain under the process share is swept over the tree's part
  // only; the rest is the other processes'. Modeled domains count the tree alone.
  const bool split = s.share_on && !info.modeled && IsCpuDevice(info.device);
  EnergySeries tree_series;
  if (split) tree_series = ProcessTreeSeries(series, s.log.cpu_time);
  const EnergySeries& swept = split ? tree_series : series;
  FitIfAsked(s, d, swept, split, d0, d1, diag);
  const bool by_rank = SplitsByRank(s, d);
  const DomainResult r = by_rank ? SweepByRank(s, d, swept, pd.baseline_w, d0, d1)
                                 : SweepOne(s, d, swept, pd.baseline_w, d0, d1, s.lanes_of[d]);
  if (s.timeline)
    s.timeline->power[d] =
        s.fits[d].ok ? PowerTrackOf(info.name, r) : BuildPowerTrack(info.name, series, d0, d1);
  pd.measured_j = static_cast<double>(r.measured_j);
  if (split) {
    const Joules measured =
        static_cast<Joules>(series.EnergyAt(d1)) - static_cast<Joules>(series.EnergyAt(d0));
    s.other_precise[d] = std::max<Joules>(0, measured - r.measured_j);
    pd.measured_j = static_cast<double>(measured);
    pd.other_j = static_cast<double>(s.other_precise[d]);
    pd.share = fmt::format(
        "by CPU time: the recorded process tree's share of the machine's busy CPU time "
        "(cputime.csv, {} threads), per interval of at least {} ms, clamped to [0, 1]",
        s.log.cpu_time.threads, kProcessShareMinIntervalNs / 1'000'000);
  }
  if (by_rank)
    pd.share += fmt::format(
        "{}the {}'s part divided among {} ranks by each one's own CPU time (cputime.csv), "
        "each rank's part to its own operators and the rest (CPU time of no rank) to all",
        pd.share.empty() ? "" : "; ", split ? "tree" : "modeled energy", s.rank_pids.size());
  pd.idle_j = static_cast<double>(r.idle_j);
  pd.static_j = std::isnan(pd.baseline_w) ? 0 : static_cast<double>(r.static_j);
  s.swept_measured_j[d] = r.measured_j;
  return true;
}

// Per node and domain, in long double: self energy, and the static part of
// its inclusive total; conservation is checked on these.
struct PreciseTree {
  std::vector<std::vector<Joules>> self_j;
  std::vector<std::vector<Joules>> static_j;
};

// The node tree with its energy: each combo's energy to its node's self (and
// phase self) and calls, then every total by the one roll-up. `step_parts`
// gets each combo's energy (all domains) for the step statistics.
Result<PreciseTree> BuildTree(const Sweeps& s, Profile& profile,
                              std::vector<tree::StepPart>& step_parts) {
  const size_t node_count = s.trace.nodes.size();
  const size_t domain_count = profile.domains.size();
  SMG_ASSIGN_OR_RETURN(profile.nodes, tree::NodesFromTable(s.trace.nodes, domain_count));
  PreciseTree precise{std::vector<std::vector<Joules>>(node_count, std::vector<Joules>(domain_count, 0)),
                      std::vector<std::vector<Joules>>(node_count, std::vector<Joules>(domain_count, 0))};
  step_parts.reserve(s.combos.keys.size());  // at most one a combo: no regrowth of ~1 M parts
  for (size_t c = 0; c < s.combos.keys.size(); ++c) {
    const ComboKey& k = s.combos.keys[c];
    if (k.node >= node_count) continue;
    ProfileNode& pn = profile.nodes[k.node];
    PhaseFigures& ph = pn.phases[static_cast<int>(k.phase)];
    Joules combo_total = 0;
    for (size_t d = 0; d < domain_count; ++d) {
      const Joules j = s.combo_j[c * domain_count + d];
      precise.self_j[k.node][d] += j;
      if (!s.combo_static_j.empty())
        precise.static_j[k.node][d] += s.combo_static_j[c * domain_count + d];
      ph.self_j[d] += static_cast<double>(j);
      combo_total += j;
    }
    pn.calls += s.combos.calls[c];
    ph.calls += s.combos.calls[c];
    if (k.step >= 0) step_parts.push_back({k.step, k.node, combo_total});
  }
  std::vector<std::vector<Joules>> total_j = precise.self_j;
  tree::RollUp(
      node_count, [&](size_t n) { return s.trace.nodes.Parent(static_cast<NodeId>(n)); },
      [&](size_t parent, size_t n) {
        for (size_t d = 0; d < domain_count; ++d) {
          total_j[parent][d] += total_j[n][d];
          precise.static_j[parent][d] += precise.static_j[n][d];
        }
      });
  tree::RollUpPhaseTotals(profile.nodes);
  for (NodeId n = 0; n < node_count; ++n)
    for (size_t d = 0; d < domain_count; ++d) {
      ProfileNode& pn = profile.nodes[n];
      pn.self_j[d] = static_cast<double>(precise.self_j[n][d]);
      pn.total_j[d] = static_cast<double>(total_j[n][d]);
      pn.total_static_j[d] =
          std::isnan(profile.domains[d].baseline_w) ? 0 : static_cast<double>(precise.static_j[n][d]);
    }
  return precise;
}

// Per-process figures (ranks), when the profile keeps them: each combo's
// energy and calls to its process's part of its node, totals by the one
// roll-up, busy time as PrepareLanes measured it per process.
void FillProcessFigures(const Sweeps& s, const PreparedLanes& prepared, Profile& profile) {
  const size_t process_count = profile.processes.size();
  const size_t domain_count = profile.domains.size();
  if (process_count == 0) return;
  std::vector<std::vector<Joules>> self(profile.nodes.size());
  for (ProfileNode& pn : profile.nodes) {
    pn.process_total_j.assign(process_count * domain_count, 0);
    pn.process_time_ns.assign(process_count, 0);
    pn.process_calls.assign(process_count, 0);
  }
  for (size_t c = 0; c < s.combos.keys.size(); ++c) {
    const ComboKey& k = s.combos.keys[c];
    if (k.node >= profile.nodes.size() || k.process < 0 ||
        static_cast<size_t>(k.process) >= process_count)
      continue;
    std::vector<Joules>& into = self[k.node];
    if (into.empty()) into.assign(process_count * domain_count, 0);
    const size_t p = static_cast<size_t>(k.process);
    for (size_t d = 0; d < domain_count; ++d)
      into[p * domain_count + d] += s.combo_j[c * domain_count + d];
    profile.nodes[k.node].process_calls[p] += s.combos.calls[c];
  }
  for (size_t n = 0; n < profile.nodes.size(); ++n) {
    ProfileNode& pn = profile.nodes[n];
    for (size_t k = 0; k < self[n].size(); ++k) pn.process_total_j[k] = static_cast<double>(self[n][k]);
    for (size_t p = 0; p < process_count; ++p)
      pn.process_time_ns[p] = prepared.process_busy_ns[n * process_count + p];
  }
  tree::RollUpProcessTotals(profile.nodes);
}

// Time: busy time of each node's subtree, per lane, summed over lanes
// (PrepareLanes measured it).
void FillBusyTime(const PreparedLanes& prepared, Profile& profile) {
  for (size_t n = 0; n < profile.nodes.size(); ++n) {
    profile.nodes[n].time_ns = prepared.busy_ns[n * kPhaseSlots + kPhaseCount];
    for (int ph = 0; ph < kPhaseCount; ++ph)
      profile.nodes[n].phases[ph].time_ns = prepared.busy_ns[n * kPhaseSlots + ph];
  }
}

// Steps: those that overlap the window (step times were aligned with the
// events) are counted in meta and in every node's statistics.
void FillSteps(const Trace& trace, const Window& window, std::vector<tree::StepPart>& step_parts,
               Profile& profile) {
  std::vector<bool> step_in_window(trace.steps.size(), false);
  int64_t steps_n = 0;
  for (size_t s = 0; s < trace.steps.size(); ++s) {
    if (trace.steps[s].end_ns > window.w0 && trace.steps[s].start_ns < window.w1) {
      step_in_window[s] = true;
      ++steps_n;
    }
  }
  profile.meta.steps = steps_n;
  tree::FillStepStats(step_parts, step_in_window, steps_n, profile.nodes);
}

// meta: the tool, the inputs, the method and the window; and the trace's data
// flow, which carries over as it is (profile node i is trace node i).
void FillMeta(const Trace& trace, const EnergyLog& log, const AttributeOptions& options,
              const Sweeps& s, Profile& profile) {
  profile.meta.tool = std::string("smaragdine ") + SMARAGDINE_VERSION;
  profile.meta.energy_source = log.path;
  profile.meta.traces = trace.sources;
  profile.meta.dialect = trace.dialect;
  DescribeMethod(options.method, log, s.fits, s.fallback_reasons, s.meters, profile);
  profile.meta.clock = ToString(log.clock);
  profile.meta.host = log.launch.host;
  profile.meta.job_id = log.launch.job_id;
  profile.meta.window_start_ns = s.window.w0;
  profile.meta.window_end_ns = s.window.w1;
  const size_t node_count = trace.nodes.size();
  for (const auto& [from, to] : trace.dataflow)
    if (from < node_count && to < node_count) profile.dataflow.emplace_back(from, to);
}

}  // namespace

// The stages: window → leaf combos (and classes for the regression) → lanes
// flattened into change points → per domain: fit (regression) and sweep →
// node tree and roll-up → error bars, time, step statistics → conservation
// check → meta. Each stage's comment says why it is shaped as it is.
Result<Profile> Attribute(const Trace& trace, const EnergyLog& log, const AttributeOptions& options) {
  Profile profile;
  Diagnostics& diag = profile.diagnostics;
  diag.Merge(log.diagnostics);
  diag.Merge(trace.diagnostics);
  const size_t domain_count = log.domains.size();

  // Events are clipped to the window as they are read (Window): energy
  // outside it is not accounted, and calls and time follow the same window
  // so that power = energy / time holds.
  std::vector<size_t> lane_events;
  SMG_ASSIGN_OR_RETURN(const Window window, FindWindow(trace, log, lane_events, diag));
  // Per-process figures for the ranks of a job, or the processes of a run
  // that had several; a run of one process that no launcher numbered has none.
  const bool per_process = KeepsProcesses(trace);
  if (per_process) profile.processes = trace.processes;
  std::vector<std::vector<uint32_t>> by_lane;
  const Combos combos = LeafCombos(trace, window, lane_events, by_lane, per_process, diag);
  const LeafClasses classes = options.method != AttributionMethod::kProportional
                                  ? ClassesOf(trace, combos.keys)
                                  : LeafClasses{};

  // The timeline, when kept, is filled by PrepareLanes (events) and the sweeps (energy).
  Timeline* timeline = options.keep_timeline ? &profile.timeline : nullptr;
  std::vector<uint32_t> timeline_index;
  if (timeline) {
    timeline->lanes = trace.lanes;
    timeline->steps = trace.steps;
    timeline->events.reserve(trace.events.size());
    timeline->power.resize(domain_count);
    timeline_index.assign(trace.events.size(), kNotInTimeline);
  }
  auto progress = [&](int64_t done) {
    if (options.progress) options.progress("attributing", done, int64_t(domain_count) + 1);
  };
  const PreparedLanes prepared =
      PrepareLanes(trace, window, by_lane, diag, timeline, timeline ? &timeline_index : nullptr,
                   per_process);
  progress(1);

  DescribeDomains(log, options, profile);
  // The lane-metering rule is applied here, once; the timeline keeps its answer.
  Sweeps s(trace, log, options, window, combos, classes, prepared,
           MeteredLanes(profile.domains, trace.lanes), timeline, &timeline_index);
  if (timeline) timeline->domain_lanes = s.lanes_of;
  SMG_ASSIGN_OR_RETURN(s.share_on, ProcessShareOn(log, options, window.w0, diag));
  RanksByCpuTime(trace, per_process, s, diag);
  bool any_measured = false;
  for (size_t d = 0; d < domain_count; ++d) {
    if (!AttributeDomain(s, d, profile)) continue;
    progress(static_cast<int64_t>(d) + 2);
    any_measured = true;
  }
  if (!any_measured) return Nothing("no energy domain has readings inside the trace's window");

  std::vector<tree::StepPart> step_parts;
  SMG_ASSIGN_OR_RETURN(const PreciseTree precise, BuildTree(s, profile, step_parts));
  if (options.ci_replicates > 0)
    TotalCi95(trace.nodes, combos.keys, classes.class_of_combo, s.fits, s.combo_g, s.combo_f,
              s.swept_measured_j, options.ci_replicates, profile);
  FillBusyTime(prepared, profile);
  FillProcessFigures(s, prepared, profile);
  FillSteps(trace, window, step_parts, profile);
  // Conservation (§6.5): nodes plus (idle) plus (other processes) equal the measured energy.
  if (options.check_conservation)
    SMG_RETURN_IF_ERROR(CheckConservation(profile, precise.self_j, s.other_precise,
                                          options.conservation_tolerance));
  FillMeta(trace, log, options, s, profile);
  return profile;
}

}  // namespace smaragdine
