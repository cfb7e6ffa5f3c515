// Scopes and LibTorch's intra-op thread pool (at::parallel_for; OpenMP in
// Debian's LibTorch), which hands its chunks no thread-local state: an
// operator that runs on a pool thread still belongs to the caller's scope.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "smaragdine/torch/live.h"
#include "smaragdine/torch/scope.h"
#include "torch_live/live_test_util.h"

namespace smaragdine::live {
namespace {

using smaragdine::testing::TempDir;
using testing::ExpectConservation;
using testing::ModelOnly;
using testing::Node;
using testing::Paths;

// Two intra-op threads for the test's duration.
class IntraOpTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef INTRA_OP_PARALLEL
    GTEST_SKIP() << "built without OpenMP: at::parallel_for in this file runs on the caller only";
#endif
    threads_before_ = at::get_num_threads();
    at::set_num_threads(2);
    ASSERT_EQ(at::get_num_threads(), 2) << at::get_parallel_info();
  }
  void TearDown() override {
    if (threads_before_ > 0) at::set_num_threads(threads_before_);
  }

 private:
  int threads_before_ = 0;
};

TEST_F(IntraOpTest, PoolThreadsTakeTheScopeOfTheThreadThatEnteredTheRegion) {
  std::vector<ScopeId> seen(2, kNoScope);
  ScopeId expected;
  {
    SMARAGDINE_SCOPE("model");
    SMARAGDINE_SCOPE("split");
    expected = CurrentScope();
    at::parallel_for(0, 2, 1, [&](int64_t, int64_t) { seen[at::get_thread_num()] = CurrentScope(); });
  }
  EXPECT_EQ(ScopePath(seen[0]), "model/split");  // the caller's own chunk
  EXPECT_EQ(ScopePath(seen[1]), "model/split");  // the pool thread's
  EXPECT_EQ(seen[1], expected);
  // Outside every scope, a pool thread has none either.
  at::parallel_for(0, 2, 1, [&](int64_t, int64_t) { seen[at::get_thread_num()] = CurrentScope(); });
  EXPECT_EQ(seen[1], kNoScope);
}

TEST_F(IntraOpTest, OperatorsCalledInsideParallelForStayInTheCallersScope) {
  TempDir tmp;
  auto session = Session::Start(ModelOnly(tmp));
  ASSERT_TRUE(session.ok()) << session.error().message;
  const torch::Tensor a = torch::randn({48, 48});
  {
    SMARAGDINE_SCOPE("model");
    SMARAGDINE_SCOPE("split");
    at::parallel_for(0, 8, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) torch::Tensor b = torch::mm(a, a);
    });
  }
  auto profile = (*session)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  const Profile& p = *profile;
  SCOPED_TRACE(Paths(p));
  // Both threads ran operators: the caller and a pool thread.
  EXPECT_GE((*session)->trace().lanes.size(), 2u);
  const ProfileNode* mm = Node(p, "model/split/aten::mm");
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->calls, 8);
  EXPECT_EQ(Node(p, "aten::mm"), nullptr);  // none lost its scope
  ExpectConservation(p);
}

// A model of the layers BERT-like programs use, at sizes where LibTorch's
// kernels split work across the pool (elementwise ops above 32768 elements,
// GEMMs, embedding backward over more than 1000 rows).
struct SmallModelImpl : torch::nn::Module {
  SmallModelImpl()
      : embed(register_module("embed", torch::nn::Embedding(3000, 64))),
        layer(register_module("layer", torch::nn::TransformerEncoderLayer(
                                            torch::nn::TransformerEncoderLayerOptions(64, 4)
                                                .dim_feedforward(256)
                                                .dropout(0.1)))),
        conv(register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(64, 64, 3).padding(1)))),
        head(register_module("head", torch::nn::Linear(64, 3))) {}
  torch::Tensor forward(const torch::Tensor& tokens) {
    torch::Tensor x = layer->forward(embed->forward(tokens));      // (seq, batch, 64)
    x = conv->forward(x.permute({1, 2, 0})).permute({2, 0, 1});   // along the sequence
    return head->forward(torch::gelu(x).mean(0));
  }
  torch::nn::Embedding embed;
  torch::nn::TransformerEncoderLayer layer;
  torch::nn::Conv1d conv;
  torch::nn::Linear head;
};
TORCH_MODULE(SmallModel);

// The guard: a training step on two intra-op threads leaves no operator
// outside the scopes it ran in. (On Debian's LibTorch 1.13 no operator runs
// on a pool thread at all here — its kernels split raw loops, not operator
// calls; docs/live.md — so this holds with or without the pool-thread rule.)
TEST_F(IntraOpTest, TrainingStepOnTwoThreadsLeavesNoOperatorAtTheRoot) {
  torch::manual_seed(11);
  SmallModel model;
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  const torch::Tensor tokens = torch::randint(3000, {32, 16});
  const torch::Tensor labels = torch::randint(3, {16});
  TempDir tmp;
  auto session = Session::Start(ModelOnly(tmp));
  ASSERT_TRUE(session.ok()) << session.error().message;
  for (int step = 0; step < 2; ++step) {
    {
      SMARAGDINE_PHASE(Phase::kOptimizer);
      SMARAGDINE_SCOPE("optimizer");
      opt.zero_grad();
    }
    torch::Tensor loss;
    {
      SMARAGDINE_SCOPE("model");
      loss = torch::cross_entropy_loss(model->forward(tokens), labels);
    }
    {
      SMARAGDINE_SCOPE("backward");
      loss.backward();
    }
    {
      SMARAGDINE_PHASE(Phase::kOptimizer);
      SMARAGDINE_SCOPE("optimizer");
      opt.step();
    }
    (*session)->Step();
  }
  auto profile = (*session)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  const Profile& p = *profile;
  SCOPED_TRACE(Paths(p));
  std::set<std::string> top;
  for (const ProfileNode& n : p.nodes)
    if (n.parent == 0) top.insert(n.path);
  EXPECT_EQ(top, (std::set<std::string>{"model", "backward", "optimizer"}));
  ExpectConservation(p);
  ::testing::Test::RecordProperty("threads_with_operators",
                                  static_cast<int>((*session)->trace().lanes.size()));
}

}  // namespace
}  // namespace smaragdine::live
