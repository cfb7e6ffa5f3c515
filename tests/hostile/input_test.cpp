// Inputs that do not end (issue 17, item 3): /dev/zero as a trace, an energy
// log or a profile; a sparse file of zeros; a FIFO that keeps writing; a gzip
// bomb. Each must fail fast, in little memory, naming the file; before, each
// was read (or inflated) whole until memory ran out. docs/security.md says what
// each case does.
//
// The CLI runs go through `sh -c 'ulimit -v …; exec timeout 10 …'` so that the
// old code fails the test (killed, or out of memory) instead of filling the
// shared machine's memory.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/io.h"
#include "record/record_test_util.h"

namespace smaragdine {
namespace {

using ::testing::HasSubstr;
using testing::Ran;
using testing::TempDir;

const std::string kExample = std::string(SMARAGDINE_TEST_DATA) + "/../../examples/bert-small";
const std::string kTrace = kExample + "/pt2_bert-small_h100_inference.pt.trace.json.gz";

// smaragdine with `args` under 2 GiB of address space and 10 s.
Ran Bounded(const std::vector<std::string>& args, const std::string& dir) {
  std::string cmd = "ulimit -v 2097152; exec /usr/bin/timeout 10 '" + std::string(SMARAGDINE_BINARY) + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  return testing::Run({"/bin/sh", "-c", cmd}, dir);
}

// Runs `fn` in a child under a 1 GiB address-space cap and a 10 s alarm; the
// child exits with fn's value (0 = as expected), or 9 when fn took over
// `max_seconds` of wall time.
int InChild(const std::function<int()>& fn, double max_seconds) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    struct rlimit as {1ul << 30, 1ul << 30};
    ::setrlimit(RLIMIT_AS, &as);
    ::alarm(10);
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::_exit(rc != 0 ? rc : s > max_seconds ? 9 : 0);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// One gzip member holding `plain`.
std::string GzipMember(const std::string& plain) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, plain.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// 1 GiB of `byte` as 64 concatenated gzip members of 16 MiB each (legal gzip;
// about 1 MB on disk): what the probe's 4.7 MB gzip of zeros inflated to.
std::string GzipBomb(char byte) {
  const std::string member = GzipMember(std::string(size_t{16} << 20, byte));
  std::string bomb;
  for (int i = 0; i < 64; ++i) bomb += member;
  return bomb;
}

// Opens a FIFO for writing once a reader has it open (within 10 s; -1 if none
// came), without blocking forever when the reader failed before opening it.
int OpenFifoWriter(const std::string& fifo) {
  for (int i = 0; i < 1000; ++i) {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return fd;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

// SIGPIPE blocked in the calling (writer) thread only: a write after the
// reader is gone fails with EPIPE, and the test process's disposition (which
// record's children would inherit) is left alone.
void BlockSigpipeInThisThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Before: read until memory ran out (an abort under the cap, or killed by timeout).
TEST(HostileInputTest, DevZeroFailsFastAsATraceAnEnergyLogAndAProfile) {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {{"report", "/dev/zero"}},
      {{"account", "--energy", kExample + "/run", "--trace", "/dev/zero", "-q", "-o",
        tmp.path() + "/p.json"}},
      {{"account", "--energy", "/dev/zero", "--trace", kTrace, "-q", "-o", tmp.path() + "/p.json"}},
  };
  for (const Case& c : cases) {
    const auto t0 = std::chrono::steady_clock::now();
    Ran r = Bounded(c.args, tmp.path());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.status, 2) << c.args[0] << " " << c.args[1] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("/dev/zero")) << c.args[1];
    EXPECT_THAT(r.err, HasSubstr("binary data: a NUL byte")) << c.args[1];
    EXPECT_LT(s, 5.0) << c.args[1];
  }
}

// A regular file that says it is 64 GiB (sparse: zeros) is judged by its
// first chunk. Before: a string of its size was reserved (an abort under the cap).
TEST(HostileInputTest, HugeSparseFileOfZerosFailsAtItsFirstChunk) {
  TempDir tmp;
  const std::string path = tmp.path() + "/sparse.json";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{64} << 30), 0);
  ::close(fd);
  Ran r = Bounded({"report", path}, tmp.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(path + ": at byte 0: binary data"));
}

// A plain trace file is mapped (ParseMapped, MAP_POPULATE), not read through
// ReadFileMaybeGzip; it gets the same judgement of its first 64 KiB. Before,
// the whole file was populated and the JSON parser failed on it with its own
// message; a 64 GiB sparse --trace was brought in whole first.
TEST(HostileInputTest, MappedPlainTraceWithANulIsJudgedLikeEveryInput) {
  TempDir tmp;
  const std::string zeros = tmp.path() + "/zeros.json";
  WriteBytes(zeros, std::string(size_t{1} << 20, '\0'));
  const std::string late = tmp.path() + "/late.json";
  WriteBytes(late, "{\"traceEvents\": [" + std::string(1000, ' ') + std::string(1, '\0') + "]}");
  for (const std::string& trace : {zeros, late}) {
    Ran r = Bounded({"account", "--energy", kExample + "/run", "--trace", trace, "-q", "-o",
                     tmp.path() + "/p.json"},
                    tmp.path());
    EXPECT_EQ(r.status, 2) << trace << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(trace + ": at byte ")) << r.err;
    EXPECT_THAT(r.err, HasSubstr("binary data: a NUL byte")) << r.err;
  }
  const std::string sparse = tmp.path() + "/sparse.json";
  const int fd = ::open(sparse.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{64} << 30), 0);
  ::close(fd);
  Ran r = Bounded({"account", "--energy", kExample + "/run", "--trace", sparse, "-q", "-o",
                   tmp.path() + "/p.json"},
                  tmp.path());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(sparse + ": at byte 0: binary data"));
}

