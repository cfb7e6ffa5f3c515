// The sliced reader takes events of the common shape through a hand-written
// scanner and leaves everything else to simdjson. Its result must equal the
// whole-document simdjson parse (slice size 0, which never uses the scanner)
// exactly — every field, every string id, every diagnostic — on the real
// fixtures, and on thousands of damaged variants of them; invalid documents
// must give the same error message and byte offset.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/io.h"
#include "trace/chrome_json.h"
#include "trace/fast_scanner.h"
#include "trace/trace_test_util.h"

namespace smaragdine {
namespace {

using trace_internal::ParseChromeJson;
using trace_internal::RawEvent;
using trace_internal::RawTrace;

// Empty when equal, else the first difference.
std::string Difference(const Result<RawTrace>& a, const Result<RawTrace>& b) {
  if (a.ok() != b.ok())
    return fmt::format("ok {} vs {}: {}", a.ok(), b.ok(),
                       a.ok() ? b.error().ToString() : a.error().ToString());
  if (!a.ok()) {
    if (a.error().ToString() != b.error().ToString())
      return a.error().ToString() + " | " + b.error().ToString();
    return "";
  }
  if (a->events.size() != b->events.size())
    return fmt::format("{} vs {} events", a->events.size(), b->events.size());
  if (a->strings.size() != b->strings.size())
    return fmt::format("{} vs {} strings", a->strings.size(), b->strings.size());
  for (size_t i = 0; i < a->strings.size(); ++i)
    if (a->strings.Get(static_cast<uint32_t>(i)) != b->strings.Get(static_cast<uint32_t>(i)))
      return fmt::format("string {} differs", i);
  for (size_t i = 0; i < a->events.size(); ++i) {
    const RawEvent& x = a->events[i];
    const RawEvent& y = b->events[i];
    if (x.ts_ns != y.ts_ns || x.dur_ns != y.dur_ns || x.external_id != y.external_id ||
        x.correlation != y.correlation || x.seq != y.seq || x.name != y.name ||
        x.cat != y.cat || x.pid != y.pid || x.tid != y.tid || x.arg_name != y.arg_name ||
        x.arg_op != y.arg_op || x.fwd_tid != y.fwd_tid || x.ph != y.ph || x.flags != y.flags)
      return fmt::format("event {} differs", i);
  }
  if (a->inputs.size() != b->inputs.size())
    return fmt::format("{} vs {} inputs", a->inputs.size(), b->inputs.size());
  for (size_t i = 0; i < a->inputs.size(); ++i)
    if (a->inputs[i].event != b->inputs[i].event || a->inputs[i].input != b->inputs[i].input)
      return fmt::format("input {} differs", i);
  if (a->diagnostics.counts() != b->diagnostics.counts()) return "diagnostics differ";
  if (a->has_kineto_keys != b->has_kineto_keys || a->base_time_ns != b->base_time_ns ||
      a->bare_array != b->bare_array)
    return "top-level keys differ";
  return "";
}

std::vector<std::string> Fixtures() {
  std::vector<std::string> docs;
  for (const char* rel : {"fixtures/tf1_timeline_gpu_matmul_2017.json",
                          "fixtures/pt2_bert-small_h100_inference.pt.trace.json.gz",
                          "fixtures/pt2_resnet_ddp_train_v100_2024.pt.trace.json.gz",
                          "fixtures/tf2_bert-base-uncased_cpu_2021.trace.json.gz",
                          "traces/legacy_infer.json", "traces/legacy_train_2steps.json"}) {
    std::string bytes = testing::ReadText(testing::DataPath(rel));
    if (LooksGzipped(bytes)) {
      auto plain = Gunzip(rel, bytes);
      EXPECT_TRUE(plain.ok()) << rel;
      if (plain.ok()) bytes = std::move(*plain);
    }
    docs.push_back(std::move(bytes));
  }
  return docs;
}

TEST(ChromeJsonFastScanTest, FixturesReadExactlyAsTheWholeParse) {
  for (const std::string& doc : Fixtures()) {
    auto whole = ParseChromeJson("f.json", doc, 0);
    ASSERT_TRUE(whole.ok()) << whole.error().ToString();
    for (size_t slice : {size_t{64}, size_t{4096}, trace_internal::kDefaultSliceBytes}) {
      EXPECT_EQ(Difference(whole, ParseChromeJson("f.json", doc, slice)), "")
          << doc.substr(0, 60) << " slice " << slice;
    }
  }
}

TEST(ChromeJsonFastScanTest, ShapesTheScannerDeclinesOrTakes) {
  // Each document mixes events the scanner takes with one it must decline
  // or reject exactly as simdjson does.
  const std::string ok = R"({"ph": "X", "name": "a", "pid": 1, "tid": 2, "ts": 1.5, "dur": 2})";
  const std::vector<std::string> odd = {
      R"({"ph": "X", "name": "caf\u00e9", "ts": 1, "dur": 1})",      // escape
      "{\"ph\": \"X\", \"name\": \"caf\xc3\xa9\", \"ts\": 1, \"dur\": 1}",  // UTF-8
      "{\"ph\": \"X\", \"name\": \"bad\xff\", \"ts\": 1, \"dur\": 1}",      // invalid UTF-8
      R"({"ph": "X", "ts": 01, "dur": 1})",                          // leading zero
      R"({"ph": "X", "ts": 1., "dur": 1})",                          // bare point
      R"({"ph": "X", "ts": -, "dur": 1})",
      R"({"ph": "X", "ts": 1e, "dur": 1})",
      R"({"ph": "X", "ts": 1.5e+3, "dur": 1E2, "name": true})",      // exponents, literal name
      R"({"ph": "X", "ts": "7", "dur": "2", "pid": null, "tid": false})",
      R"({"ph": "X", "ts": 1, "dur": 1, "args": [1, {"a": [true, null]}]})",  // args not object
      R"({"ph": "X", "ts": 1, "dur": 1, "args": {"name": "n", "long_name": "l", "tf_op": "t"}})",
      R"({"ph": "X", "ts": 1, "dur": 1, "args": {"Input Dims": [[1, 2], []], "op": "MatMul"}})",
      R"({"ph": "X", "ts": 1, "dur": 1, "args": {}, "args": {"External id": 4}})",
      R"({"ph": "X", "ts": 1, "dur": 1, "": 3, "ph": "B"})",         // empty key, repeated key
      R"({"ph": "s", "id": "0x1f", "ts": 1, "bp": "e"}, {"ph": "f", "id": "flow-a", "ts": 2})",
      R"({"ph": "X", "ts": 1, "dur": 1,})",                          // trailing comma
      R"({"ph": "X", "ts": 1, "dur": 1} {"ph": "X", "ts": 2, "dur": 1})",  // missing comma
      R"({"ph": "X", "ts": 1, "dur": 1 "name": "x"})",
      R"({"ph": "X" "ts": 1})",
      R"({"ph": "X", "ts": tru, "dur": 1})",
      R"({"ph": "X", "ts": 1, "dur": 1, "args": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}})",
      "{\"ph\": \"X\", \"name\": \"tab\there\", \"ts\": 1, \"dur\": 1}",  // control byte
      R"(17)", R"("str")", R"([])", R"({})", R"(null)",
      "",  // an empty element: ", ,"
  };
  for (const std::string& e : odd) {
    for (const std::string& doc :
         {R"({"traceEvents": [)" + ok + ",\n" + e + ",\n" + ok + "]}",
          R"({"traceEvents": [)" + e + ",\n" + ok + "]}",
          R"({"traceEvents": [)" + ok + ",\n" + e + "]}",
          R"({"traceEvents": [)" + ok + ",\n" + e + ",]}",
          "[" + ok + ", " + e + "]"}) {
      auto whole = ParseChromeJson("s.json", doc, 0);
      for (size_t slice : {size_t{1}, size_t{40}, trace_internal::kDefaultSliceBytes})
        EXPECT_EQ(Difference(whole, ParseChromeJson("s.json", doc, slice)), "")
            << doc << " slice " << slice;
    }
  }
}

TEST(ChromeJsonFastScanTest, RepeatedAndChangingLayoutsReadAsTheWholeParse) {
  // The scanner reads an event whose bytes between values repeat a recent
  // event's by comparing those bytes: layouts that repeat, alternate, differ
  // in one key, one blank, one value's kind, or in args, must all read as
  // the whole-document parse does, string ids included.
  const std::vector<std::string> events = {
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 1}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "b", "pid": 7, "tid": 1, "ts": 3.5, "dur": 2, "args": {"External id": 2}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": "7", "tid": 1, "ts": 5, "dur": 2.25, "args": {"External id": "3"}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 6, "dur": 1, "args": {"External id": 4, "Sequence number": 9}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 7, "dur": 1, "args": {}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 8, "dur": 1})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 9, "dur": 1, "args": [1, 2]})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 10, "dur": 1, "args": {"x": {"y": [1, "z"]}, "op": "Add"}})",
      R"({"ph": "X", "cat": "cpu_op", "name": 12, "pid": 7, "tid": 1, "ts": 11, "dur": 1, "args": {"External id": 5}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": "12", "dur": null, "args": {"External id": 6}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 13, "dur": 1, "ts": 14, "args": {"External id": 7}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 15, "dur": 1,  "args": {"External id": 8}})",
      R"({"ph":"X","cat":"cpu_op","name":"a","pid":7,"tid":1,"ts":16,"dur":1,"args":{"External id":9}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 17, "dur": 1, "args": {"External id": 10}, "": 1})",
      // The same layout with values that extend or differ from the last
      // one's by a byte: a remembered value must match whole or not at all.
      R"({"ph": "X", "cat": "cpu_op", "name": "ab", "pid": 71, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 11}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7.5, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 1.5}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7e0, "tid": "1", "ts": 1.5, "dur": 2, "args": {"External id": 1e3}})",
      R"({"ph": "XX", "cat": "cpu_opx", "name": "a", "pid": -7, "tid": 10, "ts": 1.5, "dur": 2, "args": {"External id": -4}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 12345678901234567890}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 123456789012345678}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 0}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 01}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": "9"}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": true, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 2}})",
      R"({"ph": "X", "cat": "cpu_op", "name": "a", "pid": 7, "tid": 1, "ts": 1.5, "dur": 2, "args": {"External id": 2}}  )",
      R"({"ph": "B", "name": "b", "pid": 7, "tid": 1, "ts": 18})",
      R"({"ph": "E", "pid": 7, "tid": 1, "ts": 19})",
      R"({"ph": "X", "name": "caf\u00e9", "pid": 7, "tid": 1, "ts": 20, "dur": 1})",
      R"({})",
      "{\n  \"pid\": 1,\n  \"tid\": 0,\n  \"cat\": \"Op\",\n  \"args\": {\n    \"input0\": \"a/b\",\n"
      "    \"name\": \"c/d\",\n    \"op\": \"MatMul\"\n  },\n  \"name\": \"MatMul\",\n  \"ts\": 21,\n"
      "  \"dur\": 3,\n  \"ph\": \"X\"\n}",
      "{\n  \"pid\": 1,\n  \"tid\": 0,\n  \"cat\": \"Op\",\n  \"args\": {\n    \"name\": \"c/e\",\n"
      "    \"op\": \"Add\"\n  },\n  \"name\": \"Add\",\n  \"ts\": 22,\n  \"dur\": 3,\n  \"ph\": \"X\"\n}",
  };
  std::mt19937_64 rng(16);
  for (int round = 0; round < 200; ++round) {
    std::string doc = R"({"traceEvents": [)";
    const int n = 2 + static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) {
      // Runs of one layout, then another.
      const std::string& e = events[(k / (1 + round % 4) + round) % events.size()];
      doc += (k ? ",\n" : "") + (rng() % 5 == 0 ? events[rng() % events.size()] : e);
    }
    doc += "]}";
    auto whole = ParseChromeJson("l.json", doc, 0);
    for (size_t slice : {size_t{1}, size_t{100}, trace_internal::kDefaultSliceBytes})
      ASSERT_EQ(Difference(whole, ParseChromeJson("l.json", doc, slice)), "")
          << doc << " slice " << slice;
  }
}

