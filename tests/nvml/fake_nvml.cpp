// A stand-in libnvidia-ml.so.1 for tests of the dlopen path (built as a shared
// library by CMakeLists.txt). Behaviour comes from the environment, read at
// every nvmlInit_v2 so one process can try several setups:
//   FAKE_NVML_INIT_RC     nvmlInit_v2's return code (default 0)
//   FAKE_NVML_GPUS        number of GPUs (default 1, at most 8)
//   FAKE_NVML_POWER_ONLY  GPU indices, e.g. "1,3", whose energy counter is NOT_SUPPORTED
//   FAKE_NVML_STEP_MS     the energy counter's update period (default 20 ms)
// Every GPU draws 250 W by its counter and reports 123.456 W as power usage.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

struct FakeGpu {
  int index;
};
FakeGpu g_gpus[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
int g_count = 1;
bool g_power_only[8] = {};
long g_step_ms = 20;
long long g_start_ns = 0;
int g_inits = 0;

long long NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

}  // namespace

extern "C" {

int nvmlInit_v2() {
  int rc = EnvInt("FAKE_NVML_INIT_RC", 0);
  if (rc != 0) return rc;
  g_count = EnvInt("FAKE_NVML_GPUS", 1);
  if (g_count > 8) g_count = 8;
  g_step_ms = EnvInt("FAKE_NVML_STEP_MS", 20);
  std::memset(g_power_only, 0, sizeof(g_power_only));
  if (const char* p = std::getenv("FAKE_NVML_POWER_ONLY")) {
    for (const char* c = p; *c != '\0'; ++c)
      if (*c >= '0' && *c <= '7') g_power_only[*c - '0'] = true;
  }
  if (g_start_ns == 0) g_start_ns = NowNs();
  ++g_inits;
  return 0;
}

int nvmlShutdown() {
  if (g_inits == 0) return 1;  // NVML_ERROR_UNINITIALIZED
  --g_inits;
  return 0;
}

int nvmlDeviceGetCount_v2(unsigned int* count) {
  if (g_inits == 0) return 1;
  *count = static_cast<unsigned int>(g_count);
  return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (g_inits == 0) return 1;
  if (index >= static_cast<unsigned int>(g_count)) return 2;  // INVALID_ARGUMENT
  *device = &g_gpus[index];
  return 0;
}

int nvmlDeviceGetName(void* device, char* name, unsigned int length) {
  std::snprintf(name, length, "Fake GPU %d", static_cast<FakeGpu*>(device)->index);
  return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(void* device, unsigned long long* mj) {
  if (g_inits == 0) return 1;
  const FakeGpu* g = static_cast<FakeGpu*>(device);
  if (g_power_only[g->index]) return 3;  // NOT_SUPPORTED (pre-Volta)
  // 250 W in steps of g_step_ms, as the real counter updates only every 10–100 ms.
  const long long steps = (NowNs() - g_start_ns) / (g_step_ms * 1000000LL);
  *mj = 5000000ULL + static_cast<unsigned long long>(steps * g_step_ms * 250);
  return 0;
}

int nvmlDeviceGetPowerUsage(void* device, unsigned int* mw) {
  if (g_inits == 0) return 1;
  *mw = 123456;
  return 0;
}

const char* nvmlErrorString(int code) { return code == 0 ? "Success" : "Fake error"; }

}  // extern "C"
