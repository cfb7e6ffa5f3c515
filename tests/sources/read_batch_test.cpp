// Tests of the counter sessions' batched reads (one ReadBatch per pass instead
// of one pread per file): the values and diagnostics are those of the pread
// path, a read that would block goes to pread for good, and a failed batched
// read is read again with pread. The io_uring batch itself is tried on files
// of this machine when io_uring is available here.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "energy/sources/rapl_powercap.h"
#include "sources/fake_tree_util.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::FakeTree;

// What the fake batch does: each slot's read is a real pread unless `script`
// says otherwise for it (a result to return, or text to hand back).
struct FakeBatchScript {
  int opened = 0;                        // open_batch calls
  std::vector<size_t> reads_per_call;    // how many reads each Read() got
  std::map<size_t, ssize_t> fail;        // slot → −errno, every pass
  std::map<size_t, ssize_t> fail_once;   // slot → −errno, the next pass only
  std::map<size_t, std::string> text;    // slot → what the read returns
  bool refuse_open = false;
};
FakeBatchScript& Script() {
  static FakeBatchScript s;
  return s;
}

class FakeBatch : public ReadBatch {
 public:
  explicit FakeBatch(std::vector<int> fds) : fds_(std::move(fds)) {}
  void Read(std::span<BatchRead> reads) override {
    FakeBatchScript& s = Script();
    s.reads_per_call.push_back(reads.size());
    for (BatchRead& r : reads) {
      if (auto it = s.fail.find(r.slot); it != s.fail.end()) {
        r.result = it->second;
      } else if (auto once = s.fail_once.find(r.slot); once != s.fail_once.end()) {
        r.result = once->second;
        s.fail_once.erase(once);
      } else if (auto t = s.text.find(r.slot); t != s.text.end()) {
        std::memcpy(r.buf, t->second.data(), t->second.size());
        r.result = static_cast<ssize_t>(t->second.size());
      } else {
        ssize_t n = ::pread(fds_[r.slot], r.buf, r.len, r.offset);
        r.result = n < 0 ? -errno : n;
      }
    }
  }

 private:
  std::vector<int> fds_;
};

Result<std::unique_ptr<ReadBatch>> OpenFakeBatch(const std::vector<int>& fds) {
  ++Script().opened;
  if (Script().refuse_open) return Nothing("io_uring_queue_init: Operation not permitted (EPERM)");
  return std::unique_ptr<ReadBatch>(std::make_unique<FakeBatch>(fds));
}

SysIo FakeBatchIo() {
  Script() = FakeBatchScript();
  SysIo io;  // libc's open and pread
  io.open_batch = &OpenFakeBatch;
  return io;
}

SysIo PreadOnlyIo() {
  SysIo io;
  io.open_batch = nullptr;
  return io;
}

void AddThreeZones(FakeTree& tree) {
  tree.AddPowercapZone("intel-rapl:0", "package-0", 1000000);
  tree.AddPowercapZone("intel-rapl:0:0", "core", 400000);
  tree.AddPowercapZone("intel-rapl:0:1", "dram", 200000, 65532610987);
}
const std::vector<std::string> kThree = {"cpu:0/package", "cpu:0/core", "cpu:0/dram"};

// Each counter `step_uj` (package), half of it (core), a quarter (dram) above its start.
void Advance(FakeTree& tree, uint64_t step_uj) {
  tree.SetEnergyUj("intel-rapl:0", 1000000 + step_uj);
  tree.SetEnergyUj("intel-rapl:0:0", 400000 + step_uj / 2);
  tree.SetEnergyUj("intel-rapl:0:1", 200000 + step_uj / 4);
}

std::unique_ptr<SamplingSession> OpenThree(FakeTree& tree, const SysIo& io) {
  auto session = MakeRaplPowercapSource(tree.Options(), io)->Open(kThree);
  EXPECT_TRUE(session.ok()) << session.error().ToString();
  return session.ok() ? std::move(session).value() : nullptr;
}

TEST(ReadBatchTest, OneBatchPerPassGivesThePreadValues) {
  FakeTree tree;
  AddThreeZones(tree);
  auto batched = OpenThree(tree, FakeBatchIo());
  auto plain = OpenThree(tree, PreadOnlyIo());
  ASSERT_TRUE(batched && plain);
  EXPECT_EQ(Script().opened, 0);  // not before the first Read (the sampling thread's)
  std::vector<double> a, b;
  Diagnostics da, db;
  for (uint64_t step : {2000000u, 5000000u}) {
    Advance(tree, step);
    batched->Read(a, da);
    plain->Read(b, db);
    EXPECT_EQ(a, b);
  }
  EXPECT_DOUBLE_EQ(a[0], 5.0);
  EXPECT_DOUBLE_EQ(a[1], 2.5);
  EXPECT_DOUBLE_EQ(a[2], 1.25);
  EXPECT_EQ(Script().opened, 1);
  EXPECT_THAT(Script().reads_per_call, ::testing::ElementsAre(3u, 3u));
  EXPECT_TRUE(da.empty());
}