TEST(ChromeJsonFastScanTest, Tf1NodeNamesAndOpsReadRightWhenTheStepOrderChanges) {
  // The reader guesses each TF1 event's args.name from the node that followed
  // the previous one last time, and its args.op from the node's op last
  // time: a step in another order, a node whose op changed, an op before
  // the name, must still give the names and ops the file has.
  auto event = [](const std::string& node, const std::string& op, bool op_first, int ts) {
    const std::string name = "\"name\": \"" + node + "\"";
    const std::string type = "\"op\": \"" + op + "\"";
    return fmt::format(
        R"({{"pid": 1, "tid": 0, "cat": "Op", "args": {{{}, {}}}, "name": "{}", "ts": {}, )"
        R"("dur": 1, "ph": "X"}})",
        op_first ? type : name, op_first ? name : type, op, ts);
  };
  struct Node {
    std::string name, op;
    bool op_first;
  };
  const std::vector<std::vector<Node>> steps = {
      {{"l/a", "MatMul", false}, {"l/b", "Add", false}, {"l/c", "Relu", false}},
      {{"l/a", "MatMul", false}, {"l/b", "Add", false}, {"l/c", "Relu", false}},
      {{"l/b", "Add", false}, {"l/a", "MatMul", false}, {"l/c", "Tanh", false}},
      {{"l/a", "Relu", true}, {"l/c", "Relu", false}, {"l/b", "Add", true}},
      {{"l/a", "MatMul", false}, {"l/b", "Add", false}, {"l/c", "Relu", false}},
  };
  std::string doc = R"({"traceEvents": [)";
  std::vector<Node> want;
  int ts = 1;
  for (const auto& step : steps)
    for (const Node& n : step) {
      doc += (want.empty() ? "" : ",\n") + event(n.name, n.op, n.op_first, ts++);
      want.push_back(n);
    }
  doc += "]}";
  for (size_t slice : {size_t{0}, size_t{100}, trace_internal::kDefaultSliceBytes}) {
    auto raw = ParseChromeJson("tf1.json", doc, slice);
    ASSERT_TRUE(raw.ok()) << raw.error().ToString();
    ASSERT_EQ(raw->events.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const RawEvent& e = raw->events[i];
      EXPECT_EQ(raw->Str(e.arg_name), want[i].name) << "event " << i << " slice " << slice;
      EXPECT_EQ(raw->Str(e.arg_op), want[i].op) << "event " << i << " slice " << slice;
      EXPECT_EQ(raw->Str(e.name), want[i].op) << "event " << i << " slice " << slice;
    }
  }
}

