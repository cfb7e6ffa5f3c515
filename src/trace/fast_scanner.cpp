#include "trace/fast_scanner.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstring>

namespace smaragdine::trace_internal {

// The helpers below run for every token and are used only here: `inline`
// gives them the inlining the scanner had as one class in one file (as plain
// out-of-line members GCC -O2 called SkipWs and String, ~25 % slower).

size_t FastEventScanner::Scan(const char* buf, size_t begin, bool array_start, size_t* close) {
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

inline bool FastEventScanner::SkipWs(const char*& p) const {
  // Called around every token, and usually there is no blank: one test.
  if (p < end_ && static_cast<unsigned char>(*p) > ' ') return true;
  while (p < end_ && IsSpace(*p)) ++p;
  return p < end_;
}

inline bool FastEventScanner::String(const char*& p, std::string_view* out) const {
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

inline bool FastEventScanner::Number(const char*& p, std::string_view* out) const {
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

inline bool FastEventScanner::Literal(const char*& p, std::string_view word) const {
  if (static_cast<size_t>(end_ - p) < word.size() || std::memcmp(p, word.data(), word.size()))
    return false;
  p += word.size();
  return true;
}

inline bool FastEventScanner::Value(const char*& p, Scalar* v, int depth) const {
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

inline bool FastEventScanner::Skip(const char*& p, int depth) const {
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

template <class OnField>
inline bool FastEventScanner::Fields(const char*& p, int depth, OnField on_field) {
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

inline bool FastEventScanner::Push(Pending::Where where, std::string_view key, const Scalar& v) {
  if (count_ == kMaxFields) return false;  // an unusual event: simdjson reads it
  pending_[count_++] = Pending{where, key, v};
  return true;
}

inline bool FastEventScanner::Event(const char*& p) {
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

inline void FastEventScanner::Apply() {
  RawEvent e;
  Reader::EventState st;
  for (int i = 0; i < count_; ++i) {
    Pending& f = pending_[i];
    switch (f.where) {
      case Pending::kEvent: reader_.EventField(f.key, f.value, e, st); break;
      case Pending::kArgsBegin:
        Reader::Seen(st, Reader::kArgs);
        st.have_long_name = false;
        break;
      case Pending::kArg: reader_.ArgsField(f.key, f.value, &e, st); break;
    }
  }
  reader_.AddScanned(e, st);
}

}  // namespace smaragdine::trace_internal
