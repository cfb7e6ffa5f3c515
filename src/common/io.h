// io.h — reading and writing whole files, with gzip detected by magic bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/output_file.h"
#include "smaragdine/status.h"

namespace smaragdine {

// Bounds on what reading an input may cost, whatever the input is
// (docs/security.md, "Inputs that do not end"). Every input smaragdine reads is
// text (JSON or CSV), plain or gzip-compressed; content that cannot be such
// text fails within the first chunk instead of being read to its end.
struct ReadLimits {
  // A FIFO, a device, a /proc file, or a regular file that keeps growing while
  // it is read: at most this many bytes beyond its size when opened.
  uint64_t stream_max_bytes = uint64_t{4} << 30;
  // Inflated gzip may be at most this many times the compressed bytes inflate
  // has consumed so far, plus `gzip_floor_bytes`. Real traces and profiles
  // inflate 4-16x (tests/data); DEFLATE's worst case, long runs of one byte,
  // is about 1030x. Checked as it inflates, so a bomb stops after a few MB.
  uint64_t gzip_max_ratio = 200;
  uint64_t gzip_floor_bytes = uint64_t{4} << 20;
  // JSON and CSV text has no NUL byte: one within this many bytes of the
  // start (of the plain or inflated text) fails the read at once.
  size_t text_check_bytes = size_t{1} << 16;
};

// Reads a file; if it starts with the gzip magic (1f 8b) it is inflated.
// `spare_bytes`: capacity kept free after a plain file's bytes (a parser's
// padding), so the caller need not copy them; inflated text gets none.
// Errors: kBadInput naming the file and the byte where reading stopped:
// missing, unreadable, corrupt or truncated gzip; a NUL byte (binary data: no
// JSON or CSV has one) in the first 64 KiB; a stream past
// `stream_max_bytes`; gzip inflating beyond `gzip_max_ratio`.
Result<std::string> ReadFileMaybeGzip(const std::string& path, size_t spare_bytes = 0,
                                      const ReadLimits& limits = {});
// Inflates gzip bytes already in memory (`name` for messages), with the same
// ratio limit and NUL check on the inflated text.
Result<std::string> Gunzip(const std::string& name, std::string_view bytes,
                           const ReadLimits& limits = {});
bool LooksGzipped(std::string_view bytes);

// Writes all of `bytes` to `fd`, retrying short writes and EINTR. False on
// any other failure, with errno saying why.
bool WriteAll(int fd, std::string_view bytes);

// Writing files (WriteFileAtomic, AtomicFile, CheckOutput): common/output_file.h.

}  // namespace smaragdine
