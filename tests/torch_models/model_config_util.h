// model_config_util.h — built-in models small enough for unit tests.
#pragma once

#include <cstdint>

#include "smaragdine/torch/models.h"

namespace smaragdine::models::testing {

// 2 heads, feed-forward twice `hidden`, batch 2; ALBERT's embedding 16,
// BERT's `hidden`.
ModelConfig TestConfig(Architecture a, int64_t layers, int64_t hidden, int64_t seq,
                       int64_t vocab);

// H=64, seq 16, vocab 500: for the models' structure (scopes, shared weights).
ModelConfig SmallConfig(Architecture a, int64_t layers = 2);
// H=32, seq 8, vocab 200: for runs under live accounting, many per test.
ModelConfig TinyConfig(Architecture a, int64_t layers = 2);

}  // namespace smaragdine::models::testing
