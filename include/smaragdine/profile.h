// profile.h — the result of accounting: the node tree with energy per domain.
//
// A Profile is what `account` writes as profile.json (DESIGN §7.3) and what
// every report reads. Energies are joules inside the accounting window;
// node `total` includes its descendants, `self` does not.
//
//   SMG_ASSIGN_OR_RETURN(Profile p, ReadProfileJson("profile.json"));
//   for (const ProfileNode& n : p.nodes)
//     fmt::print("{:<60} {:10.3f} J\n", n.path, n.TotalJ());
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smaragdine/diagnostics.h"
#include "smaragdine/status.h"
#include "smaragdine/trace.h"

namespace smaragdine {

struct ProfileDomain {
  std::string name;
  std::string device;
  std::string source;
  double measured_j = 0;  // energy of this domain inside the window
  double idle_j = 0;      // the part no leaf was active for
  double baseline_w = NAN;  // static power, NaN when no baseline was given
  double static_j = 0;    // baseline_w × window (0 without baseline)
  bool modeled = false;
  // Process share (energy virtualization): the part of measured_j that other
  // processes on the machine used, by CPU time; 0 when not split. Conservation:
  // the nodes' energy + idle_j + other_j = measured_j.
  double other_j = 0;
  std::string share;  // how the split was made, in words; "" when not split
};

// Energy of one node restricted to one phase (per domain index).
struct PhaseFigures {
  std::vector<double> self_j;
  std::vector<double> total_j;
  int64_t time_ns = 0;
  int64_t calls = 0;
  bool empty() const { return calls == 0 && SumOf(total_j) == 0; }
  static double SumOf(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s;
  }
};

// Across steps: the node's total energy (all domains) per step.
struct StepStats {
  int64_t n = 0;
  double mean_j = 0;
  double std_j = 0;   // sample standard deviation (n-1)
  double ci95_j = 0;  // half-width of the 95 % confidence interval of the mean (Student t)
};

// Across the original nodes that path rules (--fold, --map) merged into this
// node, e.g. layer_0 … layer_11 into layer_*: each original's total energy as it
// was in the unfolded profile (all the profile's domains). n = 0 when fewer than
// two originals merged. Ties for min/max go to the first original in profile order.
struct SiblingStats {
  int64_t n = 0;
  double mean_j = 0;
  double std_j = 0;  // sample standard deviation (n-1)
  double min_j = 0;
  double max_j = 0;
  std::string min_path;  // original path of the cheapest sibling
  std::string max_path;  // original path of the dearest sibling
};

struct ProfileNode {
  uint32_t id = 0;
  int64_t parent = -1;  // -1 for the root
  std::string name;     // "" for the root
  std::string path;     // "" for the root
  NodeKind kind = NodeKind::kScope;
  std::vector<double> self_j;   // per domain index
  std::vector<double> total_j;  // per domain index, self plus all descendants
  std::vector<double> total_static_j;  // the static part of total_j (0 without baseline)
  // Half-width of the 95 % interval of total_j from the attribution's own
  // uncertainty (the regression fit; DESIGN §6.10), per domain index; empty
  // when the method gives none (proportional). Meter calibration error is not in it.
  std::vector<double> total_ci95_j;
  // Busy time in the window: on each lane, the length of the union of the
  // intervals of this node's and its descendants' events, summed over lanes
  // (so a kernel's GPU time adds to the CPU op that launched it).
  int64_t time_ns = 0;
  int64_t calls = 0;
  std::array<PhaseFigures, kPhaseCount> phases;
  StepStats steps;
  SiblingStats siblings;  // only on nodes that FoldProfile merged from ≥ 2 originals
  // Per process of Profile::processes (ranks), when the profile has them
  // (empty otherwise): total energy per domain, process-major (process p,
  // domain d at p × domains + d), busy time and calls. A node's figures summed
  // over processes are its total_j, time_ns and calls.
  std::vector<double> process_total_j;
  std::vector<int64_t> process_time_ns;
  std::vector<int64_t> process_calls;

