// PyTorch dialects: Kineto traces (torch.profiler, PyTorch >= 1.8) and the
// legacy autograd profiler's export (builds without Kineto, e.g. Debian's
// 1.13). Rules: docs/trace-formats.md.
#include <cctype>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "trace/autograd_rules.h"
#include "trace/dialect.h"

namespace smaragdine::trace_internal {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsProfilerStep(std::string_view name) { return StartsWith(name, "ProfilerStep#"); }


// "## forward ##" style annotations mark a phase without adding a level.
bool IsPhaseMarker(std::string_view name) {
  return name.size() >= 4 && StartsWith(name, "##") && name.substr(name.size() - 2) == "##";
}

std::optional<Phase> MarkerPhase(std::string_view name) {
  std::string l = Lower(name);
  if (l.find("backward") != std::string::npos) return Phase::kBackward;
  if (l.find("optim") != std::string::npos) return Phase::kOptimizer;
  if (l.find("forward") != std::string::npos) return Phase::kForward;
  return std::nullopt;
}

enum class Cat { kCpuOp, kUserAnnotation, kPython, kLaunch, kGpu, kSkip, kUnknown };

Cat Classify(const std::string& cat) {
  if (cat.empty()) return Cat::kCpuOp;
  std::string l = Lower(cat);
  if (l == "cpu_op" || l == "operator") return Cat::kCpuOp;
  if (l == "user_annotation") return Cat::kUserAnnotation;
  if (l == "python_function") return Cat::kPython;
  if (l == "cuda_runtime" || l == "cuda_driver" || l == "runtime") return Cat::kLaunch;
  if (l == "kernel" || l == "gpu_memcpy" || l == "gpu_memset" || l == "memcpy" || l == "memset")
    return Cat::kGpu;
  if (l == "gpu_user_annotation" || l == "trace" || l == "cpu_instant_event" ||
      l == "ac2g" || l == "fwdbwd")
    return Cat::kSkip;
  return Cat::kUnknown;
}

struct LaunchSite {
  NodeId node;
  Phase phase;
  int64_t t_ns;
};

struct Frame {
  int64_t end_ns;
  NodeId node;
  Phase phase;
  bool is_op;
  bool autograd;  // a backward op or inside one
  StrId name;
};

class PytorchBuilder {
 public:
  PytorchBuilder(const RawTrace& raw, Trace* out, bool legacy)
      : raw_(raw), out_(out), legacy_(legacy), lanes_(out), autograd_(&out->nodes) {}

  Status Run(const std::string& name) {
    out_->dialect = legacy_ ? "pytorch-legacy" : "pytorch";
    out_->time_base = legacy_ ? TimeBase::kRelative : TimeBase::kRealtime;
    Partition parts(raw_.events.size());
    PartitionEvents(&parts);
    RunCpuThreads(parts);
    RunGpuLanes(&parts);
    if (!legacy_ && raw_.base_time_ns) SMG_RETURN_IF_ERROR(ShiftToBaseTime(name));
    if (out_->events.empty()) return BadInput(name, "PyTorch trace has no operator events");
    if (!legacy_) DescribeProcesses();
    return Status();
  }

 private:
  // The raw events by where they ran: CPU threads (ops, scopes, launches,
  // flow starts) and GPU lanes, with the flow ends that link kernels to launches.
  struct Partition {
    explicit Partition(size_t n_events) : lists(n_events) {}
    LanePartition lists;  // each lane's event indices, by slot
    std::map<std::pair<StrId, StrId>, uint32_t> threads;    // the lane's slot in `lists`
    std::map<std::pair<StrId, StrId>, uint32_t> gpu_lanes;  // same
    std::map<std::tuple<StrId, StrId, int64_t>, int64_t> flow_end_at;
    std::map<std::pair<StrId, StrId>, bool> backward_thread;
  };

