// Building protobuf bytes in tests: XSpaces with exactly the fields (and the
// damage) a test needs, without a .proto or protoc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smaragdine::testing {

// One message's bytes, field by field, in the order written.
//   Pb().Varint(1, 7).Bytes(2, "main").Message(4, Pb().Varint(1, 1)).str()
class Pb {
 public:
  Pb& Varint(uint32_t field, uint64_t v);
  Pb& Fixed64(uint32_t field, uint64_t v);
  Pb& Bytes(uint32_t field, std::string_view b);
  Pb& Message(uint32_t field, const Pb& m) { return Bytes(field, m.str()); }
  const std::string& str() const { return bytes_; }

 private:
  void Raw(uint64_t v);
  std::string bytes_;
};

// `bytes` gzip-compressed (as `gzip` writes them).
std::string Gzip(std::string_view bytes);

}  // namespace smaragdine::testing
