// Run directories (DESIGN §7.1): reading run.json + energy.csv, its errors, and
// the write → read round trip.
#include <zlib.h>

#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/energy_test_util.h"
#include "energy/normalize.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_energy::DumpLog;
using testing_energy::ExpectGolden;
using testing_energy::ReadText;
using testing_energy::ScratchDir;
using testing_energy::TestData;

constexpr std::string_view kGoodDomains =
    R"("domains": [{"name": "cpu:0/package", "device": "CPU:0", "quantity": "energy"},
                   {"name": "gpu:0", "quantity": "power"}])";
constexpr std::string_view kGoodCsv =
    "t_ns,domain,energy_j,power_w\n"
    "0,cpu:0/package,10,\n"
    "0,gpu:0,,40\n"
    "1000000000,cpu:0/package,12,\n"
    "1000000000,gpu:0,,60\n";

// A run directory from the two files' text.
std::string MakeRun(const ScratchDir& dir, std::string_view json, std::string_view csv) {
  dir.Write("run.json", std::string(json));
  dir.Write("energy.csv", std::string(csv));
  return dir.path();
}

std::string Json(std::string_view format_field, std::string_view rest = kGoodDomains) {
  bool comma = !format_field.empty() && !rest.empty();
  return fmt::format("{{{}{}{}}}", format_field, comma ? ", " : "", rest);
}

TEST(RunDirectoryTest, ReadsARecordedRun) {
  Result<EnergyLog> log = ReadEnergy(TestData("energy/run_basic"), {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_EQ(log->domains.size(), 3u);
  EXPECT_EQ(log->domains[1].device, "CPU:0");  // guessed: run.json gives none for cpu:0/dram
  EXPECT_EQ(log->domains[2].quantity, Quantity::kPower);
  // package: 100 → 101.5 (unchanged ×2) → 104.5 → 105 → 2 (counter went down) → 3 (unchanged ×2),
  // and the truncated last line (3.5) is dropped.
  EXPECT_THAT(log->series[0].t_ns,
              ElementsAre(5'000'000'000, 5'001'000'000, 5'004'000'000, 5'006'000'000,
                          5'007'000'000, 5'008'000'000));
  EXPECT_THAT(log->series[0].energy_j, ElementsAre(0.0, 1.5, 4.5, 5.0, 5.0, 6.0));
  EXPECT_DOUBLE_EQ(log->series[1].TotalJ(), 1.0);
  // gpu:0: 50 W, 70 W, then -5 W, which is dropped (before: counted as 0 W).
  EXPECT_NEAR(log->series[2].TotalJ(), 0.5 * (50 + 70) * 0.005, 1e-12);
  EXPECT_EQ(log->diagnostics.Count("energy.truncated_last_line"), 1);
  EXPECT_EQ(log->diagnostics.Count("energy.counter_decreased"), 1);
  EXPECT_EQ(log->diagnostics.Count("energy.duplicate_reading"), 1);
  EXPECT_EQ(log->diagnostics.Count("energy.negative_power_dropped"), 1);
  // clock_sync comes back sorted by monotonic time.
  ASSERT_EQ(log->clock_sync.size(), 2u);
  EXPECT_EQ(log->clock_sync[0].monotonic_ns, 5'000'000'000);
  EXPECT_EQ(log->baseline_w.at("gpu:0"), 55.0);
  EXPECT_FALSE(log->exit_code.has_value());  // written at start: still running
  ExpectGolden("energy/run_basic.txt", DumpLog(*log));
}

TEST(RunDirectoryTest, RunJsonPathReadsTheSameRun) {
  Result<EnergyLog> by_dir = ReadEnergy(TestData("energy/run_basic"), {});
  Result<EnergyLog> by_json = ReadEnergy(TestData("energy/run_basic/run.json"), {});
  ASSERT_TRUE(by_dir.ok());
  ASSERT_TRUE(by_json.ok()) << by_json.error().ToString();
  EXPECT_EQ(DumpLog(*by_dir), DumpLog(*by_json));
}

TEST(RunDirectoryTest, DeviceOptionOverridesTheRecordedDevice) {
  EnergyImportOptions options;
  options.device_of["gpu:0"] = "GPU:3";
  Result<EnergyLog> log = ReadEnergy(TestData("energy/run_basic"), options);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->domains[2].device, "GPU:3");
}

TEST(RunDirectoryTest, MeterModelIsReadAndWrittenBack) {
  ScratchDir dir;
  MakeRun(dir, Json(R"("format": "smaragdine-run/1")",
                    R"("domains": [{"name": "gpu:0", "quantity": "power", "update_interval_ns": 100000000,
                                    "meter": {"kind": "windowed-power", "window_ns": 25000000,
                                              "field": "nvmlDeviceGetPowerUsage", "note": "A100"}}])"),
          "t_ns,domain,energy_j,power_w\n0,gpu:0,,40\n1000000000,gpu:0,,60\n");
  Result<EnergyLog> log = ReadRunDirectory(dir.path());
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  const MeterModel& m = log->domains[0].meter;
  EXPECT_EQ(m.kind, MeterKind::kWindowedPower);
  EXPECT_EQ(m.window_ns, 25'000'000);
  EXPECT_EQ(m.field, "nvmlDeviceGetPowerUsage");
  EXPECT_EQ(m.note, "A100");
  // The raw readings stay beside the integrated series, for the regression.
  EXPECT_THAT(log->series[0].power_w, ElementsAre(40, 60));
  EXPECT_THAT(RunJsonText(*log), HasSubstr(R"("meter": {"kind": "windowed-power", "window_ns": 25000000)"));
}