  // One pass over the raw events (the reader's per-event loop).
  void PartitionEvents(Partition* parts) {
    int64_t unknown = 0;
    LanePartition& lists = parts->lists;
    // A thread's events mostly come in runs: its slot is looked up once a run.
    std::pair<StrId, StrId> run_key{StringTable::kNoStr, StringTable::kNoStr};
    uint32_t run_slot = LanePartition::kNoSlot;
    auto thread_slot = [&](const RawEvent& e) {
      if (run_slot == LanePartition::kNoSlot || run_key.first != e.pid || run_key.second != e.tid) {
        run_key = {e.pid, e.tid};
        auto [it, added] = parts->threads.try_emplace(run_key, 0);
        if (added) it->second = lists.AddSlot();
        run_slot = it->second;
      }
      return run_slot;
    };
    std::vector<bool> backward_slot;  // by slot: the thread is in backward_thread
    // The event's lane slot, or kNoSlot for one no lane keeps.
    auto slot_of = [&](const RawEvent& e) -> uint32_t {
      if (e.ph == 'f' || e.ph == 't') {
        if (e.correlation >= 0) parts->flow_end_at[{e.pid, e.tid, e.ts_ns}] = e.correlation;
        return LanePartition::kNoSlot;
      }
      if (e.ph == 's') return raw_.Str(e.cat) == "ac2g" ? thread_slot(e) : LanePartition::kNoSlot;
      if (e.ph != 'X') return LanePartition::kNoSlot;
      Cat c = legacy_ ? Cat::kCpuOp : CatOf(e.cat);
      if (c == Cat::kSkip) return LanePartition::kNoSlot;
      if (c == Cat::kUnknown) {
        ++unknown;
        return LanePartition::kNoSlot;
      }
      if (c == Cat::kGpu) {
        auto [it, added] = parts->gpu_lanes.try_emplace({e.pid, e.tid}, 0);
        if (added) it->second = lists.AddSlot();
        if (e.external_id >= 0) wanted_external_ids_.insert(e.external_id);
        return it->second;
      }
      const uint32_t slot = thread_slot(e);
      if (c == Cat::kCpuOp && e.fwd_tid > 0) {
        // Noted once a thread: a map insert per backward op was a tree walk each.
        if (slot >= backward_slot.size()) backward_slot.resize(slot + 1, false);
        if (!backward_slot[slot]) parts->backward_thread[{e.pid, e.tid}] = true;
        backward_slot[slot] = true;
      }
      if (c == Cat::kUserAnnotation || legacy_) {
        if (NameFlagsOf(e.name) & kPhaseMarkerName) has_phase_markers_ = true;
      }
      return slot;
    };
    for (uint32_t i = 0; i < raw_.events.size(); ++i) lists.Put(i, slot_of(raw_.events[i]));
    lists.Finish();
    out_->diagnostics.Add("pytorch.event_of_unknown_category_skipped", unknown);
    default_phase_ = has_phase_markers_ ? Phase::kOther : Phase::kForward;
  }

  // The CPU threads' events, then the steps they fall in.
  void RunCpuThreads(Partition& parts) {
    // Forward threads first: the autograd thread's ops look up the forward
    // op of their Sequence number, which must be known by then.
    std::vector<std::pair<StrId, StrId>> order;
    for (auto& [key, slot] : parts.threads)
      if (!parts.backward_thread[key]) order.push_back(key);
    for (auto& [key, slot] : parts.threads)
      if (parts.backward_thread[key]) order.push_back(key);
    size_t first_cpu_event = out_->events.size();
    for (auto& key : order) RunThread(key, parts.lists.Lane(parts.threads[key]));

    std::sort(out_->steps.begin(), out_->steps.end(),
              [](const Step& a, const Step& b) { return a.start_ns < b.start_ns; });
    // Each thread's events come in start order: the step search moves a
    // cursor forward instead of a binary search per event (same answer).
    StepCursor steps(out_->steps);
    for (size_t i = first_cpu_event; i < out_->events.size(); ++i)
      out_->events[i].step = steps.At(out_->events[i].start_ns);
  }

