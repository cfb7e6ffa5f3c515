#include "trace/fast_scanner.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstring>
#include <limits>

namespace smaragdine::trace_internal {

// The helpers below run for every token and are used only here: `inline`
// gives them the inlining the scanner had as one class in one file (as plain
// out-of-line members GCC -O2 called SkipWs and String, ~25 % slower).

namespace {

inline bool Is(std::string_view key, const char (&word)[3]) {
  return key[0] == word[0] && key[1] == word[1];
}
inline bool Is3(std::string_view key, const char (&word)[4]) {
  return key[0] == word[0] && key[1] == word[1] && key[2] == word[2];
}

// Whether the 8 bytes at q are all decimal digits, and if so their value
// (SWAR: one load and a few multiplies instead of a loop of 8).
inline bool EightDigits(const char* q, uint64_t* value) {
  uint64_t w;
  std::memcpy(&w, q, 8);
  if (((w & 0xF0F0F0F0F0F0F0F0ull) | (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) !=
      0x3333333333333333ull)
    return false;
  if constexpr (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v * 10 + static_cast<uint64_t>(q[i] - '0');
    *value = v;
    return true;
  }
  w -= 0x3030303030303030ull;
  w = w * 10 + (w >> 8);  // pairs of digits
  w = (((w & 0x000000FF000000FFull) * 0x000F424000000064ull) +
       (((w >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >>
      32;
  *value = w;
  return true;
}

}  // namespace

FastEventScanner::Undo FastEventScanner::Mark() const {
  return Undo{reader_.out_->strings.size(), reader_.last_pid_, reader_.last_tid_,
              reader_.last_cat_};
}

void FastEventScanner::Rollback(const Undo& u) {
  // A declined event is read again by simdjson, which interns its strings in
  // the same order: ids stay those of a whole-document parse.
  if (reader_.out_->strings.size() > u.strings) {
    // Memos naming a string that is forgotten are forgotten too.
    for (size_t k = 0; k < shape_count_; ++k)
      for (Shape::Field& f : shapes_[k].fields)
        if (f.memo_size != 0 && f.kind != Key::kPh && f.memo_id >= u.strings) f.memo_size = 0;
  }
  reader_.out_->strings.Truncate(u.strings);
  reader_.last_pid_ = u.last_pid;
  reader_.last_tid_ = u.last_tid;
  reader_.last_cat_ = u.last_cat;
  reader_.pending_inputs_.clear();
}

namespace {

// The scanning helpers take the position and the end by value and return the
// new position, nullptr when the input is not what they read: JSON's grammar
// is checked, and anything unusual (escapes, non-ASCII bytes, too deep) is
// declined for simdjson to read. They may read up to 15 bytes past `end`,
// inside the caller's kParsePadding.

constexpr int kMaxDepth = 32;  // deeper values are left to simdjson (its limit is far above)

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The first non-blank byte at or after p; nullptr at the end of the input.
inline const char* SkipWs(const char* p, const char* end) {
  // Called around every token, and usually there is no blank or one space
  // (`"ph": "X", "pid": 7`): a test or two.
  if (p < end) {
    if (static_cast<unsigned char>(*p) > ' ') return p;
    if (*p == ' ' && p + 1 < end && static_cast<unsigned char>(p[1]) > ' ') return p + 1;
  }
#if defined(__SSE2__)
  // Pretty-printed traces (TF1 timelines: an indent of 12-16 blanks before
  // every key) have runs: 16 bytes at a time.
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i newline = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i tab = _mm_set1_epi8('\t');
  for (; p < end; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i blank = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, newline)),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)));
    const unsigned other = ~static_cast<unsigned>(_mm_movemask_epi8(blank)) & 0xffffu;
    if (other != 0) {
      p += __builtin_ctz(other);
      return p < end ? p : nullptr;
    }
  }
  return nullptr;
#else
  while (p < end && IsJsonSpace(*p)) ++p;
  return p < end ? p : nullptr;
#endif
}

// A string at p ('"') without escapes, control or non-ASCII bytes.
inline const char* String(const char* p, const char* end, std::string_view* out) {
#if defined(__SSE2__)
  // 16 bytes at a time: the first quote, backslash, control or non-ASCII
  // byte ends the scan; whatever lies past `end` is ignored.
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);  // signed: also catches bytes >= 0x80
  for (const char* q = p + 1; q < end; q += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                     _mm_cmplt_epi8(v, space));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask == 0) continue;
    const char* at = q + __builtin_ctz(mask);
    if (at >= end || *at != '"') return nullptr;
    *out = std::string_view(p + 1, static_cast<size_t>(at - p - 1));
    return at + 1;
  }
  return nullptr;
