// The XPlane reader: XSpace protobuf → RawTrace. Field numbers are those of
// tensorflow/tsl/profiler/protobuf/xplane.proto (and xla/service/hlo.proto
// for the HLO modules of `/host:metadata`); the rules are in
// docs/trace-formats.md §1.2.
#include "trace/xplane_reader.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <unordered_map>

#include "common/huge_pages.h"
#include "trace/protobuf_wire.h"

namespace smaragdine::trace_internal {

bool LooksLikeXSpace(std::string_view prefix) {
  if (prefix.empty()) return false;
  // XSpace's fields 1-4 (planes, errors, warnings, hostnames) are all
  // length-delimited: tags 0x0a, 0x12, 0x1a, 0x22.
  const unsigned char first = static_cast<unsigned char>(prefix[0]);
  if (first != 0x0a && first != 0x12 && first != 0x1a && first != 0x22) return false;
  // JSON text holds no control byte but tab, newline and carriage return;
  // the first bytes of any XSpace do (the tags of a plane's id, name and lines).
  for (size_t i = 0; i < std::min<size_t>(prefix.size(), 64); ++i) {
    const unsigned char c = static_cast<unsigned char>(prefix[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
  }
  return false;
}

std::string GunzipPrefix(std::string_view gz, size_t n) {
  std::string out(n, '\0');
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return {};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(std::min<size_t>(gz.size(), 1u << 30));
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(n);
  int rc = Z_OK;
  while (z.avail_out > 0 && rc == Z_OK) rc = inflate(&z, Z_NO_FLUSH);
  out.resize(n - z.avail_out);
  inflateEnd(&z);
  return out;
}

namespace {

// ps → ns, to the nearest ns, halves away from zero (as the JSON reader
// rounds µs text).
int64_t PsToNs(int64_t ps) {
  int64_t q = ps / 1000;
  const int64_t r = ps % 1000;
  if (r >= 500)
    ++q;
  else if (r <= -500)
    --q;
  return q;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The stats the dialects read, by the name in their stat metadata.
enum class StatKind : uint8_t {
  kOther,
  kLongName,
  kTfOp,
  kStepName,
  kGroupId,
  kCorrelationId,
  kStepNum,
  kHloOp,
  kHloModule,
  kProgramId,
  kXlaPrefix,  // XLA's module annotation: the name stack every kernel of the module shares
  kXlaName,    // XLA's kernel annotation: the rest of the kernel's name stack
  kHloProto,
  kProfileStartTime,
};

StatKind KindOfStat(std::string_view n) {
  static const std::pair<std::string_view, StatKind> kKinds[] = {
      {"long_name", StatKind::kLongName},   {"tf_op", StatKind::kTfOp},
      {"level 0", StatKind::kTfOp},         {"step_name", StatKind::kStepName},
      {"group_id", StatKind::kGroupId},     {"correlation_id", StatKind::kCorrelationId},
      {"step_num", StatKind::kStepNum},     {"hlo_op", StatKind::kHloOp},
      {"hlo_module", StatKind::kHloModule}, {"program_id", StatKind::kProgramId},
      {"prefix", StatKind::kXlaPrefix},     {"name", StatKind::kXlaName},
      {"Hlo Proto", StatKind::kHloProto},   {"profile_start_time", StatKind::kProfileStartTime},
  };
  for (const auto& [name, kind] : kKinds)
    if (n == name) return kind;
  return StatKind::kOther;
}

// Metadata ids are int64 map keys. Profilers number them from 1, so a
// vector indexed by id serves; ids beyond a bound that the entry count sets
// (a crafted file's id 2^62 must not size a vector) go to a hash map.
template <class T>
class IdMap {
 public:
  explicit IdMap(size_t entries = 0)
      : dense_limit_(std::min<size_t>(2 * entries + 1024, 1u << 22)) {}
  T& Insert(int64_t id) {
    if (id >= 0 && static_cast<uint64_t>(id) < dense_limit_) {
      const size_t i = static_cast<size_t>(id);
      if (i >= dense_.size()) {
        dense_.resize(i + 1);
        present_.resize(i + 1, false);
      }
      present_[i] = true;
      dense_[i] = T{};
      return dense_[i];
    }
    return sparse_[id] = T{};
  }
  const T* Find(int64_t id) const {
    if (id >= 0 && static_cast<uint64_t>(id) < dense_.size())
      return present_[static_cast<size_t>(id)] ? &dense_[static_cast<size_t>(id)] : nullptr;
    auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : &it->second;
  }
  T* FindMutable(int64_t id) { return const_cast<T*>(static_cast<const IdMap*>(this)->Find(id)); }

 private:
  size_t dense_limit_;
  std::vector<T> dense_;
  std::vector<bool> present_;
  std::unordered_map<int64_t, T> sparse_;
};

struct StatMeta {
  std::string_view name;
  StatKind kind = StatKind::kOther;
  StrId interned = StringTable::kNoStr;  // `name` interned, when a ref_value used it
};

// A stat's value as the dialects need it: text (str, bytes, or a ref to a
// stat metadata's name) or an integer.
struct StatValue {
  bool is_text = false;
  bool is_int = false;
  std::string_view text;
  int64_t integer = 0;
};

// What the stats of an event (its metadata's, then its own) say.
struct EventFields {
  std::string_view step_name, long_name, tf_op, xla_prefix, xla_name, hlo_op, hlo_module;
  bool has_step_name = false, has_long_name = false, has_tf_op = false, has_xla_prefix = false,
       has_xla_name = false, has_hlo_op = false, has_hlo_module = false;
  int64_t group_id = -1, correlation = -1, step_num = -1, program_id = -1;
};

struct EventMeta {
  StrId name = kEmptyStr;       // display name if any, else name
  StrId long_name = kEmptyStr;  // the name, when a display name is shown instead
  bool jax_launch = false;
  EventFields fields;
};

// (program id or module name, instruction name) → the instruction's op_name
// metadata: the framework's name stack (JAX: jit(f)/jvp(Model)/Dense_0/dot_general).
struct HloNames {
  std::unordered_map<int64_t, std::unordered_map<std::string_view, std::string_view>> by_program;
  std::unordered_map<std::string_view, std::unordered_map<std::string_view, std::string_view>>
      by_module;
  std::deque<std::string> owned;  // op names made here (a fusion's common prefix)
};

bool IsJaxNameStack(std::string_view s) {
  for (std::string_view p : {"jit(", "pjit(", "pmap(", "xmap(", "shard_map("})
    if (StartsWith(s, p)) return true;
  return false;
}

class XSpaceParser {
 public:
  XSpaceParser(const std::string& name, std::string_view bytes, RawTrace* out, XSpaceInfo* info)
      : name_(name), bytes_(bytes), out_(out), info_(info) {}

  Status Run();

 private:
  struct PlaneView {
    size_t index = 0;
    std::string_view name;
    std::vector<WireField> lines, event_metadata, stat_metadata, stats;
  };

  Status Fail(size_t offset, std::string what) {
    return BadInput(name_, fmt::format("not a valid XPlane: {}", what), -1,
                    static_cast<int64_t>(offset));
  }
  Status FromReader(const WireReader& r) { return Fail(r.error_offset(), r.error()); }
  // A known field with the wrong wire type is an error, as libprotobuf has it.
  static bool Is(WireReader& r, const WireField& f, WireType want, const char* what) {
    if (f.type == want) return true;
    return r.Fail(f.offset, fmt::format("{} (field {}) has wire type {}, expected {}", what,
                                        f.number, WireTypeName(f.type), WireTypeName(want)));
  }

  Status ReadPlaneView(const WireField& f, PlaneView* p);
  Status ReadStatMetadata(const PlaneView& p, IdMap<StatMeta>* stats);
  bool ReadStat(WireReader& outer, std::string_view bytes, size_t base, const IdMap<StatMeta>& sm,
                const StatMeta** meta, StatValue* value);
  bool ApplyStat(const StatMeta& meta, const StatValue& v, EventFields* f);
  Status ReadEventMetadata(const PlaneView& p, const IdMap<StatMeta>& sm, IdMap<EventMeta>* em);
  Status ReadTaskEnvironment(const PlaneView& p);
  Status ReadHloProtos(const PlaneView& p);
  void ReadHloProto(std::string_view bytes, size_t base, int64_t program_id);
  Status ConvertPlane(const PlaneView& p);
  // What ConvertPlane hands each of the plane's lines.
  struct PlaneContext {
    const IdMap<StatMeta>& sm;
    const IdMap<EventMeta>& em;
    StrId pid, thread_name, unknown;
  };
  // XLine {id 1, name 2, timestamp_ns 3, events 4, duration_ps 9,
  // display_id 10, display_name 11}, all but its events.
  struct LineHeader {
    int64_t id = 0, display_id = 0, timestamp_ns = 0;
    std::string_view name, display_name;
    bool has_events = false;
  };
  // XEvent {metadata_id 1, offset_ps 2, duration_ps 3, stats 4, num_occurrences 5},
  // its stats gathered into event_stats_.
  struct XEventFields {
    int64_t meta_id = 0, offset_ps = 0, duration_ps = 0;
    bool aggregated = false;
  };
  Status ReadLineHeader(const WireField& lf, LineHeader* h);
  Status ConvertLine(const WireField& lf, const PlaneContext& c);
  void ReadXEvent(WireReader& ev, const IdMap<StatMeta>& sm, XEventFields* x);
  void NameEvent(const EventMeta* meta, const EventFields& fields, StrId unknown, RawEvent* e);
  void AddNameEvent(StrId pid, StrId tid, StrId what, std::string_view name) {
    RawEvent m;
    m.ph = 'M';
    m.pid = pid;
    m.tid = tid;
    m.name = what;
    m.arg_name = out_->strings.Intern(name);
    out_->events.push_back(m);
  }
  StrId InternRef(const StatMeta& m) {
    return const_cast<StatMeta&>(m).interned == StringTable::kNoStr
               ? (const_cast<StatMeta&>(m).interned = out_->strings.Intern(m.name))
               : m.interned;
  }
  std::string_view ResolveNameStack(const EventFields& f);

  const std::string& name_;
  std::string_view bytes_;
  RawTrace* out_;
  XSpaceInfo* info_;
  HloNames hlo_;
  std::string scratch_;
  std::vector<std::pair<const StatMeta*, StatValue>> event_stats_;
  int64_t min_line_ts_ = std::numeric_limits<int64_t>::max();
  int64_t missing_metadata_ = 0, aggregated_ = 0, overflow_ = 0, negative_ = 0, hlo_unreadable_ = 0;
};

Status XSpaceParser::ReadPlaneView(const WireField& pf, PlaneView* p) {
  WireReader r(pf.bytes, pf.payload_offset);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1:
        Is(r, f, WireType::kVarint, "XPlane.id");
        break;
      case 2:
        if (Is(r, f, WireType::kLen, "XPlane.name")) p->name = f.bytes;
        break;
      case 3:
        if (Is(r, f, WireType::kLen, "XPlane.lines")) p->lines.push_back(f);
        break;
      case 4:
        if (Is(r, f, WireType::kLen, "XPlane.event_metadata")) p->event_metadata.push_back(f);
        break;
      case 5:
        if (Is(r, f, WireType::kLen, "XPlane.stat_metadata")) p->stat_metadata.push_back(f);
        break;
      case 6:
        if (Is(r, f, WireType::kLen, "XPlane.stats")) p->stats.push_back(f);
        break;
      default:
        break;  // a field of a newer version: skipped, as protobuf does
    }
  }
  if (r.failed()) return FromReader(r);
  return Status();
}

// A map entry of XPlane.stat_metadata: key (1) → XStatMetadata (2) {id 1, name 2, description 3}.
Status XSpaceParser::ReadStatMetadata(const PlaneView& p, IdMap<StatMeta>* stats) {
  for (const WireField& entry : p.stat_metadata) {
    WireReader r(entry.bytes, entry.payload_offset);
    WireField f;
    int64_t key = 0;
    StatMeta meta;
    while (r.Next(&f)) {
      if (f.number == 1) {
        if (Is(r, f, WireType::kVarint, "stat_metadata key")) key = static_cast<int64_t>(f.value);
      } else if (f.number == 2 && Is(r, f, WireType::kLen, "XStatMetadata")) {
        WireReader v(f.bytes, f.payload_offset);
        WireField g;
        while (v.Next(&g)) {
          if (g.number == 1)
            Is(v, g, WireType::kVarint, "XStatMetadata.id");
          else if (g.number == 2 && Is(v, g, WireType::kLen, "XStatMetadata.name"))
            meta.name = g.bytes;
        }
        if (v.failed()) return FromReader(v);
      }
    }
    if (r.failed()) return FromReader(r);
    meta.kind = KindOfStat(meta.name);
    stats->Insert(key) = meta;
  }
  return Status();
}

// One XStat {metadata_id 1, double 2, uint64 3, int64 4, str 5, bytes 6, ref 7}.
// *meta is null when its metadata is not in the plane (the stat is ignored).
bool XSpaceParser::ReadStat(WireReader& outer, std::string_view bytes, size_t base,
                            const IdMap<StatMeta>& sm, const StatMeta** meta, StatValue* value) {
  WireReader r(bytes, base);
  WireField f;
  int64_t id = 0;
  *value = StatValue{};
  int64_t ref = -1;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1:
        if (Is(r, f, WireType::kVarint, "XStat.metadata_id")) id = static_cast<int64_t>(f.value);
        break;
      case 2:
        if (Is(r, f, WireType::kFixed64, "XStat.double_value")) {
          double d;
          std::memcpy(&d, &f.value, sizeof d);
          *value = StatValue{};
          // Only integers matter here (ids, step numbers); a double that is one counts.
          if (d >= -9.2e18 && d <= 9.2e18) {
            value->is_int = true;
            value->integer = static_cast<int64_t>(d);
          }
        }
        break;
      case 3:
      case 4:
        if (Is(r, f, WireType::kVarint,
               f.number == 3 ? "XStat.uint64_value" : "XStat.int64_value")) {
          *value = StatValue{};
          value->is_int = true;
          value->integer = static_cast<int64_t>(f.value);
        }
        break;
      case 5:
      case 6:
        if (Is(r, f, WireType::kLen, f.number == 5 ? "XStat.str_value" : "XStat.bytes_value")) {
          *value = StatValue{};
          value->is_text = true;
          value->text = f.bytes;
        }
        break;
      case 7:
        if (Is(r, f, WireType::kVarint, "XStat.ref_value")) {
          *value = StatValue{};
          ref = static_cast<int64_t>(f.value);
        }
        break;
      default:
        break;
    }
  }
  if (r.failed()) {
    outer.Fail(r.error_offset(), r.error());
    return false;
  }
  if (ref >= 0) {
    // A string stored once as a stat metadata's name.
    if (const StatMeta* target = sm.Find(ref)) {
      value->is_text = true;
      value->text = target->name;
    }
  }
  *meta = sm.Find(id);
  return true;
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  bool neg = s[0] == '-';
  size_t i = neg ? 1 : 0;
  if (i == s.size()) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
      return false;
  }
  *out = neg ? -v : v;
  return true;
}

