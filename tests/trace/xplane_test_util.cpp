// Protobuf bytes for the XPlane tests (xplane_test_util.h).
#include "trace/xplane_test_util.h"

#include <zlib.h>

#include <cstring>

namespace smaragdine::testing {

void Pb::Raw(uint64_t v) {
  while (v >= 0x80) {
    bytes_ += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  bytes_ += static_cast<char>(v);
}

Pb& Pb::Varint(uint32_t field, uint64_t v) {
  Raw(uint64_t{field} << 3);
  Raw(v);
  return *this;
}

Pb& Pb::Fixed64(uint32_t field, uint64_t v) {
  Raw((uint64_t{field} << 3) | 1);
  char b[8];
  std::memcpy(b, &v, 8);
  bytes_.append(b, 8);
  return *this;
}

Pb& Pb::Bytes(uint32_t field, std::string_view b) {
  Raw((uint64_t{field} << 3) | 2);
  Raw(b.size());
  bytes_.append(b);
  return *this;
}

std::string Gzip(std::string_view bytes) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, bytes.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace smaragdine::testing
