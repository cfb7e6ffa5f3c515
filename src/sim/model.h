// model.h — the simulator's physical model and its exact attribution (internal).
//
// A device draws P(t) = idle_w + Σ dynamic power of the innermost interval on
// each of its lanes. AnalyticAttribution sweeps the slices of constant active
// set (DESIGN §6) without sampling and gives the truth; the same sweep yields
// each domain's piecewise-constant power curve, which SampleReadings turns
// into what a meter read by a jittery sampler shows: a quantised, slowly
// updating counter, or a power meter reporting a window average or an
// instantaneous value at each of its updates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/energy_log.h"
#include "smaragdine/simulate.h"

namespace smaragdine::sim {

// SplitMix64: tiny, and identical on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  uint64_t Next();
  double Uniform();                          // [0, 1)
  int64_t Range(int64_t lo, int64_t hi);     // [lo, hi], hi ≥ lo
 private:
  uint64_t state_;
};

// A stable hash of (seed, name): the same op name gets the same power in every run.
uint64_t HashName(uint64_t seed, std::string_view name);

// The meter updates at log_start + phase_ns + k·update_period_ns (k any
// integer); a reading shows its value at the last update at or before the
// read. kCounter: energy since the update the first reading shows (the last
// at or before log_start), floored to unit_j.
// kWindowedPower: the average of P over the window_ns before the update;
// kInstantPower: P at the update; both floored to unit_w. P before the log
// start is the first slice's power (the device idled before the program).
struct DomainSpec {
  std::string name;    // "cpu:0/package"
  std::string device;  // "CPU:0"
  double idle_w = 0;
  int64_t update_period_ns = 1'000'000;
  double unit_j = 0;
  MeterKind meter = MeterKind::kCounter;
  int64_t phase_ns = 0;   // in [0, update_period_ns)
  int64_t window_ns = 0;  // kWindowedPower; ≥ 1
  double unit_w = 0;      // power meters; 0 = exact
};

struct LaneSpec {
  std::string device;
};

// One execution interval on the monotonic clock. dyn_w is per domain (0 for
// domains of other devices). Intervals on a lane nest.
struct Interval {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint32_t lane = 0;
  std::string path;
  std::vector<double> dyn_w;
  bool scope = false;
  Phase phase = Phase::kForward;  // what the trace reader will say of it
};

// Piecewise-constant power from log start: power_w[i] holds on [t_ns[i], t_ns[i+1]).
struct PowerCurve {
  std::vector<int64_t> t_ns;
  std::vector<double> power_w;
  std::vector<double> cum_j;  // energy at t_ns[i] since t_ns[0]
  // Energy since t_ns[0]; before it, the first power extends backwards (so
  // the result is negative there).
  double EnergyAt(int64_t t_ns) const;
  double PowerAt(int64_t t_ns) const;  // right-continuous; the first power before t_ns[0]
};

// Exact §6 attribution inside [window_start, window_end]; curves cover [log_start, log_end].
void AnalyticAttribution(const std::vector<Interval>& intervals, const std::vector<LaneSpec>& lanes,
                         const std::vector<DomainSpec>& domains, int64_t log_start_ns,
                         int64_t log_end_ns, int64_t window_start_ns, int64_t window_end_ns,
                         SimTruth* truth, std::vector<PowerCurve>* curves);

// Readings every sample period (± jitter/2 · period) from log_start to log_end
// inclusive, each showing the domain's meter at its last update (DomainSpec).
// Counters read 0 at log_start. Sorted by (time, domain).
std::vector<RawReading> SampleReadings(const std::vector<PowerCurve>& curves,
                                       const std::vector<DomainSpec>& domains,
                                       int64_t log_start_ns, int64_t log_end_ns,
                                       int64_t sample_period_ns, double jitter, uint64_t seed);

// The value of domain d's meter for a read at t_ns (the formula of SampleReadings).
double MeterReading(const PowerCurve& curve, const DomainSpec& d, int64_t log_start_ns,
                    int64_t t_ns);
// The last update of the domain's meter at or before t_ns.
int64_t LastUpdateNs(const DomainSpec& d, int64_t log_start_ns, int64_t t_ns);

// EnergyLog metadata (domains, clock_sync every second, baseline = idle power).
// With describe_meter, each DomainInfo also gets its quantity, meter model and
// a note with the period, phase, window and unit (what `simulate` knows exactly).
EnergyLog MakeMeta(const std::vector<DomainSpec>& domains, int64_t log_start_ns,
                   int64_t log_end_ns, int64_t realtime_offset_ns, int64_t sample_period_ns,
                   std::vector<std::string> command, bool describe_meter = false);

int64_t RoundUp(int64_t x, int64_t q);
int64_t RoundDown(int64_t x, int64_t q);

}  // namespace smaragdine::sim
