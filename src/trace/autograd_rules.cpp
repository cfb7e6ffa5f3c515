#include "trace/autograd_rules.h"

namespace smaragdine {

void AutogradRules::RecordForwardOp(ForwardKey key, NodeId node) {
  if (key.seq >= 0) forward_op_[key] = node;
}

BackwardPlace AutogradRules::PlaceBackward(ThreadState* st, std::optional<ForwardKey> key,
                                           std::string_view name, bool inside_autograd) const {
  if (key && key->seq >= 0) {
    auto it = forward_op_.find(*key);
    if (it != forward_op_.end()) {
      st->grad_producer_scope = nodes_->EnclosingScope(it->second);
      return BackwardPlace{BackwardPlace::kOnForwardOp, it->second};
    }
  }
  if (!inside_autograd && st->grad_producer_scope != NodeTable::kNoNode &&
      IsAccumulateGrad(name)) {
    // AccumulateGrad's sequence number is UINT64_MAX: no forward op. That is
    // also why the engine runs it as soon as its gradient is ready: right
    // after the backward function that produced the gradient, on the same
    // thread. So it goes to that function's module: the parameter's.
    return BackwardPlace{BackwardPlace::kUnderGradProducer, st->grad_producer_scope};
  }
  return BackwardPlace{};
}

}  // namespace smaragdine
