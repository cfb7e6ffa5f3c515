// fast_scanner.h — a hand-written scanner for events of the common shape.
//
// simdjson On-Demand spends ~200 ns per event on per-field bookkeeping; this
// spends a byte loop. It takes events while they have the common shape and
// hands their fields to the Reader, which reads them exactly as it reads
// simdjson's values; it stops at the first event it declines, where
// simdjson takes over.
//
//   FastEventScanner scanner(reader, buf + size);
//   size_t close = std::string_view::npos;
//   size_t next = scanner.Scan(buf, events_open + 1, /*array_start=*/true, &close);
#pragma once

#include <cstddef>
#include <string_view>

#include "trace/event_reader.h"

namespace smaragdine::trace_internal {

// The fast path for the common shape of an event: an object of plain keys
// whose values are numbers, literals, strings without escapes or non-ASCII
// bytes, an `args` object of the same, and nested arrays or objects that are
// only skipped. It checks the JSON grammar of everything it takes, and
// declines (returns false) on anything else: simdjson then reads that event,
// so unusual input gets exactly the simdjson path's result or error.
// Reads past `end` up to kParsePadding bytes (16 at a time).
class FastEventScanner {
 public:
  FastEventScanner(Reader& reader, const char* end) : reader_(reader), end_(end) {}

  // Scans the events array from `begin` (just after its '[' when
  // `array_start`, else just after a ','), taking events while they have the
  // common shape. Returns where it stopped: just after the last ',' it took
  // (or `begin`), where the next element starts. Sets *close to the offset of
  // the array's ']' when it reached it.
  size_t Scan(const char* buf, size_t begin, bool array_start, size_t* close);

 private:
  // Deeper values are left to simdjson (its depth limit is far above).
  static constexpr int kMaxDepth = 32;

  static bool IsSpace(char c) {
    return static_cast<unsigned char>(c) <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t');
  }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  // Skips JSON whitespace; false at the end of the input.
  bool SkipWs(const char*& p) const;

  // A string at p ('"') without escapes, control or non-ASCII bytes.
  bool String(const char*& p, std::string_view* out) const;

  // A number by the JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number(const char*& p, std::string_view* out) const;

  bool Literal(const char*& p, std::string_view word) const;

  // Any value at p, read as a Scalar (arrays and objects are checked and
  // skipped, kind kOther).
  bool Value(const char*& p, Scalar* v, int depth) const;

  // An array or object at p, checked and skipped.
  bool Skip(const char*& p, int depth) const;

  // The fields of an object at p ('{'), each handed to `on_field(key, value)`;
  // `args` of an event is read by `on_args` instead when it is an object.
  template <class OnField>
  bool Fields(const char*& p, int depth, OnField on_field);

  // A field the reader will be given once the whole event checks out:
  // reading strings into the table before that would intern text that
  // simdjson, reading a declined event its own way, might not.
  struct Pending {
    enum Where : uint8_t { kEvent, kArgsBegin, kArg } where;
    std::string_view key;
    Scalar value;
  };
  static constexpr int kMaxFields = 48;

  bool Push(Pending::Where where, std::string_view key, const Scalar& v);

  // One event at p ('{'), its fields recorded in the order simdjson reads them.
  bool Event(const char*& p);

  // Hands the recorded fields of a good event to the reader.
  void Apply();

  Reader& reader_;
  const char* end_;
  Pending pending_[kMaxFields];
  int count_ = 0;
};

}  // namespace smaragdine::trace_internal
