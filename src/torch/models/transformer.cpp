// BERT and ALBERT: the layer, the encoder with its heads, and one training or
// inference step, every part inside the scope its TF/HuggingFace name gives it.
#include "torch/models/transformer.h"

#include <cmath>

#include <fmt/format.h>

#include "smaragdine/torch/scope.h"

namespace smaragdine::models {
namespace {

namespace nn = torch::nn;

nn::Linear MakeLinear(int64_t in, int64_t out) { return nn::Linear(nn::LinearOptions(in, out)); }
nn::LayerNorm MakeNorm(int64_t size) {
  return nn::LayerNorm(nn::LayerNormOptions({size}).eps(1e-12));
}

// Masked-LM predicts 15 % of the positions, as BERT's pre-training does; the
// decoder then runs on those positions only (TF BERT's gather), not all of them.
int64_t MaskedPositions(const ModelConfig& c) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(0.15 * c.seq)));
}

}  // namespace

Batch MakeBatch(const ModelConfig& c) {
  torch::manual_seed(c.seed + 1);  // inputs differ from the weights' stream
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  Batch b;
  b.input_ids = torch::randint(c.vocab, {c.batch, c.seq}, i64);
  b.token_type_ids = torch::zeros({c.batch, c.seq}, i64);
  b.token_type_ids.slice(1, c.seq / 2).fill_(1);
  b.attention_mask = torch::ones({c.batch, c.seq});
  const int64_t p = MaskedPositions(c);
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < c.batch; ++i) rows.push_back(torch::randperm(c.seq, i64).slice(0, 0, p));
  b.masked_positions = torch::stack(rows);
  b.mlm_labels = torch::randint(c.vocab, {c.batch, p}, i64);
  b.nsp_labels = torch::randint(2, {c.batch}, i64);
  b.class_labels = torch::randint(c.labels, {c.batch}, i64);
  return b;
}

LayerImpl::LayerImpl(const ModelConfig& c) : heads_(c.heads), dropout_p_(c.dropout) {
  // Registered under HuggingFace's attribute paths, so named_parameters()
  // reads like a BERT checkpoint.
  query_ = register_module("attention_self_query", MakeLinear(c.hidden, c.hidden));
  key_ = register_module("attention_self_key", MakeLinear(c.hidden, c.hidden));
  value_ = register_module("attention_self_value", MakeLinear(c.hidden, c.hidden));
  attention_dense_ = register_module("attention_output_dense", MakeLinear(c.hidden, c.hidden));
  attention_norm_ = register_module("attention_output_LayerNorm", MakeNorm(c.hidden));
  intermediate_dense_ =
      register_module("intermediate_dense", MakeLinear(c.hidden, c.intermediate));
  output_dense_ = register_module("output_dense", MakeLinear(c.intermediate, c.hidden));
  output_norm_ = register_module("output_LayerNorm", MakeNorm(c.hidden));
}

torch::Tensor LayerImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const int64_t batch = x.size(0), seq = x.size(1), hidden = x.size(2);
  const int64_t head_size = hidden / heads_;
  const bool train = is_training();
  // [batch, seq, hidden] → [batch, heads, seq, head_size]
  auto split_heads = [&](const torch::Tensor& t) {
    return t.view({batch, seq, heads_, head_size}).permute({0, 2, 1, 3});
  };
  torch::Tensor attention_output;
  {
    SMARAGDINE_SCOPE("attention");
    torch::Tensor context;
    {
      SMARAGDINE_SCOPE("self");
      torch::Tensor q, k, v, scores, probs;
      {
        SMARAGDINE_SCOPE("query");
        q = split_heads(query_(x));
      }
      {
        SMARAGDINE_SCOPE("key");
        k = split_heads(key_(x));
      }
      {
        SMARAGDINE_SCOPE("value");
        v = split_heads(value_(x));
      }
      {
        SMARAGDINE_SCOPE("score");
        scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_size));
        scores = scores + additive_mask;
      }
      {
        SMARAGDINE_SCOPE("softmax");
        probs = torch::softmax(scores, -1);
      }
      {
        SMARAGDINE_SCOPE("dropout");
        probs = torch::dropout(probs, dropout_p_, train);
      }
      {
        SMARAGDINE_SCOPE("context");
        context = torch::matmul(probs, v).permute({0, 2, 1, 3}).contiguous().view(
            {batch, seq, hidden});
      }
    }
    {
      SMARAGDINE_SCOPE("output");
      torch::Tensor h;
      {
        SMARAGDINE_SCOPE("dense");
        h = torch::dropout(attention_dense_(context), dropout_p_, train);
      }
      {
        SMARAGDINE_SCOPE("LayerNorm");
        attention_output = attention_norm_(h + x);
      }
    }
  }
  torch::Tensor intermediate;
  {
    SMARAGDINE_SCOPE("intermediate");
    SMARAGDINE_SCOPE("dense");
    intermediate = torch::gelu(intermediate_dense_(attention_output));
  }
  SMARAGDINE_SCOPE("output");
  torch::Tensor h;
  {
    SMARAGDINE_SCOPE("dense");
    h = torch::dropout(output_dense_(intermediate), dropout_p_, train);
  }
  SMARAGDINE_SCOPE("LayerNorm");
  return output_norm_(h + attention_output);
}