#else
  for (const char* q = p + 1; q < end; ++q) {
    const unsigned char c = static_cast<unsigned char>(*q);
    if (c == '"') {
      *out = std::string_view(p + 1, static_cast<size_t>(q - p - 1));
      return q + 1;
    }
    if (c == '\\' || c < 0x20 || c >= 0x80) return nullptr;
  }
  return nullptr;
#endif
}

// The exponent of a JSON number at q ("e-7"), if there is one: the position
// after it (q itself without one), or nullptr when it has no digits.
inline const char* Exponent(const char* q, const char* end) {
  if (q >= end || (*q != 'e' && *q != 'E')) return q;
  ++q;
  if (q < end && (*q == '+' || *q == '-')) ++q;
  const char* digits = q;
  while (q < end && IsDigit(*q)) ++q;
  return q == digits ? nullptr : q;
}

// A number by the JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
inline const char* Number(const char* p, const char* end, std::string_view* out) {
  const char* q = p;
  if (q < end && *q == '-') ++q;
  if (q >= end || !IsDigit(*q)) return nullptr;
  if (*q == '0') {
    ++q;
  } else {
    while (q < end && IsDigit(*q)) ++q;
  }
  if (q < end && *q == '.') {
    const char* digits = ++q;
    while (q < end && IsDigit(*q)) ++q;
    if (q == digits) return nullptr;
  }
  if (!(q = Exponent(q, end))) return nullptr;
  *out = std::string_view(p, static_cast<size_t>(q - p));
  return q;
}

// The value of the n (1-8) decimal digits at q, known to be digits: the
// SWAR conversion of EightDigits on the digits moved to the top of the word,
// '0's below (the bytes after them, read inside the padding, are shifted out).
inline uint64_t DigitsValue(const char* q, int n) {
  uint64_t w;
  std::memcpy(&w, q, 8);
  if (n < 8) w = (w << (8 * (8 - n))) | (0x3030303030303030ull >> (8 * n));
  w -= 0x3030303030303030ull;
  w = w * 10 + (w >> 8);
  return (((w & 0x000000FF000000FFull) * 0x000F424000000064ull) +
          (((w >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >>
         32;
}

const char* MicrosGeneral(const char* p, const char* end, int64_t* ns, bool* ok);

// The 1-15 decimal digits at p (p[0] a digit) and the position after them,
// with one 16-byte classification, when they end (at a byte that is no
// digit) before `end` and at least 20 bytes remain; else false, and *q and
// *value are left as they were.
inline bool PlainDigits(const char* p, const char* end, const char** q, uint64_t* value) {
#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (end - p <= 20) return false;
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i other = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8('0')),
                                     _mm_cmpgt_epi8(v, _mm_set1_epi8('9')));
  const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(other));
  if (mask == 0) return false;  // 16 digits or more
  const int n = __builtin_ctz(mask);
  static constexpr uint64_t kPow10[] = {1,      10,      100,      1000,     10000,
                                        100000, 1000000, 10000000, 100000000};
  *value = n <= 8 ? DigitsValue(p, n)
                  : DigitsValue(p, 8) * kPow10[n - 8] + DigitsValue(p + 8, n - 8);
  *q = p + n;
  return true;
#else
  (void)p, (void)end, (void)q, (void)value;
  return false;
#endif
}

// A number (as Number) holding µs, read into *ns as ParseMicrosToNs reads
// its text; *ok is ParseMicrosToNs's answer (*ns is set only when true).
// Trace times are nearly always 1-16 integer digits without a sign or a
// leading zero, then ".ddd" or nothing: that shape is read here with one
// 16-byte classification and at most three SWAR conversions, to the value
// MicrosGeneral gives; anything else (or a number that reaches `end`) is
// MicrosGeneral's.
inline const char* Micros(const char* p, const char* end, int64_t* ns, bool* ok) {
#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (__builtin_expect(end - p > 20 && *p >= '1' && *p <= '9', 1)) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i other = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8('0')),
                                       _mm_cmpgt_epi8(v, _mm_set1_epi8('9')));
    const int n = __builtin_ctz(static_cast<unsigned>(_mm_movemask_epi8(other)) | 0x10000u);
    const char* q = p + n;  // the first byte after the integer digits (< end: 16 < 20)
    if (!IsDigit(*q)) {
      static constexpr uint64_t kPow10[] = {1,      10,      100,      1000,     10000,
                                            100000, 1000000, 10000000, 100000000};
      uint64_t value = n <= 8 ? DigitsValue(p, n)
                              : DigitsValue(p, 8) * kPow10[n - 8] + DigitsValue(p + 8, n - 8);
      if (*q == '.' && IsDigit(q[1]) && IsDigit(q[2]) && IsDigit(q[3]) && q + 4 < end &&
          !IsDigit(q[4]) && q[4] != 'e' && q[4] != 'E') {
        value = value * 1000 + DigitsValue(q + 1, 3);
        q += 4;
      } else if (*q != '.' && *q != 'e' && *q != 'E') {
        value *= 1000;
      } else {
        return MicrosGeneral(p, end, ns, ok);
      }
      // At most 16 + 3 digits: below 10^19, no wrap.
      if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        *ns = static_cast<int64_t>(value);
        *ok = true;
        return q;
      }
    }
  }