// Records what one stat says in *f; false when it is a stat no dialect reads.
bool XSpaceParser::ApplyStat(const StatMeta& meta, const StatValue& v, EventFields* f) {
  auto integer = [&](int64_t* dst) {
    int64_t x;
    if (v.is_int)
      *dst = v.integer;
    else if (v.is_text && ParseInt(v.text, &x))
      *dst = x;
  };
  switch (meta.kind) {
    case StatKind::kOther:
    case StatKind::kHloProto:
    case StatKind::kProfileStartTime:
      return false;
    case StatKind::kLongName:
      if (v.is_text) f->long_name = v.text, f->has_long_name = true;
      break;
    case StatKind::kTfOp:
      if (v.is_text) f->tf_op = v.text, f->has_tf_op = true;
      break;
    case StatKind::kStepName:
      if (v.is_text)
        f->step_name = v.text, f->has_step_name = true;
      else if (v.is_int) {
        // TensorBoard names the event after the stat whatever its type.
        scratch_ = std::to_string(v.integer);
        f->step_name = out_->strings.Get(out_->strings.Intern(scratch_));
        f->has_step_name = true;
      }
      break;
    case StatKind::kGroupId:
      integer(&f->group_id);
      break;
    case StatKind::kCorrelationId:
      integer(&f->correlation);
      break;
    case StatKind::kStepNum:
      integer(&f->step_num);
      break;
    case StatKind::kProgramId:
      integer(&f->program_id);
      break;
    case StatKind::kHloOp:
      if (v.is_text) f->hlo_op = v.text, f->has_hlo_op = true;
      break;
    case StatKind::kHloModule:
      if (v.is_text) f->hlo_module = v.text, f->has_hlo_module = true;
      break;
    case StatKind::kXlaPrefix:
      if (v.is_text) f->xla_prefix = v.text, f->has_xla_prefix = true;
      break;
    case StatKind::kXlaName:
      if (v.is_text) f->xla_name = v.text, f->has_xla_name = true;
      break;
  }
  return true;
}

