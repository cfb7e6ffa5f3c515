// sysfs_util.h — small helpers shared by the kernel-interface sources.
//
// Reading a sysfs attribute, listing a directory, parsing "0-3,8" CPU lists,
// and unwrapping a cumulative counter. The system calls on counter files go
// through SysIo so tests can make a fake tree behave like the kernel (a
// removed kernfs node reads ENODEV; root ignores file modes).
//
//   SysIo io;  // the real calls
//   FileText t = ReadFileText(io, "/sys/class/powercap/intel-rapl:0/name");
//   if (t.err == 0) use(Trim(t.text));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/diagnostics.h"
#include "smaragdine/energy_log.h"
#include "smaragdine/sources.h"
#include "smaragdine/status.h"

namespace smaragdine {

// One read of a ReadBatch: up to `len` bytes at `offset` of the batch's file
// number `slot` (its index in the fds the batch was opened with) into `buf`.
// `result` comes back as the byte count or −errno.
struct BatchRead {
  size_t slot = 0;
  void* buf = nullptr;
  size_t len = 0;
  off_t offset = 0;
  ssize_t result = 0;
};

// Reads several held-open files with one system call (io_uring): a 1 kHz
// sampler of six counters then enters the kernel once per pass, not six times.
// A read the kernel cannot do inline comes back −EAGAIN instead of going to a
// kernel worker thread; the caller reads that file with pread.
class ReadBatch {
 public:
  virtual ~ReadBatch() = default;
  // Sets every reads[i].result.
  virtual void Read(std::span<BatchRead> reads) = 0;
};

// An io_uring ReadBatch over `fds` (held open by the caller, registered with
// the ring), or why there is none: built without liburing, io_uring disabled
// (kernel.io_uring_disabled), filtered (seccomp), or a kernel without it.
Result<std::unique_ptr<ReadBatch>> OpenUringReadBatch(const std::vector<int>& fds);

// The syscalls a source makes on counter files. Defaults are the libc calls;
// each returns what libc returns and sets errno the same way.
struct SysIo {
  int (*open)(const char* path, int flags);
  ssize_t (*pread)(int fd, void* buf, size_t n, off_t offset);
  int (*close)(int fd);
  int64_t (*now_ns)();  // CLOCK_MONOTONIC: the interval a counter is unwrapped over
  // Batches a pass's counter reads (OpenUringReadBatch by default); nullptr, or
  // an error from it, means one pread per read. The io_uring batch reads the
  // files itself, so a session uses it only while `pread` is libc's: a SysIo
  // with a fake pread reads through its fake unless it sets its own open_batch.
  Result<std::unique_ptr<ReadBatch>> (*open_batch)(const std::vector<int>& fds);
  SysIo();
};

// A whole small file, or the errno that stopped reading it.
struct FileText {
  std::string text;
  int err = 0;  // 0 on success
};
FileText ReadFileText(const SysIo& io, const std::string& path);
// The file's text trimmed, or nullopt when it cannot be read (attributes whose
// absence is normal: labels, optional files).
std::optional<std::string> ReadTrimmed(const SysIo& io, const std::string& path);

std::string_view Trim(std::string_view s);
// Decimal (or 0x-prefixed hex with base 0) unsigned integer filling all of `s`.
std::optional<uint64_t> ParseU64(std::string_view s, int base = 10);
// "0-3,8,10" → {0,1,2,3,8,10}; nullopt when malformed.
std::optional<std::vector<int>> ParseCpuList(std::string_view s);
// Entry names of a directory (no "." and ".."), sorted; empty when it cannot be listed.
std::vector<std::string> ListDir(const std::string& dir, int* err = nullptr);
bool IsDir(const std::string& path);
// The DomainInfo of a CPU package counter whose domain is "cpu:N/…": device
// "CPU:N", energy from `source`, `resolution_j` the smallest step it shows.
DomainInfo CpuCounterInfo(const std::string& domain, const std::string& source,
                          double resolution_j);
// "cpu:N/…" → "CPU:N".
std::string CpuDeviceOf(const std::string& domain);

// RAPL updates its energy status counters about once a millisecond (Intel's
// SDM vol. 3B on MSR_PKG_ENERGY_STATUS: "updated every ~1msec"; Hähnel et al.
// 2012 measured the same). No register holds the period, so this is nominal;
// `account` estimates period and phase from the readings.
inline constexpr int64_t kRaplNominalUpdateNs = 1'000'000;
// Marks `info` as a RAPL energy counter read through `field` ("energy_uj",
// "MSR_PKG_ENERGY_STATUS 0x611", "perf power/energy-pkg/"): kind counter,
// update_interval_ns = `update_ns`, `note` saying where the figures come from.
void SetRaplCounterMeter(DomainInfo& info, std::string field, int64_t update_ns, std::string note);
// strerror text with the errno name: "Permission denied (EACCES)".
std::string ErrnoText(int err);

// Reads the decimal counter in a held-open sysfs file with one pread at offset
// 0 (kernfs re-renders the value on each read at offset 0). nullopt on any
// failure, with *err set (EIO when the text is not a number).
std::optional<uint64_t> PreadU64(const SysIo& io, int fd, int* err);
// The counter in the `n` bytes a read of such a file returned (n ≥ 0):
// nullopt with *err ENODATA when empty, EIO when not a number.
std::optional<uint64_t> ParseCounterRead(const char* buf, size_t n, int* err);

// Turns raw readings of a counter that wraps at `range` raw units into joules
// since the first reading.
//
//   raw ──┐        ┌── wrap: delta = raw + range − last
//         └──/|──/─┘
//
// At most one wrap fits in an interval only when it is shorter than
// range × unit_j / kMaxPlausiblePowerW; a longer interval yields NaN (with
// `sources.interval_too_long`) and the count goes on from the new raw value.
// range 0 means unknown: any decrease yields NaN (`sources.counter_decreased`).
class CounterUnwrapper {
 public:
  // 2 kW: above any CPU package or DRAM domain today (the largest server parts
  // are rated near 500 W), so an interval below range/2 kW holds at most one wrap.
  static constexpr double kMaxPlausiblePowerW = 2000.0;