#endif
  return MicrosGeneral(p, end, ns, ok);
}

// Micros for every number: the common shape (ParseMicrosToNs's plain case,
// at most 16 integer and 3 fraction digits, no exponent) is converted while
// it is scanned, to the same value; any other number goes to
// ParseMicrosToNs itself.
const char* MicrosGeneral(const char* p, const char* end, int64_t* ns, bool* ok) {
  const char* q = p;
  const bool negative = q < end && *q == '-';
  if (negative) ++q;
  if (q >= end || !IsDigit(*q)) return nullptr;
  const char* int_start = q;
  uint64_t v = 0;  // wraps for more than 19 digits: then not plain, unused
  if (*q == '0') {
    ++q;
  } else {
    // Epoch µs have 16 integer digits: 8 at a time while they last.
    uint64_t eight;
    while (q + 8 <= end && EightDigits(q, &eight)) {
      v = v * 100000000 + eight;
      q += 8;
    }
    while (q < end && IsDigit(*q)) v = v * 10 + static_cast<uint64_t>(*q++ - '0');
  }
  bool plain = q - int_start <= 16;
  int fraction_digits = 0;
  if (q < end && *q == '.') {
    const char* digits = ++q;
    if (q + 4 <= end && IsDigit(q[0]) && IsDigit(q[1]) && IsDigit(q[2]) && !IsDigit(q[3])) {
      // The usual ns decimals, ".ddd": no loop.
      v = v * 1000 + static_cast<uint64_t>(q[0] - '0') * 100 +
          static_cast<uint64_t>(q[1] - '0') * 10 + static_cast<uint64_t>(q[2] - '0');
      fraction_digits = 3;
      q += 3;
    } else {
      while (q < end && IsDigit(*q)) {
        if (fraction_digits < 3) v = v * 10 + static_cast<uint64_t>(*q - '0');
        ++fraction_digits;
        ++q;
      }
    }
    if (q == digits) return nullptr;
    plain = plain && fraction_digits <= 3;
  }
  const char* after_exponent = Exponent(q, end);
  if (!after_exponent) return nullptr;
  plain = plain && after_exponent == q;
  q = after_exponent;
  static constexpr uint64_t kScale[] = {1000, 100, 10, 1};
  if (plain) {
    // At most 19 digits in all: below 10^19, no wrap; beyond int64 the
    // general parser refuses it too, and says so below.
    v *= kScale[fraction_digits];
    plain = v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  }
  if (plain) {
    *ns = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    *ok = true;
  } else {
    *ok = ParseMicrosToNs(std::string_view(p, static_cast<size_t>(q - p)), ns);
  }
  return q;
}

inline const char* Literal(const char* p, const char* end, std::string_view word) {
  if (static_cast<size_t>(end - p) < word.size() || std::memcmp(p, word.data(), word.size()))
    return nullptr;
  return p + word.size();
}