// A map entry of XPlane.event_metadata: key (1) → XEventMetadata (2)
// {id 1, name 2, metadata 3, display_name 4, stats 5, child_id 6}.
Status XSpaceParser::ReadEventMetadata(const PlaneView& p, const IdMap<StatMeta>& sm,
                                       IdMap<EventMeta>* em) {
  for (const WireField& entry : p.event_metadata) {
    WireReader r(entry.bytes, entry.payload_offset);
    WireField f;
    int64_t key = 0;
    std::string_view name, display;
    EventFields fields;
    while (r.Next(&f)) {
      if (f.number == 1) {
        if (Is(r, f, WireType::kVarint, "event_metadata key")) key = static_cast<int64_t>(f.value);
      } else if (f.number == 2 && Is(r, f, WireType::kLen, "XEventMetadata")) {
        WireReader v(f.bytes, f.payload_offset);
        WireField g;
        while (v.Next(&g)) {
          switch (g.number) {
            case 1:
              Is(v, g, WireType::kVarint, "XEventMetadata.id");
              break;
            case 2:
              if (Is(v, g, WireType::kLen, "XEventMetadata.name")) name = g.bytes;
              break;
            case 4:
              if (Is(v, g, WireType::kLen, "XEventMetadata.display_name")) display = g.bytes;
              break;
            case 5:
              if (Is(v, g, WireType::kLen, "XEventMetadata.stats")) {
                const StatMeta* meta;
                StatValue value;
                if (ReadStat(v, g.bytes, g.payload_offset, sm, &meta, &value) && meta != nullptr)
                  ApplyStat(*meta, value, &fields);
              }
              break;
            default:
              break;  // metadata bytes, child ids: not needed
          }
        }
        if (v.failed()) return FromReader(v);
      }
    }
    if (r.failed()) return FromReader(r);
    EventMeta& m = em->Insert(key);
    m.fields = fields;
    if (!display.empty()) {
      m.name = out_->strings.Intern(display);
      m.long_name = out_->strings.Intern(name);
    } else {
      m.name = out_->strings.Intern(name);
    }
    if (StartsWith(name, "PjitFunction(") || StartsWith(name, "PmapFunction(")) {
      m.jax_launch = true;
      info_->jax = true;
    }
  }
  return Status();
}

