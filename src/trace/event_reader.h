// event_reader.h — what each trace event's fields mean, for both JSON paths.
//
// The Reader turns the fields of one event into a RawEvent: which keys are
// read, how pid/tid/names are interned, how B/E pairs become X events, and
// which anomalies are counted. The simdjson path (ReadEventsArray) and the
// fast scanner (fast_scanner.h, through EventField/ArgsField/AddScanned)
// share it, so both read every event alike. ParseDocument reads a whole
// document's top level with simdjson.
//
//   Reader reader(name, data, &out);
//   SMG_ASSIGN_OR_RETURN(bool saw_events, ParseDocument(name, parser, data, size, capacity,
//                                                       first, reader, out));
//   reader.Finish();  // counts B events left open
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "trace/chrome_json.h"

namespace smaragdine::trace_internal {

namespace od = simdjson::ondemand;

class FastEventScanner;

// Thrown for a document that is valid JSON but not a trace; carries the offset.
struct NotATrace {
  std::string message;
  const char* where;
};

// A scalar JSON value as the fast scanner saw it: the text of a string
// (never with escapes: the scanner leaves those to simdjson) or a number.
struct Scalar {
  enum Kind : uint8_t { kString, kNumber, kTrue, kFalse, kNull, kOther } kind = kOther;
  std::string_view text;  // empty unless kString or kNumber
};

// Reads events into `out` (not owned; must outlive the Reader). One Reader
// per document; not thread-safe.
class Reader {
 public:
  Reader(const std::string& name, const char* buf_begin, RawTrace* out)
      : name_(name), begin_(buf_begin), out_(out) {}

  // Scalar text of a number or string value (strings unescaped). Strings
  // without escapes are viewed in the input, not copied out by simdjson.
  std::string_view ScalarText(od::value& v) {
    std::string_view token = v.raw_json_token();
    if (!token.empty() && token[0] == '"') {
      std::string_view quoted = TrimJsonSpaceBack(token);
      if (quoted.size() >= 2 && quoted.back() == '"' &&
          std::memchr(quoted.data() + 1, '\\', quoted.size() - 2) == nullptr)
        return quoted.substr(1, quoted.size() - 2);
      return std::string_view(v.get_string());
    }
    if (v.type() == od::json_type::number) return TrimJsonSpace(token);
    return {};
  }

  // An object key as written, or unescaped when it has escapes. Keys are
  // matched for every field of every event: this avoids simdjson's copy.
  static std::string_view Key(od::field& field) {
    const char* begin = field.key().raw();  // just after the opening quote
    const char* end = begin;
    while (*end != '"' && *end != '\\') ++end;  // valid JSON: a quote comes
    if (*end == '"') return std::string_view(begin, static_cast<size_t>(end - begin));
    return field.unescaped_key();
  }

  bool Int(od::value& v, int64_t* out) {
    std::string_view s = ScalarText(v);
    return !s.empty() && ParseInt64(s, out);
  }
  static std::string_view ScalarText(const Scalar& v) { return v.text; }
  bool Int(const Scalar& v, int64_t* out) {
    return !v.text.empty() && ParseInt64(v.text, out);
  }

  // `last` remembers the field's previous string: pid, tid and cat repeat
  // from one event to the next, and a compare is cheaper than a lookup.
  StrId InternScalar(od::value& v, StrId* last = nullptr) {
    od::json_type t = v.type();
    if (t == od::json_type::string || t == od::json_type::number) return InternText(ScalarText(v), last);
    if (t == od::json_type::null) return kEmptyStr;
    if (t == od::json_type::boolean) return out_->strings.Intern(bool(v) ? "true" : "false");
    return kEmptyStr;  // objects/arrays are skipped by the iterator
  }
  StrId InternScalar(const Scalar& v, StrId* last = nullptr) {
    switch (v.kind) {
      case Scalar::kString:
      case Scalar::kNumber: return InternText(v.text, last);
      case Scalar::kTrue: return out_->strings.Intern("true");
      case Scalar::kFalse: return out_->strings.Intern("false");
      default: return kEmptyStr;
    }
  }
  // InternScalar(v), comparing `expected` first when v is text
  // (StringTable::InternExpected: the same id either way).
  StrId InternExpected(od::value& v, StrId expected) {
    const od::json_type t = v.type();
    if (t == od::json_type::string || t == od::json_type::number)
      return out_->strings.InternExpected(ScalarText(v), expected);
    return InternScalar(v);
  }
  StrId InternExpected(const Scalar& v, StrId expected) {
    if (v.kind == Scalar::kString || v.kind == Scalar::kNumber)
      return out_->strings.InternExpected(v.text, expected);
    return InternScalar(v);
  }
  // Guesses kept per string id (next_node_, op_of_node_); kNoStr when none.
  static StrId Lookup(const std::vector<StrId>& guesses, StrId id) {
    return id < guesses.size() ? guesses[id] : StringTable::kNoStr;
  }
  static void Remember(std::vector<StrId>& guesses, StrId id, StrId value) {
    if (id == StringTable::kNoStr) return;
    if (id >= guesses.size())
      guesses.resize(std::max<size_t>(id + 1, guesses.size() * 2), StringTable::kNoStr);
    guesses[id] = value;
  }

