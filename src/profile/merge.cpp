// MergeProfiles (profile.h): machine profiles into one job profile, as a
// streaming reduction — one input is read, folded in and released before the
// next, so memory is one merged tree plus its per-rank figures, whatever the
// number of inputs.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/int_ranges.h"
#include "profile/tree.h"
#include "smaragdine/profile.h"

namespace smaragdine {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}


class JobMerge {
 public:
  // Folds one machine's profile in. `input` names it in messages.
  Status Add(const std::string& input, Profile in) {
    SMG_RETURN_IF_ERROR(CheckRanks(input, in));
    const std::vector<size_t> dom = MapDomains(in);
    const size_t first_process = out_.processes.size();
    AddProcesses(input, in);
    AddMachine(input, in, first_process);
    AddNodes(in, dom, first_process);
    AddMeta(in);
    out_.diagnostics.Merge(in.diagnostics);
    ++inputs_;
    return {};
  }

  // Ranks the inputs' world sizes call for that no input had, ascending.
  std::vector<int32_t> MissingRanks() const {
    std::vector<int32_t> missing;
    for (int32_t r = 0; r < world_size_; ++r)
      if (!ranks_.count(r)) missing.push_back(r);
    return missing;
  }

  // Ranks some input had, ascending.
  std::vector<int32_t> PresentRanks() const {
    std::vector<int32_t> present;
    for (const auto& [rank, input] : ranks_) present.push_back(rank);
    return present;
  }

  Profile Finish() {
    RollUp();
    std::sort(dataflow_.begin(), dataflow_.end());
    dataflow_.erase(std::unique(dataflow_.begin(), dataflow_.end()), dataflow_.end());
    out_.dataflow = std::move(dataflow_);
    ProfileMeta& m = out_.meta;
    m.tool = std::string("smaragdine ") + SMARAGDINE_VERSION;
    m.energy_source = fmt::format("{} machine profiles (merge)", inputs_);
    m.alignment = "each machine's traces were aligned with its own energy log; see machines";
    m.clock = "per machine";
    m.window_start_ns = 0;
    m.window_end_ns = longest_window_ns_;
    return std::move(out_);
  }

  size_t inputs() const { return inputs_; }
  int32_t world_size() const { return world_size_; }

 private:
  // A rank given twice would count its energy twice: refused, whether another
  // input or this one has it already. All of the input's ranks are checked
  // before any is recorded, so a refused input leaves no rank behind.
  Status CheckRanks(const std::string& input, const Profile& in) {
    std::set<int32_t> mine;
    for (const Process& p : in.processes) {
      if (p.rank < 0) continue;
      if (!mine.insert(p.rank).second)
        return BadInput(input, fmt::format("names rank {} twice: each rank's energy counts once",
                                           p.rank));
      auto it = ranks_.find(p.rank);
      if (it != ranks_.end())
        return BadInput(input, fmt::format("has rank {}, which {} has too: each rank's energy "
                                           "counts once",
                                           p.rank, it->second));
    }
    for (const Process& p : in.processes) {
      if (p.rank < 0) continue;
      ranks_.emplace(p.rank, input);
      world_size_ = std::max(world_size_, p.world_size);
    }
    return {};
  }

  // Index of each of the input's domains among the merged ones (by name);
  // new names are added, and the per-domain figures laid out again for them.
  std::vector<size_t> MapDomains(const Profile& in) {
    std::vector<size_t> map(in.domains.size());
    const size_t before = out_.domains.size();
    for (size_t d = 0; d < in.domains.size(); ++d) {
      const ProfileDomain& src = in.domains[d];
      auto it = domain_index_.find(src.name);
      if (it == domain_index_.end()) {
        it = domain_index_.emplace(src.name, out_.domains.size()).first;
        ProfileDomain fresh;
        fresh.name = src.name;
        fresh.device = src.device;
        fresh.source = src.source;
        fresh.baseline_w = NAN;
        out_.domains.push_back(fresh);
      }
      map[d] = it->second;
      ProfileDomain& dst = out_.domains[it->second];
      dst.measured_j += src.measured_j;
      dst.idle_j += src.idle_j;
      dst.other_j += src.other_j;
      dst.static_j += src.static_j;
      if (!std::isnan(src.baseline_w))
        dst.baseline_w = std::isnan(dst.baseline_w) ? src.baseline_w : dst.baseline_w + src.baseline_w;
      dst.modeled |= src.modeled;
      if (dst.share.empty()) dst.share = src.share;
      if (dst.source != src.source) dst.source = "per machine";
    }
    if (out_.domains.size() != before) Relayout(before, out_.domains.size());
    return map;
  }