Status XSpaceParser::ReadTaskEnvironment(const PlaneView& p) {
  IdMap<StatMeta> sm(p.stat_metadata.size());
  SMG_RETURN_IF_ERROR(ReadStatMetadata(p, &sm));
  for (const WireField& s : p.stats) {
    WireReader r(s.bytes, s.payload_offset);
    const StatMeta* meta;
    StatValue v;
    if (!ReadStat(r, s.bytes, s.payload_offset, sm, &meta, &v)) return FromReader(r);
    if (meta != nullptr && meta->kind == StatKind::kProfileStartTime && v.is_int && v.integer > 0)
      info_->profile_start_ns = v.integer;
  }
  return Status();
}

// `/host:metadata`: each event metadata (id = the XLA program id) holds its
// module as an `Hlo Proto` stat: HloProto {hlo_module 1: HloModuleProto
// {name 1, computations 3: HloComputationProto {instructions 2:
// HloInstructionProto {name 1, metadata 7: OpMetadata {op_name 2},
// called_computation_ids 38}, id 5}}}.
Status XSpaceParser::ReadHloProtos(const PlaneView& p) {
  IdMap<StatMeta> sm(p.stat_metadata.size());
  SMG_RETURN_IF_ERROR(ReadStatMetadata(p, &sm));
  for (const WireField& entry : p.event_metadata) {
    WireReader r(entry.bytes, entry.payload_offset);
    WireField f;
    int64_t key = 0;
    std::vector<std::pair<std::string_view, size_t>> protos;
    while (r.Next(&f)) {
      if (f.number == 1 && f.type == WireType::kVarint) key = static_cast<int64_t>(f.value);
      if (f.number != 2 || f.type != WireType::kLen) continue;
      WireReader v(f.bytes, f.payload_offset);
      WireField g;
      while (v.Next(&g)) {
        if (g.number != 5 || g.type != WireType::kLen) continue;
        const StatMeta* meta;
        StatValue value;
        if (ReadStat(v, g.bytes, g.payload_offset, sm, &meta, &value) && meta != nullptr &&
            meta->kind == StatKind::kHloProto && value.is_text)
          protos.emplace_back(value.text, static_cast<size_t>(value.text.data() - bytes_.data()));
      }
    }
    // The metadata plane's own errors surface when it is converted as a plane.
    for (const auto& [proto, base] : protos) ReadHloProto(proto, base, key);
  }
  return Status();
}

