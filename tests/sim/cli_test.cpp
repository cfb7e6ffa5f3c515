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


std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SimulateCliTest, BertWithACounterOnAGivenPhaseWritesItsMeterModel) {
  std::string dir = simtest::TempDir("cli_bert");
  CliRun sim = Shell("simulate --scenario bert-rapl --steps 2 --phase-ns 123456 --scope-spread 0.3 "
                     "--call-noise 0.1 -o " + dir + "/sim",
                     dir);
  ASSERT_EQ(sim.exit_code, 0) << sim.out;
  EXPECT_NE(sim.out.find("meter: simulated: cumulative energy, updates every 1 ms"),
            std::string::npos)
      << sim.out;
  std::string run = ReadFile(dir + "/sim/run/run.json");
  EXPECT_NE(run.find("\"meter\": {\"kind\": \"counter\""), std::string::npos) << run;
  EXPECT_NE(run.find("phase 123456 ns after the log start"), std::string::npos) << run;
  EXPECT_NE(ReadFile(dir + "/sim/truth.json").find("\"backward\": {\"calls\""), std::string::npos);
  // The same scenario in memory gives the same program.
  SimScenario sc = *ScenarioPreset("bert-rapl");
  sc.steps = 2;
  sc.update_phase_ns = 123456;
  sc.scope_spread = 0.3;
  sc.call_noise = 0.1;
  EXPECT_EQ(ReadFile(dir + "/sim/trace.pt.trace.json"), Simulate(sc).trace_text);
}

TEST(SimulateCliTest, WindowedPowerMeterWritesPowerReadings) {
  std::string dir = simtest::TempDir("cli_windowed");
  CliRun sim = Shell("simulate --program bert --layers 1 --steps 5 --meter windowed-power "
                     "--update-period-ns 10000000 --window-ns 2500000 --power-unit-w 0.001 "
                     "--phase-ns random -o " + dir + "/sim",
                     dir);
  ASSERT_EQ(sim.exit_code, 0) << sim.out;
  std::string run = ReadFile(dir + "/sim/run/run.json");
  EXPECT_NE(run.find("\"quantity\": \"power\""), std::string::npos) << run;
  EXPECT_NE(run.find("\"kind\": \"windowed-power\", \"window_ns\": 2500000"), std::string::npos)
      << run;
  std::string csv = ReadFile(dir + "/sim/run/energy.csv");
  EXPECT_NE(csv.find(",cpu:0/package,,"), std::string::npos) << csv.substr(0, 200);
}

TEST(SimulateCliTest, MeterFlagsAreUsageErrorsWhereTheyDoNotApply) {
  std::string dir = simtest::TempDir("cli_meter_usage");
  CliRun bad_phase = Shell("simulate --phase-ns soon -o " + dir + "/x", dir);
  EXPECT_EQ(bad_phase.exit_code, 1) << bad_phase.out;
  CliRun for_trace = Shell("simulate --for-trace " + dir + "/t.json --meter counter -o " + dir + "/x", dir);
  EXPECT_EQ(for_trace.exit_code, 1) << for_trace.out;
  EXPECT_NE(for_trace.out.find("--meter"), std::string::npos) << for_trace.out;
  CliRun unit = Shell("simulate --scenario bert-nvml --counter-unit-j 1e-3 -o " + dir + "/x", dir);
  EXPECT_EQ(unit.exit_code, 1) << unit.out;
  EXPECT_NE(unit.out.find("--power-unit-w"), std::string::npos) << unit.out;
}

TEST(SimulateCliTest, HelpListsEveryPreset) {
  std::string dir = simtest::TempDir("cli_help");
  CliRun help = Shell("simulate --help", dir);
  EXPECT_EQ(help.exit_code, 0);
  for (const std::string& name : ScenarioPresetNames())
    EXPECT_NE(help.out.find("  " + name + " "), std::string::npos) << name;
}

}  // namespace
}  // namespace smaragdine
