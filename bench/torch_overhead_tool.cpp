// torch_overhead_tool — what live accounting costs a LibTorch program, in one
// run with interleaved repetitions, under four conditions:
//
//   uninstrumented   no callback at all (the model keeps its SMARAGDINE_SCOPEs)
//   bare callback    a global RecordFunction callback registered exactly as
//                    live accounting's (same scopes and options) doing nothing:
//                    the floor LibTorch charges any callback
//   live accounting  a live::Session (CPU-time model source, in-process)
//   LibTorch profiler  the legacy autograd profiler (CPU)
//
// Two workloads:
//  1. tiny ops: a loop of `a + b` on one-element tensors; the difference per
//     iteration divided by the operators recorded per iteration is the cost
//     per recorded op;
//  2. training steps of a built-in model (models.h; bert-mini pretrain by
//     default: forward, backward, AdamW), several steps per repetition.
//
// Each repetition runs every condition once, in an order that rotates, so
// drift of a shared machine spreads over all of them. Times are taken on the
// main thread's CPU clock (CLOCK_THREAD_CPUTIME_ID) and on the wall clock;
// reported are the median, the interquartile range and min–max over
// repetitions of each per-repetition figure, and for the overheads a
// bootstrap 95 % interval of the median. Session start/stop and the
// profiler's enable/disable are outside the timed part of the main figures.
// A second figure for tiny ops is end to end: the process's CPU time from
// before the session starts (the profiler is enabled) to results in memory:
// the attributed profile from Session::Stop, the profiler's events written
// out as a Chrome trace (what LibTorch's RecordProfile guard does) — what a
// user pays per op to get an answer, fixed costs included.
//
//   build/torch_overhead_tool --help
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <time.h>

#include <sstream>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "smaragdine/torch/live.h"
#include "smaragdine/torch/models.h"
#include "smaragdine/torch/scope.h"
#include "torch/live/recorder.h"
#include "torch/models/transformer.h"

namespace {

using smaragdine::live::Session;
using smaragdine::live::SessionOptions;
namespace models = smaragdine::models;

struct Args {
  int reps = 15;
  int ops = 20000;
  std::string preset = "bert-mini";
  std::string task = "pretrain";
  int steps = 10;
  int warmup = 2;
  int64_t batch = 0, seq = 0;  // 0: the preset's
  int threads = 1;
  std::string only;  // "", "tiny", "step"
  std::vector<std::string> conditions = {"none", "bare", "live", "profiler"};
};

// The conditions --conditions kept (all four by default).
bool g_enabled[4] = {true, true, true, true};

// CPU time of the calling thread: what the instrumentation adds to the thread
// that runs the operators, and far less disturbed than wall time by other
// processes on a shared machine (with --threads 1 the main thread does all of
// the model's work).
int64_t CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
// CPU time of the whole process: end to end, the sampler thread and whatever
// Stop() or the profiler's writer does count too.
int64_t ProcessCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

struct Stats {
  double median = 0, p25 = 0, p75 = 0, min = 0, max = 0;
  double ci_lo = 0, ci_hi = 0;  // bootstrap 95 % interval of the median
};

Stats Summarize(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.median = Quantile(v, 0.5);
  s.p25 = Quantile(v, 0.25);
  s.p75 = Quantile(v, 0.75);
  s.min = v.front();
  s.max = v.back();
  // Resampling the repetitions (fixed seed: the same data give the same
  // interval) says how far the median itself could move.
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> medians, sample(v.size());
  for (int b = 0; b < 2000; ++b) {
    for (double& x : sample) x = v[pick(rng)];
    std::sort(sample.begin(), sample.end());
    medians.push_back(Quantile(sample, 0.5));
  }
  std::sort(medians.begin(), medians.end());
  s.ci_lo = Quantile(medians, 0.025);
  s.ci_hi = Quantile(medians, 0.975);
  return s;
}

enum Condition { kNone = 0, kBare = 1, kLive = 2, kProfiler = 3, kConditions = 4 };
const char* kNames[kConditions] = {"uninstrumented", "bare callback", "live accounting",
                                   "LibTorch profiler"};

// Live accounting on the CPU-time model (no counter needed), in-process.
SessionOptions LiveOptions() {
  SessionOptions o;
  o.use_run_dir_env = false;
  o.sampling.forced_sources = {"model"};
  o.write_profile = false;
  return o;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "torch_overhead_tool: %s\n", what.c_str());
  std::exit(3);
}

