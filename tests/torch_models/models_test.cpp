// The built-in models on small sizes: the scopes every op runs in, ALBERT's
// shared layer, the heads each task uses, presets and published parameter counts.
#include <ATen/record_function.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "smaragdine/torch/models.h"
#include "smaragdine/torch/scope.h"
#include "torch/models/transformer.h"
#include "torch_models/model_config_util.h"

namespace smaragdine::models {
namespace {

using ::testing::HasSubstr;

using testing::SmallConfig;

// Records, for every operator, the live scope it ran in, and the data pointer
// of the weight each linear layer used.
class ScopeProbe {
 public:
  ScopeProbe() {
    handle_ = at::addGlobalCallback(
        at::RecordFunctionCallback(&ScopeProbe::OnStart)
            .needsInputs(true)
            .scopes({at::RecordScope::FUNCTION}));
    active_ = this;
  }
  ~ScopeProbe() {
    at::removeCallback(handle_);
    active_ = nullptr;
  }
  std::set<std::string> scopes() {
    std::lock_guard lock(mu_);
    return scopes_;
  }
  // Scope path → data pointers of the weights aten::linear used there.
  std::map<std::string, std::set<const void*>> linear_weights() {
    std::lock_guard lock(mu_);
    return linear_weights_;
  }

 private:
  static std::unique_ptr<at::ObserverContext> OnStart(const at::RecordFunction& fn) {
    ScopeProbe* self = active_;
    if (self == nullptr) return nullptr;
    std::string path = live::ScopePath(live::CurrentScope());
    std::lock_guard lock(self->mu_);
    if (!path.empty()) self->scopes_.insert(path);
    // A linear layer on a 3-D input runs as matmul(x, weight.t()): the
    // tensor aten::t transposes is the layer's weight.
    if (std::string_view(fn.name()) == "aten::t") {
      auto inputs = fn.inputs();
      if (!inputs.empty() && inputs[0].isTensor())
        self->linear_weights_[path].insert(inputs[0].toTensor().data_ptr());
    }
    return nullptr;
  }

