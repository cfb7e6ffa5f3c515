// chrome_json.h — the one tolerant Chrome-trace JSON reader under every dialect.
//
// Turns a Chrome-trace JSON document (object with `traceEvents`, or a bare
// array) into compact fixed-size RawEvents whose strings are interned in a
// table. B/E pairs become complete (X) events here, so dialects see X, i, M
// and flow (s/t/f) events only. Times are integer ns parsed from the decimal
// text of `ts`/`dur` (µs), never through a double.
//
//   SMG_ASSIGN_OR_RETURN(RawTrace raw, ParseChromeJson("t.json", std::move(bytes)));
//   for (const RawEvent& e : raw.events) fmt::print("{}\n", raw.Str(e.name));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smaragdine/diagnostics.h"
#include "smaragdine/status.h"
#include "trace/json_numbers.h"   // ParseMicrosToNs, ParseInt64: dialects use them too
#include "trace/string_table.h"

namespace smaragdine::trace_internal {

// Spare bytes ParseChromeJson needs after the input (simdjson's 64 bytes of
// read-ahead, plus one for the ']' that closes the last slice); a buffer with
// this much spare capacity is parsed without a copy.
constexpr size_t kParsePadding = 65;

// One trace event with only the fields the dialects need (72 bytes).
struct RawEvent {
  enum Flags : uint8_t {
    kHasDur = 1,        // `dur` was present
    kBindEnclosing = 2,  // flow event with "bp": "e"
    kLongName = 4,      // arg_name came from args.long_name (TF2) or args.tf_op
    kGpuProvider = 8,   // args.provider names a GPU execution provider (ONNX Runtime)
  };
  int64_t ts_ns = 0;
  int64_t dur_ns = 0;
  int64_t external_id = -1;  // args["External id"]; TF2/JAX: args.step_num (a step marker)
  int64_t correlation = -1;  // args.correlation; for s/t/f events the flow `id`
  int64_t seq = -1;          // args["Sequence number"]; TF2: args.group_id
  StrId name = kEmptyStr;
  StrId cat = kEmptyStr;
  StrId pid = kEmptyStr;  // pid and tid as text: integer or string in the file
  StrId tid = kEmptyStr;
  StrId arg_name = kEmptyStr;  // args.long_name, else args.tf_op, else args.name or
                               // args.parent_name (ONNX Runtime: a kernel's node)
  StrId arg_op = kEmptyStr;    // args.op (TF1 op type)
  int32_t fwd_tid = -1;        // args["Fwd thread id"]
  char ph = 0;                 // 'X', 'i', 'M', 's', 't', 'f'
  uint8_t flags = 0;
};

// One TensorFlow `args.inputN` of a complete (X) event: the input as the
// trace wrote it ("producer", "producer:1", "^control_dep"). Kept beside the
// events, not in them, so that traces without inputs pay nothing.
struct RawInput {
  uint32_t event = 0;  // index into RawTrace::events
  StrId input = kEmptyStr;
};

struct RawTrace {
  StringTable strings;
  std::vector<RawEvent> events;
  std::vector<RawInput> inputs;  // in event order; empty unless the trace has inputN args
  // Top-level keys that only PyTorch Kineto writes.
  bool has_kineto_keys = false;
  std::optional<int64_t> base_time_ns;  // PyTorch >= 2.4 "baseTimeNanoseconds"
  // Kineto's "distributedInfo" (rank, world_size; local_rank from the live
  // recorder) and a top-level "host_name": -1 / "" when absent.
  int32_t rank = -1, world_size = -1, local_rank = -1;
  std::string host;
  bool bare_array = false;
  Diagnostics diagnostics;

  const std::string& Str(StrId id) const { return strings.Get(id); }
};

// Parses a whole document. `bytes` must be plain JSON (already inflated).
// Errors: kBadInput naming `name` and the byte offset where parsing stopped
// (invalid or truncated JSON, not a trace, no X/B/E events).
//
// Memory: the events array is parsed in slices of about 1 MiB, so simdjson's
// index (4 bytes per JSON token, ~150 bytes per event) stays small; a document
// the slices cannot handle is parsed whole, with the same result.
// Speed: in the sliced path, events of the common shape (plain ASCII keys and
// strings without escapes, numbers, literals, an `args` object) are read by a
// validating hand-written scanner; simdjson reads from the first event it
// declines. slice_bytes = 0 never uses the scanner: tests compare the two. Give `bytes`
// SIMDJSON_PADDING bytes of spare capacity to avoid a copy; the slices are cut
// in place, so `bytes` is taken by value.
constexpr size_t kDefaultSliceBytes = size_t{1} << 20;
// `slice_bytes` is for tests: 0 parses the document whole, small values make
// many slices; the result must not depend on it.
Result<RawTrace> ParseChromeJson(const std::string& name, std::string bytes,
                                 size_t slice_bytes = kDefaultSliceBytes);

// The file a buffer was mapped from, holding the same bytes [0, size): the
// fast scanner then reads the events through a small buffer refilled by
// pread (window_bytes at a time) instead of in the mapping. On a virtual
// machine the first touch of each 4 KiB page of a file mapping costs ~2 µs
// (0.23 s of CPU for a 470 MB trace) and the copy into a buffer that stays
// resident ~0.17 ns a byte (0.08 s). Whatever the scanner declines is read
// in the buffer itself, as without a file; the result is the same.
struct SourceFile {
  static constexpr size_t kDefaultWindowBytes = size_t{256} << 10;
  int fd = -1;  // -1: none, the scanner reads the buffer
  size_t window_bytes = kDefaultWindowBytes;
};

// The same on a caller's buffer: `data[0, capacity)` writable, capacity >=
// size + kParsePadding. Bytes are changed during the call and restored.
// `source`: the file `data` was mapped from (see SourceFile), if any.
Result<RawTrace> ParseChromeJsonBuffer(const std::string& name, char* data, size_t size,
                                       size_t capacity, size_t slice_bytes = kDefaultSliceBytes,
                                       const SourceFile& source = {});

}  // namespace smaragdine::trace_internal
