#include "trace/sliced_parse.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "common/huge_pages.h"
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

namespace {

// A window of the document's bytes read from its file (SourceFile) into a
// buffer that is reused: its pages are touched once, where each 4 KiB page
// of the mapping would cost a first touch.
class EventWindow {
 public:
  explicit EventWindow(const SourceFile& source)
      : fd_(source.fd),
        capacity_(std::max<size_t>(source.window_bytes, 64)),
        bytes_(source.fd >= 0 ? new char[capacity_ + kParsePadding] : nullptr) {}

  bool ok() const { return bytes_ != nullptr; }
  size_t capacity() const { return capacity_; }

  // The file's bytes [from, to) (to - from <= capacity()), with readable
  // padding after them; nullptr when they cannot all be read.
  const char* Fill(size_t from, size_t to) {
    size_t got = 0;
    while (got < to - from) {
      const ssize_t r = ::pread(fd_, bytes_.get() + got, to - from - got,
                                static_cast<off_t>(from + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return nullptr;
      got += static_cast<size_t>(r);
    }
    std::memset(bytes_.get() + got, 0, kParsePadding);
    return bytes_.get();
  }

 private:
  int fd_;
  size_t capacity_;
  std::unique_ptr<char[]> bytes_;
};

// scanner.Scan(buf, begin, array_start, close) on the bytes up to
// `scan_end` (the scanner's end), with the same result, read a window at a
// time when `window` has a file. An event cut by a window's end is declined
// there and read whole from the next window; one the window cannot hold, or
// that the scanner declines, is tried in `buf` itself.
size_t ScanEvents(FastEventScanner& scanner, EventWindow& window, const char* buf, size_t begin,
                  bool array_start, size_t scan_end, size_t* close) {
  size_t pos = begin;
  while (window.ok()) {
    const size_t to = std::min(scan_end, pos + window.capacity());
    const char* bytes = window.Fill(pos, to);
    if (bytes == nullptr) break;  // the file no longer reads: the buffer's bytes
    scanner.SetEnd(bytes + (to - pos));
    size_t at = std::string_view::npos;
    size_t got = scanner.Scan(bytes, 0, array_start, &at);
    if (got == 0 && at == std::string_view::npos && to < scan_end) {
      // Not one whole event in the window (or one the scanner declines): this
      // event in place.
      scanner.SetEnd(buf + scan_end);
      scanner.StopAfter(buf + pos);
      got = scanner.Scan(buf, pos, array_start, &at);
      scanner.StopAfter(nullptr);
      if (at != std::string_view::npos) {
        *close = at;
        return got;
      }
      if (got == pos) return pos;  // declined: simdjson's
      array_start = false;
      pos = got;
      continue;
    }
    if (at != std::string_view::npos) {
      *close = pos + at;
      return pos + got;
    }
    if (to == scan_end || got == 0) return pos + got;
    array_start = false;
    pos += got;
  }
  scanner.SetEnd(buf + scan_end);
  return scanner.Scan(buf, pos, array_start, close);
}

// Reads events of the array from `begin` (just after its '[' when
// `array_start`, else just after a ',') with the fast scanner and, from each
// event it declines, simdjson slices. Until the array's ']' (then *close is
// its offset), or, when `stop` is not npos, until the ',' at `stop` (a part
// of the array read beside another; *close stays npos): then the bytes the
// slices write stay below `stop` + 1 and those it reads below `stop` + 65.
// `no_write_below`: the slices never write a byte before it (the part before
// is being read by another thread); false if they would have to. False on any
// error or doubt: the caller reads the document whole.
bool ParseEvents(Reader& reader, od::parser& parser, char* buf, size_t size, size_t capacity,
                 size_t begin, bool array_start, size_t stop, size_t no_write_below,
                 size_t slice_bytes, const SourceFile& source, size_t* close) {
  const bool part = stop != std::string_view::npos;
  // A part's events end at its ',': the scanner may take that ',' and no more.
  const size_t limit = part ? stop : size;
  const size_t scan_end = part ? stop + 1 : size;
  FastEventScanner scanner(reader, buf + scan_end);
  EventWindow window(source);
  *close = std::string_view::npos;
  while (*close == std::string_view::npos) {
    // Events of the common shape go through the fast scanner; simdjson
    // reads a slice from the first one it declines, then the scanner goes on.
    const size_t scanned = ScanEvents(scanner, window, buf, begin, array_start, scan_end, close);
    if (*close != std::string_view::npos) break;
    if (part && scanned == stop + 1) return true;  // up to and including the ','
    if (scanned != begin || !array_start) {
      // Stopped after a ',': a slice "[" + "]..." would read as an empty
      // array and hide a trailing comma. Let the whole parse report it.
      size_t k = scanned;
      while (k < limit && IsJsonSpace(buf[k])) ++k;
      if (k == limit || buf[k] == ']') return false;
    }
    begin = scanned;
    array_start = false;
    if (begin - 1 < no_write_below) return false;
    size_t from = std::min(limit, begin + slice_bytes);
    size_t cut;
    for (int attempt = 0;; ++attempt) {
      cut = FindCut(buf, limit, from);
      // The bytes around the slice become its brackets; `cut` may be `size`,
      // inside the padding.
      const Reader::Mark mark = reader.Save();
      const char saved_open = buf[begin - 1];
      const char saved_cut = buf[cut];
      buf[begin - 1] = '[';
      buf[cut] = ']';
      const bool ok = ParseSlice(parser, reader, buf, buf + begin - 1, cut - begin + 2,
                                 capacity - (begin - 1), close);
      buf[begin - 1] = saved_open;
      buf[cut] = saved_cut;
      if (ok && !(part && *close != std::string_view::npos)) break;
      // A false cut (in a string or a nested value) or invalid JSON: undo
      // the slice and try the next cut a few times, then give up. (A part's
      // array cannot close before its ',': that is a doubt too.)
      reader.Restore(mark);
      if (cut == limit || attempt == 8) return false;
      from = cut + 1;
    }
    if (*close == std::string_view::npos) {
      if (part && cut == stop) return true;  // the slice ran to the part's ','
      if (cut == limit) return false;  // the array never closes: let the whole parse say so
      begin = cut + 1;
    }
  }
  return !part;
}

// Reading in two parts side by side pays from this size on (a thread costs
// ~0.1 ms; a megabyte of events ~2 ms).
constexpr size_t kTwoPartsMinBytes = size_t{16} << 20;

// How many parts to read a document of `size` bytes in: SMARAGDINE_PARSE_THREADS
// when set (1, or 2 at any size: benchmarks on one core, tests), else 2 from
// kTwoPartsMinBytes on a machine with a second core.
int PartsFor(size_t size) {
  if (const char* v = std::getenv("SMARAGDINE_PARSE_THREADS")) return std::atoi(v) >= 2 ? 2 : 1;
  if (size < kTwoPartsMinBytes) return 1;
  // The cores this process may run on (taskset, cgroups' cpusets), not the
  // machine's: two parts on one core only cost.
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (::sched_getaffinity(0, sizeof(cpus), &cpus) == 0) cores = CPU_COUNT(&cpus);
  if (cores < 2) return 1;
  // And a core to spare: with other work on the second core the two parts
  // were slower than one (docs/benchmarks.md, "Issue 16 item 1"). The
  // 1-minute load average, this process's earlier runs included, must leave
  // half a core free.
  if (FILE* f = std::fopen("/proc/loadavg", "re")) {
    double load = 0;
    const bool read = std::fscanf(f, "%lf", &load) == 1;
    std::fclose(f);
    if (read && load > cores - 0.5) return 1;
  }
  return 2;
}

// The events array from `open` read in two parts at once: the part after a
// ',' near the middle on a second thread, into a table of its own, then
// appended with its strings re-interned in order of first use, which gives
// the ids, events, inputs and counts of one reading from start to end. False
// (nothing kept) whenever that is not certain: the first part must end with
// a whole event at that ',' (which shows the ',' separates two events), the
// second may not hold B/E events or string flow ids (their meaning depends
// on the first part's), and either may give up; the caller then reads the
// document in one part.
bool ParseTwoParts(const std::string& name, char* buf, size_t size, size_t capacity, size_t open,
                   size_t slice_bytes, const SourceFile& source, od::parser& parser,
                   Reader& reader, RawTrace* out, size_t* close) {
  const size_t stop = FindCut(buf, size, open + 1 + (size - open) / 2);
  if (stop >= size) return false;
  // The second part's slices write nowhere near the first part's reads
  // (which end 64 bytes of padding past its ',').
  const size_t second_writes_from = stop + 128;
  RawTrace second;
  second.events.reserve((size - stop) / 48 + 16);
  bool second_ok = false;
  size_t second_close = std::string_view::npos;
  auto read_second = [&] {
    od::parser second_parser;
    if (second_parser.allocate(2 * slice_bytes, simdjson::DEFAULT_MAX_DEPTH - 1) !=
        simdjson::SUCCESS)
      return;
    Reader second_reader(name, buf, &second);
    second_ok = ParseEvents(second_reader, second_parser, buf, size, capacity, stop + 1, false,
                            std::string_view::npos, second_writes_from, slice_bytes, source,
                            &second_close) &&
                !second_reader.SawCrossPartState();
  };
  std::thread worker;
  try {
    worker = std::thread(read_second);
  } catch (const std::system_error&) {
    return false;  // no thread to be had (a process limit): one part
  }
  size_t first_close = std::string_view::npos;
  const bool first_ok = ParseEvents(reader, parser, buf, size, capacity, open + 1, true, stop, 0,
                                    slice_bytes, source, &first_close);
  worker.join();
  if (!first_ok || !second_ok) return false;
  // The second part's strings in its order of first use: where the reading
  // from the start would have put them.
  std::vector<StrId> id(second.strings.size());
  for (StrId s = 0; s < id.size(); ++s) id[s] = out->strings.Intern(second.strings.Get(s));
  const uint32_t base = static_cast<uint32_t>(out->events.size());
  const size_t n = second.events.size();
  out->events.reserve(base + n);
  // Block by block, each block's pages given back once copied: the two
  // copies of the second part's events are never held whole side by side
  // (the peak stays that of one reading).
  constexpr size_t kBlock = (size_t{2} << 20) / sizeof(RawEvent);
  for (size_t k = 0; k < n; k += kBlock) {
    const size_t m = std::min(kBlock, n - k);
    for (size_t i = k; i < k + m; ++i) {
      RawEvent e = second.events[i];
      e.name = id[e.name];
      e.cat = id[e.cat];
      e.pid = id[e.pid];
      e.tid = id[e.tid];
      e.arg_name = id[e.arg_name];
      e.arg_op = id[e.arg_op];
      out->events.push_back(e);
    }
    ReleasePages(second.events.data(), (k + m) * sizeof(RawEvent));
  }
  for (const RawInput& in : second.inputs) out->inputs.push_back(RawInput{base + in.event, id[in.input]});
  out->diagnostics.Merge(second.diagnostics);
  *close = second_close;
  return true;
}

// The rest of the document with the events array emptied: top-level keys,
// and any later "traceEvents" arrays, in the order of the whole parse.
bool ReadRest(const std::string& name, od::parser& parser, const char* buf, size_t size,
              size_t first, size_t open, size_t close, Reader& reader, RawTrace* out) {
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

// simdjson's parser for slices of about slice_bytes.
bool SliceParser(od::parser& parser, size_t slice_bytes) {
  // Sized once: simdjson reallocates (fresh, unfaulted pages) whenever a
  // document is longer than any before, and slices differ by a few bytes.
  // A slice's events sit one level higher than in the document: one level
  // less of depth keeps the limit where the whole parse has it.
  return parser.allocate(2 * slice_bytes, simdjson::DEFAULT_MAX_DEPTH - 1) == simdjson::SUCCESS;
}

// Finds the events array's '[' (at `first`, or inside the object that holds
// it) and sizes the parser for slices: what either way of reading starts with.
bool PrepareSlices(char* buf, size_t size, size_t first, size_t slice_bytes, od::parser& parser,
                   size_t* open) {
  *open = first;
  if (buf[first] != '[' && !FindEventsArray(buf, size, first, open)) return false;
  return SliceParser(parser, slice_bytes);
}

}  // namespace

bool ParseSlicedInTwoParts(const std::string& name, char* buf, size_t size, size_t capacity,
                           size_t first, size_t slice_bytes, RawTrace* out,
                           const SourceFile& source) {
  size_t open = first;
  od::parser parser;
  if (!PrepareSlices(buf, size, first, slice_bytes, parser, &open)) return false;
  Reader reader(name, buf, out);
  size_t close = std::string_view::npos;
  return ParseTwoParts(name, buf, size, capacity, open, slice_bytes, source, parser, reader, out,
                       &close) &&
         ReadRest(name, parser, buf, size, first, open, close, reader, out);
}

bool ParseSliced(const std::string& name, char* buf, size_t size, size_t capacity, size_t first,
                 size_t slice_bytes, RawTrace* out, const SourceFile& source) {
  if (PartsFor(size) == 2) {
    const size_t reserved = out->events.capacity();
    if (ParseSlicedInTwoParts(name, buf, size, capacity, first, slice_bytes, out, source))
      return true;
    // Start over in one part, as if the parts had never been read.
    *out = RawTrace();
    out->events.reserve(reserved);
    AdviseHugePages(out->events.data(), out->events.capacity() * sizeof(RawEvent));
  }
  size_t open = first;
  od::parser parser;
  if (!PrepareSlices(buf, size, first, slice_bytes, parser, &open)) return false;
  Reader reader(name, buf, out);
  size_t close = std::string_view::npos;
  return ParseEvents(reader, parser, buf, size, capacity, open + 1, true, std::string_view::npos,
                     0, slice_bytes, source, &close) &&
         ReadRest(name, parser, buf, size, first, open, close, reader, out);
}

}  // namespace smaragdine::trace_internal