const char* Skip(const char* p, const char* end, int depth);

// Any value at p, read as a Scalar (arrays and objects are checked and
// skipped, kind kOther).
inline const char* Value(const char* p, const char* end, Scalar* v, int depth) {
  switch (*p) {
    case '"': v->kind = Scalar::kString; return String(p, end, &v->text);
    case 't': v->kind = Scalar::kTrue; return Literal(p, end, "true");
    case 'f': v->kind = Scalar::kFalse; return Literal(p, end, "false");
    case 'n': v->kind = Scalar::kNull; return Literal(p, end, "null");
    case '{':
    case '[': v->kind = Scalar::kOther; return Skip(p, end, depth + 1);
    default: v->kind = Scalar::kNumber; return Number(p, end, &v->text);
  }
}

// An array or object at p, checked and skipped.
const char* Skip(const char* p, const char* end, int depth) {
  if (depth > kMaxDepth) return nullptr;
  const char close = *p == '{' ? '}' : ']';
  const bool object = close == '}';
  if (!(p = SkipWs(p + 1, end))) return nullptr;
  if (*p == close) return p + 1;
  for (;;) {
    if (object) {
      std::string_view key;
      if (*p != '"' || !(p = String(p, end, &key)) || !(p = SkipWs(p, end)) || *p != ':')
        return nullptr;
      if (!(p = SkipWs(p + 1, end))) return nullptr;
    }
    Scalar v;
    if (!(p = Value(p, end, &v, depth)) || !(p = SkipWs(p, end))) return nullptr;
    if (*p == close) return p + 1;
    if (*p != ',' || !(p = SkipWs(p + 1, end))) return nullptr;
  }
}

}  // namespace

namespace {

// Whether the n bytes at p are `literal` (which has 16 readable bytes past
// its end); false when fewer than n bytes are left before `end`.
inline bool Same(const char* p, const char* end, const char* literal, size_t n) {
  if (static_cast<size_t>(end - p) < n) return false;
#if defined(__SSE2__)
  if (n > 16 && n <= 32) {
    // The usual literal of a pretty-printed trace (`,\n` + 12-16 blanks + a
    // key + `": `): its first and last 16 bytes, which overlap, without a loop.
    const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(literal));
    const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16));
    const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(literal + n - 16));
    return _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a0, b0), _mm_cmpeq_epi8(a1, b1))) ==
           0xffff;
  }
  for (; n >= 16; n -= 16, p += 16, literal += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(literal));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) != 0xffff) return false;
  }
  if (n == 0) return true;
  // The last 1-15 bytes: a load that may reach past `end` into the padding,
  // whose bytes are masked off.
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(literal));
  const unsigned equal = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(a, b)));
  return ((equal | (0xffffu << n)) & 0xffffu) == 0xffffu;
#else
  return std::memcmp(p, literal, n) == 0;
#endif
}

}  // namespace

FastEventScanner::Key FastEventScanner::Classify(std::string_view key) {
  switch (key.size()) {
    case 0: return Key::kEmpty;
    case 2:
      if (Is(key, "ph")) return Key::kPh;
      if (Is(key, "ts")) return Key::kTs;
      break;
    case 3:
      if (Is3(key, "pid")) return Key::kPid;
      if (Is3(key, "tid")) return Key::kTid;
      if (Is3(key, "dur")) return Key::kDur;
      if (Is3(key, "cat")) return Key::kCat;
      break;
    case 4:
      if (std::memcmp(key.data(), "name", 4) == 0) return Key::kName;
      if (std::memcmp(key.data(), "args", 4) == 0) return Key::kArgs;
      break;
    default: break;
  }
  return Key::kOther;
}

