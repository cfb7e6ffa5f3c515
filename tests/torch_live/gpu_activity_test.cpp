// GPU kernels from torch.profiler's export joined to a live session's trace
// (gpu_activity.h). No GPU is needed: the exports are written here in the
// shape Kineto gives them (the fixture pt2_bert-small_h100_inference's
// kernel, gpu_memcpy and cuda_runtime events), on a clock of their own.
#include "torch/live/gpu_activity.h"

#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "record/record_test_util.h"
#include "smaragdine/torch/live.h"
#include "smaragdine/torch/scope.h"
#include "smaragdine/trace.h"
#include "torch_live/live_test_util.h"

namespace smaragdine::live {
namespace {

using smaragdine::testing::TempDir;
using testing::ModelOnly;
using ::testing::HasSubstr;

// Kineto's clock here: ours plus an offset, written as µs after a base.
constexpr int64_t kBaseNs = 1751410836000000000;
constexpr int64_t kKinetoMinusOursNs = kBaseNs + 987654321;

std::string Us(int64_t ours_ns) {
  const int64_t k = ours_ns + kKinetoMinusOursNs - kBaseNs;
  return fmt::format("{}.{:03}", k / 1000, k % 1000);
}

std::string Runtime(const std::string& name, uint64_t tid, int64_t start_ns, int64_t dur_ns,
                    int64_t correlation) {
  return fmt::format(
      "{{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"{}\", \"pid\": {}, \"tid\": {}, "
      "\"ts\": {}, \"dur\": {}.{:03}, \"args\": {{\"cbid\": 211, \"correlation\": {}}}}}",
      name, getpid(), tid, Us(start_ns), dur_ns / 1000, dur_ns % 1000, correlation);
}

std::string Gpu(const std::string& cat, const std::string& name, int64_t start_ns,
                int64_t dur_ns, int64_t correlation) {
  return fmt::format(
      "{{\"ph\": \"X\", \"cat\": \"{}\", \"name\": \"{}\", \"pid\": 0, \"tid\": 7, \"ts\": {}, "
      "\"dur\": {}.{:03}, \"args\": {{\"External id\": 9, \"device\": 0, \"context\": 1, "
      "\"stream\": 7, \"correlation\": {}}}}}",
      cat, name, Us(start_ns), dur_ns / 1000, dur_ns % 1000, correlation);
}

std::string Export(const std::vector<std::string>& events) {
  std::string s = fmt::format(
      "{{\"schemaVersion\": 1, \"deviceProperties\": [{{\"id\": 0, \"name\": \"NVIDIA H100\"}}], "
      "\"traceEvents\": [\n{{\"name\": \"process_labels\", \"ph\": \"M\", \"pid\": 0, \"tid\": 0, "
      "\"args\": {{\"labels\": \"GPU 0\"}}}}");
  for (const std::string& e : events) s += ",\n" + e;
  return s + fmt::format("\n], \"baseTimeNanoseconds\": {}}}\n", kBaseNs);
}

TEST(GpuActivityTest, PutsKernelsAndLaunchesOnTheSessionsClock) {
  const uint64_t tid = 4242;
  GpuActivityFile f{"gpu.json", tid, 5'000'000, 5'010'000};
  const std::string json = Export({
      Runtime("cudaDeviceSynchronize", tid, 5'000'000, 10'000, 1),
      Runtime("cudaDeviceSynchronize", 999, 4'000'000, 10'000, 2),  // another thread's
      Runtime("cudaLaunchKernel", tid, 5'500'000, 5'000, 42),
      Gpu("kernel", "void gemm<float>()", 5'503'000, 20'000, 42),
      Gpu("gpu_memcpy", "Memcpy DtoH (Device -> Pinned)", 5'530'000, 2'240, 43),
      Runtime("cudaMemcpyAsync", tid, 5'520'000, 4'000, 43),
  });
  auto gpu = internal::ReadGpuActivity(json, f.path, f);
  ASSERT_TRUE(gpu.ok()) << gpu.error().ToString();
  EXPECT_EQ(gpu->kineto_minus_monotonic_ns, kKinetoMinusOursNs);
  EXPECT_EQ(gpu->gpu_events, 2);
  ASSERT_EQ(gpu->events.size(), 6u);  // GPU events first, then every runtime call
  const internal::GpuActivityEvent& k = gpu->events[0];
  EXPECT_TRUE(k.on_gpu);
  EXPECT_EQ(k.name, "void gemm<float>()");
  EXPECT_EQ(k.device, 0);
  EXPECT_EQ(k.stream, 7);
  EXPECT_EQ(k.start_ns, 5'503'000);
  EXPECT_EQ(k.end_ns, 5'523'000);
  EXPECT_EQ(k.correlation, 42);
  const internal::GpuActivityEvent& launch = gpu->events[4];
  EXPECT_FALSE(launch.on_gpu);
  EXPECT_EQ(launch.name, "cudaLaunchKernel");
  EXPECT_EQ(launch.os_tid, tid);
  EXPECT_EQ(launch.start_ns, 5'500'000);
}

TEST(GpuActivityTest, SaysWhatIsMissing) {
  GpuActivityFile f{"run/torch-7.gpu-activity.json", 4242, 5'000'000, 5'010'000};
  auto none = internal::ReadGpuActivity(Export({Runtime("cudaDeviceSynchronize", 999, 1, 10, 1)}),
                                        f.path, f);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kBadInput);
  EXPECT_THAT(none.error().ToString(), HasSubstr("run/torch-7.gpu-activity.json"));
  EXPECT_THAT(none.error().ToString(), HasSubstr("no cudaDeviceSynchronize call on thread 4242"));
  auto broken = internal::ReadGpuActivity("{\"traceEvents\": [", f.path, f);
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.error().ToString(), HasSubstr("invalid JSON"));
  auto not_trace = internal::ReadGpuActivity("[1, 2]", f.path, f);
  ASSERT_FALSE(not_trace.ok());
  EXPECT_THAT(not_trace.error().ToString(), HasSubstr("\"traceEvents\""));
}

uint64_t ThisThread() { return static_cast<uint64_t>(syscall(SYS_gettid)); }

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Runs ops in a scope "gpu_site" on this thread, with 2 ms between its start
// and the returned time (where a kernel "is launched") and 2 ms after it.
int64_t RunGpuSite() {
  SMARAGDINE_SCOPE("gpu_site");
  torch::Tensor a = torch::ones({8, 8});
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const int64_t launch_ns = MonotonicNowNs();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  torch::Tensor b = torch::mm(a, a);
  return launch_ns;
}

// A session records a scope on this thread; a kernel "launched" inside it
// (its runtime call stamped there) lands under that scope on GPU:0's stream
// in the trace StopAndWriteTrace() writes, as `smaragdine account` reads it.
TEST(GpuActivityTest, KernelsLandUnderTheScopeThatLaunchedThem) {
  TempDir tmp;
  SessionOptions o = ModelOnly(tmp);
  o.output_dir = tmp.path() + "/out";
  o.write_profile = false;
  auto session = Session::Start(o);
  ASSERT_TRUE(session.ok()) << session.error().message;
  const int64_t sync_ns = MonotonicNowNs();
  const int64_t launch_ns = RunGpuSite();
  {
    SMARAGDINE_SCOPE("after");
    torch::Tensor c = torch::ones({4}) + 1;
  }
  const std::string path = tmp.path() + "/gpu.json";
  WriteText(
      path, Export({Runtime("cudaDeviceSynchronize", ThisThread(), sync_ns, 10'000, 1),
                    Runtime("cudaLaunchKernel", ThisThread(), launch_ns, 5'000, 42),
                    Gpu("kernel", "void gemm<float>()", launch_ns + 8'000, 300'000, 42)}));
  (*session)->AddGpuActivity({path, ThisThread(), sync_ns, sync_ns + 10'000});
  auto written = (*session)->StopAndWriteTrace();
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ((*session)->info().gpu_events, 1);
  EXPECT_EQ((*session)->info().gpu_activity_error, "");

  auto trace = ReadTrace(*written, {});
  ASSERT_TRUE(trace.ok()) << trace.error().ToString();
  int kernels = 0;
  for (const Event& e : trace->events) {
    if (trace->lanes[e.lane].device != "GPU:0") continue;
    ++kernels;
    EXPECT_EQ(trace->nodes.Path(e.node), "gpu_site/void gemm<float>()");
    EXPECT_EQ(e.end_ns - e.start_ns, 300'000);
  }
  EXPECT_EQ(kernels, 1);
}

// The same in process: Stop() joins the kernels to the trace it accounts.
TEST(GpuActivityTest, StopJoinsKernelsInProcess) {
  TempDir tmp;
  auto session = Session::Start(ModelOnly(tmp));
  ASSERT_TRUE(session.ok()) << session.error().message;
  const int64_t sync_ns = MonotonicNowNs();
  const int64_t launch_ns = RunGpuSite();
  const std::string path = tmp.path() + "/gpu.json";
  WriteText(path, Export({Runtime("cudaDeviceSynchronize", ThisThread(), sync_ns, 10'000, 1),
                          Runtime("cudaLaunchKernel", ThisThread(), launch_ns, 5'000, 42),
                          Gpu("kernel", "void gemm<float>()", launch_ns + 8'000, 300'000, 42),
                          Gpu("kernel", "void orphan()", launch_ns + 400'000, 1'000, 77)}));
  (*session)->AddGpuActivity({path, ThisThread(), sync_ns, sync_ns + 10'000});
  auto profile = (*session)->Stop();
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  EXPECT_EQ((*session)->info().gpu_events, 2);
  const ProfileNode* k = testing::Node(*profile, "gpu_site/void gemm<float>()");
  ASSERT_NE(k, nullptr) << testing::Paths(*profile);
  EXPECT_EQ(k->kind, NodeKind::kKernel);
  EXPECT_EQ(k->time_ns, 300'000);
  // A kernel whose launch is not in the export hangs at the root.
  const ProfileNode* orphan = testing::Node(*profile, "void orphan()");
  ASSERT_NE(orphan, nullptr) << testing::Paths(*profile);
  EXPECT_EQ(orphan->calls, 1);
}

TEST(GpuActivityTest, AnUnusableExportCostsOnlyTheKernels) {
  TempDir tmp;
  SessionOptions o = ModelOnly(tmp);
  o.output_dir = tmp.path() + "/out";
  o.write_profile = false;
  auto session = Session::Start(o);
  ASSERT_TRUE(session.ok()) << session.error().message;
  {
    SMARAGDINE_SCOPE("cpu_only");
    torch::Tensor c = torch::ones({4}) + 1;
  }
  (*session)->AddGpuActivity({tmp.path() + "/missing.json", ThisThread(), 0, 1});
  auto written = (*session)->StopAndWriteTrace();
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_THAT((*session)->info().gpu_activity_error, HasSubstr("missing.json"));
  EXPECT_EQ((*session)->info().gpu_events, 0);
  auto trace = ReadTrace(*written, {});
  ASSERT_TRUE(trace.ok()) << trace.error().ToString();
  for (const Lane& lane : trace->lanes) EXPECT_NE(lane.device, "GPU:0");
}

}  // namespace
}  // namespace smaragdine::live
