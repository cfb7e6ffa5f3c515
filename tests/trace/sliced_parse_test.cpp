// The reader parses the events array in slices to bound memory; the result
// must be the whole-document parse's, whatever the slice size and however
// tricky the JSON around the cuts (strings and nested values that look like
// event boundaries, escapes, B/E pairs split across slices, keys after the
// array). Invalid documents must give the same error either way.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "trace/chrome_json.h"
#include "trace/sliced_parse.h"

namespace smaragdine {
namespace {

using trace_internal::ParseChromeJson;
using trace_internal::RawEvent;
using trace_internal::RawTrace;

// A Kineto-like document whose events carry every shape a cut could meet.
std::string TrickyTrace(int events) {
  std::string s = R"({"schemaVersion": 1, "deviceProperties": [{"id": 0}, {"id": 1}],
  "note": "traceEvents", "traceEvents": [
)";
  for (int i = 0; i < events; ++i) {
    if (i) s += ",\n";
    switch (i % 6) {
      case 0:  // a name with a fake boundary inside the string
        s += fmt::format(R"({{"ph": "X", "cat": "cpu_op", "name": "op}},{{{}", "pid": 1, )"
                         R"("tid": 2, "ts": {}.5, "dur": 3.25, "args": {{"External id": {}}}}})",
                         i, 1000 + i * 10, i);
        break;
      case 1:  // nested objects in an array inside args: "}, {" at depth > 1
        s += fmt::format(R"({{"ph": "X", "cat": "cpu_op", "name": "nested", "pid": 1, "tid": 3, )"
                         R"("ts": {}, "dur": 2, "args": {{"list": [{{"a": 1}}, {{"b": [2, {{}}]}}], )"
                         R"("Sequence number": {}}}}})",
                         1000 + i * 10, i);
        break;
      case 2:  // escapes in keys and values
        s += fmt::format(R"({{"ph": "X", "c\u0061t": "cpu_op", "n\u0061me": "esc\"aped\\ }}, {{", )"
                         R"("pid": "1", "tid": 2, "ts": "{}", "dur": 1}})",
                         1000 + i * 10);
        break;
      case 3:  // a B whose E comes in a later event
        s += fmt::format(R"({{"ph": "B", "name": "span", "pid": 1, "tid": 4, "ts": {}}})",
                         1000 + i * 10);
        break;
      case 4:
        s += fmt::format(R"({{"ph": "E", "pid": 1, "tid": 4, "ts": {}.125}})", 1005 + i * 10);
        break;
      case 5:  // anomalies counted by the reader
        s += i % 12 == 5 ? R"([1, 2])" : R"({"ph": "Q", "ts": 1})";
        break;
    }
  }
  s += R"(
], "traceName": "x}, {y", "baseTimeNanoseconds": 1700000000000000000})";
  return s;
}

void ExpectSameRaw(const RawTrace& a, const RawTrace& b, const std::string& what) {
  ASSERT_EQ(a.events.size(), b.events.size()) << what;
  for (size_t i = 0; i < a.events.size(); ++i) {
    const RawEvent& x = a.events[i];
    const RawEvent& y = b.events[i];
    SCOPED_TRACE(fmt::format("{} event {}", what, i));
    EXPECT_EQ(x.ph, y.ph);
    EXPECT_EQ(x.ts_ns, y.ts_ns);
    EXPECT_EQ(x.dur_ns, y.dur_ns);
    EXPECT_EQ(x.external_id, y.external_id);
    EXPECT_EQ(x.seq, y.seq);
    EXPECT_EQ(x.flags, y.flags);
    EXPECT_EQ(a.Str(x.name), b.Str(y.name));
    EXPECT_EQ(a.Str(x.cat), b.Str(y.cat));
    EXPECT_EQ(a.Str(x.pid), b.Str(y.pid));
    EXPECT_EQ(a.Str(x.tid), b.Str(y.tid));
  }
  EXPECT_EQ(a.diagnostics.counts(), b.diagnostics.counts()) << what;
  EXPECT_EQ(a.has_kineto_keys, b.has_kineto_keys) << what;
  EXPECT_EQ(a.base_time_ns, b.base_time_ns) << what;
  EXPECT_EQ(a.bare_array, b.bare_array) << what;
}