TEST(ChromeJsonFastScanTest, TimesAndIdsOfEveryShapeReadAsTheWholeParse) {
  // The scanner converts `ts`, `dur` and "External id" itself (16 bytes
  // classified at once for the usual 1-16 digits and ".ddd"); every other
  // shape goes the general way. Each must give ParseMicrosToNs's value, or its refusal:
  // 1-20 digits, fractions of 0-5 digits, exponents, signs, zeros,
  // values at and past the int64 limit in ns; and PyTorch's "External id"
  // (up to 18 digits read the plain way, the rest as ParseInt64 reads them).
  std::mt19937_64 rng(1616);
  auto number = [&rng]() {
    static const std::vector<std::string> fixed = {
        "9223372036854775", "9223372036854775.807", "9223372036854775.808", "9223372036854776",
        "9999999999999999.999", "1700001000002000", "1700001000002008.305", "0", "0.5",
        "-3.25", "1e3", "1.5E2", "1.2345", "7.000", "99999999", "100000000", "1.000e0", "-0"};
    if (rng() % 4 == 0) return fixed[rng() % fixed.size()];
    std::string n;
    const int digits = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < digits; ++i)
      n += static_cast<char>('0' + (i == 0 ? 1 + rng() % 9 : rng() % 10));
    const int frac = static_cast<int>(rng() % 7) - 1;  // -1: no '.'
    if (frac >= 0) {
      n += '.';
      for (int i = 0; i < frac; ++i) n += static_cast<char>('0' + rng() % 10);
    }
    if (rng() % 10 == 0) n += "e1";
    return n;
  };
  for (int round = 0; round < 300; ++round) {
    std::string doc = R"({"traceEvents": [)";
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int k = 0; k < n; ++k) {
      const bool compact = rng() % 3 == 0;  // the number right before ',' or '}'
      const std::string ts = number(), dur = number();
      doc += k ? ",\n" : "";
      doc += compact
                 ? fmt::format(R"({{"ph":"X","name":"a","pid":1,"tid":1,"ts":{},"dur":{}}})", ts, dur)
                 : fmt::format(R"({{"ph": "X", "name": "a", "ts": {}, "dur": {} , "pid": 1, )"
                               R"("args": {{"External id": {}}}}})",
                               ts, dur, number());
    }
    doc += "]}";
    auto whole = ParseChromeJson("t.json", doc, 0);
    for (size_t slice : {size_t{1}, size_t{64}, trace_internal::kDefaultSliceBytes})
      ASSERT_EQ(Difference(whole, ParseChromeJson("t.json", doc, slice)), "")
          << doc << " slice " << slice;
  }
}

