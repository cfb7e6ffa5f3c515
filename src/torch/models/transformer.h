// transformer.h — BERT and ALBERT as LibTorch modules, with scopes named as
// the TensorFlow/HuggingFace implementations name them, and a Trainer that runs
// one step of a task. Internal: includes torch (the public API is models.h).
//
//   Trainer t(config, Task::kPretrain);
//   for (int i = 0; i < 5; ++i) t.Step();
//
// Scope tree of one BERT pre-training step (ALBERT: `albert/…`, plus
// albert/encoder/embedding_hidden_mapping_in, and every layer_N runs the same
// parameters):
//   bert/embeddings/{word_embeddings,position_embeddings,token_type_embeddings,LayerNorm}
//   bert/encoder/layer_N/attention/self/{query,key,value,score,softmax,dropout,context}
//   bert/encoder/layer_N/attention/output/{dense,LayerNorm}
//   bert/encoder/layer_N/intermediate/dense, …/output/{dense,LayerNorm}
//   bert/pooler/dense
//   cls/predictions/{transform/{dense,LayerNorm},decoder,loss}, cls/seq_relationship
//   classifier (finetune, predict), optimizer (AdamW step and zero_grad)
#pragma once

#include <functional>
#include <vector>

#include <torch/torch.h>

#include "smaragdine/torch/models.h"

namespace smaragdine::models {

// One step's inputs. Values are random from the config's seed; a step's cost
// does not depend on them, so one batch is reused for every step.
struct Batch {
  torch::Tensor input_ids;         // [batch, seq] int64
  torch::Tensor token_type_ids;    // [batch, seq] int64: first half 0, second half 1
  torch::Tensor attention_mask;    // [batch, seq] float, 1 = attend
  torch::Tensor masked_positions;  // [batch, P] int64, P = 15 % of seq (at least 1)
  torch::Tensor mlm_labels;        // [batch, P] int64
  torch::Tensor nsp_labels;        // [batch] int64 in {0, 1}
  torch::Tensor class_labels;      // [batch] int64 in [0, labels)
};
Batch MakeBatch(const ModelConfig& config);

// One transformer layer's parameters and its forward pass. ALBERT builds one
// and calls it L times, each call inside its own layer_N scope.
class LayerImpl : public torch::nn::Module {
 public:
  explicit LayerImpl(const ModelConfig& config);
  // x: [batch, seq, hidden]; additive_mask: [batch, 1, 1, seq].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);

 private:
  int64_t heads_;
  double dropout_p_;
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr};
  torch::nn::Linear attention_dense_{nullptr};
  torch::nn::LayerNorm attention_norm_{nullptr};
  torch::nn::Linear intermediate_dense_{nullptr};
  torch::nn::Linear output_dense_{nullptr};
  torch::nn::LayerNorm output_norm_{nullptr};
};
TORCH_MODULE(Layer);

// The encoder with the heads the task needs (pretrain: masked-LM and
// next-sentence; finetune and predict: a classifier on the pooled output).
class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(const ModelConfig& config, Task task);
  // Training tasks: the loss (a scalar). kPredict: the class logits [batch, labels].
  torch::Tensor forward(const Batch& batch);

  const ModelConfig& config() const { return config_; }
  // The distinct layer modules: L for BERT, 1 for ALBERT.
  const std::vector<Layer>& layers() const { return layers_; }
  const torch::nn::Embedding& word_embeddings() const { return word_embeddings_; }

 private:
  // Embeddings, encoder and pooler; returns (sequence output, pooled output).
  std::pair<torch::Tensor, torch::Tensor> Encode(const Batch& batch);
  torch::Tensor PretrainHeads(const Batch& batch, const torch::Tensor& sequence,
                              const torch::Tensor& pooled);
  torch::Tensor Classifier(const Batch& batch, const torch::Tensor& pooled);

  ModelConfig config_;
  Task task_;
  torch::nn::Embedding word_embeddings_{nullptr}, position_embeddings_{nullptr},
      token_type_embeddings_{nullptr};
  torch::nn::LayerNorm embedding_norm_{nullptr};
  torch::nn::Linear embedding_projection_{nullptr};  // ALBERT only: E → H
  std::vector<Layer> layers_;
  torch::nn::Linear pooler_dense_{nullptr};
  // Pretrain heads.
  torch::nn::Linear mlm_transform_dense_{nullptr};
  torch::nn::LayerNorm mlm_transform_norm_{nullptr};
  torch::Tensor mlm_bias_;
  torch::nn::Linear seq_relationship_{nullptr};
  // Fine-tuning / prediction head.
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(Transformer);

// A model, its batch and (for training tasks) its AdamW optimizer.
class Trainer {
 public:
  Trainer(const ModelConfig& config, Task task);
  // One step: forward; for training tasks also backward and the optimizer step.
  // `optimizer_phase(true)` is called just before zero_grad + AdamW step and
  // `optimizer_phase(false)` just after, so live accounting can mark the phase.
  void Step(const std::function<void(bool)>& optimizer_phase = {});

  Transformer& model() { return model_; }
  int64_t Parameters() const;

 private:
  Task task_;
  Transformer model_{nullptr};
  Batch batch_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

}  // namespace smaragdine::models