  static inline ScopeProbe* active_ = nullptr;
  at::CallbackHandle handle_;
  std::mutex mu_;
  std::set<std::string> scopes_;
  std::map<std::string, std::set<const void*>> linear_weights_;
};

std::vector<std::string> LayerScopes(const std::string& layer) {
  std::vector<std::string> s;
  for (const char* leaf :
       {"attention/self/query", "attention/self/key", "attention/self/value",
        "attention/self/score", "attention/self/softmax", "attention/self/dropout",
        "attention/self/context", "attention/output/dense", "attention/output/LayerNorm",
        "intermediate/dense", "output/dense", "output/LayerNorm"})
    s.push_back(layer + "/" + leaf);
  return s;
}

TEST(ModelsTest, BertPretrainRunsEveryOpInsideItsHuggingFaceScope) {
  Trainer t(SmallConfig(Architecture::kBert), Task::kPretrain);
  ScopeProbe probe;
  t.Step();
  std::set<std::string> seen = probe.scopes();
  std::vector<std::string> expected = {
      "bert/embeddings/word_embeddings", "bert/embeddings/position_embeddings",
      "bert/embeddings/token_type_embeddings", "bert/embeddings/LayerNorm",
      "bert/pooler/dense", "cls/predictions/transform/dense",
      "cls/predictions/transform/LayerNorm", "cls/predictions/decoder", "cls/predictions/loss",
      "cls/seq_relationship", "optimizer"};
  for (const char* layer : {"bert/encoder/layer_0", "bert/encoder/layer_1"})
    for (const std::string& s : LayerScopes(layer)) expected.push_back(s);
  for (const std::string& path : expected) EXPECT_TRUE(seen.count(path)) << "no op ran in " << path;
  EXPECT_FALSE(seen.count("classifier"));
  EXPECT_FALSE(seen.count("bert/encoder/layer_2"));
}

TEST(ModelsTest, AlbertRunsOneSharedLayerUnderEveryLayerScope) {
  Trainer t(SmallConfig(Architecture::kAlbert, 4), Task::kPretrain);
  ScopeProbe probe;
  t.Step();
  std::set<std::string> seen = probe.scopes();
  EXPECT_TRUE(seen.count("albert/encoder/embedding_hidden_mapping_in"));
  for (int i = 0; i < 4; ++i)
    for (const std::string& s : LayerScopes("albert/encoder/layer_" + std::to_string(i)))
      EXPECT_TRUE(seen.count(s)) << "no op ran in " << s;
  // Every invocation's query projection multiplied by the very same weight tensor.
  auto weights = probe.linear_weights();
  std::set<const void*> query_weights;
  for (int i = 0; i < 4; ++i) {
    auto it = weights.find("albert/encoder/layer_" + std::to_string(i) + "/attention/self/query");
    ASSERT_NE(it, weights.end());
    query_weights.insert(it->second.begin(), it->second.end());
  }
  EXPECT_EQ(query_weights.size(), 1u);
  EXPECT_EQ(t.model()->layers().size(), 1u);
}

TEST(ModelsTest, BertLayersHaveTheirOwnWeights) {
  Trainer t(SmallConfig(Architecture::kBert, 3), Task::kPredict);
  ScopeProbe probe;
  t.Step();
  auto weights = probe.linear_weights();
  std::set<const void*> query_weights;
  for (int i = 0; i < 3; ++i)
    for (const void* p : weights["bert/encoder/layer_" + std::to_string(i) + "/attention/self/query"])
      query_weights.insert(p);
  EXPECT_EQ(query_weights.size(), 3u);
}

TEST(ModelsTest, AlbertParameterCountDoesNotGrowWithLayers) {
  const int64_t two = ParameterCount(SmallConfig(Architecture::kAlbert, 2), Task::kPretrain);
  const int64_t twelve = ParameterCount(SmallConfig(Architecture::kAlbert, 12), Task::kPretrain);
  EXPECT_EQ(two, twelve);
  const int64_t bert_two = ParameterCount(SmallConfig(Architecture::kBert, 2), Task::kPretrain);
  const int64_t bert_twelve = ParameterCount(SmallConfig(Architecture::kBert, 12), Task::kPretrain);
  EXPECT_GT(bert_twelve, bert_two);
  // The factorized embedding: V × E word embeddings, then E → H.
  Transformer albert(SmallConfig(Architecture::kAlbert), Task::kPretrain);
  EXPECT_EQ(albert->word_embeddings()->weight.sizes(), (std::vector<int64_t>{500, 16}));
}

TEST(ModelsTest, PublishedSizesHaveThePublishedParameterCounts) {
  // BERT-base: 110 M; ALBERT-base: 12 M; ALBERT-large: 18 M (the papers' tables).
  auto base = ParsePreset("bert-base");
  ASSERT_TRUE(base.ok());
  const int64_t bert_base = ParameterCount(*base, Task::kPretrain);
  EXPECT_GT(bert_base, 108'000'000);
  EXPECT_LT(bert_base, 111'000'000);
  auto albert_base = ParsePreset("albert-base");
  ASSERT_TRUE(albert_base.ok());
  const int64_t albert = ParameterCount(*albert_base, Task::kPretrain);
  EXPECT_GT(albert, 11'000'000);
  EXPECT_LT(albert, 12'500'000);
  auto albert_large = ParsePreset("albert-large");
  ASSERT_TRUE(albert_large.ok());
  const int64_t large = ParameterCount(*albert_large, Task::kPretrain);
  EXPECT_GT(large, 17'000'000);
  EXPECT_LT(large, 19'000'000);
}

TEST(ModelsTest, FinetuneUsesTheClassifierAndUpdatesWeights) {
  Trainer t(SmallConfig(Architecture::kBert), Task::kFinetune);
  torch::Tensor before = t.model()->layers()[0]->parameters()[0].clone();
  ScopeProbe probe;
  t.Step();
  std::set<std::string> seen = probe.scopes();
  EXPECT_TRUE(seen.count("classifier"));
  EXPECT_TRUE(seen.count("optimizer"));
  EXPECT_FALSE(seen.count("cls/predictions/decoder"));
  EXPECT_FALSE(torch::equal(before, t.model()->layers()[0]->parameters()[0]));
}

TEST(ModelsTest, PredictRunsWithoutAutogradOrOptimizer) {
  ModelConfig c = SmallConfig(Architecture::kAlbert);
  Trainer t(c, Task::kPredict);
  torch::Tensor before = t.model()->layers()[0]->parameters()[0].clone();
  ScopeProbe probe;
  t.Step();
  EXPECT_FALSE(probe.scopes().count("optimizer"));
  EXPECT_TRUE(torch::equal(before, t.model()->layers()[0]->parameters()[0]));
  Batch b = MakeBatch(c);
  torch::NoGradGuard no_grad;
  torch::Tensor logits = t.model()->forward(b);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{c.batch, c.labels}));
  EXPECT_FALSE(logits.requires_grad());
}