TEST(ReadBatchTest, AFileThatWouldBlockIsReadWithPreadFromThenOn) {
  FakeTree tree;
  AddThreeZones(tree);
  auto session = OpenThree(tree, FakeBatchIo());
  ASSERT_TRUE(session);
  Script().fail[1] = -EAGAIN;
  std::vector<double> v;
  Diagnostics diag;
  Advance(tree, 2000000);
  session->Read(v, diag);
  EXPECT_DOUBLE_EQ(v[1], 1.0);  // this pass's value, by pread
  Advance(tree, 4000000);
  session->Read(v, diag);
  EXPECT_DOUBLE_EQ(v[0], 4.0);
  EXPECT_DOUBLE_EQ(v[1], 2.0);
  EXPECT_DOUBLE_EQ(v[2], 1.0);
  EXPECT_THAT(Script().reads_per_call, ::testing::ElementsAre(3u, 2u));
  EXPECT_TRUE(diag.empty());
  // Two files left to batch, then one would block too: one read is one system
  // call either way, so the batch is dropped.
  Script().fail[0] = -EAGAIN;
  session->Read(v, diag);
  session->Read(v, diag);
  EXPECT_THAT(Script().reads_per_call, ::testing::ElementsAre(3u, 2u, 2u));
  EXPECT_DOUBLE_EQ(v[0], 4.0);
  EXPECT_TRUE(diag.empty());
}

TEST(ReadBatchTest, AFailedBatchedReadIsReadAgainWithPread) {
  FakeTree tree;
  AddThreeZones(tree);
  auto session = OpenThree(tree, FakeBatchIo());
  ASSERT_TRUE(session);
  Script().fail_once[2] = -EIO;
  std::vector<double> v;
  Diagnostics diag;
  Advance(tree, 4000000);
  session->Read(v, diag);
  EXPECT_DOUBLE_EQ(v[2], 1.0);
  EXPECT_TRUE(diag.empty()) << "pread succeeded, so nothing failed";
  session->Read(v, diag);
  EXPECT_THAT(Script().reads_per_call, ::testing::ElementsAre(3u, 3u));  // still batched
}

// The pread path's errors, through the batch: a vanished kernfs node (the
// batch and pread both say ENODEV) stops that domain only, with the message
// pread gives.
TEST(ReadBatchTest, AReadErrorIsPreadsError) {
  FakeTree tree;
  AddThreeZones(tree);
  SysIo io = testing::KernfsIo();  // pread says ENODEV for an unlinked file
  io.open_batch = &OpenFakeBatch;
  Script() = FakeBatchScript();
  auto batched = OpenThree(tree, io);
  SysIo plain_io = testing::KernfsIo();
  plain_io.open_batch = nullptr;
  auto plain = OpenThree(tree, plain_io);
  ASSERT_TRUE(batched && plain);
  Script().fail[1] = -ENODEV;
  tree.Remove("sys/class/powercap/intel-rapl:0:0/energy_uj");
  std::vector<double> a, b;
  Diagnostics da, db;
  batched->Read(a, da);
  plain->Read(b, db);
  EXPECT_TRUE(std::isnan(a[1]));
  EXPECT_EQ(da.counts(), db.counts());
  EXPECT_EQ(da.warnings(), db.warnings());
  ASSERT_EQ(da.warnings().size(), 1u);
  EXPECT_THAT(da.warnings()[0], HasSubstr("ENODEV"));
}

// Short and garbled texts are parsed exactly as PreadU64 parses them.
TEST(ReadBatchTest, GarbledAndEmptyReadsFailAsWithPread) {
  FakeTree tree;
  AddThreeZones(tree);
  auto session = OpenThree(tree, FakeBatchIo());
  ASSERT_TRUE(session);
  Script().text[0] = "12ab\n";
  Script().text[1] = "";
  Script().text[2] = "  3000000\n";  // surrounding space is allowed, as before
  std::vector<double> v;
  Diagnostics diag;
  session->Read(v, diag);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_DOUBLE_EQ(v[2], 2.8);
  EXPECT_EQ(diag.Count("sources.read_failed"), 2);
  ASSERT_EQ(diag.warnings().size(), 2u);
  EXPECT_THAT(diag.warnings()[0], HasSubstr("(Input/output error (EIO))"));
  EXPECT_THAT(diag.warnings()[1], HasSubstr("(ENODATA)"));
  int err = 0;
  EXPECT_FALSE(ParseCounterRead("12ab\n", 5, &err));
  EXPECT_EQ(err, EIO);
  EXPECT_EQ(ParseCounterRead("42\n", 3, &err), 42u);
  EXPECT_EQ(err, 0);
}

TEST(ReadBatchTest, NoBatchMeansPread) {
  FakeTree tree;
  AddThreeZones(tree);
  SysIo io = FakeBatchIo();
  Script().refuse_open = true;
  auto session = OpenThree(tree, io);
  ASSERT_TRUE(session);
  std::vector<double> v;
  Diagnostics diag;
  Advance(tree, 2000000);
  session->Read(v, diag);
  session->Read(v, diag);
  EXPECT_EQ(Script().opened, 1);  // tried once
  EXPECT_TRUE(Script().reads_per_call.empty());
  EXPECT_DOUBLE_EQ(v[0], 2.0);
  EXPECT_TRUE(diag.empty());
}

