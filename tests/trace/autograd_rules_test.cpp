// The PyTorch autograd rules that the trace reader and live accounting
// share: a backward function lands on its forward op (the last one to start
// with its key), AccumulateGrad goes to the module of the gradient's
// producer on the same thread, and everything else is left to the caller.
#include <gtest/gtest.h>

#include "trace/autograd_rules.h"

namespace smaragdine {
namespace {

using Key = AutogradRules::ForwardKey;

struct AutogradRulesTest : ::testing::Test {
  NodeTable nodes;
  NodeId linear = nodes.InternPath("model/linear", NodeKind::kScope);
  NodeId addmm = nodes.Child(linear, "aten::addmm", NodeKind::kOp);
  NodeId relu = nodes.InternPath("model/act/aten::relu", NodeKind::kOp);
  AutogradRules rules{&nodes};
};

TEST_F(AutogradRulesTest, BackwardLandsOnTheLastForwardOpWithItsKey) {
  rules.RecordForwardOp(Key{1, 7}, relu);
  rules.RecordForwardOp(Key{1, 7}, addmm);  // the counter moves on at creation: the later one made it
  AutogradRules::ThreadState st;
  BackwardPlace p = rules.PlaceBackward(&st, Key{1, 7}, "AddmmBackward0", false);
  EXPECT_EQ(p.kind, BackwardPlace::kOnForwardOp);
  EXPECT_EQ(p.node, addmm);
  EXPECT_EQ(st.grad_producer_scope, linear);
  // The thread is part of the key; no key, or no sequence number, no lookup.
  EXPECT_EQ(rules.PlaceBackward(&st, Key{2, 7}, "AddmmBackward0", false).kind,
            BackwardPlace::kUnmapped);
  EXPECT_EQ(rules.PlaceBackward(&st, std::nullopt, "AddmmBackward0", false).kind,
            BackwardPlace::kUnmapped);
  rules.RecordForwardOp(Key{1, -1}, relu);  // no sequence number: not recorded
  EXPECT_EQ(rules.PlaceBackward(&st, Key{1, -1}, "ReluBackward0", false).kind,
            BackwardPlace::kUnmapped);
}

TEST_F(AutogradRulesTest, AccumulateGradGoesToTheModuleOfTheLastMappedBackwardOnItsThread) {
  rules.RecordForwardOp(Key{1, 3}, addmm);
  rules.RecordForwardOp(Key{1, 4}, relu);
  AutogradRules::ThreadState st, other_thread;
  // Before any backward function has been mapped there is no producer.
  EXPECT_EQ(rules.PlaceBackward(&st, std::nullopt, "torch::autograd::AccumulateGrad", false).kind,
            BackwardPlace::kUnmapped);
  rules.PlaceBackward(&st, Key{1, 3}, "AddmmBackward0", false);
  BackwardPlace p = rules.PlaceBackward(
      &st, std::nullopt, "autograd::engine::evaluate_function: torch::autograd::AccumulateGrad",
      false);
  EXPECT_EQ(p.kind, BackwardPlace::kUnderGradProducer);
  EXPECT_EQ(p.node, linear);
  // Inside another autograd record it only nests; another thread has its own producer.
  EXPECT_EQ(rules.PlaceBackward(&st, std::nullopt, "torch::autograd::AccumulateGrad", true).kind,
            BackwardPlace::kUnmapped);
  EXPECT_EQ(rules.PlaceBackward(&other_thread, std::nullopt, "torch::autograd::AccumulateGrad",
                                false).kind,
            BackwardPlace::kUnmapped);
  // The producer follows the last mapped backward function.
  rules.PlaceBackward(&st, Key{1, 4}, "ReluBackward0", false);
  EXPECT_EQ(rules.PlaceBackward(&st, std::nullopt, "torch::autograd::AccumulateGrad", false).node,
            nodes.Find("model/act"));
  // Other unmapped backward functions are the caller's to nest.
  EXPECT_EQ(rules.PlaceBackward(&st, std::nullopt, "MulBackward0", false).kind,
            BackwardPlace::kUnmapped);
}

TEST(AutogradNamesTest, BackwardNames) {
  EXPECT_TRUE(IsBackwardName("AddmmBackward0"));
  EXPECT_TRUE(IsBackwardName("torch::autograd::CopyBackwards"));
  EXPECT_TRUE(IsBackwardName("autograd::engine::evaluate_function: torch::autograd::AccumulateGrad"));
  EXPECT_FALSE(IsBackwardName("Backward0"));
  EXPECT_FALSE(IsBackwardName("BackwardPass"));
  EXPECT_FALSE(IsBackwardName("aten::mm"));
  EXPECT_TRUE(IsAccumulateGrad("torch::autograd::AccumulateGrad"));
  EXPECT_FALSE(IsAccumulateGrad("AccumulateGradX"));
}

}  // namespace
}  // namespace smaragdine
