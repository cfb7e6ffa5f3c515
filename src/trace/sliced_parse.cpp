#include "trace/sliced_parse.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "trace/fast_scanner.h"
#include "trace/json_numbers.h"

namespace smaragdine::trace_internal {

bool FindEventsArray(const char* buf, size_t size, size_t first, size_t* open) {
  constexpr std::string_view kKey = "traceEvents";
  int depth = 0;
  for (size_t i = first; i < size; ++i) {
    const char c = buf[i];
    if (c == '"') {
      size_t j = i + 1;
      bool escaped = false;
      while (j < size && buf[j] != '"') j += buf[j] == '\\' ? (escaped = true, 2) : 1;
      if (j >= size) return false;
      if (depth == 1 && !escaped && std::string_view(buf + i + 1, j - i - 1) == kKey) {
        size_t k = j + 1;
        while (k < size && IsJsonSpace(buf[k])) ++k;
        if (k < size && buf[k] == ':') {
          ++k;
          while (k < size && IsJsonSpace(buf[k])) ++k;
          if (k < size && buf[k] == '[') {
            *open = k;
            return true;
          }
          return false;
        }
      }
      i = j;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth <= 0) return false;
    }
  }
  return false;
}

size_t FindCut(const char* buf, size_t size, size_t from) {
  for (size_t i = from; i < size;) {
    const void* hit = std::memchr(buf + i, ',', size - i);
    if (hit == nullptr) break;
    const size_t comma = static_cast<size_t>(static_cast<const char*>(hit) - buf);
    size_t before = comma, after = comma + 1;
    while (before > from && IsJsonSpace(buf[before - 1])) --before;
    while (after < size && IsJsonSpace(buf[after])) ++after;
    if (before > from && buf[before - 1] == '}' && after < size && buf[after] == '{') return comma;
    i = comma + 1;
  }
  return size;
}

namespace {

// Parses one slice: `data` is "[" + some events + "]" cut in place. True
// with *close_at = npos when the slice's array ended at the appended ']',
// or with *close_at = the offset (in `base`) of the events array's own ']'
// when it ended before. False on any error: the caller parses the whole
// document instead.
bool ParseSlice(od::parser& parser, Reader& reader, const char* base, const char* data,
                size_t size, size_t capacity, size_t* close_at) {
  od::document doc;
  if (parser.iterate(data, size, capacity).get(doc) != simdjson::SUCCESS) return false;
  try {
    reader.ReadEventsArray(doc.get_array());
    const char* next = nullptr;
    const auto where = doc.current_location().get(next);
    if (where == simdjson::OUT_OF_BOUNDS) {  // no token left: ended at the appended ']'
      *close_at = std::string_view::npos;
      return true;
    }
    // The events array closed inside the slice: its ']' is the last
    // non-blank byte before the next token.
    if (where != simdjson::SUCCESS || next <= data) return false;
    const char* q = next - 1;
    while (q > data && IsJsonSpace(*q)) --q;
    if (*q != ']') return false;
    *close_at = static_cast<size_t>(q - base);
    return true;
  } catch (const simdjson::simdjson_error&) {
    return false;
  }
}

}  // namespace

bool ParseSliced(const std::string& name, char* buf, size_t size, size_t capacity, size_t first,
                 size_t slice_bytes, RawTrace* out) {
  size_t open = first;
  if (buf[first] != '[' && !FindEventsArray(buf, size, first, &open)) return false;
  od::parser parser;
  // Sized once: simdjson reallocates (fresh, unfaulted pages) whenever a
  // document is longer than any before, and slices differ by a few bytes.
  // A slice's events sit one level higher than in the document: one level
  // less of depth keeps the limit where the whole parse has it.
  if (parser.allocate(2 * slice_bytes, simdjson::DEFAULT_MAX_DEPTH - 1) != simdjson::SUCCESS)
    return false;
  Reader reader(name, buf, out);
  FastEventScanner scanner(reader, buf + size);
  size_t begin = open + 1;  // the slice's first byte after its '['
  size_t close = std::string_view::npos;
  bool array_start = true;
  while (close == std::string_view::npos) {
    // Events of the common shape go through the fast scanner; simdjson
    // reads a slice from the first one it declines, then the scanner goes on.
    const size_t scanned = scanner.Scan(buf, begin, array_start, &close);
    if (close != std::string_view::npos) break;
    if (scanned != begin || !array_start) {
      // Stopped after a ',': a slice "[" + "]..." would read as an empty
      // array and hide a trailing comma. Let the whole parse report it.
      size_t k = scanned;
      while (k < size && IsJsonSpace(buf[k])) ++k;
      if (k == size || buf[k] == ']') return false;
    }
    begin = scanned;
    array_start = false;
    size_t from = std::min(size, begin + slice_bytes);
    size_t cut;
    for (int attempt = 0;; ++attempt) {
      cut = FindCut(buf, size, from);
      // The bytes around the slice become its brackets; `cut` may be `size`,
      // inside the padding.
      const Reader::Mark mark = reader.Save();
      const char saved_open = buf[begin - 1];
      const char saved_cut = buf[cut];
      buf[begin - 1] = '[';
      buf[cut] = ']';
      const bool ok = ParseSlice(parser, reader, buf, buf + begin - 1, cut - begin + 2,
                                 capacity - (begin - 1), &close);
      buf[begin - 1] = saved_open;
      buf[cut] = saved_cut;
      if (ok) break;
      // A false cut (in a string or a nested value) or invalid JSON: undo
      // the slice and try the next cut a few times, then give up.
      reader.Restore(mark);
      if (cut == size || attempt == 8) return false;
      from = cut + 1;
    }
    if (close == std::string_view::npos) {
      if (cut == size) return false;  // the array never closes: let the whole parse say so
      begin = cut + 1;
    }
  }
  // The rest of the document with the events array emptied: top-level keys,
  // and any later "traceEvents" arrays, in the order of the whole parse.
  std::string rest;
  rest.reserve(open + 1 + (size - close) + simdjson::SIMDJSON_PADDING);
  rest.append(buf, open + 1);
  rest.append(buf + close, size - close);
  auto saw = ParseDocument(name, parser, rest.data(), rest.size(), rest.capacity(), first, reader,
                           *out);
  if (!saw.ok() || !*saw) return false;
  reader.Finish();
  return true;
}

}  // namespace smaragdine::trace_internal
