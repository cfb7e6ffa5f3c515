// Scopes named after registered submodules (module_scope.h): the tree a small
// nested model yields under a live session, with nothing named by hand but
// the root; the class-name fallback; one module called from two places.
#include "smaragdine/torch/module_scope.h"

#include <torch/torch.h>

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "smaragdine/torch/live.h"
#include "torch_live/live_test_util.h"

namespace smaragdine::live {
namespace {

using smaragdine::testing::TempDir;
using testing::ExpectConservation;
using testing::ModelOnly;
using testing::Node;
using testing::Paths;
using testing::ScopePaths;

constexpr int64_t kWidth = 16;

// Opens its own scope in forward, and runs its children through Call().
struct AttentionImpl : torch::nn::Module {
  AttentionImpl()
      : query(register_module("query", torch::nn::Linear(kWidth, kWidth))),
        value(register_module("value", torch::nn::Linear(kWidth, kWidth))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    SMARAGDINE_MODULE_SCOPE(*this);
    return Call(value, torch::softmax(Call(query, x), -1));
  }
  torch::nn::Linear query, value;
};
TORCH_MODULE(Attention);

// A Sequential child: Call() gives each of its modules a scope.
struct LayerImpl : torch::nn::Module {
  LayerImpl()
      : attention(register_module("attention", Attention())),
        ffn(register_module("ffn", torch::nn::Sequential(torch::nn::Linear(kWidth, 2 * kWidth),
                                                         torch::nn::Functional(torch::relu),
                                                         torch::nn::Linear(2 * kWidth, kWidth)))) {}
  torch::Tensor forward(torch::Tensor x) {
    SMARAGDINE_MODULE_SCOPE(*this);
    x = x + Call(attention, x);  // its forward opens the same scope: one level, not two
    return x + Call(ffn, x);
  }
  Attention attention;
  torch::nn::Sequential ffn;
};
TORCH_MODULE(Layer);

// Layers in a ModuleList, which has no forward of its own.
struct EncoderImpl : torch::nn::Module {
  explicit EncoderImpl(int layers_n)
      : layers(register_module("layers", torch::nn::ModuleList())),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({kWidth})))) {
    for (int i = 0; i < layers_n; ++i) layers->push_back(Layer());
  }
  torch::Tensor forward(torch::Tensor x) {
    SMARAGDINE_MODULE_SCOPE(*this);
    for (const auto& layer : *layers) x = layer->as<LayerImpl>()->forward(x);
    return Call(norm, x);
  }
  torch::nn::ModuleList layers;
  torch::nn::LayerNorm norm;
};
TORCH_MODULE(Encoder);

struct NetImpl : torch::nn::Module {
  NetImpl()
      : encoder(register_module("encoder", Encoder(2))),
        head(register_module("head", torch::nn::Linear(kWidth, 4))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    SMARAGDINE_MODULE_SCOPE(*this);
    return Call(head, encoder->forward(x));
  }
  Encoder encoder;
  torch::nn::Linear head;
};
TORCH_MODULE(Net);

// Runs `steps` forward and backward passes of `forward` under a model-only
// session and returns the profile.
template <typename F>
Profile Profiled(int steps, F forward) {
  TempDir tmp;
  auto session = Session::Start(ModelOnly(tmp));
  EXPECT_TRUE(session.ok()) << session.error().message;
  if (!session.ok()) return {};
  for (int i = 0; i < steps; ++i) {
    forward().sum().backward();
    (*session)->Step();
  }
  auto profile = (*session)->Stop();
  EXPECT_TRUE(profile.ok()) << profile.error().message;
  return profile.ok() ? *profile : Profile{};
}

TEST(ModuleScopeTest, NestedModulesGiveTheirRegisteredPaths) {
  torch::manual_seed(3);
  Net net;
  NameModules(*net, "net");
  const torch::Tensor x = torch::randn({8, 5, kWidth});
  const Profile p = Profiled(2, [&] { return net->forward(x); });
  SCOPED_TRACE(Paths(p));

  std::set<std::string> expected = {"net", "net/encoder", "net/encoder/layers", "net/encoder/norm",
                                    "net/head"};
  for (const std::string layer : {"net/encoder/layers/0", "net/encoder/layers/1"}) {
    for (const char* s : {"", "/attention", "/attention/query", "/attention/value", "/ffn",
                          "/ffn/0", "/ffn/1", "/ffn/2"})
      expected.insert(layer + s);
  }
  EXPECT_EQ(ScopePaths(p), expected);
  ExpectConservation(p);

  // Each module's operators sit in its scope, forward and backward, once per call.
  for (const char* leaf : {"net/encoder/layers/1/attention/query", "net/encoder/layers/0/ffn/2",
                           "net/encoder/norm", "net/head"}) {
    const ProfileNode* n = Node(p, leaf);
    ASSERT_NE(n, nullptr) << leaf;
    EXPECT_EQ(n->calls, 2) << leaf;
    EXPECT_GT(PhaseFigures::SumOf(n->phases[static_cast<int>(Phase::kForward)].total_j), 0) << leaf;
    EXPECT_GT(PhaseFigures::SumOf(n->phases[static_cast<int>(Phase::kBackward)].total_j), 0) << leaf;
    EXPECT_GT(n->TotalJ(), 0) << leaf;
  }
  EXPECT_NE(Node(p, "net/encoder/layers/0/ffn/1/aten::relu"), nullptr);
  EXPECT_NE(Node(p, "net/encoder/layers/0/attention/aten::softmax"), nullptr);
  // The model's scope holds all its work: the root's other children are the
  // final sum and the gradient it seeds backward with, nothing of the model.
  for (const ProfileNode& n : p.nodes) {
    if (n.parent != 0) continue;
    EXPECT_TRUE(n.path == "net" || n.path == "aten::sum" ||
                n.path.find("aten::ones_like") != std::string::npos)
        << n.path;
  }
  // Gradient accumulation lands in the parameter's module: a linear layer's
  // weight and bias, twice each over the two steps.
  for (const std::string layer : {"net/encoder/layers/0", "net/encoder/layers/1"}) {
    for (const char* linear : {"/ffn/0", "/ffn/2"}) {
      const ProfileNode* acc = Node(p, layer + linear +
                                           "/autograd::engine::evaluate_function: "
                                           "torch::autograd::AccumulateGrad");
      ASSERT_NE(acc, nullptr) << layer << linear;
      EXPECT_EQ(acc->calls, 4) << layer << linear;
      EXPECT_GT(PhaseFigures::SumOf(acc->phases[static_cast<int>(Phase::kBackward)].total_j), 0);
    }
  }
}

