// io.h — reading and writing whole files, with gzip detected by magic bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "smaragdine/status.h"

namespace smaragdine {

// Reads a file; if it starts with the gzip magic (1f 8b) it is inflated.
// `spare_bytes`: capacity kept free after a plain file's bytes (a parser's
// padding), so the caller need not copy them; inflated text gets none.
// Errors: kBadInput naming the file (missing, unreadable, corrupt or truncated gzip).
Result<std::string> ReadFileMaybeGzip(const std::string& path, size_t spare_bytes = 0);
// Inflates gzip bytes already in memory (`name` for messages).
Result<std::string> Gunzip(const std::string& name, std::string_view bytes);
bool LooksGzipped(std::string_view bytes);

// Writes all of `bytes` to `fd`, retrying short writes and EINTR. False on
// any other failure, with errno saying why.
bool WriteAll(int fd, std::string_view bytes);

// Writes atomically: to a temporary file beside `path`, then rename.
Status WriteFileAtomic(const std::string& path, std::string_view contents);

// The same in pieces, for output too large to hold in memory at once:
//   SMG_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::Create(path));
//   SMG_RETURN_IF_ERROR(f.Write(piece));  …
//   SMG_RETURN_IF_ERROR(f.Commit());      // renames over `path`
// Destroyed without Commit() (an error on the way), it removes the temporary
// file and leaves `path` as it was. Errors: kBadInput naming `path`.
class AtomicFile {
 public:
  static Result<AtomicFile> Create(const std::string& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();
  Status Write(std::string_view bytes);
  Status Commit();

 private:
  AtomicFile(std::string path, std::string tmp, int fd)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}
  std::string path_, tmp_;
  int fd_ = -1;  // -1 once committed or moved from
};

}  // namespace smaragdine