// Longest common '/'-separated prefix of name stacks: what the ops fused into
// one kernel share.
std::string CommonScope(const std::vector<std::string_view>& names) {
  if (names.empty()) return {};
  auto split = [](std::string_view s) {
    std::vector<std::string_view> parts;
    for (size_t pos = 0; pos <= s.size();) {
      size_t slash = std::min(s.find('/', pos), s.size());
      parts.push_back(s.substr(pos, slash - pos));
      pos = slash + 1;
    }
    return parts;
  };
  std::vector<std::string_view> common = split(names[0]);
  for (std::string_view n : names) {
    std::vector<std::string_view> parts = split(n);
    size_t k = 0;
    while (k < common.size() && k < parts.size() && common[k] == parts[k]) ++k;
    common.resize(k);
  }
  std::string out;
  for (std::string_view c : common) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

void XSpaceParser::ReadHloProto(std::string_view bytes, size_t base, int64_t program_id) {
  struct Instr {
    std::string_view name, op_name;
    std::vector<int64_t> called;
  };
  struct Computation {
    int64_t id = -1;
    std::vector<Instr> instrs;
  };
  std::string_view module_name;
  std::vector<Computation> comps;
  bool bad = false;
  auto each = [&](std::string_view b, size_t at, auto&& fn) {
    WireReader r(b, at);
    WireField f;
    while (r.Next(&f)) fn(f);
    if (r.failed()) bad = true;
  };
  each(bytes, base, [&](const WireField& hp) {
    if (hp.number != 1 || hp.type != WireType::kLen) return;
    each(hp.bytes, hp.payload_offset, [&](const WireField& mf) {
      if (mf.number == 1 && mf.type == WireType::kLen) module_name = mf.bytes;
      if (mf.number != 3 || mf.type != WireType::kLen) return;
      Computation c;
      each(mf.bytes, mf.payload_offset, [&](const WireField& cf) {
        if (cf.number == 5 && cf.type == WireType::kVarint) c.id = static_cast<int64_t>(cf.value);
        if (cf.number != 2 || cf.type != WireType::kLen) return;
        Instr in;
        each(cf.bytes, cf.payload_offset, [&](const WireField& inf) {
          if (inf.number == 1 && inf.type == WireType::kLen) in.name = inf.bytes;
          if (inf.number == 7 && inf.type == WireType::kLen) {
            each(inf.bytes, inf.payload_offset, [&](const WireField& md) {
              if (md.number == 2 && md.type == WireType::kLen) in.op_name = md.bytes;
            });
          }
          if (inf.number == 38) {
            if (inf.type == WireType::kVarint) {
              in.called.push_back(static_cast<int64_t>(inf.value));
            } else if (inf.type == WireType::kLen) {  // packed
              std::string_view packed = inf.bytes;
              uint64_t x;
              while (!packed.empty() && WireReader::DecodeVarint(&packed, &x))
                in.called.push_back(static_cast<int64_t>(x));
            }
          }
        });
        c.instrs.push_back(std::move(in));
      });
      comps.push_back(std::move(c));
    });
  });
  if (bad) {
    ++hlo_unreadable_;
    return;
  }
  std::unordered_map<int64_t, const Computation*> by_id;
  for (const Computation& c : comps) by_id[c.id] = &c;
  auto& names = hlo_.by_program[program_id];
  for (const Computation& c : comps) {
    for (const Instr& in : c.instrs) {
      std::string_view op = in.op_name;
      if (op.empty() && !in.called.empty()) {
        // A fusion often has no metadata of its own: the scope its fused ops share.
        std::vector<std::string_view> inner;
        for (int64_t id : in.called) {
          auto it = by_id.find(id);
          if (it == by_id.end()) continue;
          for (const Instr& x : it->second->instrs)
            if (!x.op_name.empty()) inner.push_back(x.op_name);
        }
        std::string common = CommonScope(inner);
        if (!common.empty()) op = hlo_.owned.emplace_back(std::move(common));
      }
      if (!op.empty() && !in.name.empty()) names[in.name] = op;
    }
  }
  if (!module_name.empty()) hlo_.by_module[module_name] = names;
  if (StartsWith(module_name, "jit_") || StartsWith(module_name, "pjit_") ||
      StartsWith(module_name, "pmap_"))
    info_->jax = true;
}

// The name stack of a device event whose stats have no tf_op: XLA's kernel
// annotation (the module's prefix + the kernel's name), else its HLO
// instruction's op_name from `/host:metadata`. Empty when neither is known.
std::string_view XSpaceParser::ResolveNameStack(const EventFields& f) {
  if (!f.has_hlo_op) return {};
  std::string_view hlo_op = f.hlo_op.substr(0, f.hlo_op.find(';'));
  if (f.has_xla_name) {
    if (!f.has_xla_prefix || f.xla_prefix.empty()) return f.xla_name;
    scratch_.assign(f.xla_prefix);
    if (!f.xla_name.empty()) {
      scratch_ += '/';
      scratch_ += f.xla_name;
    }
    return scratch_;
  }
  const std::unordered_map<std::string_view, std::string_view>* names = nullptr;
  if (f.program_id >= 0) {
    auto it = hlo_.by_program.find(f.program_id);
    if (it != hlo_.by_program.end()) names = &it->second;
  }
  if (names == nullptr && f.has_hlo_module) {
    auto it = hlo_.by_module.find(f.hlo_module);
    if (it != hlo_.by_module.end()) names = &it->second;
  }
  if (names == nullptr) return {};
  auto it = names->find(hlo_op);
  return it == names->end() ? std::string_view() : it->second;
}

Status XSpaceParser::ConvertPlane(const PlaneView& p) {
  IdMap<StatMeta> sm(p.stat_metadata.size());
  SMG_RETURN_IF_ERROR(ReadStatMetadata(p, &sm));
  IdMap<EventMeta> em(p.event_metadata.size());
  SMG_RETURN_IF_ERROR(ReadEventMetadata(p, sm, &em));
  if (p.lines.empty()) return Status();
  StringTable& strings = out_->strings;
  const StrId pid = strings.Intern(std::to_string(p.index));
  AddNameEvent(pid, kEmptyStr, strings.Intern("process_name"), p.name);
  const StrId thread_name = strings.Intern("thread_name");
  const StrId unknown = strings.Intern("(unknown)");
  const PlaneContext c{sm, em, pid, thread_name, unknown};
  for (const WireField& lf : p.lines) SMG_RETURN_IF_ERROR(ConvertLine(lf, c));
  return Status();
}

// The header first, in a pass of its own: a writer may put the events before it.
Status XSpaceParser::ReadLineHeader(const WireField& lf, LineHeader* h) {
  WireReader r(lf.bytes, lf.payload_offset);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1:
        if (Is(r, f, WireType::kVarint, "XLine.id")) h->id = static_cast<int64_t>(f.value);
        break;
      case 2:
        if (Is(r, f, WireType::kLen, "XLine.name")) h->name = f.bytes;
        break;
      case 3:
        if (Is(r, f, WireType::kVarint, "XLine.timestamp_ns"))
          h->timestamp_ns = static_cast<int64_t>(f.value);
        break;
      case 4:
        if (Is(r, f, WireType::kLen, "XLine.events")) h->has_events = true;
        break;
      case 9:
        Is(r, f, WireType::kVarint, "XLine.duration_ps");
        break;
      case 10:
        if (Is(r, f, WireType::kVarint, "XLine.display_id"))
          h->display_id = static_cast<int64_t>(f.value);
        break;
      case 11:
        if (Is(r, f, WireType::kLen, "XLine.display_name")) h->display_name = f.bytes;
        break;
      default:
        break;
    }
  }
  if (r.failed()) return FromReader(r);
  return Status();
}

