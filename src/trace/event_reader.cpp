#include "trace/event_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/huge_pages.h"
#include "trace/lane_partition.h"
#include "trace/utf8_repair.h"

namespace smaragdine::trace_internal {

void Reader::ReadArgs(od::object args, RawEvent* e, EventState& st) {
  st.have_long_name = false;
  for (auto field_result : args) {
    if (field_result.error()) throw simdjson::simdjson_error(field_result.error());
    od::field field = std::move(field_result).value_unsafe();
    std::string_view key = Key(field);
    od::value v = field.value();
    ArgsField(key, v, e, st);
  }
}

void Reader::ReadEvent(od::value ev) {
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
      if (v.type() == od::json_type::object) {
        Seen(st, kArgs);  // as the fast scanner, which reads only an object `args`
        ReadArgs(v.get_object(), &e, st);
      }
    } else {
      EventField(key, v, e, st);
    }
  }
  Add(e, st);
}

void Reader::Add(RawEvent& e, const EventState& st) {
  if (pending_inputs_.empty()) {
    AddEvent(e, st);
    return;
  }
  // Inputs stay with a complete event that was kept; a B/E pair's would
  // have to wait for its E, and TensorFlow writes X events only.
  const size_t before = out_->events.size();
  AddEvent(e, st);
  if (e.ph == 'X' && out_->events.size() > before)
    KeepPendingInputs(static_cast<uint32_t>(before));
  pending_inputs_.clear();
}

namespace {

// Populates [where the next `n` elements go, + 4 MiB) of v's reservation, or
// to its end, from `populated` on when that lies inside; returns the new end.
// Called when the next n elements reach `populated`.
template <class T>
const char* PopulateAhead(std::vector<T>& v, const char* populated, size_t n) {
  constexpr size_t kAheadBytes = size_t{4} << 20;
  const char* begin = reinterpret_cast<const char*>(v.data());
  const char* next = reinterpret_cast<const char*>(v.data() + v.size());
  const char* reserved_end = reinterpret_cast<const char*>(v.data() + v.capacity());
  if (v.capacity() < v.size() + n) return nullptr;  // about to move: nothing to populate
  // A small reservation faults in a few pages: left as it is.
  if (reserved_end - begin < static_cast<ptrdiff_t>(kAheadBytes)) return reserved_end;
  const char* want = reinterpret_cast<const char*>(v.data() + v.size() + n);
  const char* from = populated > next && populated <= reserved_end ? populated : next;
  const char* to = std::min(reserved_end, std::max(want, from + kAheadBytes));
  PopulateForWrite(const_cast<char*>(from), static_cast<size_t>(to - from));
  return to;
}

}  // namespace

void Reader::KeepPendingInputs(uint32_t index) {
  std::vector<RawInput>& inputs = out_->inputs;
  if (inputs.capacity() == 0) {
    // The trace's first inputs (TF1: about one an event): room for one per
    // event the events' reservation expects, which costs address space only,
    // on huge pages. Grown by doubling instead, the vector was copied ~20
    // times and faulted in a fresh 4 KiB page at a time (~4,000 faults at
    // 1 M events, each slow on a virtual machine).
    inputs.reserve(std::max<size_t>(out_->events.capacity(), 1024));
    AdviseHugePages(inputs.data(), inputs.capacity() * sizeof(RawInput));
  }
  if (reinterpret_cast<const char*>(inputs.data() + inputs.size() + pending_inputs_.size()) >=
      inputs_populated_end_)
    inputs_populated_end_ = PopulateAhead(inputs, inputs_populated_end_, pending_inputs_.size());
  for (StrId input : pending_inputs_) inputs.push_back(RawInput{index, input});
  pending_inputs_.clear();
}

void Reader::PopulateEventsAhead() {
  events_populated_end_ = PopulateAhead(out_->events, events_populated_end_, 1);
}