TEST(ModelsTest, OptimizerPhaseHookBracketsTheAdamWStep) {
  Trainer t(SmallConfig(Architecture::kBert), Task::kPretrain);
  std::vector<std::string> calls;
  t.Step([&](bool begins) {
    calls.push_back(begins ? "begin:" + live::ScopePath(live::CurrentScope())
                           : "end:" + live::ScopePath(live::CurrentScope()));
  });
  EXPECT_EQ(calls, (std::vector<std::string>{"begin:", "end:"}));
}

TEST(ModelsTest, SameSeedGivesSameLoss) {
  ModelConfig c = SmallConfig(Architecture::kBert);
  c.dropout = 0;
  Batch b = MakeBatch(c);
  Transformer a(c, Task::kPretrain), bb(c, Task::kPretrain);
  EXPECT_TRUE(torch::allclose(a->forward(b), bb->forward(b)));
}

TEST(PresetTest, PresetsHaveThePublishedShapes) {
  auto base = ParsePreset("bert-base");
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(base->layers, 12);
  EXPECT_EQ(base->hidden, 768);
  EXPECT_EQ(base->heads, 12);
  EXPECT_EQ(base->intermediate, 3072);
  auto grid = ParsePreset("bert-L6-H512");
  ASSERT_TRUE(grid.ok());
  EXPECT_EQ(grid->layers, 6);
  EXPECT_EQ(grid->heads, 8);
  auto albert = ParsePreset("albert-large");
  ASSERT_TRUE(albert.ok());
  EXPECT_EQ(albert->architecture, Architecture::kAlbert);
  EXPECT_EQ(albert->embedding, 128);
  EXPECT_EQ(albert->hidden, 1024);
  EXPECT_EQ(PresetNames().size(), 6u + 24u + 2u);
  for (const std::string& name : PresetNames()) {
    auto c = ParsePreset(name);
    ASSERT_TRUE(c.ok()) << name;
    EXPECT_TRUE(ValidateConfig(*c).ok()) << name;
  }
}

TEST(PresetTest, UnknownPresetListsTheNames) {
  auto r = ParsePreset("bert-huge");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUsage);
  EXPECT_THAT(r.error().message, HasSubstr("bert-huge"));
  EXPECT_THAT(r.error().message, HasSubstr("bert-mini"));
}

TEST(PresetTest, SettingHiddenFollowsThePublishedRatios) {
  ModelConfig c = *ParsePreset("bert-tiny");
  ASSERT_TRUE(SetConfigValue(c, "hidden", 512).ok());
  EXPECT_EQ(c.heads, 8);
  EXPECT_EQ(c.intermediate, 2048);
  EXPECT_EQ(c.preset, "");
  ASSERT_TRUE(SetConfigValue(c, "heads", 4).ok());
  EXPECT_EQ(c.heads, 4);
  EXPECT_FALSE(SetConfigValue(c, "depth", 3).ok());
  EXPECT_FALSE(SetConfigValue(c, "layers", 0).ok());
}

TEST(PresetTest, InvalidSizesAreRejectedWithTheReason) {
  ModelConfig c = *ParsePreset("bert-tiny");
  c.heads = 3;
  EXPECT_THAT(ValidateConfig(c).error().message, HasSubstr("heads (3) must divide hidden (128)"));
  c = *ParsePreset("albert-base");
  c.embedding = 1024;
  EXPECT_THAT(ValidateConfig(c).error().message, HasSubstr("E ≤ H"));
  c = *ParsePreset("bert-tiny");
  c.seq = 1000;
  EXPECT_THAT(ValidateConfig(c).error().message, HasSubstr("512 positions"));
}

}  // namespace
}  // namespace smaragdine::models