  // The GPU lanes' kernels and copies, each under the op that launched it
  // (by correlation, External id or flow), in that op's phase and step.
  void RunGpuLanes(Partition* parts) {
    int64_t unlinked = 0;
    for (auto& [key, slot] : parts->gpu_lanes) {
      std::span<uint32_t> idx = parts->lists.Lane(slot);
      SortForNesting(raw_, idx);
      idx = idx.first(DropExactDuplicates(raw_, idx, &out_->diagnostics));
      int64_t device_index = 0;
      if (!ParseInt64(raw_.Str(key.first), &device_index)) device_index = 0;
      uint32_t lane = lanes_.Get(fmt::format("GPU:{}", device_index),
                                 fmt::format("stream {}", raw_.Str(key.second)));
      for (uint32_t i : idx) {
        const RawEvent& e = raw_.events[i];
        const LaunchSite* site = nullptr;
        if (e.correlation >= 0) site = Find(launches_, e.correlation);
        if (!site && e.external_id >= 0) site = Find(ops_by_external_id_, e.external_id);
        if (!site) {
          auto f = parts->flow_end_at.find({e.pid, e.tid, e.ts_ns});
          if (f != parts->flow_end_at.end()) site = Find(flow_starts_, f->second);
        }
        Event ev{e.ts_ns, e.ts_ns + e.dur_ns, kRootNode, lane, -1, Phase::kOther};
        if (site) {
          ev.node = ChildCached(site->node, e.name, NodeKind::kKernel);
          ev.phase = site->phase;
          ev.step = StepAt(out_->steps, site->t_ns);
        } else {
          ++unlinked;
          ev.node = ChildCached(kRootNode, e.name, NodeKind::kKernel);
          ev.step = StepAt(out_->steps, e.ts_ns);
        }
        out_->events.push_back(ev);
      }
    }
    out_->diagnostics.Add("pytorch.kernel_without_launch", unlinked);
  }

  // PyTorch >= 2.4: ts is relative to baseTimeNanoseconds (epoch ns).
  Status ShiftToBaseTime(const std::string& name) {
    int64_t base = *raw_.base_time_ns;
    // Checked: a base near INT64_MAX would wrap the times into the past.
    // The base is one value for the whole file, so the file is refused.
    auto shift = [&](int64_t* t_ns) { return !__builtin_add_overflow(*t_ns, base, t_ns); };
    bool ok = true;
    for (Event& ev : out_->events) ok = shift(&ev.start_ns) && shift(&ev.end_ns) && ok;
    for (Step& s : out_->steps) ok = shift(&s.start_ns) && shift(&s.end_ns) && ok;
    if (!ok) {
      return BadInput(name, fmt::format("baseTimeNanoseconds {} plus the events' ts passes the "
                                        "largest time there is (int64 ns)",
                                        base));
    }
    return Status();
  }

  Cat CatOf(StrId c) {
    // Indexed by string id: a lookup per event, and the strings are few.
    if (c >= cat_cache_.size()) cat_cache_.resize(raw_.strings.size(), kUnclassified);
    if (cat_cache_[c] == kUnclassified) cat_cache_[c] = static_cast<int8_t>(Classify(raw_.Str(c)));
    return static_cast<Cat>(cat_cache_[c]);
  }