  CounterUnwrapper() = default;
  CounterUnwrapper(uint64_t first_raw, int64_t first_t_ns, uint64_t range, double unit_j);
  // Cumulative joules since the first reading, or NaN (cause counted in diag).
  double Update(uint64_t raw, int64_t t_ns, Diagnostics& diag);
  double total_j() const { return total_j_; }

 private:
  uint64_t last_raw_ = 0;
  int64_t last_t_ns_ = 0;
  uint64_t range_ = 0;
  double unit_j_ = 1.0;
  int64_t max_interval_ns_ = 0;  // 0 = no limit (range unknown)
  double total_j_ = 0;
};

// How one domain of a FileCounterSession is read.
struct CounterChannel {
  enum class Kind {
    kDecimalEnergy,  // a decimal counter file (energy_uj, energyN_input): raw × unit_j, unwrapped
    kDecimalPower,   // a decimal power file (powerN_input in µW): raw × unit_w, not cumulative
    kMsrEnergy,      // 8 bytes at `offset` of a /dev/cpu/N/msr file, low 32 bits, unwrapped
  };
  DomainInfo info;
  std::string path;     // the file opened (and named in messages)
  Kind kind = Kind::kDecimalEnergy;
  off_t offset = 0;     // kMsrEnergy: the register address
  double unit = 1e-6;   // J per raw unit (energy) or W per raw unit (power)
  uint64_t range = 0;   // the raw value the counter wraps at; 0 = unknown
};

// Opens every channel's file; on failure names the file and the errno
// (kNothingMeasurable). The session holds the files open and reads each with
// one pread per Read, or, with two or more decimal channels and io.open_batch,
// all of them with one ReadBatch per Read (set up on the first Read, in the
// sampling thread); a file whose batched read would block is read with pread
// from then on, and a batched read that fails is read again with pread, whose
// outcome counts. A channel whose read fails is NaN from then on, counted
// once as `sources.read_failed` with a warning, and the others go on.
Result<std::unique_ptr<SamplingSession>> OpenFileCounterSession(
    const SysIo& io, std::string source_name, std::vector<CounterChannel> channels);

// Diagnostic names the sources count (documented in docs/sources.md).
inline constexpr std::string_view kDiagReadFailed = "sources.read_failed";
inline constexpr std::string_view kDiagIntervalTooLong = "sources.interval_too_long";
inline constexpr std::string_view kDiagCounterDecreased = "sources.counter_decreased";
inline constexpr std::string_view kDiagCounterWrapped = "sources.counter_wrapped";

}  // namespace smaragdine
