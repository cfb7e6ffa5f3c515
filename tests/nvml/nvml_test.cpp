// The NVML source through a table of fakes and through a fake libnvidia-ml.so.1.
#include "energy/sources/nvml.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace smaragdine {
namespace {

// A fake NVML behind plain functions: the state a test sets up.
struct FakeState {
  int init_rc = kNvmlSuccess;
  unsigned int count = 1;
  int energy_rc = kNvmlSuccess;  // returned by the energy query of every GPU
  int power_rc = kNvmlSuccess;
  unsigned long long energy_mj = 1'000'000;
  unsigned int power_mw = 200'000;
  const char* name = "Tesla V100";
  unsigned int arch = kNvmlArchUnknown;  // kNvmlArchUnknown: nvmlDeviceGetArchitecture fails
  int inits = 0;
  int shutdowns = 0;
};
FakeState g;
int g_devices[4] = {0, 1, 2, 3};  // what the handles point at

NvmlApi FakeApi() {
  NvmlApi api;
  api.init = [] {
    if (g.init_rc == kNvmlSuccess) ++g.inits;
    return g.init_rc;
  };
  api.shutdown = [] {
    ++g.shutdowns;
    return int{kNvmlSuccess};
  };
  api.device_get_count = [](unsigned int* n) {
    *n = g.count;
    return int{kNvmlSuccess};
  };
  api.device_get_handle_by_index = [](unsigned int i, NvmlDevice* d) {
    if (i >= g.count) return int{kNvmlInvalidArgument};
    *d = reinterpret_cast<NvmlDevice>(&g_devices[i]);
    return int{kNvmlSuccess};
  };
  api.device_get_name = [](NvmlDevice, char* name, unsigned int len) {
    std::snprintf(name, len, "%s", g.name);
    return int{kNvmlSuccess};
  };
  api.device_get_architecture = [](NvmlDevice, unsigned int* arch) {
    if (g.arch == kNvmlArchUnknown) return int{kNvmlNotSupported};
    *arch = g.arch;
    return int{kNvmlSuccess};
  };
  api.device_get_total_energy_consumption = [](NvmlDevice, unsigned long long* mj) {
    if (g.energy_rc != kNvmlSuccess) return g.energy_rc;
    *mj = g.energy_mj;
    return int{kNvmlSuccess};
  };
  api.device_get_power_usage = [](NvmlDevice, unsigned int* mw) {
    if (g.power_rc != kNvmlSuccess) return g.power_rc;
    *mw = g.power_mw;
    return int{kNvmlSuccess};
  };
  return api;
}

class NvmlTableTest : public ::testing::Test {
 protected:
  void SetUp() override { g = FakeState{}; }
};

TEST_F(NvmlTableTest, GpuWithEnergyCounterIsReadAsJoulesSinceOpen) {
  g.count = 2;
  auto source = MakeNvmlSource(FakeApi());
  EXPECT_EQ(source->Name(), "nvml");
  EXPECT_EQ(source->Rate(), RateClass::kSlow);
  EXPECT_EQ(source->Preference(), 15);
  auto probes = source->Probe();
  ASSERT_EQ(probes.size(), 2u);
  EXPECT_EQ(probes[1].info.name, "gpu:1");
  EXPECT_EQ(probes[1].info.device, "GPU:1");
  EXPECT_EQ(probes[1].info.source, "nvml");
  EXPECT_TRUE(probes[1].readable) << probes[1].reason;
  EXPECT_EQ(probes[1].info.quantity, Quantity::kEnergy);
  EXPECT_DOUBLE_EQ(probes[1].info.resolution_j, 0.001);
  EXPECT_NE(probes[1].location.find("Tesla V100"), std::string::npos);
  EXPECT_NE(probes[1].location.find("energy counter"), std::string::npos);
  EXPECT_EQ(g.inits, g.shutdowns) << "Probe leaves NVML as it found it";

  auto session = source->Open({"gpu:1"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  ASSERT_EQ((*session)->domains().size(), 1u);
  EXPECT_EQ((*session)->domains()[0].name, "gpu:1");
  Diagnostics diag;
  std::vector<double> v;
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v.at(0), 0.0);
  g.energy_mj += 2500;  // the counter advances 2.5 J
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v.at(0), 2.5);
  g.energy_mj += 17;
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v.at(0), 2.517);
  EXPECT_TRUE(diag.empty());
  session = Error{};  // closes the session
  EXPECT_EQ(g.inits, g.shutdowns);
}

