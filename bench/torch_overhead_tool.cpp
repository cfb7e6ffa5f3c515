// torch_overhead_tool — what live accounting costs a LibTorch program,
// against the same code uninstrumented and under LibTorch's own (legacy)
// profiler, measured in one run with interleaved repetitions:
//
//  1. tiny ops: a loop of `a + b` on one-element tensors, ns per loop
//     iteration; the overhead divided by the operators recorded per
//     iteration gives ns per recorded op;
//  2. training steps of a small transformer (forward, backward, AdamW).
//
// Each repetition runs every condition once, in an order that rotates, so
// drift of the machine (other jobs, frequency) spreads over all of them.
// Reported: median and min–max over repetitions of the per-repetition figure,
// on the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
//
//   build/torch_overhead_tool [--reps 15] [--ops 20000] [--steps 3] [--layers 2]
//                             [--hidden 256] [--heads 4] [--seq 128] [--batch 8]
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "smaragdine/torch/live.h"
#include "smaragdine/torch/scope.h"

namespace {

using smaragdine::live::Session;
using smaragdine::live::SessionOptions;

struct Args {
  int reps = 15;
  int ops = 20000;
  int steps = 3;
  int64_t layers = 2, hidden = 256, heads = 4, seq = 128, batch = 8;
};

// CPU time of the calling thread: on a shared machine, other processes'
// preemption would swamp a wall-clock difference of a few percent. The
// instrumentation's cost is CPU work on the thread that runs the operators
// (intra-op threads: see the header line; the in-process sampler thread's
// cost is in docs/benchmarks.md, "Sampler overhead").
int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Stats s;
  if (v.empty()) return s;
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.min = v.front();
  s.max = v.back();
  return s;
}

// Live accounting on the CPU-time model (no counter needed), in-process.
SessionOptions LiveOptions() {
  SessionOptions o;
  o.use_run_dir_env = false;
  o.forced_sources = {"model"};
  return o;
}

enum Condition { kNone = 0, kLive = 1, kProfiler = 2, kConditions = 3 };
const char* kNames[kConditions] = {"uninstrumented", "live accounting", "LibTorch profiler"};

// Runs `body` under a condition and returns its wall time in ns; `recorded`
// gets the operator records live accounting took.
int64_t RunUnder(Condition c, const std::function<void()>& body, int64_t* recorded) {
  std::unique_ptr<Session> session;
  if (c == kLive) {
    auto s = Session::Start(LiveOptions());
    if (!s.ok()) {
      std::fprintf(stderr, "torch_overhead_tool: %s\n", s.error().message.c_str());
      std::exit(3);
    }
    session = std::move(*s);
  } else if (c == kProfiler) {
    torch::autograd::profiler::enableProfilerLegacy(
        torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  }
  const int64_t t0 = NowNs();
  body();
  const int64_t dt = NowNs() - t0;
  if (c == kLive) {
    auto p = session->Stop();
    if (!p.ok()) {
      std::fprintf(stderr, "torch_overhead_tool: %s\n", p.error().message.c_str());
      std::exit(3);
    }
    if (recorded) *recorded = session->info().events;
  } else if (c == kProfiler) {
    torch::autograd::profiler::disableProfilerLegacy();
  }
  return dt;
}

// A small pre-norm transformer encoder with a classifier, scoped like a model
// a user instruments.
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
    const int64_t b = x.size(0), t = x.size(1), h = x.size(2), d = h / heads;
    {
      SMARAGDINE_SCOPE("attention");
      auto parts = qkv->forward(norm1->forward(x)).view({b, t, 3, heads, d}).unbind(2);
      auto q = parts[0].transpose(1, 2), k = parts[1].transpose(1, 2), v = parts[2].transpose(1, 2);
      auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
      auto ctx = torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2).reshape({b, t, h});
      x = x + proj->forward(ctx);
    }
    SMARAGDINE_SCOPE("ffn");
    return x + down->forward(torch::gelu(up->forward(norm2->forward(x))));
  }
  int64_t heads;
  torch::nn::LayerNorm norm1;
  torch::nn::Linear qkv, proj;
  torch::nn::LayerNorm norm2;
  torch::nn::Linear up, down;
};
TORCH_MODULE(Block);

struct EncoderImpl : torch::nn::Module {
  EncoderImpl(const Args& a)
      : embed(register_module("embed", torch::nn::Embedding(30522, a.hidden))),
        head(register_module("head", torch::nn::Linear(a.hidden, 2))) {
    for (int64_t i = 0; i < a.layers; ++i)
      blocks.push_back(register_module("layer_" + std::to_string(i), Block(a.hidden, a.heads)));
  }
  torch::Tensor forward(const torch::Tensor& tokens) {
    SMARAGDINE_SCOPE("encoder");
    torch::Tensor x;
    {
      SMARAGDINE_SCOPE("embeddings");
      x = embed->forward(tokens);
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      SMARAGDINE_SCOPE("layer_" + std::to_string(i));
      x = blocks[i]->forward(x);
    }
    SMARAGDINE_SCOPE("head");
    return head->forward(x.mean(1));
  }
  torch::nn::Embedding embed;
  std::vector<Block> blocks;
  torch::nn::Linear head;
};
TORCH_MODULE(Encoder);

