#include "trace/chrome_json.h"

#include <simdjson.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "common/huge_pages.h"

namespace smaragdine::trace_internal {

namespace od = simdjson::ondemand;

static_assert(kParsePadding >= simdjson::SIMDJSON_PADDING + 1);

StringTable::StringTable() : slots_(64, 0) { Intern(""); }

uint64_t StringTable::Hash(std::string_view s) {
  // 8 bytes at a time, multiply-xorshift mixing: names are short and few
  // distinct, so this only has to spread them, not resist attacks.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  if (i < s.size()) {
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

size_t StringTable::Slot(std::string_view s, uint64_t h) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    StrId id = slots_[i];
    if (id == 0) return i;
    if (hashes_[id - 1] == h && strings_[id - 1] == s) return i;
  }
}

void StringTable::Grow() {
  std::vector<StrId> bigger(slots_.size() * 2, 0);
  const size_t mask = bigger.size() - 1;
  for (StrId id = 0; id < strings_.size(); ++id) {
    size_t i = hashes_[id] & mask;
    while (bigger[i] != 0) i = (i + 1) & mask;
    bigger[i] = id + 1;
  }
  slots_ = std::move(bigger);
}

StrId StringTable::Intern(std::string_view s) {
  const uint64_t h = Hash(s);
  size_t slot = Slot(s, h);
  if (slots_[slot] != 0) return slots_[slot] - 1;
  StrId id = static_cast<StrId>(strings_.size());
  strings_.emplace_back(s);
  hashes_.push_back(h);
  slots_[slot] = id + 1;
  if (strings_.size() * 2 > slots_.size()) Grow();  // load factor <= 1/2
  return id;
}

void StringTable::Truncate(size_t n) {
  if (n >= strings_.size()) return;
  strings_.resize(n);
  hashes_.resize(n);
  std::fill(slots_.begin(), slots_.end(), 0);
  const size_t mask = slots_.size() - 1;
  for (StrId id = 0; id < n; ++id) {
    size_t i = hashes_[id] & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = id + 1;
  }
}

StrId StringTable::Find(std::string_view s) const {
  size_t slot = Slot(s, Hash(s));
  return slots_[slot] == 0 ? kNoStr : slots_[slot] - 1;
}

namespace {

std::string_view TrimBack(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' ||
                        s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' ||
                        s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' ||
                        s.front() == '\t'))
    s.remove_prefix(1);
  return s;
}

}  // namespace

namespace {

// The common shape, "1712169098533620.758": at most 16 integer and 3 fraction
// digits, so no rounding is needed. False means "not this shape":
// the general parser below decides.
bool ParsePlainMicros(std::string_view s, int64_t* out_ns) {
  size_t i = 0;
  const size_t n = s.size();
  const bool negative = n > 0 && s[0] == '-';
  if (negative) ++i;
  const size_t int_start = i;
  uint64_t v = 0;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i) v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  if (i == int_start || i - int_start > 16) return false;  // with 3 more: < 1e19, no wrap
  int fraction_digits = 0;
  if (i < n && s[i] == '.') {
    ++i;
    for (; i < n && s[i] >= '0' && s[i] <= '9' && fraction_digits < 3; ++i, ++fraction_digits)
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    if (fraction_digits == 0) return false;
  }
  if (i != n) return false;  // more digits, an exponent, junk: the general path
  static constexpr uint64_t kScale[] = {1000, 100, 10, 1};
  // Up to 19 digits: the product may still pass the int64 range.
  if (__builtin_mul_overflow(v, kScale[fraction_digits], &v) ||
      v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return false;
  *out_ns = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

}  // namespace

bool ParseMicrosToNs(std::string_view text, int64_t* out_ns) {
  std::string_view s = Trim(text);
  if (s.empty()) return false;
  if (ParsePlainMicros(s, out_ns)) return true;
  size_t i = 0;
  bool negative = false;
  if (s[i] == '-' || s[i] == '+') negative = s[i++] == '-';
  // Mantissa digits accumulate into a 128-bit integer; beyond 36 significant
  // digits the rest only shifts the exponent (they are far below 1 ns).
  __int128 mantissa = 0;
  int significant = 0;
  int64_t exponent = 3;  // µs → ns
  bool any_digit = false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    any_digit = true;
    if (significant < 36) {
      mantissa = mantissa * 10 + (s[i] - '0');
      if (mantissa != 0) ++significant;
    } else {
      ++exponent;
    }
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      any_digit = true;
      if (significant < 36) {
        mantissa = mantissa * 10 + (s[i] - '0');
        if (mantissa != 0) ++significant;
        --exponent;
      }
    }
  }
  if (!any_digit) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) exp_negative = s[i++] == '-';
    int64_t e = 0;
    bool exp_digit = false;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      exp_digit = true;
      if (e < 100000) e = e * 10 + (s[i] - '0');
    }
    if (!exp_digit) return false;
    exponent += exp_negative ? -e : e;
  }
  if (i != s.size()) return false;
  constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
  if (exponent >= 0) {
    for (int64_t k = 0; k < exponent && mantissa != 0; ++k) {
      mantissa *= 10;
      if (mantissa > kMax) return false;
    }
  } else {
    if (exponent < -38) {
      mantissa = 0;
    } else {
      __int128 divisor = 1;
      for (int64_t k = 0; k < -exponent; ++k) divisor *= 10;
      __int128 q = mantissa / divisor;
      __int128 r = mantissa % divisor;
      if (r * 2 >= divisor) ++q;  // half away from zero (sign applied below)
      mantissa = q;
    }
  }
  if (mantissa > kMax) return false;
  *out_ns = negative ? -static_cast<int64_t>(mantissa) : static_cast<int64_t>(mantissa);
  return true;
}