  StrId InternText(std::string_view text, StrId* last) {
    if (last == nullptr) return out_->strings.Intern(text);
    if (*last != StringTable::kNoStr && out_->strings.Is(*last, text)) return *last;
    return *last = out_->strings.Intern(text);
  }

  // What an event's fields say beyond the RawEvent itself.
  struct EventState {
    bool has_ts = false, bad_ts = false, bad_dur = false;
    bool duplicate_key = false;  // a key the reader reads came twice: which one was meant?
    bool bad_lane = false;       // pid or tid an object or array
    bool have_long_name = false;  // in args: long_name or tf_op seen
    uint32_t seen = 0;            // the keys read so far, one bit each (Seen)
  };
  // Keys the reader reads, one bit each: a second one makes the event ambiguous.
  enum KeyBit : uint32_t {
    kPh = 1u << 0, kPid = 1u << 1, kTs = 1u << 2, kTid = 1u << 3, kDur = 1u << 4,
    kName = 1u << 5, kCat = 1u << 6, kId = 1u << 7, kBp = 1u << 8, kArgs = 1u << 9,
    kArgName = 1u << 10, kArgLongName = 1u << 11, kArgTfOp = 1u << 12, kArgOp = 1u << 13,
    kArgExternalId = 1u << 14, kArgCorrelation = 1u << 15, kArgSeq = 1u << 16,
    kArgGroupId = 1u << 17, kArgFwdTid = 1u << 18, kArgParentName = 1u << 19,
    kArgProvider = 1u << 20, kArgStepNum = 1u << 21,
  };
  static void Seen(EventState& st, uint32_t bit) {
    if (st.seen & bit) st.duplicate_key = true;
    st.seen |= bit;
  }

  // One field of an event's `args`. Shared by the simdjson path (V =
  // od::value) and the fast scanner (V = Scalar), so both read alike. The
  // keys are told apart by length first: this runs for every argument.
  template <class V>
  void ArgsField(std::string_view key, V& v, RawEvent* e, EventState& st) {
    switch (key.size()) {
      case 2:
        if (key == "op") return ArgOp(v, e, st);
        break;
      case 4:
        if (key == "name") return ArgName(v, e, st);
        break;
      case 5:
      case 9:
        if (key == "long_name" || key == "tf_op") {
          Seen(st, key == "long_name" ? kArgLongName : kArgTfOp);
          if (!st.have_long_name || key == "long_name") {
            e->arg_name = InternScalar(v);
            st.have_long_name = true;
            e->flags |= RawEvent::kLongName;
          }
          return;
        }
        break;
      case 8:
        if (key == "group_id") {
          Seen(st, kArgGroupId);
          Int(v, &e->seq);
          return;
        }
        if (key == "step_num") {
          // TF2/JAX step markers (tf.profiler.experimental.Trace, StepTraceAnnotation).
          Seen(st, kArgStepNum);
          Int(v, &e->external_id);
          return;
        }
        if (key == "provider") {
          // ONNX Runtime: the execution provider that ran a node.
          Seen(st, kArgProvider);
          if (IsGpuProvider(ScalarText(v))) e->flags |= RawEvent::kGpuProvider;
          return;
        }
        break;
      case 11:
        if (key == "External id") {
          Seen(st, kArgExternalId);
          Int(v, &e->external_id);
          return;
        }
        if (key == "correlation") {
          Seen(st, kArgCorrelation);
          Int(v, &e->correlation);
          return;
        }
        if (key == "parent_name") {
          // ONNX Runtime: the node whose run launched a GPU kernel.
          Seen(st, kArgParentName);
          if (!st.have_long_name) e->arg_name = InternScalar(v);
          return;
        }
        break;
      case 13:
        if (key == "Fwd thread id") {
          Seen(st, kArgFwdTid);
          int64_t x;
          if (Int(v, &x) && x >= std::numeric_limits<int32_t>::min() &&
              x <= std::numeric_limits<int32_t>::max())
            e->fwd_tid = static_cast<int32_t>(x);
          return;
        }
        break;
      case 15:
        if (key == "Sequence number") {
          Seen(st, kArgSeq);
          Int(v, &e->seq);
          return;
        }
        break;
      default:
        break;
    }
    if (IsInputKey(key)) ArgInput(v);
  }