// One XEvent's fields, read once per event: inlined into ConvertLine's loop,
// as the code was before it was split out (the reader is benchmarked).
__attribute__((always_inline)) inline void XSpaceParser::ReadXEvent(WireReader& ev,
                                                                    const IdMap<StatMeta>& sm,
                                                                    XEventFields* x) {
  WireField g;
  // Stats may come before metadata_id in a hand-made file: gathered, then
  // applied (into a vector kept across events: no allocation per event).
  std::vector<std::pair<const StatMeta*, StatValue>>& stats = event_stats_;
  stats.clear();
  while (ev.Next(&g)) {
    switch (g.number) {
      case 1:
        if (Is(ev, g, WireType::kVarint, "XEvent.metadata_id"))
          x->meta_id = static_cast<int64_t>(g.value);
        break;
      case 2:
        if (Is(ev, g, WireType::kVarint, "XEvent.offset_ps")) {
          x->offset_ps = static_cast<int64_t>(g.value);
          x->aggregated = false;
        }
        break;
      case 3:
        if (Is(ev, g, WireType::kVarint, "XEvent.duration_ps"))
          x->duration_ps = static_cast<int64_t>(g.value);
        break;
      case 4:
        if (Is(ev, g, WireType::kLen, "XEvent.stats")) {
          const StatMeta* sm_entry;
          StatValue v;
          if (ReadStat(ev, g.bytes, g.payload_offset, sm, &sm_entry, &v) &&
              sm_entry != nullptr && sm_entry->kind != StatKind::kOther)
            stats.emplace_back(sm_entry, v);
        }
        break;
      case 5:
        if (Is(ev, g, WireType::kVarint, "XEvent.num_occurrences")) x->aggregated = true;
        break;
      default:
        break;
    }
  }
}

