// The `report` and `diff` commands, run as a user runs them: exit status and output;
// and the shell around them (demo and sweep handed to smaragdine-torch).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "report/cli_util.h"

namespace {

using smaragdine::testing::CliRun;
using smaragdine::testing::RunBinary;
using smaragdine::testing::RunSmaragdine;
using smaragdine::testing::Slurp;

const std::string kProfiles = std::string(SMARAGDINE_TEST_DATA) + "/profiles/";

TEST(ReportCliTest, PrintsTheTree) {
  CliRun r = RunSmaragdine("report " + kProfiles + "bert_small.json --depth 2");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Smaragdine energy profile: " + kProfiles + "bert_small.json"),
            std::string::npos);
  EXPECT_NE(r.out.find("encoder"), std::string::npos);
  EXPECT_EQ(r.out.find("attention"), std::string::npos) << "depth 2 stops above attention";
  EXPECT_NE(r.out.find("(idle) gpu:0"), std::string::npos);
  EXPECT_NE(r.out.find("diagnostics:"), std::string::npos);
}

TEST(ReportCliTest, FoldedCsvAndJsonFormats) {
  CliRun folded = RunSmaragdine("report " + kProfiles + "bert_small.json --format folded --fold 'layer_\\d+'");
  EXPECT_EQ(folded.status, 0) << folded.err;
  EXPECT_NE(folded.out.find("bert;encoder;layer_*;attention;self;query;MatMul "), std::string::npos);
  CliRun csv = RunSmaragdine("report " + kProfiles + "bert_small.json --format csv --domain gpu:0");
  EXPECT_EQ(csv.status, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("path,kind,depth,energy_j,", 0), 0u);
  EXPECT_NE(csv.out.find("energy_j[gpu:0]"), std::string::npos);
  EXPECT_EQ(csv.out.find("energy_j[cpu:0/package]"), std::string::npos);
  std::string out = ::testing::TempDir() + "/report_cli_subtree.json";
  CliRun json = RunSmaragdine("report " + kProfiles + "bert_small.json --format json --root bert/encoder -o " + out);
  EXPECT_EQ(json.status, 0) << json.err;
  EXPECT_TRUE(json.out.empty());
  // The written subtree is itself a readable profile.
  CliRun again = RunSmaragdine("report " + out + " --depth 1");
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("bert/encoder"), std::string::npos);
}

TEST(ReportCliTest, RepeatedFoldBeforeTheProfileDoesNotSwallowIt) {
  CliRun r = RunSmaragdine("report --fold 'layer_\\d+' --fold 'block_\\d+' " + kProfiles +
                        "bert_small.json --depth 3");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("layer_*"), std::string::npos);
}

TEST(ReportCliTest, FoldShowsPerSiblingStatsThatSurviveAWrittenProfile) {
  // bert_small's two layers total 20 J and 22.5 J: mean 21.25, sample std 1.768.
  const std::string fold = " --fold 'layer_\\d+'";
  CliRun table = RunSmaragdine("report " + kProfiles + "bert_small.json --depth 3" + fold);
  EXPECT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("per sibling J"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("2× 21.25 ± 1.768  layer_0 20.00  layer_1 22.50"), std::string::npos)
      << table.out;
  std::string out = ::testing::TempDir() + "/report_cli_folded.json";
  CliRun json =
      RunSmaragdine("report " + kProfiles + "bert_small.json --format json -o " + out + fold);
  EXPECT_EQ(json.status, 0) << json.err;
  EXPECT_NE(Slurp(out).find("\"siblings\":{\"n\":2,\"mean_j\":21.25,"), std::string::npos);
  CliRun again = RunSmaragdine("report " + out + " --depth 3");
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("2× 21.25 ± 1.768"), std::string::npos) << again.out;
  CliRun diff = RunSmaragdine("diff " + kProfiles + "bert_small.json " + kProfiles +
                           "albert_small.json --map 'albert=bert' --depth 3" + fold);
  EXPECT_EQ(diff.status, 0) << diff.err;
  EXPECT_NE(diff.out.find("A per sibling J"), std::string::npos) << diff.out;
}

TEST(ReportCliTest, BadProfileIsExit2WithMessage) {
  CliRun r = RunSmaragdine("report " + kProfiles + "truncated.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("smaragdine: error: " + kProfiles + "truncated.json: at byte"),
            std::string::npos)
      << r.err;
  CliRun v2 = RunSmaragdine("report " + kProfiles + "future_v2.json");
  EXPECT_EQ(v2.status, 2);
  EXPECT_NE(v2.err.find("smaragdine-profile/2"), std::string::npos) << v2.err;
  CliRun missing = RunSmaragdine("report " + kProfiles + "no_such_profile.json");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("no_such_profile.json"), std::string::npos);
}

TEST(ReportCliTest, UnknownRootIsExit2WithSuggestion) {
  CliRun r = RunSmaragdine("report " + kProfiles + "bert_small.json --root layer_0/attention");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no node 'layer_0/attention' in " + kProfiles +
                       "bert_small.json (did you mean 'bert/encoder/layer_0/attention'"),
            std::string::npos)
      << r.err;
}

