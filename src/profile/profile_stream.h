// profile_stream.h — reading a large profile.json without holding it twice
// (issue 16, item 2).
//
// A profile with a timeline is almost all numbers: the seven columns of
// `timeline.events` (one entry per event) and each power track's `dt_ns` and
// `power_w`. Parsing the whole text into a DOM cost ~7.5 times the file
// (10 M events: 467 MB of JSON, 3.5 GB to read). Here the file is read in
// chunks: those arrays are parsed as they stream past, straight into the
// events (or a vector per power array), and each is replaced in the text
// kept by a placeholder string; the rest of the text (nodes, domains, meta:
// a few MB) is kept and parsed with the DOM reader as before, whose checks
// and messages are thus unchanged.
//
// Anything the stream scanner does not expect (a gzip file, a stream, a
// syntax error, a number it would parse differently from simdjson, a column
// given twice, a file that changes size) makes it give up, and the caller
// reads the file whole the old way: every error is reported by the one DOM
// reader, with the same message.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smaragdine/profile.h"

namespace smaragdine {

// The columns of timeline.events, in the order the reader checks them.
inline constexpr int kEventColumnCount = 7;
inline constexpr const char* kEventColumns[kEventColumnCount] = {
    "lane", "start_delta_ns", "dur_ns", "node", "step", "phase", "self_j"};

struct StreamedProfile {
  // The file's text with the arrays taken out, each replaced by the string
  // `tag` + 'E' + column index (events), 'I' + index into int_arrays or
  // 'D' + index into double_arrays (power tracks). Has at least `padding`
  // bytes of spare capacity (simdjson reads past the end).
  std::string rest;
  // Placeholders start with this: a random token, so no file can forge one.
  std::string tag;
  // From the first timeline's first `events` object, field by field:
  // start_ns holds start_delta_ns and end_ns holds dur_ns until the reader
  // sums them. lane, node, step and phase are stored only when they fit the
  // field (else the scanner gives up), so the reader's range checks see the
  // file's values.
  std::vector<TimelineEvent> events;
  std::array<size_t, kEventColumnCount> column_entries{};
  uint32_t columns_taken = 0;  // bit c: kEventColumns[c] was taken out
  std::vector<std::vector<int64_t>> int_arrays;     // power tracks' dt_ns
  std::vector<std::vector<double>> double_arrays;   // power tracks' power_w (null: NaN)
};

// Streams `path` if it is a regular, uncompressed file that the scanner
// reads to its end without surprise; nullopt otherwise (read it whole).
std::optional<StreamedProfile> StreamProfileFile(const std::string& path, size_t padding);

}  // namespace smaragdine