// A SysIo with a fake pread and the default open_batch reads through its fake:
// the io_uring batch would bypass it (here it would read an unlinked file
// where the fake says ENODEV, as kernfs does).
TEST(ReadBatchTest, AFakePreadKeepsTheIoUringBatchOff) {
  FakeTree tree;
  AddThreeZones(tree);
  SysIo io = testing::KernfsIo();
  ASSERT_EQ(io.open_batch, &OpenUringReadBatch);
  auto session = OpenThree(tree, io);
  ASSERT_TRUE(session);
  tree.Remove("sys/class/powercap/intel-rapl:0:1/energy_uj");
  std::vector<double> v;
  Diagnostics diag;
  session->Read(v, diag);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_EQ(diag.Count("sources.read_failed"), 1);
}

int IoWorkerThreads() {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char comm[64] = {};
    std::string path = std::string("/proc/self/task/") + e->d_name + "/comm";
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) continue;
    ssize_t k = ::read(fd, comm, sizeof comm - 1);
    ::close(fd);
    if (k > 0 && std::strncmp(comm, "iou-wrk", 7) == 0) ++n;
  }
  closedir(d);
  return n;
}

// The real io_uring batch on this machine's files: on a temporary directory
// (tmpfs or ext4) each read is done inline or answered −EAGAIN, never handed to
// an io-wq worker thread; with the default SysIo the session's values are the
// pread ones either way.
TEST(ReadBatchTest, IoUringBatchOnThisMachine) {
  FakeTree tree;
  AddThreeZones(tree);
  std::vector<int> fds;
  for (const char* z : {"intel-rapl:0", "intel-rapl:0:0"})
    fds.push_back(::open(tree.Path(std::string("sys/class/powercap/") + z + "/energy_uj").c_str(),
                         O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fds[0], 0);
  ASSERT_GE(fds[1], 0);
  auto batch = OpenUringReadBatch(fds);
  if (!batch.ok()) {
    for (int fd : fds) ::close(fd);
    GTEST_SKIP() << "no io_uring here: " << batch.error().message;
  }
  char buf[2][32];
  std::vector<BatchRead> reads(2);
  for (size_t i = 0; i < 2; ++i) {
    reads[i].slot = i;
    reads[i].buf = buf[i];
    reads[i].len = sizeof buf[i];
  }
  for (int pass = 0; pass < 50; ++pass) (*batch)->Read(reads);
  EXPECT_EQ(IoWorkerThreads(), 0);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(reads[i].result == -EAGAIN || reads[i].result > 0) << reads[i].result;
    if (reads[i].result > 0) {
      EXPECT_EQ(std::string(buf[i], static_cast<size_t>(reads[i].result)),
                i == 0 ? "1000000\n" : "400000\n");
    }
  }
  batch = Nothing("closed");
  for (int fd : fds) ::close(fd);

  auto session = OpenThree(tree, SysIo());
  auto plain = OpenThree(tree, PreadOnlyIo());
  ASSERT_TRUE(session && plain);
  std::vector<double> a, b;
  Diagnostics da, db;
  for (uint64_t step : {1000000u, 3000000u, 7000000u}) {
    Advance(tree, step);
    session->Read(a, da);
    plain->Read(b, db);
    EXPECT_EQ(a, b);
  }
  EXPECT_TRUE(da.empty());
  EXPECT_EQ(IoWorkerThreads(), 0);
}

// A kernfs attribute, as RAPL's energy_uj is: read inline, the text pread gives.
TEST(ReadBatchTest, IoUringReadsAKernfsAttributeInline) {
  const char* path = "/sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed";
  std::vector<int> fds = {::open(path, O_RDONLY | O_CLOEXEC), ::open(path, O_RDONLY | O_CLOEXEC)};
  if (fds[0] < 0 || fds[1] < 0) {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    GTEST_SKIP() << path << " cannot be read here";
  }
  auto batch = OpenUringReadBatch(fds);
  if (!batch.ok()) {
    for (int fd : fds) ::close(fd);
    GTEST_SKIP() << "no io_uring here: " << batch.error().message;
  }
  char buf[2][32];
  std::vector<BatchRead> reads(2);
  for (size_t i = 0; i < 2; ++i) {
    reads[i].slot = i;
    reads[i].buf = buf[i];
    reads[i].len = sizeof buf[i];
  }
  (*batch)->Read(reads);
  char expect[32];
  ssize_t n = ::pread(fds[0], expect, sizeof expect, 0);
  ASSERT_GT(n, 0);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_GT(reads[i].result, 0) << "a kernfs read answered " << reads[i].result;
    int err = 0;
    EXPECT_EQ(ParseCounterRead(buf[i], static_cast<size_t>(reads[i].result), &err),
              ParseCounterRead(expect, static_cast<size_t>(n), &err));
  }
  EXPECT_EQ(IoWorkerThreads(), 0);
  batch = Nothing("closed");
  for (int fd : fds) ::close(fd);
}

}  // namespace
}  // namespace smaragdine
