// The built-in models under live accounting: the profile's tree, phases,
// conservation and step statistics; demo, sweep and the ALBERT→BERT diff end to end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "smaragdine/report.h"
#include "smaragdine/report_presets.h"
#include "smaragdine/torch/models.h"
#include "torch_models/model_config_util.h"

namespace smaragdine::models {
namespace {

using ::testing::HasSubstr;

using testing::TinyConfig;

RunResult RunTiny(const ModelConfig& c, Task task, int steps = 3) {
  RunOptions o;
  o.config = c;
  o.task = task;
  o.steps = steps;
  o.warmup_steps = 1;
  o.session.use_run_dir_env = false;
  auto r = RunModel(o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? std::move(*r) : RunResult{};
}

double PhaseJ(const ProfileNode& n, Phase ph) {
  return PhaseFigures::SumOf(n.phases[static_cast<int>(ph)].total_j);
}

void ExpectConserved(const Profile& p) {
  for (size_t d = 0; d < p.domains.size(); ++d) {
    const ProfileDomain& dom = p.domains[d];
    const double sum = p.nodes[0].total_j[d] + dom.idle_j + dom.other_j;
    EXPECT_NEAR(sum, dom.measured_j, 1e-9 * std::max(1.0, dom.measured_j)) << dom.name;
  }
}

TEST(RunModelTest, BertPretrainProfileHasEveryScopeInBothDirections) {
  RunResult r = RunTiny(TinyConfig(Architecture::kBert), Task::kPretrain);
  const Profile& p = r.profile;
  ASSERT_FALSE(p.nodes.empty());
  for (const char* path :
       {"bert/embeddings/word_embeddings", "bert/embeddings/LayerNorm",
        "bert/encoder/layer_0/attention/self/query", "bert/encoder/layer_1/attention/self/softmax",
        "bert/encoder/layer_1/attention/output/LayerNorm", "bert/encoder/layer_0/intermediate/dense",
        "bert/encoder/layer_1/output/dense", "bert/pooler/dense", "cls/predictions/decoder",
        "cls/seq_relationship"}) {
    int64_t i = p.Find(path);
    ASSERT_GE(i, 0) << "no node " << path;
    const ProfileNode& n = p.nodes[static_cast<size_t>(i)];
    EXPECT_GT(n.calls + p.nodes[static_cast<size_t>(i)].time_ns, 0) << path;
    EXPECT_GT(n.phases[static_cast<int>(Phase::kForward)].calls, 0) << path << " forward";
  }
  // The backward of a linear layer lands on the layer's own path.
  const ProfileNode& query =
      p.nodes[static_cast<size_t>(p.Find("bert/encoder/layer_0/attention/self/query"))];
  EXPECT_GT(PhaseJ(query, Phase::kBackward), 0);
  // Gradient accumulation lands in the parameter's module, none at the top.
  const std::string accumulate =
      "/autograd::engine::evaluate_function: torch::autograd::AccumulateGrad";
  for (const std::string module :
       {"bert/embeddings/word_embeddings", "bert/embeddings/LayerNorm",
        "bert/encoder/layer_0/attention/self/query", "bert/encoder/layer_1/output/LayerNorm",
        "cls/seq_relationship"}) {
    const int64_t i = p.Find(module + accumulate);
    ASSERT_GE(i, 0) << "no gradient accumulation under " << module;
    EXPECT_GT(PhaseJ(p.nodes[static_cast<size_t>(i)], Phase::kBackward), 0) << module;
  }
  for (const ProfileNode& n : p.nodes)
    if (n.parent == 0) EXPECT_EQ(n.name.find("AccumulateGrad"), std::string::npos) << n.path;
  const ProfileNode& root = p.nodes[0];
  EXPECT_GT(PhaseJ(root, Phase::kForward), 0);
  EXPECT_GT(PhaseJ(root, Phase::kBackward), 0);
  EXPECT_GT(PhaseJ(root, Phase::kOptimizer), 0);
  ExpectConserved(p);
  EXPECT_EQ(r.step_ns.size(), 3u);
  EXPECT_EQ(root.steps.n, 3);
  EXPECT_GT(root.steps.mean_j, 0);
}

TEST(RunModelTest, PredictHasNoBackwardAndNoOptimizer) {
  RunResult r = RunTiny(TinyConfig(Architecture::kBert), Task::kPredict, 2);
  const ProfileNode& root = r.profile.nodes[0];
  EXPECT_GT(PhaseJ(root, Phase::kForward), 0);
  EXPECT_EQ(PhaseJ(root, Phase::kBackward), 0);
  EXPECT_EQ(PhaseJ(root, Phase::kOptimizer), 0);
  EXPECT_GE(r.profile.Find("classifier"), 0);
  EXPECT_LT(r.profile.Find("cls"), 0);
  ExpectConserved(r.profile);
}

TEST(RunModelTest, AlbertProfileHasEveryLayerInvocation) {
  RunResult r = RunTiny(TinyConfig(Architecture::kAlbert, 3), Task::kFinetune, 2);
  const Profile& p = r.profile;
  EXPECT_GE(p.Find("albert/encoder/embedding_hidden_mapping_in"), 0);
  for (int i = 0; i < 3; ++i)
    EXPECT_GE(p.Find("albert/encoder/layer_" + std::to_string(i) + "/attention/self/query"), 0);
  EXPECT_GE(p.Find("classifier"), 0);
  ExpectConserved(p);
}

TEST(RunModelTest, SessionPerStepGivesOneProfilePerStep) {
  RunOptions o;
  o.config = TinyConfig(Architecture::kBert, 1);
  o.task = Task::kFinetune;
  o.steps = 3;
  o.warmup_steps = 0;
  o.session_per_step = true;
  o.session.use_run_dir_env = false;
  auto r = RunModel(o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->step_profiles.size(), 3u);
  for (const Profile& p : r->step_profiles) {
    EXPECT_GT(p.MeasuredJ(), 0);
    ExpectConserved(p);
  }
}

TEST(RunModelTest, InvalidConfigIsAUsageError) {
  RunOptions o;
  o.config = TinyConfig(Architecture::kBert);
  o.config.heads = 3;
  auto r = RunModel(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUsage);
}

TEST(RunModelTest, AlbertToBertPresetMatchesEveryBertScope) {
  RunResult bert = RunTiny(TinyConfig(Architecture::kBert), Task::kPretrain, 2);
  RunResult albert = RunTiny(TinyConfig(Architecture::kAlbert), Task::kPretrain, 2);
  auto rules = PathRulePreset("albert-to-bert");
  ASSERT_TRUE(rules.ok());
  DiffOptions o;
  o.rules = *rules;
  ProfileDiff d = DiffProfiles(bert.profile, albert.profile, o);
  // Gradient accumulation is where the two really differ: ALBERT's layers
  // share their weights, so the gradients of every invocation add up and are
  // accumulated once, after the last layer backward reaches: layer_0.
  const std::string accumulate =
      "/autograd::engine::evaluate_function: torch::autograd::AccumulateGrad";
  std::vector<std::string> scopes_only_in_bert;
  for (const DiffRow& row : d.only_a)
    if (!row.leaf && !row.path.ends_with(accumulate)) scopes_only_in_bert.push_back(row.path);
  EXPECT_THAT(scopes_only_in_bert, ::testing::IsEmpty());
  for (const char* module : {"attention/self/query", "output/LayerNorm"}) {
    const std::string layer0 = std::string("encoder/layer_0/") + module + accumulate;
    const std::string layer1 = std::string("encoder/layer_1/") + module + accumulate;
    EXPECT_GE(bert.profile.Find("bert/" + layer0), 0) << module;
    EXPECT_GE(bert.profile.Find("bert/" + layer1), 0) << module;
    EXPECT_GE(albert.profile.Find("albert/" + layer0), 0) << module;
    EXPECT_LT(albert.profile.Find("albert/" + layer1), 0) << module;
  }
  bool projection = false;
  for (const DiffRow& row : d.only_b)
    projection |= row.path == "bert/embeddings/embedding_hidden_mapping_in";
  EXPECT_TRUE(projection);
}

// ---- the CLI ----

struct Cli {
  int status;
  std::string out;
};

Cli RunCli(const std::string& args) {
  std::string cmd = std::string(SMARAGDINE_BINARY) + " " + args + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  Cli r{-1, ""};
  if (f == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, f)) r.out.append(buf, n);
  int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* kTinyFlags = "--hidden 32 --heads 2 --seq 8 --batch 2 --vocab 200";

TEST(DemoCliTest, PrintsTheTreeTopListsPhasesAndWritesTheProfile) {
  std::string dir = ::testing::TempDir() + "/demo";
  Cli r = RunCli(fmt::format("demo --layers 2 {} --steps 2 --warmup 1 -o {}", kTinyFlags, dir));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("bert/encoder"));
  EXPECT_THAT(r.out, HasSubstr("layer_1"));
  EXPECT_THAT(r.out, HasSubstr("Most energy-hungry operations"));
  EXPECT_THAT(r.out, HasSubstr("backward"));
  EXPECT_THAT(r.out, HasSubstr("optimizer"));
  EXPECT_THAT(r.out, HasSubstr("Profile written to " + dir + "/profile.json"));
  auto p = ReadProfileJson(dir + "/profile.json");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_GE(p->Find("bert/encoder/layer_1/output/LayerNorm"), 0);
  // A power ranking only where power carries information (issue 16): a
  // modeled domain's power is CPU time × a constant.
  bool modeled = false;
  for (const ProfileDomain& d : p->domains) modeled |= d.modeled;
  if (modeled) {
    EXPECT_THAT(r.out, HasSubstr("No power ranking: modeled energy"));
    EXPECT_THAT(r.out, ::testing::Not(HasSubstr("Most power-hungry operations")));
  } else {
    EXPECT_THAT(r.out, HasSubstr("Most power-hungry operations"));
  }
}

TEST(DemoCliTest, BadSizesAreUsageErrors) {
  Cli r = RunCli(fmt::format("demo --hidden 30 --heads 4 -o {}/bad", ::testing::TempDir()));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("heads (4) must divide hidden (30)"));
  r = RunCli("demo --preset albert-base --model bert");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("contradicts"));
}

