// autograd_rules.h — where PyTorch's backward records go in the tree.
//
// One home for the rules that the PyTorch trace reader (dialect_pytorch.cpp)
// and live accounting (src/torch/live/build_trace.cpp) both apply, so a
// trace and a live session of the same program build one tree:
//
//  - a backward function lands on the node of the forward op that made its
//    autograd node: the last forward op to start with its sequence number on
//    the forward thread (the counter moves on when the node is made); the
//    callers give it a child there named after the function
//    (autograd_names.h's BackwardNodeName);
//  - AccumulateGrad has no forward op; it goes to the module of the forward
//    op whose backward function ran last on the same thread (the producer of
//    the gradient it accumulates), unless it runs inside another autograd
//    record, where it simply nests.
//
//   AutogradRules rules(&nodes);
//   rules.RecordForwardOp(thread, seq, mm_node);          // forward pass
//   AutogradRules::ThreadState st;                        // per backward thread
//   BackwardPlace p = rules.PlaceBackward(&st, {thread, seq}, name, inside_autograd);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "smaragdine/trace.h"
#include "trace/autograd_names.h"

namespace smaragdine {

// Where PlaceBackward puts a backward record.
struct BackwardPlace {
  enum Kind : uint8_t {
    kOnForwardOp,        // `node` is the forward op's node: the record's node (phase backward)
    kUnderGradProducer,  // AccumulateGrad: make it a child op of `node`, the producer's module
    kUnmapped,           // no rule applies: the caller nests it where it ran
  };
  Kind kind = kUnmapped;
  NodeId node = NodeTable::kNoNode;
};

// The forward ops seen so far and the rules above. `nodes` is read (for the
// enclosing scope of a forward op), never written; it must outlive this.
// Not thread-safe.
class AutogradRules {
 public:
  explicit AutogradRules(const NodeTable* nodes) : nodes_(nodes) {}

  // Which forward op made an autograd node: its thread and sequence number
  // (seq >= 0). A thread key is whatever numbering the caller's backward
  // records use to name the forward thread.
  struct ForwardKey {
    uint64_t thread = 0;
    int64_t seq = -1;
    bool operator==(const ForwardKey& o) const { return thread == o.thread && seq == o.seq; }
  };

  // What one backward thread has seen: the module of the forward op of the
  // last backward function mapped on it.
  struct ThreadState {
    NodeId grad_producer_scope = NodeTable::kNoNode;
  };

  // A forward op with a sequence number started: it is now the one that key
  // names (a later op with the same key replaces it). Ignored for seq < 0.
  void RecordForwardOp(ForwardKey key, NodeId node);

  // Places a backward record named `name` on thread state `st`. `key` is
  // nullopt when the record cannot be looked up (no sequence number, or a
  // format that does not give one). `inside_autograd`: the record runs
  // inside another backward record.
  BackwardPlace PlaceBackward(ThreadState* st, std::optional<ForwardKey> key,
                              std::string_view name, bool inside_autograd) const;

  void Clear() { forward_op_.clear(); }

 private:
  struct KeyHash {
    size_t operator()(const ForwardKey& k) const {
      return std::hash<int64_t>()(k.seq) ^ (std::hash<uint64_t>()(k.thread) * 0x9E3779B97F4A7C15ull);
    }
  };
  const NodeTable* nodes_;
  std::unordered_map<ForwardKey, NodeId, KeyHash> forward_op_;
};

}  // namespace smaragdine
