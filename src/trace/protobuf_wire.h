// protobuf_wire.h — the protobuf wire format, read in place over bytes in memory.
//
// The XPlane reader (xplane_reader.h) walks XSpace messages with this instead
// of libprotobuf: no generated code, no message objects (a field's bytes are
// a view into the input), and every length is checked against the bytes that
// remain before anything is read, so a corrupt or hostile length prefix (2 GB
// in a 1 KB file) is an error with its byte offset, never an allocation.
//
//   WireReader r(bytes, /*base=*/0);
//   WireField f;
//   while (r.Next(&f)) {
//     if (f.number == 1 && f.type == WireType::kLen) Plane(f.bytes, f.payload_offset);
//   }
//   if (r.failed()) return BadInput(name, r.error(), -1, r.error_offset());
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace smaragdine::trace_internal {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,  // length-delimited: bytes, strings, messages, packed repeated
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

inline const char* WireTypeName(WireType t) {
  switch (t) {
    case WireType::kVarint:
      return "varint";
    case WireType::kFixed64:
      return "fixed64";
    case WireType::kLen:
      return "length-delimited";
    case WireType::kStartGroup:
      return "start-group";
    case WireType::kEndGroup:
      return "end-group";
    case WireType::kFixed32:
      return "fixed32";
  }
  return "invalid";
}

struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t value = 0;         // kVarint, kFixed64, kFixed32: the raw value
  std::string_view bytes;     // kLen: the payload, a view into the input
  size_t offset = 0;          // where the field's tag starts, in the whole input
  size_t payload_offset = 0;  // kLen: where the payload starts, in the whole input
};

// Reads the fields of one message. `base` is the offset of `data` in the
// whole input, so that every offset it reports is the file's. Not
// thread-safe; cheap to copy.
class WireReader {
 public:
  WireReader(std::string_view data, size_t base)
      : p_(reinterpret_cast<const uint8_t*>(data.data())),
        begin_(p_),
        end_(p_ + data.size()),
        base_(base) {}

  // The next field into *f: false at the end of the message, or on an error
  // (failed() tells which; the reader stays at the error).
  bool Next(WireField* f) {
    if (p_ == end_ || failed_) return false;
    f->offset = Offset(p_);
    uint64_t tag;
    if (!Varint(&tag)) return false;
    const uint64_t number = tag >> 3;
    if (number == 0 || number > 536870911u)
      return Fail(f->offset, fmt::format("field number {}", number));
    f->number = static_cast<uint32_t>(number);
    f->type = static_cast<WireType>(tag & 7);
    switch (f->type) {
      case WireType::kVarint:
        return Varint(&f->value);
      case WireType::kFixed64:
        return Fixed(8, &f->value);
      case WireType::kFixed32:
        return Fixed(4, &f->value);
      case WireType::kLen: {
        uint64_t len;
        const uint8_t* at = p_;
        if (!Varint(&len)) return false;
        // Compared with what remains before anything is read or allocated.
        if (len > static_cast<uint64_t>(end_ - p_))
          return Fail(Offset(at), fmt::format("field {} claims {} bytes, but only {} remain in its "
                                              "message (truncated or corrupt)",
                                              f->number, len, end_ - p_));
        f->payload_offset = Offset(p_);
        f->bytes = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(len));
        p_ += len;
        return true;
      }
      case WireType::kStartGroup:
      case WireType::kEndGroup:
        // Groups are proto2's, and no XPlane or HLO message has one.
        return Fail(f->offset, fmt::format("field {} uses the group wire type {}, which these "
                                           "messages never use",
                                           f->number, static_cast<int>(f->type)));
    }
    return Fail(f->offset, fmt::format("field {} has the invalid wire type {}", f->number,
                                       static_cast<int>(tag & 7)));
  }

  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  size_t error_offset() const { return error_offset_; }

  // For a caller that found a field it cannot use (a wrong wire type for a
  // known field): stops the reader with that error.
  bool Fail(size_t offset, std::string message) {
    failed_ = true;
    error_offset_ = offset;
    error_ = std::move(message);
    return false;
  }

  // One varint from a packed or standalone payload (used for packed fields).
  static bool DecodeVarint(std::string_view* s, uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0, i = 0; i < 10; ++i, shift += 7) {
      if (static_cast<size_t>(i) >= s->size()) return false;
      const uint8_t b = static_cast<uint8_t>((*s)[static_cast<size_t>(i)]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        s->remove_prefix(static_cast<size_t>(i) + 1);
        *out = v;
        return true;
      }
    }
    return false;
  }

 private:
  size_t Offset(const uint8_t* at) const { return base_ + static_cast<size_t>(at - begin_); }

  bool Varint(uint64_t* out) {
    const uint8_t* at = p_;
    // The common one-byte case first: tags and small values.
    if (p_ < end_ && *p_ < 0x80) {
      *out = *p_++;
      return true;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_)
        return Fail(Offset(at), "a varint runs past the end of its message (truncated)");
      const uint8_t b = *p_++;
      // The tenth byte may carry one bit only.
      if (shift == 63 && b > 1) break;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *out = v;
        return true;
      }
    }
    return Fail(Offset(at), "a varint longer than 10 bytes (corrupt)");
  }

  bool Fixed(size_t n, uint64_t* out) {
    if (static_cast<size_t>(end_ - p_) < n)
      return Fail(Offset(p_), fmt::format("a {}-byte value runs past the end of its message "
                                          "(truncated)",
                                          n));
    uint64_t v = 0;
    std::memcpy(&v, p_, n);  // little-endian on every machine we build for
    p_ += n;
    *out = v;
    return true;
  }

  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  size_t base_;
  bool failed_ = false;
  size_t error_offset_ = 0;
  std::string error_;
};

}  // namespace smaragdine::trace_internal