struct Timed {
  double cpu_ns = 0, wall_ns = 0;
  double e2e_cpu_ns = 0;  // process CPU, setup through results in memory
};

// Runs `body(session)` under a condition (session is null except under live
// accounting) and returns its CPU and wall time; `recorded` gets the records
// live accounting took.
Timed RunUnder(Condition c, const std::function<void(Session*)>& body, int64_t* recorded) {
  std::unique_ptr<Session> session;
  uint64_t bare = 0;
  const int64_t e0 = ProcessCpuNs();
  if (c == kLive) {
    auto s = Session::Start(LiveOptions());
    if (!s.ok()) Fail(s.error().message);
    session = std::move(*s);
  } else if (c == kBare) {
    bare = smaragdine::live::internal::AddBareCallback();
  } else if (c == kProfiler) {
    torch::autograd::profiler::enableProfilerLegacy(
        torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  }
  const int64_t w0 = WallNs(), c0 = CpuNs();
  body(session.get());
  const int64_t c1 = CpuNs(), w1 = WallNs();
  if (c == kLive) {
    auto p = session->Stop();
    if (!p.ok()) Fail(p.error().message);
    if (recorded) *recorded = session->info().events;
  } else if (c == kBare) {
    smaragdine::live::internal::RemoveBareCallback(bare);
  } else if (c == kProfiler) {
    // Results as LibTorch's RecordProfile guard gives them: a Chrome trace.
    auto lists = torch::autograd::profiler::disableProfilerLegacy();
    std::vector<torch::autograd::profiler::LegacyEvent*> events;
    for (auto& list : lists)
      for (auto& e : list) events.push_back(&e);
    std::ostringstream trace;
    torch::autograd::profiler::writeProfilerEventsToStream(trace, events);
    if (trace.tellp() <= 0) Fail("the profiler wrote an empty trace");
  }
  const int64_t e1 = ProcessCpuNs();
  return Timed{static_cast<double>(c1 - c0), static_cast<double>(w1 - w0),
               static_cast<double>(e1 - e0)};
}

// Runs reps × conditions, rotating the order; per[c] gets `scale` × each
// repetition's time under condition c.
struct Series {
  std::vector<double> cpu[kConditions], wall[kConditions], e2e[kConditions];
};
Series Interleave(int reps, double scale, const std::function<void(Session*)>& body,
                  int64_t* recorded) {
  Series s;
  for (int r = 0; r < reps; ++r) {
    for (int k = 0; k < kConditions; ++k) {
      const auto c = static_cast<Condition>((r + k) % kConditions);
      if (!g_enabled[c]) continue;
      const Timed t = RunUnder(c, body, c == kLive ? recorded : nullptr);
      s.cpu[c].push_back(t.cpu_ns * scale);
      s.wall[c].push_back(t.wall_ns * scale);
      s.e2e[c].push_back(t.e2e_cpu_ns * scale);
    }
    std::fprintf(stderr, "\r  repetition %d/%d", r + 1, reps);
  }
  std::fprintf(stderr, "\r%30s\r", "");
  return s;
}

// Per repetition: f(time under a, time under b).
std::vector<double> Paired(const std::vector<double>& a, const std::vector<double>& b,
                           const std::function<double(double, double)>& f) {
  std::vector<double> out;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) out.push_back(f(a[i], b[i]));
  return out;
}

void Header() {
  std::printf("  %-44s %11s  %-21s %-21s %s\n", "", "median", "IQR", "min … max",
              "95% CI of median");
}

void Row(const std::string& what, const std::vector<double>& v, const char* unit, int prec = 1) {
  const Stats s = Summarize(v);
  const std::string iqr = fmt::format("{:.{}f} … {:.{}f}", s.p25, prec, s.p75, prec);
  const std::string range = fmt::format("{:.{}f} … {:.{}f}", s.min, prec, s.max, prec);
  const std::string ci = fmt::format("{:.{}f} … {:.{}f}", s.ci_lo, prec, s.ci_hi, prec);
  std::printf("  %-44s %8.*f %-2s %-21s %-21s %s\n", what.c_str(), prec, s.median, unit,
              iqr.c_str(), range.c_str(), ci.c_str());
}

// One figure per condition: the repetitions' times under it.
using PerCondition = std::vector<double>[kConditions];