TEST(RunDirectoryTest, BadMeterIsRejectedNamingTheDomain) {
  for (std::string_view meter : {R"("kind": "sundial")", R"("window_ns": -5)"}) {
    ScratchDir dir;
    MakeRun(dir,
            Json(R"("format": "smaragdine-run/1")",
                 fmt::format(R"("domains": [{{"name": "cpu:0/package", "meter": {{{}}}}}])", meter)),
            "t_ns,domain,energy_j,power_w\n0,cpu:0/package,1,\n");
    Result<EnergyLog> log = ReadRunDirectory(dir.path());
    ASSERT_FALSE(log.ok()) << meter;
    EXPECT_EQ(log.error().code, ErrorCode::kBadInput);
    EXPECT_THAT(log.error().ToString(), HasSubstr(dir.path() + "/run.json"));
    EXPECT_THAT(log.error().ToString(), HasSubstr("domains[0].meter: "));
  }
}

TEST(RunDirectoryTest, NewerMajorFormatIsRejectedWithAClearMessage) {
  ScratchDir dir;
  MakeRun(dir, Json(R"("format": "smaragdine-run/2")"), kGoodCsv);
  Result<EnergyLog> log = ReadRunDirectory(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(log.error().ToString(),
            dir.path() + "/run.json: unsupported run format 'smaragdine-run/2' (this smaragdine "
                         "reads smaragdine-run/1)");
}

TEST(RunDirectoryTest, MinorRevisionOfFormatOneIsAccepted) {
  ScratchDir dir;
  MakeRun(dir, Json(R"("format": "smaragdine-run/1.4")"), kGoodCsv);
  Result<EnergyLog> log = ReadRunDirectory(dir.path());
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_DOUBLE_EQ(log->series[0].TotalJ(), 2.0);
  EXPECT_DOUBLE_EQ(log->series[1].TotalJ(), 50.0);
}

TEST(RunDirectoryTest, MissingFormatIsRejected) {
  ScratchDir dir;
  MakeRun(dir, Json(""), kGoodCsv);
  Result<EnergyLog> log = ReadRunDirectory(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().ToString(),
            dir.path() + "/run.json: missing \"format\" (expected \"smaragdine-run/1\")");
}

TEST(RunDirectoryTest, MalformedRunJsonFieldsAreNamed) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::string f = R"("format": "smaragdine-run/1")";
  std::vector<Case> cases = {
      {"{", "invalid JSON"},
      {"[1]", "expected a JSON object at the top level"},
      {Json(f, ""), "missing \"domains\""},
      {Json(f, R"("domains": [{"name": "cpu:0/package", "quantity": "volts"}])"),
       "domains[0].quantity is \"volts\" (expected \"energy\" or \"power\")"},
      {Json(f, R"("domains": [{"name": "wall"}])"),
       "domains[0].device is missing and cannot be guessed from the name 'wall'"},
      {Json(f, R"("domains": [{"name": "gpu:0"}, {"name": "gpu:0"}])"),
       "domain 'gpu:0' is listed twice in domains"},
      {Json(f, R"("domains": [{"name": "gpu:0", "update_interval_ns": 1.5}])"),
       "domains[0].update_interval_ns must be an integer"},
      {Json(f, std::string(kGoodDomains) + R"(, "clock": "TAI")"),
       "clock \"TAI\" is not known"},
      {Json(f, std::string(kGoodDomains) + R"(, "clock_sync": [{"realtime_ns": 1}])"),
       "clock_sync[0] needs both realtime_ns and monotonic_ns"},
      {Json(f, std::string(kGoodDomains) + R"(, "baseline_w": {"gpu:0": "high"})"),
       "baseline_w.gpu:0 must be a number of watts"},
      {Json(f, std::string(kGoodDomains) + R"(, "pid": "x")"), "pid must be an integer"},
      {Json(f, std::string(kGoodDomains) + R"(, "command": [1])"),
       "command must be an array of strings"},
  };
  for (const Case& c : cases) {
    ScratchDir dir;
    MakeRun(dir, c.json, kGoodCsv);
    Result<EnergyLog> log = ReadRunDirectory(dir.path());
    ASSERT_FALSE(log.ok()) << c.json;
    EXPECT_EQ(log.error().code, ErrorCode::kBadInput) << c.json;
    EXPECT_EQ(log.error().file, dir.path() + "/run.json");
    EXPECT_THAT(log.error().message, HasSubstr(c.message)) << c.json;
  }
}

