#include "trace/chrome_json.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace smaragdine::trace_internal {

namespace od = simdjson::ondemand;

StringTable::StringTable() { Intern(""); }

StrId StringTable::Intern(std::string_view s) {
  auto it = index_.find(s);
  if (it != index_.end()) return it->second;
  StrId id = static_cast<StrId>(strings_.size());
  // A deque never moves its elements, so the key view stays valid.
  strings_.emplace_back(s);
  index_.emplace(strings_.back(), id);
  return id;
}

StrId StringTable::Find(std::string_view s) const {
  auto it = index_.find(s);
  return it == index_.end() ? kNoStr : it->second;
}

namespace {

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

bool ParseMicrosToNs(std::string_view text, int64_t* out_ns) {
  std::string_view s = Trim(text);
  if (s.empty()) return false;
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

class Reader {
 public:
  Reader(const std::string& name, const char* buf_begin, RawTrace* out)
      : name_(name), begin_(buf_begin), out_(out) {}

  // Scalar text of a number or string value (strings unescaped).
  std::string_view ScalarText(od::value& v) {
    od::json_type t = v.type();
    if (t == od::json_type::string) return std::string_view(v.get_string());
    if (t == od::json_type::number) return Trim(v.raw_json_token());
    return {};
  }

  bool Int(od::value& v, int64_t* out) {
    std::string_view s = ScalarText(v);
    return !s.empty() && ParseInt64(s, out);
  }

  StrId InternScalar(od::value& v) {
    od::json_type t = v.type();
    if (t == od::json_type::string || t == od::json_type::number) {
      return out_->strings.Intern(ScalarText(v));
    }
    if (t == od::json_type::null) return kEmptyStr;
    if (t == od::json_type::boolean) return out_->strings.Intern(bool(v) ? "true" : "false");
    return kEmptyStr;  // objects/arrays are skipped by the iterator
  }

  void ReadArgs(od::object args, RawEvent* e) {
    bool have_long_name = false;
    for (auto field : args) {
      std::string_view key = field.unescaped_key();
      od::value v = field.value();
      if (key == "name") {
        if (!have_long_name) e->arg_name = InternScalar(v);
      } else if (key == "long_name" || key == "tf_op") {
        if (!have_long_name || key == "long_name") {
          e->arg_name = InternScalar(v);
          have_long_name = true;
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
      }
    }
  }

  // Reads one element of the events array.
  void ReadEvent(od::value ev) {
    if (ev.type() != od::json_type::object) {
      out_->diagnostics.Add("trace.non_object_event_skipped");
      return;
    }
    RawEvent e;
    bool has_ts = false, bad_ts = false, bad_dur = false;
    for (auto field : ev.get_object()) {
      std::string_view key = field.unescaped_key();
      od::value v = field.value();
      if (key.empty()) continue;
      switch (key[0]) {
        case 'p':
          if (key == "ph") {
            std::string_view ph = ScalarText(v);
            e.ph = ph.empty() ? 0 : ph[0];
          } else if (key == "pid") {
            e.pid = InternScalar(v);
          }
          break;
        case 't':
          if (key == "ts") {
            std::string_view s = ScalarText(v);
            has_ts = !s.empty() && ParseMicrosToNs(s, &e.ts_ns);
            bad_ts = !has_ts;
          } else if (key == "tid") {
            e.tid = InternScalar(v);
          }
          break;
        case 'd':
          if (key == "dur") {
            std::string_view s = ScalarText(v);
            if (!s.empty() && ParseMicrosToNs(s, &e.dur_ns)) e.flags |= RawEvent::kHasDur;
            else bad_dur = true;
          }
          break;
        case 'n':
          if (key == "name") e.name = InternScalar(v);
          break;
        case 'c':
          if (key == "cat") e.cat = InternScalar(v);
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
        case 'a':
          if (key == "args" && v.type() == od::json_type::object) ReadArgs(v.get_object(), &e);
          break;
        default:
          break;
      }
    }
    Add(e, has_ts, bad_ts, bad_dur);
  }

  void Add(RawEvent& e, bool has_ts, bool bad_ts, bool bad_dur) {
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
};

}  // namespace

Result<RawTrace> ParseChromeJson(const std::string& name, std::string bytes) {
  const size_t size = bytes.size();
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: reserve them
  // in place rather than copying into a padded_string.
  bytes.reserve(size + simdjson::SIMDJSON_PADDING);
  RawTrace out;
  size_t first = 0;
  while (first < size && (bytes[first] == ' ' || bytes[first] == '\n' || bytes[first] == '\r' ||
                          bytes[first] == '\t'))
    ++first;
  if (first == size) return BadInput(name, "empty file: not a Chrome trace", -1, 0);
  if (bytes[first] != '{' && bytes[first] != '[') {
    return BadInput(name,
                    "not a Chrome trace: expected a JSON object with \"traceEvents\" or an "
                    "array of events",
                    -1, static_cast<int64_t>(first));
  }
  od::parser parser;
  od::document doc;
  Reader reader(name, bytes.data(), &out);
  auto offset_of = [&](const char* p) -> int64_t {
    if (p == nullptr || p < bytes.data() || p > bytes.data() + size)
      return static_cast<int64_t>(size);
    return static_cast<int64_t>(p - bytes.data());
  };
  auto location = [&]() -> const char* {
    const char* p = nullptr;
    if (doc.current_location().get(p) != simdjson::SUCCESS) return nullptr;
    return p;
  };
  bool saw_events = false;
  try {
    auto err = parser.iterate(bytes.data(), size, bytes.capacity()).get(doc);
    if (err) {
      return BadInput(name, fmt::format("invalid JSON: {}", simdjson::error_message(err)), -1,
                      static_cast<int64_t>(first));
    }
    if (doc.type() == od::json_type::array) {
      out.bare_array = true;
      saw_events = true;
      reader.ReadEventsArray(doc.get_array());
    } else {
      for (auto field : doc.get_object()) {
        std::string_view key = field.unescaped_key();
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
    const char* where = location();
    std::string what = simdjson::error_message(e.error());
    if (e.error() == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || e.error() == simdjson::TAPE_ERROR)
      what += " (truncated file?)";
    return BadInput(name, fmt::format("invalid JSON: {}", what), -1, offset_of(where));
  } catch (const NotATrace& e) {
    return BadInput(name, fmt::format("not a Chrome trace: {}", e.message), -1,
                    offset_of(e.where));
  }
  if (!saw_events) {
    return BadInput(name, "not a Chrome trace: no \"traceEvents\" array", -1,
                    static_cast<int64_t>(first));
  }
  reader.Finish();
  bool any_interval = std::any_of(out.events.begin(), out.events.end(),
                                  [](const RawEvent& e) { return e.ph == 'X'; });
  if (!any_interval) {
    return BadInput(name, "trace has no events with a duration (X or matched B/E)", -1,
                    static_cast<int64_t>(size));
  }
  return out;
}

}  // namespace smaragdine::trace_internal