  double SelfJ() const { return PhaseFigures::SumOf(self_j); }
  // Process p's total energy over all domains (0 when the node has no per-process figures).
  double ProcessTotalJ(size_t p) const {
    const size_t domains = total_j.size();
    if (domains == 0 || (p + 1) * domains > process_total_j.size()) return 0;
    double s = 0;
    for (size_t d = 0; d < domains; ++d) s += process_total_j[p * domains + d];
    return s;
  }
  double TotalJ() const { return PhaseFigures::SumOf(total_j); }
  // Sizes every per-domain figure (self, total, static, each phase's) for
  // `domain_count` domains, all 0 J: a new node before energy is added to it.
  void ZeroEnergies(size_t domain_count) {
    self_j.assign(domain_count, 0);
    total_j.assign(domain_count, 0);
    total_static_j.assign(domain_count, 0);
    for (PhaseFigures& ph : phases) {
      ph.self_j.assign(domain_count, 0);
      ph.total_j.assign(domain_count, 0);
    }
  }
  // Average power while the node ran: total energy / time (0 when time is 0).
  double PowerW() const { return time_ns > 0 ? TotalJ() / (time_ns * 1e-9) : 0.0; }
  // Half-width of the 95 % interval of TotalJ() (domains taken as independent:
  // root of the sum of squares); 0 when the profile has none.
  double TotalCi95J() const {
    double s = 0;
    for (double x : total_ci95_j) s += x * x;
    return std::sqrt(s);
  }
};

struct ProfileMeta {
  std::string tool;              // "smaragdine 0.1.0"
  std::string energy_source;     // path of the run directory or CSV
  std::vector<std::string> traces;
  std::string dialect;
  std::string method;            // "proportional: …" | "regression: …", in words
  std::string method_reason;     // why `auto` chose it ("" when asked for by name)
  std::string meter;             // the meter model used per domain, in words (estimated figures marked)
  std::string alignment;         // how trace time was mapped onto the energy clock, in words
  std::string clock;             // the energy log's clock
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;
  int64_t steps = 0;
  std::string host;    // the machine the run was recorded on ("" when unknown)
  std::string job_id;  // Slurm's job id where record ran under Slurm
};

// One machine of a job profile made by MergeProfiles: its own run's window
// (on its own clock: clocks of different machines are never compared) and
// its domains' figures, each conserved on its own (nodes + idle + other =
// measured, per domain, on that machine).
struct ProfileMachine {
  std::string host;
  std::string profile;  // the profile.json it came from
  std::string clock;
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;
  int64_t steps = 0;
  std::vector<ProfileDomain> domains;
  // Its processes: indices into Profile::processes.
  std::vector<uint32_t> processes;
};

// The accounted run as a timeline, for the Perfetto view and power charts:
// every event with its energy, and each domain's power over the window. Times
// are on the energy log's clock (ProfileMeta::clock).
//
// Events are those of the trace inside the accounting window, clipped to it
// and with partial overlaps repaired as attribution did, so that the events
// of one lane nest. Zero-length events (calls without time) are kept.
struct TimelineEvent {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint32_t node = 0;  // index into Profile::nodes
  uint32_t lane = 0;  // index into Timeline::lanes
  int32_t step = -1;  // index into Timeline::steps, -1 outside any step
  Phase phase = Phase::kOther;
  // Energy while this event was the innermost one on its lane (all domains);
  // an enclosing slice's energy is its own plus its nested events'.
  double self_j = 0;
};

// Power of one domain as steps: power_w[i] from t_ns[i] to t_ns[i + 1]
// (t_ns has one more entry than power_w; both empty when the domain had no
// readings in the window). Integrates to the domain's measured_j.
struct PowerTrack {
  std::string domain;
  std::vector<int64_t> t_ns;
  std::vector<double> power_w;
};

struct Timeline {
  std::vector<Lane> lanes;
  std::vector<Step> steps;            // the trace's steps, on the energy clock
  std::vector<TimelineEvent> events;  // sorted by (lane, start_ns, -end_ns): parents first
  std::vector<PowerTrack> power;      // one per domain, in Profile::domains order
  // Per domain (Profile::domains order), the lanes whose events it split its
  // energy over, ascending: what attribution decided, so that views of one
  // domain need not decide again. Not written to profile.json: it follows from
  // the devices there by DomainMetersLane, and the reader fills it so.
  std::vector<std::vector<uint32_t>> domain_lanes;
  bool empty() const { return events.empty() && power.empty(); }
};

// The lane-metering rule, the one place it is written: does a domain of device
// `domain_device` ("CPU:0", "GPU:1") meter the events of `lane`? Traces do not
// say which CPU socket ran a thread, so every CPU lane counts for every CPU
// domain; a GPU domain meters the lanes of its own device only.
bool DomainMetersLane(const std::string& domain_device, const Lane& lane);
// For each of `domains`, the indices of the `lanes` it meters (ascending).
std::vector<std::vector<uint32_t>> MeteredLanes(const std::vector<ProfileDomain>& domains,
                                                const std::vector<Lane>& lanes);

struct Profile {
  ProfileMeta meta;
  std::vector<ProfileDomain> domains;
  std::vector<ProfileNode> nodes;  // nodes[0] is the root; parents come before children
  // The processes (ranks) the nodes' per-process figures are of; empty when the
  // run was one process that no launcher numbered (then nodes have none).
  std::vector<Process> processes;
  // The machines a job profile was merged from (MergeProfiles); empty for one
  // machine's profile. The domains above are then sums over machines by name.
  std::vector<ProfileMachine> machines;
  Timeline timeline;               // empty unless account kept it (--timeline)
  // Data flow between nodes (indices into `nodes`): (producer, consumer)
  // pairs of distinct nodes, sorted, each once; from Trace::dataflow (TF1's
  // inputN args). Empty when the trace recorded none: module graphs then
  // show execution order instead.
  std::vector<std::pair<uint32_t, uint32_t>> dataflow;
  Diagnostics diagnostics;

