#include "trace/chrome_json.h"

#include <simdjson.h>

#include <algorithm>

#include "common/huge_pages.h"
#include "trace/event_reader.h"
#include "trace/json_numbers.h"
#include "trace/sliced_parse.h"
#include "trace/utf8_repair.h"

// The reader's parts: string_table (interning), json_numbers (µs text to
// ns), event_reader (what an event's fields mean; the simdjson path),
// fast_scanner (events of the common shape), sliced_parse (the events array
// in slices, with retry), utf8_repair (invalid UTF-8 replaced, offsets kept).
// This file is the entry point that ties them.

namespace smaragdine::trace_internal {

static_assert(kParsePadding >= simdjson::SIMDJSON_PADDING + 1);

Result<RawTrace> ParseChromeJson(const std::string& name, std::string bytes, size_t slice_bytes) {
  // simdjson reads past the end: reserve the padding in place (free when the
  // caller left room) rather than copying into a padded_string.
  bytes.reserve(bytes.size() + kParsePadding);
  return ParseChromeJsonBuffer(name, bytes.data(), bytes.size(), bytes.capacity(), slice_bytes);
}

namespace {

// The document read as is (valid UTF-8 or not: simdjson decides).
Result<RawTrace> ParseAsIs(const std::string& name, char* data, size_t size, size_t capacity,
                           size_t slice_bytes, const SourceFile& source) {
  if (capacity < size + kParsePadding) return Internal("ParseChromeJsonBuffer: no padding");
  size_t first = 0;
  while (first < size && IsJsonSpace(data[first])) ++first;
  if (first == size) return BadInput(name, "empty file: not a Chrome trace", -1, 0);
  if (data[first] != '{' && data[first] != '[') {
    return BadInput(name,
                    "not a Chrome trace: expected a JSON object with \"traceEvents\" or an "
                    "array of events",
                    -1, static_cast<int64_t>(first));
  }
  // Events are 60-300 bytes of JSON: reserving for 48 costs address space
  // only (untouched pages are not resident) and spares the copies of growth.
  const size_t expected_events = size / 48 + 16;
  RawTrace out;
  out.events.reserve(expected_events);
  AdviseHugePages(out.events.data(), out.events.capacity() * sizeof(RawEvent));
  if (slice_bytes == 0 || !ParseSliced(name, data, size, capacity, first, slice_bytes, &out, source)) {
    out = RawTrace();
    out.events.reserve(expected_events);
    AdviseHugePages(out.events.data(), out.events.capacity() * sizeof(RawEvent));
    od::parser parser;
    Reader reader(name, data, &out);
    SMG_ASSIGN_OR_RETURN(bool saw_events,
                         ParseDocument(name, parser, data, size, capacity, first, reader, out));
    if (!saw_events) {
      return BadInput(name, "not a Chrome trace: no \"traceEvents\" array", -1,
                      static_cast<int64_t>(first));
    }
    reader.Finish();
  }
  bool any_interval = std::any_of(out.events.begin(), out.events.end(),
                                  [](const RawEvent& e) { return e.ph == 'X'; });
  if (!any_interval) {
    return BadInput(name, "trace has no events with a duration (X or matched B/E)", -1,
                    static_cast<int64_t>(size));
  }
  return out;
}

}  // namespace

Result<RawTrace> ParseChromeJsonBuffer(const std::string& name, char* data, size_t size,
                                       size_t capacity, size_t slice_bytes,
                                       const SourceFile& source) {
  Result<RawTrace> parsed = ParseAsIs(name, data, size, capacity, slice_bytes, source);
  // simdjson refuses a whole document for one byte of invalid UTF-8. Only
  // when parsing failed is the input checked, so valid traces pay nothing.
  if (parsed.ok() || simdjson::validate_utf8(data, size)) return parsed;
  Utf8Repair fixed = RepairUtf8(std::string_view(data, size), kParsePadding);
  // The repaired copy is not the file's bytes: read in place.
  Result<RawTrace> repaired = ParseAsIs(name, fixed.text.data(), fixed.text.size(),
                                        fixed.text.capacity(), slice_bytes, SourceFile{});
  if (!repaired.ok()) {
    // Offsets in the file as given, not in the repaired copy.
    Error e = repaired.error();
    e.byte_offset = fixed.OriginalOffset(e.byte_offset);
    return e;
  }
  repaired->diagnostics.Add("trace.invalid_utf8_replaced", fixed.replaced);
  return repaired;
}

}  // namespace smaragdine::trace_internal