bool ParseInt64(std::string_view text, int64_t* out) {
  // The common case, a plain decimal of at most 18 digits ("External id"):
  // it cannot overflow, so no per-digit overflow test (a division) is needed.
  if (!text.empty() && text.size() <= 18) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
      v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    if (i == text.size()) {
      *out = static_cast<int64_t>(v);
      return true;
    }
  }
  std::string_view s = Trim(text);
  if (s.empty()) return false;
  bool negative = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') negative = s[i++] == '-';
  int base = 10;
  if (s.size() > i + 1 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    base = 16;
    i += 2;
  }
  if (i == s.size()) return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    int d;
    char c = s[i];
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else if (c == '.' && base == 10) break;  // "12.0": keep the integer part
    else return false;
    if (v > (std::numeric_limits<uint64_t>::max() - d) / base) return false;
    v = v * base + d;
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *out = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

namespace {

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

class Reader {
 public:
  Reader(const std::string& name, const char* buf_begin, RawTrace* out)
      : name_(name), begin_(buf_begin), out_(out) {}

  // Scalar text of a number or string value (strings unescaped). Strings
  // without escapes are viewed in the input, not copied out by simdjson.
  std::string_view ScalarText(od::value& v) {
    std::string_view token = v.raw_json_token();
    if (!token.empty() && token[0] == '"') {
      std::string_view quoted = TrimBack(token);
      if (quoted.size() >= 2 && quoted.back() == '"' &&
          std::memchr(quoted.data() + 1, '\\', quoted.size() - 2) == nullptr)
        return quoted.substr(1, quoted.size() - 2);
      return std::string_view(v.get_string());
    }
    if (v.type() == od::json_type::number) return Trim(token);
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

  void ReadArgs(od::object args, RawEvent* e) {
    bool have_long_name = false;
    for (auto field_result : args) {
      if (field_result.error()) throw simdjson::simdjson_error(field_result.error());
      od::field field = std::move(field_result).value_unsafe();
      std::string_view key = Key(field);
      od::value v = field.value();
      ArgsField(key, v, e, &have_long_name);
    }
  }

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
  void ReadEvent(od::value ev) {
    if (ev.type() != od::json_type::object) {
      out_->diagnostics.Add("trace.non_object_event_skipped");
      return;
    }
    RawEvent e;
    EventState st;
    for (auto field_result : ev.get_object()) {
      if (field_result.error()) throw simdjson::simdjson_error(field_result.error());
      od::field field = std::move(field_result).value_unsafe();
      std::string_view key = Key(field);
      od::value v = field.value();
      if (key.empty()) continue;
      if (key == "args") {
        if (v.type() == od::json_type::object) ReadArgs(v.get_object(), &e);
      } else {
        EventField(key, v, e, st);
      }
    }
    Add(e, st.has_ts, st.bad_ts, st.bad_dur);
  }

  // The fast scanner (FastScanEvents) hands each finished event here.
  void AddScanned(RawEvent& e, const EventState& st) { Add(e, st.has_ts, st.bad_ts, st.bad_dur); }

  void Add(RawEvent& e, bool has_ts, bool bad_ts, bool bad_dur) {
    if (pending_inputs_.empty()) {
      AddEvent(e, has_ts, bad_ts, bad_dur);
      return;
    }
    // Inputs stay with a complete event that was kept; a B/E pair's would
    // have to wait for its E, and TensorFlow writes X events only.
    const size_t before = out_->events.size();
    AddEvent(e, has_ts, bad_ts, bad_dur);
    if (e.ph == 'X' && out_->events.size() > before)
      for (StrId input : pending_inputs_)
        out_->inputs.push_back(RawInput{static_cast<uint32_t>(before), input});
    pending_inputs_.clear();
  }

  void AddEvent(RawEvent& e, bool has_ts, bool bad_ts, bool bad_dur) {
    Diagnostics& d = out_->diagnostics;
    switch (e.ph) {
      case 'M':
        out_->events.push_back(e);
        return;
      case 'X':
      case 'B':
      case 'E':
      case 'i':
      case 'I':
      case 's':
      case 't':
      case 'f':
        break;
      case 'C':
        return;  // counters (memory, etc.) carry no execution interval
      default:
        d.Add("trace.unsupported_event_phase_skipped");
        return;
    }
    if (!has_ts) {
      d.Add(bad_ts ? "trace.malformed_timestamp_dropped" : "trace.event_without_ts_dropped");
      return;
    }
    if (e.ph == 'I') e.ph = 'i';
    if (e.ph == 'X') {
      if (bad_dur) {
        d.Add("trace.malformed_duration_dropped");
        return;
      }
      if (!(e.flags & RawEvent::kHasDur)) {
        // Chrome draws an X without dur as an instant: keep it as zero length.
        d.Add("trace.complete_event_without_duration");
        e.flags |= RawEvent::kHasDur;
      }
      if (e.dur_ns < 0) {
        d.Add("trace.negative_duration_dropped");
        return;
      }
      out_->events.push_back(e);
      return;
    }
    if (e.ph == 'B') {
      open_[Key(e)].push_back(e);
      return;
    }
    if (e.ph == 'E') {
      auto it = open_.find(Key(e));
      if (it == open_.end() || it->second.empty()) {
        d.Add("trace.unmatched_end_event");
        return;
      }
      // Chrome matches E with the innermost open B on the thread, by nesting not name.
      RawEvent b = it->second.back();
      it->second.pop_back();
      if (e.ts_ns < b.ts_ns) {
        d.Add("trace.negative_duration_dropped");
        return;
      }
      b.ph = 'X';
      b.dur_ns = e.ts_ns - b.ts_ns;
      b.flags |= RawEvent::kHasDur;
      out_->events.push_back(b);
      return;
    }
    out_->events.push_back(e);  // i, s, t, f
  }

  // Where the reader stands, to undo a slice that turned out to be cut wrongly.
  struct Mark {
    size_t events;
    size_t inputs;
    size_t strings;
    Diagnostics diagnostics;
    std::unordered_map<uint64_t, std::vector<RawEvent>> open;
  };
  Mark Save() const {
    return Mark{out_->events.size(), out_->inputs.size(), out_->strings.size(), out_->diagnostics,
                open_};
  }
  void Restore(const Mark& m) {
    out_->events.resize(m.events);
    out_->inputs.resize(m.inputs);
    pending_inputs_.clear();
    out_->strings.Truncate(m.strings);  // string ids follow first use, as in a whole parse
    out_->diagnostics = m.diagnostics;
    open_ = m.open;
    last_pid_ = last_tid_ = last_cat_ = StringTable::kNoStr;  // may name forgotten strings
  }

  void Finish() {
    int64_t unmatched = 0;
    for (auto& [key, stack] : open_) unmatched += static_cast<int64_t>(stack.size());
    // A B without its E has no known end: dropped, since any end we made up
    // would hand it energy it may not have spent.
    out_->diagnostics.Add("trace.unmatched_begin_event", unmatched);
    open_.clear();
  }

  void ReadEventsArray(od::array arr) {
    for (auto ev_result : arr) {
      od::value ev = ev_result.value();
      ReadEvent(ev);
    }
  }

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
bool EndsEarly(simdjson::error_code err) {
  return err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || err == simdjson::UNCLOSED_STRING;
}

// Parses the top-level value of a whole document (object or bare array) with
// `reader`; events already read by the slices stay in front. Returns whether
// a `traceEvents` array (or a bare array) was seen, or the error with the
// offset in `data`.
Result<bool> ParseDocument(const std::string& name, od::parser& parser, const char* data,
                           size_t size, size_t capacity, size_t first, Reader& reader,
                           RawTrace& out) {
  od::document doc;
  auto offset_of = [&](const char* p) -> int64_t {
    if (p == nullptr || p < data || p > data + size) return static_cast<int64_t>(size);
    return static_cast<int64_t>(p - data);
  };
  auto location = [&]() -> const char* {
    const char* p = nullptr;
    if (doc.current_location().get(p) != simdjson::SUCCESS) return nullptr;
    return p;
  };
  bool saw_events = false;
  try {
    auto err = parser.iterate(data, size, capacity).get(doc);
    if (err) {
      return BadInput(name, fmt::format("invalid JSON: {}", simdjson::error_message(err)), -1,
                      EndsEarly(err) ? static_cast<int64_t>(size) : static_cast<int64_t>(first));
    }
    if (doc.type() == od::json_type::array) {
      out.bare_array = true;
      saw_events = true;
      reader.ReadEventsArray(doc.get_array());
    } else {
      for (auto field_result : doc.get_object()) {
        if (field_result.error()) throw simdjson::simdjson_error(field_result.error());
        od::field field = std::move(field_result).value_unsafe();
        std::string_view key = Reader::Key(field);
        od::value v = field.value();
        if (key == "traceEvents") {
          if (v.type() != od::json_type::array) {
            throw NotATrace{"\"traceEvents\" is not an array", location()};
          }
          saw_events = true;
          reader.ReadEventsArray(v.get_array());
        } else if (key == "baseTimeNanoseconds") {
          int64_t base = 0;
          if (reader.Int(v, &base)) out.base_time_ns = base;
        } else if (key == "schemaVersion" || key == "deviceProperties" || key == "traceName" ||
                   key == "distributedInfo") {
          out.has_kineto_keys = true;
        }
        // Other keys (metadata, displayTimeUnit, ...) are skipped unread.
      }
    }
  } catch (const simdjson::simdjson_error& e) {
    std::string what = simdjson::error_message(e.error());
    if (e.error() == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || e.error() == simdjson::TAPE_ERROR)
      what += " (truncated file?)";
    // simdjson reports a document that ends early where iteration stood
    // (often byte 0, since stage 1 finds the imbalance before any value is
    // read); the place that is wrong is the end of the file.
    const int64_t offset =
        EndsEarly(e.error()) ? static_cast<int64_t>(size) : offset_of(location());
    return BadInput(name, fmt::format("invalid JSON: {}", what), -1, offset);
  } catch (const NotATrace& e) {
    return BadInput(name, fmt::format("not a Chrome trace: {}", e.message), -1,
                    offset_of(e.where));
  }
  return saw_events;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Finds the '[' of the first "traceEvents" key of the top-level object that
// starts at `first`, by a plain scan that tracks strings and depth. False
// when there is none or it is not an array (the whole-document parse then
// gives the error).
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

// A place to end a slice at or after `from`: a ',' between '}' and '{' (what
// separates events), or `size` when there is none. It may be a false one
// (inside a string or a nested value); parsing the slice then fails.
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

// The fast path for the common shape of an event: an object of plain keys
// whose values are numbers, literals, strings without escapes or non-ASCII
// bytes, an `args` object of the same, and nested arrays or objects that are
// only skipped. It checks the JSON grammar of everything it takes, and
// declines (returns false) on anything else: simdjson then reads that event,
// so unusual input gets exactly the simdjson path's result or error.
// simdjson On-Demand spends ~200 ns per event on per-field bookkeeping; this
// spends a byte loop.
class FastEventScanner {
 public:
  FastEventScanner(Reader& reader, const char* end) : reader_(reader), end_(end) {}

  // Scans the events array from `begin` (just after its '[' when
  // `array_start`, else just after a ','), taking events while they have the
  // common shape. Returns where it stopped: just after the last ',' it took
  // (or `begin`), where the next element starts. Sets *close to the offset of
  // the array's ']' when it reached it.
  size_t Scan(const char* buf, size_t begin, bool array_start, size_t* close) {
    const char* p = buf + begin;
    for (;;) {
      const char* q = p;
      if (!SkipWs(q)) return static_cast<size_t>(p - buf);
      if (*q == ']' && array_start) {
        *close = static_cast<size_t>(q - buf);
        return static_cast<size_t>(p - buf);
      }
      count_ = 0;
      if (*q != '{' || !Event(q) || !SkipWs(q)) return static_cast<size_t>(p - buf);
      // Only a well-formed separator lets the event in: after a bad one
      // simdjson must see the event again to report the error.
      if (*q == ',') {
        Apply();
        p = q + 1;
        array_start = false;
        continue;
      }
      if (*q == ']') {
        Apply();
        *close = static_cast<size_t>(q - buf);
        return static_cast<size_t>(q - buf);
      }
      return static_cast<size_t>(p - buf);
    }
  }

 private:
  // Deeper values are left to simdjson (its depth limit is far above).
  static constexpr int kMaxDepth = 32;

  static bool IsSpace(char c) {
    return static_cast<unsigned char>(c) <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t');
  }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  // Skips JSON whitespace; false at the end of the input.
  bool SkipWs(const char*& p) const {
    // Called around every token, and usually there is no blank: one test.
    if (p < end_ && static_cast<unsigned char>(*p) > ' ') return true;
    while (p < end_ && IsSpace(*p)) ++p;
    return p < end_;
  }

  // A string at p ('"') without escapes, control or non-ASCII bytes.
  bool String(const char*& p, std::string_view* out) const {
#if defined(__SSE2__)
    // 16 bytes at a time: the first quote, backslash, control or non-ASCII
    // byte ends the scan. Reading up to 15 bytes past end_ stays inside the
    // caller's kParsePadding; whatever is there is ignored.
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);  // signed: also catches bytes >= 0x80
    for (const char* q = p + 1; q < end_; q += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                       _mm_cmplt_epi8(v, space));
      const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
      if (mask == 0) continue;
      const char* at = q + __builtin_ctz(mask);
      if (at >= end_ || *at != '"') return false;
      *out = std::string_view(p + 1, static_cast<size_t>(at - p - 1));
      p = at + 1;
      return true;
    }
    return false;
#else
    for (const char* q = p + 1; q < end_; ++q) {
      const unsigned char c = static_cast<unsigned char>(*q);
      if (c == '"') {
        *out = std::string_view(p + 1, static_cast<size_t>(q - p - 1));
        p = q + 1;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
    }
    return false;
#endif
  }

  // A number by the JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number(const char*& p, std::string_view* out) const {
    const char* q = p;
    if (q < end_ && *q == '-') ++q;
    if (q >= end_ || !IsDigit(*q)) return false;
    if (*q == '0') {
      ++q;
    } else {
      while (q < end_ && IsDigit(*q)) ++q;
    }
    if (q < end_ && *q == '.') {
      const char* digits = ++q;
      while (q < end_ && IsDigit(*q)) ++q;
      if (q == digits) return false;
    }
    if (q < end_ && (*q == 'e' || *q == 'E')) {
      ++q;
      if (q < end_ && (*q == '+' || *q == '-')) ++q;
      const char* digits = q;
      while (q < end_ && IsDigit(*q)) ++q;
      if (q == digits) return false;
    }
    *out = std::string_view(p, static_cast<size_t>(q - p));
    p = q;
    return true;
  }

  bool Literal(const char*& p, std::string_view word) const {
    if (static_cast<size_t>(end_ - p) < word.size() || std::memcmp(p, word.data(), word.size()))
      return false;
    p += word.size();
    return true;
  }

  // Any value at p, read as a Scalar (arrays and objects are checked and
  // skipped, kind kOther).
  bool Value(const char*& p, Scalar* v, int depth) const {
    switch (*p) {
      case '"': v->kind = Scalar::kString; return String(p, &v->text);
      case 't': v->kind = Scalar::kTrue; return Literal(p, "true");
      case 'f': v->kind = Scalar::kFalse; return Literal(p, "false");
      case 'n': v->kind = Scalar::kNull; return Literal(p, "null");
      case '{':
      case '[': v->kind = Scalar::kOther; return Skip(p, depth + 1);
      default: v->kind = Scalar::kNumber; return Number(p, &v->text);
    }
  }

  // An array or object at p, checked and skipped.
  bool Skip(const char*& p, int depth) const {
    if (depth > kMaxDepth) return false;
    const char close = *p == '{' ? '}' : ']';
    const bool object = close == '}';
    ++p;
    if (!SkipWs(p)) return false;
    if (*p == close) {
      ++p;
      return true;
    }
    for (;;) {
      if (object) {
        std::string_view key;
        if (*p != '"' || !String(p, &key) || !SkipWs(p) || *p != ':') return false;
        ++p;
        if (!SkipWs(p)) return false;
      }
      Scalar v;
      if (!Value(p, &v, depth) || !SkipWs(p)) return false;
      if (*p == close) {
        ++p;
        return true;
      }
      if (*p != ',') return false;
      ++p;
      if (!SkipWs(p)) return false;
    }
  }

  // The fields of an object at p ('{'), each handed to `on_field(key, value)`;
  // `args` of an event is read by `on_args` instead when it is an object.
  template <class OnField>
  bool Fields(const char*& p, int depth, OnField on_field) {
    ++p;
    if (!SkipWs(p)) return false;
    if (*p == '}') {
      ++p;
      return true;
    }
    for (;;) {
      std::string_view key;
      if (*p != '"' || !String(p, &key) || !SkipWs(p) || *p != ':') return false;
      ++p;
      if (!SkipWs(p) || !on_field(key, p, depth)) return false;
      if (!SkipWs(p)) return false;
      if (*p == '}') {
        ++p;
        return true;
      }
      if (*p != ',') return false;
      ++p;
      if (!SkipWs(p)) return false;
    }
  }

  // A field the reader will be given once the whole event checks out:
  // reading strings into the table before that would intern text that
  // simdjson, reading a declined event its own way, might not.
  struct Pending {
    enum Where : uint8_t { kEvent, kArgsBegin, kArg } where;
    std::string_view key;
    Scalar value;
  };
  static constexpr int kMaxFields = 48;

  bool Push(Pending::Where where, std::string_view key, const Scalar& v) {
    if (count_ == kMaxFields) return false;  // an unusual event: simdjson reads it
    pending_[count_++] = Pending{where, key, v};
    return true;
  }

  // One event at p ('{'), its fields recorded in the order simdjson reads them.
  bool Event(const char*& p) {
    return Fields(p, 1, [&](std::string_view key, const char*& q, int depth) {
      if (key == "args" && *q == '{') {
        if (!Push(Pending::kArgsBegin, key, Scalar{})) return false;
        return Fields(q, depth + 1, [&](std::string_view arg, const char*& r, int d) {
          Scalar v;
          return Value(r, &v, d) && Push(Pending::kArg, arg, v);
        });
      }
      Scalar v;
      if (!Value(q, &v, depth)) return false;
      if (key.empty() || key == "args") return true;  // ignored, as ReadEvent does
      return Push(Pending::kEvent, key, v);
    });
  }

  // Hands the recorded fields of a good event to the reader.
  void Apply() {
    RawEvent e;
    Reader::EventState st;
    bool have_long_name = false;
    for (int i = 0; i < count_; ++i) {
      Pending& f = pending_[i];
      switch (f.where) {
        case Pending::kEvent: reader_.EventField(f.key, f.value, e, st); break;
        case Pending::kArgsBegin: have_long_name = false; break;
        case Pending::kArg: reader_.ArgsField(f.key, f.value, &e, &have_long_name); break;
      }
    }
    reader_.AddScanned(e, st);
  }

  Reader& reader_;
  const char* end_;
  Pending pending_[kMaxFields];
  int count_ = 0;
};

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

// The memory-lean path: the events array in slices of ~slice_bytes, each
// parsed as an array of its own, then the document with the array emptied.
// The result equals the whole-document parse's; false (and `buf`
// unchanged) whenever that is not certain, e.g. for any invalid JSON.
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

}  // namespace

Result<RawTrace> ParseChromeJson(const std::string& name, std::string bytes, size_t slice_bytes) {
  // simdjson reads past the end: reserve the padding in place (free when the
  // caller left room) rather than copying into a padded_string.
  bytes.reserve(bytes.size() + kParsePadding);
  return ParseChromeJsonBuffer(name, bytes.data(), bytes.size(), bytes.capacity(), slice_bytes);
}

Result<RawTrace> ParseChromeJsonBuffer(const std::string& name, char* data, size_t size,
                                       size_t capacity, size_t slice_bytes) {
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
  if (slice_bytes == 0 || !ParseSliced(name, data, size, capacity, first, slice_bytes, &out)) {
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

}  // namespace smaragdine::trace_internal