TEST(RunDirectoryTest, DomainMissingFromRunJsonIsAnErrorNamingTheLine) {
  ScratchDir dir;
  MakeRun(dir, Json(R"("format": "smaragdine-run/1")"),
          std::string(kGoodCsv) + "2000000000,gpu:1,,70\n");
  Result<EnergyLog> log = ReadRunDirectory(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().ToString(),
            dir.path() + "/energy.csv:6: domain 'gpu:1' is not declared in run.json");
}

TEST(RunDirectoryTest, RowWithTheWrongQuantityForItsDomainIsRejected) {
  ScratchDir dir;
  MakeRun(dir, Json(R"("format": "smaragdine-run/1")"),
          std::string(kGoodCsv) + "2000000000,gpu:0,7,\n");
  Result<EnergyLog> log = ReadRunDirectory(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().ToString(),
            dir.path() + "/energy.csv:6: domain 'gpu:0' is measured as power (in run.json), but "
                         "this row has no power_w");
}

TEST(RunDirectoryTest, UnterminatedLastLineOfARecordingIsAlwaysDropped) {
  // record ends every row with a newline: "…,12" may be a cut-off "…,12.75".
  ScratchDir dir;
  MakeRun(dir, Json(R"("format": "smaragdine-run/1")"),
          std::string(kGoodCsv) + "2000000000,cpu:0/package,12");
  Result<EnergyLog> log = ReadRunDirectory(dir.path());
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->series[0].EndNs(), 1'000'000'000);
  EXPECT_EQ(log->diagnostics.Count("energy.truncated_last_line"), 1);
}