  // What the rules ask of an event's name, per string id: names repeat
  // (one per op type), and the string tests ran for every event.
  enum NameFlags : uint8_t {
    kProfilerStepName = 1,
    kPhaseMarkerName = 2,
    kModuleName = 4,      // "nn.Module: …"
    kOptimizerName = 8,   // "Optimizer.…"
    kBackwardName = 16,   // IsBackwardName
    kHasColons = 32,      // contains "::"
    kNameFlagsKnown = 128,
  };
  uint8_t NameFlagsOf(StrId id) {
    if (id >= name_flags_.size()) name_flags_.resize(raw_.strings.size(), 0);
    uint8_t& f = name_flags_[id];
    if (!(f & kNameFlagsKnown)) {
      const std::string& name = raw_.Str(id);
      f = kNameFlagsKnown;
      if (IsProfilerStep(name)) f |= kProfilerStepName;
      if (IsPhaseMarker(name)) f |= kPhaseMarkerName;
      if (StartsWith(name, "nn.Module: ")) f |= kModuleName;
      if (StartsWith(name, "Optimizer.")) f |= kOptimizerName;
      if (IsBackwardName(name)) f |= kBackwardName;
      if (name.find("::") != std::string::npos) f |= kHasColons;
    }
    return f;
  }

  // Only the external ids some GPU event looks up are worth remembering:
  // CPU-only traces have one per op, and the map would cost a node each.
  void RememberExternalId(int64_t id, const LaunchSite& site) {
    if (id >= 0 && !wanted_external_ids_.empty() && wanted_external_ids_.count(id))
      ops_by_external_id_[id] = site;
  }

  static const LaunchSite* Find(const std::unordered_map<int64_t, LaunchSite>& m, int64_t k) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  }

  bool IsEvaluateFunctionOf(StrId outer, StrId inner) {
    std::string_view o = raw_.Str(outer);
    return StartsWith(o, kEvaluateFunctionPrefix) &&
           o.substr(kEvaluateFunctionPrefix.size()) == raw_.Str(inner);
  }

  NodeId ChildCached(NodeId parent, StrId name, NodeKind kind) {
    uint64_t key = (uint64_t{parent} << 32) | name;
    // A direct-mapped cache in front of the map: an op's (parent, name)
    // repeats every step, and this runs for every event.
    Recent& r = recent_child_[static_cast<int>(kind)][(key * 0x9E3779B97F4A7C15ull) >> 56];
    if (r.key == key) return r.node;
    auto it = child_cache_[static_cast<int>(kind)].find(key);
    NodeId id;
    if (it != child_cache_[static_cast<int>(kind)].end()) {
      id = it->second;
    } else {
      id = out_->nodes.Child(parent, raw_.Str(name), kind);
      child_cache_[static_cast<int>(kind)].emplace(key, id);
    }
    r = Recent{key, id};
    return id;
  }
  // The process with this pid (a number in Kineto traces), added at its first
  // lane; -1 for a pid that is not a number.
  int32_t ProcessOf(StrId pid_text) {
    int64_t pid = -1;
    if (!ParseInt64(raw_.Str(pid_text), &pid) || pid < 0) return -1;
    for (size_t p = 0; p < out_->processes.size(); ++p)
      if (out_->processes[p].pid == pid) return static_cast<int32_t>(p);
    Process proc;
    proc.pid = pid;
    out_->processes.push_back(proc);
    return static_cast<int32_t>(out_->processes.size() - 1);
  }

  // A Kineto file is one process's profile: its distributedInfo and host name
  // describe that process, and its GPU streams are the ones it launched on.
  // With several CPU pids in one file (not something Kineto writes) the rank
  // and the GPU lanes are left unassigned rather than guessed.
  void DescribeProcesses() {
    if (out_->processes.size() != 1) return;
    Process& proc = out_->processes[0];
    proc.rank = raw_.rank;
    proc.world_size = raw_.world_size;
    proc.local_rank = raw_.local_rank;
    proc.host = raw_.host;
    for (Lane& lane : out_->lanes)
      if (lane.process < 0) lane.process = 0;
  }

  NodeId ChildCached(NodeId parent, std::string_view name, NodeKind kind) {
    return out_->nodes.Child(parent, name, kind);
  }

