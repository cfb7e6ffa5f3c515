// row_log.h — a log file that only grows by whole rows (energy.csv, cputime.csv).
//
// The sampler and the CPU-time recorder stream rows while the measured program
// runs. Each flush is one write(2), so what was written survives a SIGKILL of
// `record` (the page cache has it); a write that fails part-way (a full disk) is
// cut back to the last whole row, so rows written once the disk has room again
// never follow a torn one (the readers reject a torn row in the middle of a
// file). Failures are counted, not fatal: the run goes on, and `record` fails
// at the end naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "smaragdine/diagnostics.h"

namespace smaragdine {

class RowLog {
 public:
  RowLog() = default;
  // Takes `fd`, an empty file opened for appending; closed by Close() or the destructor.
  explicit RowLog(int fd) : fd_(fd) {}
  RowLog(const RowLog&) = delete;
  RowLog& operator=(const RowLog&) = delete;
  ~RowLog();

  bool open() const { return fd_ >= 0; }
  // Appends whole rows in one write; false (and counted) when it failed.
  bool Append(std::string_view rows);
  // fsync (the readings are the run: on disk before record says it is
  // finalised) and close; a failure of either is counted. Idempotent.
  void Close();

  int64_t bytes() const { return bytes_; }    // the size after the last whole write
  int64_t errors() const { return errors_; }  // failed writes, syncs and closes
  const std::string& first_error() const { return first_error_; }  // strerror text
  // The failures, if any, as `diagnostics` counts them: `name` counted errors()
  // times and one warning, "PATH: writing the WHAT failed: ERROR" (`what`: "energy
  // log"), so the sampler and the CPU-time recorder report theirs alike.
  void ReportFailures(Diagnostics& diagnostics, const char* name, const std::string& path,
                      const char* what) const;

 private:
  void Fail(int err);

  int fd_ = -1;
  int64_t bytes_ = 0;
  int64_t errors_ = 0;
  std::string first_error_;
};

}  // namespace smaragdine
