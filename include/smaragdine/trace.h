// trace.h — a framework's per-operation timeline as plain data.
//
// A Trace holds lanes (CPU threads, GPU streams), the node hierarchy (paths
// such as "bert/encoder/layer_3/attention/self/query/MatMul") and events:
// execution intervals on a lane, each naming its node, phase and step. The
// dialect readers (TensorFlow 1, TensorFlow 2/JAX, PyTorch Kineto and legacy,
// ONNX Runtime) fill it from Chrome-trace JSON files, and the TensorFlow 2 and
// JAX ones from XPlane protobufs (`.xplane.pb`) too.
//
//   SMG_ASSIGN_OR_RETURN(Trace t, ReadTraces({"step.pt.trace.json.gz"}, {}));
//   for (const Event& e : t.events)
//     fmt::print("{} {}ns\n", t.nodes.Path(e.node), e.end_ns - e.start_ns);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "smaragdine/diagnostics.h"
#include "smaragdine/status.h"

namespace smaragdine {

enum class Phase : uint8_t { kForward = 0, kBackward = 1, kOptimizer = 2, kOther = 3 };
constexpr int kPhaseCount = 4;
const char* ToString(Phase p);  // "forward", "backward", "optimizer", "other"

enum class NodeKind : uint8_t { kScope = 0, kOp = 1, kKernel = 2 };
const char* ToString(NodeKind k);  // "scope", "op", "kernel"

using NodeId = uint32_t;
constexpr NodeId kRootNode = 0;

// The hierarchy as a trie of names. Node 0 is the unnamed root; a path is the
// names from the root's child down, joined with '/'. Not thread-safe.
class NodeTable {
 public:
  NodeTable();
  // The child `name` of `parent`, created if absent. Creating with kOp/kKernel,
  // or asking again with kOp/kKernel for a node created as a scope, makes it
  // that kind (an op that has nested ops stays an op).
  NodeId Child(NodeId parent, std::string_view name, NodeKind kind);
  // Splits `path` on '/' (empty parts skipped) under `parent`; intermediate
  // nodes are scopes, the last one gets `leaf_kind`.
  NodeId InternPath(std::string_view path, NodeKind leaf_kind, NodeId parent = kRootNode);
  // kRootNode's id is never returned for a miss: returns -1 cast, i.e. kNoNode.
  NodeId Find(std::string_view path) const;
  static constexpr NodeId kNoNode = 0xffffffffu;

  size_t size() const { return names_.size(); }
  const std::string& Name(NodeId id) const { return names_[id]; }
  NodeId Parent(NodeId id) const { return parents_[id]; }
  NodeKind Kind(NodeId id) const { return kinds_[id]; }
  int Depth(NodeId id) const;
  std::string Path(NodeId id) const;
  // `id` itself when it is a scope, else its closest scope ancestor (the root
  // when there is none): the module an operator ran in.
  NodeId EnclosingScope(NodeId id) const;