  // Per-domain vectors from `old_nd` to `new_nd` domains (new ones at 0 J).
  void Relayout(size_t old_nd, size_t new_nd) {
    auto grow = [&](std::vector<double>& v) { v.resize(new_nd, 0.0); };
    for (size_t n = 0; n < out_.nodes.size(); ++n) {
      ProfileNode& node = out_.nodes[n];
      grow(node.self_j);
      grow(node.total_j);
      grow(node.total_static_j);
      grow(static_self_[n]);
      if (!node.total_ci95_j.empty() || any_ci95_) grow(ci95_squares_[n]);
      for (PhaseFigures& ph : node.phases) {
        grow(ph.self_j);
        grow(ph.total_j);
      }
      std::vector<double>& ps = process_self_[n];
      if (ps.empty()) continue;
      const size_t np = ps.size() / old_nd;
      std::vector<double> wider(np * new_nd, 0.0);
      for (size_t p = 0; p < np; ++p)
        for (size_t d = 0; d < old_nd; ++d) wider[p * new_nd + d] = ps[p * old_nd + d];
      ps = std::move(wider);
    }
  }

  // The input's processes after those already merged; an input without
  // per-process figures is one process, its whole machine.
  void AddProcesses(const std::string& input, const Profile& in) {
    if (!in.processes.empty()) {
      for (Process p : in.processes) {
        if (p.host.empty()) p.host = in.meta.host;
        out_.processes.push_back(std::move(p));
      }
      return;
    }
    Process whole;
    whole.host = in.meta.host;
    whole.source = input;
    out_.processes.push_back(std::move(whole));
  }

  void AddMachine(const std::string& input, const Profile& in, size_t first_process) {
    ProfileMachine m;
    m.host = in.meta.host;
    m.profile = input;
    m.clock = in.meta.clock;
    m.window_start_ns = in.meta.window_start_ns;
    m.window_end_ns = in.meta.window_end_ns;
    m.steps = in.meta.steps;
    m.domains = in.domains;
    for (size_t p = first_process; p < out_.processes.size(); ++p)
      m.processes.push_back(static_cast<uint32_t>(p));
    longest_window_ns_ = std::max(longest_window_ns_, m.window_end_ns - m.window_start_ns);
    out_.machines.push_back(std::move(m));
  }

  uint32_t NodeFor(const ProfileNode& src) {
    const NodeId id = table_.InternPath(src.path, src.kind);
    while (out_.nodes.size() < table_.size()) {
      const NodeId n = static_cast<NodeId>(out_.nodes.size());
      ProfileNode node;
      node.id = n;
      node.kind = table_.Kind(n);
      node.ZeroEnergies(out_.domains.size());
      if (n != kRootNode) {
        node.parent = table_.Parent(n);
        node.name = table_.Name(n);
        node.path = table_.Path(n);
      }
      out_.nodes.push_back(std::move(node));
      static_self_.emplace_back(out_.domains.size(), 0.0);
      ci95_squares_.emplace_back();
      process_self_.emplace_back();
      process_time_.emplace_back();
      process_calls_.emplace_back();
    }
    if (src.kind > out_.nodes[id].kind) out_.nodes[id].kind = src.kind;
    return id;
  }

