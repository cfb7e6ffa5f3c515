#include "energy/row_log.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/io.h"

namespace smaragdine {

RowLog::~RowLog() {
  if (fd_ >= 0) ::close(fd_);
}

bool RowLog::Append(std::string_view rows) {
  if (fd_ < 0 || rows.empty()) return fd_ >= 0;
  if (WriteAll(fd_, rows)) {
    bytes_ += static_cast<int64_t>(rows.size());
    return true;
  }
  Fail(errno);
  (void)!::ftruncate(fd_, bytes_);
  return false;
}

void RowLog::Close() {
  if (fd_ < 0) return;
  // EINVAL: a file that cannot be synced, such as a pipe, has nothing to make durable.
  const int sync_err = ::fsync(fd_) == 0 || errno == EINVAL ? 0 : errno;
  const int close_err = ::close(fd_) == 0 ? 0 : errno;
  fd_ = -1;
  if (sync_err != 0 || close_err != 0) Fail(sync_err != 0 ? sync_err : close_err);
}

void RowLog::Fail(int err) {
  ++errors_;
  if (first_error_.empty()) first_error_ = std::strerror(err);
}

void RowLog::ReportFailures(Diagnostics& diagnostics, const char* name, const std::string& path,
                            const char* what) const {
  if (errors_ == 0) return;
  diagnostics.Add(name, errors_);
  diagnostics.Warn(fmt::format("{}: writing the {} failed: {}", path, what, first_error_));
}

}  // namespace smaragdine
