#include "common/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace smaragdine {

bool LooksGzipped(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

Result<std::string> Gunzip(const std::string& name, std::string_view bytes) {
  z_stream zs{};
  // 16 + MAX_WBITS: expect a gzip header (not raw zlib).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Internal("zlib: inflateInit2 failed");
  std::string out;
  out.resize(std::max<size_t>(bytes.size() * 4, 1 << 16));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  size_t produced = 0;
  int rc = Z_OK;
  while (true) {
    if (produced == out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are legal; continue with the next one.
      if (zs.avail_in > 0 && LooksGzipped(std::string_view(
                                 reinterpret_cast<const char*>(zs.next_in), zs.avail_in))) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      size_t offset = bytes.size();
      inflateEnd(&zs);
      return BadInput(name, "truncated gzip data (the file ends inside the compressed stream)",
                      -1, static_cast<int64_t>(offset));
    }
    if (rc == Z_BUF_ERROR) continue;  // output full: grow and go on
    size_t offset = bytes.size() - zs.avail_in;
    std::string why = zs.msg ? zs.msg : "corrupt data";
    inflateEnd(&zs);
    return BadInput(name, fmt::format("corrupt gzip data: {}", why), -1,
                    static_cast<int64_t>(offset));
  }
  inflateEnd(&zs);
  out.resize(produced);
  return out;
}

Result<std::string> ReadFileMaybeGzip(const std::string& path, size_t spare_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return BadInput(path, fmt::format("cannot open: {}", std::strerror(errno)));
  // A regular file is read in one go into a string of its size (growing by
  // appends would hold up to twice the file); a pipe, or a file that grew,
  // is read on to its end.
  struct stat st {};
  size_t expected = 0;
  if (::fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) expected = st.st_size;
  std::string data;
  data.reserve(expected + spare_bytes);
  data.resize(expected);
  size_t n = std::fread(data.data(), 1, expected, f);
  data.resize(n);
  if (n == expected) {
    char buf[1 << 16];
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  }
  bool failed = std::ferror(f);
  int err = errno;
  std::fclose(f);
  if (failed) return BadInput(path, fmt::format("cannot read: {}", std::strerror(err)));
  if (LooksGzipped(data)) return Gunzip(path, data);
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