TransformerImpl::TransformerImpl(const ModelConfig& c, Task task) : config_(c), task_(task) {
  torch::manual_seed(c.seed);
  const bool albert = c.architecture == Architecture::kAlbert;
  const int64_t e = albert ? c.embedding : c.hidden;
  word_embeddings_ = register_module("word_embeddings", nn::Embedding(c.vocab, e));
  position_embeddings_ = register_module("position_embeddings", nn::Embedding(c.max_position, e));
  token_type_embeddings_ =
      register_module("token_type_embeddings", nn::Embedding(c.type_vocab, e));
  embedding_norm_ = register_module("embeddings_LayerNorm", MakeNorm(e));
  if (albert)
    embedding_projection_ =
        register_module("embedding_hidden_mapping_in", MakeLinear(c.embedding, c.hidden));
  // ALBERT's cross-layer sharing: one layer's parameters, registered once.
  const int64_t distinct_layers = albert ? 1 : c.layers;
  for (int64_t i = 0; i < distinct_layers; ++i)
    layers_.push_back(register_module(albert ? std::string("shared_layer") : fmt::format("layer_{}", i),
                                      Layer(c)));
  pooler_dense_ = register_module("pooler_dense", MakeLinear(c.hidden, c.hidden));
  if (task == Task::kPretrain) {
    mlm_transform_dense_ = register_module("predictions_transform_dense", MakeLinear(c.hidden, e));
    mlm_transform_norm_ = register_module("predictions_transform_LayerNorm", MakeNorm(e));
    // The decoder's weights are the word embeddings (tied); only the bias is its own.
    mlm_bias_ = register_parameter("predictions_bias", torch::zeros({c.vocab}));
    seq_relationship_ = register_module("seq_relationship", MakeLinear(c.hidden, 2));
  } else {
    classifier_ = register_module("classifier", MakeLinear(c.hidden, c.labels));
  }
  // BERT initialises every weight from N(0, 0.02).
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    if (p.key().find("LayerNorm") != std::string::npos) continue;
    if (p.value().dim() >= 2) p.value().normal_(0.0, 0.02);
  }
}

std::pair<torch::Tensor, torch::Tensor> TransformerImpl::Encode(const Batch& b) {
  const ModelConfig& c = config_;
  const bool train = is_training();
  SMARAGDINE_SCOPE(ArchitectureName(c.architecture));
  torch::Tensor h;
  {
    SMARAGDINE_SCOPE("embeddings");
    torch::Tensor words, positions, types;
    {
      SMARAGDINE_SCOPE("word_embeddings");
      words = word_embeddings_(b.input_ids);
    }
    {
      SMARAGDINE_SCOPE("position_embeddings");
      positions = position_embeddings_(torch::arange(c.seq, torch::kInt64)).unsqueeze(0);
    }
    {
      SMARAGDINE_SCOPE("token_type_embeddings");
      types = token_type_embeddings_(b.token_type_ids);
    }
    {
      SMARAGDINE_SCOPE("LayerNorm");
      h = embedding_norm_(words + positions + types);
    }
    h = torch::dropout(h, c.dropout, train);
  }
  {
    SMARAGDINE_SCOPE("encoder");
    // [batch, seq] 1/0 → [batch, 1, 1, seq] 0/-10000, added to the attention scores.
    torch::Tensor additive_mask = (1.0 - b.attention_mask).view({c.batch, 1, 1, c.seq}) * -10000.0;
    if (embedding_projection_) {
      SMARAGDINE_SCOPE("embedding_hidden_mapping_in");
      h = embedding_projection_(h);
    }
    for (int64_t i = 0; i < c.layers; ++i) {
      SMARAGDINE_SCOPE(fmt::format("layer_{}", i));
      Layer& layer = layers_.size() == 1 ? layers_[0] : layers_[i];
      h = layer(h, additive_mask);
    }
  }
  torch::Tensor pooled;
  {
    SMARAGDINE_SCOPE("pooler");
    SMARAGDINE_SCOPE("dense");
    pooled = torch::tanh(pooler_dense_(h.select(1, 0)));
  }
  return {h, pooled};
}

