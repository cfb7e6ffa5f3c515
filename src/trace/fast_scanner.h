// fast_scanner.h — a hand-written scanner for events of the common shape.
//
// simdjson On-Demand spends ~200 ns per event on per-field bookkeeping; this
// spends a byte loop. It takes events while they have the common shape and
// reads their fields as the Reader reads simdjson's values (the same
// EventField/ArgsField, or a fused path for the common keys that gives the
// same result); it stops at the first event it declines, where simdjson
// takes over.
//
//   FastEventScanner scanner(reader, buf + size);
//   size_t close = std::string_view::npos;
//   size_t next = scanner.Scan(buf, events_open + 1, /*array_start=*/true, &close);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

  // Where the bytes end for the next Scan (a window of the document, whose
  // last event may be cut: it is declined there, as at any end). Reads past
  // it up to kParsePadding bytes, as past the constructor's `end`.
  void SetEnd(const char* end) { end_ = end; }
  // With `after` set, Scan returns after the first event it takes that ends
  // at or after `after` (a single event read in place); nullptr: no limit.
  void StopAfter(const char* after) { stop_after_ = after; }

 private:
  // Where a field's value is read: a top-level key (the fused paths for the
  // common ones, else EventField) or an `args` key (ArgsField).
  enum class Key : uint8_t { kOther, kEmpty, kPh, kPid, kTid, kTs, kDur, kName, kCat, kArgs };
  enum class ArgKey : uint8_t { kOther, kName, kOp, kInput };

  // The bytes between an event's values and its fields' keys, as the last
  // events of one layout had them: `{"ph": ` … `, "args": {"External id": `
  // … `}}`. Events of a trace mostly repeat a few layouts; an event whose
  // bytes between values equal a shape's is read by comparing those bytes
  // and reading the values alone. Equal bytes in the same places are the
  // same keys in the same grammar: the result is the field-by-field one.
  struct Shape {
    struct Field {
      uint32_t literal = 0, literal_size = 0;  // in `bytes`: what comes before the value
      uint32_t key = 0, key_size = 0;          // in `bytes`: the field's key
      Key kind = Key::kOther;
      bool in_args = false;     // an `args` field: ArgsField
      bool args_begin = false;  // the first field of `args`
      bool external_id = false;  // the `args` key "External id" (a number, mostly)
      // The `args` key when it is one TF1 gives every event ("name", "op",
      // "inputN"): read without telling keys apart by their text again.
      ArgKey arg = ArgKey::kOther;
      // The last value read here when it was a plain string or number of up
      // to 15 bytes for ph, cat, pid or tid (events of a thread repeat them):
      // its bytes and what they gave. The same bytes again give the same
      // (same string, same id) without being read; a longer token fails the
      // bytes that follow it, as they belong to the next field's literal.
      uint8_t memo_size = 0;  // 0: none
      bool memo_number = false;
      char memo_ph = 0;
      StrId memo_id = 0;
      char memo[16] = {};  // Same() reads all 16
    };
    std::string bytes;  // literals and keys, then 16 spare bytes for the compare
    std::vector<Field> fields;
    uint32_t tail = 0, tail_size = 0;  // after the last value, to the event's '}'
  };
  static constexpr size_t kShapes = 4;
  static constexpr size_t kShapeFields = 48;

  static Key Classify(std::string_view key);

  // A field as the field-by-field reader saw it, for learning its shape.
  struct SeenField {
    const char* literal;  // where the bytes before the value begin
    const char* value;    // where the value begins
    std::string_view key;
    Key kind;
    bool in_args, args_begin;
  };

  // The event at p ('{') read by `shape`; nullptr when its bytes differ
  // (the caller undoes what it interned) or a value is not read.
  const char* Replay(Shape& shape, const char* p, const char* end, RawEvent* e,
                     Reader::EventState* st);

  // Keeps the value [value, value_end) of field f as its memo when it is one.
  static void Remember(Shape::Field& f, const char* value, const char* value_end,
                       const RawEvent& e);

  // One event at p ('{'), read into *e and *st field by field, in the order
  // simdjson reads them. Returns the position after its '}', or nullptr
  // when it declines it (the caller then undoes what it interned). The
  // position and the end are passed and returned by value so that they stay
  // in registers: stores into the event (char fields alias anything) would
  // otherwise make the compiler reload them. Records the fields in seen_
  // (seen_ok_ false when the layout is not one to learn).
  const char* Event(const char* p, const char* end, RawEvent* e, Reader::EventState* st);

  // The `args` object of an event at p ('{'); as Event.
  const char* Args(const char* p, const char* end, RawEvent* e, Reader::EventState* st);

  // The value at p of a top-level field `key` (kind `kind`), read into the event.
  const char* TopField(std::string_view key, Key kind, const char* p, const char* end,
                       RawEvent* e, Reader::EventState* st);

  // Records a field the field-by-field reader saw; an event with more fields
  // than a shape holds is not one to learn.
  void See(const SeenField& field) {
    if (seen_.size() < kShapeFields) {
      seen_.push_back(field);
    } else {
      seen_ok_ = false;
    }
  }

  // Keeps the layout of the event just read (from `begin` to `end_of_event`).
  void Learn(const char* begin, const char* end_of_event);

  // What an event may have added to the reader before it was declined.
  struct Undo {
    size_t strings;
    StrId last_pid, last_tid, last_cat;
  };
  Undo Mark() const;
  void Rollback(const Undo& u);

  Reader& reader_;
  const char* end_;
  const char* stop_after_ = nullptr;
  Shape shapes_[kShapes];
  size_t shape_count_ = 0;
  uint8_t order_[kShapes] = {};  // shapes_ by last use, latest first
  std::vector<SeenField> seen_;
  const char* seen_end_ = nullptr;  // after the last value read
  bool seen_ok_ = false;
};

}  // namespace smaragdine::trace_internal