TEST(ChromeJsonSlicesTest, SlicedParseEqualsWholeParseOnTrickyJson) {
  const std::string doc = TrickyTrace(600);
  auto whole = ParseChromeJson("t.json", doc, 0);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  // The document is what the test means it to be.
  EXPECT_EQ(whole->events.size(), 400u);  // 5 of 6 kept, B+E make one X
  EXPECT_EQ(whole->Str(whole->events[0].name), "op},{0");
  EXPECT_EQ(whole->Str(whole->events[2].name), "esc\"aped\\ }, {");
  EXPECT_EQ(whole->Str(whole->events[2].cat), "cpu_op");
  EXPECT_EQ(whole->events[3].dur_ns, 15125);  // B at 1030 µs, its E at 1045.125 µs
  EXPECT_EQ(whole->diagnostics.Count("trace.non_object_event_skipped"), 50);
  EXPECT_EQ(whole->diagnostics.Count("trace.unsupported_event_phase_skipped"), 50);
  EXPECT_TRUE(whole->has_kineto_keys);
  EXPECT_EQ(whole->base_time_ns, 1700000000000000000);
  for (size_t slice : {size_t{1}, size_t{37}, size_t{200}, size_t{4096}, size_t{1} << 20}) {
    auto sliced = ParseChromeJson("t.json", doc, slice);
    ASSERT_TRUE(sliced.ok()) << sliced.error().message;
    ExpectSameRaw(*whole, *sliced, fmt::format("slice {}", slice));
  }
}

TEST(ChromeJsonSlicesTest, BareArrayAndSecondEventsArray) {
  std::string bare = "[";
  for (int i = 0; i < 100; ++i)
    bare += fmt::format(R"({}{{"ph": "X", "name": "n{}", "ts": {}, "dur": 1}})", i ? ",\n" : "",
                        i, i);
  bare += "]";
  auto whole = ParseChromeJson("a.json", bare, 0);
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(whole->bare_array);
  auto sliced = ParseChromeJson("a.json", bare, 50);
  ASSERT_TRUE(sliced.ok());
  ExpectSameRaw(*whole, *sliced, "bare array");

  // Two "traceEvents" keys: both arrays are read, in file order.
  std::string twice = R"({"traceEvents": [)" + bare.substr(1) + R"(, "traceEvents": [)" +
                      R"({"ph": "X", "name": "last", "ts": 5, "dur": 1}]})";
  auto whole2 = ParseChromeJson("b.json", twice, 0);
  ASSERT_TRUE(whole2.ok());
  EXPECT_EQ(whole2->events.size(), 101u);
  EXPECT_EQ(whole2->Str(whole2->events.back().name), "last");
  auto sliced2 = ParseChromeJson("b.json", twice, 64);
  ASSERT_TRUE(sliced2.ok());
  ExpectSameRaw(*whole2, *sliced2, "two arrays");
}

TEST(ChromeJsonSlicesTest, InvalidDocumentsGiveTheWholeParseError) {
  const std::string doc = TrickyTrace(60);
  std::vector<std::string> bad = {
      doc.substr(0, doc.size() / 2),              // truncated inside the events
      doc.substr(0, doc.rfind(']')),              // the array never closes
      doc.substr(0, doc.size() - 1),              // the object never closes
      doc.substr(0, 300) + "}" + doc.substr(300),  // a stray brace
      R"({"traceEvents": {"ph": "X"}})",          // not an array
      R"({"other": []})",                         // no events at all
  };
  for (const std::string& b : bad) {
    auto whole = ParseChromeJson("bad.json", b, 0);
    auto sliced = ParseChromeJson("bad.json", b, 40);
    ASSERT_EQ(whole.ok(), sliced.ok()) << b.substr(0, 80);
    if (!whole.ok()) {
      EXPECT_EQ(whole.error().message, sliced.error().message);
      EXPECT_EQ(whole.error().byte_offset, sliced.error().byte_offset);
    } else {
      ExpectSameRaw(*whole, *sliced, "tolerated");
    }
  }
}