// A row per enabled condition.
void ConditionRows(const PerCondition& t, const char* unit, int prec) {
  Header();
  for (int c = 0; c < kConditions; ++c)
    if (g_enabled[c]) Row(kNames[c], t[c], unit, prec);
}

// Per repetition, (hi − lo) / div: a paired difference per recorded op.
std::vector<double> PerOp(const PerCondition& t, Condition hi, Condition lo, double div) {
  return Paired(t[hi], t[lo], [div](double h, double l) { return (h - l) / div; });
}

// Per repetition, live's overhead over the profiler's.
std::vector<double> LiveOverProfiler(const PerCondition& t) {
  std::vector<double> ratio;
  for (size_t i = 0; i < t[kNone].size(); ++i)
    ratio.push_back((t[kLive][i] - t[kNone][i]) / (t[kProfiler][i] - t[kNone][i]));
  return ratio;
}

void TinyOps(const Args& a) {
  const torch::Tensor x = torch::ones({1}), y = torch::ones({1});
  auto tiny = [&](Session*) {
    for (int i = 0; i < a.ops; ++i) {
      torch::Tensor z = x + y;
    }
  };
  tiny(nullptr);  // warm-up
  int64_t recorded = 0;
  const Series s = Interleave(a.reps, 1.0 / a.ops, tiny, &recorded);
  const double per_iter = static_cast<double>(recorded) / a.ops;
  std::printf("\ntiny ops: `a + b` on 1-element tensors, %d per repetition, %.2f operators "
              "recorded per iteration\n",
              a.ops, per_iter);
  // Per recorded op of live accounting; without it, per iteration.
  const double div = per_iter > 0 ? per_iter : 1.0;
  const bool all_three = g_enabled[kNone] && g_enabled[kLive] && g_enabled[kProfiler];
  for (const char* clock : {"CPU", "wall"}) {
    const bool cpu = clock[0] == 'C';
    const PerCondition& t = cpu ? s.cpu : s.wall;
    std::printf("\n %s time per iteration (ns):\n", cpu ? "main thread's CPU" : "wall");
    ConditionRows(t, "ns", 1);
    std::printf(" overhead per recorded op (ns; per repetition, paired):\n");
    auto row = [&](const char* what, Condition hi, Condition lo) {
      if (g_enabled[hi] && g_enabled[lo]) Row(what, PerOp(t, hi, lo, div), "ns");
    };
    row("bare callback − uninstrumented (floor)", kBare, kNone);
    row("live − bare (our callback's own work)", kLive, kBare);
    row("live − uninstrumented", kLive, kNone);
    row("profiler − uninstrumented", kProfiler, kNone);
    if (all_three) Row("live / profiler overhead", LiveOverProfiler(t), "", 2);
  }
  if (all_three) {
    // End to end: fixed costs (session start, sampler thread, attribution;
    // the profiler's trace writer) spread over the repetition's ops.
    std::printf("\n end to end, process CPU time from start to results in memory, per recorded "
                "op (ns; paired):\n");
    Header();
    Row("live − uninstrumented (Start … Stop → profile)", PerOp(s.e2e, kLive, kNone, div), "ns");
    Row("profiler − uninstrumented (… → Chrome trace)", PerOp(s.e2e, kProfiler, kNone, div),
        "ns");
    Row("live / profiler, end to end", LiveOverProfiler(s.e2e), "", 2);
  }
}