TEST(ReportCliTest, BadOptionsAreExit1) {
  EXPECT_EQ(RunSmaragdine("report " + kProfiles + "bert_small.json --sort joules").status, 1);
  EXPECT_EQ(RunSmaragdine("report " + kProfiles + "bert_small.json --format xml").status, 1);
  EXPECT_EQ(RunSmaragdine("report " + kProfiles + "bert_small.json --depth -3").status, 1);
  CliRun regex = RunSmaragdine("report " + kProfiles + "bert_small.json --fold 'layer_('");
  EXPECT_EQ(regex.status, 1);
  EXPECT_NE(regex.err.find("not a valid regular expression"), std::string::npos) << regex.err;
  EXPECT_EQ(RunSmaragdine("report").status, 1);
}

TEST(ReportCliTest, HelpTeachesWithExamples) {
  CliRun r = RunSmaragdine("report --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--fold"), std::string::npos);
  EXPECT_NE(r.out.find("Example: --root bert/encoder"), std::string::npos);
}

// `smaragdine --help` lists every command on one line that fits an 80-column
// terminal; each command's own --help gives the longer text, examples and what
// its exit statuses mean.
TEST(CliShellTest, TopLevelHelpListsEachCommandOnOneShortLine) {
  CliRun r = RunSmaragdine("--help");
  EXPECT_EQ(r.status, 0) << r.err;
  const size_t list = r.out.find("Subcommands:\n");
  ASSERT_NE(list, std::string::npos) << r.out;
  std::vector<std::string> names;
  std::istringstream lines(r.out.substr(list + 13));
  for (std::string line; std::getline(lines, line) && !line.empty();) {
    EXPECT_LE(line.size(), 80u) << line;
    ASSERT_EQ(line.rfind("  ", 0), 0u) << line;
    names.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  EXPECT_THAT(names, ::testing::ElementsAre("demo", "sweep", "sources", "record", "account",
                                            "report", "merge", "diff", "simulate"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("  diff      Compare two profiles node by node\n"));
}

TEST(CliShellTest, EachCommandsHelpHasItsDetailsExamplesAndExitStatuses) {
  for (const char* command : {"account", "record", "report", "merge", "diff", "simulate",
                              "sources"}) {
    CliRun r = RunSmaragdine(std::string(command) + " --help");
    EXPECT_EQ(r.status, 0) << command << r.err;
    EXPECT_THAT(r.out, ::testing::HasSubstr("Examples:\n  ")) << command;
    EXPECT_THAT(r.out, ::testing::HasSubstr("Exit status: ")) << command;
    // The summary, a blank line, then the details the top-level list leaves out.
    const size_t usage = r.out.find("Usage:");
    ASSERT_NE(usage, std::string::npos) << command;
    EXPECT_NE(r.out.substr(0, usage).find("\n\n"), std::string::npos) << command << r.out;
  }
  EXPECT_THAT(RunSmaragdine("record --help").out,
              ::testing::HasSubstr("128+N when CMD died of signal N"));
  EXPECT_THAT(RunSmaragdine("account --help").out,
              ::testing::HasSubstr("4 a broken invariant such as conservation"));
}

TEST(DiffCliTest, ComparesTwoProfiles) {
  CliRun r = RunSmaragdine("diff " + kProfiles + "bert_small.json " + kProfiles +
                     "albert_small.json --map 'albert=bert' --depth 2");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Pearson r of matched leaf energies = 1.0000 over 13 leaves"),
            std::string::npos)
      << r.out;
  CliRun csv = RunSmaragdine("diff " + kProfiles + "bert_small.json " + kProfiles +
                       "albert_small.json --format csv");
  EXPECT_EQ(csv.status, 0);
  EXPECT_NE(csv.out.find("only_a,bert,"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find("only_b,albert,"), std::string::npos);
}

TEST(DiffCliTest, BadInputAndOptions) {
  EXPECT_EQ(RunSmaragdine("diff " + kProfiles + "bert_small.json " + kProfiles + "truncated.json")
                .status,
            2);
  EXPECT_EQ(RunSmaragdine("diff " + kProfiles + "bert_small.json").status, 1);
  EXPECT_EQ(RunSmaragdine("diff " + kProfiles + "bert_small.json " + kProfiles +
                       "albert_small.json --map noequals")
                .status,
            1);
}

// demo and sweep run in smaragdine-torch, next to smaragdine. A smaragdine
// without it (a build without LibTorch, or a copy of the binary alone) says
// what is missing and how to get it, instead of an unknown-command error.
TEST(CliShellTest, TorchCommandsWithoutTheirHelperSayHowToGetIt) {
  const std::string dir = ::testing::TempDir() + "/lonely_binary";
  std::filesystem::create_directories(dir);
  const std::string copy = dir + "/smaragdine";
  std::filesystem::copy_file(SMARAGDINE_BINARY, copy,
                             std::filesystem::copy_options::overwrite_existing);
  for (const char* command : {"demo --steps 1", "sweep --grid layers=1,2", "demo --help"}) {
    const CliRun r = RunBinary(copy, command);
    EXPECT_EQ(r.status, 1) << command << "\n" << r.err;
    EXPECT_THAT(r.err, ::testing::HasSubstr("needs smaragdine's LibTorch integration")) << command;
    EXPECT_THAT(r.err, ::testing::HasSubstr("/lonely_binary/smaragdine-torch is missing")) << command;
    EXPECT_THAT(r.err, ::testing::HasSubstr("libtorch-dev")) << command;
    EXPECT_EQ(r.out, "") << command;
  }
  // The commands that need no LibTorch run from the copy as they are.
  const CliRun ok = RunBinary(copy, "--version");
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_THAT(ok.out, ::testing::HasSubstr("smaragdine"));
}

}  // namespace