TEST_F(NvmlTableTest, GpuWithoutEnergyCounterFallsBackToPowerAndSaysSo) {
  g.energy_rc = kNvmlNotSupported;
  g.power_mw = 87'250;
  auto source = MakeNvmlSource(FakeApi());
  auto probes = source->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_TRUE(probes[0].readable) << probes[0].reason;
  EXPECT_EQ(probes[0].info.quantity, Quantity::kPower);
  EXPECT_NE(probes[0].location.find("power readings"), std::string::npos) << probes[0].location;
  EXPECT_NE(probes[0].location.find("NOT_SUPPORTED"), std::string::npos) << probes[0].location;
  auto session = source->Open({"gpu:0"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  EXPECT_EQ((*session)->domains()[0].quantity, Quantity::kPower);
  Diagnostics diag;
  std::vector<double> v;
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v.at(0), 87.25);
}

TEST_F(NvmlTableTest, EnergyCounterMeterIsACounterWhosePeriodIsLeftToAccount) {
  auto source = MakeNvmlSource(FakeApi());
  auto session = source->Open({"gpu:0"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  const DomainInfo& d = (*session)->domains()[0];
  EXPECT_EQ(d.meter.kind, MeterKind::kCounter);
  EXPECT_EQ(d.meter.field, "nvmlDeviceGetTotalEnergyConsumption");
  EXPECT_EQ(d.update_interval_ns, 0) << "not documented: unknown, not guessed";
  EXPECT_NE(d.meter.note.find("20-100 ms"), std::string::npos) << d.meter.note;
}

// Power readings: what nvmlDeviceGetPowerUsage averages depends on the GPU.
DomainInfo PowerMeterOf(const char* name, unsigned int arch) {
  g.energy_rc = kNvmlNotSupported;
  g.name = name;
  g.arch = arch;
  auto probes = MakeNvmlSource(FakeApi())->Probe();
  EXPECT_EQ(probes.size(), 1u);
  EXPECT_TRUE(probes.at(0).readable);
  EXPECT_EQ(probes.at(0).info.meter.field, "nvmlDeviceGetPowerUsage");
  return probes.at(0).info;
}

TEST_F(NvmlTableTest, PowerMeterFollowsTheGpusDocumentedOrMeasuredWindow) {
  // A100: 25 ms of every 100 ms (Yang, Adámek, Armour, SC'24).
  DomainInfo a100 = PowerMeterOf("NVIDIA A100-SXM4-40GB", kNvmlArchAmpere);
  EXPECT_EQ(a100.meter.kind, MeterKind::kWindowedPower);
  EXPECT_EQ(a100.meter.window_ns, 25'000'000);
  EXPECT_EQ(a100.update_interval_ns, 100'000'000);
  EXPECT_NE(a100.meter.note.find("SC'24"), std::string::npos);
  // Hopper by name, even where the architecture query is missing: NVML's 1 s average.
  DomainInfo h100 = PowerMeterOf("NVIDIA H100 80GB HBM3", kNvmlArchUnknown);
  EXPECT_EQ(h100.meter.kind, MeterKind::kWindowedPower);
  EXPECT_EQ(h100.meter.window_ns, 1'000'000'000);
  EXPECT_EQ(h100.update_interval_ns, 0);
  // Ampere other than GA100 by architecture; "A1000" is not an A100.
  DomainInfo a1000 = PowerMeterOf("NVIDIA RTX A1000 Laptop GPU", kNvmlArchAmpere);
  EXPECT_EQ(a1000.meter.kind, MeterKind::kWindowedPower);
  EXPECT_EQ(a1000.meter.window_ns, 1'000'000'000);
  // Before Ampere: instantaneous, as NVML documents.
  DomainInfo p100 = PowerMeterOf("Tesla P100-PCIE-16GB", kNvmlArchPascal);
  EXPECT_EQ(p100.meter.kind, MeterKind::kInstantPower);
  EXPECT_EQ(p100.meter.window_ns, 0);
  // Nothing known: kind unknown, and the note says why.
  DomainInfo unknown = PowerMeterOf("Fake GPU", kNvmlArchUnknown);
  EXPECT_EQ(unknown.meter.kind, MeterKind::kUnknown);
  EXPECT_NE(unknown.meter.note.find("not identified"), std::string::npos);
}

TEST_F(NvmlTableTest, NeitherEnergyNorPowerMakesTheGpuUnreadableWithReason) {
  g.energy_rc = kNvmlNoPermission;
  g.power_rc = kNvmlNoPermission;
  auto probes = MakeNvmlSource(FakeApi())->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_NE(probes[0].reason.find("not allowed"), std::string::npos) << probes[0].reason;
  EXPECT_NE(probes[0].fix.find("/dev/nvidia"), std::string::npos) << probes[0].fix;
  EXPECT_FALSE(MakeNvmlSource(FakeApi())->Open({"gpu:0"}).ok());
}

TEST_F(NvmlTableTest, InitFailureGivesReasonAndFixPerCode) {
  struct Case {
    int code;
    const char* reason_part;
    const char* fix_part;  // "" where nothing can be done
  };
  const Case cases[] = {
      {kNvmlUninitialized, "not initialized", "modprobe nvidia"},
      {kNvmlNotSupported, "does not support", ""},
      {kNvmlNoPermission, "not allowed", "/dev/nvidia"},
      {kNvmlDriverNotLoaded, "kernel driver is not loaded", "modprobe nvidia"},
      {kNvmlLibraryNotFound, "could not be found", "install the NVIDIA driver"},
      {kNvmlFunctionNotFound, "does not implement", "update the NVIDIA driver"},
      {kNvmlGpuIsLost, "fallen off the bus", "reset"},
      {kNvmlLibRmVersionMismatch, "different versions", "reboot or reload the nvidia kernel module"},
      {kNvmlInsufficientPower, "power cables", "attach"},
      {kNvmlNotFound, "did not find", "nvidia-smi -L"},
      {kNvmlTimeout, "timed out", "retry"},
      {kNvmlOperatingSystem, "cgroup", "cgroup"},
      {kNvmlResetRequired, "reset", "reset"},
      {kNvmlCorruptedInforom, "infoROM", "infoROM"},
      {kNvmlIrqIssue, "interrupt", "dmesg"},
      {kNvmlInsufficientResources, "resources", "free"},
      {kNvmlMemory, "memory", "free"},
      {kNvmlUnknown, "internal NVIDIA driver error", "dmesg"},
      {12345, "does not know", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.code);
    g = FakeState{};
    g.init_rc = c.code;
    auto probes = MakeNvmlSource(FakeApi())->Probe();
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_EQ(probes[0].info.name, "gpu:*");
    EXPECT_FALSE(probes[0].readable);
    EXPECT_NE(probes[0].reason.find("nvmlInit_v2 failed"), std::string::npos) << probes[0].reason;
    EXPECT_NE(probes[0].reason.find(c.reason_part), std::string::npos) << probes[0].reason;
    if (*c.fix_part == '\0') {
      EXPECT_EQ(probes[0].fix, "");
    } else {
      EXPECT_NE(probes[0].fix.find(c.fix_part), std::string::npos) << probes[0].fix;
    }
    auto open = MakeNvmlSource(FakeApi())->Open({"gpu:0"});
    ASSERT_FALSE(open.ok());
    EXPECT_EQ(open.error().code, ErrorCode::kNothingMeasurable);
    EXPECT_NE(open.error().message.find(c.reason_part), std::string::npos);
  }
}

TEST_F(NvmlTableTest, EveryKnownCodeHasItsOwnReason) {
  std::vector<std::string> seen;
  for (int code : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                   23, 24, 25, 26, 27, 28, 29, 999}) {
    std::string reason = NvmlErrorReason(code);
    EXPECT_EQ(reason.find("does not know"), std::string::npos) << code;
    EXPECT_NE(reason.find("NVML_ERROR_"), std::string::npos) << code << ": " << reason;
    for (const auto& s : seen) EXPECT_NE(s, reason);
    seen.push_back(reason);
  }
}

TEST_F(NvmlTableTest, NoGpuIsAnUnreadableRowNotAnEmptyList) {
  g.count = 0;
  auto probes = MakeNvmlSource(FakeApi())->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_NE(probes[0].reason.find("sees no NVIDIA GPU"), std::string::npos);
}

TEST_F(NvmlTableTest, LostGpuStaysNanAndIsCounted) {
  g.count = 2;
  auto session = MakeNvmlSource(FakeApi())->Open({"gpu:0", "gpu:1"});
  ASSERT_TRUE(session.ok());
  Diagnostics diag;
  std::vector<double> v;
  g.energy_rc = kNvmlGpuIsLost;
  (*session)->Read(v, diag);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(std::isnan(v[0]) && std::isnan(v[1]));
  g.energy_rc = kNvmlSuccess;  // a lost GPU does not come back within a session
  (*session)->Read(v, diag);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(diag.Count("nvml.gpu_lost"), 2);
  EXPECT_EQ(diag.Count("nvml.read_failed"), 2);
  ASSERT_FALSE(diag.warnings().empty());
  EXPECT_NE(diag.warnings()[0].find("fallen off the bus"), std::string::npos);
}

TEST_F(NvmlTableTest, CounterThatGoesBackIsNanNotNegativeEnergy) {
  auto session = MakeNvmlSource(FakeApi())->Open({"gpu:0"});
  ASSERT_TRUE(session.ok());
  Diagnostics diag;
  std::vector<double> v;
  g.energy_mj += 1000;
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v[0], 1.0);
  g.energy_mj -= 500;  // the driver was reloaded under us
  (*session)->Read(v, diag);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(diag.Count("nvml.counter_went_backwards"), 1);
}

TEST_F(NvmlTableTest, OpenRejectsDomainsItDoesNotHave) {
  auto source = MakeNvmlSource(FakeApi());
  EXPECT_FALSE(source->Open({"gpu:3"}).ok());
  EXPECT_FALSE(source->Open({"cpu:0/package"}).ok());
  EXPECT_EQ(g.inits, g.shutdowns);
}

TEST_F(NvmlTableTest, TableWithoutInitIsFunctionNotFoundNotACrash) {
  NvmlApi api = FakeApi();
  api.init = nullptr;
  auto probes = MakeNvmlSource(api)->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_NE(probes[0].reason.find("FUNCTION_NOT_FOUND"), std::string::npos);
}

// The real dlopen path, against tests/nvml/fake_nvml.cpp built as libnvidia-ml.so.1.
class NvmlDlopenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("FAKE_NVML_INIT_RC");
    unsetenv("FAKE_NVML_POWER_ONLY");
    setenv("FAKE_NVML_GPUS", "2", 1);
    setenv("FAKE_NVML_STEP_MS", "5", 1);
  }
  SourceOptions Options() const {
    SourceOptions o;
    o.nvml_library = SMARAGDINE_FAKE_NVML;
    return o;
  }
};

TEST_F(NvmlDlopenTest, LoadsVersionedSymbolsAndReadsAnAdvancingCounter) {
  auto lib = LoadNvml(SMARAGDINE_FAKE_NVML);
  ASSERT_TRUE(lib.ok()) << lib.error().ToString();
  EXPECT_NE(lib->api.device_get_total_energy_consumption, nullptr);
  EXPECT_NE(lib->api.error_string, nullptr);

  auto source = MakeNvmlSource(Options());
  auto probes = source->Probe();
  ASSERT_EQ(probes.size(), 2u);
  EXPECT_TRUE(probes[0].readable) << probes[0].reason;
  EXPECT_NE(probes[0].location.find("Fake GPU 0"), std::string::npos);
  auto session = source->Open({"gpu:0", "gpu:1"});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  Diagnostics diag;
  std::vector<double> first, later;
  (*session)->Read(first, diag);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  (*session)->Read(later, diag);
  // 250 W for ~60 ms in 5 ms steps: about 15 J, certainly between 10 and 40 J.
  EXPECT_GT(later[0] - first[0], 10.0);
  EXPECT_LT(later[0] - first[0], 40.0);
  EXPECT_TRUE(diag.empty());
}

TEST_F(NvmlDlopenTest, PowerOnlyGpuThroughTheLibrary) {
  setenv("FAKE_NVML_POWER_ONLY", "1", 1);
  auto source = MakeNvmlSource(Options());
  auto probes = source->Probe();
  ASSERT_EQ(probes.size(), 2u);
  EXPECT_EQ(probes[0].info.quantity, Quantity::kEnergy);
  EXPECT_EQ(probes[1].info.quantity, Quantity::kPower);
  auto session = source->Open({"gpu:1"});
  ASSERT_TRUE(session.ok());
  Diagnostics diag;
  std::vector<double> v;
  (*session)->Read(v, diag);
  EXPECT_DOUBLE_EQ(v[0], 123.456);
}

TEST_F(NvmlDlopenTest, DriverMismatchFromTheLibraryIsExplained) {
  setenv("FAKE_NVML_INIT_RC", std::to_string(kNvmlLibRmVersionMismatch).c_str(), 1);
  auto probes = MakeNvmlSource(Options())->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_NE(probes[0].reason.find("LIB_RM_VERSION_MISMATCH"), std::string::npos);
  EXPECT_NE(probes[0].fix.find("reboot or reload the nvidia kernel module"), std::string::npos);
}

TEST_F(NvmlDlopenTest, MissingLibraryIsLibraryNotFoundNotACrash) {
  SourceOptions o;
  o.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  auto source = MakeNvmlSource(o);
  auto probes = source->Probe();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_FALSE(probes[0].readable);
  EXPECT_EQ(probes[0].info.name, "gpu:*");
  EXPECT_NE(probes[0].reason.find("LIBRARY_NOT_FOUND"), std::string::npos) << probes[0].reason;
  EXPECT_NE(probes[0].reason.find("/nonexistent/libnvidia-ml.so.1"), std::string::npos);
  EXPECT_NE(probes[0].fix.find("install the NVIDIA driver"), std::string::npos);
  auto open = source->Open({"gpu:0"});
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().message.find("LIBRARY_NOT_FOUND"), std::string::npos);
}

TEST_F(NvmlDlopenTest, LibraryWithoutNvmlSymbolsIsFunctionNotFound) {
  // Any shared library without NVML's names: libz is always there (we link it).
  auto lib = LoadNvml("libz.so.1");
  ASSERT_FALSE(lib.ok());
  EXPECT_NE(lib.error().message.find("FUNCTION_NOT_FOUND"), std::string::npos);
  EXPECT_NE(lib.error().message.find("nvmlInit_v2"), std::string::npos);
}

}  // namespace
}  // namespace smaragdine