// The cut finders on their own: only the top level's "traceEvents" opens the
// array, and a cut is a ',' between '}' and '{' (false ones inside strings
// are found too; the slice parse then fails and the next cut is tried).
TEST(SlicedParseTest, FindsTheTopLevelEventsArrayOnly) {
  using trace_internal::FindEventsArray;
  size_t open = 0;
  const std::string doc =
      R"({"meta": {"traceEvents": [1]}, "s": "traceEvents", "traceEvents" : [ {}]})";
  ASSERT_TRUE(FindEventsArray(doc.data(), doc.size(), 0, &open));
  EXPECT_EQ(open, doc.rfind('['));
  const std::string not_array = R"({"traceEvents": {"a": 1}})";
  EXPECT_FALSE(FindEventsArray(not_array.data(), not_array.size(), 0, &open));
  const std::string escaped = R"({"trace\u0045vents": [{}]})";  // simdjson's business
  EXPECT_FALSE(FindEventsArray(escaped.data(), escaped.size(), 0, &open));
  const std::string none = R"({"other": []})";
  EXPECT_FALSE(FindEventsArray(none.data(), none.size(), 0, &open));
}

TEST(SlicedParseTest, CutsAtCommasBetweenObjects) {
  using trace_internal::FindCut;
  const std::string s = R"({"a":[1,2]} ,{"b":"},{"},  {"c":3})";
  const size_t first = FindCut(s.data(), s.size(), 0);
  EXPECT_EQ(first, s.find(" ,") + 1);
  const size_t second = FindCut(s.data(), s.size(), first + 1);
  EXPECT_EQ(second, s.find("},{") + 1);  // a false cut, inside a string
  const size_t third = FindCut(s.data(), s.size(), second + 1);
  EXPECT_EQ(third, s.find(",  {"));
  EXPECT_EQ(FindCut(s.data(), s.size(), third + 1), s.size());
}

// A document of plain events (no B/E, numeric flow ids): what the reading in
// two parts takes. `tail` goes after event `at` (none when at < 0).
std::string PlainTrace(int events, int at = -1, const std::string& tail = "") {
  std::string s = R"({"schemaVersion": 1, "traceEvents": [)";
  for (int i = 0; i < events; ++i) {
    if (i) s += ",\n";
    // Strings first seen in the second half, some also in the first, in an
    // order that differs from the first half's.
    s += fmt::format(R"({{"ph": "X", "cat": "{}", "name": "op{}", "pid": {}, "tid": "t{}", )"
                     R"("ts": {}.25, "dur": {}, "args": {{"External id": {}, "input{}": "in{}"}}}})",
                     i % 3 ? "cpu_op" : "user_annotation", (i * 7) % (i < events / 2 ? 5 : 11),
                     i % 2, (events - i) % 4, 1000 + i * 10, 1 + i % 5, i, i % 2, (i * 13) % 17);
    if (i == at) s += ",\n" + tail;
  }
  s += "]}";
  return s;
}

// Everything two readings give, string ids included.
std::string Differs(const RawTrace& a, const RawTrace& b) {
  if (a.strings.size() != b.strings.size()) return "string count";
  for (uint32_t i = 0; i < a.strings.size(); ++i)
    if (a.Str(i) != b.Str(i)) return fmt::format("string {}", i);
  if (a.events.size() != b.events.size()) return "event count";
  for (size_t i = 0; i < a.events.size(); ++i) {
    const RawEvent& x = a.events[i];
    const RawEvent& y = b.events[i];
    if (x.ts_ns != y.ts_ns || x.dur_ns != y.dur_ns || x.external_id != y.external_id ||
        x.correlation != y.correlation || x.seq != y.seq || x.name != y.name || x.cat != y.cat ||
        x.pid != y.pid || x.tid != y.tid || x.arg_name != y.arg_name || x.arg_op != y.arg_op ||
        x.fwd_tid != y.fwd_tid || x.ph != y.ph || x.flags != y.flags)
      return fmt::format("event {}", i);
  }
  if (a.inputs.size() != b.inputs.size()) return "input count";
  for (size_t i = 0; i < a.inputs.size(); ++i)
    if (a.inputs[i].event != b.inputs[i].event || a.inputs[i].input != b.inputs[i].input)
      return fmt::format("input {}", i);
  if (a.diagnostics.counts() != b.diagnostics.counts()) return "diagnostics";
  if (a.has_kineto_keys != b.has_kineto_keys) return "kineto keys";
  return "";
}