  void RunThread(const std::pair<StrId, StrId>& key, std::span<uint32_t> idx) {
    SortForNesting(raw_, idx);
    idx = idx.first(DropExactDuplicates(raw_, idx, &out_->diagnostics));
    std::vector<Frame> stack;
    // Where the next AccumulateGrad on this thread goes (autograd_rules.h).
    AutogradRules::ThreadState autograd_thread;
    uint32_t lane = 0;
    bool have_lane = false;
    auto emit = [&](const RawEvent& e, NodeId node, Phase phase) {
      if (!have_lane) {
        std::string lane_name =
            legacy_ ? fmt::format("thread {}", raw_.Str(key.second))
                    : fmt::format("pid {} thread {}", raw_.Str(key.first), raw_.Str(key.second));
        lane = lanes_.Get("CPU:0", lane_name);
        if (!legacy_) out_->lanes[lane].process = ProcessOf(key.first);
        have_lane = true;
      }
      out_->events.push_back(Event{e.ts_ns, e.ts_ns + e.dur_ns, node, lane, -1, phase});
    };
    for (uint32_t i : idx) {
      const RawEvent& e = raw_.events[i];
      // A zero-length event at its parent's very end is still inside it: the
      // legacy profiler's whole-µs times put many children there.
      // Likewise `X` starting at the end of its own `evaluate_function: X`
      // (whole-µs rounding) is its child, not its sibling.
      while (!stack.empty() && (stack.back().end_ns < e.ts_ns ||
                                (stack.back().end_ns == e.ts_ns && e.dur_ns > 0 &&
                                 !IsEvaluateFunctionOf(stack.back().name, e.name))))
        stack.pop_back();
      NodeId parent = stack.empty() ? kRootNode : stack.back().node;
      Phase phase = stack.empty() ? default_phase_ : stack.back().phase;
      bool inside_op = !stack.empty() && stack.back().is_op;
      bool in_autograd = !stack.empty() && stack.back().autograd;
      int64_t end = e.ts_ns + e.dur_ns;
      if (e.ph == 's') {
        if (e.correlation >= 0) flow_starts_[e.correlation] = LaunchSite{parent, phase, e.ts_ns};
        continue;
      }
      const std::string& name = raw_.Str(e.name);
      const uint8_t flags = NameFlagsOf(e.name);
      Cat c = legacy_ ? Cat::kCpuOp : CatOf(e.cat);
      if (c == Cat::kLaunch) {
        // cudaLaunchKernel & co. are the op's own CPU time: not events, but
        // where the kernels they launch hang in the tree.
        if (e.correlation >= 0) launches_[e.correlation] = LaunchSite{parent, phase, e.ts_ns};
        continue;
      }
      if ((flags & kProfilerStepName) && !inside_op) {
        out_->steps.push_back(Step{name, e.ts_ns, end});
        stack.push_back(Frame{end, parent, phase, false, in_autograd, e.name});
        continue;
      }
      if ((flags & kPhaseMarkerName) && !inside_op) {
        stack.push_back(
            Frame{end, parent, MarkerPhase(name).value_or(phase), false, in_autograd, e.name});
        continue;
      }
      if (c == Cat::kPython) {
        // Only nn.Module frames are scopes; other Python frames are skipped
        // and their time goes to the enclosing node.
        constexpr std::string_view kModule = "nn.Module: ";
        if (!(flags & kModuleName)) continue;
        NodeId node = ChildCached(parent, std::string_view(name).substr(kModule.size()),
                                  NodeKind::kScope);
        emit(e, node, phase);
        stack.push_back(Frame{end, node, phase, false, in_autograd, e.name});
        continue;
      }
      bool is_scope = c == Cat::kUserAnnotation;
      if (legacy_ && !inside_op) {
        // The legacy format has no categories: record_function scopes are
        // told from ops by name (ops are namespaced "aten::…" or autograd nodes).
        is_scope = !(flags & kHasColons) && !(flags & kBackwardName);
      }
      if (is_scope) {
        Phase p = (flags & kOptimizerName) ? Phase::kOptimizer : phase;
        NodeId node = ChildCached(parent, e.name, NodeKind::kScope);
        RememberExternalId(e.external_id, LaunchSite{node, p, e.ts_ns});
        emit(e, node, p);
        stack.push_back(Frame{end, node, p, false, in_autograd, e.name});
        continue;
      }
      // An operator.
      bool backward = e.fwd_tid > 0 || (flags & kBackwardName);
      NodeId node;
      Phase p = phase;
      if (backward) {
        p = Phase::kBackward;
        // Keyed by sequence number alone: Kineto's "Fwd thread id" is the
        // profiler's own thread index, not the events' tid, so it cannot
        // name a lane here; the legacy export's numbers are not looked up.
        std::optional<AutogradRules::ForwardKey> key;
        if (!legacy_ && e.seq >= 0) key = AutogradRules::ForwardKey{0, e.seq};
        const BackwardPlace place = autograd_.PlaceBackward(&autograd_thread, key, name, in_autograd);
        if (place.kind == BackwardPlace::kOnForwardOp) {
          // Under the forward op, as a node named after the backward function.
          const std::string_view fn = BackwardNodeName(name);
          node = fn.size() == name.size() ? ChildCached(place.node, e.name, NodeKind::kOp)
                                          : ChildCached(place.node, fn, NodeKind::kOp);
        } else if (place.kind == BackwardPlace::kUnderGradProducer) {
          node = ChildCached(place.node, e.name, NodeKind::kOp);
        } else {
          node = ChildCached(parent, e.name, NodeKind::kOp);
          if (!legacy_ && e.fwd_tid > 0) unmapped_backward_++;
        }
      } else {
        node = ChildCached(parent, e.name, NodeKind::kOp);
        if (!in_autograd && e.seq >= 0)  // RecordForwardOp ignores the rest
          autograd_.RecordForwardOp(AutogradRules::ForwardKey{0, e.seq}, node);
      }
      RememberExternalId(e.external_id, LaunchSite{node, p, e.ts_ns});
      emit(e, node, p);
      stack.push_back(Frame{end, node, p, true, in_autograd || backward, e.name});
    }
    out_->diagnostics.Add("pytorch.backward_op_without_forward_op", unmapped_backward_);
    unmapped_backward_ = 0;
  }