TEST(RunDirectoryTest, DeclaredDomainWithoutReadingsIsCounted) {
  ScratchDir dir;
  MakeRun(dir,
          Json(R"("format": "smaragdine-run/1")",
               R"("domains": [{"name": "cpu:0/package"}, {"name": "cpu:0/dram"}])"),
          "t_ns,domain,energy_j,power_w\n0,cpu:0/package,1,\n5,cpu:0/package,2,\n");
  Result<EnergyLog> log = ReadRunDirectory(dir.path());
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_TRUE(log->series[1].empty());
  EXPECT_EQ(log->diagnostics.Count("energy.domain_without_readings"), 1);
}

TEST(RunDirectoryTest, MissingFilesAreBadInputNamingThem) {
  ScratchDir dir;
  Result<EnergyLog> no_json = ReadRunDirectory(dir.path());
  ASSERT_FALSE(no_json.ok());
  EXPECT_EQ(no_json.error().file, dir.path() + "/run.json");
  dir.Write("run.json", Json(R"("format": "smaragdine-run/1")"));
  Result<EnergyLog> no_csv = ReadRunDirectory(dir.path());
  ASSERT_FALSE(no_csv.ok());
  EXPECT_EQ(no_csv.error().file, dir.path() + "/energy.csv");
  Result<EnergyLog> nowhere = ReadEnergy(dir.path() + "/nope", {});
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(nowhere.error().ToString(),
            dir.path() + "/nope: cannot open: No such file or directory");
}