size_t FastEventScanner::Scan(const char* buf, size_t begin, bool array_start, size_t* close) {
  const char* const end = end_;
  const char* p = buf + begin;
  for (;;) {
    const char* q = SkipWs(p, end);
    if (!q) return static_cast<size_t>(p - buf);
    if (*q == ']' && array_start) {
      *close = static_cast<size_t>(q - buf);
      return static_cast<size_t>(p - buf);
    }
    if (*q != '{') return static_cast<size_t>(p - buf);
    const Undo undo = Mark();
    RawEvent e;
    Reader::EventState st;
    const char* after = nullptr;
    // The layouts of the last events, the latest used first; then field by
    // field, keeping this event's layout.
    for (size_t k = 0; k < shape_count_; ++k) {
      after = Replay(shapes_[order_[k]], q, end, &e, &st);
      if (after) {
        const uint8_t used = order_[k];
        for (; k > 0; --k) order_[k] = order_[k - 1];
        order_[0] = used;
        break;
      }
      Rollback(undo);
      e = RawEvent();
      st = Reader::EventState();
    }
    if (!after) {
      seen_.clear();
      seen_ok_ = true;
      after = Event(q, end, &e, &st);
      if (after && seen_ok_) Learn(q, after);
    }
    // Only a well-formed separator lets the event in: after a bad one
    // simdjson must see the event again to report the error.
    if (!after || !(q = SkipWs(after, end)) || (*q != ',' && *q != ']')) {
      Rollback(undo);
      return static_cast<size_t>(p - buf);
    }
    reader_.AddScanned(e, st);
    if (*q == ',') {
      p = q + 1;
      array_start = false;
      if (stop_after_ != nullptr && q >= stop_after_) return static_cast<size_t>(p - buf);
      continue;
    }
    *close = static_cast<size_t>(q - buf);
    return static_cast<size_t>(q - buf);
  }
}

void FastEventScanner::Learn(const char* begin, const char* end_of_event) {
  // A new layout takes the place of the one used longest ago.
  uint8_t slot;
  if (shape_count_ < kShapes) {
    slot = static_cast<uint8_t>(shape_count_);
    order_[shape_count_++] = slot;
  } else {
    slot = order_[kShapes - 1];
  }
  for (size_t k = shape_count_ - 1; k > 0; --k) order_[k] = order_[k - 1];
  order_[0] = slot;
  Shape& s = shapes_[slot];
  s.bytes.clear();
  s.fields.clear();
  auto keep = [&](const char* from, size_t n) {
    const uint32_t at = static_cast<uint32_t>(s.bytes.size());
    s.bytes.append(from, n);
    return at;
  };
  (void)begin;
  for (const SeenField& f : seen_) {
    Shape::Field out;
    out.literal_size = static_cast<uint32_t>(f.value - f.literal);
    out.literal = keep(f.literal, out.literal_size);
    out.key_size = static_cast<uint32_t>(f.key.size());
    out.key = keep(f.key.data(), f.key.size());
    out.kind = f.kind;
    out.in_args = f.in_args;
    out.args_begin = f.args_begin;
    out.external_id = f.in_args && f.key == "External id";
    if (f.in_args) {
      if (f.key == "name") out.arg = ArgKey::kName;
      else if (f.key == "op") out.arg = ArgKey::kOp;
      else if (Reader::IsInputKey(f.key)) out.arg = ArgKey::kInput;
    }
    s.fields.push_back(out);
  }
  s.tail_size = static_cast<uint32_t>(end_of_event - seen_end_);
  s.tail = keep(seen_end_, s.tail_size);
  s.bytes.append(16, '\0');  // Same() reads 16 bytes at a time
}

void FastEventScanner::Remember(Shape::Field& f, const char* value, const char* value_end,
                                const RawEvent& e) {
  f.memo_size = 0;
  const size_t n = static_cast<size_t>(value_end - value);
  if (n == 0 || n > 15) return;
  // Only the values TopField reads on its own paths: strings, and numbers
  // for pid and tid (literals and containers go through EventField). Not
  // names: they change from one event to the next, and a miss costs.
  const bool string = *value == '"';
  switch (f.kind) {
    case Key::kPh:
      if (!string) return;
      f.memo_ph = e.ph;
      break;
    case Key::kCat:
      if (!string) return;
      f.memo_id = e.cat;
      break;
    case Key::kPid:
    case Key::kTid:
      if (!string && *value != '-' && !IsDigit(*value)) return;
      f.memo_id = f.kind == Key::kPid ? e.pid : e.tid;
      break;
    default: return;
  }
  std::memcpy(f.memo, value, n);
  std::memset(f.memo + n, 0, sizeof(f.memo) - n);
  f.memo_number = !string;
  f.memo_size = static_cast<uint8_t>(n);
}