// Runs ParseSlicedInTwoParts on a padded copy of `doc`; nullopt when it declines.
std::optional<RawTrace> TwoParts(const std::string& doc, size_t slice_bytes) {
  std::string buf = doc;
  buf.reserve(doc.size() + trace_internal::kParsePadding);
  RawTrace out;
  if (!trace_internal::ParseSlicedInTwoParts("p.json", buf.data(), doc.size(), buf.capacity(), 0,
                                             slice_bytes, &out))
    return std::nullopt;
  EXPECT_EQ(buf, doc);  // every byte written for a slice is put back
  return out;
}

TEST(TwoPartsTest, GivesTheStringsIdsAndEventsOfOneReading) {
  for (int events : {2, 3, 40, 1001}) {
    const std::string doc = PlainTrace(events);
    auto whole = ParseChromeJson("p.json", doc, 0);
    ASSERT_TRUE(whole.ok());
    for (size_t slice : {size_t{1}, size_t{300}, trace_internal::kDefaultSliceBytes}) {
      auto parts = TwoParts(doc, slice);
      ASSERT_TRUE(parts.has_value()) << events << " events, slice " << slice;
      EXPECT_EQ(Differs(*whole, *parts), "") << events << " events, slice " << slice;
    }
  }
  // Events the scanner declines (escapes) on both sides of the middle: read
  // by simdjson slices, which stay inside their part.
  std::string doc = PlainTrace(400, 100, R"({"ph": "X", "name": "caf\u00e9", "ts": 1, "dur": 1})");
  doc.insert(doc.rfind("]}"), R"(, {"ph": "X", "name": "na\u00efve", "ts": 2, "dur": 1, "args": {"x": "\n"}})");
  auto whole = ParseChromeJson("p.json", doc, 0);
  ASSERT_TRUE(whole.ok());
  auto parts = TwoParts(doc, 200);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(Differs(*whole, *parts), "");
}

TEST(TwoPartsTest, DeclinesWhatDependsOnTheFirstPart) {
  // After the middle: an E (it may close a B of the first part), a B, a
  // string flow id (its number holds a string id of the reading's table).
  for (const std::string& tail :
       {std::string(R"({"ph": "E", "pid": 1, "tid": "t1", "ts": 99999})"),
        std::string(R"({"ph": "B", "name": "b", "pid": 1, "tid": "t1", "ts": 99999})"),
        std::string(R"({"ph": "s", "id": "flow-a", "pid": 1, "tid": "t1", "ts": 99999})")}) {
    const std::string doc = PlainTrace(400, 350, tail);
    EXPECT_FALSE(TwoParts(doc, 1 << 20).has_value()) << tail;
    // ParseSliced then reads it in one part: the whole parse's result.
    ::setenv("SMARAGDINE_PARSE_THREADS", "2", 1);
    auto sliced = ParseChromeJson("p.json", doc, 1 << 20);
    ::unsetenv("SMARAGDINE_PARSE_THREADS");
    auto whole = ParseChromeJson("p.json", doc, 0);
    ASSERT_TRUE(sliced.ok() && whole.ok());
    EXPECT_EQ(Differs(*whole, *sliced), "") << tail;
  }
  // Before the middle they are the first part's own: taken.
  const std::string early = PlainTrace(
      400, 10, R"({"ph": "B", "name": "b", "pid": 1, "tid": "t1", "ts": 1}, {"ph": "E", "pid": 1, "tid": "t1", "ts": 2})");
  auto parts = TwoParts(early, 1 << 20);
  ASSERT_TRUE(parts.has_value());
  auto whole = ParseChromeJson("p.json", early, 0);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(Differs(*whole, *parts), "");
  // A document that is not valid JSON (no ',' to cut at, a broken middle).
  EXPECT_FALSE(TwoParts(R"({"traceEvents": [{"ph": "X", "ts": 1, "dur": 1}]})", 64).has_value());
  std::string broken = PlainTrace(400);
  broken.insert(broken.size() / 2, "\"");
  EXPECT_FALSE(TwoParts(broken, 1 << 20).has_value());
}