  void AddNodes(const Profile& in, const std::vector<size_t>& dom, size_t first_process) {
    const size_t nd = out_.domains.size();
    const size_t in_nd = in.domains.size();
    const size_t np = out_.processes.size();
    const size_t in_np = np - first_process;
    const std::vector<std::vector<double>> in_process_self = tree::ProcessSelfJ(in.nodes);
    const auto children = in.Children();
    std::vector<uint32_t> new_of(in.nodes.size(), 0);
    for (size_t i = 0; i < in.nodes.size(); ++i) {
      const ProfileNode& src = in.nodes[i];
      const uint32_t t = NodeFor(src);  // the root's path "" is the root
      new_of[i] = t;
      ProfileNode& dst = out_.nodes[t];
      for (size_t d = 0; d < in_nd && d < src.self_j.size(); ++d) {
        dst.self_j[dom[d]] += src.self_j[d];
        double own_static = d < src.total_static_j.size() ? src.total_static_j[d] : 0.0;
        for (uint32_t c : children[i])
          if (d < in.nodes[c].total_static_j.size()) own_static -= in.nodes[c].total_static_j[d];
        static_self_[t][dom[d]] += own_static;
        for (int ph = 0; ph < kPhaseCount; ++ph)
          if (d < src.phases[ph].self_j.size()) dst.phases[ph].self_j[dom[d]] += src.phases[ph].self_j[d];
      }
      dst.time_ns += src.time_ns;
      dst.calls += src.calls;
      for (int ph = 0; ph < kPhaseCount; ++ph) {
        dst.phases[ph].time_ns += src.phases[ph].time_ns;
        dst.phases[ph].calls += src.phases[ph].calls;
      }
      tree::AddIndependentSteps(dst.steps, src.steps);
      if (!src.total_ci95_j.empty()) {
        any_ci95_ = true;
        ci95_squares_[t].resize(nd, 0.0);
        for (size_t d = 0; d < in_nd && d < src.total_ci95_j.size(); ++d)
          ci95_squares_[t][dom[d]] += src.total_ci95_j[d] * src.total_ci95_j[d];
      }
      // This input's processes: their selfs in the merged layout.
      std::vector<double>& ps = process_self_[t];
      ps.resize(np * nd, 0.0);
      process_time_[t].resize(np, 0);
      process_calls_[t].resize(np, 0);
      for (size_t p = 0; p < in_np; ++p) {
        const size_t q = first_process + p;
        for (size_t d = 0; d < in_nd; ++d) {
          const std::vector<double>& own = in_process_self[i];
          const double j = in.processes.empty()
                               ? (d < src.self_j.size() ? src.self_j[d] : 0.0)
                               : (p * in_nd + d < own.size() ? own[p * in_nd + d] : 0.0);
          ps[q * nd + dom[d]] += j;
        }
        auto at = [&](const std::vector<int64_t>& v, int64_t whole) {
          return in.processes.empty() ? whole : (p < v.size() ? v[p] : int64_t{0});
        };
        process_time_[t][q] = at(src.process_time_ns, src.time_ns);
        process_calls_[t][q] = at(src.process_calls, src.calls);
      }
    }
    for (const auto& [from, to] : in.dataflow)
      if (from < new_of.size() && to < new_of.size() && new_of[from] != new_of[to])
        dataflow_.emplace_back(new_of[from], new_of[to]);
  }

  void AddMeta(const Profile& in) {
    ProfileMeta& m = out_.meta;
    for (const std::string& t : in.meta.traces) m.traces.push_back(t);
    auto same_or = [&](std::string& into, const std::string& value, const char* mixed) {
      if (inputs_ == 0) into = value;
      else if (into != value) into = mixed;
    };
    same_or(m.dialect, in.meta.dialect, "mixed");
    same_or(m.method, in.meta.method, "per machine (see each machine's profile)");
    same_or(m.meter, in.meta.meter, "per machine");
    same_or(m.job_id, in.meta.job_id, "");
    m.steps = std::max(m.steps, in.meta.steps);
  }

