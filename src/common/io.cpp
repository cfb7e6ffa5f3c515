#include "common/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

namespace smaragdine {
namespace {

// Reads and checks go a chunk at a time: a stream that cannot be a document
// fails after its first chunk, and inflating never outruns its limit by more.
constexpr size_t kChunkBytes = size_t{1} << 16;
constexpr size_t kInflateStepBytes = size_t{1} << 20;

std::string SizeText(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30) && bytes % (uint64_t{1} << 30) == 0)
    return fmt::format("{} GiB", bytes >> 30);
  if (bytes >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", bytes / 1048576.0);
  if (bytes >= (uint64_t{1} << 10)) return fmt::format("{:.1f} KiB", bytes / 1024.0);
  return fmt::format("{} bytes", bytes);
}

// Every input smaragdine reads is JSON or CSV text, which never holds a NUL
// byte: one in the first limits.text_check_bytes of the (plain or inflated)
// text ends reading there (/dev/zero, /dev/urandom, a sparse file, a bomb of
// zeros), before the rest is read or inflated. Later NULs are the parsers'
// to report (a file torn by a crash may end in zeros). `what` says which
// bytes these are, for the message.
Status CheckTextStart(const std::string& name, std::string_view start, const ReadLimits& limits,
                      std::string_view what) {
  start = start.substr(0, limits.text_check_bytes);
  if (const void* nul = std::memchr(start.data(), '\0', start.size())) {
    const int64_t at = static_cast<const char*>(nul) - start.data();
    return BadInput(name,
                    fmt::format("binary data: a NUL byte{}; smaragdine reads JSON and CSV text "
                                "(plain or gzip-compressed), which never holds one",
                                what),
                    -1, at);
  }
  return {};
}

// read(2) until `n` bytes or the end, retrying EINTR. -1 on an error (errno set).
ssize_t ReadUpTo(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

bool LooksGzipped(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

Result<std::string> Gunzip(const std::string& name, std::string_view bytes,
                           const ReadLimits& limits) {
  z_stream zs{};
  // 16 + MAX_WBITS: expect a gzip header (not raw zlib).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Internal("zlib: inflateInit2 failed");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  std::string out;
  // Start at the usual ratio; the output grows by doubling, never past what
  // the ratio limit allows for the input consumed so far (plus one step).
  out.resize(std::clamp<size_t>(bytes.size() * 4, kChunkBytes, kInflateStepBytes * 16));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  // zlib counts in uInt: feed a larger buffer a piece at a time.
  size_t fed = 0;
  auto feed = [&] {
    if (zs.avail_in == 0 && fed < bytes.size()) {
      const size_t n = std::min<size_t>(bytes.size() - fed, size_t{1} << 30);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + fed));
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
  };
  auto consumed = [&] { return static_cast<uint64_t>(fed - zs.avail_in); };
  size_t produced = 0;
  bool start_checked = false;
  while (true) {
    feed();
    if (produced == out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(std::min(out.size() - produced, kInflateStepBytes));
    const uInt offered = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    produced += offered - zs.avail_out;
    // The bomb checks come first: they hold whatever inflate says next.
    if (!start_checked && (produced >= limits.text_check_bytes || rc == Z_STREAM_END)) {
      SMG_RETURN_IF_ERROR(CheckTextStart(name, std::string_view(out.data(), produced), limits,
                                         " in the inflated text"));
      start_checked = true;
    }
    const uint64_t allowed = limits.gzip_floor_bytes + limits.gzip_max_ratio * consumed();
    if (produced > allowed)
      return BadInput(
          name,
          fmt::format("gzip data inflates to more than {} times its compressed size ({} from the "
                      "first {}): a decompression bomb, or data too repetitive to be a trace, "
                      "energy log or profile; if it is one, decompress it (gunzip) and give the "
                      "plain file, which has no such limit",
                      limits.gzip_max_ratio, SizeText(produced), SizeText(consumed())),
          -1, static_cast<int64_t>(consumed()));
    if (rc == Z_STREAM_END) {
      feed();
      // Concatenated gzip members are legal; continue with the next one.
      if (zs.avail_in > 0 && LooksGzipped(std::string_view(
                                 reinterpret_cast<const char*>(zs.next_in), zs.avail_in))) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed == bytes.size())
      return BadInput(name, "truncated gzip data (the file ends inside the compressed stream)",
                      -1, static_cast<int64_t>(bytes.size()));
    if (rc == Z_BUF_ERROR) continue;  // output full: grow and go on
    std::string why = zs.msg ? zs.msg : "corrupt data";
    return BadInput(name, fmt::format("corrupt gzip data: {}", why), -1,
                    static_cast<int64_t>(consumed()));
  }
  if (!start_checked)
    SMG_RETURN_IF_ERROR(CheckTextStart(name, std::string_view(out.data(), produced), limits,
                                       " in the inflated text"));
  out.resize(produced);
  return out;
}

Result<std::string> ReadFileMaybeGzip(const std::string& path, size_t spare_bytes,
                                      const ReadLimits& limits) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return BadInput(path, fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0)
    return BadInput(path, fmt::format("cannot read: {}", std::strerror(errno)));
  // A regular file's size says how much to expect (its bytes go into a string
  // of that size: growing by appends would hold up to twice the file). A FIFO,
  // a device or a /proc file (size 0) is a stream: read on to its end, which
  // may never come (/dev/zero), so within a cap; so is a file that grows.
  const bool regular = S_ISREG(st.st_mode);
  const uint64_t expected = regular && st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
  const uint64_t cap = expected + limits.stream_max_bytes;
  auto cannot_read = [&](int err) {
    return BadInput(path, fmt::format("cannot read: {}", std::strerror(err)));
  };

  // The first chunk decides: gzip, or text that can start a document.
  std::string data;
  data.resize(kChunkBytes);
  ssize_t n = ReadUpTo(f.fd, data.data(), data.size());
  if (n < 0) return cannot_read(errno);
  data.resize(static_cast<size_t>(n));
  const bool at_end = static_cast<size_t>(n) < kChunkBytes;
  const bool gzipped = LooksGzipped(data);
  if (!gzipped) SMG_RETURN_IF_ERROR(CheckTextStart(path, data, limits, ""));
  if (!at_end) {
    try {
      data.reserve(std::max<uint64_t>(expected, data.size()) + (gzipped ? 0 : spare_bytes));
    } catch (const std::exception&) {  // bad_alloc, length_error: a size no memory holds
      return BadInput(path, fmt::format("{}: too large to hold in memory", SizeText(expected)));
    }
    // The rest of a regular file in one read into place, then anything past
    // its size (it grew, or it is a stream) a chunk at a time.
    if (expected > data.size()) {
      const size_t have = data.size();
      data.resize(expected);
      n = ReadUpTo(f.fd, data.data() + have, expected - have);
      if (n < 0) return cannot_read(errno);
      data.resize(have + static_cast<size_t>(n));
    }
    if (data.size() >= expected) {
      char buf[kChunkBytes];
      while ((n = ReadUpTo(f.fd, buf, sizeof buf)) > 0) {
        if (data.size() + static_cast<size_t>(n) > cap)
          return BadInput(
              path,
              fmt::format("{} read {}and no end yet: smaragdine reads at most that much from a "
                          "FIFO, device or /proc file (or past a file's size as it grows); give "
                          "a regular file",
                          SizeText(cap - expected), regular ? "beyond its size " : ""),
              -1, static_cast<int64_t>(data.size()));
        data.append(buf, static_cast<size_t>(n));
      }
      if (n < 0) return cannot_read(errno);
    }
  }
  if (gzipped) return Gunzip(path, data, limits);
  return data;
}

bool WriteAll(int fd, std::string_view bytes) {
  const char* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t w = ::write(fd, data, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    left -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace smaragdine
