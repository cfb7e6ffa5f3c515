// Live energy accounting of your own LibTorch model: a small transformer
// block classifier trained for a few steps, instrumented with a handful of
// lines (marked "smaragdine:"), then the breakdown printed with the same
// renderer as `smaragdine report`.
//
//   ./build/own_model_example                 # samples energy in-process
//   ./build/own_model_example out/            # also keeps run.json, energy.csv,
//                                             # live.trace.json and profile.json in out/
//   smaragdine record -o run -- ./build/own_model_example   # record samples; then
//   smaragdine account --energy run --trace run/live.trace.json -o p.json
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "smaragdine/report.h"
#include "smaragdine/torch/live.h"          // smaragdine: Session, SMARAGDINE_PHASE
#include "smaragdine/torch/module_scope.h"  // smaragdine: SMARAGDINE_MODULE_SCOPE, Call
#include "smaragdine/torch/scope.h"         // smaragdine: SMARAGDINE_SCOPE

namespace {

using smaragdine::live::Call;  // smaragdine: Call(m, x) = m->forward(x) in m's scope

// One pre-norm transformer block: self-attention and a feed-forward network.
struct BlockImpl : torch::nn::Module {
  BlockImpl(int64_t hidden, int64_t heads)
      : heads(heads),
        norm1(register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})))),
        qkv(register_module("qkv", torch::nn::Linear(hidden, 3 * hidden))),
        proj(register_module("proj", torch::nn::Linear(hidden, hidden))),
        norm2(register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})))),
        up(register_module("up", torch::nn::Linear(hidden, 4 * hidden))),
        down(register_module("down", torch::nn::Linear(4 * hidden, hidden))) {}

  torch::Tensor forward(torch::Tensor x) {
    SMARAGDINE_MODULE_SCOPE(*this);  // smaragdine: "layer_0", "layer_1", as registered
    const int64_t b = x.size(0), t = x.size(1), h = x.size(2), d = h / heads;
    {
      SMARAGDINE_SCOPE("attention");  // smaragdine: not a module, so named by hand
      auto parts = Call(qkv, Call(norm1, x)).view({b, t, 3, heads, d}).unbind(2);
      auto q = parts[0].transpose(1, 2), k = parts[1].transpose(1, 2), v = parts[2].transpose(1, 2);
      auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
      auto context = torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2).reshape({b, t, h});
      x = x + Call(proj, context);
    }
    SMARAGDINE_SCOPE("ffn");  // smaragdine
    return x + Call(down, torch::gelu(Call(up, Call(norm2, x))));
  }

  int64_t heads;
  torch::nn::LayerNorm norm1;
  torch::nn::Linear qkv, proj;
  torch::nn::LayerNorm norm2;
  torch::nn::Linear up, down;
};
TORCH_MODULE(Block);

struct ClassifierImpl : torch::nn::Module {
  ClassifierImpl(int64_t vocab, int64_t hidden, int64_t heads, int64_t layers, int64_t classes)
      : embed(register_module("embed", torch::nn::Embedding(vocab, hidden))),
        head(register_module("head", torch::nn::Linear(hidden, classes))) {
    for (int64_t i = 0; i < layers; ++i)
      blocks.push_back(register_module("layer_" + std::to_string(i), Block(hidden, heads)));
  }

  torch::Tensor forward(const torch::Tensor& tokens) {
    SMARAGDINE_MODULE_SCOPE(*this);  // smaragdine: "model", the name given to NameModules
    torch::Tensor x = Call(embed, tokens);                  // model/embed
    for (Block& block : blocks) x = block->forward(x);      // model/layer_N (its own scope)
    return Call(head, x.mean(1));                           // model/head
  }

  torch::nn::Embedding embed;
  std::vector<Block> blocks;
  torch::nn::Linear head;
};
TORCH_MODULE(Classifier);

}  // namespace

int main(int argc, char** argv) {
  torch::manual_seed(0);
  constexpr int64_t kVocab = 1000, kHidden = 128, kHeads = 4, kLayers = 2, kClasses = 3;
  constexpr int64_t kBatch = 8, kSeq = 64;
  constexpr int kWarmup = 2, kSteps = 5;
  Classifier model(kVocab, kHidden, kHeads, kLayers, kClasses);
  smaragdine::live::NameModules(*model, "model");  // smaragdine: scopes named as registered
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
  const torch::Tensor tokens = torch::randint(kVocab, {kBatch, kSeq});
  const torch::Tensor labels = torch::randint(kClasses, {kBatch});

  auto train_step = [&] {
    opt.zero_grad();
    torch::Tensor loss = torch::cross_entropy_loss(model->forward(tokens), labels);
    loss.backward();
    SMARAGDINE_PHASE(smaragdine::Phase::kOptimizer);  // smaragdine
    SMARAGDINE_SCOPE("optimizer");                    // smaragdine
    opt.step();
  };
  for (int i = 0; i < kWarmup; ++i) train_step();

  smaragdine::live::SessionOptions options;  // smaragdine
  if (argc > 1) options.output_dir = argv[1];
  auto session = smaragdine::live::Session::Start(options);  // smaragdine
  if (!session.ok()) {
    std::fprintf(stderr, "own_model_example: %s\n", session.error().message.c_str());
    return 3;
  }
  for (int i = 0; i < kSteps; ++i) {
    train_step();
    (*session)->Step();  // smaragdine: one training step
  }
  auto profile = (*session)->Stop();  // smaragdine
  if (!profile.ok()) {
    std::fprintf(stderr, "own_model_example: %s\n", profile.error().message.c_str());
    return 3;
  }

  smaragdine::ReportOptions report;
  report.file = "live session";
  report.depth = 4;
  auto text = smaragdine::RenderReport(*profile, report);
  if (!text.ok()) {
    std::fprintf(stderr, "own_model_example: %s\n", text.error().message.c_str());
    return 2;
  }
  std::fputs(text->c_str(), stdout);
  const auto& info = (*session)->info();
  if (info.joined)
    std::printf("\njoined the record run %s; trace: %s\n", info.run_dir.c_str(),
                info.trace_path.c_str());
  else if (!info.profile_path.empty())
    std::printf("\nprofile: %s (smaragdine report %s)\n", info.profile_path.c_str(),
                info.profile_path.c_str());
  return 0;
}
