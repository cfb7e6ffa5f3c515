// io.h — reading and writing whole files, with gzip detected by magic bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/output_file.h"
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

// Writing files (WriteFileAtomic, AtomicFile, CheckOutput): common/output_file.h.

}  // namespace smaragdine