TEST(ChromeJsonFastScanTest, DamagedFixturesGiveTheWholeParseResultOrError) {
  // Random damage near event boundaries and inside events: deleted, replaced
  // and inserted bytes chosen from the characters that matter to a scanner.
  const std::vector<std::string> docs = Fixtures();
  std::mt19937_64 rng(20261127);
  const std::string alphabet = "{}[],:\"\\ \n0123456789.-+eEtrufalsn\x01\x80\xc3\xff";
  int cases = 0;
  for (const std::string& full : docs) {
    // A prefix keeps the test fast; it still ends with the document's tail.
    std::string base = full.size() > 60000 ? full.substr(0, 50000) : full;
    if (base.size() != full.size()) {
      const size_t cut = base.rfind("},");
      const size_t tail = full.rfind(']');
      base = base.substr(0, cut + 1) + full.substr(tail);
    }
    for (int round = 0; round < 150; ++round) {
      std::string doc = base;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < edits; ++k) {
        size_t at = rng() % doc.size();
        if (rng() % 2) {  // near a boundary between events
          size_t b = doc.find("}, {", at);
          if (b == std::string::npos) b = doc.find("},\n", at);
          if (b != std::string::npos) at = b + rng() % 4;
          if (at >= doc.size()) at = doc.size() - 1;
        }
        const char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0: doc.erase(at, 1); break;
          case 1: doc[at] = c; break;
          default: doc.insert(doc.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        }
      }
      auto whole = ParseChromeJson("d.json", doc, 0);
      auto sliced = ParseChromeJson("d.json", doc, 4096);
      const std::string diff = Difference(whole, sliced);
      EXPECT_EQ(diff, "") << "round " << round;
      if (!diff.empty()) {
        ASSERT_TRUE(WriteFileAtomic(::testing::TempDir() + "/fast_scan_failure.json", doc).ok());
        return;
      }
      ++cases;
    }
  }
  EXPECT_EQ(cases, 900);
}