// A module of the user's own, never registered anywhere.
struct ScaleImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& x) {
    SMARAGDINE_MODULE_SCOPE(*this);
    return x * 2;
  }
};
TORCH_MODULE(Scale);

TEST(ModuleScopeTest, UnregisteredModulesTakeTheirClassName) {
  torch::nn::Linear stray(kWidth, kWidth);
  Scale scale;
  EXPECT_EQ(ModuleName(*stray), "Linear");
  EXPECT_EQ(ModuleName(*scale), "Scale");
  Net net;
  NameModules(*net);  // no root name: the class name
  EXPECT_EQ(ModuleName(*net), "Net");
  EXPECT_EQ(ModuleName(*net->encoder->layers), "layers");
  EXPECT_EQ(ModuleName(*net->encoder->layers[1]), "layers/1");
  EXPECT_EQ(ModuleName(*net->encoder->layers[1]->as<LayerImpl>()->ffn[0]), "0");

  const torch::Tensor x = torch::randn({4, kWidth});
  const Profile p = Profiled(1, [&] {
    SMARAGDINE_SCOPE("model");
    return scale->forward(Call(stray, x));
  });
  SCOPED_TRACE(Paths(p));
  EXPECT_EQ(ScopePaths(p), (std::set<std::string>{"model", "model/Linear", "model/Scale"}));
  EXPECT_NE(Node(p, "model/Scale/aten::mul"), nullptr);
  ExpectConservation(p);
}

// One module held by a parent, called by it from two places, and a shared
// module (ALBERT's layer) given per-call scopes by its caller.
struct TwiceImpl : torch::nn::Module {
  TwiceImpl()
      : proj(register_module("proj", torch::nn::Linear(kWidth, kWidth))),
        shared(register_module("shared", Scale())) {}
  torch::Tensor forward(torch::Tensor x) {
    SMARAGDINE_MODULE_SCOPE(*this);
    {
      SMARAGDINE_SCOPE("before");
      x = Call(proj, x);
    }
    for (int i = 0; i < 3; ++i) {
      SMARAGDINE_SCOPE("layer_" + std::to_string(i));
      x = shared->forward(x);
    }
    SMARAGDINE_SCOPE("after");
    return Call(proj, x);
  }
  torch::nn::Linear proj;
  Scale shared;
};
TORCH_MODULE(Twice);

TEST(ModuleScopeTest, OneModuleCalledFromTwoPlacesGetsTwoPaths) {
  Twice twice;
  NameModules(*twice, "twice");
  const torch::Tensor x = torch::randn({4, kWidth});
  const Profile p = Profiled(2, [&] { return twice->forward(x); });
  SCOPED_TRACE(Paths(p));
  EXPECT_EQ(ScopePaths(p), (std::set<std::string>{
                               "twice", "twice/before", "twice/before/proj", "twice/after",
                               "twice/after/proj", "twice/layer_0", "twice/layer_0/shared",
                               "twice/layer_1", "twice/layer_1/shared", "twice/layer_2",
                               "twice/layer_2/shared"}));
  for (const char* path : {"twice/before/proj", "twice/after/proj", "twice/layer_0/shared",
                           "twice/layer_2/shared"}) {
    const ProfileNode* n = Node(p, path);
    ASSERT_NE(n, nullptr) << path;
    EXPECT_EQ(n->calls, 2) << path;  // once per step
    EXPECT_GT(n->TotalJ(), 0) << path;
  }
  ExpectConservation(p);
}

TEST(ModuleScopeTest, ScopesFollowTheCallerWithoutASession) {
  Twice twice;
  NameModules(*twice, "t");
  std::string inside;
  struct Probe : torch::nn::Module {};
  auto probe = std::make_shared<Probe>();
  {
    SMARAGDINE_SCOPE("outer");
    ModuleScope a(*twice);
    ModuleScope again(*twice);  // already innermost: no second level
    ModuleScope b(*twice->proj);
    inside = ScopePath(CurrentScope());
  }
  EXPECT_EQ(inside, "outer/t/proj");
  EXPECT_EQ(CurrentScope(), kNoScope);
  // A module named again after a new registration takes the new name.
  twice->register_module("late", probe);
  NameModules(*twice, "t");
  EXPECT_EQ(ModuleName(*probe), "late");
}

}  // namespace
}  // namespace smaragdine::live