 private:
  struct KeyHash {
    size_t operator()(const std::pair<NodeId, std::string>& k) const;
  };
  std::vector<std::string> names_;
  std::vector<NodeId> parents_;
  std::vector<NodeKind> kinds_;
  std::unordered_map<std::pair<NodeId, std::string>, NodeId, KeyHash> index_;
};

struct Lane {
  std::string device;  // "CPU:0" or "GPU:<index>" — what the energy domains name
  std::string name;    // for people: "thread 1234", "stream 7", "/device:GPU:0/stream:all"
  // Index into Trace::processes of the process that ran the lane (its CPU
  // threads and the GPU streams it launched on); -1 when the trace does not say.
  int32_t process = -1;
};

// One process of the traced program: a rank of a distributed job (torchrun,
// srun, mpirun), or one process of a program that runs several. A trace file
// names at most one; several come from reading several files.
struct Process {
  int64_t pid = -1;        // -1 when the trace does not say
  int32_t rank = -1;       // global rank (RANK, Kineto's distributedInfo.rank); -1: not a rank
  int32_t local_rank = -1;  // rank on its machine (LOCAL_RANK); -1 when unknown
  int32_t world_size = -1;  // ranks in the job; -1 when unknown
  std::string host;        // machine it ran on; "" when unknown
  std::string source;      // the trace file it came from
  // "rank 3", or "pid 1234" when it is not a rank.
  std::string Label() const;
};

// One execution interval. Times are ns on the trace's time base until
// alignment moves them onto the energy log's clock. Events on one lane nest;
// attribution repairs partial overlaps and counts them.
struct Event {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  NodeId node = kRootNode;
  uint32_t lane = 0;
  int32_t step = -1;  // index into Trace::steps, -1 when outside any step
  Phase phase = Phase::kOther;
};

struct Step {
  std::string name;  // "ProfilerStep#6", "step 0"
  int64_t start_ns = 0;
  int64_t end_ns = 0;
};

// What the timestamps in a trace mean.
enum class TimeBase {
  kRealtime,   // ns since the Unix epoch (CLOCK_REALTIME)
  kMonotonic,  // ns on CLOCK_MONOTONIC (live LibTorch, simulate's own traces)
  kRelative,   // ns since the profiler started: needs an anchor to align
};
const char* ToString(TimeBase b);

struct Trace {
  std::string dialect;  // "tf1", "tf2", "jax", "pytorch", "pytorch-legacy", "onnxruntime"
  std::vector<std::string> sources;   // files it was read from
  TimeBase time_base = TimeBase::kRealtime;
  std::vector<Lane> lanes;
  // The processes the lanes belong to (Lane::process); empty when the trace
  // does not say (TF1, legacy PyTorch, ONNX Runtime).
  std::vector<Process> processes;
  NodeTable nodes;
  std::vector<Event> events;
  std::vector<Step> steps;
  // Data flow between nodes, where the trace records it (TF1's `inputN`
  // args): (producer, consumer) pairs of distinct nodes, sorted, each once,
  // however many events and steps showed it. Control dependencies (`^name`)
  // carry no data and are left out. Empty for traces without inputs.
  std::vector<std::pair<NodeId, NodeId>> dataflow;
  Diagnostics diagnostics;
};

// What --format names: a dialect, or (kXplane) the XPlane container whose
// dialect (tf2 or jax) is read from its content. kTf2 and kJax apply to
// XPlane files too; JSON traces of JAX are read with the tf2 rules.
enum class TraceFormat {
  kAuto, kTf1, kTf2, kPytorch, kPytorchLegacy, kJax, kXplane, kOnnxRuntime
};
// "auto", "tf1", "tf2", "jax", "pytorch", "pytorch-legacy", "xplane", "onnxruntime";
// ParseTraceFormat is its inverse (a usage error naming the choices otherwise).
const char* ToString(TraceFormat f);
Result<TraceFormat> ParseTraceFormat(std::string_view s);

struct TraceReadOptions {
  TraceFormat format = TraceFormat::kAuto;  // --format; kAuto detects from content
};

// Reads one trace file: Chrome-trace JSON or an XPlane protobuf, plain or
// gzip (told apart by content). Errors: kBadInput naming the file and byte
// offset (invalid JSON/gzip/protobuf, unknown dialect, no events).
Result<Trace> ReadTrace(const std::string& path, const TraceReadOptions& options);
// Reads several files into one trace: nodes merged by path, lanes by device and
// name. Files without steps of their own (TF1: one file per session.run) each
// become one step, in the order given.
Result<Trace> ReadTraces(const std::vector<std::string>& paths, const TraceReadOptions& options);
// The reader on bytes already in memory (decompressed if gzip); `name` is used
// in messages. The fuzz target's entry.
Result<Trace> ParseTrace(const std::string& name, std::string_view bytes,
                         const TraceReadOptions& options);

}  // namespace smaragdine