// A TF1 timeline as Timeline.generate_chrome_trace_format() writes it:
// pretty-printed, args.name/op/inputN, DataFlow pairs, a metadata event.
std::string Tf1Trace(int events) {
  std::string s = "{\n    \"traceEvents\": [\n        {\n            \"name\": \"process_name\",\n"
                  "            \"ph\": \"M\",\n            \"pid\": 1,\n            \"args\": {\n"
                  "                \"name\": \"/job:localhost/replica:0/task:0/device:CPU:0 Compute\"\n"
                  "            }\n        }";
  for (int i = 0; i < events; ++i) {
    s += fmt::format(
        ",\n        {{\n            \"pid\": 1,\n            \"tid\": {},\n            \"cat\": \"Op\",\n"
        "            \"args\": {{\n                \"input0\": \"scope/node_{}\",\n"
        "                \"name\": \"scope/layer_{}/node_{}\",\n                \"op\": \"{}\"\n"
        "            }},\n            \"name\": \"{}\",\n            \"ts\": {},\n"
        "            \"dur\": {},\n            \"ph\": \"X\"\n        }}",
        i % 3, i - 1, i % 4, i, i % 2 ? "MatMul" : "Add", i % 2 ? "MatMul" : "Add",
        1700001000002103 + i * 10, 1 + i % 7);
    if (i % 50 == 7)
      s += fmt::format(",\n        {{\n            \"pid\": 1,\n            \"tid\": 1,\n"
                       "            \"cat\": \"DataFlow\",\n            \"id\": {},\n"
                       "            \"name\": \"scope/node_{}\",\n            \"ts\": {},\n"
                       "            \"ph\": \"s\"\n        }}",
                       i, i, 1700001000002103 + i * 10);
  }
  s += "\n    ]\n}\n";
  return s;
}