// The scanner on its own: where it stops, and what it hands the reader.
struct Scanned {
  size_t stop = 0;
  size_t close = std::string::npos;
  RawTrace out;
};
Scanned ScanArray(const std::string& json) {
  // The scanner reads up to 16 bytes past the end, inside the padding.
  std::vector<char> buf(json.begin(), json.end());
  buf.resize(json.size() + trace_internal::kParsePadding, '\0');
  Scanned s;
  std::string name = "t.json";
  trace_internal::Reader reader(name, buf.data(), &s.out);
  trace_internal::FastEventScanner scanner(reader, buf.data() + json.size());
  s.stop = scanner.Scan(buf.data(), 1, /*array_start=*/true, &s.close);
  return s;
}

TEST(FastEventScannerTest, TakesCommonEventsToTheClosingBracket) {
  const std::string json =
      R"([{"ph":"X","name":"a","ts":1.5,"dur":2,"pid":1,"tid":"t","args":{"External id":7,"x":[1,{"y":null}]}},
 {"ph":"i","name":"b","ts":3,"s":"t","flag":true} ])";
  Scanned s = ScanArray(json);
  EXPECT_EQ(s.close, json.size() - 1);
  ASSERT_EQ(s.out.events.size(), 2u);
  EXPECT_EQ(s.out.events[0].ts_ns, 1500);
  EXPECT_EQ(s.out.events[0].dur_ns, 2000);
  EXPECT_EQ(s.out.events[0].external_id, 7);
  EXPECT_EQ(s.out.Str(s.out.events[0].tid), "t");
  EXPECT_EQ(s.out.events[1].ph, 'i');
}

TEST(FastEventScannerTest, StopsBeforeTheFirstEventItDeclinesAndInternsNothingOfIt) {
  // Each of these is left to simdjson: an escape, a non-ASCII byte, a number
  // JSON forbids, a bad literal, a missing separator.
  for (const std::string bad : {R"({"name":"a\nb","ph":"X"})", "{\"name\":\"\xc3\xa9\"}",
                                R"({"ts":01})", R"({"ts":tru})", R"({"ts":1 "dur":2})"}) {
    const std::string head = R"([{"ph":"X","name":"ok","ts":1,"dur":1}, )";
    const size_t strings_of_head = ScanArray(head + "]").out.strings.size();
    Scanned s = ScanArray(head + bad + "]");
    EXPECT_EQ(s.stop, head.size() - 1) << bad;  // just after the ',' it took
    EXPECT_EQ(s.close, std::string::npos) << bad;
    EXPECT_EQ(s.out.events.size(), 1u) << bad;
    EXPECT_EQ(s.out.strings.size(), strings_of_head) << bad;
  }
  // A trailing comma: the scanner stops after it without reaching the ']',
  // so the slicer hands the document to simdjson, which reports it.
  const std::string trailing = R"([{"ph":"X","ts":1,"dur":1},])";
  Scanned s = ScanArray(trailing);
  EXPECT_EQ(s.close, std::string::npos);
  EXPECT_EQ(s.stop, trailing.size() - 1);
}

}  // namespace
}  // namespace smaragdine
