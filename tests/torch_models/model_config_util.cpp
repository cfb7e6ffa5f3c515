#include "torch_models/model_config_util.h"

namespace smaragdine::models::testing {

ModelConfig TestConfig(Architecture a, int64_t layers, int64_t hidden, int64_t seq,
                       int64_t vocab) {
  ModelConfig c;
  c.architecture = a;
  c.layers = layers;
  c.hidden = hidden;
  c.heads = 2;
  c.intermediate = 2 * hidden;
  c.embedding = a == Architecture::kAlbert ? 16 : hidden;
  c.seq = seq;
  c.batch = 2;
  c.vocab = vocab;
  return c;
}

ModelConfig SmallConfig(Architecture a, int64_t layers) { return TestConfig(a, layers, 64, 16, 500); }

ModelConfig TinyConfig(Architecture a, int64_t layers) { return TestConfig(a, layers, 32, 8, 200); }

}  // namespace smaragdine::models::testing
