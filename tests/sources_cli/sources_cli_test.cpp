// `smaragdine sources` run as a user would: on a fake tree and on this machine.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

namespace smaragdine {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code;
  std::string out;
};

CliRun Shell(const std::string& env_and_args) {
  const std::string out_file =
      (fs::path(::testing::TempDir()) / ("smg_sources_" + std::to_string(getpid()) + ".txt")).string();
  const std::string cmd = env_and_args + " > " + out_file + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(out_file);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(out_file);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

std::string Binary() { return SMARAGDINE_BINARY; }

// A machine with RAPL through powercap (package and dram, readable), two GPUs
// behind the fake NVML (one with an energy counter stepping every 20 ms, one
// power-only) and a procfs with schedstat.
class FakeMachine {
 public:
  FakeMachine() : root_(fs::path(::testing::TempDir()) / ("smg_machine_" + std::to_string(getpid()))) {
    fs::remove_all(root_);
    Zone("intel-rapl:0", "package-0", 123456789);
    Zone("intel-rapl:0:0", "dram", 2345678);
    Write("proc/self/schedstat", "35475663 29247600 86\n");
    fs::create_directories(root_ / "dev");
  }
  ~FakeMachine() { fs::remove_all(root_); }
  std::string Args() const {
    return "--sysfs-root " + (root_ / "sys").string() + " --dev-root " + (root_ / "dev").string() +
           " --proc-root " + (root_ / "proc").string() + " --nvml-library " + SMARAGDINE_FAKE_NVML;
  }
  static std::string Env() { return "FAKE_NVML_GPUS=2 FAKE_NVML_POWER_ONLY=1 FAKE_NVML_STEP_MS=20 "; }

 private:
  void Zone(const std::string& entry, const std::string& name, uint64_t uj) {
    const std::string dir = "sys/class/powercap/" + entry + "/";
    Write(dir + "name", name + "\n");
    Write(dir + "energy_uj", std::to_string(uj) + "\n");
    Write(dir + "max_energy_range_uj", "262143328850\n");
  }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  fs::path root_;
};

struct Row {
  bool readable;
  bool modeled;
  std::string quantity, reason, fix;
  int64_t changes;
  double median_ms;  // NaN when null
  std::string meter_kind, meter_field;
  int64_t update_interval_ns = 0;  // 0 when null
};

// domain@source → row, plus what record would use, from --json output.
struct Report {
  std::map<std::string, Row> rows;
  std::map<std::string, std::string> chosen;  // domain → source
  bool modeled = false;
  std::string modeled_reason;
};

Report ParseReport(const std::string& json) {
  Report r;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  for (simdjson::dom::element d : doc["domains"].get_array()) {
    Row row;
    row.readable = bool(d["readable"]);
    row.modeled = bool(d["modeled"]);
    row.quantity = std::string(std::string_view(d["quantity"]));
    row.reason = std::string(std::string_view(d["reason"]));
    row.fix = std::string(std::string_view(d["fix"]));
    row.changes = int64_t(d["sampling"]["changes"]);
    double ms = std::nan("");
    if (d["sampling"]["median_update_interval_ms"].get(ms) != simdjson::SUCCESS) ms = std::nan("");
    row.median_ms = ms;
    row.meter_kind = std::string(std::string_view(d["meter"]["kind"]));
    row.meter_field = std::string(std::string_view(d["meter"]["field"]));
    int64_t update_ns = 0;
    if (d["update_interval_ns"].get(update_ns) == simdjson::SUCCESS) row.update_interval_ns = update_ns;
    r.rows[std::string(std::string_view(d["name"])) + "@" +
           std::string(std::string_view(d["source"]))] = row;
  }
  for (simdjson::dom::element c : doc["record_would_use"].get_array())
    r.chosen[std::string(std::string_view(c["domain"]))] = std::string(std::string_view(c["source"]));
  r.modeled = bool(doc["modeled"]);
  std::string_view reason;
  if (doc["modeled_reason"].get(reason) == simdjson::SUCCESS) r.modeled_reason = reason;
  return r;
}

TEST(SourcesCliTest, FakeMachineListsEachDomainWithMeasuredUpdateInterval) {
  FakeMachine m;
  CliRun run = Shell(FakeMachine::Env() + Binary() + " sources --json --sample-ms 300 " + m.Args());
  ASSERT_EQ(run.exit_code, 0) << run.out;
  Report r = ParseReport(run.out);
  ASSERT_TRUE(r.rows.count("cpu:0/package@rapl-powercap")) << run.out;
  EXPECT_TRUE(r.rows["cpu:0/package@rapl-powercap"].readable);
  EXPECT_TRUE(r.rows["cpu:0/dram@rapl-powercap"].readable);
  // The fake files never change: no update interval to report, and no made-up one.
  EXPECT_EQ(r.rows["cpu:0/package@rapl-powercap"].changes, 0);
  EXPECT_TRUE(std::isnan(r.rows["cpu:0/package@rapl-powercap"].median_ms));
  const Row& gpu0 = r.rows["gpu:0@nvml"];
  EXPECT_TRUE(gpu0.readable);
  EXPECT_EQ(gpu0.quantity, "energy");
  // The fake counter steps every 20 ms and is read every 10 ms.
  EXPECT_GE(gpu0.changes, 5);
  EXPECT_NEAR(gpu0.median_ms, 20.0, 8.0) << run.out;
  EXPECT_EQ(r.rows["gpu:1@nvml"].quantity, "power");
  // Each domain's meter, as record writes it to run.json.
  EXPECT_EQ(r.rows["cpu:0/package@rapl-powercap"].meter_kind, "counter");
  EXPECT_EQ(r.rows["cpu:0/package@rapl-powercap"].meter_field, "energy_uj");
  EXPECT_EQ(r.rows["cpu:0/package@rapl-powercap"].update_interval_ns, 1'000'000);
  EXPECT_EQ(gpu0.meter_kind, "counter");
  EXPECT_EQ(gpu0.meter_field, "nvmlDeviceGetTotalEnergyConsumption");
  EXPECT_EQ(gpu0.update_interval_ns, 0);
  // "Fake GPU 1" and no nvmlDeviceGetArchitecture: what its power reading averages is unknown.
  EXPECT_EQ(r.rows["gpu:1@nvml"].meter_kind, "unknown");
  EXPECT_EQ(r.rows["gpu:1@nvml"].meter_field, "nvmlDeviceGetPowerUsage");
  EXPECT_EQ(r.rows["cpu:0/package@model"].meter_kind, "unknown");
  EXPECT_TRUE(r.rows["cpu:0/package@model"].readable);
  EXPECT_TRUE(r.rows["cpu:0/package@model"].modeled);
  // record: RAPL for the CPU (no model), NVML for the GPUs.
  EXPECT_EQ(r.chosen["cpu:0/package"], "rapl-powercap");
  EXPECT_EQ(r.chosen["cpu:0/dram"], "rapl-powercap");
  EXPECT_EQ(r.chosen["gpu:0"], "nvml");
  EXPECT_EQ(r.chosen["gpu:1"], "nvml");
  EXPECT_EQ(r.chosen.size(), 4u);
  EXPECT_FALSE(r.modeled);
}

TEST(SourcesCliTest, FakeMachineTextTableAndForcedModel) {
  FakeMachine m;
  CliRun run = Shell(FakeMachine::Env() + Binary() + " sources --sample-ms 50 --source model " + m.Args());
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("DOMAIN"), std::string::npos) << run.out;
  // The meter column: RAPL's nominal period, the model's lack of a meter.
  EXPECT_NE(run.out.find(" METER "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(" counter, 1 ms "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(" modeled "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Fake GPU 0 (NVML total energy counter)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("NVML power readings"), std::string::npos) << run.out;
  // Forced, the model takes cpu:0/package and the output says it is modeled.
  EXPECT_NE(run.out.find("cpu:0/package    from model (energy, MODELED)"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("would MODEL cpu:0/package"), std::string::npos) << run.out;
}

TEST(SourcesCliTest, NvmlInitFailureShowsReasonAndFix) {
  FakeMachine m;
  CliRun run = Shell("FAKE_NVML_INIT_RC=18 " + Binary() + " sources --sample-ms 0 " + m.Args());
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("nvml: gpu:*"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("NVML_ERROR_LIB_RM_VERSION_MISMATCH"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("fix: reboot or reload the nvidia kernel module"), std::string::npos)
      << run.out;
}

TEST(SourcesCliTest, UsageErrorsExitOne) {
  CliRun bad_source = Shell(Binary() + " sources --source rapl --sample-ms 0");
  EXPECT_EQ(bad_source.exit_code, 1) << bad_source.out;
  EXPECT_NE(bad_source.out.find("unknown source"), std::string::npos) << bad_source.out;
  EXPECT_NE(bad_source.out.find("rapl-powercap"), std::string::npos) << bad_source.out;
  CliRun bad_ms = Shell(Binary() + " sources --sample-ms -5");
  EXPECT_EQ(bad_ms.exit_code, 1) << bad_ms.out;
  CliRun not_a_number = Shell(Binary() + " sources --sample-ms soon");
  EXPECT_EQ(not_a_number.exit_code, 1) << not_a_number.out;
}

// This machine, as it is. Where no hardware counter covers the CPU (this
// project's CI machines), the output must say why for each CPU source, give
// fixes, and show the model as what record would use.
TEST(SourcesCliTest, RealMachineExplainsEveryUnreadableDomainAndFallsBackToTheModel) {
  CliRun json = Shell(Binary() + " sources --json --sample-ms 100");
  ASSERT_EQ(json.exit_code, 0) << json.out;
  Report r = ParseReport(json.out);
  bool measured_cpu = false;
  for (const auto& [key, row] : r.rows) {
    if (!row.readable) EXPECT_FALSE(row.reason.empty()) << key << " is unreadable without a reason";
    if (row.readable && !row.modeled && key.rfind("cpu:", 0) == 0) measured_cpu = true;
  }
  // Every source shows up with at least one row except hwmon, which lists only what exists.
  for (const char* source : {"perf", "nvml", "rapl-powercap", "rapl-msr", "model"}) {
    bool seen = false;
    for (const auto& [key, row] : r.rows) seen |= key.find(std::string("@") + source) != std::string::npos;
    EXPECT_TRUE(seen) << source << " missing from\n" << json.out;
  }
  if (measured_cpu) GTEST_SKIP() << "this machine has a readable CPU counter";
  EXPECT_TRUE(r.rows["cpu:0/package@model"].readable);
  EXPECT_TRUE(r.modeled);
  EXPECT_EQ(r.chosen["cpu:0/package"], "model");
  EXPECT_NE(r.modeled_reason.find("a model, not a measurement"), std::string::npos);

  CliRun text = Shell(Binary() + " sources --sample-ms 50");
  ASSERT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("Cannot be read:"), std::string::npos) << text.out;
  for (const char* source : {"perf:", "rapl-powercap:", "rapl-msr:"})
    EXPECT_NE(text.out.find(std::string("  ") + source), std::string::npos) << source << "\n" << text.out;
  EXPECT_NE(text.out.find("why:"), std::string::npos);
  EXPECT_NE(text.out.find("fix:"), std::string::npos);
  EXPECT_NE(text.out.find("would MODEL cpu:0/package"), std::string::npos) << text.out;
  if (r.rows.count("gpu:*@nvml")) {
    // No NVML at all: the row says the library is missing and how to get it.
    EXPECT_NE(text.out.find("NVML_ERROR_LIBRARY_NOT_FOUND"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("install the NVIDIA driver"), std::string::npos) << text.out;
  }
}

}  // namespace
}  // namespace smaragdine