EnergyLog SampleMeta() {
  EnergyLog meta;
  meta.clock = Clock::kMonotonic;
  meta.domains = {
      {"cpu:0/package", "CPU:0", "rapl-powercap", Quantity::kEnergy, 6.103515625e-05, 1000000,
       false},
      {"gpu:0", "GPU:0", "nvml", Quantity::kPower, 0, 100000000, false},
      // A name that needs CSV quoting and JSON escaping must survive the round trip.
      {"cpu:1/odd, \"name\"", "CPU:1", "simulated", Quantity::kEnergy, 0.001, 0, true},
  };
  meta.clock_sync = {{1'700'000'000'000'000'000, 1'000'000'000},
                     {1'700'000'001'000'000'123, 2'000'000'000}};
  meta.baseline_w = {{"cpu:0/package", 11.25}, {"gpu:0", 61.0}};
  meta.command = {"python3", "train.py", "--name=\"a b\""};
  meta.pid = 31337;
  meta.exit_code = 0;
  meta.started_ns = 1'000'000'000;
  meta.ended_ns = 3'000'000'000;
  return meta;
}

std::vector<RawReading> RandomReadings(const EnergyLog& meta, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_real_distribution<double> joules(0, 0.37), watts(0, 400);
  std::vector<RawReading> readings;
  std::vector<double> counter(meta.domains.size(), 1234.5678);
  for (int64_t t = 1'000'000'000; t < 1'200'000'000; t += 1'000'000) {
    for (uint32_t d = 0; d < meta.domains.size(); ++d) {
      if (meta.domains[d].quantity == Quantity::kPower) {
        readings.push_back({t, d, watts(rng)});
      } else {
        if (kind(rng) > 3) counter[d] += joules(rng);  // else unchanged: exercises coalescing
        readings.push_back({t, d, counter[d]});
      }
    }
  }
  return readings;
}

TEST(RunDirectoryTest, WriteThenReadGivesTheSameLog) {
  ScratchDir scratch;
  std::string dir = scratch.path() + "/nested/run";  // created on demand
  EnergyLog meta = SampleMeta();
  std::mt19937_64 rng(42);
  std::vector<RawReading> readings = RandomReadings(meta, rng);
  ASSERT_TRUE(WriteRunDirectory(dir, meta, readings).ok());

  Result<EnergyLog> log = ReadRunDirectory(dir);
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->path, dir);
  EXPECT_EQ(log->clock, meta.clock);
  ASSERT_EQ(log->domains.size(), meta.domains.size());
  for (size_t d = 0; d < meta.domains.size(); ++d) {
    const DomainInfo& a = meta.domains[d];
    const DomainInfo& b = log->domains[d];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.device, b.device);
    EXPECT_EQ(a.source, b.source);
    EXPECT_EQ(a.quantity, b.quantity);
    EXPECT_EQ(a.resolution_j, b.resolution_j);
    EXPECT_EQ(a.update_interval_ns, b.update_interval_ns);
    EXPECT_EQ(a.modeled, b.modeled);
    // The series equals the normalisation of the very readings that were written:
    // shortest round-trip doubles lose nothing.
    energy::DomainReadings raw;
    for (const RawReading& r : readings) {
      if (r.domain != d) continue;
      raw.t_ns.push_back(r.t_ns);
      raw.value.push_back(r.value);
    }
    Diagnostics ignored;
    EnergySeries expected = energy::NormalizeReadings(a, raw, ignored);
    EXPECT_EQ(log->series[d].t_ns, expected.t_ns) << a.name;
    EXPECT_EQ(log->series[d].energy_j, expected.energy_j) << a.name;
    EXPECT_GT(expected.TotalJ(), 0.0);
  }
  ASSERT_EQ(log->clock_sync.size(), 2u);
  EXPECT_EQ(log->clock_sync[1].realtime_ns, meta.clock_sync[1].realtime_ns);
  EXPECT_EQ(log->baseline_w, meta.baseline_w);
  EXPECT_EQ(log->command, meta.command);
  EXPECT_EQ(log->pid, meta.pid);
  EXPECT_EQ(log->exit_code, meta.exit_code);
  EXPECT_EQ(log->started_ns, meta.started_ns);
  EXPECT_EQ(log->ended_ns, meta.ended_ns);
}

TEST(RunDirectoryTest, RunJsonWrittenAtStartHasNoExitCodeOrEnd) {
  ScratchDir scratch;
  EnergyLog meta = SampleMeta();
  meta.exit_code.reset();
  meta.ended_ns.reset();
  std::vector<RawReading> readings = {{1, 0, 5.0}, {2, 0, 6.0}};
  ASSERT_TRUE(WriteRunDirectory(scratch.path(), meta, readings).ok());
  std::string json = ReadText(scratch.path() + "/run.json");
  EXPECT_THAT(json, HasSubstr("\"format\": \"smaragdine-run/1\""));
  EXPECT_THAT(json, ::testing::Not(HasSubstr("exit_code")));
  EXPECT_THAT(json, ::testing::Not(HasSubstr("ended_ns")));
  EXPECT_EQ(ReadText(scratch.path() + "/energy.csv"),
            "t_ns,domain,energy_j,power_w\n1,cpu:0/package,5,\n2,cpu:0/package,6,\n");
  Result<EnergyLog> log = ReadRunDirectory(scratch.path());
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_FALSE(log->exit_code.has_value());
  EXPECT_FALSE(log->ended_ns.has_value());
  EXPECT_EQ(log->pid, 31337);
  EXPECT_TRUE(log->series[1].empty());  // gpu:0 got no readings
}

TEST(RunDirectoryTest, WritingAReadingOfAnUnknownDomainIsAnInternalError) {
  ScratchDir scratch;
  Status s = WriteRunDirectory(scratch.path(), SampleMeta(), {{1, 7, 5.0}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(std::filesystem::exists(scratch.path() + "/energy.csv"));
}

TEST(RunDirectoryTest, GzippedEnergyCsvIsFoundBesideRunJson) {
  ScratchDir scratch;
  EnergyLog meta = SampleMeta();
  std::vector<RawReading> readings = {{1, 0, 5.0}, {2, 0, 6.0}};
  ASSERT_TRUE(WriteRunDirectory(scratch.path(), meta, readings).ok());
  std::string csv = scratch.path() + "/energy.csv";
  std::string text = ReadText(csv);
  gzFile gz = gzopen((csv + ".gz").c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  std::filesystem::remove(csv);
  Result<EnergyLog> log = ReadRunDirectory(scratch.path());
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_DOUBLE_EQ(log->series[0].TotalJ(), 1.0);
}

}  // namespace
}  // namespace smaragdine