// DESIGN §8 spells the task as --mode train|infer; it is --task's shorthand.
TEST(DemoCliTest, ModeInferRunsPredictionAndExcludesTask) {
  std::string dir = ::testing::TempDir() + "/demo_infer";
  Cli r = RunCli(fmt::format("demo --mode infer --layers 1 {} --steps 1 --warmup 0 -o {}",
                             kTinyFlags, dir));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("task: prediction (forward only)"));
  auto p = ReadProfileJson(dir + "/profile.json");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_GE(p->Find("bert/encoder/layer_0/attention/self/query"), 0);
  for (const ProfileNode& n : p->nodes) {
    EXPECT_EQ(PhaseFigures::SumOf(n.phases[static_cast<int>(Phase::kBackward)].total_j), 0.0)
        << n.path;
    EXPECT_EQ(PhaseFigures::SumOf(n.phases[static_cast<int>(Phase::kOptimizer)].total_j), 0.0)
        << n.path;
  }
  r = RunCli("demo --mode train --task predict");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("excludes"));
}

TEST(SweepCliTest, TinyGridGivesTableCsvPairsAndStability) {
  std::string dir = ::testing::TempDir() + "/sweep";
  Cli r = RunCli(fmt::format(
      "sweep --task finetune {} --grid layers=1,2 --steps 2 --warmup 0 --repeat 2 -o {}",
      kTinyFlags, dir));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("layers=1"));
  EXPECT_THAT(r.out, HasSubstr("layers=2"));
  EXPECT_THAT(r.out, HasSubstr("Pairwise"));
  EXPECT_THAT(r.out, HasSubstr("Run-to-run stability"));
  std::string csv = Slurp(dir + "/sweep.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;  // header + 2 configs
  EXPECT_THAT(csv, HasSubstr("bert,finetune,1,32,2,"));
  EXPECT_THAT(csv, HasSubstr("bert,finetune,2,32,2,"));
  std::string stability = Slurp(dir + "/stability.csv");
  EXPECT_EQ(std::count(stability.begin(), stability.end(), '\n'), 5) << stability;
}

TEST(SweepCliTest, BadGridIsAUsageError) {
  Cli r = RunCli("sweep --grid depth=2,4");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("unknown size 'depth'"));
  r = RunCli("sweep --grid layers=2,x");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("'x' is not a positive integer"));
}

}  // namespace
}  // namespace smaragdine::models
