// The sampler against fake sessions: rate, energy.csv that ReadEnergy accepts, clock_sync.
#include "energy/sampler.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/account.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/trace.h"

namespace smaragdine {
namespace {

// A counter that grows at a fixed power from Open (joules since Open, like a real session),
// or a power meter that reads a fixed wattage.
class FakeSession : public SamplingSession {
 public:
  FakeSession(std::string name, Quantity q, double power_w, int* reads)
      : power_w_(power_w), reads_(reads), t0_ns_(MonotonicNowNs()) {
    DomainInfo d;
    d.name = std::move(name);
    d.device = GuessDevice(d.name);
    d.source = "fake";
    d.quantity = q;
    domains_.push_back(d);
  }
  const std::vector<DomainInfo>& domains() const override { return domains_; }
  void Read(std::vector<double>& values, Diagnostics& diag) override {
    ++*reads_;
    values.resize(1);
    if (domains_[0].quantity == Quantity::kPower)
      values[0] = power_w_;
    else
      values[0] = power_w_ * (MonotonicNowNs() - t0_ns_) * 1e-9;
  }

 private:
  std::vector<DomainInfo> domains_;
  double power_w_;
  int* reads_;
  int64_t t0_ns_;
};

TEST(SamplerTest, SamplesEachRateClassAtAboutItsPeriodAndWritesAReadableLog) {
  testing::TempDir dir;
  int fast_reads = 0, slow_reads = 0;
  std::vector<SamplerSession> sessions;
  sessions.push_back(
      {RateClass::kFast,
       std::make_unique<FakeSession>("cpu:0/package", Quantity::kEnergy, 20.0, &fast_reads)});
  sessions.push_back(
      {RateClass::kSlow, std::make_unique<FakeSession>("gpu:0", Quantity::kPower, 50.0, &slow_reads)});

  // run.json first (WriteRunDirectory with no readings), then the sampler streams energy.csv.
  EnergyLog meta;
  meta.domains = {sessions[0].session->domains()[0], sessions[1].session->domains()[0]};
  ASSERT_TRUE(WriteRunDirectory(dir.path(), meta, {}).ok());

  SamplerOptions options;  // 1 ms fast, 20 ms slow
  auto sampler = Sampler::Start(std::move(sessions), dir.path() + "/energy.csv", options);
  ASSERT_TRUE(sampler.ok()) << sampler.error().ToString();
  ASSERT_EQ((*sampler)->domains().size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  SamplerResult r = (*sampler)->Stop();

  // ~300 fast and ~15 slow passes; generous bounds, a loaded machine stretches periods.
  EXPECT_GE(r.fast_samples, 60);
  EXPECT_LE(r.fast_samples, 420);
  EXPECT_GE(r.slow_samples, 4);
  EXPECT_LE(r.slow_samples, 22);
  EXPECT_EQ(r.fast_samples, fast_reads);
  EXPECT_EQ(r.slow_samples, slow_reads);
  EXPECT_EQ(r.rows_written, r.fast_samples + r.slow_samples);

  auto log = ReadEnergy(dir.path(), EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  ASSERT_EQ(log->domains.size(), 2u);
  const EnergySeries& cpu = log->series[0];
  const EnergySeries& gpu = log->series[1];
  ASSERT_FALSE(cpu.empty());
  ASSERT_FALSE(gpu.empty());
  const double cpu_s = (cpu.EndNs() - cpu.StartNs()) * 1e-9;
  const double gpu_s = (gpu.EndNs() - gpu.StartNs()) * 1e-9;
  EXPECT_GT(cpu_s, 0.25);
  EXPECT_NEAR(cpu.TotalJ(), 20.0 * cpu_s, 0.02 * 20.0 * cpu_s);
  EXPECT_NEAR(gpu.TotalJ(), 50.0 * gpu_s, 0.02 * 50.0 * gpu_s);
  // The sampler's own tallies agree with what the reader makes of the file.
  EXPECT_NEAR(r.tallies[0].energy_j, cpu.TotalJ(), 1e-6 * cpu.TotalJ() + 1e-9);
  EXPECT_NEAR(r.tallies[1].energy_j, gpu.TotalJ(), 1e-3 * gpu.TotalJ());
}

// A run stopped at once (a command that exits immediately) still has two
// readings per domain, the least that measures an interval: Stop() may come
// before the sampling threads first run.
TEST(SamplerTest, StopRightAfterStartStillGivesTwoReadingsPerDomain) {
  for (int run = 0; run < 50; ++run) {
    testing::TempDir dir;
    int fast_reads = 0, slow_reads = 0;
    std::vector<SamplerSession> sessions;
    sessions.push_back(
        {RateClass::kFast,
         std::make_unique<FakeSession>("cpu:0/package", Quantity::kEnergy, 20.0, &fast_reads)});
    sessions.push_back({RateClass::kSlow, std::make_unique<FakeSession>("gpu:0", Quantity::kPower,
                                                                        50.0, &slow_reads)});
    auto sampler = Sampler::Start(std::move(sessions), dir.path() + "/energy.csv", SamplerOptions{});
    ASSERT_TRUE(sampler.ok()) << sampler.error().ToString();
    SamplerResult r = (*sampler)->Stop();
    ASSERT_GE(r.fast_samples, 2) << "run " << run;
    ASSERT_GE(r.slow_samples, 2) << "run " << run;
    ASSERT_EQ(r.tallies[0].readings, r.fast_samples) << "run " << run;
  }
}

TEST(SamplerTest, ClockSyncPairsAreSortedAndTight) {
  testing::TempDir dir;
  int reads = 0;
  std::vector<SamplerSession> sessions;
  sessions.push_back(
      {RateClass::kSlow, std::make_unique<FakeSession>("cpu:0/package", Quantity::kEnergy, 1.0,
                                                       &reads)});
  SamplerOptions options;
  options.clock_sync_period_ns = 50'000'000;  // every 50 ms, so 300 ms gives several
  auto sampler = Sampler::Start(std::move(sessions), dir.path() + "/energy.csv", options);
  ASSERT_TRUE(sampler.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  SamplerResult r = (*sampler)->Stop();
  ASSERT_GE(r.clock_sync.size(), 4u);  // start, a few periodic ones, end
  for (size_t i = 1; i < r.clock_sync.size(); ++i) {
    const int64_t dm = r.clock_sync[i].monotonic_ns - r.clock_sync[i - 1].monotonic_ns;
    const int64_t dr = r.clock_sync[i].realtime_ns - r.clock_sync[i - 1].realtime_ns;
    EXPECT_GT(dm, 0);
    // Both clocks advance together (no NTP step expected in 300 ms): within 5 ms.
    EXPECT_LT(std::llabs(dr - dm), 5'000'000) << "pair " << i;
  }
  EXPECT_EQ(r.clock_sync.front().monotonic_ns, (*sampler)->start_clock_sync().front().monotonic_ns);
  const ClockSyncPair p = ReadClockSyncPair();
  EXPECT_LT(std::llabs(p.monotonic_ns - MonotonicNowNs()), 10'000'000);
}

TEST(SamplerTest, NanReadingsAreSkippedAndCounted) {
  class Flaky : public SamplingSession {
   public:
    Flaky() {
      DomainInfo d;
      d.name = "cpu:0/package";
      d.device = "CPU:0";
      domains_.push_back(d);
    }
    const std::vector<DomainInfo>& domains() const override { return domains_; }
    void Read(std::vector<double>& v, Diagnostics&) override {
      v.assign(1, (n_++ % 2) ? std::nan("") : double(n_));
    }
    std::vector<DomainInfo> domains_;
    int n_ = 0;
  };
  testing::TempDir dir;
  std::vector<SamplerSession> sessions;
  sessions.push_back({RateClass::kFast, std::make_unique<Flaky>()});
  auto sampler = Sampler::Start(std::move(sessions), dir.path() + "/energy.csv", {});
  ASSERT_TRUE(sampler.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  SamplerResult r = (*sampler)->Stop();
  EXPECT_GT(r.diagnostics.Count("sampler.unreadable_reading"), 0);
  EXPECT_EQ(r.rows_written + r.diagnostics.Count("sampler.unreadable_reading"), r.fast_samples);
}

// A wall-clock step mid-run (issue 3, item 6): the trace is stamped on the wall clock,
// the energy on CLOCK_MONOTONIC. The machine's clock is not for a test to set, and
// libfaketime cannot step CLOCK_REALTIME alone (with FAKETIME_DONT_FAKE_MONOTONIC its
// clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) fails with EINVAL, which breaks every
// sampling thread), so the sampler's wall-clock reads go through its seam: the real
// CLOCK_REALTIME plus a step the test makes one hour mid-run. Everything after that is
// record's path: clock_sync pairs, run.json, ReadEnergy, a Kineto trace with epoch µs,
// AlignTrace and Attribute.
TEST(SamplerTest, WallClockStepMidRunIsAlignedThroughThePairInForce) {
  testing::TempDir dir;
  std::atomic<int64_t> step_ns{0};
  auto wall_ns = [&step_ns] {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec + step_ns.load();
  };
  int reads = 0;
  std::vector<SamplerSession> sessions;
  sessions.push_back(
      {RateClass::kFast,
       std::make_unique<FakeSession>("cpu:0/package", Quantity::kEnergy, 20.0, &reads)});
  SamplerOptions options;
  options.realtime_ns = wall_ns;
  options.clock_sync_period_ns = 100'000'000;  // pairs every ~0.1 s instead of 1 s: a short test
  auto sampler = Sampler::Start(std::move(sessions), dir.path() + "/energy.csv", options);
  ASSERT_TRUE(sampler.ok()) << sampler.error().ToString();
  auto sleep_ms = [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  struct Op {
    const char* name;
    int64_t start_wall_ns, end_wall_ns, start_mono_ns, end_mono_ns;
  };
  auto op = [&](const char* name) {
    Op o{name, wall_ns(), 0, MonotonicNowNs(), 0};
    sleep_ms(150);
    o.end_wall_ns = wall_ns();
    o.end_mono_ns = MonotonicNowNs();
    return o;
  };
  sleep_ms(50);
  const Op before = op("before_step");
  step_ns = 3600'000'000'000;  // the wall clock jumps an hour forward
  sleep_ms(400);               // at least one pair after the step, however busy the machine
  const Op after = op("after_step");
  sleep_ms(50);
  SamplerResult result = (*sampler)->Stop();

  EnergyLog meta;
  meta.domains = result.domains;
  meta.clock_sync = result.clock_sync;
  std::ofstream(dir.path() + "/run.json") << RunJsonText(meta);
  auto log = ReadEnergy(dir.path(), EnergyImportOptions{});
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  const auto offset_s = [](const ClockSyncPair& p) {
    return (p.realtime_ns - p.monotonic_ns) * 1e-9;
  };
  ASSERT_GE(log->clock_sync.size(), 3u);
  EXPECT_NEAR(offset_s(log->clock_sync.back()) - offset_s(log->clock_sync.front()), 3600, 0.01);

  const std::string trace_path = dir.path() + "/trace.json";
  {
    const int pid = static_cast<int>(getpid());
    std::ofstream t(trace_path);
    t << "{\"schemaVersion\": 1, \"traceEvents\": [";
    bool first = true;
    for (const Op& o : {before, after}) {
      t << (first ? "" : ",") << "\n{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"" << o.name
        << "\", \"pid\": " << pid << ", \"tid\": " << pid << ", \"ts\": " << o.start_wall_ns / 1000
        << ", \"dur\": " << (o.end_wall_ns - o.start_wall_ns) / 1000 << ", \"args\": {}}";
      first = false;
    }
    t << "\n]}\n";
  }
  auto account = [&](const EnergyLog& energy) -> Result<Profile> {
    SMG_ASSIGN_OR_RETURN(Trace trace, ReadTraces({trace_path}, TraceReadOptions{}));
    SMG_ASSIGN_OR_RETURN(AlignResult aligned, AlignTrace(trace, energy, AlignOptions{}));
    (void)aligned;
    return Attribute(trace, energy, AttributeOptions{});
  };
  auto profile = account(*log);
  ASSERT_TRUE(profile.ok()) << profile.error().ToString();
  EXPECT_EQ(profile->diagnostics.Count("account.events_outside_window"), 0);
  for (const Op& o : {before, after}) {
    SCOPED_TRACE(o.name);
    int64_t node = -1;
    for (size_t i = 0; i < profile->nodes.size(); ++i)
      if (profile->nodes[i].name == o.name) node = static_cast<int64_t>(i);
    ASSERT_GE(node, 0);
    // The fake counter is exactly 20 W on the monotonic clock, so an op placed where it
    // ran gets 20 W × its duration (less the µs truncation of the trace).
    const double expected_j = 20.0 * (o.end_mono_ns - o.start_mono_ns) * 1e-9;
    EXPECT_NEAR(profile->nodes[node].TotalJ(), expected_j, 0.02 * expected_j);
  }

  // With only the first pair (a single offset), the op after the step would land an hour
  // after the run: it gets nothing, which is what the pairs prevent.
  EnergyLog single = *log;
  single.clock_sync.resize(1);
  auto wrong = account(single);
  if (wrong.ok()) {
    const int64_t node = wrong->Find("after_step");
    EXPECT_TRUE(node < 0 || wrong->nodes[node].TotalJ() == 0);
  }
}

// energy.csv rows are exactly "{t_ns},{domain},{energy_j},\n" for counters and
// "{t_ns},{domain},,{power_w}\n" for power meters as fmt formats them ({} of a
// double: the shortest text that reads back as the same double), the domain as a
// CSV field: the writer builds rows without a format string, and must not change them.
TEST(SamplerTest, RowsAreTheFormattedTextOfEachReading) {
  class Awkward : public SamplingSession {
   public:
    Awkward() {
      const char* names[] = {"cpu:0/package", "cpu:0/dram", "gpu:0", "meter \"a,b\""};
      for (int i = 0; i < 4; ++i) {
        DomainInfo d;
        d.name = names[i];
        d.device = i == 2 ? "GPU:0" : "CPU:0";
        d.quantity = i >= 2 ? Quantity::kPower : Quantity::kEnergy;
        domains_.push_back(d);
      }
    }
    const std::vector<DomainInfo>& domains() const override { return domains_; }
    void Read(std::vector<double>& v, Diagnostics&) override {
      static const double kValues[] = {1e-7, 0.1 + 0.2, 75515553295453.89, 123456789.125,
                                       1e22, 5e-324, 2.5, 1.0 / 3.0, 1e16, 0.0};
      v.resize(4);
      for (size_t i = 0; i < 4; ++i) v[i] = kValues[(n_ + i) % 10] * static_cast<double>(n_ + 1);
      ++n_;
    }
    std::vector<DomainInfo> domains_;
    int64_t n_ = 0;
  };
  testing::TempDir dir;
  std::vector<SamplerSession> sessions;
  sessions.push_back({RateClass::kFast, std::make_unique<Awkward>()});
  auto sampler = Sampler::Start(std::move(sessions), dir.path() + "/energy.csv", {});
  ASSERT_TRUE(sampler.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  SamplerResult r = (*sampler)->Stop();
  ASSERT_GE(r.fast_samples, 2);

  // Replay the session's values against the stamps in the file.
  Awkward replay;
  std::ifstream in(dir.path() + "/energy.csv");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "t_ns,domain,energy_j,power_w");
  std::vector<double> values;
  Diagnostics diag;
  int64_t rows = 0;
  const char* fields[] = {"cpu:0/package", "cpu:0/dram", "gpu:0", "\"meter \"\"a,b\"\"\""};
  while (true) {
    replay.Read(values, diag);
    for (size_t i = 0; i < 4; ++i) {
      if (!std::getline(in, line)) {
        EXPECT_EQ(i, 0u);
        EXPECT_EQ(rows, r.rows_written);
        return;
      }
      ++rows;
      const int64_t t_ns = std::stoll(line);
      const std::string want = i < 2 ? fmt::format("{},{},{},", t_ns, fields[i], values[i])
                                     : fmt::format("{},{},,{}", t_ns, fields[i], values[i]);
      ASSERT_EQ(line, want) << "row " << rows;
    }
  }
}

TEST(SamplerTest, UncreatableLogIsBadInputNamingTheFile) {
  std::vector<SamplerSession> sessions;
  auto sampler = Sampler::Start(std::move(sessions), "/nonexistent-dir/x/energy.csv", {});
  ASSERT_FALSE(sampler.ok());
  EXPECT_NE(sampler.error().ToString().find("/nonexistent-dir/x/energy.csv"), std::string::npos);
}

}  // namespace
}  // namespace smaragdine