const char* FastEventScanner::Replay(Shape& shape, const char* p, const char* end, RawEvent* e,
                                     Reader::EventState* st) {
  const char* b = shape.bytes.data();
  for (Shape::Field& f : shape.fields) {
    if (!Same(p, end, b + f.literal, f.literal_size)) return nullptr;
    p += f.literal_size;
    const std::string_view key(b + f.key, f.key_size);
    if (f.in_args) {
      if (f.args_begin) {
        Reader::Seen(*st, Reader::kArgs);
        st->have_long_name = false;
      }
      if (f.external_id && p < end && IsDigit(*p) && !(*p == '0' && p + 1 < end && IsDigit(p[1]))) {
        // "External id": 1234 — what Value, ArgsField and ParseInt64's plain
        // case make of up to 18 digits with no fraction or exponent.
        const char* q = p;
        uint64_t v = 0;
        if (!PlainDigits(p, end, &q, &v)) {
          while (q < end && IsDigit(*q) && q - p < 19)
            v = v * 10 + static_cast<uint64_t>(*q++ - '0');
        }
        if (q - p <= 18 && q < end && *q != '.' && *q != 'e' && *q != 'E' && !IsDigit(*q)) {
          Reader::Seen(*st, Reader::kArgExternalId);
          e->external_id = static_cast<int64_t>(v);
          p = q;
          continue;
        }
      }
      Scalar v;
      if (!(p = Value(p, end, &v, 2))) return nullptr;
      switch (f.arg) {
        case ArgKey::kName: reader_.ArgName(v, e, *st); break;
        case ArgKey::kOp: reader_.ArgOp(v, e, *st); break;
        case ArgKey::kInput: reader_.ArgInput(v); break;
        default: reader_.ArgsField(key, v, e, *st); break;
      }
    } else if (f.memo_size != 0 && p + f.memo_size < end && Same(p, end, f.memo, f.memo_size) &&
               !(f.memo_number && (IsDigit(p[f.memo_size]) || p[f.memo_size] == '.' ||
                                   p[f.memo_size] == 'e' || p[f.memo_size] == 'E'))) {
      // The value this field had last time: what TopField made of it.
      p += f.memo_size;
      switch (f.kind) {
        case Key::kPh:
          Reader::Seen(*st, Reader::kPh);
          e->ph = f.memo_ph;
          break;
        case Key::kCat:
          Reader::Seen(*st, Reader::kCat);
          e->cat = reader_.last_cat_ = f.memo_id;
          break;
        case Key::kPid:
          Reader::Seen(*st, Reader::kPid);
          e->pid = reader_.last_pid_ = f.memo_id;
          break;
        case Key::kTid:
          Reader::Seen(*st, Reader::kTid);
          e->tid = reader_.last_tid_ = f.memo_id;
          break;
        default: break;
      }
    } else {
      const char* value = p;
      if (!(p = TopField(key, f.kind, p, end, e, st))) return nullptr;
      // Only these kinds are remembered (Remember); the others' memo stays empty.
      if (f.kind == Key::kPh || f.kind == Key::kCat || f.kind == Key::kPid || f.kind == Key::kTid)
        Remember(f, value, p, *e);
    }
  }
  if (!Same(p, end, b + shape.tail, shape.tail_size)) return nullptr;
  return p + shape.tail_size;
}

const char* FastEventScanner::Args(const char* p, const char* end, RawEvent* e,
                                   Reader::EventState* st) {
  if (!(p = SkipWs(p + 1, end))) return nullptr;
  if (*p == '}') {
    seen_ok_ = false;  // `"args": {}` has no field to mark where args begin
    return p + 1;
  }
  bool first = true;
  for (;;) {
    std::string_view key;
    if (*p != '"' || !(p = String(p, end, &key)) || !(p = SkipWs(p, end)) || *p != ':')
      return nullptr;
    Scalar v;
    if (!(p = SkipWs(p + 1, end))) return nullptr;
    See(SeenField{seen_end_, p, key, Key::kOther, true, first});
    first = false;
    if (!(p = Value(p, end, &v, 2))) return nullptr;
    seen_end_ = p;
    reader_.ArgsField(key, v, e, *st);
    if (!(p = SkipWs(p, end))) return nullptr;
    if (*p == '}') return p + 1;  // the '}' begins the next field's bytes
    if (*p != ',' || !(p = SkipWs(p + 1, end))) return nullptr;
  }
}

