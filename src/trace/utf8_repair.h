// utf8_repair.h — invalid UTF-8 replaced by U+FFFD, with offsets kept.
//
// simdjson refuses a whole document for one invalid byte anywhere. A trace
// written by a profiler that copied raw bytes into a name is still a trace:
// the reader repairs a copy and parses that, and error offsets in the copy
// are mapped back to the file as given.
//
//   Utf8Repair fixed = RepairUtf8(bytes);               // fixed.replaced == 1
//   int64_t at = fixed.OriginalOffset(offset_in_fixed);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smaragdine::trace_internal {

struct Utf8Repair {
  std::string text;       // the repaired bytes
  int64_t replaced = 0;   // U+FFFD written
  // Per replacement that changed the length: (offset in `text` just after
  // it, total bytes added up to there). Increasing in both.
  std::vector<std::pair<size_t, int64_t>> growth;

  // The offset in the original bytes of offset `repaired` in `text`; one
  // inside a U+FFFD lands within 2 bytes of the start of what it replaced.
  int64_t OriginalOffset(int64_t repaired) const;
};

// Replaces each maximal subpart of an ill-formed sequence (Unicode §3.9,
// "U+FFFD substitution of maximal subparts", as browsers do) with U+FFFD.
// `spare` bytes of capacity are reserved after the text (the parser's padding).
Utf8Repair RepairUtf8(std::string_view in, size_t spare);

// Offset of the first byte of the first ill-formed sequence, or -1.
int64_t FirstInvalidUtf8(std::string_view in);

}  // namespace smaragdine::trace_internal
