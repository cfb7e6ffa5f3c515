// The sampler against fake sessions: rate, energy.csv that ReadEnergy accepts, clock_sync.
#include "energy/sampler.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"

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

TEST(SamplerTest, UncreatableLogIsBadInputNamingTheFile) {
  std::vector<SamplerSession> sessions;
  auto sampler = Sampler::Start(std::move(sessions), "/nonexistent-dir/x/energy.csv", {});
  ASSERT_FALSE(sampler.ok());
  EXPECT_NE(sampler.error().ToString().find("/nonexistent-dir/x/energy.csv"), std::string::npos);
}

}  // namespace
}  // namespace smaragdine