__attribute__((always_inline)) inline const char* FastEventScanner::TopField(std::string_view key, Key kind, const char* p,
                                              const char* end, RawEvent* e,
                                              Reader::EventState* st) {
  // The common keys with the common kind of value: read straight into the
  // event, as Reader::EventField reads them. Anything else: EventField.
  const char c = *p;
  const bool number = c == '-' || IsDigit(c);
  std::string_view text;
  switch (kind) {
    case Key::kTs:
    case Key::kDur: {
      if (!number) break;
      int64_t ns = 0;
      bool ok = false;
      if (!(p = Micros(p, end, &ns, &ok))) return nullptr;
      if (kind == Key::kTs) {
        Reader::Seen(*st, Reader::kTs);
        st->has_ts = ok;
        st->bad_ts = !ok;
        if (ok) e->ts_ns = ns;
      } else {
        Reader::Seen(*st, Reader::kDur);
        if (ok) {
          e->dur_ns = ns;
          e->flags |= RawEvent::kHasDur;
        } else {
          st->bad_dur = true;
        }
      }
      return p;
    }
    case Key::kPid:
    case Key::kTid:
      if (c == '"') {
        if (!(p = String(p, end, &text))) return nullptr;
      } else if (number) {
        if (!(p = Number(p, end, &text))) return nullptr;
      } else {
        break;
      }
      if (kind == Key::kPid) {
        Reader::Seen(*st, Reader::kPid);
        e->pid = reader_.InternText(text, &reader_.last_pid_);
      } else {
        Reader::Seen(*st, Reader::kTid);
        e->tid = reader_.InternText(text, &reader_.last_tid_);
      }
      return p;
    case Key::kName:
    case Key::kCat:
    case Key::kPh:
      // Strings only: another kind of value under these keys is EventField's.
      if (c != '"') break;
      if (!(p = String(p, end, &text))) return nullptr;
      if (kind == Key::kName) {
        Reader::Seen(*st, Reader::kName);
        e->name = reader_.out_->strings.Intern(text);
      } else if (kind == Key::kCat) {
        Reader::Seen(*st, Reader::kCat);
        e->cat = reader_.InternText(text, &reader_.last_cat_);
      } else {
        Reader::Seen(*st, Reader::kPh);
        e->ph = text.empty() ? 0 : text[0];
      }
      return p;
    case Key::kArgs:
      if (c == '{') {
        // Only an object `args` is read (and counted as seen), as ReadEvent does.
        Reader::Seen(*st, Reader::kArgs);
        st->have_long_name = false;
        return Args(p, end, e, st);
      }
      [[fallthrough]];
    case Key::kEmpty: {
      Scalar v;  // ignored, as ReadEvent does
      return Value(p, end, &v, 1);
    }
    case Key::kOther: break;
  }
  Scalar v;
  if (!(p = Value(p, end, &v, 1))) return nullptr;
  reader_.EventField(key, v, *e, *st);
  return p;
}

const char* FastEventScanner::Event(const char* p, const char* end, RawEvent* e,
                                    Reader::EventState* st) {
  seen_end_ = p;
  if (!(p = SkipWs(p + 1, end))) return nullptr;
  if (*p == '}') return p + 1;
  for (;;) {
    std::string_view key;
    if (*p != '"' || !(p = String(p, end, &key)) || !(p = SkipWs(p, end)) || *p != ':')
      return nullptr;
    if (!(p = SkipWs(p + 1, end))) return nullptr;
    const Key kind = Classify(key);
    // An object `args` lists its own fields; its '}' begins the next bytes.
    const bool args_object = kind == Key::kArgs && *p == '{';
    if (!args_object) See(SeenField{seen_end_, p, key, kind, false, false});
    if (!(p = TopField(key, kind, p, end, e, st))) return nullptr;
    if (!args_object) seen_end_ = p;
    if (!(p = SkipWs(p, end))) return nullptr;
    if (*p == '}') return p + 1;
    if (*p != ',' || !(p = SkipWs(p + 1, end))) return nullptr;
  }
}

}  // namespace smaragdine::trace_internal
