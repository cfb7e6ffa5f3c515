// Live accounting on a small instrumented model: the tree it yields, phases,
// steps, conservation, scopes across threads, and joining a `record` run.
// Energy is the CPU-time model of this process (sysfs and /dev point at an
// empty directory), so the tests run the same on every machine.
#include "smaragdine/torch/live.h"

#include <unistd.h>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/profile.h"
#include "smaragdine/torch/scope.h"
#include "torch_live/live_test_util.h"

namespace smaragdine::live {
namespace {

using smaragdine::testing::TempDir;
using testing::ExpectConservation;
using testing::ModelOnly;
using testing::Node;
using testing::Paths;
using ::testing::HasSubstr;

struct Mlp : torch::nn::Module {
  Mlp() {
    encoder = register_module("encoder", torch::nn::Linear(32, 64));
    head = register_module("head", torch::nn::Linear(64, 4));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    SMARAGDINE_SCOPE("mlp");
    torch::Tensor h;
    {
      SMARAGDINE_SCOPE("encoder");
      h = torch::relu(encoder->forward(x));
    }
    SMARAGDINE_SCOPE("head");
    return head->forward(h);
  }
  torch::nn::Linear encoder{nullptr}, head{nullptr};
};

// A few training steps: forward in scopes, loss outside any scope, backward,
// the optimizer under its phase guard.
void Train(Mlp& model, Session& session, int steps) {
  torch::manual_seed(7);
  torch::optim::SGD opt(model.parameters(), torch::optim::SGDOptions(0.01));
  const torch::Tensor x = torch::randn({16, 32});
  const torch::Tensor y = torch::randn({16, 4});
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    torch::Tensor loss = torch::mse_loss(model.forward(x), y);
    loss.backward();
    {
      // The phase first: a scope takes the phase open where it opens.
      SMARAGDINE_PHASE(Phase::kOptimizer);
      SMARAGDINE_SCOPE("optimizer");
      opt.step();
    }
    session.Step();
  }
}

int64_t Calls(const ProfileNode& n, Phase phase) {
  return n.phases[static_cast<int>(phase)].calls;
}

TEST(LiveSessionTest, SmallModelGivesItsScopesPhasesAndSteps) {
  TempDir tmp;
  auto session = Session::Start(ModelOnly(tmp));
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_FALSE((*session)->info().joined);
  Mlp model;
  Train(model, **session, 3);
  auto profile = (*session)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  const Profile& p = *profile;
  SCOPED_TRACE(Paths(p));

  ASSERT_EQ(p.domains.size(), 1u);
  EXPECT_TRUE(p.domains[0].modeled);
  EXPECT_GT(p.MeasuredJ(), 0);
  ExpectConservation(p);
  EXPECT_EQ(p.meta.steps, 3);
  EXPECT_EQ((*session)->trace().steps.size(), 3u);
  EXPECT_EQ((*session)->trace().time_base, TimeBase::kMonotonic);
  // The timeline is kept, so `report --format perfetto` works on a live profile:
  // one timeline event per trace event, their energy adding up to the nodes'.
  EXPECT_EQ(p.timeline.events.size(), (*session)->trace().events.size());
  ASSERT_EQ(p.timeline.power.size(), p.domains.size());
  double events_j = 0, nodes_j = 0;
  for (const TimelineEvent& e : p.timeline.events) events_j += e.self_j;
  for (const ProfileNode& n : p.nodes) nodes_j += n.SelfJ();
  EXPECT_NEAR(events_j, nodes_j, 1e-9 * std::max(1.0, nodes_j));

  // Scopes, with the operators under them.
  for (const char* scope : {"mlp", "mlp/encoder", "mlp/head", "optimizer"}) {
    const ProfileNode* n = Node(p, scope);
    ASSERT_NE(n, nullptr) << scope;
    EXPECT_EQ(n->kind, NodeKind::kScope) << scope;
    EXPECT_GT(n->TotalJ(), 0) << scope;
  }
  const ProfileNode* linear = Node(p, "mlp/encoder/aten::addmm");
  ASSERT_NE(linear, nullptr);
  EXPECT_EQ(linear->kind, NodeKind::kOp);
  EXPECT_EQ(Calls(*linear, Phase::kForward), 3);
  EXPECT_NE(Node(p, "mlp/encoder/aten::relu"), nullptr);

  // Backward lands on the forward op's path: the encoder gets backward work,
  // and no autograd function is left without its forward op.
  const ProfileNode* encoder = Node(p, "mlp/encoder");
  EXPECT_EQ(encoder->calls, 3);
  const ProfileNode* addmm = Node(p, "mlp/encoder/aten::addmm");
  ASSERT_NE(addmm, nullptr);
  EXPECT_EQ(Calls(*addmm, Phase::kForward), 3);
  // Under the forward op, a node named after the backward function (issue 16:
  // not an aten::mm inside an aten::addmm).
  const ProfileNode* addmm_backward = Node(p, "mlp/encoder/aten::addmm/AddmmBackward0");
  ASSERT_NE(addmm_backward, nullptr) << Paths(p);
  EXPECT_EQ(Calls(*addmm_backward, Phase::kBackward), 3);
  EXPECT_EQ(Calls(*addmm_backward, Phase::kForward), 0);
  EXPECT_GT(PhaseFigures::SumOf(encoder->phases[static_cast<int>(Phase::kBackward)].total_j), 0);
  EXPECT_GT(PhaseFigures::SumOf(encoder->phases[static_cast<int>(Phase::kForward)].total_j), 0);
  EXPECT_EQ(p.diagnostics.Count("live.backward_op_without_forward_op"), 0);
  // Every backward function sits under an operator (its forward op), none at
  // the top or right under a scope.
  for (const ProfileNode& n : p.nodes)
    if (n.name.ends_with("Backward0")) {
      ASSERT_GE(n.parent, 0);
      EXPECT_EQ(p.nodes[n.parent].kind, NodeKind::kOp) << n.path;
    }
  // The loss ran outside every scope: at the top, with its backward under it.
  const ProfileNode* loss = Node(p, "aten::mse_loss");
  ASSERT_NE(loss, nullptr);
  const ProfileNode* loss_backward = Node(p, "aten::mse_loss/MseLossBackward0");
  ASSERT_NE(loss_backward, nullptr) << Paths(p);
  EXPECT_EQ(Calls(*loss_backward, Phase::kBackward), 3);

  // The optimizer's operators are phase optimizer, and nothing else is.
  const ProfileNode* opt = Node(p, "optimizer");
  EXPECT_GT(Calls(*opt, Phase::kOptimizer), 0);
  EXPECT_EQ(Calls(*opt, Phase::kForward), 0);
  EXPECT_EQ(Calls(*encoder, Phase::kOptimizer), 0);

  // Statistics across the three steps.
  EXPECT_EQ(p.nodes[0].steps.n, 3);
  EXPECT_GT(p.nodes[0].steps.mean_j, 0);
}

// The callback stamps records with the TSC where the kernel keeps time with
// it, else with CLOCK_MONOTONIC (SMARAGDINE_LIVE_CLOCK=monotonic forces the
// latter): both give the same tree and calls, every event inside its step,
// and conserved energy.
TEST(LiveSessionTest, TscAndMonotonicStampsGiveTheSameTreeInsideTheSteps) {
  auto run = [](bool force_monotonic) {
    std::map<std::string, std::vector<int64_t>> calls;
    TempDir tmp;
    if (force_monotonic) setenv("SMARAGDINE_LIVE_CLOCK", "monotonic", 1);
    auto session = Session::Start(ModelOnly(tmp));
    unsetenv("SMARAGDINE_LIVE_CLOCK");
    EXPECT_TRUE(session.ok()) << session.error().message;
    if (!session.ok()) return calls;
    Mlp model;
    Train(model, **session, 2);
    auto p = (*session)->Stop();
    EXPECT_TRUE(p.ok()) << p.error().message;
    if (!p.ok()) return calls;
    const Trace& t = (*session)->trace();
    EXPECT_EQ(t.steps.size(), 2u);
    for (const Event& e : t.events) {
      EXPECT_LE(e.start_ns, e.end_ns);
      EXPECT_GE(e.step, 0) << t.nodes.Path(e.node);
      if (e.step < 0) continue;
      const Step& s = t.steps[static_cast<size_t>(e.step)];
      EXPECT_LE(s.start_ns, e.start_ns) << t.nodes.Path(e.node);
      EXPECT_LE(e.end_ns, s.end_ns) << t.nodes.Path(e.node);
    }
    ExpectConservation(*p);
    for (const ProfileNode& n : p->nodes)
      for (int ph = 0; ph < kPhaseCount; ++ph) calls[n.path].push_back(n.phases[ph].calls);
    return calls;
  };
  const auto tsc_or_monotonic = run(false);
  EXPECT_FALSE(tsc_or_monotonic.empty());
  EXPECT_EQ(tsc_or_monotonic, run(true));
}

TEST(LiveSessionTest, ScopesStayWithTheirThreadAndFollowAtLaunch) {
  TempDir tmp;
  auto session = Session::Start(ModelOnly(tmp));
  ASSERT_TRUE(session.ok()) << session.error().message;
  const torch::Tensor a = torch::randn({64, 64});
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([w, &a] {
      SMARAGDINE_SCOPE(w == 0 ? "worker_0" : "worker_1");
      for (int i = 0; i < 20; ++i) {
        SMARAGDINE_SCOPE("block");
        torch::Tensor b = torch::mm(a, a);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  {
    SMARAGDINE_SCOPE("main");
    // at::launch runs on LibTorch's inter-op pool with the caller's
    // thread-local state: the pool thread's ops belong to "main".
    std::promise<void> done;
    at::launch([&] {
      torch::Tensor b = torch::mm(a, a);
      SMARAGDINE_SCOPE("launched");
      torch::Tensor c = torch::mm(a, a);
      done.set_value();
    });
    done.get_future().wait();
  }
  auto profile = (*session)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  const Profile& p = *profile;
  SCOPED_TRACE(Paths(p));
  ExpectConservation(p);
  for (const char* path : {"worker_0/block/aten::mm", "worker_1/block/aten::mm"}) {
    const ProfileNode* n = Node(p, path);
    ASSERT_NE(n, nullptr) << path;
    EXPECT_EQ(n->calls, 20) << path;
  }
  EXPECT_EQ(Node(p, "worker_0/worker_1"), nullptr);
  ASSERT_NE(Node(p, "main/aten::mm"), nullptr);
  ASSERT_NE(Node(p, "main/launched/aten::mm"), nullptr);
  EXPECT_EQ(Node(p, "aten::mm"), nullptr);  // nothing lost its scope
  EXPECT_GE((*session)->trace().lanes.size(), 4u);  // main, two workers, a pool thread
}

TEST(LiveSessionTest, OneSessionAtATime) {
  TempDir tmp;
  auto first = Session::Start(ModelOnly(tmp));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = Session::Start(ModelOnly(tmp));
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.error().message, HasSubstr("already running"));
  torch::Tensor t = torch::ones({4}) + 1;
  EXPECT_TRUE((*first)->Stop().ok());
}

// Names longer than the standard library's in-object buffer (15 bytes) live
// on the heap: the trace once read them through views into a temporary that
// was gone (garbage names such as "\x90k\x02\0…" for Python's
// "CrossEntropyLoss" module).
TEST(LiveSessionTest, LongScopeNamesReachTheTreeIntact) {
  TempDir tmp;
  auto session = Session::Start(ModelOnly(tmp));
  ASSERT_TRUE(session.ok()) << session.error().message;
  {
    SMARAGDINE_SCOPE("CrossEntropyLoss");
    SMARAGDINE_SCOPE("a_scope_name_well_past_sixteen_bytes/and_a_second_level_too");
    torch::Tensor t = torch::ones({8}) * 2;
  }
  auto p = (*session)->Stop();
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_GE(p->Find("CrossEntropyLoss/a_scope_name_well_past_sixteen_bytes/"
                    "and_a_second_level_too/aten::mul"),
            0)
      << ::testing::PrintToString(Paths(*p));
}

// BeginSteps() and step_after_last_mark = false (the Python bootstrap's
// steps): set-up before the first step and work after the last mark are in
// no step, so the steps are the training steps only.
TEST(LiveSessionTest, StepsCanBeginLateAndEndAtTheLastMark) {
  TempDir tmp;
  SessionOptions o = ModelOnly(tmp);
  o.step_after_last_mark = false;
  auto session = Session::Start(o);
  ASSERT_TRUE(session.ok()) << session.error().message;
  Mlp model;
  { SMARAGDINE_SCOPE("setup"); torch::Tensor t = torch::randn({64, 64}).matmul(torch::randn({64, 64})); }
  (*session)->BeginSteps();
  Train(model, **session, 3);
  (*session)->BeginSteps();  // only the first call counts
  { SMARAGDINE_SCOPE("after"); torch::Tensor t = torch::ones({8}) * 2; }
  auto p = (*session)->Stop();
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ((*session)->trace().steps.size(), 3u);
  EXPECT_EQ(p->nodes[0].steps.n, 3);
  // The set-up and the tail are in the profile, outside the steps.
  ASSERT_GE(p->Find("setup"), 0);
  ASSERT_GE(p->Find("after"), 0);
  // Every node has figures over the 3 steps: none in them for these two.
  EXPECT_EQ(p->nodes[p->Find("setup")].steps.mean_j, 0);
  EXPECT_EQ(p->nodes[p->Find("after")].steps.mean_j, 0);
  EXPECT_GT(p->nodes[p->Find("setup")].TotalJ(), 0);
  EXPECT_GT(p->nodes[p->Find("mlp")].steps.mean_j, 0);
  ExpectConservation(*p);
}

TEST(LiveSessionTest, OutputDirHoldsARunAccountReadsBackToTheSameTree) {
  TempDir tmp;
  SessionOptions o = ModelOnly(tmp);
  o.output_dir = tmp.path() + "/out";
  auto session = Session::Start(o);
  ASSERT_TRUE(session.ok()) << session.error().message;
  Mlp model;
  Train(model, **session, 2);
  auto live = (*session)->Stop();
  ASSERT_TRUE(live.ok()) << live.error().message << "\n"
                         << smaragdine::testing::ReadText(o.output_dir + "/energy.csv")
                         << smaragdine::testing::ReadText(o.output_dir + "/run.json");
  const SessionInfo& info = (*session)->info();
  EXPECT_EQ(info.trace_path, o.output_dir + "/live.trace.json");
  EXPECT_EQ(info.profile_path, o.output_dir + "/profile.json");
  EXPECT_TRUE(std::filesystem::exists(o.output_dir + "/run.json"));

  const std::string out = tmp.path() + "/account.json";
  smaragdine::testing::Ran acc = smaragdine::testing::Run({SMARAGDINE_BINARY, "account", "--energy", o.output_dir,
                                   "--trace", info.trace_path, "-o", out, "-q"},
                                  tmp.path());
  ASSERT_EQ(acc.status, 0) << acc.err;
  auto read = ReadProfileJson(out);
  ASSERT_TRUE(read.ok()) << read.error().message;
  // The same nodes with the same calls per phase; energy within the
  // realtime round trip (µs) of the in-process figures.
  ASSERT_EQ(read->nodes.size(), live->nodes.size()) << Paths(*read) << "---\n" << Paths(*live);
  EXPECT_EQ(read->meta.steps, 2);
  for (const ProfileNode& n : live->nodes) {
    const ProfileNode* m = Node(*read, n.path);
    ASSERT_NE(m, nullptr) << n.path;
    for (int ph = 0; ph < kPhaseCount; ++ph)
      EXPECT_EQ(m->phases[ph].calls, n.phases[ph].calls) << n.path << " phase " << ph;
    EXPECT_NEAR(m->TotalJ(), n.TotalJ(), 0.02 * live->MeasuredJ() + 1e-9) << n.path;
  }
}

// Runs as CMD under `smaragdine record` (the next test): a session that
// joins the run through SMARAGDINE_RUN_DIR.
TEST(LiveJoinChild, TrainUnderRecord) {
  if (std::getenv("SMARAGDINE_LIVE_JOIN_CHILD") == nullptr) GTEST_SKIP() << "run by JoinsARecordRun";
  SessionOptions o;
  o.use_run_dir_env = true;
  auto session = Session::Start(o);
  ASSERT_TRUE(session.ok()) << session.error().message;
  ASSERT_TRUE((*session)->info().joined);
  Mlp model;
  Train(model, **session, 3);
  auto profile = (*session)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  EXPECT_EQ(profile->meta.steps, 3);
}

TEST(LiveSessionTest, JoinsARecordRunAndAccountReadsItsTrace) {
  TempDir tmp;
  const std::string empty = tmp.path() + "/empty";
  std::filesystem::create_directories(empty);
  const std::string run = tmp.path() + "/run";
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  setenv("SMARAGDINE_LIVE_JOIN_CHILD", "1", 1);
  smaragdine::testing::Ran rec = smaragdine::testing::Run(
      {SMARAGDINE_BINARY, "record", "-o", run, "--sysfs-root", empty, "--dev-root", empty,
       "--nvml-library", tmp.path() + "/no-libnvidia-ml.so.1", "--slow-period-ms", "5", "--",
       self, "--gtest_filter=LiveJoinChild.TrainUnderRecord"},
      tmp.path());
  unsetenv("SMARAGDINE_LIVE_JOIN_CHILD");
  ASSERT_EQ(rec.status, 0) << rec.out << rec.err;
  ASSERT_TRUE(std::filesystem::exists(run + "/live.trace.json")) << rec.out;
  ASSERT_TRUE(std::filesystem::exists(run + "/profile.json")) << rec.out;
  EXPECT_FALSE(std::filesystem::exists(run + "/live.trace-2.json"));

  const std::string out = tmp.path() + "/p.json";
  smaragdine::testing::Ran acc = smaragdine::testing::Run({SMARAGDINE_BINARY, "account", "--energy", run, "--trace",
                                   run + "/live.trace.json", "-o", out, "-q"},
                                  tmp.path());
  ASSERT_EQ(acc.status, 0) << acc.err;
  auto p = ReadProfileJson(out);
  ASSERT_TRUE(p.ok()) << p.error().message;
  SCOPED_TRACE(Paths(*p));
  EXPECT_EQ(p->meta.steps, 3);
  ExpectConservation(*p);
  const ProfileNode* encoder = Node(*p, "mlp/encoder");
  ASSERT_NE(encoder, nullptr);
  EXPECT_EQ(Calls(*encoder, Phase::kForward), 3);
  EXPECT_GT(PhaseFigures::SumOf(encoder->phases[static_cast<int>(Phase::kBackward)].total_j), 0);
  const ProfileNode* opt = Node(*p, "optimizer");
  ASSERT_NE(opt, nullptr);
  EXPECT_GT(Calls(*opt, Phase::kOptimizer), 0);
  // The trace account read back places backward as the live session did.
  const ProfileNode* addmm_backward = Node(*p, "mlp/encoder/aten::addmm/AddmmBackward0");
  ASSERT_NE(addmm_backward, nullptr);
  EXPECT_EQ(Calls(*addmm_backward, Phase::kBackward), 3);
}

TEST(LiveSessionTest, RunDirWithoutRunJsonIsBadInput) {
  TempDir tmp;
  SessionOptions o;
  o.run_dir = tmp.path();
  auto s = Session::Start(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kBadInput);
  EXPECT_THAT(s.error().message, HasSubstr("no run.json"));
}

}  // namespace
}  // namespace smaragdine::live