// A gzip bomb stops after a few MB and well under a second, naming the file.
// Before: 1 GiB was inflated whole (an abort under the 1 GiB cap) and then
// failed "at byte 0".
TEST(HostileInputTest, GzipBombFailsFastInLittleMemory) {
  TempDir tmp;
  const std::string zeros = tmp.path() + "/zeros.json.gz";
  const std::string brackets = tmp.path() + "/brackets.json.gz";
  WriteBytes(zeros, GzipBomb('\0'));
  WriteBytes(brackets, GzipBomb('['));
  // Zeros: the NUL check on the first inflated chunk.
  EXPECT_EQ(InChild(
                [&] {
                  Result<std::string> r = ReadFileMaybeGzip(zeros);
                  if (r.ok()) return 1;
                  if (r.error().file != zeros) return 2;
                  return r.error().message.find("NUL byte in the inflated text") !=
                                 std::string::npos
                             ? 0
                             : 3;
                },
                1.0),
            0);
  // Not zeros, no NUL: the ratio limit, checked as it inflates.
  EXPECT_EQ(InChild(
                [&] {
                  Result<std::string> r = ReadFileMaybeGzip(brackets);
                  if (r.ok()) return 1;
                  return r.error().message.find("inflates to more than 200 times") !=
                                 std::string::npos
                             ? 0
                             : 3;
                },
                1.0),
            0);
  // In little memory: the peak resident size grows by under 64 MiB (the limit
  // stops inflating after about 5 MiB).
  EXPECT_EQ(InChild(
                [&] {
                  struct rusage before {}, after {};
                  ::getrusage(RUSAGE_SELF, &before);
                  if (ReadFileMaybeGzip(brackets).ok()) return 1;
                  ::getrusage(RUSAGE_SELF, &after);
                  return after.ru_maxrss - before.ru_maxrss < 64 * 1024 ? 0 : 4;  // KiB
                },
                1.0),
            0);
  // Through the CLI: exit 2 naming the file.
  for (const std::string& path : {zeros, brackets}) {
    Ran r = Bounded({"report", path}, tmp.path());
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(path)) << r.err;
  }
  // Real compressed inputs still read (ratios 4-16).
  Result<std::string> trace = ReadFileMaybeGzip(kTrace);
  ASSERT_TRUE(trace.ok()) << trace.error().message;
  EXPECT_GT(trace->size(), 1000000u);
}

// A FIFO, a device or a /proc file is read as a stream to its end, within a
// cap: a writer that never stops fails the read at the cap.
TEST(HostileInputTest, FifoIsAStreamReadWithinACap) {
  TempDir tmp;
  const std::string fifo = tmp.path() + "/endless.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    BlockSigpipeInThisThread();
    const int fd = OpenFifoWriter(fifo);
    if (fd < 0) return;
    const std::string chunk = [] {
      std::string s = "[";
      while (s.size() < 4096) s += "1,";
      return s;
    }();
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ::close(fd);
  });
  ReadLimits limits;
  limits.stream_max_bytes = uint64_t{1} << 20;
  Result<std::string> r = ReadFileMaybeGzip(fifo, 0, limits);
  writer.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, fifo);
  EXPECT_THAT(r.error().message, HasSubstr("1.0 MiB read and no end yet"));
  EXPECT_THAT(r.error().message, HasSubstr("give a regular file"));

  // A FIFO that ends is read whole: a profile through `report`.
  const std::string profile_fifo = tmp.path() + "/profile.json";
  ASSERT_EQ(::mkfifo(profile_fifo.c_str(), 0600), 0);
  std::thread feeder([&] {
    BlockSigpipeInThisThread();
    const std::string text = testing::ReadText(std::string(SMARAGDINE_TEST_DATA) +
                                               "/profiles/bert_small.json");
    const int fd = OpenFifoWriter(profile_fifo);
    if (fd < 0) return;
    (void)WriteAll(fd, text);
    ::close(fd);
  });
  Ran rep = Bounded({"report", profile_fifo}, tmp.path());
  feeder.join();
  EXPECT_EQ(rep.status, 0) << rep.err;
  EXPECT_THAT(rep.out, HasSubstr("bert"));

  // A /proc file (size 0, but not empty) is read as a stream too.
  Result<std::string> status = ReadFileMaybeGzip("/proc/self/status");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_THAT(*status, HasSubstr("Pid:"));
}

}  // namespace
}  // namespace smaragdine
