// Plain CSV import (DESIGN §7.2): columns, time units, devices, and every kind
// of malformed input with the message the user sees.
#include "energy/energy_csv.h"

#include <zlib.h>

#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/energy_test_util.h"
#include "smaragdine/energy_log.h"

namespace smaragdine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_energy::DumpLog;
using testing_energy::ExpectGolden;
using testing_energy::ScratchDir;
using testing_energy::TestData;

Error ParseError(std::string_view text, const EnergyImportOptions& options = {}) {
  Result<EnergyLog> log = ParseEnergyCsv("f.csv", text, options);
  EXPECT_FALSE(log.ok()) << "expected an error for:\n" << text;
  return log.ok() ? Error{} : log.error();
}

TEST(EnergyCsvTest, ImportsAWallMeterLogWithColumnsInAnyOrder) {
  // power_w before t_s, an extra quoted column, CRLF line ends, no final newline.
  EnergyImportOptions options;
  options.device_of["wall"] = "CPU:0";
  options.clock = Clock::kRealtime;
  Result<EnergyLog> log = ReadEnergyCsv(TestData("energy/import_wall_meter.csv"), options);
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_EQ(log->domains.size(), 2u);
  EXPECT_EQ(log->clock, Clock::kRealtime);
  EXPECT_EQ(log->domains[0].name, "wall");
  EXPECT_EQ(log->domains[0].device, "CPU:0");
  EXPECT_EQ(log->domains[0].source, "csv");
  EXPECT_EQ(log->domains[0].quantity, Quantity::kPower);
  EXPECT_EQ(log->domains[1].device, "GPU:1");  // guessed from "gpu:1/board"
  // t_s 12.000000001 is kept to the nanosecond.
  EXPECT_THAT(log->series[0].t_ns, ElementsAre(12'000'000'001, 12'500'000'000, 13'000'000'000));
  // 100 W → 110 W over 0.499999999 s, then 110 W → 120 W over 0.5 s.
  EXPECT_NEAR(log->series[0].TotalJ(), 105 * 0.499999999 + 115 * 0.5, 1e-12);
  // The unterminated last row is complete, so it is kept.
  EXPECT_EQ(log->series[1].EndNs(), 13'250'000'000);
  EXPECT_EQ(log->diagnostics.Count("energy.truncated_last_line"), 0);
  ExpectGolden("energy/import_wall_meter.txt", DumpLog(*log));
}

TEST(EnergyCsvTest, DomainWithoutDeviceTellsUserToPassDevice) {
  Result<EnergyLog> log = ReadEnergyCsv(TestData("energy/import_wall_meter.csv"), {});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, ErrorCode::kBadInput);
  EXPECT_EQ(log.error().line, 2);
  EXPECT_EQ(log.error().ToString(),
            TestData("energy/import_wall_meter.csv") +
                ":2: cannot tell which device domain 'wall' belongs to; pass --device "
                "wall=CPU:0 (or GPU:N)");
}

TEST(EnergyCsvTest, DeviceMappingOverridesTheGuess) {
  EnergyImportOptions options;
  options.device_of["cpu:0/package"] = "CPU:1";
  options.device_of["cpu:9/none"] = "CPU:9";
  Result<EnergyLog> log = ParseEnergyCsv(
      "f.csv", "t_ns,domain,energy_j\n0,cpu:0/package,1\n10,cpu:0/package,2\n", options);
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->domains[0].device, "CPU:1");
  EXPECT_THAT(log->diagnostics.warnings(),
              ElementsAre("--device names domain 'cpu:9/none', which f.csv does not have"));
}

TEST(EnergyCsvTest, MixesEnergyAndPowerDomainsInOneFile) {
  Result<EnergyLog> log = ParseEnergyCsv("f.csv",
                                         "t_ns,domain,energy_j,power_w\n"
                                         "0,cpu:0/package,5,\n"
                                         "0,gpu:0,,100\n"
                                         "1000000000,cpu:0/package,8,\n"
                                         "1000000000,gpu:0,,100\n",
                                         {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->domains[0].quantity, Quantity::kEnergy);
  EXPECT_EQ(log->domains[1].quantity, Quantity::kPower);
  EXPECT_DOUBLE_EQ(log->series[0].TotalJ(), 3.0);
  EXPECT_DOUBLE_EQ(log->series[1].TotalJ(), 100.0);
}

TEST(EnergyCsvTest, QuotedDomainAndUtf8BomAreRead) {
  Result<EnergyLog> log = ParseEnergyCsv(
      "f.csv", "\xEF\xBB\xBFt_ns,domain,energy_j\n1,\"gpu:0,\"\"main\"\"\",1\n2, \"gpu:0,\"\"main\"\"\" ,3\n",
      {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(log->domains[0].name, "gpu:0,\"main\"");
  EXPECT_EQ(log->domains[0].device, "GPU:0");
  EXPECT_DOUBLE_EQ(log->series[0].TotalJ(), 2.0);
}

TEST(EnergyCsvTest, ReadsGzippedCsv) {
  ScratchDir dir;
  std::string path = dir.path() + "/log.csv.gz";
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  std::string text = "t_ns,domain,energy_j\n0,cpu:0/package,1\n5,cpu:0/package,4\n";
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  Result<EnergyLog> log = ReadEnergyCsv(path, {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_DOUBLE_EQ(log->series[0].TotalJ(), 3.0);
}

TEST(EnergyCsvTest, ExactDuplicateRowIsDroppedAndCounted) {
  Result<EnergyLog> log = ParseEnergyCsv(
      "f.csv", "t_ns,domain,energy_j\n0,cpu:0/package,1\n0,cpu:0/package,1\n7,cpu:0/package,2\n",
      {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_THAT(log->series[0].t_ns, ElementsAre(0, 7));
  EXPECT_EQ(log->diagnostics.Count("energy.duplicate_reading"), 1);
}

TEST(EnergyCsvTest, MalformedUnterminatedLastLineIsDroppedNotAnError) {
  Result<EnergyLog> log = ParseEnergyCsv(
      "f.csv", "t_ns,domain,energy_j,power_w\n0,cpu:0/package,1,\n7,cpu:0/package,2,\n9,cpu:0/pa",
      {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_THAT(log->series[0].t_ns, ElementsAre(0, 7));
  EXPECT_EQ(log->diagnostics.Count("energy.truncated_last_line"), 1);
  EXPECT_THAT(log->diagnostics.warnings(),
              ElementsAre("f.csv:4: the last line '9,cpu:0/pa' has no newline (a recording cut "
                          "short?); it was dropped"));
}

TEST(EnergyCsvTest, DomainWithOneReadingIsLeftOutWithADiagnostic) {
  Result<EnergyLog> log = ParseEnergyCsv(
      "f.csv", "t_ns,domain,energy_j\n0,cpu:0/package,1\n0,cpu:0/dram,1\n7,cpu:0/package,2\n", {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_FALSE(log->series[0].empty());
  EXPECT_TRUE(log->series[1].empty());
  EXPECT_EQ(log->diagnostics.Count("energy.single_reading_domain"), 1);
}

TEST(EnergyCsvTest, NoDomainWithTwoReadingsIsNothingMeasurable) {
  Error e = ParseError("t_ns,domain,energy_j\n0,cpu:0/package,1\n0,cpu:0/dram,1\n");
  EXPECT_EQ(e.code, ErrorCode::kNothingMeasurable);
  EXPECT_EQ(e.ExitCode(), 3);
  EXPECT_EQ(e.ToString(),
            "f.csv: nothing measurable: no domain has two readings, so no interval of energy can "
            "be measured");
}

TEST(EnergyCsvTest, EmptyFileIsBadInput) {
  for (std::string_view text : {"", "\n\n", "\xEF\xBB\xBF"}) {
    Error e = ParseError(text);
    EXPECT_EQ(e.code, ErrorCode::kBadInput);
    EXPECT_EQ(e.ExitCode(), 2);
    EXPECT_EQ(e.ToString(),
              "f.csv:1: empty file: expected a header such as t_ns,domain,energy_j,power_w");
  }
}

TEST(EnergyCsvTest, HeaderOnlyHasNoReadings) {
  Error e = ParseError("t_ns,domain,energy_j,power_w\n");
  EXPECT_EQ(e.code, ErrorCode::kBadInput);
  EXPECT_EQ(e.ToString(), "f.csv: no readings: the file has a header but no data rows");
}

TEST(EnergyCsvTest, MissingColumnsAreNamed) {
  Error e = ParseError("time,energy_j\n1,2\n");
  EXPECT_EQ(e.code, ErrorCode::kBadInput);
  EXPECT_EQ(e.ToString(),
            "f.csv:1: the header lacks the columns t_ns (or t_s), domain; it has: time,energy_j "
            "(expected a header such as t_ns,domain,energy_j,power_w)");
  EXPECT_THAT(ParseError("t_ns,domain\n1,cpu:0/package\n").message,
              HasSubstr("lacks the column energy_j or power_w"));
}

TEST(EnergyCsvTest, NonNumericValuesAreQuotedWithTheirLine) {
  EXPECT_EQ(ParseError("t_ns,domain,energy_j\n0,cpu:0/package,1\n5,cpu:0/package,abc\n").ToString(),
            "f.csv:3: energy_j 'abc' is not a number");
  // ("nan" and "inf" are numbers: readings dropped as implausible, see tests/hostile.)
  EXPECT_EQ(ParseError("t_ns,domain,power_w\n0,gpu:0,n/a\n").ToString(),
            "f.csv:2: power_w 'n/a' is not a number");
  EXPECT_EQ(ParseError("t_ns,domain,energy_j\n1.5,cpu:0/package,1\n").ToString(),
            "f.csv:2: t_ns '1.5' is not an integer number of nanoseconds");
  EXPECT_EQ(ParseError("t_s,domain,energy_j\n1.2.3,cpu:0/package,1\n").ToString(),
            "f.csv:2: t_s '1.2.3' is not a decimal number of seconds");
  EXPECT_EQ(ParseError("t_ns,domain,energy_j\n1,,1\n").ToString(), "f.csv:2: the domain is empty");
}

TEST(EnergyCsvTest, RowsWithAnotherFieldCountAreRejected) {
  Error e = ParseError("t_ns,domain,energy_j,power_w\n0,cpu:0/package,1,\n5,cpu:0/package,2\n");
  EXPECT_EQ(e.ToString(), "f.csv:3: 3 fields, but the header has 4");
  EXPECT_EQ(ParseError("t_ns,domain,energy_j\n0,\"cpu:0/package,1\n").ToString(),
            "f.csv:2: a quoted field has no closing quote");
}

TEST(EnergyCsvTest, RowWithNoValueIsRejected) {
  EXPECT_EQ(ParseError("t_ns,domain,energy_j,power_w\n0,cpu:0/package,,\n").ToString(),
            "f.csv:2: neither energy_j nor power_w has a value");
}

TEST(EnergyCsvTest, DomainSwitchingFromEnergyToPowerIsRejected) {
  Error e = ParseError(
      "t_ns,domain,energy_j,power_w\n0,gpu:0,5,\n1,gpu:0,6,\n2,gpu:0,,30\n");
  EXPECT_EQ(e.ToString(),
            "f.csv:4: domain 'gpu:0' is measured as energy (from its first row, line 2), but this "
            "row has no energy_j");
}

TEST(EnergyCsvTest, TimeGoingBackwardsNamesBothLines) {
  Error e = ParseError(
      "t_ns,domain,energy_j\n100,cpu:0/package,1\n0,cpu:0/dram,1\n50,cpu:0/package,2\n");
  EXPECT_EQ(e.ToString(),
            "f.csv:4: time goes backwards for domain 'cpu:0/package': t_ns 50 comes after t_ns "
            "100 (line 2)");
  Error same = ParseError("t_ns,domain,energy_j\n100,cpu:0/package,1\n100,cpu:0/package,2\n");
  EXPECT_EQ(same.ToString(),
            "f.csv:3: domain 'cpu:0/package' has two different readings at t_ns 100 (lines 2 "
            "and 3)");
}

TEST(EnergyCsvTest, BinaryGarbageIsBadInputNotACrash) {
  std::string garbage = "t_ns,domain,energy_j\n";
  for (int i = 0; i < 64; ++i) garbage.push_back(static_cast<char>(i * 37));
  garbage += "\n";
  Error e = ParseError(garbage);
  EXPECT_EQ(e.code, ErrorCode::kBadInput);
  EXPECT_EQ(e.line, 2);
}

TEST(EnergyCsvTest, AbsurdReadingsAreDroppedBeforeTheyCanOverflow) {
  // Before issue 17 these two readings overflowed the integration (a BadInput
  // error); now no domain can give 1e308 W, so they are dropped as implausible.
  Error e = ParseError("t_ns,domain,power_w\n0,gpu:0,1e308\n9000000000000000000,gpu:0,1e308\n");
  EXPECT_EQ(e.code, ErrorCode::kNothingMeasurable);
  Result<EnergyLog> log = ParseEnergyCsv(
      "f.csv", "t_ns,domain,power_w\n0,gpu:0,1e308\n1000000000,gpu:0,100\n2000000000,gpu:0,100\n",
      {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_DOUBLE_EQ(log->series[0].TotalJ(), 100.0);
  EXPECT_EQ(log->diagnostics.Count("energy.reading_implausible"), 1);
}

TEST(EnergyCsvTest, TimeSpanWiderThanInt64IsIntegratedCorrectly) {
  // Regression: t[i] - t[i-1] overflowed int64 in the integration (found in review).
  Result<EnergyLog> log = ParseEnergyCsv(
      "f.csv", "t_ns,domain,power_w\n-9000000000000000000,gpu:0,1\n9000000000000000000,gpu:0,1\n",
      {});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_DOUBLE_EQ(log->series[0].TotalJ(), 18e9);
  EXPECT_DOUBLE_EQ(log->series[0].EnergyAt(0), 9e9);
}

TEST(ParseSecondsToNsTest, ParsesDecimalTextExactly) {
  using energy::ParseSecondsToNs;
  EXPECT_EQ(ParseSecondsToNs("0"), 0);
  EXPECT_EQ(ParseSecondsToNs("1.5"), 1'500'000'000);
  EXPECT_EQ(ParseSecondsToNs("1700000000.123456789"), 1'700'000'000'123'456'789);
  EXPECT_EQ(ParseSecondsToNs("1700000000.1234567894"), 1'700'000'000'123'456'789);
  EXPECT_EQ(ParseSecondsToNs("1700000000.1234567895"), 1'700'000'000'123'456'790);
  EXPECT_EQ(ParseSecondsToNs("-0.5"), -500'000'000);
  EXPECT_EQ(ParseSecondsToNs("+2"), 2'000'000'000);
  EXPECT_EQ(ParseSecondsToNs(".25"), 250'000'000);
  EXPECT_EQ(ParseSecondsToNs("3."), 3'000'000'000);
  EXPECT_EQ(ParseSecondsToNs("1.7e9"), 1'700'000'000'000'000'000);
  EXPECT_EQ(ParseSecondsToNs("15e-10"), 2);
  EXPECT_EQ(ParseSecondsToNs("0.0000000004"), 0);
  EXPECT_EQ(ParseSecondsToNs("9223372036.854775807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ParseSecondsToNs("-9223372036.854775808"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ParseSecondsToNs("1e-400"), 0);
  for (std::string_view bad : {"", "-", ".", "1e", "1e+", "abc", "1.2.3", "1 ", "0x10", "inf",
                               "9223372036.854775808", "1e30", "1e99999999"}) {
    EXPECT_EQ(ParseSecondsToNs(bad), std::nullopt) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace smaragdine