void Reader::AddEvent(RawEvent& e, const EventState& st) {
  Diagnostics& d = out_->diagnostics;
  if (e.ph == 'B' || e.ph == 'E') begin_end_events_ = true;
  switch (e.ph) {
    case 'M':
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
  // Malformed like a `ts` that is not a number, and treated alike: the event
  // is dropped and counted, the rest of the trace read.
  if (st.duplicate_key) {
    d.Add("trace.duplicate_key_event_dropped");
    return;
  }
  if (st.bad_lane) {
    d.Add("trace.malformed_pid_tid_dropped");
    return;
  }
  if (e.ph == 'M') {
    out_->events.push_back(e);
    return;
  }
  if (!st.has_ts) {
    d.Add(st.bad_ts ? "trace.malformed_timestamp_dropped" : "trace.event_without_ts_dropped");
    return;
  }
  if (e.ph == 'I') e.ph = 'i';
  if (e.ph == 'X') {
    if (st.bad_dur) {
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
    // Every later stage computes ts + dur: an end past INT64_MAX would wrap
    // into an event that ends before it starts.
    int64_t end_ns;
    if (__builtin_add_overflow(e.ts_ns, e.dur_ns, &end_ns)) {
      d.Add("trace.time_overflow_dropped");
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
    if (__builtin_sub_overflow(e.ts_ns, b.ts_ns, &b.dur_ns)) {
      d.Add("trace.time_overflow_dropped");  // e.g. B at -INT64_MAX, E at +INT64_MAX
      return;
    }
    b.ph = 'X';
    b.flags |= RawEvent::kHasDur;
    out_->events.push_back(b);
    return;
  }
  out_->events.push_back(e);  // i, s, t, f
}

Reader::Mark Reader::Save() const {
  return Mark{out_->events.size(), out_->inputs.size(), out_->strings.size(), out_->diagnostics,
              open_};
}

void Reader::Restore(const Mark& m) {
  out_->events.resize(m.events);
  out_->inputs.resize(m.inputs);
  pending_inputs_.clear();
  out_->strings.Truncate(m.strings);  // string ids follow first use, as in a whole parse
  out_->diagnostics = m.diagnostics;
  open_ = m.open;
  last_pid_ = last_tid_ = last_cat_ = StringTable::kNoStr;  // may name forgotten strings
}

void Reader::Finish() {
  int64_t unmatched = 0;
  for (auto& [key, stack] : open_) unmatched += static_cast<int64_t>(stack.size());
  // A B without its E has no known end: dropped, since any end we made up
  // would hand it energy it may not have spent.
  out_->diagnostics.Add("trace.unmatched_begin_event", unmatched);
  open_.clear();
}

void Reader::ReadEventsArray(od::array arr) {
  for (auto ev_result : arr) {
    od::value ev = ev_result.value();
    ReadEvent(ev);
  }
}

bool EndsEarly(simdjson::error_code err) {
  return err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || err == simdjson::UNCLOSED_STRING;
}

namespace {

// simdjson's first stage checks the whole buffer before any value is read
// and says only what is wrong, not where: find the place ourselves.
int64_t StageOneErrorOffset(simdjson::error_code err, const char* data, size_t size,
                            size_t first) {
  if (err == simdjson::UTF8_ERROR) {
    const int64_t at = FirstInvalidUtf8(std::string_view(data, size));
    if (at >= 0) return at;
  } else if (err == simdjson::UNESCAPED_CHARS) {
    // The first control character inside a string.
    bool in_string = false;
    for (size_t i = first; i < size; ++i) {
      const unsigned char c = static_cast<unsigned char>(data[i]);
      if (!in_string) {
        in_string = c == '"';
      } else if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      } else if (c < 0x20) {
        return static_cast<int64_t>(i);
      }
    }
  }
  return static_cast<int64_t>(first);
}

// Kineto's "distributedInfo": {"backend": "nccl", "rank": 0, "world_size": 2, …}.
// "local_rank" is not Kineto's: the live recorder writes it beside the others.
// Values that are not non-negative integers are ignored (the rank stays unknown).
void ReadDistributedInfo(Reader& reader, od::object info, RawTrace& out) {
  for (auto field_result : info) {
    if (field_result.error()) throw simdjson::simdjson_error(field_result.error());
    od::field field = std::move(field_result).value_unsafe();
    const std::string_view key = Reader::Key(field);
    od::value v = field.value();
    int32_t* slot = key == "rank"         ? &out.rank
                    : key == "world_size" ? &out.world_size
                    : key == "local_rank" ? &out.local_rank
                                          : nullptr;
    int64_t n = -1;
    if (slot && v.type() == od::json_type::number && reader.Int(v, &n) && n >= 0 &&
        n <= std::numeric_limits<int32_t>::max())
      *slot = static_cast<int32_t>(n);
  }
}

}  // namespace

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
                      EndsEarly(err) ? static_cast<int64_t>(size)
                                     : StageOneErrorOffset(err, data, size, first));
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
        } else if (key == "distributedInfo") {
          out.has_kineto_keys = true;
          if (v.type() == od::json_type::object) ReadDistributedInfo(reader, v.get_object(), out);
        } else if (key == "host_name" || key == "hostname") {
          if (v.type() == od::json_type::string) out.host = std::string(std::string_view(v.get_string()));
        } else if (key == "schemaVersion" || key == "deviceProperties" || key == "traceName") {
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
}  // namespace smaragdine::trace_internal