// A temporary file holding `bytes`, open for reading.
class TempFile {
 public:
  explicit TempFile(const std::string& bytes) {
    char name[] = "/tmp/smaragdine_window_XXXXXX";
    fd_ = ::mkstemp(name);
    path_ = name;
    if (fd_ >= 0 && !bytes.empty())
      EXPECT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    std::remove(path_.c_str());
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// ParseChromeJsonBuffer on a padded copy of `doc`, its events read from
// `fd` (SourceFile) a window of `window` bytes at a time.
Result<RawTrace> ThroughWindows(const std::string& doc, int fd, size_t window,
                                size_t slice_bytes = trace_internal::kDefaultSliceBytes) {
  std::string buf = doc;
  buf.reserve(doc.size() + trace_internal::kParsePadding);
  trace_internal::SourceFile source;
  source.fd = fd;
  source.window_bytes = window;
  auto out = trace_internal::ParseChromeJsonBuffer("w.json", buf.data(), doc.size(),
                                                   buf.capacity(), slice_bytes, source);
  EXPECT_EQ(buf, doc);  // every byte written for a slice is put back
  return out;
}

// Reading the events through windows of the file gives what reading them in
// the buffer gives, wherever a window's end cuts an event: windows smaller
// than one event (each read in place), of a few events, and larger than the
// document; events the scanner declines (escapes, B/E, non-objects) read by
// simdjson in between; in one part and in two.
TEST(FileWindowTest, GivesWhatTheBufferGives) {
  const std::vector<std::pair<std::string, std::string>> docs = {
      {"tricky", TrickyTrace(600)}, {"plain", PlainTrace(1001)}, {"tf1", Tf1Trace(700)}};
  for (const auto& [what, doc] : docs) {
    auto whole = ParseChromeJson("w.json", doc, 0);
    ASSERT_TRUE(whole.ok()) << what;
    TempFile file(doc);
    for (size_t window : {size_t{1}, size_t{100}, size_t{257}, size_t{1000}, size_t{4096},
                          trace_internal::SourceFile::kDefaultWindowBytes}) {
      for (size_t slice : {size_t{200}, trace_internal::kDefaultSliceBytes}) {
        SCOPED_TRACE(fmt::format("{}, window {}, slice {}", what, window, slice));
        auto windowed = ThroughWindows(doc, file.fd(), window, slice);
        ASSERT_TRUE(windowed.ok()) << windowed.error().message;
        EXPECT_EQ(Differs(*whole, *windowed), "");
        ExpectSameRaw(*whole, *windowed, "windowed");
      }
    }
  }
  // Two parts, each through windows of its own.
  const std::string doc = Tf1Trace(2000);
  auto whole = ParseChromeJson("w.json", doc, 0);
  ASSERT_TRUE(whole.ok());
  TempFile file(doc);
  for (size_t window : {size_t{300}, size_t{5000}}) {
    std::string buf = doc;
    buf.reserve(doc.size() + trace_internal::kParsePadding);
    trace_internal::SourceFile source;
    source.fd = file.fd();
    source.window_bytes = window;
    RawTrace parts;
    ASSERT_TRUE(trace_internal::ParseSlicedInTwoParts("w.json", buf.data(), doc.size(),
                                                      buf.capacity(), 0,
                                                      trace_internal::kDefaultSliceBytes, &parts,
                                                      source));
    EXPECT_EQ(Differs(*whole, parts), "") << "two parts, window " << window;
  }
}

// Invalid documents give the buffer's error, offset included; a file that
// no longer holds the bytes (shorter: pread comes up short) is not read,
// and the buffer gives the result.
TEST(FileWindowTest, ErrorsAndAnUnreadableFileGiveTheBuffersResult) {
  const std::string doc = Tf1Trace(100);
  for (const std::string& bad :
       {doc.substr(0, doc.size() / 2), doc.substr(0, doc.rfind(']')),
        doc.substr(0, 3000) + "}" + doc.substr(3000), doc.substr(0, 5000) + "\x01" + doc.substr(5000)}) {
    auto in_buffer = ParseChromeJson("w.json", bad, trace_internal::kDefaultSliceBytes);
    TempFile file(bad);
    auto windowed = ThroughWindows(bad, file.fd(), 777);
    ASSERT_EQ(in_buffer.ok(), windowed.ok());
    if (!in_buffer.ok()) {
      EXPECT_EQ(in_buffer.error().message, windowed.error().message);
      EXPECT_EQ(in_buffer.error().byte_offset, windowed.error().byte_offset);
    }
  }
  auto whole = ParseChromeJson("w.json", doc, 0);
  ASSERT_TRUE(whole.ok());
  TempFile shorter(doc.substr(0, doc.size() / 3));
  auto windowed = ThroughWindows(doc, shorter.fd(), 4096);
  ASSERT_TRUE(windowed.ok());
  EXPECT_EQ(Differs(*whole, *windowed), "");
}

// Mutated documents (bytes changed, cut out or repeated; fixed seed): the
// windows give what the buffer gives, result or error, wherever the damage
// falls relative to a window's end.
TEST(FileWindowTest, MutatedDocumentsGiveWhatTheBufferGives) {
  const std::vector<std::string> docs = {TrickyTrace(120), PlainTrace(150), Tf1Trace(120)};
  const std::string alphabet = "{}[],:\"\\ 0123456789.eE-XtfnAaz\n";
  std::mt19937 rng(20261205);
  for (int round = 0; round < 240; ++round) {
    std::string doc = docs[static_cast<size_t>(round) % docs.size()];
    const int mutations = 1 + static_cast<int>(rng() % 3);
    for (int m = 0; m < mutations && !doc.empty(); ++m) {
      const size_t at = rng() % doc.size();
      const size_t n = std::min<size_t>(1 + rng() % 40, doc.size() - at);
      switch (rng() % 3) {
        case 0: doc[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: doc.erase(at, n); break;
        default: doc.insert(at, doc.substr(at, n)); break;
      }
    }
    const size_t window = std::vector<size_t>{64, 100, 333, 4096}[rng() % 4];
    SCOPED_TRACE(fmt::format("round {}, window {}", round, window));
    auto in_buffer = ParseChromeJson("w.json", doc, trace_internal::kDefaultSliceBytes);
    TempFile file(doc);
    auto windowed = ThroughWindows(doc, file.fd(), window);
    ASSERT_EQ(in_buffer.ok(), windowed.ok());
    if (in_buffer.ok()) {
      EXPECT_EQ(Differs(*in_buffer, *windowed), "");
    } else {
      EXPECT_EQ(in_buffer.error().message, windowed.error().message);
      EXPECT_EQ(in_buffer.error().byte_offset, windowed.error().byte_offset);
    }
  }
}

}  // namespace
}  // namespace smaragdine