  // The `args` fields TF1 gives every event, read as ArgsField reads them:
  // the fast scanner calls these straight for a key its shape knows.
  template <class V>
  void ArgOp(V& v, RawEvent* e, EventState& st) {
    Seen(st, kArgOp);
    e->arg_op = InternExpected(v, Lookup(op_of_node_, e->arg_name));
    if (e->arg_name != kEmptyStr) Remember(op_of_node_, e->arg_name, e->arg_op);
  }
  template <class V>
  void ArgName(V& v, RawEvent* e, EventState& st) {
    Seen(st, kArgName);
    if (!st.have_long_name) {
      e->arg_name = InternExpected(v, Lookup(next_node_, last_node_));
      Remember(next_node_, last_node_, e->arg_name);
      last_node_ = e->arg_name;
    }
  }
  // An "inputN" key: TF1's data flow, held until Add knows the event's index.
  template <class V>
  void ArgInput(V& v) {
    const StrId input = InternScalar(v);
    if (input != kEmptyStr) pending_inputs_.push_back(input);
  }

  // ONNX Runtime's execution providers that run on a GPU (the rest, CPU,
  // DNNL, OpenVINO, XNNPACK, NPUs, run where no GPU domain measures them).
  static bool IsGpuProvider(std::string_view p) {
    for (std::string_view g : {"CUDA", "Tensorrt", "TensorRT", "ROCM", "MIGraphX", "Dml", "WebGpu"})
      if (p.find(g) != std::string_view::npos) return true;
    return false;
  }

  // "input0", "input12": TensorFlow's inputs of a node, in argument order.
  static bool IsInputKey(std::string_view key) {
    if (key.size() < 6 || key.compare(0, 5, "input") != 0) return false;
    for (size_t i = 5; i < key.size(); ++i)
      if (key[i] < '0' || key[i] > '9') return false;
    return true;
  }

  void ReadArgs(od::object args, RawEvent* e, EventState& st);

  // pid and tid are names: a number or a string. An object or array is no
  // name (the Scalar of the fast scanner has kind kOther for both).
  static bool IsContainer(od::value& v) {
    const od::json_type t = v.type();
    return t == od::json_type::object || t == od::json_type::array;
  }
  static bool IsContainer(const Scalar& v) { return v.kind == Scalar::kOther; }

  // One top-level field of an event other than `args` (which the caller
  // reads, since its value is an object). Shared like ArgsField.
  template <class V>
  void EventField(std::string_view key, V& v, RawEvent& e, EventState& st) {
    switch (key[0]) {
      case 'p':
        if (key == "ph") {
          Seen(st, kPh);
          std::string_view ph = ScalarText(v);
          e.ph = ph.empty() ? 0 : ph[0];
        } else if (key == "pid") {
          Seen(st, kPid);
          if (IsContainer(v)) st.bad_lane = true;
          e.pid = InternScalar(v, &last_pid_);
        }
        break;
      case 't':
        if (key == "ts") {
          Seen(st, kTs);
          std::string_view s = ScalarText(v);
          st.has_ts = !s.empty() && ParseMicrosToNs(s, &e.ts_ns);
          st.bad_ts = !st.has_ts;
        } else if (key == "tid") {
          Seen(st, kTid);
          if (IsContainer(v)) st.bad_lane = true;
          e.tid = InternScalar(v, &last_tid_);
        }
        break;
      case 'd':
        if (key == "dur") {
          Seen(st, kDur);
          std::string_view s = ScalarText(v);
          if (!s.empty() && ParseMicrosToNs(s, &e.dur_ns)) e.flags |= RawEvent::kHasDur;
          else st.bad_dur = true;
        }
        break;
      case 'n':
        if (key == "name") {
          Seen(st, kName);
          e.name = InternScalar(v);
        }
        break;
      case 'c':
        if (key == "cat") {
          Seen(st, kCat);
          e.cat = InternScalar(v, &last_cat_);
        }
        break;
      case 'i':
        if (key == "id") {
          Seen(st, kId);
          if (!Int(v, &e.correlation)) {
            // A string flow id that is not a number: any stable integer will do.
            std::string_view s = ScalarText(v);
            if (!s.empty()) {
              e.correlation = (int64_t{1} << 40) + out_->strings.Intern(s);
              string_flow_ids_ = true;
            }
          }
        }
        break;
      case 'b':
        if (key == "bp") {
          Seen(st, kBp);
          if (ScalarText(v) == "e") e.flags |= RawEvent::kBindEnclosing;
        }
        break;
      default:
        break;
    }
  }

