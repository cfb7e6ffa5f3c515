// ChooseDomains with fake sources, and MakeSources' order.
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "smaragdine/sources.h"

namespace smaragdine {
namespace {

class FakeSource : public EnergySource {
 public:
  FakeSource(std::string name, int preference, std::vector<DomainProbe> probes)
      : name_(std::move(name)), preference_(preference), probes_(std::move(probes)) {}
  std::string Name() const override { return name_; }
  RateClass Rate() const override { return RateClass::kFast; }
  int Preference() const override { return preference_; }
  std::vector<DomainProbe> Probe() override { return probes_; }
  Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>&) override {
    return Nothing("fake");
  }

 private:
  std::string name_;
  int preference_;
  std::vector<DomainProbe> probes_;
};

DomainProbe P(const std::string& name, bool readable, Quantity q = Quantity::kEnergy,
              bool modeled = false) {
  DomainProbe p;
  p.info.name = name;
  p.info.device = GuessDevice(name);
  p.info.quantity = q;
  p.info.modeled = modeled;
  p.readable = readable;
  if (!readable) p.reason = "not here";
  return p;
}

using Sources = std::vector<std::unique_ptr<EnergySource>>;

std::map<std::string, std::string> Chosen(const Sources& sources,
                                          const std::vector<std::string>& forced = {}) {
  std::map<std::string, std::string> out;
  for (const DomainChoice& c : ChooseDomains(sources, forced)) {
    EXPECT_TRUE(c.probe.readable) << c.probe.info.name;
    EXPECT_FALSE(out.count(c.probe.info.name)) << "chosen twice: " << c.probe.info.name;
    out[c.probe.info.name] = c.source->Name();
  }
  return out;
}

Sources Machine() {
  Sources s;
  s.push_back(std::make_unique<FakeSource>(
      "perf", 10, std::vector{P("cpu:0/package", true), P("cpu:0/dram", false)}));
  s.push_back(std::make_unique<FakeSource>("nvml", 15, std::vector{P("gpu:0", true, Quantity::kPower)}));
  s.push_back(std::make_unique<FakeSource>(
      "rapl-powercap", 20, std::vector{P("cpu:0/package", true), P("cpu:0/dram", true)}));
  s.push_back(std::make_unique<FakeSource>("rapl-msr", 30, std::vector{P("cpu:0/package", true)}));
  s.push_back(std::make_unique<FakeSource>("hwmon", 40, std::vector{P("gpu:0", true)}));
  s.push_back(std::make_unique<FakeSource>(
      "model", 100, std::vector{P("cpu:0/package", true, Quantity::kEnergy, true)}));
  return s;
}

TEST(ChooseDomainsTest, LowerPreferenceWinsAndUnreadableProbesAreSkipped) {
  auto chosen = Chosen(Machine());
  EXPECT_EQ(chosen["cpu:0/package"], "perf");
  EXPECT_EQ(chosen["cpu:0/dram"], "rapl-powercap") << "perf cannot read dram here";
  EXPECT_EQ(chosen.size(), 3u);
}

TEST(ChooseDomainsTest, EnergyCounterBeatsPowerReadings) {
  // NVML (15) offers only power for gpu:0; hwmon (40) has an energy counter.
  EXPECT_EQ(Chosen(Machine())["gpu:0"], "hwmon");
}

TEST(ChooseDomainsTest, ForcedSourceWinsWhereItCoversTheDomainOnly) {
  auto chosen = Chosen(Machine(), {"rapl-msr"});
  EXPECT_EQ(chosen["cpu:0/package"], "rapl-msr");
  EXPECT_EQ(chosen["cpu:0/dram"], "rapl-powercap");
  EXPECT_EQ(chosen["gpu:0"], "hwmon");
  chosen = Chosen(Machine(), {"nvml"});
  EXPECT_EQ(chosen["gpu:0"], "nvml") << "forced power readings over a counter";
  chosen = Chosen(Machine(), {"rapl-msr", "perf"});
  EXPECT_EQ(chosen["cpu:0/package"], "rapl-msr") << "the first forced source wins";
}

TEST(ChooseDomainsTest, ModelOnlyWhenNoCounterCoversAnyCpuDomain) {
  Sources s;
  s.push_back(std::make_unique<FakeSource>("perf", 10, std::vector{P("cpu:0/package", false)}));
  s.push_back(std::make_unique<FakeSource>("nvml", 15, std::vector{P("gpu:0", true)}));
  s.push_back(std::make_unique<FakeSource>(
      "model", 100, std::vector{P("cpu:0/package", true, Quantity::kEnergy, true)}));
  auto chosen = Chosen(s);
  EXPECT_EQ(chosen["cpu:0/package"], "model");
  EXPECT_EQ(chosen["gpu:0"], "nvml");

  // A counter for dram only still covers the CPU: a modeled package would double count.
  s.push_back(std::make_unique<FakeSource>("rapl-powercap", 20, std::vector{P("cpu:0/dram", true)}));
  chosen = Chosen(s);
  EXPECT_FALSE(chosen.count("cpu:0/package"));
  EXPECT_EQ(chosen["cpu:0/dram"], "rapl-powercap");
  // Unless the user asks for the model: then the measured dram beside it is left out
  // (the model stands for the whole CPU; both would count memory twice), the GPU stays.
  chosen = Chosen(s, {"model"});
  EXPECT_EQ(chosen["cpu:0/package"], "model");
  EXPECT_FALSE(chosen.count("cpu:0/dram"));
  EXPECT_EQ(chosen["gpu:0"], "nvml");
  std::vector<DomainChoice> left_out;
  ChooseDomains(s, {"model"}, &left_out);
  ASSERT_EQ(left_out.size(), 1u);
  EXPECT_EQ(left_out[0].probe.info.name, "cpu:0/dram");
  EXPECT_EQ(left_out[0].source->Name(), "rapl-powercap");
}

TEST(ChooseDomainsTest, NothingReadableChoosesNothing) {
  Sources s;
  s.push_back(std::make_unique<FakeSource>("perf", 10, std::vector{P("cpu:0/package", false)}));
  s.push_back(std::make_unique<FakeSource>("model", 100,
                                           std::vector{P("cpu:0/package", false, Quantity::kEnergy, true)}));
  EXPECT_TRUE(ChooseDomains(s).empty());
}

TEST(ChooseDomainsTest, EveryReadableDomainChosenOnceByItsBestSourceOnRandomMachines) {
  std::mt19937 rng(7);
  const std::vector<std::string> domains = {"cpu:0/package", "cpu:0/dram", "cpu:1/package", "gpu:0",
                                            "gpu:1"};
  for (int round = 0; round < 200; ++round) {
    Sources s;
    std::map<std::string, std::pair<std::tuple<int, int>, std::string>> expected;
    for (int k = 0; k < 5; ++k) {
      const std::string name = "src" + std::to_string(k);
      const int pref = static_cast<int>(rng() % 50);
      std::vector<DomainProbe> probes;
      for (const auto& d : domains) {
        if (rng() % 2) continue;
        const bool readable = rng() % 3 != 0;
        const Quantity q = rng() % 3 == 0 ? Quantity::kPower : Quantity::kEnergy;
        probes.push_back(P(d, readable, q));
        if (!readable) continue;
        std::tuple<int, int> key{q == Quantity::kPower, pref};
        auto it = expected.find(d);
        if (it == expected.end() || key < it->second.first) expected[d] = {key, name};
      }
      s.push_back(std::make_unique<FakeSource>(name, pref, probes));
    }
    auto chosen = Chosen(s);
    ASSERT_EQ(chosen.size(), expected.size()) << "round " << round;
    for (const auto& [d, e] : expected) {
      // Ties in (quantity, preference) go to the earlier source, which `expected` kept.
      EXPECT_EQ(chosen[d], e.second) << "round " << round << " " << d;
    }
  }
}

TEST(MakeSourcesTest, AllSourcesInPreferenceOrder) {
  auto sources = MakeSources(SourceOptions{});
  std::vector<std::string> names;
  for (const auto& s : sources) names.push_back(s->Name());
  EXPECT_EQ(names, (std::vector<std::string>{"perf", "nvml", "rapl-powercap", "rapl-msr", "hwmon",
                                             "model"}));
  for (size_t i = 1; i < sources.size(); ++i)
    EXPECT_LT(sources[i - 1]->Preference(), sources[i]->Preference()) << names[i];
}

}  // namespace
}  // namespace smaragdine
