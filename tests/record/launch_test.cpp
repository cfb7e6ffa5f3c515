// What a launcher tells a process about its place in a job (launch.h), and
// the run-directory patterns built from it (`record -o runs/%N`).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "record/record_test_util.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/launch.h"

namespace smaragdine {
namespace {

LaunchInfo From(const std::map<std::string, std::string>& env) {
  return ReadLaunchInfo([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(LaunchTest, TorchrunsVariablesGiveTheRank) {
  LaunchInfo li = From({{"RANK", "3"}, {"LOCAL_RANK", "1"}, {"WORLD_SIZE", "4"},
                        {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}});
  EXPECT_EQ(li.launcher, "torchrun");
  EXPECT_EQ(li.rank, 3);
  EXPECT_EQ(li.local_rank, 1);
  EXPECT_EQ(li.world_size, 4);
  EXPECT_EQ(li.local_world_size, 2);
}

TEST(LaunchTest, SlurmAndOpenMpiAreReadWhenTorchrunIsNot) {
  LaunchInfo slurm = From({{"SLURM_PROCID", "5"}, {"SLURM_LOCALID", "1"}, {"SLURM_NTASKS", "8"},
                           {"SLURM_JOB_ID", "4242"}, {"SLURM_STEP_ID", "0"}, {"SLURM_NODEID", "2"}});
  EXPECT_EQ(slurm.launcher, "slurm");
  EXPECT_EQ(slurm.rank, 5);
  EXPECT_EQ(slurm.world_size, 8);
  EXPECT_EQ(slurm.job_id, "4242");
  EXPECT_EQ(slurm.node_id, "2");
  LaunchInfo mpi = From({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                         {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}});
  EXPECT_EQ(mpi.launcher, "openmpi");
  EXPECT_EQ(mpi.rank, 1);
  EXPECT_EQ(mpi.local_rank, 1);
  // torchrun under srun: torchrun's numbering is the program's.
  LaunchInfo both = From({{"RANK", "0"}, {"SLURM_PROCID", "7"}});
  EXPECT_EQ(both.launcher, "torchrun");
  EXPECT_EQ(both.rank, 0);
}

TEST(LaunchTest, ValuesThatAreNotRanksAreIgnored) {
  EXPECT_EQ(From({}).rank, -1);
  EXPECT_EQ(From({}).launcher, "");
  EXPECT_EQ(From({{"RANK", "-1"}}).rank, -1);
  EXPECT_EQ(From({{"RANK", "2x"}}).rank, -1);
  EXPECT_EQ(From({{"RANK", ""}}).rank, -1);
  // SLURM_NTASKS_PER_NODE can read "2(x3)": unknown, not a wrong number.
  EXPECT_EQ(From({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS_PER_NODE", "2(x3)"}}).local_world_size, -1);
}

TEST(LaunchTest, RunPatternsExpandToTheHostJobAndRank) {
  LaunchInfo li;
  li.host = "gpu-node-07.cluster.example";
  li.job_id = "4242";
  li.rank = 3;
  auto p = ExpandRunPattern("runs/%j/%N-r%r-100%%", li);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(*p, "runs/4242/gpu-node-07-r3-100%");
  EXPECT_EQ(*ExpandRunPattern("plain/run", li), "plain/run");
  EXPECT_EQ(*ExpandRunPattern("%h", li), "gpu-node-07");
}

TEST(LaunchTest, AnUnknownOrUnsetPatternIsAUsageErrorThatSaysWhy) {
  LaunchInfo li;
  li.host = "n1";
  auto p = ExpandRunPattern("runs/%j", li);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kUsage);
  EXPECT_NE(p.error().message.find("SLURM_JOB_ID"), std::string::npos) << p.error().message;
  p = ExpandRunPattern("runs/%q", li);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("%q is not known"), std::string::npos) << p.error().message;
  EXPECT_FALSE(ExpandRunPattern("runs/%", li).ok());
  EXPECT_FALSE(ExpandRunPattern("runs/%r", li).ok());
}


// CUDA_VISIBLE_DEVICES (issue 13): the machine's index of each GPU a process
// sees, as CUDA reads the list; recorded in run.json's launch and read back.
TEST(LaunchTest, CudaVisibleDevicesGivesTheMachinesIndexOfEachVisibleGpu) {
  EXPECT_EQ(VisibleGpuIndices("2,3"), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(VisibleGpuIndices(" 5 , 1"), (std::vector<int32_t>{5, 1}));
  // CUDA stops at the first entry that is not an index.
  EXPECT_EQ(VisibleGpuIndices("1,x,3"), (std::vector<int32_t>{1}));
  EXPECT_EQ(VisibleGpuIndices("-1"), (std::vector<int32_t>{}));
  EXPECT_EQ(VisibleGpuIndices(""), (std::vector<int32_t>{}));
  EXPECT_EQ(VisibleGpuIndices("GPU-8f6e0f1a-1b2c-4d5e-9f00-112233445566"), std::nullopt);
  EXPECT_EQ(VisibleGpuIndices("0,MIG-abc"), std::nullopt);
  EXPECT_EQ(From({{"CUDA_VISIBLE_DEVICES", "2,3"}}).cuda_visible_devices, "2,3");
  EXPECT_EQ(From({}).cuda_visible_devices, "");

  testing::TempDir dir;
  EnergyLog meta;
  meta.domains.push_back({});
  meta.domains[0].name = "nvml:gpu3";
  meta.domains[0].device = "GPU:3";
  meta.launch.cuda_visible_devices = "2,3";
  ASSERT_TRUE(WriteRunDirectory(dir.path(), meta, {{0, 0, 0.0}, {1000, 0, 1.0}}).ok());
  EXPECT_NE(testing::ReadText(dir.path() + "/run.json").find("\"cuda_visible_devices\": \"2,3\""),
            std::string::npos);
  Result<EnergyLog> back = ReadRunDirectory(dir.path());
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->launch.cuda_visible_devices, "2,3");
}

}  // namespace
}  // namespace smaragdine