  // Totals from the selfs, by the one roll-up, as attribution makes them.
  void RollUp() {
    std::vector<ProfileNode>& nodes = out_.nodes;
    const size_t nd = out_.domains.size();
    const size_t np = out_.processes.size();
    for (size_t n = 0; n < nodes.size(); ++n) {
      ProfileNode& node = nodes[n];
      node.total_j = node.self_j;
      node.total_static_j = static_self_[n];
      node.total_static_j.resize(nd, 0.0);
      node.process_total_j = std::move(process_self_[n]);
      node.process_total_j.resize(np * nd, 0.0);
      node.process_time_ns = std::move(process_time_[n]);
      node.process_time_ns.resize(np, 0);
      node.process_calls = std::move(process_calls_[n]);
      node.process_calls.resize(np, 0);
    }
    tree::RollUp(
        nodes.size(), [&](size_t n) { return nodes[n].parent; },
        [&](size_t parent, size_t n) {
          for (size_t d = 0; d < nd; ++d) {
            nodes[parent].total_j[d] += nodes[n].total_j[d];
            nodes[parent].total_static_j[d] += nodes[n].total_static_j[d];
          }
        });
    tree::RollUpPhaseTotals(nodes);
    tree::RollUpProcessTotals(nodes);
    // Each input's total_ci95 is already inclusive: the squares summed per
    // node over inputs are the merged node's, with no roll-up.
    if (!any_ci95_) return;
    for (size_t n = 0; n < nodes.size(); ++n) {
      nodes[n].total_ci95_j.assign(nd, 0.0);
      for (size_t d = 0; d < nd && d < ci95_squares_[n].size(); ++d)
        nodes[n].total_ci95_j[d] = std::sqrt(ci95_squares_[n][d]);
    }
  }

  Profile out_;
  NodeTable table_;
  std::map<std::string, size_t> domain_index_;
  std::map<int32_t, std::string> ranks_;  // rank → the input that had it
  int32_t world_size_ = -1;
  size_t inputs_ = 0;
  int64_t longest_window_ns_ = 0;
  bool any_ci95_ = false;
  // Per merged node: own static energy, squared ci95 half-widths, and per
  // process: self energy (process-major), busy time and calls.
  std::vector<std::vector<double>> static_self_;
  std::vector<std::vector<double>> ci95_squares_;
  std::vector<std::vector<double>> process_self_;
  std::vector<std::vector<int64_t>> process_time_;
  std::vector<std::vector<int64_t>> process_calls_;
  std::vector<std::pair<uint32_t, uint32_t>> dataflow_;
};

}  // namespace

Result<Profile> MergeProfiles(const std::vector<std::string>& inputs, const MergeOptions& options) {
  if (inputs.empty()) return UsageError("merge: no profiles given");
  JobMerge job;
  std::vector<std::string> left_out;
  for (const std::string& input : inputs) {
    const std::string path =
        !IsDirectory(input) ? input
                            : input + (input.ends_with('/') ? "" : "/") + "profile.json";
    Result<Profile> p = ReadProfileJson(path);
    Status added = p.ok() ? job.Add(path, std::move(*p)) : Status(p.error());
    if (added.ok()) continue;
    if (!options.allow_partial) return added.error();
    left_out.push_back(added.error().ToString());
  }
  if (job.inputs() == 0)
    return BadInput(inputs.front(), fmt::format("merge: none of the {} inputs could be merged; "
                                                "first: {}",
                                                inputs.size(), left_out.front()));
  const std::vector<int32_t> missing = job.MissingRanks();
  // No input is at fault: the message names what the inputs held instead of a file.
  if (!missing.empty() && !options.allow_partial)
    return BadInput("", fmt::format("merge: the job's world has {} ranks, but no input has rank{} "
                                    "{}; the {} input{} hold{} rank{} {}; merge every machine's "
                                    "profile, or --allow-partial to merge these alone",
                                    job.world_size(), missing.size() > 1 ? "s" : "",
                                    IntRanges(missing), job.inputs(), job.inputs() > 1 ? "s" : "",
                                    job.inputs() > 1 ? "" : "s",
                                    job.PresentRanks().size() > 1 ? "s" : "",
                                    IntRanges(job.PresentRanks())));
  Profile out = job.Finish();
  for (const std::string& why : left_out) {
    out.diagnostics.Warn(fmt::format("merge --allow-partial: left out: {}", why));
    out.diagnostics.Add("merge.input_left_out");
  }
  if (!missing.empty()) {
    out.diagnostics.Warn(fmt::format(
        "merge --allow-partial: rank{} {} of the job {} missing: the job's figures lack {}",
        missing.size() > 1 ? "s" : "", IntRanges(missing),
        missing.size() > 1 ? "are" : "is", missing.size() > 1 ? "their energy" : "its energy"));
    out.diagnostics.Add("merge.rank_missing", static_cast<int64_t>(missing.size()));
  }
  return out;
}

}  // namespace smaragdine