  // Reads one element of the events array.
  void ReadEvent(od::value ev);

  // The fast scanner (FastScanEvents) hands each finished event here. The
  // usual one, a well-formed complete event (with its TF1 inputs, if any),
  // is kept here without a call, as Add keeps it; everything else goes
  // through Add.
  void AddScanned(RawEvent& e, const EventState& st) {
    int64_t end_ns;
    if (e.ph == 'X' && !st.duplicate_key && !st.bad_lane && st.has_ts && !st.bad_dur &&
        (e.flags & RawEvent::kHasDur) && e.dur_ns >= 0 &&
        !__builtin_add_overflow(e.ts_ns, e.dur_ns, &end_ns)) {
      if (!pending_inputs_.empty()) KeepPendingInputs(static_cast<uint32_t>(out_->events.size()));
      if (reinterpret_cast<const char*>(out_->events.data() + out_->events.size()) >=
          events_populated_end_)
        PopulateEventsAhead();
      out_->events.push_back(e);
      return;
    }
    Add(e, st);
  }

  void Add(RawEvent& e, const EventState& st);
  // The inputs read for the event about to be kept at `index`, appended to
  // the trace's.
  void KeepPendingInputs(uint32_t index);
  // Makes the next few MiB of the events' reservation resident in one call
  // (PopulateForWrite): where the kernel gives no huge page, a fault per
  // 4 KiB page as the events are written costs more on a virtual machine.
  // Advances events_populated_end_; where the vector has moved (grown past
  // its reservation), the pages fault in as before.
  void PopulateEventsAhead();

  void AddEvent(RawEvent& e, const EventState& st);

  // Where the reader stands, to undo a slice that turned out to be cut wrongly.
  struct Mark {
    size_t events;
    size_t inputs;
    size_t strings;
    Diagnostics diagnostics;
    std::unordered_map<uint64_t, std::vector<RawEvent>> open;
  };
  Mark Save() const;
  void Restore(const Mark& m);

  // At the end of the document: counts B events left open.
  void Finish();

  void ReadEventsArray(od::array arr);

  // For reading a document in parts side by side (sliced_parse.cpp): whether
  // this reader saw B or E events (an E may close a B of an earlier part),
  // or a flow id that is a string (its number holds a string id of this
  // reader's table). Either makes the parts' results unmergeable.
  bool SawCrossPartState() const { return begin_end_events_ || string_flow_ids_; }

 private:
  friend class FastEventScanner;  // reads and rolls back the per-field caches below

  static uint64_t Key(const RawEvent& e) { return (uint64_t{e.pid} << 32) | e.tid; }

  const std::string& name_;
  const char* begin_;
  RawTrace* out_;
  const char* events_populated_end_ = nullptr;  // PopulateEventsAhead's end in out_->events
  const char* inputs_populated_end_ = nullptr;  // the same in out_->inputs
  std::unordered_map<uint64_t, std::vector<RawEvent>> open_;
  StrId last_pid_ = StringTable::kNoStr;
  StrId last_tid_ = StringTable::kNoStr;
  StrId last_cat_ = StringTable::kNoStr;
  std::vector<StrId> pending_inputs_;  // inputN args of the event being read
  // TF1 timelines name one node per event (args.name), in an order each
  // step repeats, and a node has the same op type (args.op) every time: the
  // node that followed the previous event's last time, and this node's op
  // last time, are compared before hashing. Guesses only: a wrong or
  // forgotten id costs a compare, never a wrong answer.
  std::vector<StrId> next_node_;   // per args.name id: the next event's args.name, last time
  std::vector<StrId> op_of_node_;  // per args.name id: its args.op, last time
  StrId last_node_ = StringTable::kNoStr;  // the previous args.name
  bool begin_end_events_ = false;      // a B or E event was added
  bool string_flow_ids_ = false;       // a flow id was a string (SawCrossPartState)
};
// Errors that mean the document stopped before its values were closed.
bool EndsEarly(simdjson::error_code err);

// Parses the top-level value of a whole document (object or bare array) with
// `reader`; events already read by the slices stay in front. Returns whether
// a `traceEvents` array (or a bare array) was seen, or kBadInput naming
// `name` with the offset in `data` where reading stopped. `first` is the
// offset of the document's first non-blank byte.
Result<bool> ParseDocument(const std::string& name, od::parser& parser, const char* data,
                           size_t size, size_t capacity, size_t first, Reader& reader,
                           RawTrace& out);

}  // namespace smaragdine::trace_internal