torch::Tensor TransformerImpl::PretrainHeads(const Batch& b, const torch::Tensor& sequence,
                                             const torch::Tensor& pooled) {
  SMARAGDINE_SCOPE("cls");
  torch::Tensor mlm_loss, nsp_loss;
  {
    SMARAGDINE_SCOPE("predictions");
    torch::Tensor t;
    {
      SMARAGDINE_SCOPE("transform");
      // [batch, P] → the hidden states at the masked positions, [batch, P, hidden].
      torch::Tensor index =
          b.masked_positions.unsqueeze(-1).expand({-1, -1, sequence.size(-1)});
      t = sequence.gather(1, index);
      {
        SMARAGDINE_SCOPE("dense");
        t = torch::gelu(mlm_transform_dense_(t));
      }
      SMARAGDINE_SCOPE("LayerNorm");
      t = mlm_transform_norm_(t);
    }
    torch::Tensor logits;
    {
      SMARAGDINE_SCOPE("decoder");
      logits = torch::matmul(t, word_embeddings_->weight.t()) + mlm_bias_;
    }
    SMARAGDINE_SCOPE("loss");
    mlm_loss = torch::nn::functional::cross_entropy(logits.view({-1, config_.vocab}),
                                                    b.mlm_labels.view({-1}));
  }
  {
    SMARAGDINE_SCOPE("seq_relationship");
    torch::Tensor logits = seq_relationship_(pooled);
    nsp_loss = torch::nn::functional::cross_entropy(logits, b.nsp_labels);
  }
  return mlm_loss + nsp_loss;
}

torch::Tensor TransformerImpl::Classifier(const Batch& b, const torch::Tensor& pooled) {
  SMARAGDINE_SCOPE("classifier");
  torch::Tensor logits = classifier_(torch::dropout(pooled, config_.dropout, is_training()));
  if (task_ == Task::kPredict) return logits;
  return torch::nn::functional::cross_entropy(logits, b.class_labels);
}

torch::Tensor TransformerImpl::forward(const Batch& b) {
  auto [sequence, pooled] = Encode(b);
  if (task_ == Task::kPretrain) return PretrainHeads(b, sequence, pooled);
  return Classifier(b, pooled);
}

Trainer::Trainer(const ModelConfig& config, Task task)
    : task_(task), model_(config, task), batch_(MakeBatch(config)) {
  if (task == Task::kPredict) {
    model_->eval();
  } else {
    model_->train();
    // BERT's optimizer: AdamW with decoupled weight decay 0.01.
    optimizer_ = std::make_unique<torch::optim::AdamW>(
        model_->parameters(), torch::optim::AdamWOptions(1e-4).weight_decay(0.01));
  }
}

void Trainer::Step(const std::function<void(bool)>& optimizer_phase) {
  if (task_ == Task::kPredict) {
    torch::NoGradGuard no_grad;
    model_->forward(batch_);
    return;
  }
  torch::Tensor loss = model_->forward(batch_);
  loss.backward();
  if (optimizer_phase) optimizer_phase(true);
  {
    SMARAGDINE_SCOPE("optimizer");
    optimizer_->step();
    optimizer_->zero_grad();
  }
  if (optimizer_phase) optimizer_phase(false);
}

int64_t Trainer::Parameters() const {
  int64_t n = 0;
  for (const torch::Tensor& p : model_->parameters()) n += p.numel();
  return n;
}

int64_t ParameterCount(const ModelConfig& config, Task task) {
  Transformer model(config, task);
  int64_t n = 0;
  for (const torch::Tensor& p : model->parameters()) n += p.numel();
  return n;
}

}  // namespace smaragdine::models
