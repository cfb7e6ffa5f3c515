// `smaragdine simulate` from the command line, then `account` on what it wrote.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "sim/sim_util.h"

namespace smaragdine {
namespace {

struct CliRun {
  int exit_code;
  std::string out;
};

CliRun Shell(const std::string& args, const std::string& dir) {
  std::string out_file = dir + "/cli_output.txt";
  std::string cmd = std::string(SMARAGDINE_BINARY) + " " + args + " > " + out_file + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(out_file);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

TEST(SimulateCliTest, WritesTraceRunAndTruthAndTheAccountCommandWorks) {
  std::string dir = simtest::TempDir("cli");
  CliRun sim = Shell("simulate --scenario nested --seed 7 -o " + dir + "/sim", dir);
  ASSERT_EQ(sim.exit_code, 0) << sim.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/sim/trace.pt.trace.json"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/sim/run/run.json"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/sim/run/energy.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/sim/truth.json"));
  // Run the command it suggests, as a user would.
  size_t next = sim.out.find("next: smaragdine ");
  ASSERT_NE(next, std::string::npos) << sim.out;
  std::string args = sim.out.substr(next + 17);
  args = args.substr(0, args.find('\n'));
  CliRun account = Shell(args, dir);
  ASSERT_EQ(account.exit_code, 0) << account.out;
  auto profile = ReadProfileJson(dir + "/sim/profile.json");
  ASSERT_TRUE(profile.ok()) << profile.error().ToString();
  // The same scenario in memory is the same program: same truth.
  SimScenario sc = *ScenarioPreset("nested");
  sc.seed = 7;
  SimResult expected = Simulate(sc);
  int64_t model = profile->Find("model");
  ASSERT_GE(model, 0);
  EXPECT_NEAR(profile->nodes[model].total_j[0], expected.truth.TotalJ("model", 0),
              expected.truth.TotalToleranceJ("model", 0) + 1e-9 * expected.truth.measured_j[0]);
}

TEST(SimulateCliTest, KnobsOverrideThePreset) {
  std::string dir = simtest::TempDir("cli_knobs");
  CliRun sim = Shell("simulate --scenario sequential --dialect tf1 --threads 3 --steps 1 --ops 2 "
                  "--counter-unit-j 0.001 -o " + dir + "/sim",
                  dir);
  ASSERT_EQ(sim.exit_code, 0) << sim.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/sim/trace.json"));
  EXPECT_NE(sim.out.find("tf1 dialect"), std::string::npos) << sim.out;
}

TEST(SimulateCliTest, UnknownScenarioIsUsageErrorNamingPresets) {
  std::string dir = simtest::TempDir("cli_bad");
  CliRun r = Shell("simulate --scenario bogus -o " + dir + "/x", dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("unknown scenario 'bogus'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("concurrent"), std::string::npos) << r.out;
}

TEST(SimulateCliTest, ForTraceOnMissingFileIsBadInputNamingIt) {
  std::string dir = simtest::TempDir("cli_missing");
  CliRun r = Shell("simulate --for-trace " + dir + "/nope.json -o " + dir + "/x", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("nope.json"), std::string::npos) << r.out;
}

TEST(SimulateCliTest, ForTraceOnASimulatedTraceGivesARunAccountAccepts) {
  std::string dir = simtest::TempDir("cli_for_trace");
  CliRun sim = Shell("simulate --scenario concurrent -o " + dir + "/sim", dir);
  ASSERT_EQ(sim.exit_code, 0) << sim.out;
  CliRun ft = Shell("simulate --for-trace " + dir + "/sim/trace.pt.trace.json -o " + dir + "/ft", dir);
  ASSERT_EQ(ft.exit_code, 0) << ft.out;
  size_t next = ft.out.find("next: smaragdine ");
  ASSERT_NE(next, std::string::npos) << ft.out;
  std::string args = ft.out.substr(next + 17);
  CliRun account = Shell(args.substr(0, args.find('\n')), dir);
  EXPECT_EQ(account.exit_code, 0) << account.out;
}

}  // namespace
}  // namespace smaragdine