// An event's name and long name (its name stack), and what they say of JAX.
// Inlined into ConvertLine's loop, as ReadXEvent.
__attribute__((always_inline)) inline void XSpaceParser::NameEvent(const EventMeta* meta,
                                                                   const EventFields& fields,
                                                                   StrId unknown, RawEvent* e) {
  StringTable& strings = out_->strings;
  e->name = fields.has_step_name ? strings.Intern(fields.step_name)
                                 : (meta != nullptr ? meta->name : unknown);
  // long_name as TensorBoard sets it: the metadata's full name when a
  // display name is shown, overridden by a long_name stat; tf_op when neither.
  if (fields.has_long_name) {
    e->arg_name = strings.Intern(fields.long_name);
    e->flags |= RawEvent::kLongName;
  } else if (meta != nullptr && meta->long_name != kEmptyStr) {
    e->arg_name = meta->long_name;
    e->flags |= RawEvent::kLongName;
  } else if (fields.has_tf_op) {
    e->arg_name = strings.Intern(fields.tf_op);
    e->flags |= RawEvent::kLongName;
  } else if (std::string_view stack = ResolveNameStack(fields); !stack.empty()) {
    e->arg_name = strings.Intern(stack);
    e->flags |= RawEvent::kLongName;
  }
  if (!info_->jax && (e->flags & RawEvent::kLongName) && IsJaxNameStack(strings.Get(e->arg_name)))
    info_->jax = true;
  if (fields.has_hlo_op) e->arg_op = strings.Intern(fields.hlo_op);
  if (fields.has_hlo_module) {
    e->cat = strings.Intern(fields.hlo_module);
    for (std::string_view prefix : {"jit_", "pjit_", "pmap_"})
      if (StartsWith(fields.hlo_module, prefix)) info_->jax = true;
  }
}

// One XLine: its thread_name event, then its events (the reader's hot loop).
Status XSpaceParser::ConvertLine(const WireField& lf, const PlaneContext& c) {
  ++info_->lines;
  LineHeader h;
  SMG_RETURN_IF_ERROR(ReadLineHeader(lf, &h));
  StringTable& strings = out_->strings;
  const StrId tid = strings.Intern(std::to_string(h.display_id != 0 ? h.display_id : h.id));
  AddNameEvent(c.pid, tid, c.thread_name, !h.display_name.empty() ? h.display_name : h.name);
  if (!h.has_events) return Status();
  const int64_t line_ts = h.timestamp_ns;
  // Every event starts at line_ts + offset (+ the profile's start).
  int64_t base_ns = line_ts;
  if (info_->profile_start_ns &&
      __builtin_add_overflow(base_ns, *info_->profile_start_ns, &base_ns)) {
    base_ns = std::numeric_limits<int64_t>::max();
  }
  bool line_has_timed_event = false;
  WireReader r(lf.bytes, lf.payload_offset);
  WireField f;
  while (r.Next(&f)) {
    if (f.number != 4) continue;
    WireReader ev(f.bytes, f.payload_offset);
    XEventFields x;
    ReadXEvent(ev, c.sm, &x);
    if (ev.failed()) return FromReader(ev);
    ++info_->events;
    if (x.aggregated) {
      ++aggregated_;  // a count over the profile, not an interval
      continue;
    }
    const EventMeta* meta = c.em.Find(x.meta_id);
    EventFields fields;
    if (meta != nullptr) {
      fields = meta->fields;
    } else {
      ++missing_metadata_;
    }
    for (const auto& [s, v] : event_stats_) ApplyStat(*s, v, &fields);

    RawEvent e;
    e.ph = 'X';
    e.flags = RawEvent::kHasDur;
    e.pid = c.pid;
    e.tid = tid;
    if (x.duration_ps < 0) {
      ++negative_;
      continue;
    }
    int64_t ts, end;
    if (base_ns == std::numeric_limits<int64_t>::max() ||
        __builtin_add_overflow(base_ns, PsToNs(x.offset_ps), &ts) ||
        __builtin_add_overflow(ts, PsToNs(x.duration_ps), &end)) {
      ++overflow_;  // past the year 2262: a damaged or crafted file
      continue;
    }
    e.ts_ns = ts;
    e.dur_ns = PsToNs(x.duration_ps);
    line_has_timed_event = true;
    NameEvent(meta, fields, c.unknown, &e);
    e.seq = fields.group_id;
    e.correlation = fields.correlation;
    e.external_id = fields.step_num;
    out_->events.push_back(e);
  }
  if (r.failed()) return FromReader(r);
  if (line_has_timed_event) min_line_ts_ = std::min(min_line_ts_, line_ts);
  return Status();
}