  double MeasuredJ() const;
  double IdleJ() const;
  // Index of the node with this path, or -1.
  int64_t Find(const std::string& path) const;
  std::vector<std::vector<uint32_t>> Children() const;
};

constexpr const char* kProfileFormat = "smaragdine-profile/1";

// Where text goes a piece at a time (a file being written, standard output).
using TextSink = std::function<Status(std::string_view)>;

// Writes / reads profile.json. Reading rejects another major format version
// with a message that names it. Errors: kBadInput naming the file.
// Writing goes through AtomicFile (the file holds the whole profile, or is left
// as it was) in pieces of about 1 MiB: the text is never held whole.
Status WriteProfileJson(const Profile& profile, const std::string& path);
// The same text handed to `sink` in pieces of about 1 MiB, in order; stops at
// the first piece the sink refuses and returns its error.
Status WriteProfileJson(const Profile& profile, const TextSink& sink);
std::string ProfileToJson(const Profile& profile);
Result<Profile> ReadProfileJson(const std::string& path);
Result<Profile> ParseProfileJson(const std::string& name, std::string_view text);

// ---- The tree algebra (src/profile/transform.cpp) ----
// Reports start from these; attribution builds trees with the same roll-up.

// Gives every node the path `new_path(path)` and merges the nodes whose new
// paths coincide, creating missing ancestors as scopes (empty components are
// skipped, as NodeTable does). Self energies, time, calls and phase figures
// add; totals are recomputed from the selfs of the new tree (so conservation
// holds); step stats and total_ci95 combine as independent parts (sqrt of the
// sum of squares, an approximation); a node merged from ≥ 2 originals not
// nested in one another gets `siblings`. The timeline's events and the data
// flow name the merged nodes. A profile without nodes comes back as it is.
Profile MergeNodesByPath(const Profile& profile,
                         const std::function<std::string(const std::string&)>& new_path);

// The profile of domain `d` alone (an index into profile.domains, which must
// be valid): each node's figures of that domain; step and sibling stats, which
// are totals over all domains, become unknown (n = 0) when there are several;
// the timeline keeps the events on the lanes `d` metered (Timeline::domain_lanes),
// each with its share of `d` taken as its node's share of `d` among the domains
// that metered the lane (exact for a node's sum over one device's lanes, an
// approximation for each event).
Profile DomainProfile(const Profile& profile, size_t d);

// The subtree under node `root` (down to `depth` levels below it; unset: all)
// as a profile of its own; a node below `depth` is counted in its deepest kept
// ancestor (the timeline's events and the data flow too).
Profile SubtreeProfile(const Profile& profile, uint32_t root, std::optional<int> depth);

// ---- Many machines (src/profile/merge.cpp) ----

struct MergeOptions {
  // Merge what is there when a rank or an input is missing or unreadable,
  // with a warning that lists it, instead of failing (merge --allow-partial).
  bool allow_partial = false;
};

// Merges machine profiles (each `account`ed where it ran) into one job
// profile, reading one input at a time: nodes by path; domains by name
// (measured, idle, other and static energies add, so that per-domain
// conservation holds for the sum as it held on each machine); every input's
// processes (ranks) one after the other, with their per-node figures (an input
// without per-process figures counts as one process: its whole machine);
// machines[] keeps each input's own domains and window. Step statistics add as
// independent parts. Timelines are dropped: their clocks are each machine's own.
// An input may be a profile.json or a run directory holding one.
// Errors: kBadInput naming the input for one that is missing or unreadable, a
// rank given twice, or ranks missing from the world the inputs declare
// (listing them); with allow_partial those become warnings in the result's
// diagnostics instead (an unreadable input is then left out). kUsage for no inputs.
Result<Profile> MergeProfiles(const std::vector<std::string>& inputs, const MergeOptions& options);

}  // namespace smaragdine