  const RawTrace& raw_;
  Trace* out_;
  bool legacy_;
  LaneSet lanes_;
  bool has_phase_markers_ = false;
  Phase default_phase_ = Phase::kForward;
  int64_t unmapped_backward_ = 0;
  AutogradRules autograd_;
  std::unordered_map<int64_t, LaunchSite> launches_;
  std::unordered_map<int64_t, LaunchSite> flow_starts_;
  std::unordered_map<int64_t, LaunchSite> ops_by_external_id_;
  std::unordered_map<uint64_t, NodeId> child_cache_[3];
  struct Recent {
    uint64_t key = ~uint64_t{0};  // no (parent, name) has it: parent ids are < 2^32 - 1
    NodeId node = kRootNode;
  };
  Recent recent_child_[3][256];
  static constexpr int8_t kUnclassified = -1;
  std::vector<int8_t> cat_cache_;  // Cat per string id, kUnclassified until asked
  std::vector<uint8_t> name_flags_;  // NameFlags per string id, 0 until asked
  std::unordered_set<int64_t> wanted_external_ids_;
};

}  // namespace

Status BuildPytorch(const std::string& name, const RawTrace& raw, Trace* out) {
  return PytorchBuilder(raw, out, false).Run(name);
}

Status BuildPytorchLegacy(const std::string& name, const RawTrace& raw, Trace* out) {
  return PytorchBuilder(raw, out, true).Run(name);
}

}  // namespace smaragdine::trace_internal