Status XSpaceParser::Run() {
  // XSpace {planes 1, errors 2, warnings 3, hostnames 4}. Planes are read
  // in two passes: the Task Environment (the profile's start, which every
  // time needs) and the HLO modules of /host:metadata come first, wherever
  // they are in the file.
  std::vector<PlaneView> planes;
  int64_t profiler_errors = 0;
  {
    WireReader r(bytes_, 0);
    WireField f;
    while (r.Next(&f)) {
      switch (f.number) {
        case 1:
          if (Is(r, f, WireType::kLen, "XSpace.planes")) {
            PlaneView p;
            p.index = planes.size();
            SMG_RETURN_IF_ERROR(ReadPlaneView(f, &p));
            planes.push_back(std::move(p));
          }
          break;
        case 2:
        case 3:
          if (Is(r, f, WireType::kLen, f.number == 2 ? "XSpace.errors" : "XSpace.warnings")) {
            // What the profiler itself reported (lost events, a tracer that
            // failed): told to the user, a few at most.
            if (++profiler_errors <= 5)
              out_->diagnostics.Warn(fmt::format("{}: the profiler recorded {}: {}", name_,
                                                 f.number == 2 ? "an error" : "a warning",
                                                 std::string(f.bytes.substr(0, 300))));
          }
          break;
        case 4:
          Is(r, f, WireType::kLen, "XSpace.hostnames");
          break;
        default:
          break;
      }
    }
    if (r.failed()) return FromReader(r);
  }
  info_->planes = static_cast<int64_t>(planes.size());
  for (const PlaneView& p : planes) {
    if (p.name == "Task Environment")
      SMG_RETURN_IF_ERROR(ReadTaskEnvironment(p));
    else if (p.name == "/host:metadata")
      SMG_RETURN_IF_ERROR(ReadHloProtos(p));
  }
  // One pass over the lines' tags counts the events: the vector is sized
  // once (growing it copied every event and cost a third of the reader's time).
  size_t expected = 0;
  for (const PlaneView& p : planes) {
    expected += 1 + p.lines.size();  // the process_name and thread_name events
    for (const WireField& lf : p.lines) {
      WireReader r(lf.bytes, lf.payload_offset);
      WireField f;
      while (r.Next(&f)) expected += f.number == 4;
    }
  }
  out_->events.reserve(out_->events.size() + expected);
  AdviseHugePages(out_->events.data(), out_->events.capacity() * sizeof(RawEvent));
  for (const PlaneView& p : planes) SMG_RETURN_IF_ERROR(ConvertPlane(p));
  Diagnostics& d = out_->diagnostics;
  d.Add("xplane.aggregated_event_skipped", aggregated_);
  d.Add("xplane.event_metadata_missing", missing_metadata_);
  d.Add("xplane.hlo_proto_unreadable", hlo_unreadable_);
  d.Add("trace.time_overflow_dropped", overflow_);
  d.Add("trace.negative_duration_dropped", negative_);
  bool any = false;
  for (const RawEvent& e : out_->events) any |= e.ph == 'X';
  if (!any)
    return BadInput(name_, fmt::format("XPlane has no events with a duration ({} planes, {} lines)",
                                       info_->planes, info_->lines));
  // Files written before profilers normalised line timestamps hold epoch ns.
  if (!info_->profile_start_ns && min_line_ts_ >= 1'000'000'000'000'000'000)
    info_->absolute_times = true;
  return Status();
}

}  // namespace

Status ParseXSpace(const std::string& name, std::string_view bytes, RawTrace* out,
                   XSpaceInfo* info) {
  XSpaceParser parser(name, bytes, out, info);
  return parser.Run();
}

}  // namespace smaragdine::trace_internal