void PrintRow(const char* what, const Stats& s, const char* unit) {
  std::printf("  %-34s %10.1f %s   [%.1f … %.1f]\n", what, s.median, unit, s.min, s.max);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (k == "--reps") a.reps = static_cast<int>(v);
    else if (k == "--ops") a.ops = static_cast<int>(v);
    else if (k == "--steps") a.steps = static_cast<int>(v);
    else if (k == "--layers") a.layers = v;
    else if (k == "--hidden") a.hidden = v;
    else if (k == "--heads") a.heads = v;
    else if (k == "--seq") a.seq = v;
    else if (k == "--batch") a.batch = v;
    else {
      std::fprintf(stderr, "torch_overhead_tool: unknown option %s\n", k.c_str());
      return 1;
    }
  }
  torch::manual_seed(0);
  std::printf("torch_overhead_tool: %d repetitions, LibTorch %s, %d intra-op threads; times are "
              "the main thread's CPU time\n",
              a.reps, TORCH_VERSION, at::get_num_threads());
  const int64_t wall0 = WallNs();

  // ---- 1. tiny ops ----
  const torch::Tensor x = torch::ones({1}), y = torch::ones({1});
  auto tiny = [&] {
    for (int i = 0; i < a.ops; ++i) {
      torch::Tensor z = x + y;
    }
  };
  std::vector<double> per_iter[kConditions];
  std::vector<double> live_extra, prof_extra, ratio;
  int64_t recorded = 0;
  tiny();  // warm-up
  for (int r = 0; r < a.reps; ++r) {
    double ns[kConditions];
    for (int k = 0; k < kConditions; ++k) {
      const auto c = static_cast<Condition>((r + k) % kConditions);
      ns[c] = static_cast<double>(RunUnder(c, tiny, c == kLive ? &recorded : nullptr)) / a.ops;
      per_iter[c].push_back(ns[c]);
    }
    live_extra.push_back(ns[kLive] - ns[kNone]);
    prof_extra.push_back(ns[kProfiler] - ns[kNone]);
    ratio.push_back((ns[kLive] - ns[kNone]) / (ns[kProfiler] - ns[kNone]));
  }
  const double ops_per_iter = static_cast<double>(recorded) / a.ops;
  std::printf("\ntiny ops (`a + b` on 1-element tensors, %d per repetition; %.2f operators "
              "recorded per iteration):\n",
              a.ops, ops_per_iter);
  for (int c = 0; c < kConditions; ++c)
    PrintRow((std::string(kNames[c]) + ", per iteration").c_str(), Summarize(per_iter[c]), "ns");
  PrintRow("live overhead, per iteration", Summarize(live_extra), "ns");
  std::vector<double> live_per_op, prof_per_op;
  for (size_t i = 0; i < live_extra.size(); ++i) {
    live_per_op.push_back(live_extra[i] / ops_per_iter);
    prof_per_op.push_back(prof_extra[i] / ops_per_iter);
  }
  PrintRow("live overhead, per recorded op", Summarize(live_per_op), "ns");
  PrintRow("profiler overhead, per op", Summarize(prof_per_op), "ns");
  PrintRow("live / profiler overhead", Summarize(ratio), " ");

  // ---- 2. training steps ----
  Encoder model(a);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
  const torch::Tensor tokens = torch::randint(30522, {a.batch, a.seq});
  const torch::Tensor labels = torch::randint(2, {a.batch});
  auto train = [&] {
    for (int s = 0; s < a.steps; ++s) {
      opt.zero_grad();
      torch::Tensor loss = torch::cross_entropy_loss(model->forward(tokens), labels);
      loss.backward();
      SMARAGDINE_PHASE(smaragdine::Phase::kOptimizer);
      opt.step();
    }
  };
  train();  // warm-up
  std::vector<double> step_ms[kConditions], live_pct, prof_pct;
  int64_t step_records = 0;
  for (int r = 0; r < a.reps; ++r) {
    double ms[kConditions];
    for (int k = 0; k < kConditions; ++k) {
      const auto c = static_cast<Condition>((r + k) % kConditions);
      ms[c] = RunUnder(c, train, c == kLive ? &step_records : nullptr) * 1e-6 / a.steps;
      step_ms[c].push_back(ms[c]);
    }
    live_pct.push_back(100.0 * (ms[kLive] - ms[kNone]) / ms[kNone]);
    prof_pct.push_back(100.0 * (ms[kProfiler] - ms[kNone]) / ms[kNone]);
  }
  std::printf("\ntraining step (transformer L=%lld H=%lld heads=%lld, batch %lld × seq %lld, "
              "AdamW; %lld operators recorded per step):\n",
              static_cast<long long>(a.layers), static_cast<long long>(a.hidden),
              static_cast<long long>(a.heads), static_cast<long long>(a.batch),
              static_cast<long long>(a.seq), static_cast<long long>(step_records / a.steps));
  for (int c = 0; c < kConditions; ++c)
    PrintRow((std::string(kNames[c]) + ", per step").c_str(), Summarize(step_ms[c]), "ms");
  PrintRow("live overhead", Summarize(live_pct), "%");
  PrintRow("profiler overhead", Summarize(prof_pct), "%");
  std::printf("\n(%.1f s wall)\n", (WallNs() - wall0) * 1e-9);
  return 0;
}
