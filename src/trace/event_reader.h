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
  StrId InternText(std::string_view text, StrId* last) {
    if (last == nullptr) return out_->strings.Intern(text);
    if (*last != StringTable::kNoStr && out_->strings.Get(*last) == text) return *last;
    return *last = out_->strings.Intern(text);
  }

  // One field of an event's `args`. Shared by the simdjson path (V =
  // od::value) and the fast scanner (V = Scalar), so both read alike.
  template <class V>
  void ArgsField(std::string_view key, V& v, RawEvent* e, bool* have_long_name) {
    if (key == "name") {
      if (!*have_long_name) e->arg_name = InternScalar(v);
    } else if (key == "long_name" || key == "tf_op") {
      if (!*have_long_name || key == "long_name") {
        e->arg_name = InternScalar(v);
        *have_long_name = true;
        e->flags |= RawEvent::kLongName;
      }
    } else if (key == "op") {
      e->arg_op = InternScalar(v);
    } else if (key == "External id") {
      Int(v, &e->external_id);
    } else if (key == "correlation") {
      Int(v, &e->correlation);
    } else if (key == "Sequence number" || key == "group_id") {
      Int(v, &e->seq);
    } else if (key == "Fwd thread id") {
      int64_t x;
      if (Int(v, &x) && x >= std::numeric_limits<int32_t>::min() &&
          x <= std::numeric_limits<int32_t>::max())
        e->fwd_tid = static_cast<int32_t>(x);
    } else if (IsInputKey(key)) {
      // TF1's data flow: held until Add knows the event's index.
      const StrId input = InternScalar(v);
      if (input != kEmptyStr) pending_inputs_.push_back(input);
    }
  }

  // "input0", "input12": TensorFlow's inputs of a node, in argument order.
  static bool IsInputKey(std::string_view key) {
    if (key.size() < 6 || key.compare(0, 5, "input") != 0) return false;
    for (size_t i = 5; i < key.size(); ++i)
      if (key[i] < '0' || key[i] > '9') return false;
    return true;
  }

  void ReadArgs(od::object args, RawEvent* e);

  // What an event's fields say beyond the RawEvent itself.
  struct EventState {
    bool has_ts = false, bad_ts = false, bad_dur = false;
  };

  // One top-level field of an event other than `args` (which the caller
  // reads, since its value is an object). Shared like ArgsField.
  template <class V>
  void EventField(std::string_view key, V& v, RawEvent& e, EventState& st) {
    switch (key[0]) {
      case 'p':
        if (key == "ph") {
          std::string_view ph = ScalarText(v);
          e.ph = ph.empty() ? 0 : ph[0];
        } else if (key == "pid") {
          e.pid = InternScalar(v, &last_pid_);
        }
        break;
      case 't':
        if (key == "ts") {
          std::string_view s = ScalarText(v);
          st.has_ts = !s.empty() && ParseMicrosToNs(s, &e.ts_ns);
          st.bad_ts = !st.has_ts;
        } else if (key == "tid") {
          e.tid = InternScalar(v, &last_tid_);
        }
        break;
      case 'd':
        if (key == "dur") {
          std::string_view s = ScalarText(v);
          if (!s.empty() && ParseMicrosToNs(s, &e.dur_ns)) e.flags |= RawEvent::kHasDur;
          else st.bad_dur = true;
        }
        break;
      case 'n':
        if (key == "name") e.name = InternScalar(v);
        break;
      case 'c':
        if (key == "cat") e.cat = InternScalar(v, &last_cat_);
        break;
      case 'i':
        if (key == "id") {
          if (!Int(v, &e.correlation)) {
            // A string flow id that is not a number: any stable integer will do.
            std::string_view s = ScalarText(v);
            if (!s.empty()) e.correlation = (int64_t{1} << 40) + out_->strings.Intern(s);
          }
        }
        break;
      case 'b':
        if (key == "bp") {
          if (ScalarText(v) == "e") e.flags |= RawEvent::kBindEnclosing;
        }
        break;
      default:
        break;
    }
  }

  // Reads one element of the events array.
  void ReadEvent(od::value ev);

  // The fast scanner (FastScanEvents) hands each finished event here.
  void AddScanned(RawEvent& e, const EventState& st) { Add(e, st.has_ts, st.bad_ts, st.bad_dur); }

  void Add(RawEvent& e, bool has_ts, bool bad_ts, bool bad_dur);

  void AddEvent(RawEvent& e, bool has_ts, bool bad_ts, bool bad_dur);

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

  void Finish();

  void ReadEventsArray(od::array arr);

 private:
  static uint64_t Key(const RawEvent& e) { return (uint64_t{e.pid} << 32) | e.tid; }

  const std::string& name_;
  const char* begin_;
  RawTrace* out_;
  std::unordered_map<uint64_t, std::vector<RawEvent>> open_;
  StrId last_pid_ = StringTable::kNoStr;
  StrId last_tid_ = StringTable::kNoStr;
  StrId last_cat_ = StringTable::kNoStr;
  std::vector<StrId> pending_inputs_;  // inputN args of the event being read
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