void TrainingSteps(const Args& a) {
  auto config = models::ParsePreset(a.preset);
  if (!config.ok()) Fail(config.error().message);
  if (a.batch > 0) config->batch = a.batch;
  if (a.seq > 0) config->seq = a.seq;
  if (auto st = models::ValidateConfig(*config); !st.ok()) Fail(st.error().message);
  auto task = models::ParseTask(a.task);
  if (!task.ok()) Fail(task.error().message);
  models::Trainer trainer(*config, *task);
  // As RunModel does: the optimizer step is phase optimizer under live
  // accounting (a thread-local byte otherwise; it is set in every condition).
  std::optional<smaragdine::live::PhaseGuard> phase;
  auto mark = [&](bool begins) {
    if (begins) phase.emplace(smaragdine::Phase::kOptimizer);
    else phase.reset();
  };
  auto steps = [&](Session* session) {
    for (int i = 0; i < a.steps; ++i) {
      trainer.Step(mark);
      if (session) session->Step();
    }
  };
  for (int i = 0; i < a.warmup; ++i) trainer.Step(mark);
  int64_t recorded = 0;
  const Series s = Interleave(a.reps, 1e-6 / a.steps, steps, &recorded);
  std::printf("\ntraining step: %s, task %s, %lld tokens per step, %d steps per repetition "
              "(%d warm-up), %lld operator records per step\n",
              config->Describe().c_str(), models::TaskName(*task),
              static_cast<long long>(config->TokensPerStep()), a.steps, a.warmup,
              static_cast<long long>(recorded / a.steps));
  for (const char* clock : {"CPU", "wall"}) {
    const bool cpu = clock[0] == 'C';
    const PerCondition& t = cpu ? s.cpu : s.wall;
    std::printf("\n %s time per step (ms):\n", cpu ? "main thread's CPU" : "wall");
    ConditionRows(t, "ms", 2);
    if (!g_enabled[kNone]) continue;
    std::printf(" overhead (%% of the uninstrumented step; per repetition, paired):\n");
    for (Condition c : {kBare, kLive, kProfiler})
      if (g_enabled[c])
        Row(kNames[c],
            Paired(t[c], t[kNone], [](double h, double l) { return 100.0 * (h - l) / l; }), "%",
            2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{
      "What live accounting costs a LibTorch program. Runs, interleaved in one process, "
      "four conditions: uninstrumented; a bare RecordFunction callback registered as live "
      "accounting's is but doing nothing (LibTorch's floor for any callback); live "
      "accounting (a Session on the CPU-time model); LibTorch's legacy profiler. Two "
      "workloads: tiny ops (`a + b` on 1-element tensors: the cost per recorded op) and "
      "training steps of a built-in model (the cost on a real step, in %). Each repetition "
      "runs every condition once, in a rotating order; reported per figure: median, "
      "interquartile range, min … max over repetitions and a bootstrap 95 % interval of the "
      "median, on the main thread's CPU time and on wall time. For tiny ops also end to end: "
      "the process's CPU time from start to results in memory (the attributed profile; the "
      "profiler's Chrome trace).\n\n"
      "Example (docs/benchmarks.md):\n"
      "  torch_overhead_tool --reps 21 --ops 20000 --preset bert-mini --steps 10",
      "torch_overhead_tool"};
  app.add_option("--reps", a.reps, "Repetitions; each runs every condition once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--ops", a.ops, "Tiny ops (`a + b`) per condition and repetition")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--preset", a.preset,
                 "Built-in model of the training step (bert-tiny … bert-large, albert-base, "
                 "albert-large, bert-L<n>-H<n>)")
      ->capture_default_str();
  app.add_option("--task", a.task, "pretrain | finetune | predict")->capture_default_str();
  app.add_option("--steps", a.steps,
                 "Training steps per condition and repetition: more steps make a 2 % "
                 "difference stand out of the noise")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", a.warmup, "Training steps before the first repetition (untimed)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--batch", a.batch, "Sequences per step (default: the preset's, 8)")
      ->check(CLI::PositiveNumber);
  app.add_option("--seq", a.seq, "Tokens per sequence (default: the preset's, 128)")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", a.threads,
                 "LibTorch intra-op threads; with 1 the main thread does all of the work, so "
                 "its CPU time is the whole cost")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--only", a.only, "Run one workload only: tiny | step")
      ->check(CLI::IsMember({"tiny", "step"}));
  app.add_option("--conditions", a.conditions,
                 "Run only these conditions: none, bare, live, profiler (e.g. `live` alone "
                 "under perf)")
      ->delimiter(',')
      ->check(CLI::IsMember({"none", "bare", "live", "profiler"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  for (int c = 0; c < kConditions; ++c) g_enabled[c] = false;
  for (const std::string& c : a.conditions)
    g_enabled[c == "none" ? kNone : c == "bare" ? kBare : c == "live" ? kLive : kProfiler] = true;

  at::set_num_threads(a.threads);
  torch::manual_seed(0);
  std::printf("torch_overhead_tool: %d repetitions, LibTorch %s, %d intra-op thread%s\n", a.reps,
              TORCH_VERSION, at::get_num_threads(), at::get_num_threads() == 1 ? "" : "s");
  const int64_t wall0 = WallNs();
  if (a.only != "step") TinyOps(a);
  if (a.only != "tiny") TrainingSteps(a);
  std::printf("\n(%.1f s wall)\n", (WallNs() - wall0) * 1e-9);
  return 0;
}
